/* core/base/log.c - process-wide logging (see log.h). Lines go to stderr, written with one
 * write(2) each so lines from a worker and its supervisor never interleave. Control
 * characters in any field (a CR, LF or ESC from a request path, a header or a peer) are
 * escaped, as \xNN in the text format and \uNNNN in JSON, so nobody can forge a line or
 * drive a terminal through the log. */
#include "base/log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int g_level = MIAW_LVL_INFO;
static int g_json = 0;

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

static const char *lvl_name(int level)
{
    switch (level) {
    case MIAW_LVL_ERROR: return "error";
    case MIAW_LVL_WARN: return "warn";
    case MIAW_LVL_INFO: return "info";
    default: return "debug";
    }
}

static size_t json_escape(char *out, size_t cap, const char *s)
{
    size_t o = 0;
    for (; *s && o + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') { out[o++] = '\\'; out[o++] = (char)c; }
        else if (c < 0x20) o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
        else out[o++] = (char)c;
    }
    out[o] = 0;
    return o;
}

/* text format: control bytes (below 0x20, and DEL) as \xNN; the rest as is */
static size_t text_escape(char *out, size_t cap, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (; *s && o + 5 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f) {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = 0;
    return o;
}

void miaw_vlog(int level, const char *component, const char *fmt, va_list ap)
{
    if (level > g_level) return;
    char msg[2048], line[4400], ts[40];
    vsnprintf(msg, sizeof msg, fmt, ap);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof ts - n, ".%03dZ", (int)(tv.tv_usec / 1000));
    int len;
    if (g_json) {
        char esc[4200];
        json_escape(esc, sizeof esc, msg);
        char comp[200];
        json_escape(comp, sizeof comp, component ? component : "-");
        len = snprintf(line, sizeof line, "{\"ts\":\"%s\",\"level\":\"%s\",\"component\":\"%s\",\"msg\":\"%s\"}\n",
                       ts, lvl_name(level), comp, esc);
    } else {
        char esc[4200], comp[130];
        text_escape(esc, sizeof esc, msg);
        text_escape(comp, sizeof comp, component ? component : "-");
        len = snprintf(line, sizeof line, "%s %-5s [%s] %s\n", ts, lvl_name(level), comp, esc);
    }
    if (len < 0) return;
    if ((size_t)len >= sizeof line) { /* truncated: still one whole line */
        len = sizeof line - 1;
        line[len - 1] = '\n';
    }
    ssize_t w = write(STDERR_FILENO, line, (size_t)len);
    (void)w;
}

void miaw_log(int level, const char *component, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    miaw_vlog(level, component, fmt, ap);
    va_end(ap);
}
