/* core/http/httpc.h - outbound HTTP on the server's loop for any layer above http (the
 * engine's media transfers, the plugin host's fetch): one libcurl multi handle driven by
 * libuv (CURLMOPT_SOCKETFUNCTION -> a uv_poll per socket, CURLMOPT_TIMERFUNCTION -> one
 * uv_timer); GETs and streamed POSTs with per-request protocols, redirects, deadlines,
 * extra headers, a Range start and a cap on the response body; extra CA files trusted on
 * top of the system's. Owns the multi handle, its sockets and every request until it is
 * done or cancelled; a request cancelled inside a libcurl callback is removed once
 * libcurl has returned. Callbacks run on the loop, never inside the call that started
 * the request, and never after miaw_httpc_cancel. Loop thread only. */
#ifndef MIAW_HTTPC_H
#define MIAW_HTTPC_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct miaw_httpc miaw_httpc;
typedef struct miaw_httpc_req miaw_httpc_req;

#define MIAW_HTTPC_READ_ABORT ((size_t)-1)

/* How a request ended (borrowed for the done callback). */
typedef struct miaw_httpc_done {
    int err;                  /* MIAW_OK: a response came (see status); MIAW_E_TIMEOUT (a deadline or
                                 the stall limit); MIAW_E_LIMIT (the body passed max_bytes);
                                 MIAW_E_INVAL (a scheme, or a redirect to one, outside protocols);
                                 MIAW_E_IO (anything else: connection, TLS, too many redirects,
                                 an HTTP error with fail_on_error, a read/write callback abort) */
    int cerr;                 /* libcurl's CURLcode, 0 with err MIAW_OK */
    long status;              /* the last response's HTTP status, 0 when none came */
    const char *msg;          /* what went wrong, for logs and details ("" on success) */
    const char *content_type; /* the last response's Content-Type, or NULL */
    uint64_t bytes;           /* response body bytes handed to write */
    long redirects;           /* redirects followed */
    int redirect_limit;       /* err MIAW_E_IO because max_redirects was reached */
} miaw_httpc_done;

typedef struct miaw_httpc_cbs {
    /* POST body: up to n bytes into buf; how many (0 = the end) or MIAW_HTTPC_READ_ABORT */
    size_t (*read)(void *ud, char *buf, size_t n);
    /* response body bytes of a response with this HTTP status; 0 = go on, else abort */
    int (*write)(void *ud, long status, const char *data, size_t n);
    /* the end, exactly once unless cancelled; the request is gone afterwards */
    void (*done)(void *ud, const miaw_httpc_done *d);
} miaw_httpc_cbs;

/* One request. Strings are copied by libcurl or used only during miaw_httpc_start. */
typedef struct miaw_httpc_reqopts {
    const char *url;
    const char *protocols;         /* for the URL and every redirect: "https" (NULL) or "http,https" */
    int post;                      /* 1: POST of body_len bytes pulled through cbs.read */
    uint64_t body_len;
    long max_redirects;            /* 0 = redirects are not followed */
    const char *const *headers;    /* NULL-terminated "Name: value" list, or NULL */
    uint64_t range_from;           /* > 0: ask for the bytes from there on */
    unsigned connect_timeout_ms;   /* 0 = 30 s */
    unsigned stall_timeout_ms;     /* under 1 byte/s for this long ends it; 0 = no stall limit */
    unsigned total_timeout_ms;     /* the whole transfer; 0 = none */
    uint64_t max_bytes;            /* response body cap (a larger Content-Length fails at once, more
                                      bytes than announced abort); 0 = none */
    int fail_on_error;             /* an HTTP status >= 400 ends the request with MIAW_E_IO */
} miaw_httpc_reqopts;

/* ca_files: PEM files trusted on top of the system's CAs (NULL / 0 = none). NULL with a
 * message in err on failure (unreadable CA file, out of memory). */
miaw_httpc *miaw_httpc_new(uv_loop_t *loop, const char *const *ca_files, size_t nca_files, char *err, size_t errlen);
/* Drops every request without callbacks; the libuv handles close on the next loop turn. */
void miaw_httpc_free(miaw_httpc *h);
/* 0 when url parses and its scheme is in protocols (NULL = "https"); else MIAW_E_INVAL
 * with a message. */
int miaw_httpc_url_check(const char *url, const char *protocols, char *err, size_t errlen);
/* Starts a request: the handle, or NULL (out of memory, a URL miaw_httpc_url_check
 * refuses, the client closing); then no callback runs. */
miaw_httpc_req *miaw_httpc_start(miaw_httpc *h, const miaw_httpc_reqopts *o, const miaw_httpc_cbs *cbs, void *ud);
/* No callback of r runs afterwards; safe inside r's (or any) callback. NULL is ignored. */
void miaw_httpc_cancel(miaw_httpc_req *r);
#endif
