/* core/http/http.c - the request pipeline (see http.h; the listener is http_server.c, the
 * head-before-body gate early.c, authentication and rate limits access.c). Order of a
 * request: raw path (400 when malformed) -> base path -> CORS preflight -> route match
 * (404/405) -> per-address rate limit (429) -> auth (401) -> per-key rate limit (429) ->
 * scoped-key permission (403) -> instance check (404) -> body size (413), content type
 * (415), JSON parse or, for MIAW_ROUTE_MULTIPART routes, a multipart/form-data form (400),
 * then the schema (400) -> handler, which answers now or later (MIAW_ASYNC, with a
 * timeout answered 504). A request's form (spooled upload files) goes when h2o frees the
 * request. */
#include "http/http_int.h"

#include "base/log.h"
#include "base/metrics.h"
#include "base/util.h"
#include "http/jsonout.h"
#include "http/schema.h"

#include <ctype.h>
#include <errno.h>
#include <h2o.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* ------------------------------------------------------------------ replies */
void miaw_http_add_header(miaw_req *r, const char *name, const char *value)
{
    h2o_req_t *q = r->h2o;
    h2o_add_header_by_str(&q->pool, &q->res.headers, name, strlen(name), 1, NULL, h2o_strdup(&q->pool, value, SIZE_MAX).base,
                          strlen(value));
}

int miaw_req_add_header(miaw_req *r, const char *name, const char *value)
{
    static const char *const owned[] = {"content-type", "content-length", "content-range", "content-disposition",
                                        "transfer-encoding", "connection", "x-request-id", "cache-control",
                                        "set-cookie", NULL};
    if (!r || r->answered || r->dead || !r->h2o) return MIAW_E_GONE;
    size_t nl = name ? strlen(name) : 0, vl = value ? strlen(value) : 0;
    if (!nl || nl > 64 || !value || vl > 1024 || r->nplugin_headers >= 16) return MIAW_E_INVAL;
    for (size_t i = 0; i < nl; i++) /* RFC 9110 token */
        if (!(isalnum((unsigned char)name[i]) || strchr("!#$%&'*+-.^_`|~", name[i]))) return MIAW_E_INVAL;
    for (size_t i = 0; i < vl; i++)
        if ((unsigned char)value[i] < 0x20 ? value[i] != '\t' : value[i] == 0x7f) return MIAW_E_INVAL;
    for (size_t i = 0; owned[i]; i++)
        if (!strcasecmp(name, owned[i])) return MIAW_E_INVAL;
    char lower[65];
    for (size_t i = 0; i <= nl; i++) lower[i] = (char)tolower((unsigned char)name[i]);
    miaw_http_add_header(r, lower, value);
    r->nplugin_headers++;
    return MIAW_OK;
}

void miaw_http_add_cors(miaw_req *r)
{
    const char *conf = r->http->cfg->cors_origin;
    if (!conf || !*conf) return;
    /* the answer depends on the request's Origin (an allow list echoes it, and a cache in
     * between must not hand one origin's answer to another): say so on every answer */
    miaw_http_add_header(r, "vary", "Origin");
    if (strcmp(conf, "*") == 0) {
        miaw_http_add_header(r, "access-control-allow-origin", "*");
        return;
    }
    const char *origin = miaw_req_header(r, "origin");
    if (!origin) return;
    /* comma-separated list of allowed origins */
    size_t ol = strlen(origin);
    for (const char *p = conf; *p;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        while (n && *p == ' ') { p++; n--; }
        while (n && p[n - 1] == ' ') n--;
        if (n == ol && memcmp(p, origin, n) == 0) {
            miaw_http_add_header(r, "access-control-allow-origin", origin);
            return;
        }
        if (!e) break;
        p = e + 1;
    }
}

void miaw_http_stop_timer(miaw_req *r)
{
    if (r->timer) {
        r->timer->data = NULL;
        uv_close((uv_handle_t *)r->timer, (uv_close_cb)free);
        r->timer = NULL;
    }
}

/* decimal digits of v at o; past them */
static char *put_uint(char *o, uint64_t v)
{
    char d[20];
    size_t n = 0;
    do d[n++] = (char)('0' + v % 10);
    while ((v /= 10));
    while (n) *o++ = d[--n];
    return o;
}

/* the request metrics' series of one (method, route, status): found once, then bumped.
 * Keyed by the label values themselves; the route entry is compared as a value only (an
 * unloaded plugin's route may be gone). Process-wide like the registry (the loop's
 * thread), so a request disposed after its server is freed finds it too. */
typedef struct mslot {
    const void *route;
    int status;
    unsigned gen; /* the registry's generation the handles belong to */
    char method[16], path[112];
    miaw_metric_series *count, *duration;
} mslot;
#define MSLOTS 64
static mslot g_mslots[MSLOTS];

/* the series for these labels: from the small cache, else looked up (and created) in
 * the registry once */
static mslot *metric_slot(const miaw_route_entry *rt, const char *m, const char *route, int status)
{
    static mslot spare; /* labels too long to cache: looked up every time */
    uintptr_t k = (uintptr_t)rt;
    size_t i = (size_t)((k >> 4) ^ (k >> 10) ^ (uintptr_t)status * 31u ^ (unsigned char)m[0]) % MSLOTS;
    mslot *s = &g_mslots[i];
    unsigned gen = miaw_metrics_generation();
    if (s->route == rt && s->status == status && s->count && s->gen == gen && !strcmp(s->method, m) &&
        !strcmp(s->path, route))
        return s;
    if (strlen(m) >= sizeof s->method || strlen(route) >= sizeof s->path) s = &spare;
    s->gen = gen;
    char st[12];
    snprintf(st, sizeof st, "%d", status);
    s->route = rt;
    s->status = status;
    snprintf(s->method, sizeof s->method, "%s", m);
    snprintf(s->path, sizeof s->path, "%s", route);
    s->count = miaw_metric_series_get("miaw_http_requests_total", 0, "method", m, "route", route, "status", st, NULL);
    s->duration = miaw_metric_series_get("miaw_http_request_duration_seconds", 1, "method", m, "route", route, NULL);
    return s; /* a dropped series (count NULL) is looked up again next time, and bumps nothing */
}

void miaw_http_log_request(miaw_req *r, int status)
{
    uint64_t us = now_us() - r->start_us;
    h2o_req_t *q = r->h2o;
    const char *route = r->match.route ? r->match.route->path : "unmatched", *m = r->match.route ? r->method : "other";
    mslot *s = metric_slot(r->match.route, m, route, status);
    miaw_metric_series_add(s->count, 1);
    miaw_metric_series_observe(s->duration, (double)us / 1e6);
    int level = status >= 500 ? MIAW_LVL_WARN : MIAW_LVL_INFO;
    if (level > miaw_log_level()) return;
    /* "%s %s %d %.3fms id=%s%s" of method, path, status, milliseconds, id and " h2",
     * assembled without printf (this is every request's line) */
    char line[sizeof r->method + sizeof r->path + sizeof r->id + 64], *o = line;
    size_t n;
    n = strlen(r->method), memcpy(o, r->method, n), o += n, *o++ = ' ';
    n = strlen(r->path), memcpy(o, r->path, n), o += n, *o++ = ' ';
    if (status >= 100 && status <= 999) { /* every HTTP status: three digits */
        *o++ = (char)('0' + status / 100);
        *o++ = (char)('0' + status / 10 % 10);
        *o++ = (char)('0' + status % 10);
    } else {
        o = put_uint(o, (uint64_t)(status < 0 ? 0 : status));
    }
    *o++ = ' ';
    o = put_uint(o, us / 1000);
    *o++ = '.';
    *o++ = (char)('0' + us % 1000 / 100);
    *o++ = (char)('0' + us % 100 / 10);
    *o++ = (char)('0' + us % 10);
    memcpy(o, "ms id=", 6), o += 6;
    n = strlen(r->id), memcpy(o, r->id, n), o += n;
    if (q && q->version >= 0x200) memcpy(o, " h2", 3), o += 3;
    *o = 0;
    miaw_log_strn(level, "http", line, (size_t)(o - line));
}

/* s in the request's pool, or s itself when it is one of the constant values the
 * pipeline passes (no copy) */
static const char *pool_str(h2o_req_t *q, const char *s)
{
    static const char *const fixed[] = {"application/json; charset=utf-8", "no-store", "application/json", "text/plain"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (s == fixed[i]) return s;
    return h2o_strdup(&q->pool, s, SIZE_MAX).base;
}

int miaw_http_reply_bytes(miaw_req *r, int status, const char *reason, const char *content_type, const void *data,
                          size_t len, const char *cache_control)
{
    if (!r || r->answered || r->dead || !r->h2o) return MIAW_E_GONE;
    r->answered = 1;
    miaw_http_stop_timer(r);
    h2o_req_t *q = r->h2o;
    q->res.status = status;
    q->res.reason = reason ? reason : miaw_http_reason(status);
    /* by token where h2o has one (no name lookup) */
    h2o_add_header(&q->pool, &q->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, pool_str(q, content_type),
                   strlen(content_type));
    /* the value is r->id itself: h2o encodes the headers within h2o_send_inline below (HTTP/1
     * and h2 alike), before the struct is handed back (the h2 test of 300 concurrent streams
     * under AddressSanitizer, which frees it, checks that) */
    h2o_add_header_by_str(&q->pool, &q->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, r->id, strlen(r->id));
    if (cache_control)
        h2o_add_header(&q->pool, &q->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, pool_str(q, cache_control),
                       strlen(cache_control));
    miaw_http_add_cors(r);
    miaw_http_log_request(r, status);
    /* a known length: without it h2o 2.2.5's chunked filter closes the HTTP/1.1
     * connection after every answer whose status is not 200 (201, 4xx, 5xx...) */
    q->res.content_length = len;
    if (q->method.len == 4 && memcmp(q->method.base, "HEAD", 4) == 0) len = 0;
    h2o_send_inline(q, data, len);
    return MIAW_OK;
}

int miaw_req_reply_raw(miaw_req *r, int status, const char *content_type, const void *data, size_t len,
                       const char *cache_control)
{
    return miaw_http_reply_bytes(r, status, NULL, content_type, data, len, cache_control);
}

/* answers with doc as compact JSON (and drops the reference); with prefix/suffix around it
 * (the envelope of miaw_req_reply_data, written as text: no envelope object per request).
 * Up to REPLY_STACK bytes are encoded on the stack (by jsonout.c, or by jansson what that
 * leaves to it), larger documents in the heap. */
#define REPLY_STACK 16384
static int reply_json_wrapped(miaw_req *r, int status, json_t *doc, const char *prefix, const char *suffix)
{
    static const char failed[] = "{\"success\":false,\"error\":{\"code\":\"INTERNAL_ERROR\",\"message\":\"encoding failed\"}}";
    char stack[REPLY_STACK], *heap = NULL, *out = stack;
    size_t pl = strlen(prefix), sl = strlen(suffix), n = 0;
    const size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
    if (doc) n = miaw_json_compact(doc, stack + pl, sizeof stack - pl - sl); /* else jansson's */
    if (doc && !n) n = json_dumpb(doc, stack + pl, sizeof stack - pl - sl, flags);
    if (doc && n > sizeof stack - pl - sl) { /* too long for the stack: once more, into the heap */
        heap = malloc(pl + n + sl);
        if (heap && json_dumpb(doc, heap + pl, n, flags) == n) out = heap;
        else n = 0;
    }
    json_decref(doc);
    if (!n) {
        free(heap);
        return miaw_req_reply_raw(r, 500, "application/json", failed, sizeof failed - 1, "no-store");
    }
    memcpy(out, prefix, pl);
    memcpy(out + pl + n, suffix, sl);
    int rc = miaw_req_reply_raw(r, status, "application/json; charset=utf-8", out, pl + n + sl, "no-store");
    free(heap);
    return rc;
}

static int reply_json_text(miaw_req *r, int status, json_t *doc) { return reply_json_wrapped(r, status, doc, "", ""); }

int miaw_req_reply_data(miaw_req *r, int status, json_t *data)
{
    if (!r || r->answered || r->dead) {
        json_decref(data);
        return MIAW_E_GONE;
    }
    /* what json_dumps of {"success":true,"data":data} gives, byte for byte */
    return reply_json_wrapped(r, status ? status : 200, data ? data : json_null(), "{\"success\":true,\"data\":", "}");
}

int miaw_req_reply_data_text(miaw_req *r, int status, const char *json, size_t len)
{
    static const char pre[] = "{\"success\":true,\"data\":";
    const size_t pl = sizeof pre - 1, total = pl + len + 1;
    if (!r || r->answered || r->dead) return MIAW_E_GONE;
    char stack[REPLY_STACK], *out = total <= sizeof stack ? stack : malloc(total);
    if (!out) return miaw_req_reply_err(r, MIAW_E_NOMEM, NULL, "out of memory");
    memcpy(out, pre, pl);
    memcpy(out + pl, json, len);
    out[pl + len] = '}';
    int rc = miaw_req_reply_raw(r, status ? status : 200, "application/json; charset=utf-8", out, total, "no-store");
    if (out != stack) free(out);
    return rc;
}

void miaw_utf8_clean(const char *in, char *out, size_t cap)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t o = 0;
    while (*p && o + 4 < cap) {
        int n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 && *p >= 0xc2 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 && *p <= 0xf4 ? 4 : 0;
        int ok = n > 0;
        for (int i = 1; ok && i < n; i++) ok = (p[i] & 0xc0) == 0x80;
        if (ok && n == 3) ok = !(p[0] == 0xe0 && p[1] < 0xa0) && !(p[0] == 0xed && p[1] >= 0xa0);
        if (ok && n == 4) ok = !(p[0] == 0xf0 && p[1] < 0x90) && !(p[0] == 0xf4 && p[1] >= 0x90);
        if (!ok) {
            out[o++] = '?';
            p++;
            continue;
        }
        memcpy(out + o, p, (size_t)n);
        o += (size_t)n;
        p += n;
    }
    out[o] = 0;
}

static uint64_t g_retry_hint_ms; /* miaw_http_retry_hint: for the next 429 */

void miaw_http_retry_hint(uint64_t ms) { g_retry_hint_ms = ms; }

int miaw_req_reply_code(miaw_req *r, int status, const char *code, json_t *details, const char *msg)
{
    if (!r || r->answered || r->dead) {
        json_decref(details);
        return MIAW_E_GONE;
    }
    if (status == 429 && r->h2o && h2o_find_header_by_str(&r->h2o->res.headers, H2O_STRLIT("retry-after"), -1) < 0) {
        char ra[24];
        uint64_t ms = g_retry_hint_ms ? g_retry_hint_ms : 1000;
        snprintf(ra, sizeof ra, "%llu", (unsigned long long)((ms + 999) / 1000));
        miaw_http_add_header(r, "retry-after", ra);
        if (!details) details = json_object();
        if (json_is_object(details)) json_object_set_new(details, "retryAfterMs", json_integer((json_int_t)ms));
    }
    g_retry_hint_ms = 0;
    /* the message may quote request bytes (a path): only valid UTF-8 goes into JSON */
    char clean[1024];
    miaw_utf8_clean(msg ? msg : "", clean, sizeof clean);
    json_t *err = json_pack("{s:s,s:s}", "code", code, "message", clean);
    if (details) json_object_set_new(err, "details", details);
    if (status == 405 || status == 401) {
        /* nothing extra; Allow / WWW-Authenticate are added by the caller */
    }
    return reply_json_text(r, status, json_pack("{s:b,s:o}", "success", 0, "error", err));
}

int miaw_req_reply_err(miaw_req *r, miaw_err e, json_t *details, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return miaw_req_reply_code(r, miaw_err_status(e), miaw_err_code(e), details, msg);
}

/* ------------------------------------------------------------- accessors */
const char *miaw_req_param(miaw_req *r, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < r->match.nparams; i++) {
        const char *seg = r->match.names[i]; /* "{name}" */
        if (strlen(seg) == n + 2 && memcmp(seg + 1, name, n) == 0) return r->match.values[i];
    }
    return NULL;
}

static int hexv(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static char *pct_decode(h2o_mem_pool_t *pool, const char *s, size_t len)
{
    char *out = h2o_mem_alloc_pool(pool, len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+') out[o++] = ' ';
        else if (s[i] == '%' && i + 2 < len && hexv(s[i + 1]) >= 0 && hexv(s[i + 2]) >= 0) {
            char c = (char)(hexv(s[i + 1]) * 16 + hexv(s[i + 2]));
            if (c) out[o++] = c;
            i += 2;
        } else out[o++] = s[i];
    }
    out[o] = 0;
    return out;
}

const char *miaw_req_query(miaw_req *r, const char *name)
{
    h2o_req_t *q = r->h2o;
    if (!q || q->query_at == SIZE_MAX) return NULL;
    const char *p = q->path.base + q->query_at + 1, *end = q->path.base + q->path.len;
    size_t nl = strlen(name);
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        if (!amp) amp = end;
        const char *eq = memchr(p, '=', (size_t)(amp - p));
        const char *kend = eq ? eq : amp;
        if ((size_t)(kend - p) == nl && memcmp(p, name, nl) == 0)
            return eq ? pct_decode(&q->pool, eq + 1, (size_t)(amp - eq - 1)) : "";
        p = amp + 1;
    }
    return NULL;
}

/* the value at idx as a C string in the pool; NULL for -1 */
static const char *header_at(h2o_req_t *q, ssize_t idx)
{
    if (idx < 0) return NULL;
    h2o_iovec_t v = q->headers.entries[idx].value;
    return h2o_strdup(&q->pool, v.base, v.len).base;
}

/* miaw_req_header for a name already in lower case / one of h2o's tokens (no folding) */
static const char *req_header_lc(miaw_req *r, const char *name, size_t n)
{
    return r->h2o ? header_at(r->h2o, h2o_find_header_by_str(&r->h2o->headers, name, n, -1)) : NULL;
}

static const char *req_header_token(miaw_req *r, const h2o_token_t *t)
{
    return r->h2o ? header_at(r->h2o, h2o_find_header(&r->h2o->headers, t, -1)) : NULL;
}

const char *miaw_req_header(miaw_req *r, const char *name)
{
    char lower[128];
    size_t n = strlen(name);
    if (n >= sizeof lower) return NULL;
    for (size_t i = 0; i < n; i++) lower[i] = (char)tolower((unsigned char)name[i]);
    return req_header_lc(r, lower, n);
}

const json_t *miaw_req_body(miaw_req *r) { return r->body; }

int miaw_req_upload(miaw_req *r, const char *name, miaw_upload *out)
{
    if (!r || !name || !out || out->struct_size < offsetof(miaw_upload, size) + sizeof out->size) return MIAW_E_INVAL;
    if (r->dead) return MIAW_E_GONE;
    const miaw_form_file *f = miaw_form_file_get(&r->form, name);
    if (!f || !f->path) return MIAW_E_NOTFOUND;
    out->path = f->path;
    out->filename = f->filename;
    out->content_type = f->content_type;
    out->size = f->size;
    return MIAW_OK;
}
const char *miaw_req_id(miaw_req *r) { return r->id; }
const char *miaw_req_method(miaw_req *r) { return r->match.route ? r->match.route->method : ""; }

#define LIVENESS_MS 500 /* how often a pending HTTP/1.x request checks that its client is there */

static uint32_t route_timeout_ms(const miaw_req *r)
{
    return r->match.route && r->match.route->timeout_ms ? r->match.route->timeout_ms
                                                        : (uint32_t)r->http->cfg->request_timeout_ms;
}

/* h2o 2.2.5 stops reading an HTTP/1.x connection while a request is processed, so it does
 * not see a client leave before it writes: peek at the socket instead. 1 when the peer
 * closed (EOF or an error); pipelined bytes or nothing to read mean it is still there. */
static int h1_client_gone(const miaw_req *r)
{
    h2o_req_t *q = r->h2o;
    if (!q || q->version >= 0x200 || !q->conn || !q->conn->callbacks->get_socket) return 0;
    h2o_socket_t *s = q->conn->callbacks->get_socket(q->conn);
    int fd = s ? h2o_socket_get_fd(s) : -1;
    if (fd < 0) return 0;
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* a pending request ends without the plugin's answer: 504 on the timeout, or (the client
 * left, nobody reads it) 499; then on_abort, after which the request is dead */
static void abort_pending(miaw_req *r, int reason)
{
    miaw_abort_fn fn = r->on_abort;
    void *ud = r->abort_udata;
    if (reason == MIAW_E_TIMEOUT)
        miaw_req_reply_err(r, MIAW_ERR_TIMEOUT, NULL, "the operation did not complete within %u ms", route_timeout_ms(r));
    else
        miaw_http_reply_bytes(r, 499, "Client Closed Request", "text/plain", "", 0, "no-store"); /* h2o closes it */
    r->dead = 1;
    if (fn) fn(r, reason, ud);
}

static void on_tick(uv_timer_t *t)
{
    miaw_req *r = t->data;
    if (!r) return;
    uint64_t now = uv_now(r->http->loop);
    if (now >= r->deadline) abort_pending(r, MIAW_E_TIMEOUT);
    else if (h1_client_gone(r)) abort_pending(r, MIAW_E_GONE);
    else if (r->deadline - now < LIVENESS_MS) uv_timer_start(t, on_tick, r->deadline - now, 0); /* the last stretch */
}

static void on_req_dispose(void *p);

int miaw_req_suspend(miaw_req *r, miaw_abort_fn on_abort, void *udata)
{
    if (r->answered || r->dead || r->suspended || !r->h2o) return MIAW_E_STATE;
    /* from here the struct lives as long as the request's pool (on_req_dispose) */
    miaw_req **ref = h2o_mem_alloc_shared(&r->h2o->pool, sizeof *ref, on_req_dispose);
    *ref = r;
    r->suspended = 1;
    r->on_abort = on_abort;
    r->abort_udata = udata;
    r->timer = malloc(sizeof *r->timer);
    if (!r->timer) return MIAW_E_NOMEM;
    uv_timer_init(r->http->loop, r->timer);
    r->timer->data = r;
    uint32_t ms = route_timeout_ms(r);
    r->deadline = uv_now(r->http->loop) + ms;
    if (r->h2o && r->h2o->version < 0x200 && ms > LIVENESS_MS) uv_timer_start(r->timer, on_tick, LIVENESS_MS, LIVENESS_MS);
    else uv_timer_start(r->timer, on_tick, ms, 0);
    return MIAW_OK;
}

/* miaw_req structs kept for the next requests (one is some 3.5 KiB, past malloc's fast
 * bins): the loop's thread only. Not under AddressSanitizer, which must see a use after
 * the request is gone as one. */
#if defined(__SANITIZE_ADDRESS__)
#define REQ_KEEP 0
#else
#define REQ_KEEP 64
#endif
static miaw_req *g_req_free[REQ_KEEP ? REQ_KEEP : 1];
static size_t g_req_nfree;

static miaw_req *req_get(void) { return g_req_nfree ? g_req_free[--g_req_nfree] : h2o_mem_alloc(sizeof(miaw_req)); }

void miaw_http_req_cache_free(void)
{
    while (g_req_nfree) free(g_req_free[--g_req_nfree]);
}

static void req_put(miaw_req *r)
{
#if REQ_KEEP
    if (g_req_nfree < REQ_KEEP) {
        g_req_free[g_req_nfree++] = r;
        return;
    }
#endif
    free(r);
}

/* h2o frees the request pool: when the client left before an async answer, tell the
 * owner of the request, then forget it. */
/* the request is over for miaw (answered, or its pool is being freed): body, form and
 * struct go */
static void req_release(miaw_req *r)
{
    miaw_http_stop_timer(r);
    r->h2o = NULL;
    r->dead = 1;
    json_decref(r->body);
    r->body = NULL;
    miaw_form_free(&r->form); /* removes the uploaded files */
    req_put(r);
}

static void on_req_dispose(void *p)
{
    miaw_req *r = *(miaw_req **)p;
    miaw_http_stop_timer(r);
    int was_pending = r->suspended && !r->answered && !r->dead;
    r->h2o = NULL;
    r->dead = 1;
    if (was_pending) {
        miaw_http_log_request(r, 499);
        if (r->on_abort) r->on_abort(r, MIAW_E_GONE, r->abort_udata);
    }
    req_release(r);
}

/* the admin key (X-API-Key, Bearer or Basic), for routes that check it themselves (/metrics) */
int miaw_req_authorized(miaw_req *r)
{
    miaw_auth a;
    miaw_http_authenticate(r->http, miaw_req_header(r, "x-api-key"), miaw_req_header(r, "authorization"), &a);
    return a.ok && a.admin;
}

/* ------------------------------------------------------------------ pipeline */
static int is_json_ct(const char *ct)
{
    if (!ct) return 1; /* be lenient when absent */
    while (*ct == ' ') ct++;
    return strncasecmp(ct, "application/json", 16) == 0 &&
           (ct[16] == 0 || ct[16] == ';' || ct[16] == ' ');
}

/* size (413), then JSON or, on a multipart route, multipart/form-data (415 for anything
 * else), then the schema (400). A multipart route without a body schema reads forms only
 * (any text fields), and other bodies not at all. 0 when the handler may run; else the
 * request is answered. */
static int read_body(miaw_req *r, const miaw_route_entry *rt)
{
    miaw_http *h = r->http;
    h2o_req_t *q = r->h2o;
    uint64_t limit = rt->body_max ? rt->body_max : (uint64_t)h->cfg->max_body_bytes;
    if (q->entity.base && q->entity.len > limit) {
        miaw_req_reply_err(r, MIAW_ERR_PAYLOAD_TOO_LARGE, json_pack("{s:I}", "limit", (json_int_t)limit),
                           "request body of %zu bytes exceeds the limit of %llu bytes", q->entity.len,
                           (unsigned long long)limit);
        return -1;
    }
    const char *ct = miaw_req_header(r, "content-type");
    int multipart = (rt->flags & MIAW_ROUTE_MULTIPART) && miaw_multipart_is_form(ct);
    if (multipart) {
        char field[256], msg[512];
        int rc = miaw_form_parse(ct, q->entity.base ? q->entity.base : "", q->entity.base ? q->entity.len : 0,
                                 h->cfg->data_dir, &r->form, field, sizeof field, msg, sizeof msg);
        if (rc == MIAW_FORM_STORE) {
            MIAW_ERR("http", "%s %s: %s", r->method, r->path, msg);
            miaw_req_reply_err(r, MIAW_ERR_INTERNAL, NULL, "%s", msg);
            return -1;
        }
        if (rc != 0) {
            miaw_req_reply_err(r, MIAW_ERR_INVALID_REQUEST, json_pack("{s:s}", "field", field[0] ? field : "body"),
                               "malformed multipart/form-data body: %s", msg);
            return -1;
        }
        miaw_form_coerce(r->form.fields, rt->body);
        r->body = json_incref(r->form.fields);
        if (!rt->has_body) return 0;
    } else if (!rt->has_body) {
        return 0;
    } else if (q->entity.base && q->entity.len) {
        json_error_t je;
        r->body = json_loadb(q->entity.base, q->entity.len, JSON_REJECT_DUPLICATES, &je);
        if (!r->body && !is_json_ct(ct)) {
            /* a JSON body under another content type (curl -d) is accepted; anything else is not */
            miaw_req_reply_err(r, MIAW_ERR_UNSUPPORTED_MEDIA_TYPE, NULL,
                               (rt->flags & MIAW_ROUTE_MULTIPART) ? "the body must be application/json or multipart/form-data"
                                                                  : "the body must be application/json");
            return -1;
        }
        if (!r->body) {
            miaw_req_reply_err(r, MIAW_ERR_INVALID_REQUEST, json_pack("{s:s,s:i,s:i}", "field", "body", "line", je.line, "column", je.column),
                               "malformed JSON at line %d column %d: %s", je.line, je.column, je.text);
            return -1;
        }
    } else {
        r->body = json_object();
    }
    char field[256], msg[512];
    if (miaw_schema_validate(rt->body, 0, r->body, field, sizeof field, msg, sizeof msg) != 0) {
        miaw_req_reply_err(r, MIAW_ERR_INVALID_REQUEST, json_pack("{s:s}", "field", field), "%s", msg);
        return -1;
    }
    return 0;
}

static void bad_path(miaw_req *r)
{
    miaw_req_reply_err(r, MIAW_ERR_INVALID_REQUEST, json_pack("{s:s}", "field", "path"),
                       "malformed path segment: a bad %%-escape, an encoded NUL or '/', or a '.' or '..' segment");
}

static void dispatch(miaw_req *r)
{
    miaw_http *h = r->http;
    const char *method = r->method;
    int is_head = strcmp(method, "HEAD") == 0;

    /* base path, then API prefix or root */
    int root;
    const char *path = miaw_http_route_path(h, r->path, &root);
    if (!path) {
        miaw_req_reply_err(r, MIAW_ERR_NOT_FOUND, NULL, "no route %s %s", method, r->path);
        return;
    }

    if (strcmp(method, "OPTIONS") == 0) {
        char allow[128];
        miaw_route_match m;
        int st = miaw_router_match(h->router, "OPTIONS", path, root, &m, allow, sizeof allow);
        if (st == 400) {
            bad_path(r);
            return;
        }
        if (st == 404) {
            miaw_req_reply_err(r, MIAW_ERR_NOT_FOUND, NULL, "no route %s %s", method, r->path);
            return;
        }
        miaw_http_add_header(r, "allow", allow);
        miaw_http_add_header(r, "access-control-allow-methods", allow);
        miaw_http_add_header(r, "access-control-allow-headers", "Authorization, X-API-Key, Content-Type, X-Request-Id");
        miaw_http_add_header(r, "access-control-max-age", "600");
        miaw_req_reply_raw(r, 204, "text/plain", "", 0, NULL);
        return;
    }

    char allow[128];
    int st = miaw_router_match(h->router, is_head ? "GET" : method, path, root, &r->match, allow, sizeof allow);
    if (st == 400) {
        bad_path(r);
        return;
    }
    if (st == 404) {
        miaw_req_reply_err(r, MIAW_ERR_NOT_FOUND, NULL, "no route %s %s", method, r->path);
        return;
    }
    if (st == 405) {
        miaw_http_add_header(r, "allow", allow);
        miaw_req_reply_err(r, MIAW_ERR_METHOD_NOT_ALLOWED, json_pack("{s:s}", "allow", allow),
                           "%s is not allowed on %s (allowed: %s)", method, r->path, allow);
        return;
    }
    miaw_route_entry *rt = r->match.route;
    const char *iid = miaw_req_param(r, "instanceId"); /* looked up once; NULL when the route has none */
    int limited = !(rt->flags & (MIAW_ROUTE_PUBLIC | MIAW_ROUTE_NO_RATELIMIT));
    if (limited && h->rl_addr) {
        char addr[64];
        miaw_http_peer_addr(r, addr, sizeof addr);
        if (miaw_http_rate_limited(r, h->rl_addr, "address", addr)) return;
    }
    if (!(rt->flags & MIAW_ROUTE_PUBLIC)) {
        miaw_http_authenticate(h, req_header_lc(r, H2O_STRLIT("x-api-key")), req_header_token(r, H2O_TOKEN_AUTHORIZATION),
                               &r->auth);
        if (!r->auth.ok) {
            if (h->cfg->basic_auth.n) miaw_http_add_header(r, "www-authenticate", "Basic realm=\"miaw\"");
            miaw_req_reply_err(r, MIAW_ERR_UNAUTHORIZED, NULL, "missing or invalid API key");
            return;
        }
        if (limited && miaw_http_rate_limited(r, h->rl_key, "key", r->auth.key_id)) return;
        const char *why = miaw_http_authorize(&r->auth, rt, is_head ? "GET" : method, iid, h);
        if (why) {
            miaw_req_reply_code(r, 403, "FORBIDDEN", NULL, why);
            return;
        }
    }
    if (rt->flags & MIAW_ROUTE_INSTANCE) {
        if (!iid || !h->exists || !h->exists(h->exists_udata, iid)) {
            miaw_req_reply_err(r, MIAW_ERR_INSTANCE_NOT_FOUND, json_pack("{s:s}", "instanceId", iid ? iid : ""),
                               "instance '%s' does not exist", iid ? iid : "");
            return;
        }
    }
    if ((rt->has_body || (rt->flags & MIAW_ROUTE_MULTIPART)) && read_body(r, rt) != 0) return;
    int rc = rt->handler(r, rt->udata);
    if (rc == MIAW_ASYNC) {
        if (!r->suspended && !r->answered) {
            MIAW_ERR("http", "handler for %s %s returned ASYNC without suspending", rt->method, rt->path);
            miaw_req_reply_err(r, MIAW_ERR_INTERNAL, NULL, "handler error");
        }
        return;
    }
    if (rc < 0 && !r->answered) {
        miaw_err e = miaw_err_from_status(rc);
        miaw_req_reply_err(r, e, NULL, "%s", miaw_err_description(e));
        return;
    }
    if (!r->answered) {
        MIAW_ERR("http", "handler for %s %s returned without answering", rt->method, rt->path);
        miaw_req_reply_err(r, MIAW_ERR_INTERNAL, NULL, "handler did not answer");
    }
}

static int valid_req_id(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.') return 0;
    return 1;
}

/* 24 hex digits from 12 random bytes; the bytes come from the kernel's generator a pool
 * at a time instead of a getrandom call per request (left empty when it fails, as before) */
static void request_id(miaw_http *h, char *out)
{
    if (h->rid_used + 12 > sizeof h->rid_pool) {
        if (miaw_random(h->rid_pool, sizeof h->rid_pool) != 0) return;
        h->rid_used = 0;
    }
    miaw_hex(out, h->rid_pool + h->rid_used, 12);
    memset(h->rid_pool + h->rid_used, 0, 12); /* each byte used once */
    h->rid_used += 12;
}

int miaw_http_on_req(h2o_handler_t *self, h2o_req_t *q)
{
    miaw_http *h = ((miaw_http_handler *)self)->http;
    miaw_req *r = req_get();
    memset(r, 0, MIAW_REQ_ZEROED);
    r->match.route = NULL;
    r->match.nparams = 0;
    r->h2o = q;
    r->http = h;
    r->start_us = now_us();
    h->requests++;
    size_t mlen = q->method.len < sizeof r->method - 1 ? q->method.len : sizeof r->method - 1;
    memcpy(r->method, q->method.base, mlen); /* cut as "%.*s" did, without printf per request */
    r->method[mlen] = 0;
    /* the raw path (h2o's path_normalized is already percent-decoded, and the router
     * decodes each segment itself: decoding twice turned %2561 into 'a') */
    size_t plen = q->query_at != SIZE_MAX && q->query_at <= q->path.len ? q->query_at : q->path.len;
    size_t copy = plen < sizeof r->path - 1 ? plen : sizeof r->path - 1;
    memcpy(r->path, q->path.base, copy);
    r->path[copy] = 0;
    const char *rid = req_header_lc(r, H2O_STRLIT("x-request-id"));
    if (rid && valid_req_id(rid)) snprintf(r->id, sizeof r->id, "%s", rid);
    else request_id(h, r->id);
    if (plen >= sizeof r->path)
        miaw_req_reply_err(r, MIAW_ERR_NOT_FOUND, NULL, "path too long");
    else if (r->path[0] != '/' || memchr(q->path.base, 0, plen))
        miaw_req_reply_err(r, MIAW_ERR_INVALID_REQUEST, json_pack("{s:s}", "field", "path"), "malformed request path");
    else
        dispatch(r);
    /* answered within the handler (the common case): the struct is done with now, no
     * hook on the pool needed; a suspended one got its hook in miaw_req_suspend */
    if (!r->suspended) req_release(r);
    return 0;
}

