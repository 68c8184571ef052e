/* core/admin/server.c - the Admin API HTTP server (h2o, libuv flavour) and
 * miaw_admin_main: routing, bearer auth (constant time), the guide's envelope,
 * /healthz, /readyz, /metrics, audit lines. Operations run on uv_queue_work threads
 * (core/admin/ops.c) and answer back on the loop. */
#include <curl/curl.h>
#include <h2o.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <uv.h>

#include "admin/admin.h"
#include "base/util.h"
#include "admin/instcfg.h"
#include "admin/ops.h"
#include "admin/supervisor.h"
#include "http/listen_util.h"
#include "base/log.h"

#ifndef MIAW_VERSION
#define MIAW_VERSION "0.0.0"
#endif

enum { J_CREATE, J_LIST, J_GET, J_UPDATE, J_DELETE, J_HEALTHZ, J_READYZ, J_METRICS };

typedef struct admin_srv {
    miaw_admin_cfg cfg;
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_signal_t sigint, sigterm;
    h2o_globalconf_t h2ocfg;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept;
    unsigned long status_count[600];
    unsigned inflight; /* queued or running jobs; bounded by MAX_INFLIGHT */
    FILE *audit;
} admin_srv;

#define MAX_INFLIGHT 64

static admin_srv *g_srv; /* one admin server per process; loop thread only */

struct job;
typedef struct link { struct job *job; } link_t;

typedef struct job {
    uv_work_t work;
    int kind, port;
    json_t *body;
    h2o_req_t *req;      /* NULL once the client has gone */
    link_t *link;
    miaw_op_res res;
    int ready;
    char why[256];
    json_t *counts;
    char request_id[40];
    char remote[64];
} job_t;

/* ------------------------------------------------------------------ envelope */

static void now_rfc3339(char *out, size_t cap)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void new_request_id(char *out)
{
    unsigned char b[16] = {0};
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        memcpy(b, &ts, sizeof ts < sizeof b ? sizeof ts : sizeof b);
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3],
             b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static const char *reason(int s)
{
    switch (s) {
    case 200: return "OK";
    case 201: return "Created";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "OK";
    }
}

static void send_raw(h2o_req_t *req, int status, const char *ctype, const char *body, size_t len, const char *rid)
{
    if (status >= 0 && status < 600) g_srv->status_count[status]++;
    req->res.status = status;
    req->res.reason = reason(status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype, strlen(ctype));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    if (rid) h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, rid, strlen(rid));
    if (status == 401)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL, H2O_STRLIT("Bearer"));
    /* a known length: without it h2o 2.2.5's chunked filter closes the HTTP/1.1
     * connection after every answer that is not a 200 */
    req->res.content_length = len;
    h2o_send_inline(req, body, len);
    MIAW_INFO("admin", "%.*s %.*s %d", (int)req->method.len, req->method.base, (int)req->path.len, req->path.base, status);
}

/* body: object (stolen); adds request_id and timestamp */
static void send_env(h2o_req_t *req, int status, json_t *o, const char *rid)
{
    char ts[32];
    now_rfc3339(ts, sizeof ts);
    json_object_set_new(o, "request_id", json_string(rid));
    json_object_set_new(o, "timestamp", json_string(ts));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    send_raw(req, status, "application/json", s ? s : "{}", s ? strlen(s) : 2, rid);
    free(s);
}

static void send_error(h2o_req_t *req, int status, const char *code, const char *field, const char *msg,
                       const char *rid)
{
    json_t *err = json_pack("{s:s,s:s}", "code", code, "message", msg);
    if (field && *field) json_object_set_new(err, "field", json_string(field));
    send_env(req, status, json_pack("{s:o,s:s}", "error", err, "message", msg), rid);
}

/* ------------------------------------------------------------------ audit */

static void audit(const job_t *j)
{
    static const char *const names[] = {"create", "list", "get", "update", "delete"};
    char ts[32];
    now_rfc3339(ts, sizeof ts);
    json_t *fields = json_array();
    const char *k;
    json_t *v;
    if (json_is_object(j->body)) json_object_foreach(j->body, k, v) json_array_append_new(fields, json_string(k));
    json_t *line = json_pack("{s:s,s:s,s:s,s:s,s:i,s:i,s:s,s:s,s:s,s:o}", "ts", ts, "level", "info", "event", "audit",
                             "action", names[j->kind], "port", j->port, "status", j->res.status, "result",
                             j->res.code ? "failure" : "success", "request_id", j->request_id, "remote", j->remote,
                             "fields", fields);
    if (j->res.code) json_object_set_new(line, "error", json_string(j->res.message));
    char *s = json_dumps(line, JSON_COMPACT);
    json_decref(line);
    if (!s) return;
    fprintf(stdout, "%s\n", s);
    fflush(stdout);
    if (g_srv->audit) {
        fprintf(g_srv->audit, "%s\n", s);
        fflush(g_srv->audit);
    }
    free(s);
}

/* ------------------------------------------------------------------ jobs */

static void on_link_dispose(void *p)
{
    link_t *l = p;
    if (l->job) l->job->req = NULL;
}

static void run_job(uv_work_t *w)
{
    job_t *j = w->data;
    const miaw_admin_cfg *c = &g_srv->cfg;
    switch (j->kind) {
    case J_CREATE: miaw_op_create(c, j->body, &j->res); break;
    case J_LIST: miaw_op_list(c, &j->res); break;
    case J_GET: miaw_op_get(c, j->port, &j->res); break;
    case J_UPDATE: miaw_op_update(c, j->port, j->body, &j->res); break;
    case J_DELETE: miaw_op_delete(c, j->port, &j->res); break;
    case J_HEALTHZ:
    case J_READYZ: j->ready = miaw_op_supervisor_ready(c, j->why, sizeof j->why); break;
    case J_METRICS: j->counts = miaw_op_state_counts(c); break;
    }
}

static void metrics_text(job_t *j, h2o_req_t *req)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return;
    fprintf(f, "# HELP miaw_admin_workers Workers managed by miaw admin, by state.\n"
               "# TYPE miaw_admin_workers gauge\n");
    static const char *const states[] = {"RUNNING", "STOPPED", "STARTING", "FATAL", "UNKNOWN"};
    for (size_t i = 0; i < 5 && j->counts; i++)
        fprintf(f, "miaw_admin_workers{state=\"%s\"} %lld\n", states[i],
                (long long)json_integer_value(json_object_get(j->counts, states[i])));
    fprintf(f, "# HELP miaw_admin_requests_total Admin API requests answered, by HTTP status.\n"
               "# TYPE miaw_admin_requests_total counter\n");
    for (int s = 100; s < 600; s++)
        if (g_srv->status_count[s]) fprintf(f, "miaw_admin_requests_total{status=\"%d\"} %lu\n", s, g_srv->status_count[s]);
    fprintf(f, "# HELP miaw_admin_supervisor_errors_total Failed supervisord calls.\n"
               "# TYPE miaw_admin_supervisor_errors_total counter\n"
               "miaw_admin_supervisor_errors_total %lu\n"
               "# HELP miaw_admin_supervisor_up Whether supervisord answered this scrape.\n"
               "# TYPE miaw_admin_supervisor_up gauge\n"
               "miaw_admin_supervisor_up %d\n",
            miaw_sv_error_count(), j->counts ? 1 : 0);
    fclose(f);
    send_raw(req, 200, "text/plain; version=0.0.4; charset=utf-8", buf, len, j->request_id);
    free(buf);
}

static void job_done(uv_work_t *w, int status)
{
    (void)status;
    job_t *j = w->data;
    h2o_req_t *req = j->req;
    if (j->kind <= J_DELETE && j->kind != J_LIST && j->kind != J_GET) audit(j);
    if (req) {
        j->link->job = NULL;
        if (j->kind == J_HEALTHZ) {
            char ts[32];
            now_rfc3339(ts, sizeof ts);
            json_t *o = json_pack("{s:s,s:s,s:b,s:s}", "status", "healthy", "timestamp", ts, "supervisor_healthy",
                                  j->ready, "version", MIAW_VERSION);
            if (!j->ready) json_object_set_new(o, "supervisor_error", json_string(j->why));
            char *s = json_dumps(o, JSON_COMPACT);
            json_decref(o);
            send_raw(req, 200, "application/json", s, strlen(s), j->request_id);
            free(s);
        } else if (j->kind == J_READYZ) {
            if (j->ready) {
                send_env(req, 200, json_pack("{s:s}", "message", "Service is ready"), j->request_id);
            } else {
                char m[320];
                snprintf(m, sizeof m, "Service is not ready: supervisord is not available (%s)", j->why);
                send_error(req, 503, "NOT_READY", NULL, m, j->request_id);
            }
        } else if (j->kind == J_METRICS) {
            metrics_text(j, req);
        } else if (j->res.code) {
            send_error(req, j->res.status, j->res.code, j->res.field, j->res.message, j->request_id);
        } else {
            json_t *o = json_pack("{s:s}", "message", j->res.message);
            if (j->res.data) json_object_set(o, "data", j->res.data);
            send_env(req, j->res.status, o, j->request_id);
        }
    }
    json_decref(j->res.data);
    json_decref(j->body);
    json_decref(j->counts);
    free(j);
    g_srv->inflight--;
}

static int start_job(h2o_req_t *req, int kind, int port, json_t *body, const char *rid)
{
    if (g_srv->inflight >= MAX_INFLIGHT) {
        json_decref(body);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
        send_error(req, 503, "BUSY", NULL, "Too many admin operations in progress, retry shortly", rid);
        return 0;
    }
    job_t *j = calloc(1, sizeof *j);
    if (!j) {
        json_decref(body);
        send_error(req, 500, "INTERNAL_ERROR", NULL, "out of memory", rid);
        return 0;
    }
    j->kind = kind;
    j->port = port;
    j->body = body;
    j->req = req;
    snprintf(j->request_id, sizeof j->request_id, "%s", rid);
    struct sockaddr_storage ss;
    socklen_t sl = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    if (sl && ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, j->remote, sizeof j->remote);
    else if (sl && ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, j->remote, sizeof j->remote);
    j->link = h2o_mem_alloc_shared(&req->pool, sizeof *j->link, on_link_dispose);
    j->link->job = j;
    j->work.data = j;
    if (uv_queue_work(&g_srv->loop, &j->work, run_job, job_done)) {
        j->link->job = NULL;
        json_decref(body);
        free(j);
        send_error(req, 500, "INTERNAL_ERROR", NULL, "cannot queue work", rid);
        return 0;
    }
    g_srv->inflight++;
    return 0;
}

/* ------------------------------------------------------------------ routing */

static int meth(h2o_req_t *req, const char *m) { return h2o_memis(req->method.base, req->method.len, m, strlen(m)); }

static int authorized(h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (i < 0) return 0;
    h2o_iovec_t v = req->headers.entries[i].value;
    if (v.len < 7 || strncasecmp(v.base, "Bearer ", 7)) return 0;
    const char *t = v.base + 7;
    size_t tl = v.len - 7;
    while (tl && *t == ' ') t++, tl--;
    while (tl && t[tl - 1] == ' ') tl--;
    const char *want = g_srv->cfg.token;
    size_t wl = strlen(want), n = tl > wl ? tl : wl;
    unsigned char diff = (unsigned char)(tl != wl);
    for (size_t k = 0; k < n; k++) {
        unsigned char a = k < tl ? (unsigned char)t[k] : 0, b = k < wl ? (unsigned char)want[k] : 0;
        diff |= (unsigned char)(a ^ b);
    }
    return diff == 0;
}

static json_t *parse_body(h2o_req_t *req, const char *rid)
{
    if (!req->entity.base || req->entity.len == 0) {
        send_error(req, 400, "INVALID_REQUEST", "body", "Request body is required (a JSON object)", rid);
        return NULL;
    }
    json_error_t je;
    json_t *b = json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES, &je);
    if (!b) {
        char m[300];
        snprintf(m, sizeof m, "Invalid JSON: %s (line %d, column %d)", je.text, je.line, je.column);
        send_error(req, 400, "INVALID_REQUEST", "body", m, rid);
        return NULL;
    }
    if (!json_is_object(b)) {
        json_decref(b);
        send_error(req, 400, "INVALID_REQUEST", "body", "Request body must be a JSON object", rid);
        return NULL;
    }
    return b;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    char rid[40];
    new_request_id(rid);
    h2o_iovec_t p = req->path_normalized;
    const char *path = p.base;
    size_t pl = p.len;
    while (pl > 1 && path[pl - 1] == '/') pl--; /* tolerate a trailing slash */
#define IS(s) (pl == sizeof(s) - 1 && !memcmp(path, s, pl))
    if (IS("/healthz") || IS("/readyz") || IS("/metrics")) {
        if (!meth(req, "GET") && !meth(req, "HEAD")) {
            send_error(req, 405, "METHOD_NOT_ALLOWED", NULL, "Method not allowed", rid);
            return 0;
        }
        return start_job(req, IS("/healthz") ? J_HEALTHZ : IS("/readyz") ? J_READYZ : J_METRICS, 0, NULL, rid);
    }
    static const char pre[] = "/admin";
    if (pl < sizeof pre - 1 || memcmp(path, pre, sizeof pre - 1) || (pl > 6 && path[6] != '/')) {
        send_error(req, 404, "NOT_FOUND", NULL, "Route not found", rid);
        return 0;
    }
    if (!authorized(req)) {
        MIAW_WARN("admin", "rejected request without a valid bearer token");
        send_error(req, 401, "UNAUTHORIZED", NULL, "Invalid or missing bearer token", rid);
        return 0;
    }
    if (IS("/admin/instances")) {
        if (meth(req, "GET")) return start_job(req, J_LIST, 0, NULL, rid);
        if (meth(req, "POST")) {
            json_t *b = parse_body(req, rid);
            if (!b) return 0;
            json_t *pv = json_object_get(b, "port");
            if (!pv) {
                json_decref(b);
                send_error(req, 400, "INVALID_REQUEST", "port", "port: is required", rid);
                return 0;
            }
            int port = json_is_integer(pv) ? (int)json_integer_value(pv) : 0;
            return start_job(req, J_CREATE, port, b, rid);
        }
        send_error(req, 405, "METHOD_NOT_ALLOWED", NULL, "Method not allowed", rid);
        return 0;
    }
    static const char ipre[] = "/admin/instances/";
    if (pl > sizeof ipre - 1 && !memcmp(path, ipre, sizeof ipre - 1)) {
        const char *seg = path + sizeof ipre - 1;
        size_t sl = pl - (sizeof ipre - 1);
        if (memchr(seg, '/', sl)) {
            send_error(req, 404, "NOT_FOUND", NULL, "Route not found", rid);
            return 0;
        }
        int port = miaw_inst_port_from_str(seg, sl);
        if (port == -1) {
            send_error(req, 400, "INVALID_REQUEST", "port", "Invalid port parameter: expected a number", rid);
            return 0;
        }
        if (port == -2) {
            send_error(req, 400, "INVALID_REQUEST", "port", "Invalid port parameter: must be between 1024 and 65535", rid);
            return 0;
        }
        if (meth(req, "GET")) return start_job(req, J_GET, port, NULL, rid);
        if (meth(req, "DELETE")) return start_job(req, J_DELETE, port, NULL, rid);
        if (meth(req, "PATCH") || meth(req, "PUT")) {
            json_t *b = parse_body(req, rid);
            return b ? start_job(req, J_UPDATE, port, b, rid) : 0;
        }
        send_error(req, 405, "METHOD_NOT_ALLOWED", NULL, "Method not allowed", rid);
        return 0;
    }
#undef IS
    send_error(req, 404, "NOT_FOUND", NULL, "Route not found", rid);
    return 0;
}

/* ------------------------------------------------------------------ main */

static void on_signal(uv_signal_t *s, int signum)
{
    MIAW_INFO("admin", "signal %d: stopping", signum);
    uv_stop(s->loop);
}

/* start-up check of supervisord, off the loop so a hanging supervisord delays nothing */
static char g_probe_why[256];
static int g_probe_ok;
static void startup_probe(uv_work_t *w)
{
    (void)w;
    g_probe_ok = miaw_op_supervisor_ready(&g_srv->cfg, g_probe_why, sizeof g_probe_why);
}
static void startup_probe_done(uv_work_t *w, int status)
{
    (void)w;
    if (status == 0 && !g_probe_ok) MIAW_WARN("admin", "supervisord is not available yet: %s", g_probe_why);
    else if (status == 0) MIAW_INFO("admin", "supervisord is RUNNING");
}

static int listen_on(admin_srv *s)
{
    struct sockaddr_storage ss;
    const char *host = !strcmp(s->cfg.host, "localhost") ? "127.0.0.1" : s->cfg.host;
    int rc = miaw_listen_addr(host, s->cfg.port, &ss);
    return rc ? rc : miaw_listen_h2o(&s->loop, &s->listener, (struct sockaddr *)&ss, &s->accept);
}

int miaw_admin_main(int argc, char **argv)
{
    static admin_srv srv;
    char err[512];
    int rc = miaw_admin_cfg_load(&srv.cfg, argc, argv, err, sizeof err);
    if (rc == 1) return 0;
    if (rc) {
        fprintf(stderr, "miaw admin: %s\n", err);
        miaw_admin_cfg_free(&srv.cfg);
        return 2;
    }
    g_srv = &srv;
    const char *ll = getenv("LOG_LEVEL");
    if (ll && *ll && miaw_log_set_level_name(ll)) MIAW_WARN("admin", "LOG_LEVEL %s is unknown, keeping the default", ll);
    if (strlen(srv.cfg.token) < 32) MIAW_WARN("admin", "ADMIN_TOKEN is shorter than 32 characters");
    setenv("UV_THREADPOOL_SIZE", "16", 0); /* before the pool starts: lets slow supervisord calls overlap */
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const char *dirs[] = {srv.cfg.conf_dir, srv.cfg.instances_dir, srv.cfg.log_dir, srv.cfg.lock_dir};
    for (size_t i = 0; i < 4; i++)
        if (miaw_mkdir_p(dirs[i], 0755)) MIAW_WARN("admin", "cannot create %s", dirs[i]);
    if (srv.cfg.audit_log && !(srv.audit = fopen(srv.cfg.audit_log, "a")))
        MIAW_WARN("admin", "cannot open ADMIN_AUDIT_LOG %s", srv.cfg.audit_log);

    uv_loop_init(&srv.loop);
    h2o_config_init(&srv.h2ocfg);
    srv.h2ocfg.max_request_entity_size = 1 << 20;
    h2o_hostconf_t *hc = h2o_config_register_host(&srv.h2ocfg, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pc = h2o_config_register_path(hc, "/", 0);
    h2o_handler_t *h = h2o_create_handler(pc, sizeof *h);
    h->on_req = on_req;
    h2o_context_init(&srv.ctx, &srv.loop, &srv.h2ocfg);
    srv.accept.ctx = &srv.ctx;
    srv.accept.hosts = srv.h2ocfg.hosts;
    if ((rc = listen_on(&srv))) {
        fprintf(stderr, "miaw admin: cannot listen on %s:%d: %s\n", srv.cfg.host, srv.cfg.port, uv_strerror(rc));
        return 1;
    }
    uv_signal_init(&srv.loop, &srv.sigint);
    uv_signal_start(&srv.sigint, on_signal, SIGINT);
    uv_signal_init(&srv.loop, &srv.sigterm);
    uv_signal_start(&srv.sigterm, on_signal, SIGTERM);
    MIAW_INFO("admin", "Admin API on http://%s:%d (supervisord %s, workers run %s serve)", srv.cfg.host,
              srv.cfg.port, srv.cfg.sv_url, srv.cfg.bin);
    static uv_work_t probe;
    uv_queue_work(&srv.loop, &probe, startup_probe, startup_probe_done);
    uv_run(&srv.loop, UV_RUN_DEFAULT);
    /* in-flight operations finish on their threads; the process exits after this */
    if (srv.audit) fclose(srv.audit);
    curl_global_cleanup();
    return 0;
}
