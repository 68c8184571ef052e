/* core/wa/conn.c - a protocol connection: WebSocket -> frames -> Noise -> nodes, with IQ
 * correlation, keepalive and deadlines on one timer (see conn.h). */
#include "wa/conn.h"

#include <miaw/status.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "wa/frame.h"
#include "wa/noise.h"
#include "wa/ws.h"

#define MAX_PENDING_IQ 1024
#define MAX_QUEUED_OUT (8u << 20)

typedef struct pending_iq {
    char id[40];
    uint64_t deadline;
    miaw_wa_iq_cb cb;
    void *udata;
    struct pending_iq *next;
} pending_iq;

struct miaw_wa_conn {
    uv_loop_t *loop;
    miaw_wa_conn_callbacks cb;
    void *udata;
    miaw_ws *ws;
    miaw_frame_reader *rd;
    miaw_noise_hs *hs;
    miaw_noise_transport tr;
    miaw_keypair noise;
    uint8_t root[32];
    int has_root;
    uint8_t *payload;
    size_t payload_len;
    uv_timer_t timer;
    int open, ended, freed;
    unsigned hs_timeout, keepalive, dead, iq_timeout;
    uint64_t started, last_rx, next_ping;
    pending_iq *iqs;
    size_t niqs;
    char id_prefix[16];
    uint32_t id_seq;
};

const char *miaw_wa_end_name(int why)
{
    switch (why) {
    case MIAW_WA_END_CLOSED: return "closed";
    case MIAW_WA_END_HANDSHAKE: return "handshake";
    case MIAW_WA_END_TIMEOUT: return "timeout";
    case MIAW_WA_END_DEAD: return "dead";
    case MIAW_WA_END_PROTOCOL: return "protocol";
    }
    return "unknown";
}

int miaw_wa_conn_is_open(const miaw_wa_conn *c) { return c && c->open && !c->ended; }

static uint64_t now_ms(const miaw_wa_conn *c) { return uv_now(c->loop); }

static unsigned jitter(unsigned base)
{
    uint32_t r = 0;
    RAND_bytes((unsigned char *)&r, sizeof r);
    unsigned span = base / 5; /* +-20% */
    return span ? base - span + (unsigned)(r % (2 * span + 1)) : base;
}

static void fail_pending(miaw_wa_conn *c, int err)
{
    while (c->iqs) {
        pending_iq *p = c->iqs;
        c->iqs = p->next;
        c->niqs--;
        p->cb(c, NULL, err, p->udata);
        free(p);
    }
}

static void end_conn(miaw_wa_conn *c, int why, const char *detail)
{
    if (c->ended || c->freed) return;
    c->ended = 1;
    c->open = 0;
    uv_timer_stop(&c->timer);
    fail_pending(c, MIAW_E_GONE);
    if (!c->freed && c->cb.on_end) c->cb.on_end(c, why, detail, c->udata);
}

static int send_frame(miaw_wa_conn *c, const uint8_t *payload, size_t len, int intro)
{
    uint8_t *buf;
    size_t blen;
    int rc = miaw_frame_encode(payload, len, intro, &buf, &blen);
    if (rc) return rc;
    rc = miaw_ws_send(c->ws, buf, blen);
    free(buf);
    return rc;
}

int miaw_wa_conn_send(miaw_wa_conn *c, const miaw_node *n)
{
    if (!miaw_wa_conn_is_open(c)) return MIAW_E_STATE;
    if (miaw_ws_pending_bytes(c->ws) > MAX_QUEUED_OUT) return MIAW_E_LIMIT;
    uint8_t *pt;
    size_t len;
    int rc = miaw_node_encode(n, &pt, &len);
    if (rc) return rc;
    uint8_t *ct = malloc(len + MIAW_NOISE_TAG_LEN);
    if (!ct) {
        free(pt);
        return MIAW_E_NOMEM;
    }
    rc = miaw_noise_encrypt(&c->tr, pt, len, ct);
    if (!rc) rc = send_frame(c, ct, len + MIAW_NOISE_TAG_LEN, 0);
    if (miaw_log_level() >= MIAW_LVL_DEBUG) miaw_node_log(MIAW_LVL_DEBUG, "wa", "send", n);
    free(pt);
    free(ct);
    return rc;
}

int miaw_wa_conn_iq(miaw_wa_conn *c, miaw_node *iq, unsigned timeout_ms, miaw_wa_iq_cb cb, void *udata)
{
    int rc = MIAW_E_STATE;
    pending_iq *p = NULL;
    if (!miaw_wa_conn_is_open(c)) goto fail;
    rc = MIAW_E_LIMIT;
    if (c->niqs >= MAX_PENDING_IQ) goto fail;
    rc = MIAW_E_NOMEM;
    if (!(p = calloc(1, sizeof *p))) goto fail;
    snprintf(p->id, sizeof p->id, "%s-%u", c->id_prefix, ++c->id_seq);
    if ((rc = miaw_node_set_attr(iq, "id", p->id)) != 0) goto fail;
    if ((rc = miaw_wa_conn_send(c, iq)) != 0) goto fail;
    p->deadline = now_ms(c) + (timeout_ms ? timeout_ms : c->iq_timeout);
    p->cb = cb;
    p->udata = udata;
    p->next = c->iqs;
    c->iqs = p;
    c->niqs++;
    miaw_node_free(iq);
    return 0;
fail:
    free(p);
    miaw_node_free(iq);
    return rc;
}

/* ------------------------------------------------------------ keepalive */
static void on_ping_reply(miaw_wa_conn *c, const miaw_node *reply, int err, void *ud)
{
    (void)ud;
    (void)reply;
    if (err == MIAW_E_TIMEOUT) end_conn(c, MIAW_WA_END_DEAD, "keepalive ping unanswered");
}

static void send_ping(miaw_wa_conn *c)
{
    miaw_node *iq = miaw_node_newv("iq", "xmlns", "w:p", "type", "get", "to", "JID:@s.whatsapp.net", NULL);
    if (iq && !miaw_node_add(iq, "ping")) {
        miaw_node_free(iq);
        return;
    }
    if (iq) miaw_wa_conn_iq(c, iq, c->dead, on_ping_reply, NULL);
}

static void on_timer(uv_timer_t *t)
{
    miaw_wa_conn *c = t->data;
    uint64_t now = now_ms(c);
    if (c->ended || c->freed) return;
    if (!c->open) {
        if (now - c->started >= c->hs_timeout) end_conn(c, MIAW_WA_END_TIMEOUT, "connect/handshake timeout");
        return;
    }
    if (now - c->last_rx >= c->dead) {
        end_conn(c, MIAW_WA_END_DEAD, "no data from the server");
        return;
    }
    /* expired IQs: unlink first, call after (callbacks may free the connection) */
    pending_iq **pp = &c->iqs, *expired = NULL;
    while (*pp) {
        pending_iq *p = *pp;
        if (p->deadline <= now) {
            *pp = p->next;
            c->niqs--;
            p->next = expired;
            expired = p;
        } else pp = &p->next;
    }
    while (expired) {
        pending_iq *p = expired;
        expired = p->next;
        if (!c->freed) p->cb(c, NULL, MIAW_E_TIMEOUT, p->udata);
        free(p);
    }
    if (c->freed || c->ended) return;
    if (now >= c->next_ping) {
        c->next_ping = now + jitter(c->keepalive);
        send_ping(c);
    }
}

/* ------------------------------------------------------------ inbound */
static void handle_node(miaw_wa_conn *c, const miaw_node *n)
{
    if (miaw_log_level() >= MIAW_LVL_DEBUG) miaw_node_log(MIAW_LVL_DEBUG, "wa", "recv", n);
    if (strcmp(n->tag, "iq") == 0) {
        const char *type = miaw_node_attr(n, "type"), *id = miaw_node_attr(n, "id");
        if (id && type && (!strcmp(type, "result") || !strcmp(type, "error"))) {
            for (pending_iq **pp = &c->iqs; *pp; pp = &(*pp)->next)
                if (strcmp((*pp)->id, id) == 0) {
                    pending_iq *p = *pp;
                    *pp = p->next;
                    c->niqs--;
                    p->cb(c, n, 0, p->udata);
                    free(p);
                    return;
                }
        }
        if (type && !strcmp(type, "get") && miaw_node_attr_is(n, "xmlns", "urn:xmpp:ping")) {
            miaw_node *r = miaw_node_newv("iq", "type", "result", NULL);
            if (r && id) miaw_node_set_attr(r, "id", id);
            miaw_jid from;
            if (r && miaw_node_attr_jid(n, "from", &from) == 0) miaw_node_set_jid(r, "to", &from);
            if (r) miaw_wa_conn_send(c, r);
            miaw_node_free(r);
            return;
        }
    }
    if (c->cb.on_node) c->cb.on_node(c, n, c->udata);
}

static void handle_frame(miaw_wa_conn *c, const uint8_t *p, size_t len)
{
    c->last_rx = now_ms(c);
    if (!c->open) {
        uint8_t *fin = NULL;
        size_t flen = 0;
        int rc = miaw_noise_client_read_server_hello(c->hs, p, len);
        if (!rc) rc = miaw_noise_client_finish(c->hs, c->payload, c->payload_len, &fin, &flen);
        if (!rc) rc = send_frame(c, fin, flen, 0);
        if (!rc) rc = miaw_noise_split(c->hs, &c->tr);
        free(fin);
        miaw_noise_hs_free(c->hs);
        c->hs = NULL;
        if (rc) {
            char why[64];
            snprintf(why, sizeof why, "noise handshake failed (%d)", rc);
            end_conn(c, MIAW_WA_END_HANDSHAKE, why);
            return;
        }
        c->open = 1;
        c->next_ping = now_ms(c) + jitter(c->keepalive);
        if (c->cb.on_open) c->cb.on_open(c, c->udata);
        return;
    }
    if (len < MIAW_NOISE_TAG_LEN) {
        end_conn(c, MIAW_WA_END_PROTOCOL, "short frame");
        return;
    }
    uint8_t *pt = malloc(len - MIAW_NOISE_TAG_LEN + 1);
    size_t ptlen = 0;
    if (!pt || miaw_noise_decrypt(&c->tr, p, len, pt, &ptlen) != 0) {
        free(pt);
        end_conn(c, MIAW_WA_END_PROTOCOL, "frame failed to decrypt");
        return;
    }
    miaw_node *n = NULL;
    int rc = miaw_node_decode(pt, ptlen, &n);
    free(pt);
    if (rc) {
        MIAW_WARN("wa", "dropping an undecodable node (%d, %zu bytes)", rc, ptlen);
        return;
    }
    handle_node(c, n);
    miaw_node_free(n);
}

static void ws_on_message(miaw_ws *ws, const uint8_t *data, size_t len, void *ud)
{
    (void)ws;
    miaw_wa_conn *c = ud;
    if (c->ended || c->freed) return;
    if (miaw_frame_reader_feed(c->rd, data, len) != 0) {
        end_conn(c, MIAW_WA_END_PROTOCOL, "bad framing");
        return;
    }
    const uint8_t *p;
    size_t plen;
    int rc;
    while (!c->ended && !c->freed && (rc = miaw_frame_reader_next(c->rd, &p, &plen)) == 1) handle_frame(c, p, plen);
    if (!c->ended && !c->freed && rc < 0) end_conn(c, MIAW_WA_END_PROTOCOL, "bad framing");
    else if (!c->freed) miaw_frame_reader_trim(c->rd); /* idle between bursts: keep no big buffer */
}

static void ws_on_open(miaw_ws *ws, void *ud)
{
    (void)ws;
    miaw_wa_conn *c = ud;
    miaw_noise_client_opts o = {.root_pub = c->has_root ? c->root : NULL};
    uint8_t *hello = NULL;
    size_t hlen = 0;
    int rc = MIAW_E_NOMEM;
    if ((c->hs = miaw_noise_client_new(&c->noise, &o)) != NULL) rc = miaw_noise_client_hello(c->hs, &hello, &hlen);
    if (!rc) rc = send_frame(c, hello, hlen, 1);
    free(hello);
    if (rc) end_conn(c, MIAW_WA_END_HANDSHAKE, "cannot start the handshake");
}

static void ws_on_close(miaw_ws *ws, int code, const char *reason, void *ud)
{
    (void)ws;
    miaw_wa_conn *c = ud;
    char d[200];
    snprintf(d, sizeof d, "socket closed (%d%s%s)", code, reason && *reason ? ": " : "", reason ? reason : "");
    end_conn(c, MIAW_WA_END_CLOSED, d);
}

/* ------------------------------------------------------------ lifecycle */
int miaw_wa_conn_start(uv_loop_t *loop, const miaw_wa_conn_opts *opt, const miaw_wa_conn_callbacks *cb,
                       void *udata, miaw_wa_conn **out)
{
    if (!opt || !opt->url || !opt->noise || !opt->payload || !cb) return MIAW_E_INVAL;
    miaw_wa_conn *c = calloc(1, sizeof *c);
    if (!c) return MIAW_E_NOMEM;
    c->loop = loop;
    c->cb = *cb;
    c->udata = udata;
    c->noise = *opt->noise;
    if (opt->root_pub) {
        memcpy(c->root, opt->root_pub, 32);
        c->has_root = 1;
    }
    c->hs_timeout = opt->handshake_timeout_ms ? opt->handshake_timeout_ms : 20000;
    c->keepalive = opt->keepalive_ms ? opt->keepalive_ms : 25000;
    c->dead = opt->dead_ms ? opt->dead_ms : c->keepalive + 10000;
    c->iq_timeout = opt->iq_timeout_ms ? opt->iq_timeout_ms : 60000;
    uint8_t r[4];
    RAND_bytes(r, sizeof r);
    snprintf(c->id_prefix, sizeof c->id_prefix, "%02x%02x.%02x%02x", r[0], r[1], r[2], r[3]);
    c->payload = malloc(opt->payload_len ? opt->payload_len : 1);
    c->rd = miaw_frame_reader_new(MIAW_FRAME_READ_CLIENT, 0);
    if (!c->payload || !c->rd) {
        free(c->payload);
        miaw_frame_reader_free(c->rd);
        free(c);
        return MIAW_E_NOMEM;
    }
    memcpy(c->payload, opt->payload, opt->payload_len);
    c->payload_len = opt->payload_len;
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    c->started = c->last_rx = uv_now(loop);
    unsigned tick = c->keepalive / 4;
    if (c->hs_timeout / 4 < tick) tick = c->hs_timeout / 4;
    if (c->dead / 4 < tick) tick = c->dead / 4;
    if (tick > 1000) tick = 1000;
    if (tick < 10) tick = 10;
    uv_timer_start(&c->timer, on_timer, tick, tick);
    miaw_ws_options wo = {.url = opt->url, .ca_file = opt->ca_file && *opt->ca_file ? opt->ca_file : NULL,
                          .connect_timeout_ms = c->hs_timeout};
    miaw_ws_callbacks wc = {.on_open = ws_on_open, .on_message = ws_on_message, .on_close = ws_on_close};
    int rc = miaw_ws_connect(loop, &wo, &wc, c, &c->ws);
    if (rc) {
        c->ended = 1;
        miaw_wa_conn_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

static void on_timer_closed(uv_handle_t *h) { free(h->data); }

void miaw_wa_conn_free(miaw_wa_conn *c)
{
    if (!c || c->freed) return;
    c->open = 0;
    miaw_ws_free(c->ws);
    c->ws = NULL;
    fail_pending(c, MIAW_E_GONE);
    c->freed = 1;
    miaw_frame_reader_free(c->rd);
    c->rd = NULL;
    miaw_noise_hs_free(c->hs);
    c->hs = NULL;
    miaw_noise_transport_wipe(&c->tr);
    memset(&c->noise, 0, sizeof c->noise);
    free(c->payload);
    c->payload = NULL;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}
