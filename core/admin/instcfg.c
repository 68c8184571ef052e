/* core/admin/instcfg.c - worker settings for `miaw admin`: defaults from GOWA_* and
 * MIAW_* variables, validation of the guide's request fields, the generated
 * supervisord [program:] section (environment= per the worker contract) and paths.
 * File writes and removals use core/util (miaw_write_file_atomic, miaw_rm_rf, ...). */
#include "admin/instcfg.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const STR_FIELDS[] = {"basic_auth", "os", "base_path", "auto_reply",
                                         "webhook", "webhook_secret", "api_key"};
static const char *const BOOL_FIELDS[] = {"debug", "account_validation", "auto_mark_read", "chat_storage"};

static int parse_bool(const char *s, int *out)
{
    static const char *t[] = {"true", "1", "yes", "on"}, *f[] = {"false", "0", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(s, t[i])) { *out = 1; return 0; }
        if (!strcasecmp(s, f[i])) { *out = 0; return 0; }
    }
    return -1;
}

json_t *miaw_inst_defaults(char *err, size_t errlen)
{
    json_t *d = json_pack("{s:b,s:s,s:b,s:s,s:s,s:b,s:s,s:s,s:b,s:s}", "debug", 0, "os", "Chrome",
                          "account_validation", 1, "basic_auth", "", "base_path", "", "auto_mark_read", 0,
                          "auto_reply", "", "webhook", "", "chat_storage", 1, "webhook_secret", "secret");
    static const char *const keys[] = {"DEBUG", "OS", "BASIC_AUTH", "BASE_PATH", "AUTO_REPLY", "AUTO_MARK_READ",
                                       "WEBHOOK", "WEBHOOK_SECRET", "ACCOUNT_VALIDATION", "CHAT_STORAGE"};
    static const char *const prefixes[] = {"GOWA_", "MIAW_"}; /* MIAW_* wins */
    for (size_t p = 0; p < 2; p++) {
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            char var[64], field[64];
            snprintf(var, sizeof var, "%s%s", prefixes[p], keys[i]);
            const char *v = getenv(var);
            if (!v) continue;
            size_t k = 0;
            for (; keys[i][k] && k + 1 < sizeof field; k++)
                field[k] = (char)(keys[i][k] >= 'A' && keys[i][k] <= 'Z' ? keys[i][k] + 32 : keys[i][k]);
            field[k] = 0;
            json_t *cur = json_object_get(d, field);
            if (json_is_boolean(cur)) {
                int b;
                if (parse_bool(v, &b)) {
                    snprintf(err, errlen, "%s: expected true or false, got \"%s\"", var, v);
                    json_decref(d);
                    return NULL;
                }
                json_object_set_new(d, field, json_boolean(b));
            } else {
                json_object_set_new(d, field, json_string(v));
            }
        }
    }
    /* run the defaults through the same validation as a request, so a bad default is a
     * start-up error rather than a broken worker later */
    json_t *probe = json_object(), *copy = json_deep_copy(d);
    const char *fld = NULL;
    int rc = miaw_inst_apply(probe, copy, err, errlen, &fld);
    json_decref(probe);
    json_decref(copy);
    if (rc) { json_decref(d); return NULL; }
    return d;
}

int miaw_inst_port_from_str(const char *s, size_t n)
{
    if (!s || n == 0 || n > 6) return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return (v < MIAW_INST_PORT_MIN || v > MIAW_INST_PORT_MAX) ? -2 : (int)v;
}

const char *miaw_inst_conf_unsafe(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return "must not contain control characters or line breaks";
    return NULL;
}

/* auto_reply is message text: line breaks and tabs are fine, other controls are not */
static const char *text_unsafe(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f) return "must not contain control characters";
    return NULL;
}

static int fail(char *err, size_t errlen, const char **field, const char *f, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int fail(char *err, size_t errlen, const char **field, const char *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char m[256];
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "%s: %s", f, m);
    if (field) *field = f;
    return -1;
}

static int check_basic_auth(const char *s, char *why, size_t wl)
{
    if (!*s) return 0;
    const char *p = s;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *colon = memchr(p, ':', n);
        if (!colon || colon == p || (size_t)(colon - p) + 1 >= n) {
            snprintf(why, wl, "expected \"user:password\" (comma-separated for several)");
            return -1;
        }
        p += n;
        if (*p == ',') p++;
    }
    return 0;
}

static int check_webhooks(const char *s, char *why, size_t wl)
{
    if (!*s) return 0;
    const char *p = s;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n && *p == ' ') { p++; n--; }
        while (n && p[n - 1] == ' ') n--;
        size_t pre = !strncasecmp(p, "http://", 7) ? 7 : !strncasecmp(p, "https://", 8) ? 8 : 0;
        if (!pre || n <= pre) {
            snprintf(why, wl, "expected an http:// or https:// URL (comma-separated for several)");
            return -1;
        }
        for (size_t i = 0; i < n; i++)
            if (p[i] == ' ') { snprintf(why, wl, "URL must not contain spaces"); return -1; }
        if (!end) return 0;
        p = end + 1;
    }
}

static int normalize_base_path(const char *s, char *out, size_t cap, char *why, size_t wl)
{
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '/') n--;
    if (n == 0) { out[0] = 0; return 0; }
    if (s[0] != '/') { snprintf(why, wl, "must start with '/'"); return -1; }
    if (n >= cap || n > 128) { snprintf(why, wl, "too long (max 128)"); return -1; }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' ||
                 c == '-' || c == '_' || c == '.' || c == '~';
        if (!ok) { snprintf(why, wl, "may only contain letters, digits and / - _ . ~"); return -1; }
        if (c == '/' && i + 1 < n && s[i + 1] == '/') { snprintf(why, wl, "must not contain '//'"); return -1; }
        if (c == '.' && (i == 0 || s[i - 1] == '/') && (i + 1 == n || s[i + 1] == '/' ||
                                                         (s[i + 1] == '.' && (i + 2 == n || s[i + 2] == '/')))) {
            snprintf(why, wl, "must not contain '.' or '..' segments");
            return -1;
        }
    }
    memcpy(out, s, n);
    out[n] = 0;
    return 0;
}

int miaw_inst_apply(json_t *settings, const json_t *req, char *err, size_t errlen, const char **field)
{
    char why[160];
    if (field) *field = NULL;
    if (!json_is_object(req)) return fail(err, errlen, field, "body", "expected a JSON object");
    json_t *pv = json_object_get(req, "port");
    if (pv) {
        if (!json_is_integer(pv)) return fail(err, errlen, field, "port", "must be an integer");
        json_int_t p = json_integer_value(pv);
        if (p < MIAW_INST_PORT_MIN || p > MIAW_INST_PORT_MAX)
            return fail(err, errlen, field, "port", "must be between %d and %d", MIAW_INST_PORT_MIN, MIAW_INST_PORT_MAX);
        json_t *cur = json_object_get(settings, "port");
        if (cur && json_integer_value(cur) != p)
            return fail(err, errlen, field, "port", "cannot be changed (delete and create instead)");
    }
    for (size_t i = 0; i < sizeof BOOL_FIELDS / sizeof BOOL_FIELDS[0]; i++) {
        json_t *v = json_object_get(req, BOOL_FIELDS[i]);
        if (v && !json_is_boolean(v) && !json_is_null(v))
            return fail(err, errlen, field, BOOL_FIELDS[i], "must be a boolean");
    }
    for (size_t i = 0; i < sizeof STR_FIELDS / sizeof STR_FIELDS[0]; i++) {
        const char *f = STR_FIELDS[i];
        json_t *v = json_object_get(req, f);
        if (!v || json_is_null(v)) continue;
        if (!json_is_string(v)) return fail(err, errlen, field, f, "must be a string");
        const char *s = json_string_value(v);
        if (strlen(s) != json_string_length(v)) return fail(err, errlen, field, f, "must not contain NUL");
        const char *bad = !strcmp(f, "auto_reply") ? text_unsafe(s) : miaw_inst_conf_unsafe(s);
        if (bad) return fail(err, errlen, field, f, "%s", bad);
        size_t n = strlen(s);
        if (!strcmp(f, "basic_auth") && (n > 1024 || check_basic_auth(s, why, sizeof why)))
            return fail(err, errlen, field, f, "%s", n > 1024 ? "too long (max 1024)" : why);
        if (!strcmp(f, "os") && (n == 0 || n > 64))
            return fail(err, errlen, field, f, "must be 1 to 64 characters");
        if (!strcmp(f, "base_path")) {
            char norm[160];
            if (normalize_base_path(s, norm, sizeof norm, why, sizeof why))
                return fail(err, errlen, field, f, "%s", why);
        }
        if (!strcmp(f, "auto_reply") && n > 4096) return fail(err, errlen, field, f, "too long (max 4096)");
        if (!strcmp(f, "webhook") && (n > 4096 || check_webhooks(s, why, sizeof why)))
            return fail(err, errlen, field, f, "%s", n > 4096 ? "too long (max 4096)" : why);
        if (!strcmp(f, "webhook_secret") && n > 256) return fail(err, errlen, field, f, "too long (max 256)");
        if (!strcmp(f, "api_key")) {
            if (n < 16 || n > 128) return fail(err, errlen, field, f, "must be 16 to 128 characters");
            for (size_t k = 0; k < n; k++) {
                char c = s[k];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '_' || c == '.' || c == '~'))
                    return fail(err, errlen, field, f, "may only contain letters, digits and - _ . ~");
            }
        }
    }
    /* everything is valid: merge */
    if (pv && !json_object_get(settings, "port")) json_object_set(settings, "port", pv);
    for (size_t i = 0; i < sizeof BOOL_FIELDS / sizeof BOOL_FIELDS[0]; i++) {
        json_t *v = json_object_get(req, BOOL_FIELDS[i]);
        if (json_is_boolean(v)) json_object_set(settings, BOOL_FIELDS[i], v);
    }
    for (size_t i = 0; i < sizeof STR_FIELDS / sizeof STR_FIELDS[0]; i++) {
        const char *f = STR_FIELDS[i];
        json_t *v = json_object_get(req, f);
        if (!v) continue;
        if (json_is_null(v)) {
            if (!strcmp(f, "os")) json_object_set_new(settings, f, json_string("Chrome"));
            else if (strcmp(f, "api_key")) json_object_set_new(settings, f, json_string(""));
            continue;
        }
        if (!strcmp(f, "base_path")) {
            char norm[160];
            normalize_base_path(json_string_value(v), norm, sizeof norm, why, sizeof why);
            json_object_set_new(settings, f, json_string(norm));
        } else {
            json_object_set(settings, f, v);
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ paths */

static int fmt(char *out, size_t cap, const char *f, ...) __attribute__((format(printf, 3, 4)));
static int fmt(char *out, size_t cap, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(out, cap, f, ap);
    va_end(ap);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

int miaw_inst_name(char *out, size_t cap, int port) { return fmt(out, cap, "miaw_%d", port); }
int miaw_inst_conf_path(const miaw_admin_cfg *c, int port, char *out, size_t cap)
{
    return fmt(out, cap, "%s/miaw-%d.conf", c->conf_dir, port);
}
int miaw_inst_data_dir(const miaw_admin_cfg *c, int port, char *out, size_t cap)
{
    return fmt(out, cap, "%s/%d", c->instances_dir, port);
}
int miaw_inst_worker_conf_path(const miaw_admin_cfg *c, int port, char *out, size_t cap)
{
    return fmt(out, cap, "%s/%d/miaw.yaml", c->instances_dir, port);
}
int miaw_inst_meta_path(const miaw_admin_cfg *c, int port, char *out, size_t cap)
{
    return fmt(out, cap, "%s/%d/admin.json", c->instances_dir, port);
}
int miaw_inst_log_path(const miaw_admin_cfg *c, int port, int err, char *out, size_t cap)
{
    return fmt(out, cap, "%s/miaw_%d.%s.log", c->log_dir, port, err ? "err" : "out");
}
int miaw_inst_lock_path(const miaw_admin_cfg *c, int port, char *out, size_t cap)
{
    return fmt(out, cap, "%s/miaw.%d.lock", c->lock_dir, port);
}

/* ------------------------------------------------------------------ program config */

typedef struct { char *d; size_t n, cap; int oom; } sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 1024;
        while (nc < b->n + n + 1) nc *= 2;
        char *nd = realloc(b->d, nc);
        if (!nd) { b->oom = 1; return; }
        b->d = nd;
        b->cap = nc;
    }
    memcpy(b->d + b->n, s, n);
    b->n += n;
    b->d[b->n] = 0;
}
static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }
/* supervisord expands %(name)s in these values: a literal % is written %% (the admin's
 * own paths only; no tenant value is ever written here) */
static void sb_pct(sbuf *b, const char *s)
{
    for (; *s; s++) sb_add(b, s, 1), (*s == '%') ? sb_add(b, "%", 1) : (void)0;
}

char *miaw_inst_program_conf(const miaw_admin_cfg *c, const json_t *st, char *err, size_t errlen)
{
    int port = (int)json_integer_value(json_object_get(st, "port"));
    char name[32], dir[4096], wconf[4096], out[4096], errp[4096], portstr[16];
    if (port < MIAW_INST_PORT_MIN || port > MIAW_INST_PORT_MAX) {
        snprintf(err, errlen, "settings need a valid port");
        return NULL;
    }
    if (miaw_inst_name(name, sizeof name, port) || miaw_inst_data_dir(c, port, dir, sizeof dir) ||
        miaw_inst_worker_conf_path(c, port, wconf, sizeof wconf) ||
        miaw_inst_log_path(c, port, 0, out, sizeof out) || miaw_inst_log_path(c, port, 1, errp, sizeof errp)) {
        snprintf(err, errlen, "path too long");
        return NULL;
    }
    const char *paths[] = {c->bin, dir, wconf, out, errp};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        if (strpbrk(paths[i], "\"'\\\n\r;# ")) {
            snprintf(err, errlen, "a path of the worker contains a character supervisord cannot take");
            return NULL;
        }
    }
    snprintf(portstr, sizeof portstr, "%d", port);
    sbuf b = {0};
    sb_str(&b, "; generated by miaw admin for the worker on port ");
    sb_str(&b, portstr);
    sb_str(&b, "; rewritten on every update, do not edit.\n"
               "; The worker's settings and secrets are in its own config file (--config, mode 0600).\n[program:");
    sb_str(&b, name);
    sb_str(&b, "]\ncommand=");
    sb_pct(&b, c->bin);
    sb_str(&b, " serve --config ");
    sb_pct(&b, wconf);
    sb_str(&b, "\ndirectory=");
    sb_pct(&b, dir);
    sb_str(&b, "\nautostart=true\nautorestart=true\nstartretries=3\nstartsecs=1\n"
               "stopsignal=TERM\nstopwaitsecs=10\nstopasgroup=true\nkillasgroup=true\n"
               "stdout_logfile=");
    sb_pct(&b, out);
    sb_str(&b, "\nstdout_logfile_maxbytes=10MB\nstdout_logfile_backups=3\nstderr_logfile=");
    sb_pct(&b, errp);
    sb_str(&b, "\nstderr_logfile_maxbytes=10MB\nstderr_logfile_backups=3\n");
    if (b.oom) {
        free(b.d);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return b.d;
}
