/* core/http/http_int.h - internals shared by the files of core/http that serve requests
 * (http_server.c: the listener; http.c: the pipeline; files.c: file answers): the server
 * and request structs, the h2o handler, and the helpers that add headers, log and send a
 * complete answer. Not a public interface. */
#ifndef MIAW_HTTP_INT_H
#define MIAW_HTTP_INT_H
#include <h2o.h>

#include "http/http.h"
#include "http/multipart.h"

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
};

/* one request; lives in the h2o request pool (freed with it, see on_req_dispose) */
struct miaw_req {
    h2o_req_t *h2o;          /* NULL once h2o freed the request */
    miaw_http *http;
    miaw_route_match match;
    json_t *body;
    miaw_form form;          /* multipart requests: text fields and spooled files (removed at dispose) */
    char id[72];
    char method[16];
    char path[1024];
    uint64_t start_us;
    int answered, suspended, dead;
    unsigned nplugin_headers; /* reply_header calls so far */
    miaw_abort_fn on_abort;
    void *abort_udata;
    uv_timer_t *timer;       /* while suspended: the timeout, and for HTTP/1.x a liveness check */
    uint64_t deadline;       /* loop ms of the timeout */
};

/* the one h2o handler: every request enters miaw_http_on_req (http.c) */
typedef struct miaw_http_handler {
    h2o_handler_t super;
    miaw_http *http;
} miaw_http_handler;
int miaw_http_on_req(h2o_handler_t *self, h2o_req_t *q);

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
