/* core/http/early.c - the head-before-body gate for plain HTTP/1.x, and h2o's own error
 * answers in the envelope. Owns no memory beyond the uv_prepare handle (in miaw_http) and
 * the early_* fields of each conn_node.
 *
 * h2o 2.2.5 reads a whole request body into the connection's input buffer before it calls
 * any handler, and gives a handler no hook in between. So the gate sits under h2o, on the
 * connection's libuv read callback: before h2o sees newly read bytes, it parses the head
 * of the request at the start of the input buffer (h2o consumes a request's bytes only
 * after answering it, so the current request always starts there). When the body is
 * larger than MIAW_EARLY_THRESHOLD (declared by Content-Length, or seen so far for a
 * chunked body) the request must have a route, valid credentials and a body within the
 * route's limit; otherwise the gate writes the JSON answer itself (401, 404, 405, 400 or
 * 413, Connection: close), half-closes, drops whatever the client still sends and then
 * lets h2o close the connection. So an unauthenticated or oversized request costs at most
 * the threshold plus one read, whatever it declares. h2o sets its read callback again
 * each time it resumes reading, so a uv_prepare handle re-wraps it before every poll.
 * On TLS connections the gate judges the bytes h2o has just decrypted, before h2o's
 * HTTP/1 code sees them (it wraps h2o's socket-level callback for the length of each
 * read), and writes its answer through h2o (encrypted). HTTP/2 connections are not gated
 * (frames, not a head): there h2o's hard limit (the largest route limit) bounds a body. */
#include "http/http_int.h"

#include "base/log.h"

#include <h2o.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* picohttpparser, built into libh2o (its header is not installed) */
struct phr_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};
int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len, const char **path,
                      size_t *path_len, int *minor_version, struct phr_header *headers, size_t *num_headers,
                      size_t last_len);

#define EARLY_HEAD_MAX 8192            /* h2o's H2O_MAX_REQLEN: a longer head is h2o's 400 */
#define EARLY_SWALLOW_MAX (64u << 20)  /* after an early answer: bytes dropped before closing (closing
                                        * while the client still sends would reset the
                                        * connection, and the client could lose the answer) */

static void copy_value(char *dst, size_t cap, const struct phr_header *h)
{
    size_t n = h->value_len < cap - 1 ? h->value_len : cap - 1;
    memcpy(dst, h->value, n);
    dst[n] = 0;
}

static int hname(const struct phr_header *h, const char *name)
{
    size_t n = strlen(name);
    return h->name_len == n && strncasecmp(h->name, name, n) == 0;
}

static void on_tls_answer_sent(h2o_socket_t *sock, const char *err)
{
    int fd = h2o_socket_get_fd(sock);
    if (!err && fd >= 0) shutdown(fd, SHUT_WR);
}

/* writes the early answer, half-closes; the connection then drops the rest */
static void answer(conn_node *c, int status, const char *body)
{
    char head[512];
    size_t bl = strlen(body);
    int hl = snprintf(head, sizeof head,
                      "HTTP/1.1 %d %s\r\nConnection: close\r\nServer: miaw\r\nContent-Type: application/json; "
                      "charset=utf-8\r\nCache-Control: no-store\r\nContent-Length: %zu\r\n\r\n",
                      status, miaw_http_reason(status), bl);
    h2o_socket_t *sock = c->tcp.data;
    c->early_done = 1;
    if (c->early_tls) {
        /* h2o encrypts the bytes into its own buffers at once (so these may live on the
         * stack) and half-closes once they are out */
        h2o_iovec_t v[2] = {h2o_iovec_init(head, (size_t)hl), h2o_iovec_init(body, bl)};
        if (!h2o_socket_is_writing(sock)) h2o_socket_write(sock, v, 2, on_tls_answer_sent);
        return;
    }
    uv_buf_t bufs[2] = {uv_buf_init(head, (unsigned)hl), uv_buf_init((char *)body, (unsigned)bl)};
    if (!h2o_socket_is_writing(sock)) uv_try_write((uv_stream_t *)&c->tcp, bufs, 2); /* small: fits the send buffer */
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0) shutdown(fd, SHUT_WR);
}

int miaw_http_early_parse(const char *data, size_t len, miaw_early_head *out)
{
    const char *method, *path;
    size_t ml, pl, nh = 64;
    int minor;
    struct phr_header hd[64];
    memset(out, 0, sizeof *out);
    int hl = phr_parse_request(data, len < EARLY_HEAD_MAX ? len : EARLY_HEAD_MAX, &method, &ml, &path, &pl, &minor, hd, &nh, 0);
    if (hl <= 0) return 0; /* incomplete or malformed: h2o decides */
    for (size_t i = 0; i < nh; i++) {
        if (hname(&hd[i], "content-length") && !out->has_cl) { /* the first one, as h2o reads it */
            char v[32];
            copy_value(v, sizeof v, &hd[i]);
            char *end;
            unsigned long long x = strtoull(v, &end, 10);
            if (end == v || *end) return 0; /* h2o answers the broken header */
            out->content_length = x;
            out->has_cl = 1;
        } else if (hname(&hd[i], "transfer-encoding")) {
            out->chunked = 1;
        } else if (hname(&hd[i], "x-api-key")) {
            copy_value(out->xkey, sizeof out->xkey, &hd[i]);
        } else if (hname(&hd[i], "authorization")) {
            copy_value(out->authz, sizeof out->authz, &hd[i]);
        }
    }
    snprintf(out->method, sizeof out->method, "%.*s", (int)(ml < 15 ? ml : 15), method);
    if (pl >= sizeof out->path) pl = sizeof out->path - 1;
    memcpy(out->path, path, pl);
    out->path[pl] = 0;
    char *q = strchr(out->path, '?');
    if (q) *q = 0;
    out->body_seen = len - (size_t)hl;
    return hl;
}

/* 1 when the line starting at p (left bytes up to the end of the head) may name a body's
 * framing: Content-Length or Transfer-Encoding in any case, or a prefix of one that the
 * end of the head cut */
static int framing_name(const char *p, size_t left)
{
    if ((*p | 0x20) == 'c') return strncasecmp(p, "content-length", left < 14 ? left : 14) == 0;
    if ((*p | 0x20) == 't') return strncasecmp(p, "transfer-encoding", left < 17 ? left : 17) == 0;
    return 0;
}

#if defined(__SSE2__)
/* bit i: p[i] is a newline (16 bytes at p) */
static inline unsigned nl_mask(const char *p)
{
    __m128i v = _mm_loadu_si128((const __m128i *)p);
    return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('\n')));
}

int miaw_http_early_framing(const char *data, size_t hlen)
{
    /* the newlines 16 bytes at a time, the last few through a padded copy (nothing past
     * hlen is read); a line is looked at only when its first byte may start a name */
    size_t i = 0;
    for (;; i += 16) {
        unsigned m;
        if (i + 16 <= hlen) {
            m = nl_mask(data + i);
        } else {
            if (i >= hlen) return 0;
            char pad[16] = {0};
            memcpy(pad, data + i, hlen - i);
            m = nl_mask(pad);
        }
        for (; m; m &= m - 1) {
            size_t at = i + (size_t)__builtin_ctz(m) + 1;
            if (at >= hlen) return 0;
            int c = data[at] | 0x20;
            if ((c == 'c' || c == 't') && framing_name(data + at, hlen - at)) return 1;
        }
    }
}
#else
int miaw_http_early_framing(const char *data, size_t hlen)
{
    for (const char *p = data, *end = data + hlen; (p = memchr(p, '\n', (size_t)(end - p))) && ++p < end;)
        if (framing_name(p, (size_t)(end - p))) return 1;
    return 0;
}
#endif

/* 1 when the head at data announces (or already brought) a body above the threshold: the
 * quick look every request gets (no copies), before the full parse that only such a
 * request needs */
static int large_body(const char *data, size_t len)
{
    size_t hlen = len < EARLY_HEAD_MAX ? len : EARLY_HEAD_MAX;
    /* no line in sight starts with Content-Length or Transfer-Encoding, in any case (a
     * header name starts a line, after CRLF or a bare LF; a line cut by the end of what
     * has come counts): nothing announces a body, and a GET's head is not parsed twice
     * (h2o parses it anyway). Any such line: the parse below. */
    if (!miaw_http_early_framing(data, hlen)) return 0;
    const char *method, *path;
    size_t ml, pl, nh = 64;
    int minor, chunked = 0, has_cl = 0;
    struct phr_header hd[64];
    int hl = phr_parse_request(data, hlen, &method, &ml, &path, &pl, &minor, hd, &nh, 0);
    if (hl <= 0) return 0;
    unsigned long long cl = 0;
    for (size_t i = 0; i < nh; i++) {
        if (!has_cl && hname(&hd[i], "content-length")) {
            char v[32];
            copy_value(v, sizeof v, &hd[i]);
            cl = strtoull(v, NULL, 10);
            has_cl = 1;
        } else if (hname(&hd[i], "transfer-encoding")) {
            chunked = 1;
        }
    }
    return chunked ? len - (size_t)hl > MIAW_EARLY_THRESHOLD : has_cl && cl > MIAW_EARLY_THRESHOLD;
}

/* 0: let h2o read on; 1: answered early */
static int judge(conn_node *c, const char *data, size_t len)
{
    miaw_early_head eh;
    if (!large_body(data, len) || miaw_http_early_parse(data, len, &eh) <= 0) return 0;
    if (eh.chunked ? eh.body_seen <= MIAW_EARLY_THRESHOLD : (!eh.has_cl || eh.content_length <= MIAW_EARLY_THRESHOLD))
        return 0;
    if (c->early_ok) return 0; /* this request passed already */
    char body[1024];
    int st = miaw_http_early_verdict(c->http, eh.method, eh.path, eh.xkey[0] ? eh.xkey : NULL,
                                     eh.authz[0] ? eh.authz : NULL, eh.chunked, eh.content_length, eh.body_seen, body,
                                     sizeof body);
    if (!st) {
        c->early_ok = 1;
        return 0;
    }
    answer(c, st, body);
    return 1;
}

/* TLS: h2o decrypts in its own read callback and hands the plain bytes (appended to
 * sock->input) to the connection's h2o-level callback; for the length of one read that
 * callback is this one, which judges the request head first */
static conn_node *g_tls_conn;
static h2o_socket_cb g_tls_inner;

static void on_tls_plain(h2o_socket_t *sock, const char *err)
{
    conn_node *c = g_tls_conn;
    h2o_socket_cb inner = g_tls_inner;
    sock->_cb.read = inner; /* first: inner may start or stop reading itself */
    g_tls_conn = NULL;
    if (!err && c && !c->early_off && c->http && sock->input && sock->bytes_read > 0 &&
        sock->bytes_read <= sock->input->size) {
        size_t len = sock->input->size, have = len - sock->bytes_read;
        if (have < c->early_seen) c->early_ok = 0;
        c->early_seen = len;
        const char *data = sock->input->bytes;
        if (len >= 12 && memcmp(data, "PRI * HTTP/2", 12) == 0) c->early_off = 1; /* ALPN h2 */
        else if (judge(c, data, len)) return;
    }
    inner(sock, err);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    conn_node *c = (conn_node *)stream;
    uv_read_cb h2o_cb = c->early_h2o_cb;
    h2o_socket_t *sock = stream->data;
    if (c->early_done) {
        /* answered: drop what the client still sends (the bytes are not added to h2o's
         * input, so its buffer does not grow), then let h2o close at its end or a cap */
        if (nread < 0 || (c->early_swallowed += (uint64_t)nread) > EARLY_SWALLOW_MAX) {
            c->early_off = 1;
            h2o_cb(stream, nread < 0 ? nread : UV_EOF, buf);
        }
        return;
    }
    if (c->early_tls) {
        if (nread > 0 && !c->early_off && c->http && sock && sock->_cb.read && sock->_cb.read != on_tls_plain) {
            g_tls_conn = c;
            g_tls_inner = sock->_cb.read;
            sock->_cb.read = on_tls_plain;
            h2o_cb(stream, nread, buf);
            if (g_tls_conn == c) { /* h2o did not hand anything on this time */
                sock->_cb.read = g_tls_inner;
                g_tls_conn = NULL;
            }
            return;
        }
        h2o_cb(stream, nread, buf);
        return;
    }
    if (nread > 0 && !c->early_off && c->http && sock && sock->input) {
        size_t have = sock->input->size;
        if (have < c->early_seen) c->early_ok = 0; /* h2o consumed the last request: a new one */
        c->early_seen = have + (size_t)nread;
        const char *data = sock->input->bytes;
        size_t len = have + (size_t)nread;
        if (len >= 12 && memcmp(data, "PRI * HTTP/2", 12) == 0) c->early_off = 1; /* h2c prior knowledge */
        else if (judge(c, data, len)) return;
    }
    h2o_cb(stream, nread, buf);
}

/* before each poll: wrap the read callback h2o set since (it does at every read start) */
static void on_prepare(uv_prepare_t *p)
{
    miaw_http *h = p->data;
    for (conn_node *c = h->conns; c; c = c->next) {
        if (c->early_off || !c->tcp.read_cb || c->tcp.read_cb == on_read) continue;
        c->early_h2o_cb = c->tcp.read_cb;
        c->tcp.read_cb = on_read;
    }
}

void miaw_http_early_start(miaw_http *h)
{
    if (h->early_prep) return;
    h->early_prep = malloc(sizeof *h->early_prep);
    if (!h->early_prep) return;
    uv_prepare_init(h->loop, h->early_prep);
    h->early_prep->data = h;
    uv_prepare_start(h->early_prep, on_prepare);
    uv_unref((uv_handle_t *)h->early_prep);
}

void miaw_http_early_stop(miaw_http *h)
{
    if (!h->early_prep) return;
    uv_prepare_stop(h->early_prep);
    uv_close((uv_handle_t *)h->early_prep, (uv_close_cb)free);
    h->early_prep = NULL;
}

/* ---- h2o's own answers (it sends them through the host's fallback path, which no
 * miaw handler serves): 413 for a body over the hard limit, 400 for broken framing, 417 */
typedef struct {
    h2o_ostream_t super;
    h2o_iovec_t body;
} env_ostream;

static void env_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t n, h2o_send_state_t state)
{
    (void)bufs;
    (void)n;
    env_ostream *o = (env_ostream *)self;
    h2o_ostream_send_next(self, req, &o->body, o->body.len ? 1 : 0, state);
}

static void env_setup(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    (void)self;
    int st = req->res.status;
    if (st >= 400) {
        const char *code = st == 413 ? "PAYLOAD_TOO_LARGE" : st >= 500 ? "INTERNAL_ERROR" : "INVALID_REQUEST";
        const char *msg = st == 413 ? "the request body exceeds the largest body this server accepts"
                                    : "malformed HTTP request";
        char buf[300];
        int len = snprintf(buf, sizeof buf, "{\"success\":false,\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", code, msg);
        memset(&req->res.headers, 0, sizeof req->res.headers);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                       H2O_STRLIT("application/json; charset=utf-8"));
        int head = req->input.method.len == 4 && memcmp(req->input.method.base, "HEAD", 4) == 0;
        req->res.content_length = (size_t)len;
        env_ostream *o = (env_ostream *)h2o_add_ostream(req, sizeof *o, slot);
        o->super.do_send = env_send;
        o->body = head ? h2o_iovec_init(NULL, 0) : h2o_strdup(&req->pool, buf, (size_t)len);
        slot = &o->super.next;
        MIAW_INFO("http", "%.*s %d (refused by the HTTP layer)", (int)(req->input.method.len < 16 ? req->input.method.len : 16),
                  req->input.method.base, st);
    }
    h2o_setup_next_ostream(req, slot);
}

void miaw_http_early_register(miaw_http *h, h2o_hostconf_t *host)
{
    (void)h;
    h2o_filter_t *f = h2o_create_filter(&host->fallback_path, sizeof *f);
    f->on_setup_ostream = env_setup;
}
