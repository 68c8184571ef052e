/* sim/conn.c - a miaw-sim client connection: WebSocket upgrade on h2o, frame reassembly,
 * the Noise server handshake, transport encryption, and hand-off of decrypted nodes to
 * session.c. Owns each connection's memory, reader, handshake state and timer. */
#include "conn.h"

#include <h2o/websocket.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "miaw/plugin.h"
#include "wa/frame.h"

#define CLOSE_GRACE_MS 3000
/* Largest client frame accepted (the wire allows 16 MiB). Client stanzas are small: a
 * first pre-key upload of 812 keys is about 45 KiB; media never travels in frames. */
#define FRAME_MAX (4u << 20)
#define HANDSHAKE_MS 20000
#define TIMER_CLOSE_GRACE (-1)
#define TIMER_HANDSHAKE (-2)
#define TIMER_CLOSE_LATER (-3)

static uint64_t g_conn_seq;

/* ------------------------------------------------------------------ output */

static int queue_raw(miaw_sim_conn *c, const uint8_t *frame, size_t len)
{
    if (!c->ws || c->state == MIAW_SIM_CONN_CLOSING) return MIAW_E_STATE;
    struct wslay_event_msg m = {WSLAY_BINARY_FRAME, frame, len};
    return wslay_event_queue_msg(c->ws->ws_ctx, &m) ? MIAW_E_IO : 0;
}

static int send_frame(miaw_sim_conn *c, const uint8_t *payload, size_t len)
{
    uint8_t *f;
    size_t fl;
    int rc = miaw_frame_encode(payload, len, 0, &f, &fl);
    if (rc) return rc;
    rc = queue_raw(c, f, fl);
    free(f);
    if (!rc) c->frames_out++;
    return rc;
}

int miaw_sim_conn_send(miaw_sim_conn *c, const miaw_node *n)
{
    if (c->state != MIAW_SIM_CONN_REGISTERING && c->state != MIAW_SIM_CONN_READY) return MIAW_E_STATE;
    uint8_t *pt, *ct;
    size_t len;
    int rc = miaw_node_encode(n, &pt, &len);
    if (rc) return rc;
    if (!(ct = malloc(len + MIAW_NOISE_TAG_LEN))) {
        free(pt);
        return MIAW_E_NOMEM;
    }
    if (miaw_log_level() >= MIAW_LVL_DEBUG) {
        char pfx[48];
        snprintf(pfx, sizeof pfx, "conn %llu >>", (unsigned long long)c->id);
        miaw_node_log(MIAW_LVL_DEBUG, "sim", pfx, n);
    }
    rc = miaw_noise_encrypt(&c->tr, pt, len, ct);
    if (!rc) rc = send_frame(c, ct, len + MIAW_NOISE_TAG_LEN);
    free(pt);
    free(ct);
    return rc;
}

static void close_now(miaw_sim_conn *c)
{
    wslay_event_queue_close(c->ws->ws_ctx, WSLAY_CODE_NORMAL_CLOSURE, NULL, 0);
    wslay_event_shutdown_read(c->ws->ws_ctx);
    miaw_sim_conn_timer(c, CLOSE_GRACE_MS, TIMER_CLOSE_GRACE);
}

void miaw_sim_conn_close(miaw_sim_conn *c, const char *why)
{
    if (c->state == MIAW_SIM_CONN_CLOSING || !c->ws) return;
    MIAW_INFO("sim", "conn %llu: closing (%s)", (unsigned long long)c->id, why);
    c->state = MIAW_SIM_CONN_CLOSING;
    close_now(c);
}

void miaw_sim_conn_close_after(miaw_sim_conn *c, uint64_t ms, const char *why)
{
    if (c->state == MIAW_SIM_CONN_CLOSING || !c->ws) return;
    MIAW_INFO("sim", "conn %llu: closing in %llu ms unless the client leaves first (%s)", (unsigned long long)c->id,
              (unsigned long long)ms, why);
    c->state = MIAW_SIM_CONN_CLOSING;
    miaw_sim_conn_timer(c, ms, TIMER_CLOSE_LATER);
}

void miaw_sim_conn_flush(miaw_sim_conn *c)
{
    if (c->in_cb || !c->ws || !c->ws->sock) return;
    h2o_websocket_proceed(c->ws);
}

static void on_timer(uv_timer_t *t)
{
    miaw_sim_conn *c = t->data;
    int kind = c->timer_kind;
    if (kind == TIMER_CLOSE_GRACE) {
        /* the peer did not answer our close: drop the socket */
        wslay_event_shutdown_write(c->ws->ws_ctx);
        miaw_sim_conn_flush(c);
        return;
    }
    if (kind == TIMER_CLOSE_LATER) {
        close_now(c);
        miaw_sim_conn_flush(c);
        return;
    }
    if (kind == TIMER_HANDSHAKE) {
        miaw_sim_conn_close(c, "handshake timeout");
        miaw_sim_conn_flush(c);
        return;
    }
    miaw_sim_session_on_timer(c, kind);
}

void miaw_sim_conn_timer(miaw_sim_conn *c, uint64_t ms, int kind)
{
    c->timer_kind = kind;
    if (ms) uv_timer_start(&c->timer, on_timer, ms, 0);
    else uv_timer_stop(&c->timer);
}

/* ------------------------------------------------------------------ input */

static void on_frame(miaw_sim_conn *c, const uint8_t *p, size_t n)
{
    uint8_t *out = NULL, *payload = NULL;
    size_t out_len, payload_len;
    c->frames_in++;
    switch (c->state) {
    case MIAW_SIM_CONN_HELLO:
        if (miaw_noise_server_read_client_hello(c->hs, p, n) || miaw_noise_server_hello(c->hs, &out, &out_len) ||
            send_frame(c, out, out_len)) {
            free(out);
            miaw_sim_conn_close(c, "bad client hello");
            return;
        }
        free(out);
        c->state = MIAW_SIM_CONN_FINISH;
        return;
    case MIAW_SIM_CONN_FINISH: {
        int rc = miaw_noise_server_read_client_finish(c->hs, p, n, &payload, &payload_len);
        if (rc || miaw_noise_split(c->hs, &c->tr)) {
            free(payload);
            miaw_sim_conn_close(c, rc == MIAW_E_AUTH ? "client finish does not decrypt" : "bad client finish");
            return;
        }
        memcpy(c->client_static, miaw_noise_remote_static(c->hs), 32);
        miaw_noise_hs_free(c->hs);
        c->hs = NULL;
        miaw_sim_conn_timer(c, 0, 0);
        miaw_sim_session_on_payload(c, payload, payload_len);
        free(payload);
        return;
    }
    case MIAW_SIM_CONN_REGISTERING:
    case MIAW_SIM_CONN_READY: {
        if (n < MIAW_NOISE_TAG_LEN || !(out = malloc(n))) {
            miaw_sim_conn_close(c, "short frame");
            return;
        }
        miaw_node *node = NULL;
        if (miaw_noise_decrypt(&c->tr, p, n, out, &out_len)) {
            free(out);
            miaw_sim_conn_close(c, "frame does not decrypt");
            return;
        }
        int rc = miaw_node_decode(out, out_len, &node);
        free(out);
        if (rc) {
            miaw_sim_conn_close(c, "frame is not a binary node");
            return;
        }
        if (miaw_log_level() >= MIAW_LVL_DEBUG) {
            char pfx[48];
            snprintf(pfx, sizeof pfx, "conn %llu <<", (unsigned long long)c->id);
            miaw_node_log(MIAW_LVL_DEBUG, "sim", pfx, node);
        }
        miaw_sim_session_on_node(c, node);
        miaw_node_free(node);
        return;
    }
    default:
        return;
    }
}

static void conn_free(uv_handle_t *h)
{
    free(h->data);
}

static void go_live(miaw_sim_conn *c)
{
    miaw_sim *sim = c->sim;
    c->live = 1;
    uv_timer_init(sim->loop, &c->timer);
    c->timer.data = c;
    c->next = sim->conns;
    if (sim->conns) sim->conns->prev = c;
    sim->conns = c;
    sim->nconns++;
    miaw_sim_conn_timer(c, HANDSHAKE_MS, TIMER_HANDSHAKE);
}

static void conn_end(miaw_sim_conn *c)
{
    if (!c->live) { /* closed before sending anything */
        miaw_frame_reader_free(c->reader);
        miaw_noise_hs_free(c->hs);
        free(c);
        return;
    }
    MIAW_INFO("sim", "conn %llu: closed (%llu frames in, %llu out)", (unsigned long long)c->id,
              (unsigned long long)c->frames_in, (unsigned long long)c->frames_out);
    miaw_sim_session_on_close(c);
    if (c->prev) c->prev->next = c->next;
    else if (c->sim->conns == c) c->sim->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    c->sim->nconns--;
    miaw_frame_reader_free(c->reader);
    miaw_noise_hs_free(c->hs);
    miaw_noise_transport_wipe(&c->tr);
    free(c->reg.adv_details);
    c->ws = NULL;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, conn_free);
}

static void on_ws(h2o_websocket_conn_t *ws, const struct wslay_event_on_msg_recv_arg *arg)
{
    miaw_sim_conn *c = ws->data;
    if (arg && !c->live) go_live(c);
    if (!arg) {
        h2o_websocket_close(ws);
        conn_end(c);
        return;
    }
    if (c->state == MIAW_SIM_CONN_CLOSING || wslay_is_ctrl_frame(arg->opcode)) return;
    if (arg->opcode != WSLAY_BINARY_FRAME) {
        MIAW_WARN("sim", "conn %llu: text WebSocket message ignored", (unsigned long long)c->id);
        return;
    }
    c->in_cb = 1;
    int rc = miaw_frame_reader_feed(c->reader, arg->msg, arg->msg_length);
    const uint8_t *p;
    size_t n;
    while (!rc && c->state != MIAW_SIM_CONN_CLOSING && (rc = miaw_frame_reader_next(c->reader, &p, &n)) == 1) {
        on_frame(c, p, n);
        rc = 0;
    }
    if (rc < 0) miaw_sim_conn_close(c, rc == MIAW_E_LIMIT ? "frame too large" : "bad frame header");
    c->in_cb = 0;
}

int miaw_sim_conn_upgrade(miaw_sim *sim, h2o_req_t *req)
{
    const char *key;
    if (h2o_is_websocket_handshake(req, &key) != 0 || !key) return -1;
    miaw_sim_conn *c = calloc(1, sizeof *c);
    if (!c) return -1;
    c->sim = sim;
    c->id = ++g_conn_seq;
    c->reader = miaw_frame_reader_new(MIAW_FRAME_READ_SERVER, FRAME_MAX);
    c->hs = miaw_noise_server_new(&sim->server_static, sim->cert, sim->cert_len, NULL);
    if (!c->reader || !c->hs) {
        miaw_frame_reader_free(c->reader);
        miaw_noise_hs_free(c->hs);
        free(c);
        return -1;
    }
    /* The connection joins the list, and gets its timer, with its first message: h2o frees
     * the WebSocket without a callback when the 101 response cannot be written, so until
     * a message proves the socket exists nothing may hold it (that rare case leaks c). */
    c->ws = h2o_upgrade_to_websocket(req, key, c, on_ws);
    /* a WebSocket message may pack a few frames */
    wslay_event_config_set_max_recv_msg_length(c->ws->ws_ctx, 2 * (FRAME_MAX + 8));
    MIAW_INFO("sim", "conn %llu: WebSocket upgrade", (unsigned long long)c->id);
    return 0;
}
