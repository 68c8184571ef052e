/* core/base/log.h - process-wide logging: one line per event to stderr, levels from LOG_LEVEL,
 * optional JSON lines. Owns the current level and format; nothing else. */
#ifndef MIAW_LOG_H
#define MIAW_LOG_H
#include <stdarg.h>

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

#define MIAW_ERR(c, ...) miaw_log(MIAW_LVL_ERROR, c, __VA_ARGS__)
#define MIAW_WARN(c, ...) miaw_log(MIAW_LVL_WARN, c, __VA_ARGS__)
#define MIAW_INFO(c, ...) miaw_log(MIAW_LVL_INFO, c, __VA_ARGS__)
#define MIAW_DEBUG(c, ...) miaw_log(MIAW_LVL_DEBUG, c, __VA_ARGS__)
#endif
