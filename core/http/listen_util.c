/* core/http/listen_util.c - see listen_util.h */
#include "http/listen_util.h"

#include <stdlib.h>
#include <string.h>

int miaw_listen_addr(const char *host, int port, struct sockaddr_storage *ss)
{
    return strchr(host, ':') ? uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss)
                             : uv_ip4_addr(host, port, (struct sockaddr_in *)ss);
}

static void on_accept(uv_stream_t *listener, int status)
{
    if (status) return;
    uv_tcp_t *conn = h2o_mem_alloc(sizeof *conn);
    uv_tcp_init(listener->loop, conn);
    if (uv_accept(listener, (uv_stream_t *)conn)) {
        uv_close((uv_handle_t *)conn, (uv_close_cb)free);
        return;
    }
    /* small request/answer exchanges (stanzas, acks) must not wait on Nagle's algorithm */
    uv_tcp_nodelay(conn, 1);
    h2o_socket_t *sock = h2o_uv_socket_create((uv_stream_t *)conn, (uv_close_cb)free);
    h2o_accept(listener->data, sock);
}

int miaw_listen_h2o(uv_loop_t *loop, uv_tcp_t *listener, const struct sockaddr *sa, h2o_accept_ctx_t *accept)
{
    uv_tcp_init(loop, listener);
    listener->data = accept;
    int rc = uv_tcp_bind(listener, sa, 0);
    return rc ? rc : uv_listen((uv_stream_t *)listener, 128, on_accept);
}
