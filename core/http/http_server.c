/* core/http/http_server.c - the listener (see http.h): the h2o configuration and context,
 * the hard request-entity limit from the routes' body_max, TLS with ALPN h2, accepting
 * connections (kept in a list for a draining shutdown), the sweep of upload files a crash
 * left, close, drain and free; while it listens, the log is buffered (log.buffer_kb) and
 * flushed once per loop iteration, before the loop polls. Owns the miaw_http, its
 * connections and the flush handle. */
#include "http/http_int.h"

#include "base/log.h"

#include <dirent.h>
#include <fcntl.h>
#include <h2o.h>
#include <h2o/http2.h>
#include <h2o/socket/uv-binding.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* h2o buffers a whole request body and refuses one above max_request_entity_size on its
 * own (HTTP/1.x: a 413 that early.c turns into the envelope; h2: RST_STREAM): set it to
 * the largest limit any route has (the routes are all registered by now), plus the slack
 * a chunked body's framing needs, so nothing larger is ever buffered */
static void entity_limit(miaw_http *h)
{
    uint64_t hard = (uint64_t)h->cfg->max_body_bytes;
    for (const miaw_route_entry *e = h->router ? h->router->head : NULL; e; e = e->next)
        if (e->body_max > hard) hard = e->body_max;
    hard += MIAW_EARLY_CHUNK_SLACK;
    h->h2o_cfg.max_request_entity_size = hard > SIZE_MAX ? SIZE_MAX : (size_t)hard;
}

/* upload files a crash left behind in <data_dir>/tmp */
static void sweep_uploads(const char *data_dir)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tmp", data_dir);
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, "upload-", 7)) unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
}

miaw_http *miaw_http_new(uv_loop_t *loop, const miaw_config *cfg, miaw_router *router, const char *api_key,
                         miaw_instance_exists_fn exists, void *exists_udata)
{
    if (miaw_http_hpack_init() != 0) return NULL; /* h2o's HPACK encoder, see h2_hpack.c */
    miaw_http *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->loop = loop;
    h->cfg = cfg;
    h->router = router;
    h->api_key = strdup(api_key ? api_key : "");
    h->exists = exists;
    h->exists_udata = exists_udata;
    h->rid_used = sizeof h->rid_pool; /* empty: filled at the first request */
    if (cfg->rl_api_per_key)
        h->rl_key = miaw_ratelimit_new((uint32_t)cfg->rl_api_per_key, (uint32_t)cfg->rl_api_burst, 0, 10000);
    if (cfg->rl_api_per_addr)
        h->rl_addr = miaw_ratelimit_new((uint32_t)cfg->rl_api_per_addr, (uint32_t)cfg->rl_api_burst, 0, 10000);
    h2o_config_init(&h->h2o_cfg);
    entity_limit(h); /* again at listen, when every route is known */
    h->h2o_cfg.server_name = h2o_iovec_init(H2O_STRLIT("miaw"));
    h2o_hostconf_t *host = h2o_config_register_host(&h->h2o_cfg, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pc = h2o_config_register_path(host, "/", 0);
    miaw_http_handler *hd = (miaw_http_handler *)h2o_create_handler(pc, sizeof *hd);
    hd->super.on_req = miaw_http_on_req;
    hd->http = h;
    miaw_http_early_register(h, host); /* h2o's own error answers in the envelope */
    h2o_context_init(&h->ctx, loop, &h->h2o_cfg);
    h->ctx_ready = 1;
    h->accept_ctx.ctx = &h->ctx;
    h->accept_ctx.hosts = h->h2o_cfg.hosts;
    return h;
}

static void on_conn_closed(uv_handle_t *hd)
{
    conn_node *c = (conn_node *)hd;
    miaw_http *h = c->http;
    if (c->prev) c->prev->next = c->next;
    else if (h) h->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    if (h) h->nconns--;
    free(c);
}

static void on_accept(uv_stream_t *listener, int status)
{
    miaw_http *h = listener->data;
    if (status != 0) return;
    conn_node *c = calloc(1, sizeof *c);
    if (!c) return;
    uv_tcp_init(listener->loop, &c->tcp);
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, (uv_close_cb)free);
        return;
    }
    c->http = h;
    c->next = h->conns;
    if (h->conns) h->conns->prev = c;
    h->conns = c;
    h->nconns++;
    uv_tcp_nodelay(&c->tcp, 1);
    h2o_socket_t *sock = h2o_uv_socket_create((uv_stream_t *)&c->tcp, on_conn_closed);
    h2o_accept(&h->accept_ctx, sock);
    c->early_tls = h->ssl != NULL; /* early.c judges TLS after h2o decrypts */
}

static void drain_tick(uv_timer_t *t) { (void)t; }

/* The buffered access log: lines wait at most this long (and a write carries every line
 * of that time: under load one write per several loop iterations instead of one each),
 * or less when half the buffer is full; warnings and errors are written at once. */
#define MIAW_HTTP_LOG_FLUSH_MS 5

static void on_log_timer(uv_timer_t *t)
{
    (void)t;
    miaw_log_flush();
}

/* before the loop polls (and may sleep): lines waiting start the flush timer, half a
 * buffer of them is written now */
static void on_log_prep(uv_prepare_t *p)
{
    miaw_http *h = p->data;
    size_t n = miaw_log_buffered();
    if (!n) return;
    if (n >= ((size_t)h->cfg->log_buffer_kb << 9)) {
        miaw_log_flush();
        uv_timer_stop(h->log_timer);
    } else if (!uv_is_active((uv_handle_t *)h->log_timer)) {
        uv_timer_start(h->log_timer, on_log_timer, MIAW_HTTP_LOG_FLUSH_MS, 0);
    }
}

static void log_buffer_start(miaw_http *h)
{
    if (h->log_prep || h->cfg->log_buffer_kb <= 0) return;
    if (miaw_log_buffer((size_t)h->cfg->log_buffer_kb << 10) != 0) return; /* unbuffered then */
    h->log_prep = malloc(sizeof *h->log_prep);
    h->log_timer = malloc(sizeof *h->log_timer);
    if (!h->log_prep || !h->log_timer) {
        free(h->log_prep);
        free(h->log_timer);
        h->log_prep = NULL;
        h->log_timer = NULL;
        miaw_log_buffer(0);
        return;
    }
    uv_prepare_init(h->loop, h->log_prep);
    h->log_prep->data = h;
    uv_timer_init(h->loop, h->log_timer);
    uv_prepare_start(h->log_prep, on_log_prep);
    uv_unref((uv_handle_t *)h->log_prep);
    uv_unref((uv_handle_t *)h->log_timer); /* fires while the loop runs, keeps nothing alive */
}

static void log_buffer_stop(miaw_http *h)
{
    if (!h->log_prep) return;
    miaw_log_buffer(0); /* flushes: no line is lost, and the rest is written at once */
    uv_prepare_stop(h->log_prep);
    uv_timer_stop(h->log_timer);
    uv_close((uv_handle_t *)h->log_prep, (uv_close_cb)free);
    uv_close((uv_handle_t *)h->log_timer, (uv_close_cb)free);
    h->log_prep = NULL;
    h->log_timer = NULL;
}

int miaw_http_drain(miaw_http *h, uint32_t max_ms)
{
    miaw_http_close(h);
    if (!h->ctx_ready) return 0;
    h2o_context_request_shutdown(&h->ctx);
    /* end every connection at the socket level: h2o then sees EOF and tears each one down
     * through its own paths (aborting pending requests), so nothing is freed twice */
    for (conn_node *c = h->conns; c; c = c->next) {
        uv_os_fd_t fd;
        if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0) shutdown(fd, SHUT_RDWR);
    }
    uv_timer_t tick;
    uv_timer_init(h->loop, &tick);
    uv_timer_start(&tick, drain_tick, 20, 20);
    uint64_t end = uv_now(h->loop) + max_ms;
    while (h->nconns && uv_now(h->loop) < end) uv_run(h->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(h->loop, UV_RUN_NOWAIT);
    /* request_shutdown arms h2o's HTTP/2 graceful-shutdown timer; with every connection
     * gone it has nothing left to do, and the context cannot be disposed while it is armed */
    if (h2o_timeout_is_linked(&h->ctx.http2._graceful_shutdown_timeout))
        h2o_timeout_unlink(&h->ctx.http2._graceful_shutdown_timeout);
    return h->nconns ? -1 : 0;
}

static int setup_tls(miaw_http *h, char *err, size_t errlen)
{
    h->ssl = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(h->ssl, TLS1_2_VERSION);
    SSL_CTX_set_options(h->ssl, SSL_OP_NO_COMPRESSION);
    if (SSL_CTX_use_certificate_chain_file(h->ssl, h->cfg->tls_cert) != 1) {
        snprintf(err, errlen, "server.tls.cert %s: cannot load certificate chain", h->cfg->tls_cert);
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(h->ssl, h->cfg->tls_key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(h->ssl) != 1) {
        snprintf(err, errlen, "server.tls.key %s: cannot load the key or it does not match the certificate", h->cfg->tls_key);
        return -1;
    }
    h2o_ssl_register_alpn_protocols(h->ssl, h2o_http2_alpn_protocols);
    h->accept_ctx.ssl_ctx = h->ssl;
    return 0;
}

int miaw_http_listen(miaw_http *h, int *port_out, char *err, size_t errlen)
{
    if (*h->cfg->tls_cert && setup_tls(h, err, errlen) != 0) return -1;
    entity_limit(h);
    sweep_uploads(h->cfg->data_dir);
    struct sockaddr_storage ss;
    if (uv_ip4_addr(h->cfg->host, h->cfg->port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(h->cfg->host, h->cfg->port, (struct sockaddr_in6 *)&ss) != 0) {
        snprintf(err, errlen, "server.host '%s' is not an IPv4 or IPv6 address", h->cfg->host);
        return -1;
    }
    miaw_http_early_start(h);
    log_buffer_start(h);
    h->listener = malloc(sizeof *h->listener);
    uv_tcp_init(h->loop, h->listener);
    h->listener->data = h;
    int rc = uv_tcp_bind(h->listener, (struct sockaddr *)&ss, 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)h->listener, 1024, on_accept);
    if (rc != 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", h->cfg->host, h->cfg->port, uv_strerror(rc));
        uv_close((uv_handle_t *)h->listener, (uv_close_cb)free);
        h->listener = NULL;
        return -1;
    }
    struct sockaddr_storage bound;
    int len = sizeof bound;
    uv_tcp_getsockname(h->listener, (struct sockaddr *)&bound, &len);
    if (port_out)
        *port_out = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                      : ((struct sockaddr_in *)&bound)->sin_port);
    return 0;
}

void miaw_http_close(miaw_http *h)
{
    miaw_http_early_stop(h);
    log_buffer_stop(h);
    if (h->listener) {
        uv_close((uv_handle_t *)h->listener, (uv_close_cb)free);
        h->listener = NULL;
    }
}

void miaw_http_free(miaw_http *h)
{
    if (!h) return;
    miaw_http_close(h);
    /* connections still open (drain timed out) must not call back into freed memory */
    for (conn_node *c = h->conns; c; c = c->next) c->http = NULL;
    if (h->ctx_ready) h2o_context_dispose(&h->ctx);
    h2o_config_dispose(&h->h2o_cfg);
    if (h->ssl) SSL_CTX_free(h->ssl);
    free(h->api_key);
    miaw_ratelimit_free(h->rl_key);
    miaw_ratelimit_free(h->rl_addr);
    free(h);
    miaw_http_req_cache_free();
}

void miaw_http_set_keys(miaw_http *h, miaw_apikeys *keys) { h->keys = keys; }

uint64_t miaw_http_requests(const miaw_http *h) { return h->requests; }
