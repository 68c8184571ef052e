/* core/http/listen_util.h - a plain h2o listener on libuv, shared by the admin server and the
 * simulator's two listeners: a host (IPv4, or IPv6 when it has a colon) and port to a
 * sockaddr, and a TCP listener handing every accepted connection to an h2o accept
 * context. The API server (http.c) has its own accept path: it tracks connections to
 * drain them at shutdown. Owns nothing; loop thread only. */
#ifndef MIAW_LISTEN_UTIL_H
#define MIAW_LISTEN_UTIL_H
#include <h2o.h>

/* host and port -> *ss. 0 or a libuv error (not an address). */
int miaw_listen_addr(const char *host, int port, struct sockaddr_storage *ss);

/* uv_tcp_init(listener), bind to sa, listen (backlog 128); each accepted connection goes
 * to accept (borrowed, must outlive the listener; kept in listener->data). 0 or a libuv
 * error; the handle is initialised either way, so the caller may uv_close it. */
int miaw_listen_h2o(uv_loop_t *loop, uv_tcp_t *listener, const struct sockaddr *sa, h2o_accept_ctx_t *accept);
#endif
