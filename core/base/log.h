/* core/base/log.h - process-wide logging: one line per event to stderr, levels from LOG_LEVEL,
 * optional JSON lines, and a buffered mode for a busy event loop (the access log). Owns
 * the current level and format and the line buffer (log.c). Thread-safe. */
#ifndef MIAW_LOG_H
#define MIAW_LOG_H
#include <stdarg.h>
#include <stddef.h>

enum { MIAW_LVL_ERROR = 3, MIAW_LVL_WARN = 4, MIAW_LVL_INFO = 6, MIAW_LVL_DEBUG = 7 };

/* name: "error","warn","info","debug" (also "trace" = debug). Returns 0, or -1 if unknown. */
int miaw_log_set_level_name(const char *name);
void miaw_log_set_level(int level);
int miaw_log_level(void);
void miaw_log_set_json(int on);
/* component: short tag such as "http", "plugin:groups", "wa". */
void miaw_log(int level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void miaw_vlog(int level, const char *component, const char *fmt, va_list ap);
/* The same with the message as it is (no format): a hot path's line built by hand. */
void miaw_log_str(int level, const char *component, const char *msg);
/* The same with the message's length known (len: strlen(msg)). */
void miaw_log_strn(int level, const char *component, const char *msg, size_t len);

/* Buffered mode. cap > 0: info and debug lines of the "http" component (the access log)
 * logged by the calling thread (the loop's) are kept in a buffer of cap bytes (at least
 * one whole line) instead of one write each, and written by miaw_log_flush, or first when
 * the next line does not fit. Any other line (warnings and errors, other components'
 * lines, lines from other threads) flushes the buffer and is written at once, so the
 * order of lines is kept and only access lines wait. cap 0 flushes and turns the
 * mode off. The buffer is flushed at exit too; a crash loses what it holds (the lines
 * since the last flush). 0, or -1 when out of memory (the mode is unchanged). */
int miaw_log_buffer(size_t cap);
/* Writes the buffered lines (whole lines; to a pipe or terminal in atomic writes of at
 * most PIPE_BUF bytes each). Any thread. */
void miaw_log_flush(void);
/* Bytes waiting in the buffer (tests). */
size_t miaw_log_buffered(void);
/* Where lines go: fd, or -1 (the default) for stderr. The caller keeps fd open. */
void miaw_log_set_fd(int fd);

#define MIAW_ERR(c, ...) miaw_log(MIAW_LVL_ERROR, c, __VA_ARGS__)
#define MIAW_WARN(c, ...) miaw_log(MIAW_LVL_WARN, c, __VA_ARGS__)
#define MIAW_INFO(c, ...) miaw_log(MIAW_LVL_INFO, c, __VA_ARGS__)
#define MIAW_DEBUG(c, ...) miaw_log(MIAW_LVL_DEBUG, c, __VA_ARGS__)
#endif
