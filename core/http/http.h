/* core/http/http.h - the HTTP front: h2o (libuv flavour) listener for HTTP/1.1, h2c (prior
 * knowledge and Upgrade) and TLS with ALPN h2; the request object handed to handlers
 * (miaw_req); auth, CORS, request ids, body limits and JSON parsing, schema validation,
 * multipart/form-data forms with spooled uploads (MIAW_ROUTE_MULTIPART), dispatch
 * through the router, asynchronous answers with timeouts, streamed file answers (files.c),
 * one log line per request. Owns the listener, the h2o context and every miaw_req (which
 * lives in the h2o request pool) with its form and upload files. */
#ifndef MIAW_HTTP_H
#define MIAW_HTTP_H
#include <jansson.h>
#include <miaw/plugin.h>
#include <stddef.h>
#include <uv.h>

#include "base/config.h"
#include "base/errors.h"
#include "http/router.h"

typedef struct miaw_http miaw_http;

/* Called before dispatch for routes flagged MIAW_ROUTE_INSTANCE: return 1 when the
 * instance exists. */
typedef int (*miaw_instance_exists_fn)(void *udata, const char *instance_id);

/* cfg and router are borrowed and must outlive the server. api_key is copied. */
miaw_http *miaw_http_new(uv_loop_t *loop, const miaw_config *cfg, miaw_router *router, const char *api_key,
                         miaw_instance_exists_fn exists, void *exists_udata);
/* binds and listens; 0 or -1 with message. The bound port is in *port_out. */
int miaw_http_listen(miaw_http *h, int *port_out, char *err, size_t errlen);
/* stop accepting; in-flight requests finish or are aborted at free */
void miaw_http_close(miaw_http *h);
/* graceful stop: stop accepting, ask h2o to shut down, end every open connection and run
 * the loop until they are all gone (pending async requests get on_abort) or max_ms pass.
 * 0 when every connection closed, -1 on timeout. */
int miaw_http_drain(miaw_http *h, uint32_t max_ms);
void miaw_http_free(miaw_http *h);
struct miaw_apikeys;
/* scoped API keys checked besides the admin key (borrowed; NULL = none) */
void miaw_http_set_keys(miaw_http *h, struct miaw_apikeys *keys);
/* the next 429 answered on this loop turn says Retry-After this many ms (rounded up to
 * seconds; without a hint: 1 s). For refusals decided below the HTTP layer (sends). */
void miaw_http_retry_hint(uint64_t ms);
uint64_t miaw_http_requests(const miaw_http *h);

/* ---- request API (also behind the plugin host table) ---- */
const char *miaw_req_param(miaw_req *r, const char *name);
const char *miaw_req_query(miaw_req *r, const char *name);
const char *miaw_req_header(miaw_req *r, const char *name);
const json_t *miaw_req_body(miaw_req *r);
/* the file part `name` of a multipart request (plugin ABI req_upload): MIAW_OK with *out
 * filled (strings borrowed until the request ends; the file is removed then),
 * MIAW_E_NOTFOUND, MIAW_E_INVAL (out->struct_size too small), MIAW_E_GONE */
int miaw_req_upload(miaw_req *r, const char *name, miaw_upload *out);
const char *miaw_req_id(miaw_req *r);
const char *miaw_req_method(miaw_req *r);
/* 1 when the request carries valid credentials (API key, or Basic when configured) -
 * for public routes that authorize by themselves (GET /metrics) */
int miaw_req_authorized(miaw_req *r);
int miaw_req_suspend(miaw_req *r, miaw_abort_fn on_abort, void *udata);
/* success envelope; data stolen */
int miaw_req_reply_data(miaw_req *r, int status, json_t *data);
/* the same envelope around data already encoded as JSON text (len bytes, borrowed: copied
 * before this returns); the answer miaw_req_reply_data gives for the document it encodes */
int miaw_req_reply_data_text(miaw_req *r, int status, const char *json, size_t len);
/* error envelope; details stolen (may be NULL) */
int miaw_req_reply_err(miaw_req *r, miaw_err e, json_t *details, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* error envelope with an arbitrary status/code (plugins) */
int miaw_req_reply_code(miaw_req *r, int status, const char *code, json_t *details, const char *msg);
/* a file, streamed (plugin ABI reply_file; files.c): MIAW_OK (answered: 200/status, 206
 * for a single byte range of a GET, 416 for an unsatisfiable one), MIAW_E_NOTFOUND (cannot
 * open path: nothing answered), MIAW_E_INVAL (bad arguments), MIAW_E_GONE */
int miaw_req_reply_file(miaw_req *r, int status, const char *path, const char *content_type, const char *filename,
                        uint32_t flags);
/* plugin ABI reply_header: a header for the answer to come (name/value checked, host-owned
 * names refused): MIAW_OK, MIAW_E_INVAL, MIAW_E_GONE */
int miaw_req_add_header(miaw_req *r, const char *name, const char *value);
/* any bytes; data copied */
int miaw_req_reply_raw(miaw_req *r, int status, const char *content_type, const void *data, size_t len,
                       const char *cache_control);
#endif
