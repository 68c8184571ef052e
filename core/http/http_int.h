/* core/http/http_int.h - internals shared by the files of core/http that serve requests
 * (http_server.c: the listener; http.c: the pipeline; files.c: file answers): the server
 * and request structs, the h2o handler, and the helpers that add headers, log and send a
 * complete answer. Not a public interface. */
#ifndef MIAW_HTTP_INT_H
#define MIAW_HTTP_INT_H
#include <h2o.h>

#include "http/apikeys.h"
#include "http/http.h"
#include "http/multipart.h"
#include "http/ratelimit.h"

/* who a request authenticated as */
typedef struct miaw_auth {
    int ok;          /* a valid key (or Basic credentials) */
    int admin;       /* the global key or Basic credentials */
    char key_id[40]; /* scoped keys: the key's id; "admin" for the global key */
    unsigned perms;  /* scoped keys: MIAW_KEY_PERM_* */
} miaw_auth;

/* one accepted connection; tcp first so h2o's close callback can hand it back to us.
 * The early_* fields belong to early.c (the head-before-body gate). */
typedef struct conn_node {
    uv_tcp_t tcp;
    struct miaw_http *http;
    struct conn_node *prev, *next;
    uv_read_cb early_h2o_cb;  /* h2o's read callback that early.c wraps */
    size_t early_seen;        /* input size at the last read: smaller = a new request */
    uint64_t early_swallowed; /* bytes dropped after an early answer */
    int early_off;            /* HTTP/2: not gated */
    int early_tls;            /* TLS: judged after h2o decrypts */
    int early_ok;             /* the current request passed the gate */
    int early_done;           /* answered early: drop the rest, then close */
} conn_node;

/* a chunked body may exceed its route's limit by this much framing before early.c
 * refuses it (the exact check follows in the pipeline) */
#define MIAW_EARLY_CHUNK_SLACK (64u << 10)
/* bodies up to this size are read as before and judged by the pipeline */
#define MIAW_EARLY_THRESHOLD (64u << 10)

struct miaw_http {
    uv_loop_t *loop;
    const miaw_config *cfg;
    miaw_router *router;
    char *api_key;
    miaw_instance_exists_fn exists;
    void *exists_udata;
    h2o_globalconf_t h2o_cfg;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    uv_tcp_t *listener;
    SSL_CTX *ssl;
    uint64_t requests;
    int ctx_ready;
    struct conn_node *conns; /* open connections, for a draining shutdown */
    size_t nconns;
    uv_prepare_t *early_prep; /* early.c: re-wraps h2o's read callbacks before each poll */
    uv_prepare_t *log_prep;   /* sees the buffered log before each poll (owned) */
    uv_timer_t *log_timer;    /* writes it MIAW_HTTP_LOG_FLUSH_MS after its first line (owned) */
    miaw_apikeys *keys;       /* scoped keys (borrowed) */
    miaw_ratelimit *rl_key, *rl_addr; /* REST rate limits (owned; NULL when off) */
    uint8_t rid_pool[3072];   /* random bytes for request ids, taken 12 at a time */
    size_t rid_used;          /* bytes of rid_pool used (sizeof: refill) */
};

/* one request; answered within its handler it is handed back as the handler returns,
 * suspended it lives as long as the h2o request pool (see miaw_req_suspend, req_release
 * and on_req_dispose in http.c) */
struct miaw_req {
    h2o_req_t *h2o;          /* NULL once h2o freed the request */
    miaw_http *http;
    json_t *body;
    miaw_form form;          /* multipart requests: text fields and spooled files (removed at dispose) */
    char id[72];
    char method[16];
    uint64_t start_us;
    int answered, suspended, dead;
    unsigned nplugin_headers; /* reply_header calls so far */
    miaw_abort_fn on_abort;
    void *abort_udata;
    uv_timer_t *timer;       /* while suspended: the timeout, and for HTTP/1.x a liveness check */
    uint64_t deadline;       /* loop ms of the timeout */
    miaw_auth auth;          /* who asked (set for routes that need a key) */
    /* from here on not zeroed for each request (some 3 KiB): path is written at once, and
     * of match only route and nparams are set before use (see miaw_http_on_req) */
    char path[1024];
    miaw_route_match match;
};
#define MIAW_REQ_ZEROED offsetof(struct miaw_req, path)

/* the one h2o handler: every request enters miaw_http_on_req (http.c) */
typedef struct miaw_http_handler {
    h2o_handler_t super;
    miaw_http *http;
} miaw_http_handler;
int miaw_http_on_req(h2o_handler_t *self, h2o_req_t *q);
/* frees the request structs kept for reuse (at the server's end) */
void miaw_http_req_cache_free(void);

/* ---- h2_hpack.c: h2 answers carry the request id without adding it to the HPACK table.
 * Finds h2o's own encoder (called by miaw_http_new; links the file in): 0, or -1 when it
 * is not there (h2 answers then cannot be encoded). */
int miaw_http_hpack_init(void);

/* ---- early.c: authentication and body limit from the request head (HTTP/1.x) ---- */
/* adds the filter that puts h2o's own error answers (413, 400 ...) in the envelope */
void miaw_http_early_register(miaw_http *h, h2o_hostconf_t *host);
/* a request head as the gate reads it (strings cut to fit, NUL-terminated) */
typedef struct miaw_early_head {
    char method[16], path[1024], xkey[512], authz[1100];
    int chunked, has_cl;
    uint64_t content_length, body_seen;
} miaw_early_head;
/* parses the HTTP/1.x request head at the start of data (picohttpparser, as h2o does):
 * its length, or 0 when incomplete or malformed (h2o then decides); never reads past len */
int miaw_http_early_parse(const char *data, size_t len, miaw_early_head *out);
/* the quick look every HTTP/1.x head gets: 1 when a line after the first of data[0..hlen)
 * starts with Content-Length or Transfer-Encoding in any case (or a prefix of one that
 * hlen cuts), after CRLF or a bare LF; then the head is parsed in full */
int miaw_http_early_framing(const char *data, size_t hlen);
/* starts / stops the gate (a uv_prepare handle; stop is idempotent) */
void miaw_http_early_start(miaw_http *h);
void miaw_http_early_stop(miaw_http *h);

/* http.c: the pipeline's decisions, usable from a request head. */
void miaw_http_authenticate(const miaw_http *h, const char *x_api_key, const char *authorization, miaw_auth *out);
/* what a scoped key may do on a route: instance routes only, its instances only, GET
 * needs read and anything else send; MIAW_ROUTE_ADMIN routes and routes outside one
 * instance need the admin key. NULL when allowed, else the reason (static text). */
const char *miaw_http_authorize(const miaw_auth *a, const miaw_route_entry *rt, const char *method, const char *iid,
                                const miaw_http *h);
/* the client's address without port ("" when unknown) */
void miaw_http_peer_addr(miaw_req *r, char *out, size_t cap);
/* takes one request from rl for key: 0 within the limit, else 1 with the request answered
 * 429 RATE_LIMITED (details.limit = what) and Retry-After */
int miaw_http_rate_limited(miaw_req *r, miaw_ratelimit *rl, const char *what, const char *key);
/* strips base path and API prefix from a raw path; NULL when outside the base path. *root
 * set when the route is outside the API prefix. */
const char *miaw_http_route_path(const miaw_http *h, const char *path, int *root);
/* the early verdict on a head whose body is large: 0 = read the body; else the status
 * to answer, with the envelope in body (NUL-terminated). Logs the request when refused. */
int miaw_http_early_verdict(miaw_http *h, const char *method, const char *path, const char *x_api_key,
                            const char *authorization, int chunked, uint64_t content_length, uint64_t body_seen,
                            char *body, size_t cap);

/* copies in to out (cap >= 5) with every byte that is not part of valid UTF-8 as '?' */
void miaw_utf8_clean(const char *in, char *out, size_t cap);

/* adds a response header (both copied into the request pool) */
void miaw_http_add_header(miaw_req *r, const char *name, const char *value);
/* Access-Control-Allow-Origin per server.cors_origin */
void miaw_http_add_cors(miaw_req *r);
/* the async timeout no longer applies */
void miaw_http_stop_timer(miaw_req *r);
/* the request's one log line */
void miaw_http_log_request(miaw_req *r, int status);
/* answers with the bytes (copied); reason NULL = the usual one for status. MIAW_E_GONE
 * when the request was answered or is gone. */
int miaw_http_reply_bytes(miaw_req *r, int status, const char *reason, const char *content_type, const void *data,
                          size_t len, const char *cache_control);
#endif
