/* core/http/events_ws.c - the WebSocket variant of GET {api_prefix}/events (RFC 6455, HTTP/1.1
 * Upgrade; same route, so the same auth, filters, Last-Event-ID and client cap): the
 * handshake (Sec-WebSocket-Accept), the upgrade through h2o_http1_upgrade, one text frame
 * per event ({"id","event","data"}), ping frames as keep-alive, and the client's frames
 * read only for close, ping and pong (anything else is ignored; frames over 64 KiB or
 * unmasked end the connection). Owns each WS stream (malloc'd, with its filter copies)
 * until its socket is closed. */
#include "http/events_int.h"

#include "base/log.h"

#include <h2o/http1.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_MAX_IN (64u << 10)

static void ws_free(stream *s)
{
    for (size_t i = 0; i < s->ninst; i++) free(s->inst[i]);
    for (size_t i = 0; i < s->ntypes; i++) free(s->types[i]);
    free(s->out);
    free(s->q);
    free(s);
}

/* closes the socket once nothing is being written; s is freed then */
static void ws_close(stream *s)
{
    evs_unlink(s);
    s->ending = 1;
    if (s->sending) return; /* on_written closes it */
    if (s->sock) {
        s->sock->data = NULL;
        h2o_socket_close(s->sock);
        s->sock = NULL;
    }
    ws_free(s);
}

static void on_written(h2o_socket_t *sock, const char *err)
{
    stream *s = sock->data;
    if (!s) return;
    s->sending = 0;
    free(s->out);
    s->out = NULL;
    if (err || (s->ending && !s->qlen)) {
        ws_close(s);
        return;
    }
    evs_ws_flush(s);
}

/* never frees s (callers may go on using it): an ending stream with nothing left to write
 * is closed by on_written or the hub's tick (evs_ws_tick) */
void evs_ws_flush(stream *s)
{
    if (s->sending || !s->sock || !s->qlen) return;
    s->out = s->q;
    h2o_iovec_t v = h2o_iovec_init(s->out, s->qlen);
    s->q = NULL;
    s->qlen = s->qcap = 0;
    s->sending = 1;
    if (s->hub) s->last_write = uv_now(s->hub->loop);
    h2o_socket_write(s->sock, &v, 1, on_written);
}

/* a frame with FIN set */
static void ws_frame(stream *s, unsigned opcode, const char *payload, size_t len)
{
    unsigned char hdr[10];
    size_t hl = 2;
    hdr[0] = (unsigned char)(0x80 | opcode);
    if (len < 126) hdr[1] = (unsigned char)len;
    else if (len < 65536) {
        hdr[1] = 126;
        hdr[2] = (unsigned char)(len >> 8);
        hdr[3] = (unsigned char)len;
        hl = 4;
    } else {
        hdr[1] = 127;
        for (int i = 0; i < 8; i++) hdr[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
        hl = 10;
    }
    char *buf = malloc(hl + len);
    if (!buf) return;
    memcpy(buf, hdr, hl);
    if (len) memcpy(buf + hl, payload, len);
    evs_push(s, buf, hl + len);
    free(buf);
}

void evs_ws_event(stream *s, long long id, const char *type, const char *body)
{
    size_t bl = strlen(body), n = bl + strlen(type) + 64;
    char *m = malloc(n);
    if (!m) return;
    int k = id > 0 ? snprintf(m, n, "{\"id\":%lld,\"event\":\"%s\",\"data\":", id, type)
                   : snprintf(m, n, "{\"id\":null,\"event\":\"%s\",\"data\":", type);
    if (k > 0 && (size_t)k + bl + 2 <= n) {
        memcpy(m + k, body, bl);
        m[k + bl] = '}';
        ws_frame(s, 0x1, m, (size_t)k + bl + 1);
    }
    free(m);
}

void evs_ws_ping(stream *s) { ws_frame(s, 0x9, "miaw", 4); }

int evs_ws_tick(stream *s, uint64_t now)
{
    if (s->ending && !s->sending && s->sock) {
        ws_close(s);
        return 1;
    }
    if (!s->ending && now - s->last_write >= PING_MS && !s->sending) evs_ws_ping(s);
    return 0;
}

/* ------------------------------------------------------------ reading */
/* parses the frames in the socket's input; 0 to go on, -1 to close */
static int ws_read_frames(stream *s)
{
    h2o_buffer_t *in = s->sock->input;
    while (in->size >= 2) {
        const unsigned char *p = (const unsigned char *)in->bytes;
        unsigned op = p[0] & 0x0f, masked = p[1] & 0x80;
        uint64_t len = p[1] & 0x7f;
        size_t hl = 2;
        if (!masked) return -1; /* a client's frames are masked (RFC 6455 5.1) */
        if (len == 126) {
            if (in->size < 4) return 0;
            len = ((uint64_t)p[2] << 8) | p[3];
            hl = 4;
        } else if (len == 127) {
            if (in->size < 10) return 0;
            len = 0;
            for (int i = 0; i < 8; i++) len = (len << 8) | p[2 + i];
            hl = 10;
        }
        if (len > WS_MAX_IN) return -1;
        if (in->size < hl + 4 + len) return 0;
        const unsigned char *mask = p + hl;
        unsigned char payload[125];
        size_t pl = len < sizeof payload ? (size_t)len : sizeof payload;
        for (size_t i = 0; i < pl; i++) payload[i] = p[hl + 4 + i] ^ mask[i & 3];
        h2o_buffer_consume(&s->sock->input, hl + 4 + (size_t)len);
        in = s->sock->input;
        if (op == 0x8) { /* close: answer it, then end */
            ws_frame(s, 0x8, (const char *)payload, pl >= 2 ? 2 : 0);
            s->ending = 1;
            evs_unlink(s);
            evs_ws_flush(s);
            return 1;
        }
        if (op == 0x9 && len <= 125) ws_frame(s, 0xA, (const char *)payload, pl); /* ping: pong */
    }
    return 0;
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    stream *s = sock->data;
    if (!s) return;
    int rc = err ? -1 : ws_read_frames(s);
    if (rc < 0) {
        if (s->sock) h2o_socket_read_stop(s->sock);
        ws_close(s);
    } else if (rc > 0 && s->sock) {
        h2o_socket_read_stop(s->sock);
    }
}

/* ------------------------------------------------------------ handshake */
static void on_upgraded(void *ud, h2o_socket_t *sock, size_t reqsize)
{
    stream *s = ud;
    if (!sock) { /* the 101 could not be sent */
        evs_unlink(s);
        ws_free(s);
        return;
    }
    s->sock = sock;
    sock->data = s;
    h2o_buffer_consume(&sock->input, reqsize);
    h2o_socket_read_start(sock, on_read);
    if (s->hub) s->last_write = uv_now(s->hub->loop);
    if (s->hub && s->replay_after >= 0) evs_replay(s->hub, s, s->replay_after);
    evs_ws_flush(s); /* live events queued while the 101 was being written */
    if (s->sock && sock->input->size) on_read(sock, NULL); /* frames that came with the request */
}

static int token_in(const char *v, const char *tok)
{
    size_t n = strlen(tok);
    for (const char *p = v; p && *p;) {
        while (*p == ' ' || *p == ',') p++;
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        while (l && p[l - 1] == ' ') l--;
        if (l == n && !strncasecmp(p, tok, n)) return 1;
        p = e;
    }
    return 0;
}

int evs_ws_maybe(miaw_events_stream *h, miaw_req *r, char **inst, size_t ni, char **types, size_t nt,
                 long long after)
{
    h2o_req_t *q = r->h2o;
    /* h2o keeps an HTTP/1 Upgrade header apart from the others */
    const char *up = q->upgrade.base ? h2o_strdup(&q->pool, q->upgrade.base, q->upgrade.len).base
                                     : miaw_req_header(r, "upgrade");
    if (!up || !token_in(up, "websocket")) return 0;
    const char *key = miaw_req_header(r, "sec-websocket-key"), *ver = miaw_req_header(r, "sec-websocket-version");
    unsigned char kb[24];
    if (q->version >= 0x200 || strcmp(r->method, "GET") != 0) {
        miaw_req_reply_err(r, MIAW_ERR_INVALID_REQUEST, json_pack("{s:s}", "field", "Upgrade"),
                           "a WebSocket needs an HTTP/1.1 GET (without it this route answers Server-Sent Events)");
        return 1;
    }
    if (!key || strlen(key) != 24 || EVP_DecodeBlock(kb, (const unsigned char *)key, 24) != 18 || !ver ||
        strcmp(ver, "13") != 0) {
        miaw_req_reply_err(r, MIAW_ERR_INVALID_REQUEST, json_pack("{s:s}", "field", "Sec-WebSocket-Key"),
                           "a WebSocket handshake needs Sec-WebSocket-Key (16 bytes, base64) and "
                           "Sec-WebSocket-Version: 13");
        return 1;
    }
    stream *s = calloc(1, sizeof *s);
    if (!s) {
        miaw_req_reply_err(r, MIAW_ERR_INTERNAL, NULL, "out of memory");
        return 1;
    }
    s->ws = 1;
    s->replay_after = after;
    for (size_t i = 0; i < ni; i++) s->inst[s->ninst++] = strdup(inst[i]);
    for (size_t i = 0; i < nt; i++) s->types[s->ntypes++] = strdup(types[i]);
    for (size_t i = 0; i < s->ninst; i++)
        if (!s->inst[i]) goto oom;
    for (size_t i = 0; i < s->ntypes; i++)
        if (!s->types[i]) goto oom;
    char src[64], acc[32];
    unsigned char md[SHA_DIGEST_LENGTH];
    snprintf(src, sizeof src, "%s%s", key, WS_GUID);
    SHA1((const unsigned char *)src, strlen(src), md);
    EVP_EncodeBlock((unsigned char *)acc, md, SHA_DIGEST_LENGTH);
    r->answered = 1;
    miaw_http_stop_timer(r);
    q->res.status = 101;
    q->res.reason = "Switching Protocols";
    h2o_add_header(&q->pool, &q->res.headers, H2O_TOKEN_UPGRADE, NULL, H2O_STRLIT("websocket"));
    miaw_http_add_header(r, "sec-websocket-accept", acc);
    miaw_http_log_request(r, 101);
    evs_link(h, s); /* counted (the cap) from now; events queue until the socket is ours */
    h2o_http1_upgrade(q, NULL, 0, on_upgraded, s);
    return 1;
oom:
    ws_free(s);
    miaw_req_reply_err(r, MIAW_ERR_INTERNAL, NULL, "out of memory");
    return 1;
}
