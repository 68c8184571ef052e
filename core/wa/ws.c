/* core/wa/ws.c - WebSocket client over libuv: DNS, TCP, TLS through memory BIOs (OpenSSL,
 * peer and hostname verified), the connection's state machine and timers, and wslay
 * (client mode) for framing, ping/pong and the closing handshake. The URL and the HTTP
 * upgrade's text are ws_http.c's. Owns each connection's handles, SSL objects, wslay
 * context and buffers; freed once every libuv handle has closed. */
#include "ws.h"

#include <miaw/status.h>
#include <arpa/inet.h>
#include <openssl/buffer.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

#include "base/log.h"
#include "tls_ctx.h"
#include "ws_http.h"

enum { ST_RESOLVING, ST_CONNECTING, ST_TLS, ST_UPGRADE, ST_OPEN, ST_CLOSING, ST_CLOSED };

#define MAX_HTTP_HEADER (16 * 1024)

struct miaw_ws {
    uv_loop_t *loop;
    uv_tcp_t tcp;
    uv_timer_t timer;      /* connect timeout, then close timeout */
    uv_timer_t ping_timer; /* keep-alive */
    uv_getaddrinfo_t gai;
    uv_shutdown_t shutdown_req;
    struct addrinfo *ai_list, *ai_next; /* addresses still to try */
    char last_connect_error[96];
    int handles_open, gai_pending, tcp_closing, freed, state, reported;
    miaw_ws_url url;
    char *origin, *ca_file, *user_agent;
    uint64_t max_message;
    unsigned connect_timeout_ms, ping_interval_ms, ping_timeout_ms, close_timeout_ms;
    SSL_CTX *ssl_ctx;
    SSL *ssl;
    BIO *rbio, *wbio; /* owned by ssl */
    wslay_event_context_ptr wctx;
    uint8_t *in; /* received plaintext not yet consumed */
    size_t in_len, in_off, in_cap;
    char accept_key[MIAW_WS_ACCEPT_MAX];
    uint64_t last_rx, ping_sent;
    size_t pending_write;
    uint16_t close_code;
    char close_reason[128];
    miaw_ws_callbacks cb;
    void *udata;
};

/* ------------------------------------------------------------------ lifetime */
static void release(miaw_ws *ws)
{
    if (ws->ai_list) uv_freeaddrinfo(ws->ai_list);
    if (ws->wctx) wslay_event_context_free(ws->wctx);
    if (ws->ssl) SSL_free(ws->ssl);
    if (ws->ssl_ctx) SSL_CTX_free(ws->ssl_ctx);
    free(ws->in);
    miaw_ws_url_free(&ws->url);
    free(ws->origin);
    free(ws->ca_file);
    free(ws->user_agent);
    free(ws);
}

static void maybe_release(miaw_ws *ws)
{
    if (ws->freed && ws->handles_open == 0 && !ws->gai_pending) release(ws);
}

static void on_handle_closed(uv_handle_t *h)
{
    miaw_ws *ws = h->data;
    ws->handles_open--;
    maybe_release(ws);
}

static void close_tcp(miaw_ws *ws)
{
    if (ws->tcp_closing) return;
    ws->tcp_closing = 1;
    uv_close((uv_handle_t *)&ws->tcp, on_handle_closed);
}

/* Enter ST_CLOSED: no more timers; the caller takes care of the socket. */
static void set_closed(miaw_ws *ws)
{
    ws->state = ST_CLOSED;
    uv_timer_stop(&ws->timer);
    uv_timer_stop(&ws->ping_timer);
}

/* Run on_close, once per connection and never after miaw_ws_free. */
static void report_close(miaw_ws *ws, int code, const char *reason)
{
    if (!ws->freed && !ws->reported) {
        ws->reported = 1;
        if (ws->cb.on_close) ws->cb.on_close(ws, code, reason, ws->udata);
    }
}

/* Report the end of the connection once, and drop the socket. */
static void finish(miaw_ws *ws, int code, const char *reason)
{
    if (ws->state == ST_CLOSED) return;
    set_closed(ws);
    close_tcp(ws);
    report_close(ws, code, reason ? reason : "");
}

static void fail_tls(miaw_ws *ws, const char *what)
{
    char buf[256];
    long vr = ws->ssl ? SSL_get_verify_result(ws->ssl) : X509_V_OK;
    unsigned long e = ERR_get_error();
    if (vr != X509_V_OK)
        snprintf(buf, sizeof buf, "tls: %s: certificate: %s", what, X509_verify_cert_error_string(vr));
    else if (e)
        snprintf(buf, sizeof buf, "tls: %s: %s", what, ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "error");
    else
        snprintf(buf, sizeof buf, "tls: %s", what);
    ERR_clear_error();
    finish(ws, MIAW_WS_CLOSE_TLS, buf);
}

void miaw_ws_free(miaw_ws *ws)
{
    if (!ws || ws->freed) return;
    ws->freed = 1;
    ws->state = ST_CLOSED;
    if (ws->gai_pending) uv_cancel((uv_req_t *)&ws->gai);
    close_tcp(ws);
    if (!uv_is_closing((uv_handle_t *)&ws->timer)) uv_close((uv_handle_t *)&ws->timer, on_handle_closed);
    if (!uv_is_closing((uv_handle_t *)&ws->ping_timer))
        uv_close((uv_handle_t *)&ws->ping_timer, on_handle_closed);
    maybe_release(ws);
}

/* ------------------------------------------------------------------ output */
typedef struct {
    uv_write_t req;
    miaw_ws *ws;
    size_t len;
    char data[];
} wreq;

static void on_written(uv_write_t *req, int status)
{
    wreq *w = (wreq *)req;
    miaw_ws *ws = w->ws;
    ws->pending_write -= w->len;
    free(w);
    if (status < 0 && status != UV_ECANCELED && !ws->freed) finish(ws, MIAW_WS_CLOSE_ABNORMAL, uv_strerror(status));
}

static int tcp_write(miaw_ws *ws, const void *data, size_t len)
{
    if (ws->tcp_closing) return -1;
    wreq *w = malloc(sizeof *w + len);
    if (!w) return -1;
    w->ws = ws;
    w->len = len;
    memcpy(w->data, data, len);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    int rc = uv_write(&w->req, (uv_stream_t *)&ws->tcp, &b, 1, on_written);
    if (rc) {
        free(w);
        return -1;
    }
    ws->pending_write += len;
    return 0;
}

/* A memory BIO keeps the largest buffer it ever held (a 16 KiB record, more for a burst)
 * after it is drained. An idle connection should hold nothing: an empty BIO grown past
 * this is swapped for a fresh one (the SSL object frees the old). */
#define BIO_KEEP_MAX 4096
static BIO *fresh_if_grown(BIO *b)
{
    BUF_MEM *bm = NULL;
    if (BIO_ctrl_pending(b) || BIO_get_mem_ptr(b, &bm) != 1 || !bm || bm->max <= BIO_KEEP_MAX) return NULL;
    return BIO_new(BIO_s_mem());
}

static void tls_trim(miaw_ws *ws)
{
    BIO *b;
    if (!ws->ssl) return;
    if ((b = fresh_if_grown(ws->rbio))) {
        SSL_set0_rbio(ws->ssl, b);
        ws->rbio = b;
    }
    if ((b = fresh_if_grown(ws->wbio))) {
        SSL_set0_wbio(ws->ssl, b);
        ws->wbio = b;
    }
}

/* Move TLS records the SSL object produced into the socket. */
static int flush_tls(miaw_ws *ws)
{
    char buf[16384];
    int n;
    while ((n = BIO_read(ws->wbio, buf, sizeof buf)) > 0)
        if (tcp_write(ws, buf, (size_t)n)) return -1;
    tls_trim(ws);
    return 0;
}

/* Plaintext out: through TLS or straight to the socket. */
static int raw_write(miaw_ws *ws, const void *data, size_t len)
{
    if (!ws->url.tls) return tcp_write(ws, data, len);
    size_t off = 0;
    while (off < len) {
        size_t chunk = len - off > (1u << 30) ? (1u << 30) : len - off;
        int n = SSL_write(ws->ssl, (const char *)data + off, (int)chunk);
        if (n <= 0) return -1; /* memory BIO: never "would block" */
        off += (size_t)n;
    }
    return flush_tls(ws);
}

/* ------------------------------------------------------------------ wslay glue */
static ssize_t ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud)
{
    (void)flags;
    miaw_ws *ws = ud;
    size_t avail = ws->in_len - ws->in_off;
    if (avail == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (len > avail) len = avail;
    memcpy(buf, ws->in + ws->in_off, len);
    ws->in_off += len;
    return (ssize_t)len;
}

static ssize_t ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                          void *ud)
{
    (void)flags;
    miaw_ws *ws = ud;
    if (raw_write(ws, data, len)) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

static int ws_genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *ud)
{
    (void)ud;
    if (RAND_bytes(buf, (int)len) != 1) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return 0;
}

static void ws_msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *ud)
{
    (void)ctx;
    miaw_ws *ws = ud;
    if (ws->freed) return;
    switch (arg->opcode) {
    case WSLAY_BINARY_FRAME:
        if (ws->state == ST_OPEN && ws->cb.on_message) ws->cb.on_message(ws, arg->msg, arg->msg_length, ws->udata);
        break;
    case WSLAY_TEXT_FRAME:
        MIAW_WARN("ws", "dropped a text message of %zu bytes from %s", arg->msg_length, ws->url.host);
        break;
    case WSLAY_PONG:
        if (ws->cb.on_pong) ws->cb.on_pong(ws, arg->msg, arg->msg_length, ws->udata);
        break;
    case WSLAY_CONNECTION_CLOSE: {
        ws->close_code = arg->status_code;
        size_t rl = arg->msg_length > 2 ? arg->msg_length - 2 : 0;
        if (rl >= sizeof ws->close_reason) rl = sizeof ws->close_reason - 1;
        if (rl) memcpy(ws->close_reason, arg->msg + 2, rl);
        ws->close_reason[rl] = 0;
        if (ws->state == ST_OPEN) ws->state = ST_CLOSING;
        break;
    }
    default:
        break;
    }
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    miaw_ws *ws = req->data;
    close_tcp(ws);
}

/* Send what wslay has queued; end the connection once the closing handshake is done. */
static void pump(miaw_ws *ws)
{
    if (ws->freed || ws->state == ST_CLOSED || !ws->wctx) return;
    if (wslay_event_want_write(ws->wctx) && wslay_event_send(ws->wctx) < 0) {
        finish(ws, MIAW_WS_CLOSE_ABNORMAL, "send failed");
        return;
    }
    if (wslay_event_get_close_received(ws->wctx) && wslay_event_get_close_sent(ws->wctx) &&
        !wslay_event_want_write(ws->wctx)) {
        uint16_t code = ws->close_code ? ws->close_code : 1005;
        char reason[sizeof ws->close_reason];
        memcpy(reason, ws->close_reason, sizeof reason);
        if (ws->url.tls) {
            SSL_shutdown(ws->ssl);
            flush_tls(ws);
        }
        /* flush our close frame, then drop the socket */
        ws->shutdown_req.data = ws;
        int have_shutdown = !ws->tcp_closing &&
                            uv_shutdown(&ws->shutdown_req, (uv_stream_t *)&ws->tcp, on_shutdown) == 0;
        set_closed(ws);
        if (!have_shutdown) close_tcp(ws);
        report_close(ws, code, reason); /* not freed: checked on entry */
    }
}

/* ------------------------------------------------------------------ upgrade */
static int send_upgrade(miaw_ws *ws)
{
    char req[4096];
    int n = miaw_ws_upgrade_request(&ws->url, ws->origin, ws->user_agent, req, sizeof req,
                                    ws->accept_key);
    if (n < 0) return -1;
    ws->state = ST_UPGRADE;
    return raw_write(ws, req, (size_t)n);
}

static void open_ws(miaw_ws *ws);

static void handle_upgrade(miaw_ws *ws)
{
    if (ws->in_len == ws->in_off) return;
    uint8_t *end = memmem(ws->in + ws->in_off, ws->in_len - ws->in_off, "\r\n\r\n", 4);
    if (!end) {
        if (ws->in_len - ws->in_off > MAX_HTTP_HEADER) finish(ws, MIAW_WS_CLOSE_ABNORMAL, "upgrade: response header too large");
        return;
    }
    size_t hlen = (size_t)(end - (ws->in + ws->in_off)) + 4;
    char *head = malloc(hlen + 1);
    if (!head) {
        finish(ws, MIAW_WS_CLOSE_ABNORMAL, "out of memory");
        return;
    }
    memcpy(head, ws->in + ws->in_off, hlen);
    head[hlen] = 0;
    ws->in_off += hlen;
    char msg[160];
    int bad = miaw_ws_upgrade_check(head, ws->accept_key, msg, sizeof msg);
    free(head);
    if (bad) {
        finish(ws, MIAW_WS_CLOSE_ABNORMAL, msg);
        return;
    }
    open_ws(ws);
}

static void on_ping_timer(uv_timer_t *t);

static void open_ws(miaw_ws *ws)
{
    struct wslay_event_callbacks cbs = {ws_recv_cb, ws_send_cb, ws_genmask_cb, NULL, NULL, NULL, ws_msg_cb};
    if (wslay_event_context_client_init(&ws->wctx, &cbs, ws)) {
        finish(ws, MIAW_WS_CLOSE_ABNORMAL, "out of memory");
        return;
    }
    wslay_event_config_set_max_recv_msg_length(ws->wctx, ws->max_message);
    ws->state = ST_OPEN;
    uv_timer_stop(&ws->timer);
    ws->last_rx = uv_now(ws->loop);
    if (ws->ping_interval_ms)
        uv_timer_start(&ws->ping_timer, on_ping_timer, ws->ping_interval_ms, ws->ping_interval_ms);
    if (ws->cb.on_open) ws->cb.on_open(ws, ws->udata);
}

/* ------------------------------------------------------------------ input */
static int in_append(miaw_ws *ws, const void *data, size_t len)
{
    if (ws->in_off == ws->in_len) ws->in_off = ws->in_len = 0;
    if (ws->in_off > 0 && ws->in_len + len > ws->in_cap) { /* compact */
        memmove(ws->in, ws->in + ws->in_off, ws->in_len - ws->in_off);
        ws->in_len -= ws->in_off;
        ws->in_off = 0;
    }
    if (ws->in_len + len > ws->in_cap) {
        size_t cap = ws->in_cap ? ws->in_cap : 16384;
        while (cap < ws->in_len + len) cap *= 2;
        uint8_t *p = realloc(ws->in, cap);
        if (!p) return -1;
        ws->in = p;
        ws->in_cap = cap;
    }
    memcpy(ws->in + ws->in_len, data, len);
    ws->in_len += len;
    return 0;
}

static void process_input(miaw_ws *ws)
{
    if (ws->state == ST_UPGRADE) handle_upgrade(ws);
    if (ws->freed || ws->state == ST_CLOSED) return;
    if ((ws->state == ST_OPEN || ws->state == ST_CLOSING) && ws->in_off < ws->in_len) {
        if (wslay_event_recv(ws->wctx) < 0) {
            if (!ws->freed) finish(ws, 1002, "protocol error or message too large");
            return;
        }
        if (ws->freed || ws->state == ST_CLOSED) return;
        /* wslay reads until its buffer runs dry; a peer's close stops reading */
        if (!wslay_event_get_read_enabled(ws->wctx)) ws->in_off = ws->in_len;
        pump(ws);
    }
}

static void tls_progress(miaw_ws *ws)
{
    if (ws->state == ST_TLS) {
        int r = SSL_do_handshake(ws->ssl);
        flush_tls(ws);
        if (r != 1) {
            int e = SSL_get_error(ws->ssl, r);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) fail_tls(ws, "handshake failed");
            return;
        }
        if (send_upgrade(ws)) {
            finish(ws, MIAW_WS_CLOSE_ABNORMAL, "upgrade: write failed");
            return;
        }
    }
    char buf[16384];
    for (;;) {
        int n = SSL_read(ws->ssl, buf, sizeof buf);
        if (n > 0) {
            if (in_append(ws, buf, (size_t)n)) {
                finish(ws, MIAW_WS_CLOSE_ABNORMAL, "out of memory");
                return;
            }
            continue;
        }
        int e = SSL_get_error(ws->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
        if (e == SSL_ERROR_ZERO_RETURN) break; /* close_notify: the TCP EOF follows */
        fail_tls(ws, "read failed");
        return;
    }
    flush_tls(ws);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    static char slab[65536]; /* loop thread only; consumed before the next read */
    *buf = uv_buf_init(slab, sizeof slab);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    miaw_ws *ws = s->data;
    if (ws->freed || ws->state == ST_CLOSED) return;
    if (nread < 0) {
        if (ws->state == ST_TLS) {
            fail_tls(ws, "connection closed during handshake");
        } else if (ws->close_code) {
            char reason[sizeof ws->close_reason];
            memcpy(reason, ws->close_reason, sizeof reason);
            finish(ws, ws->close_code, reason);
        } else if (ws->wctx && wslay_event_get_close_sent(ws->wctx)) {
            /* we closed (e.g. 1009 for an oversized message) and the peer hung up */
            uint16_t code = wslay_event_get_status_code_sent(ws->wctx);
            finish(ws, code, code == 1009 ? "message too large" : code == 1002 ? "protocol error" : "closed");
        } else {
            finish(ws, MIAW_WS_CLOSE_ABNORMAL, nread == UV_EOF ? "connection closed by peer" : uv_strerror((int)nread));
        }
        return;
    }
    if (nread == 0) return;
    ws->last_rx = uv_now(ws->loop);
    if (ws->url.tls) {
        if (BIO_write(ws->rbio, buf->base, (int)nread) != (int)nread) {
            finish(ws, MIAW_WS_CLOSE_ABNORMAL, "out of memory");
            return;
        }
        tls_progress(ws);
    } else if (in_append(ws, buf->base, (size_t)nread)) {
        finish(ws, MIAW_WS_CLOSE_ABNORMAL, "out of memory");
        return;
    }
    if (!ws->freed && ws->state != ST_CLOSED && ws->state != ST_TLS) process_input(ws);
    /* drained: an idle connection keeps no input buffer (it is 16 KiB at least) */
    if (!ws->freed && ws->in && ws->in_off == ws->in_len) {
        free(ws->in);
        ws->in = NULL;
        ws->in_cap = ws->in_len = ws->in_off = 0;
    }
}

/* ------------------------------------------------------------------ connect */
static int setup_tls(miaw_ws *ws)
{
    char err[160];
    ws->ssl_ctx = miaw_tls_client_ctx(ws->ca_file, err, sizeof err); /* shared, one per CA source */
    if (!ws->ssl_ctx) {
        MIAW_WARN("ws", "%s", err);
        return -2;
    }
    ws->ssl = SSL_new(ws->ssl_ctx);
    if (!ws->ssl) return -1;
    X509_VERIFY_PARAM *param = SSL_get0_param(ws->ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    unsigned char tmp[16];
    int is_ip = inet_pton(AF_INET, ws->url.host, tmp) == 1 || inet_pton(AF_INET6, ws->url.host, tmp) == 1;
    if (is_ip) {
        if (X509_VERIFY_PARAM_set1_ip_asc(param, ws->url.host) != 1) return -1;
    } else {
        if (X509_VERIFY_PARAM_set1_host(param, ws->url.host, 0) != 1) return -1;
        SSL_set_tlsext_host_name(ws->ssl, ws->url.host);
    }
    ws->rbio = BIO_new(BIO_s_mem());
    ws->wbio = BIO_new(BIO_s_mem());
    if (!ws->rbio || !ws->wbio) {
        BIO_free(ws->rbio);
        BIO_free(ws->wbio);
        return -1;
    }
    SSL_set_bio(ws->ssl, ws->rbio, ws->wbio);
    SSL_set_connect_state(ws->ssl);
    return 0;
}

static void try_next_address(miaw_ws *ws);

/* The failed socket is closed; a fresh one tries the next address. */
static void on_tcp_reclosed(uv_handle_t *h)
{
    miaw_ws *ws = h->data;
    if (ws->freed || ws->state == ST_CLOSED) { /* given up meanwhile */
        ws->handles_open--;
        maybe_release(ws);
        return;
    }
    ws->tcp_closing = 0;
    if (uv_tcp_init(ws->loop, &ws->tcp)) {
        ws->tcp_closing = 1; /* nothing to close any more */
        ws->handles_open--;
        finish(ws, MIAW_WS_CLOSE_ABNORMAL, "socket init failed");
        return;
    }
    ws->tcp.data = ws;
    try_next_address(ws);
}

static void on_connected(uv_connect_t *req, int status)
{
    miaw_ws *ws = req->data;
    free(req);
    if (ws->freed || ws->state == ST_CLOSED) return;
    if (status < 0) {
        snprintf(ws->last_connect_error, sizeof ws->last_connect_error, "connect: %s", uv_strerror(status));
        if (ws->ai_next && !ws->tcp_closing) {
            ws->tcp_closing = 1;
            uv_close((uv_handle_t *)&ws->tcp, on_tcp_reclosed);
            return;
        }
        finish(ws, MIAW_WS_CLOSE_ABNORMAL, ws->last_connect_error);
        return;
    }
    if (ws->ai_list) {
        uv_freeaddrinfo(ws->ai_list);
        ws->ai_list = ws->ai_next = NULL;
    }
    uv_tcp_nodelay(&ws->tcp, 1);
    if (uv_read_start((uv_stream_t *)&ws->tcp, on_alloc, on_read)) {
        finish(ws, MIAW_WS_CLOSE_ABNORMAL, "read start failed");
        return;
    }
    if (ws->url.tls) {
        int rc = setup_tls(ws);
        if (rc) {
            fail_tls(ws, rc == -2 ? "cannot load CA certificates" : "setup failed");
            return;
        }
        ws->state = ST_TLS;
        tls_progress(ws);
        return;
    }
    if (send_upgrade(ws)) finish(ws, MIAW_WS_CLOSE_ABNORMAL, "upgrade: write failed");
}

static void try_next_address(miaw_ws *ws)
{
    while (ws->ai_next) {
        struct addrinfo *ai = ws->ai_next;
        ws->ai_next = ai->ai_next;
        uv_connect_t *c = malloc(sizeof *c);
        if (!c) {
            finish(ws, MIAW_WS_CLOSE_ABNORMAL, "out of memory");
            return;
        }
        c->data = ws;
        int rc = uv_tcp_connect(c, &ws->tcp, ai->ai_addr, on_connected);
        if (rc == 0) return;
        free(c);
        snprintf(ws->last_connect_error, sizeof ws->last_connect_error, "connect: %s", uv_strerror(rc));
    }
    finish(ws, MIAW_WS_CLOSE_ABNORMAL, ws->last_connect_error[0] ? ws->last_connect_error : "no address");
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    miaw_ws *ws = req->data;
    ws->gai_pending = 0;
    if (ws->freed) {
        if (res) uv_freeaddrinfo(res);
        maybe_release(ws);
        return;
    }
    if (status < 0 || !res) {
        char msg[160];
        snprintf(msg, sizeof msg, "resolve %s: %s", ws->url.host, uv_strerror(status));
        if (res) uv_freeaddrinfo(res);
        finish(ws, MIAW_WS_CLOSE_ABNORMAL, msg);
        return;
    }
    ws->ai_list = ws->ai_next = res;
    ws->state = ST_CONNECTING;
    try_next_address(ws);
}

static void on_timer(uv_timer_t *t)
{
    miaw_ws *ws = t->data;
    if (ws->state == ST_CLOSING)
        finish(ws, MIAW_WS_CLOSE_ABNORMAL, "close timeout");
    else
        finish(ws, MIAW_WS_CLOSE_ABNORMAL, "connect timeout");
}

static void on_ping_timer(uv_timer_t *t)
{
    miaw_ws *ws = t->data;
    if (ws->state != ST_OPEN) return;
    uint64_t now = uv_now(ws->loop);
    if (ws->ping_sent && ws->last_rx < ws->ping_sent && now - ws->ping_sent >= ws->ping_timeout_ms) {
        finish(ws, MIAW_WS_CLOSE_ABNORMAL, "ping timeout");
        return;
    }
    if (!ws->ping_sent || ws->last_rx >= ws->ping_sent) {
        ws->ping_sent = now ? now : 1;
        miaw_ws_ping(ws, "ka", 2);
    }
}

int miaw_ws_connect(uv_loop_t *loop, const miaw_ws_options *opt, const miaw_ws_callbacks *cb,
                    void *udata, miaw_ws **out)
{
    if (!loop || !opt || !opt->url || !cb || !out) return MIAW_E_INVAL;
    *out = NULL;
    miaw_ws *ws = calloc(1, sizeof *ws);
    if (!ws) return MIAW_E_NOMEM;
    ws->loop = loop;
    ws->cb = *cb;
    ws->udata = udata;
    if (miaw_ws_url_parse(opt->url, &ws->url)) {
        release(ws);
        return MIAW_E_INVAL;
    }
    const char *origin = opt->origin ? opt->origin : MIAW_WS_ORIGIN_WHATSAPP;
    if (strpbrk(origin, "\r\n") || (opt->user_agent && strpbrk(opt->user_agent, "\r\n"))) {
        release(ws);
        return MIAW_E_INVAL;
    }
    ws->origin = strdup(origin);
    ws->ca_file = opt->ca_file ? strdup(opt->ca_file) : NULL;
    ws->user_agent = opt->user_agent ? strdup(opt->user_agent) : NULL;
    if (!ws->origin || (opt->ca_file && !ws->ca_file) || (opt->user_agent && !ws->user_agent)) {
        release(ws);
        return MIAW_E_NOMEM;
    }
    ws->max_message = opt->max_message ? opt->max_message : (16u << 20);
    ws->connect_timeout_ms = opt->connect_timeout_ms ? opt->connect_timeout_ms : 20000;
    ws->ping_interval_ms = opt->ping_interval_ms;
    ws->ping_timeout_ms = opt->ping_timeout_ms ? opt->ping_timeout_ms : opt->ping_interval_ms;
    ws->close_timeout_ms = opt->close_timeout_ms ? opt->close_timeout_ms : 5000;

    if (uv_tcp_init(loop, &ws->tcp)) {
        release(ws);
        return MIAW_E_IO;
    }
    ws->tcp.data = ws;
    ws->handles_open = 1;
    uv_timer_init(loop, &ws->timer);
    uv_timer_init(loop, &ws->ping_timer);
    ws->timer.data = ws->ping_timer.data = ws;
    ws->handles_open += 2;
    ws->gai.data = ws;
    ws->state = ST_RESOLVING;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int rc = uv_getaddrinfo(loop, &ws->gai, on_resolved, ws->url.host, ws->url.port, &hints);
    if (rc) {
        miaw_ws_free(ws);
        return MIAW_E_IO;
    }
    ws->gai_pending = 1;
    uv_timer_start(&ws->timer, on_timer, ws->connect_timeout_ms, 0);
    *out = ws;
    return 0;
}

/* ------------------------------------------------------------------ sending */
static int queue(miaw_ws *ws, uint8_t opcode, const void *data, size_t len)
{
    if (!ws || ws->freed || ws->state != ST_OPEN || (!data && len)) return MIAW_E_STATE;
    struct wslay_event_msg m = {opcode, data, len};
    int rc = wslay_event_queue_msg(ws->wctx, &m);
    if (rc == WSLAY_ERR_NOMEM) return MIAW_E_NOMEM;
    if (rc) return rc == WSLAY_ERR_INVALID_ARGUMENT ? MIAW_E_INVAL : MIAW_E_STATE;
    pump(ws);
    return 0;
}

int miaw_ws_send(miaw_ws *ws, const void *data, size_t len)
{
    return queue(ws, WSLAY_BINARY_FRAME, data, len);
}

int miaw_ws_ping(miaw_ws *ws, const void *data, size_t len)
{
    if (len > 125) return MIAW_E_INVAL;
    return queue(ws, WSLAY_PING, data, len);
}

int miaw_ws_close(miaw_ws *ws, uint16_t code, const char *reason)
{
    if (!ws || ws->freed) return MIAW_E_STATE;
    size_t rl = reason ? strlen(reason) : 0;
    if (code < 1000 || code > 4999 || code == 1005 || code == 1006 || code == 1015 || rl > 123)
        return MIAW_E_INVAL;
    if (ws->state != ST_OPEN) {
        if (ws->state == ST_CLOSED || ws->state == ST_CLOSING) return MIAW_E_STATE;
        finish(ws, code, reason ? reason : ""); /* not open yet: just drop the attempt */
        return 0;
    }
    int rc = wslay_event_queue_close(ws->wctx, code, (const uint8_t *)reason, rl);
    if (rc) return MIAW_E_STATE;
    ws->state = ST_CLOSING;
    uv_timer_start(&ws->timer, on_timer, ws->close_timeout_ms, 0);
    pump(ws);
    return 0;
}

int miaw_ws_is_open(const miaw_ws *ws)
{
    return ws && !ws->freed && ws->state == ST_OPEN;
}

size_t miaw_ws_pending_bytes(const miaw_ws *ws)
{
    return ws ? ws->pending_write : 0;
}
