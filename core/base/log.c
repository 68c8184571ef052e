/* core/base/log.c - process-wide logging (see log.h). Owns the level, the format, the
 * line buffer of the buffered mode and the per-thread timestamp cache.
 *
 * A line is formatted once (the message, then timestamp, level, component and escaped
 * message straight into one line buffer; the "YYYY-MM-DDTHH:MM:SS" part is cached per
 * second and per thread). Control characters in any field (a CR, LF or ESC from a request
 * path, a header or a peer) are escaped, as \xNN in the text format and \uNNNN in JSON, so
 * nobody can forge a line or drive a terminal through the log.
 *
 * Unbuffered (the default) each line is one write(2). Buffered (miaw_log_buffer, turned on
 * by the HTTP server for its loop) the "http" lines (the access log, a line per request)
 * of the thread that turned it on are appended to a buffer that miaw_log_flush writes:
 * once per loop iteration, when it is full, before any other line (written at once: a
 * warning, an error, another component's line, which someone may be waiting for, or a
 * line from another thread), when buffering is turned off, and at exit. Lines stay in
 * order. A flush writes whole lines only; to a pipe, socket or terminal in writes of at
 * most PIPE_BUF bytes (atomic, so lines from other processes on the same pipe never land
 * inside one of ours), to a file in one. */
#include "base/log.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int g_level = MIAW_LVL_INFO;
static int g_json = 0;
static int g_fd = -1; /* -1: STDERR_FILENO */

/* buffered mode; every field under g_mu */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static char *g_buf;
static size_t g_len, g_cap;
static pthread_t g_owner;
static int g_atexit;

#define LINE_MAX_BYTES 4400 /* a longer line is cut (and still ends in its newline) */

int miaw_log_set_level_name(const char *name)
{
    static const struct { const char *n; int l; } map[] = {
        {"error", MIAW_LVL_ERROR}, {"warn", MIAW_LVL_WARN}, {"warning", MIAW_LVL_WARN},
        {"info", MIAW_LVL_INFO}, {"debug", MIAW_LVL_DEBUG}, {"trace", MIAW_LVL_DEBUG}};
    for (size_t i = 0; name && i < sizeof map / sizeof map[0]; i++)
        if (strcasecmp(name, map[i].n) == 0) {
            g_level = map[i].l;
            return 0;
        }
    return -1;
}

void miaw_log_set_level(int level) { g_level = level; }
int miaw_log_level(void) { return g_level; }
void miaw_log_set_json(int on) { g_json = on; }
/* whether the log's descriptor is a regular file (1), not (0), or not known yet (-1): asked
 * once, not with an fstat per flush */
static int g_fd_reg = -1;

void miaw_log_set_fd(int fd)
{
    pthread_mutex_lock(&g_mu);
    g_fd = fd;
    g_fd_reg = -1;
    pthread_mutex_unlock(&g_mu);
}

static const char *lvl_name(int level)
{
    switch (level) {
    case MIAW_LVL_ERROR: return "error";
    case MIAW_LVL_WARN: return "warn";
    case MIAW_LVL_INFO: return "info";
    default: return "debug";
    }
}

/* JSON string content: \" \\ and control bytes as \u00NN; stops before cap */
static size_t json_escape(char *out, size_t cap, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (; *s && o + 6 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            memcpy(out + o, "\\u00", 4);
            out[o + 4] = hex[c >> 4];
            out[o + 5] = hex[c & 15];
            o += 6;
        } else {
            out[o++] = (char)c;
        }
    }
    return o;
}

/* how many of the first room bytes of s are plain (neither a control byte below 0x20, NUL
 * included, nor DEL): 16 at a time with SSE2 (x86-64's baseline), else 8 at a time in a
 * word; the last few through a padded copy, so nothing past room is read */
#if defined(__SSE2__)
#include <emmintrin.h>
static inline unsigned ctl_mask16(const char *p)
{
    __m128i v = _mm_loadu_si128((const __m128i *)p);
    __m128i ctl = _mm_and_si128(_mm_cmpgt_epi8(_mm_set1_epi8(0x20), v), _mm_cmpgt_epi8(v, _mm_set1_epi8(-1)));
    ctl = _mm_or_si128(ctl, _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f)));
    return (unsigned)_mm_movemask_epi8(ctl);
}

static size_t plain_run(const char *s, size_t room)
{
    size_t run = 0;
    for (; run + 16 <= room; run += 16) {
        unsigned m = ctl_mask16(s + run);
        if (m) return run + (size_t)__builtin_ctz(m);
    }
    if (run == room) return run;
    char pad[16];
    memset(pad, 'a', sizeof pad);
    memcpy(pad, s + run, room - run);
    unsigned m = ctl_mask16(pad);
    return m ? run + (size_t)__builtin_ctz(m) : room;
}
#else
static size_t plain_run(const char *s, size_t room)
{
    size_t run = 0;
    for (uint64_t w; run + 8 <= room; run += 8) {
        memcpy(&w, s + run, 8);
        uint64_t ctl = (w - 0x2020202020202020ull) & ~w, del = w ^ 0x7f7f7f7f7f7f7f7full;
        del = (del - 0x0101010101010101ull) & ~del;
        if ((ctl | del) & 0x8080808080808080ull) break;
    }
    while (run < room && (unsigned char)s[run] >= 0x20 && s[run] != 0x7f) run++;
    return run;
}
#endif

/* text format: control bytes (below 0x20, and DEL) as \xNN; the rest as is. len: strlen(s) */
static size_t text_escape_n(char *out, size_t cap, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    while (len && o + 4 < cap) {
        /* a run of plain bytes (the whole message, as a rule) copied at once */
        size_t room = cap - 4 - o;
        if (room > len) room = len;
        size_t run = plain_run(s, room);
        memcpy(out + o, s, run);
        o += run;
        s += run;
        len -= run;
        if (!len || o + 4 >= cap) break;
        unsigned char c = (unsigned char)*s++;
        len--;
        if (c < 0x20 || c == 0x7f) {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else {
            out[o++] = (char)c;
        }
    }
    return o;
}

static size_t text_escape(char *out, size_t cap, const char *s) { return text_escape_n(out, cap, s, strlen(s)); }

/* the component's escaped form, kept per thread for the last one seen (as a rule the same
 * one line after line: "http" for the access log); compared by content, not by address */
static size_t component_text(char *out, const char *component)
{
    static _Thread_local char raw[64], text[130];
    static _Thread_local size_t n;
    if (!n || strcmp(raw, component) != 0) {
        n = text_escape(text, sizeof text, component);
        size_t rl = strlen(component);
        if (rl < sizeof raw) memcpy(raw, component, rl + 1);
        else raw[0] = 0, n = 0; /* too long to keep: escaped every time */
        if (!n) return text_escape(out, 130, component);
    }
    memcpy(out, text, n);
    return n;
}

/* the text format's part between the timestamp and the message, " info  [http] " (the
 * level padded to 5, the component escaped), kept per thread for the last level and
 * component seen; at most 8 + 130 + 3 bytes */
static size_t text_prefix(char *out, int level, const char *component)
{
    static _Thread_local char raw[64], text[160];
    static _Thread_local int lv = -1;
    static _Thread_local size_t n;
    if (level == lv && n && strcmp(raw, component) == 0) {
        memcpy(out, text, n);
        return n;
    }
    const char *name = lvl_name(level);
    size_t o = 0, nl = strlen(name);
    out[o++] = ' ';
    memcpy(out + o, name, nl);
    o += nl;
    for (; nl < 5; nl++) out[o++] = ' '; /* %-5s */
    out[o++] = ' ';
    out[o++] = '[';
    o += component_text(out + o, component);
    out[o++] = ']';
    out[o++] = ' ';
    size_t rl = strlen(component);
    if (rl < sizeof raw && o <= sizeof text) { /* else: built every time */
        memcpy(raw, component, rl + 1);
        memcpy(text, out, o);
        n = o;
        lv = level;
    }
    return o;
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 bytes, no NUL); the part up to the seconds is formatted
 * once a second per thread */
static size_t timestamp(char *out)
{
    static _Thread_local time_t cached_sec = -1;
    static _Thread_local char cached[24];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    if (tv.tv_sec != cached_sec) {
        struct tm tm;
        gmtime_r(&tv.tv_sec, &tm);
        if (strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm) != 19) return 0;
        cached_sec = tv.tv_sec;
    }
    memcpy(out, cached, 19);
    int ms = (int)(tv.tv_usec / 1000);
    out[19] = '.';
    out[20] = (char)('0' + ms / 100);
    out[21] = (char)('0' + ms / 10 % 10);
    out[22] = (char)('0' + ms % 10);
    out[23] = 'Z';
    return 24;
}

static size_t put(char *line, size_t o, const char *s)
{
    size_t n = strlen(s);
    if (o + n > LINE_MAX_BYTES - 1) n = LINE_MAX_BYTES - 1 - o;
    memcpy(line + o, s, n);
    return o + n;
}

/* the whole line, newline included, into line (LINE_MAX_BYTES); its length. msglen:
 * strlen(msg) */
static size_t format_line(char *line, int level, const char *component, const char *msg, size_t msglen)
{
    char ts[24];
    size_t tl = timestamp(ts), o = 0;
    const char *lv = lvl_name(level);
    if (!component) component = "-";
    if (g_json) {
        o = put(line, o, "{\"ts\":\"");
        memcpy(line + o, ts, tl);
        o += tl;
        o = put(line, o, "\",\"level\":\"");
        o = put(line, o, lv);
        o = put(line, o, "\",\"component\":\"");
        o += json_escape(line + o, 200, component);
        o = put(line, o, "\",\"msg\":\"");
        o += json_escape(line + o, LINE_MAX_BYTES - 4 - o, msg);
        o = put(line, o, "\"}");
    } else {
        memcpy(line + o, ts, tl);
        o += tl;
        o += text_prefix(line + o, level, component);
        o += text_escape_n(line + o, LINE_MAX_BYTES - 1 - o, msg, msglen);
    }
    line[o++] = '\n';
    return o;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return; /* nowhere to log to: the lines are dropped, as an unbuffered line would be */
        p += w;
        n -= (size_t)w;
    }
}

/* writes n bytes of whole lines: in one write to a file, else in chunks of at most
 * PIPE_BUF bytes cut after a newline (a longer line alone, in one write) */
static void write_lines(int fd, const char *p, size_t n)
{
    struct stat sb;
    if (n > PIPE_BUF && g_fd_reg < 0) g_fd_reg = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode);
    if (n <= PIPE_BUF || g_fd_reg == 1) {
        write_all(fd, p, n);
        return;
    }
    while (n) {
        size_t take = n;
        if (take > PIPE_BUF) {
            take = 0;
            for (size_t i = PIPE_BUF; i > 0 && !take; i--)
                if (p[i - 1] == '\n') take = i;
            if (!take) { /* one line longer than PIPE_BUF */
                const char *nl = memchr(p, '\n', n);
                take = nl ? (size_t)(nl - p) + 1 : n;
            }
        }
        write_all(fd, p, take);
        p += take;
        n -= take;
    }
}

static int out_fd(void) { return g_fd >= 0 ? g_fd : STDERR_FILENO; }

/* under g_mu */
static void flush_locked(void)
{
    if (g_len) write_lines(out_fd(), g_buf, g_len);
    g_len = 0;
}

void miaw_log_flush(void)
{
    pthread_mutex_lock(&g_mu);
    flush_locked();
    pthread_mutex_unlock(&g_mu);
}

static void flush_at_exit(void) { miaw_log_flush(); }

int miaw_log_buffer(size_t cap)
{
    pthread_mutex_lock(&g_mu);
    flush_locked();
    int rc = 0;
    if (cap < LINE_MAX_BYTES) cap = cap ? LINE_MAX_BYTES : 0;
    if (cap != g_cap) {
        char *nb = cap ? malloc(cap) : NULL;
        if (cap && !nb) {
            rc = -1; /* keeps the previous mode */
        } else {
            free(g_buf);
            g_buf = nb;
            g_cap = cap;
        }
    }
    if (g_cap) {
        g_owner = pthread_self();
        if (!g_atexit) g_atexit = atexit(flush_at_exit) == 0;
    }
    pthread_mutex_unlock(&g_mu);
    return rc;
}

size_t miaw_log_buffered(void)
{
    pthread_mutex_lock(&g_mu);
    size_t n = g_len;
    pthread_mutex_unlock(&g_mu);
    return n;
}

/* under g_mu: whether this line waits in the buffer (see the head comment) */
static int buffered_here(int level, const char *component)
{
    return g_cap && level > MIAW_LVL_WARN && strcmp(component, "http") == 0 && pthread_equal(g_owner, pthread_self());
}

/* the line into the buffer, or out at once (see the head comment) */
static void emit(int level, const char *component, const char *line, size_t len)
{
    pthread_mutex_lock(&g_mu);
    if (buffered_here(level, component)) {
        if (g_len + len > g_cap) flush_locked();
        memcpy(g_buf + g_len, line, len);
        g_len += len;
    } else {
        flush_locked(); /* what came before goes first */
        write_all(out_fd(), line, len);
    }
    pthread_mutex_unlock(&g_mu);
}

void miaw_vlog(int level, const char *component, const char *fmt, va_list ap)
{
    if (level > g_level) return;
    char msg[2048], line[LINE_MAX_BYTES];
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1;
    if (n < 0) msg[0] = 0;
    if (!component) component = "-";
    emit(level, component, line, format_line(line, level, component, msg, len));
}

void miaw_log_strn(int level, const char *component, const char *msg, size_t len)
{
    if (level > g_level) return;
    if (!component) component = "-";
    pthread_mutex_lock(&g_mu);
    if (buffered_here(level, component)) { /* formatted straight into the buffer */
        if (g_len + LINE_MAX_BYTES > g_cap) flush_locked();
        g_len += format_line(g_buf + g_len, level, component, msg, len);
        pthread_mutex_unlock(&g_mu);
        return;
    }
    pthread_mutex_unlock(&g_mu);
    char line[LINE_MAX_BYTES];
    emit(level, component, line, format_line(line, level, component, msg, len));
}

void miaw_log_str(int level, const char *component, const char *msg) { miaw_log_strn(level, component, msg, strlen(msg)); }

void miaw_log(int level, const char *component, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    miaw_vlog(level, component, fmt, ap);
    va_end(ap);
}
