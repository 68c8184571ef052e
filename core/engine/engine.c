/* core/engine/engine.c - the per-instance connection state machine (see engine.h): scheduling
 * under the handshake rate limit, registration and QR rotation, pairing, the 515
 * restart, login, pre-key upload, stream errors, logout and reconnect backoff. */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"
#include "base/metrics.h"
#include "engine/engine_appstate.h"
#include "engine/media.h"
#include "engine/engine_event.h"
#include "base/log.h"
#include "base/util.h"

static miaw_instance *inst_of(eng_inst *ei) { return miaw_instances_find(ei->e->inst, ei->id); }

static void set_state(eng_inst *ei, miaw_inst_state s, const char *reason)
{
    miaw_instance *in = inst_of(ei);
    if (!in) return;
    const char *old = in->state_reason;
    if (in->state == s && ((!old && !reason) || (old && reason && !strcmp(old, reason)))) return;
    miaw_instance_set_state(ei->e->inst, in, s, reason);
}

void eng_emit(eng_inst *ei, const char *type, json_t *data)
{
    if (data && !strcmp(type, "message")) eng_event_media(data, ei->id, ei->e->cfg); /* engine_event.c */
    miaw_bus_emit(ei->e->bus, NULL, type, ei->id, data);
}
#define emit eng_emit

int eng_send_node(eng_inst *ei, const miaw_node *n)
{
    return ei->conn ? miaw_wa_conn_send(ei->conn, n) : MIAW_E_STATE;
}

static void clear_qr(eng_inst *ei)
{
    for (size_t i = 0; i < ei->nrefs; i++) free(ei->refs[i]);
    ei->nrefs = ei->ref_i = 0;
    free(ei->qr);
    ei->qr = NULL;
    if (ei->what == ENG_T_QR) {
        uv_timer_stop(&ei->timer);
        ei->what = ENG_T_NONE;
    }
}

static void drop_conn(eng_inst *ei)
{
    miaw_wa_conn *c = ei->conn;
    ei->conn = NULL;
    ei->logged_in = 0;
    miaw_wa_conn_free(c); /* pending IQs of sends fail here */
    eng_linkcode_on_conn_lost(ei);
    eng_as_on_conn_lost(ei);
    if (ei->sends) eng_send_fail_all(ei, MIAW_E_STATE, "the connection closed before the server acknowledged");
}

static void stop_timer(eng_inst *ei)
{
    uv_timer_stop(&ei->timer);
    ei->what = ENG_T_NONE;
}

/* ------------------------------------------------------------ scheduling */
static void on_timer(uv_timer_t *t);

static void schedule_connect(eng_inst *ei, uint64_t delay)
{
    miaw_engine *e = ei->e;
    uint64_t now = uv_now(e->loop), at = now + delay;
    if (at < e->next_slot) at = e->next_slot;
    unsigned hps = e->o.handshakes_per_sec ? e->o.handshakes_per_sec : 1;
    e->next_slot = at + (1000 + hps - 1) / hps;
    ei->what = ENG_T_CONNECT;
    uv_timer_start(&ei->timer, on_timer, at - now, 0);
}

static uint64_t backoff(const miaw_engine_opts *o, unsigned attempt)
{
    uint64_t d = o->backoff_min_ms;
    for (unsigned i = 1; i < attempt && d < o->backoff_max_ms; i++) d *= 2;
    if (d > o->backoff_max_ms) d = o->backoff_max_ms;
    uint32_t r = 0;
    RAND_bytes((unsigned char *)&r, sizeof r);
    return d / 2 + (d / 2 ? r % (d / 2 + 1) : 0); /* jitter: [d/2, d] */
}

static void retry(eng_inst *ei, const char *reason)
{
    drop_conn(ei);
    clear_qr(ei);
    unsigned a = ++ei->attempt;
    uint64_t d = backoff(&ei->e->o, a);
    MIAW_INFO("engine", "%s: %s; reconnecting in %llu ms (attempt %u)", ei->id, reason, (unsigned long long)d, a);
    set_state(ei, MIAW_ST_CONNECTING, reason);
    miaw_metric_add("miaw_reconnects_total", 1, NULL);
    emit(ei, "reconnecting", json_pack("{s:i,s:I,s:s}", "attempt", (int)a, "delayMs", (json_int_t)d, "reason", reason));
    schedule_connect(ei, d);
}

/* leave the connection for good: state s with a reason, `disconnected` event */
static void stop(eng_inst *ei, miaw_inst_state s, const char *reason, int logged_out)
{
    ei->want = 0;
    ei->restart = 0;
    drop_conn(ei);
    eng_linkcode_cancel(ei, reason);
    clear_qr(ei);
    stop_timer(ei);
    MIAW_INFO("engine", "%s: %s: %s", ei->id, miaw_inst_state_name(s), reason);
    set_state(ei, s, reason);
    json_t *d = json_pack("{s:s}", "reason", reason);
    if (logged_out) json_object_set_new(d, "loggedOut", json_true());
    emit(ei, "disconnected", d);
}

void eng_logout(eng_inst *ei, const char *reason)
{
    eng_store_delete(ei->e->db, ei->id);
    eng_sig_close(ei);
    eng_sig_purge(ei->e, ei->id);
    eng_devlist_free(ei);
    eng_sent_free_all(ei);
    eng_as_free(ei);
    eas_purge(ei->e->db, ei->id);
    miaw_wa_creds_clear(&ei->creds);
    ei->have_creds = 0;
    stop(ei, MIAW_ST_LOGGED_OUT, reason, 1);
}
#define logout eng_logout

/* ------------------------------------------------------------ QR */
static void show_qr(eng_inst *ei)
{
    const miaw_engine_opts *o = &ei->e->o;
    char reason[96];
    if (ei->qr_shown >= o->qr_max || ei->ref_i >= ei->nrefs) {
        snprintf(reason, sizeof reason, "QR code not scanned (%u codes shown)", ei->qr_shown);
        stop(ei, MIAW_ST_DISCONNECTED, reason, 0);
        return;
    }
    char *q = NULL;
    const char *ref = ei->refs[ei->ref_i];
    if (miaw_wa_qr_string(&ei->creds, (const uint8_t *)ref, strlen(ref), &q) != 0) {
        stop(ei, MIAW_ST_DISCONNECTED, "the server sent an unusable pairing ref", 0);
        return;
    }
    free(ei->qr);
    ei->qr = q;
    ei->qr_shown++;
    unsigned ttl = ei->ref_i == 0 ? o->qr_first_ms : o->qr_next_ms;
    set_state(ei, MIAW_ST_QR, NULL);
    emit(ei, "qr", json_pack("{s:s,s:i,s:i}", "qr", q, "count", (int)ei->qr_shown, "expiresInMs", (int)ttl));
    ei->what = ENG_T_QR;
    uv_timer_start(&ei->timer, on_timer, ttl, 0);
}

static void on_pair_device(eng_inst *ei, const miaw_node *n)
{
    const uint8_t *refs[ENG_MAX_REFS];
    size_t lens[ENG_MAX_REFS];
    size_t k = miaw_wa_pair_device_refs(n, refs, lens, ENG_MAX_REFS);
    miaw_node *r = miaw_wa_iq_result(n);
    if (r) miaw_wa_conn_send(ei->conn, r);
    miaw_node_free(r);
    if (ei->creds.paired || !k) return;
    clear_qr(ei);
    for (size_t i = 0; i < k; i++) {
        char *s = malloc(lens[i] + 1);
        if (!s) break;
        memcpy(s, refs[i], lens[i]);
        s[lens[i]] = 0;
        ei->refs[ei->nrefs++] = s;
    }
    show_qr(ei);
    eng_linkcode_on_refs(ei);
}

static void on_pair_success(eng_inst *ei, const miaw_node *n)
{
    miaw_node *reply = NULL;
    const char *why = NULL;
    clear_qr(ei);
    int rc = miaw_wa_pair_success(&ei->creds, n, &reply, &why);
    if (reply) miaw_wa_conn_send(ei->conn, reply);
    miaw_node_free(reply);
    if (rc) {
        char reason[128];
        snprintf(reason, sizeof reason, "pairing failed: %s", why ? why : "error");
        emit(ei, "error", json_pack("{s:s}", "error", reason));
        stop(ei, MIAW_ST_DISCONNECTED, reason, 0);
        return;
    }
    eng_store_save(ei->e->db, ei->id, &ei->creds, 1);
    MIAW_INFO("engine", "%s: paired as %s (platform %s)", ei->id, ei->creds.jid, ei->creds.platform);
    set_state(ei, MIAW_ST_CONNECTING, "paired; logging in");
}

/* ------------------------------------------------------------ pre-keys */
static void on_upload(miaw_wa_conn *c, const miaw_node *reply, int err, void *ud)
{
    (void)c;
    eng_inst *ei = ud;
    if (err == MIAW_E_GONE) return;
    if (err || !reply || !miaw_node_attr_is(reply, "type", "result"))
        MIAW_WARN("engine", "%s: pre-key upload failed (%d)", ei->id, err);
    else MIAW_INFO("engine", "%s: pre-keys uploaded", ei->id);
}

static void upload_prekeys(eng_inst *ei, size_t n)
{
    uint32_t *ids;
    miaw_keypair *keys;
    if (eng_sig_open(ei) != 0 || eng_store_new_prekeys(ei->e->db, ei->sig, ei->id, &ei->creds, n, &ids, &keys) != 0)
        return;
    miaw_node *iq = miaw_wa_prekey_upload_iq(&ei->creds, ids, keys, n);
    memset(keys, 0, n * sizeof *keys);
    free(keys);
    free(ids);
    if (iq) miaw_wa_conn_iq(ei->conn, iq, 0, on_upload, ei);
}

static void on_count(miaw_wa_conn *c, const miaw_node *reply, int err, void *ud)
{
    (void)c;
    eng_inst *ei = ud;
    uint64_t v = 0;
    const miaw_node *cnt = reply ? miaw_node_child(reply, "count") : NULL;
    if (err || !cnt || miaw_node_attr_u64(cnt, "value", &v) != 0) {
        if (err != MIAW_E_GONE) MIAW_WARN("engine", "%s: pre-key count query failed (%d)", ei->id, err);
        return;
    }
    const miaw_engine_opts *o = &ei->e->o;
    if (v < o->prekeys_min) upload_prekeys(ei, ei->creds.next_prekey_id <= 1 ? o->prekeys_initial : o->prekeys_refill);
}

static void query_prekey_count(eng_inst *ei)
{
    miaw_node *iq = miaw_node_newv("iq", "xmlns", "encrypt", "type", "get", "to", "JID:@s.whatsapp.net", NULL);
    if (iq && miaw_node_add(iq, "count")) miaw_wa_conn_iq(ei->conn, iq, 0, on_count, ei);
    else miaw_node_free(iq);
}

static void on_ignore(miaw_wa_conn *c, const miaw_node *reply, int err, void *ud)
{
    (void)c, (void)reply, (void)err, (void)ud;
}

/* ------------------------------------------------------------ server nodes */
static void on_success(eng_inst *ei, const miaw_node *n)
{
    if (!ei->creds.paired) {
        MIAW_WARN("engine", "%s: <success> on a registration connection; ignored", ei->id);
        return;
    }
    miaw_jid got, lid;
    if (!ei->creds.lid[0] && miaw_node_attr_jid(n, "lid", &got) == 0) {
        /* this device's LID: the server's user and server with our device number
         * (miaw_jid_init clears its output first: build into another JID) */
        miaw_jid me;
        unsigned device = miaw_jid_parse(&me, ei->creds.jid) == 0 ? me.device : got.device;
        if (miaw_jid_init(&lid, got.user, got.server, 0, device) == 0 &&
            miaw_jid_format(&lid, ei->creds.lid, sizeof ei->creds.lid) > 0)
            eng_store_save(ei->e->db, ei->id, &ei->creds, 1);
        else ei->creds.lid[0] = 0;
    }
    ei->logged_in = 1;
    ei->attempt = 0;
    ei->qr_shown = 0;
    ei->connected_at = miaw_now_ms();
    MIAW_INFO("engine", "%s: connected as %s", ei->id, ei->creds.jid);
    set_state(ei, MIAW_ST_CONNECTED, NULL);
    char at[40];
    miaw_iso8601(at, sizeof at, ei->connected_at);
    emit(ei, "ready", json_pack("{s:s,s:s,s:s,s:s}", "instanceId", ei->id, "connectedAt", at, "jid", ei->creds.jid,
                                "lid", ei->creds.lid));
    miaw_node *iq = miaw_node_newv("iq", "xmlns", "passive", "type", "set", "to", "JID:@s.whatsapp.net", NULL);
    if (iq && miaw_node_add(iq, "active")) miaw_wa_conn_iq(ei->conn, iq, 0, on_ignore, NULL);
    else miaw_node_free(iq);
    if (ei->conn) query_prekey_count(ei);
    if (ei->conn) eng_as_on_login(ei); /* app-state: catch up when the phone shared keys */
}

static void on_failure(eng_inst *ei, const miaw_node *n)
{
    const char *r = miaw_node_attr(n, "reason");
    int code = r ? atoi(r) : 0;
    char reason[96];
    if (code == 401 || code == 403 || code == 406) {
        snprintf(reason, sizeof reason, "logged out by the server (%d)", code);
        logout(ei, reason);
    } else if (code == 500 || code == 503 || code == 0) {
        snprintf(reason, sizeof reason, "login failed (%d); retrying", code);
        retry(ei, reason);
    } else {
        snprintf(reason, sizeof reason, "login refused by the server (%d)", code);
        stop(ei, MIAW_ST_DISCONNECTED, reason, 0);
    }
}

static void on_stream_error(eng_inst *ei, const miaw_node *n)
{
    const char *code = miaw_node_attr(n, "code");
    const miaw_node *conflict = miaw_node_child(n, "conflict");
    const char *ctype = conflict ? miaw_node_attr(conflict, "type") : NULL;
    if (code && !strcmp(code, "515")) {
        MIAW_INFO("engine", "%s: server asked for a restart (515)", ei->id);
        drop_conn(ei);
        clear_qr(ei);
        ei->attempt = 0;
        set_state(ei, MIAW_ST_CONNECTING, ei->creds.paired ? "paired; logging in" : "restarting");
        schedule_connect(ei, 0);
    } else if ((code && !strcmp(code, "401")) || (ctype && !strcmp(ctype, "device_removed"))) {
        logout(ei, "device removed (logged out from the phone)");
    } else if (ctype && !strcmp(ctype, "replaced")) {
        stop(ei, MIAW_ST_DISCONNECTED, "replaced by another connection", 0);
    } else {
        char reason[64];
        snprintf(reason, sizeof reason, "stream error %s", code ? code : "(no code)");
        retry(ei, reason);
    }
}

static void on_notification(eng_inst *ei, const miaw_node *n)
{
    const char *id = miaw_node_attr(n, "id"), *type = miaw_node_attr(n, "type");
    miaw_node *ack = miaw_node_newv("ack", "class", "notification", NULL);
    miaw_jid from;
    if (ack && id) miaw_node_set_attr(ack, "id", id);
    if (ack && type) miaw_node_set_attr(ack, "type", type);
    if (ack && miaw_node_attr_jid(n, "from", &from) == 0) miaw_node_set_jid(ack, "to", &from);
    if (ack) miaw_wa_conn_send(ei->conn, ack);
    miaw_node_free(ack);
    if (type && !strcmp(type, "link_code_companion_reg")) {
        eng_linkcode_on_notification(ei, n);
        return;
    }
    if (ei->creds.paired) eng_recv_notification(ei, n);
    if (!ei->conn) return; /* logged out */
    uint64_t v;
    const miaw_node *cnt = miaw_node_child(n, "count");
    if (type && !strcmp(type, "encrypt") && cnt && miaw_node_attr_u64(cnt, "value", &v) == 0 && ei->logged_in &&
        v < ei->e->o.prekeys_min)
        upload_prekeys(ei, ei->e->o.prekeys_refill);
}

static void conn_on_node(miaw_wa_conn *c, const miaw_node *n, void *ud)
{
    (void)c;
    eng_inst *ei = ud;
    if (!strcmp(n->tag, "iq")) {
        if (miaw_node_child(n, "pair-device")) on_pair_device(ei, n);
        else if (miaw_node_child(n, "pair-success")) on_pair_success(ei, n);
    } else if (!strcmp(n->tag, "success")) on_success(ei, n);
    else if (!strcmp(n->tag, "failure")) on_failure(ei, n);
    else if (!strcmp(n->tag, "stream:error")) on_stream_error(ei, n);
    else if (!strcmp(n->tag, "xmlstreamend")) retry(ei, "the server ended the stream");
    else if (!strcmp(n->tag, "notification")) on_notification(ei, n);
    else if (!ei->logged_in) MIAW_DEBUG("engine", "%s: <%s> before login ignored", ei->id, n->tag);
    else if (!strcmp(n->tag, "message")) eng_recv_message(ei, n);
    else if (!strcmp(n->tag, "receipt")) eng_recv_receipt(ei, n);
    else if (!strcmp(n->tag, "ack")) eng_recv_ack(ei, n);
    else if (!strcmp(n->tag, "call") || !strcmp(n->tag, "presence") || !strcmp(n->tag, "chatstate") ||
             !strcmp(n->tag, "ib"))
        eng_recv_other(ei, n);
    else MIAW_DEBUG("engine", "%s: unhandled <%s>", ei->id, n->tag);
    /* plugins' stanza subscriptions, after the engine handled (and acknowledged) it */
    if (ei->e->tap && ei->logged_in && strcmp(n->tag, "xmlstreamend") != 0) ei->e->tap(ei->e->tap_ud, ei->id, n);
}

static void conn_on_open(miaw_wa_conn *c, void *ud)
{
    (void)c;
    eng_inst *ei = ud;
    MIAW_DEBUG("engine", "%s: handshake done (%s)", ei->id, ei->creds.paired ? "login" : "registration");
}

static void conn_on_end(miaw_wa_conn *c, int why, const char *detail, void *ud)
{
    (void)c;
    eng_inst *ei = ud;
    int was_in = ei->logged_in;
    char reason[240];
    snprintf(reason, sizeof reason, "%s: %s", miaw_wa_end_name(why), detail ? detail : "");
    drop_conn(ei);
    if (!ei->want) return;
    if (was_in) emit(ei, "disconnected", json_pack("{s:s,s:b}", "reason", reason, "willReconnect", 1));
    retry(ei, reason);
}

/* ------------------------------------------------------------ connecting */
static void start_conn(eng_inst *ei)
{
    miaw_engine *e = ei->e;
    drop_conn(ei);
    if (!ei->have_creds) {
        int r = eng_store_load(e->db, ei->id, &ei->creds, NULL);
        if (r < 0) {
            stop(ei, MIAW_ST_DISCONNECTED, "stored credentials are unreadable", 0);
            return;
        }
        if (r == 0) {
            if (miaw_wa_creds_generate(&ei->creds) != 0 || eng_store_save(e->db, ei->id, &ei->creds, 0) != 0) {
                miaw_wa_creds_clear(&ei->creds);
                stop(ei, MIAW_ST_DISCONNECTED, "cannot create device keys", 0);
                return;
            }
        }
        ei->have_creds = 1;
    }
    if (eng_sig_open(ei) != 0) {
        stop(ei, MIAW_ST_DISCONNECTED, "the Signal store cannot be opened", 0);
        return;
    }
    miaw_wa_client_info info = {.device_name = e->cfg->wa_device_name, .reconnect = ei->attempt > 0};
    memcpy(info.version, e->o.version, sizeof info.version);
    uint8_t *payload = NULL;
    size_t plen = 0;
    if (miaw_wa_client_payload(&ei->creds, &info, &payload, &plen) != 0) {
        stop(ei, MIAW_ST_DISCONNECTED, "cannot build the client payload", 0);
        return;
    }
    miaw_wa_conn_opts co = {.url = e->cfg->wa_ws_url, .ca_file = e->cfg->wa_ca_file,
                            .root_pub = e->o.has_root ? e->o.root_pub : NULL, .noise = &ei->creds.noise,
                            .payload = payload, .payload_len = plen,
                            .handshake_timeout_ms = e->o.handshake_timeout_ms, .keepalive_ms = e->o.keepalive_ms,
                            .dead_ms = e->o.dead_ms};
    miaw_wa_conn_callbacks cb = {.on_open = conn_on_open, .on_node = conn_on_node, .on_end = conn_on_end};
    int rc = miaw_wa_conn_start(e->loop, &co, &cb, ei, &ei->conn);
    free(payload);
    if (rc) {
        ei->conn = NULL;
        char reason[64];
        snprintf(reason, sizeof reason, "cannot open a connection (%d)", rc);
        retry(ei, reason);
    }
}

static void on_timer(uv_timer_t *t)
{
    eng_inst *ei = t->data;
    eng_timer_what w = ei->what;
    ei->what = ENG_T_NONE;
    if (w == ENG_T_CONNECT && ei->want) start_conn(ei);
    else if (w == ENG_T_QR && ei->conn) {
        ei->ref_i++;
        show_qr(ei);
    }
}

/* ------------------------------------------------------------ public */
eng_inst *eng_get(miaw_engine *e, miaw_instance *in)
{
    if (in->engine) return in->engine;
    eng_inst *ei = calloc(1, sizeof *ei);
    if (!ei) return NULL;
    ei->e = e;
    snprintf(ei->id, sizeof ei->id, "%s", in->id);
    uv_timer_init(e->loop, &ei->timer);
    ei->timer.data = ei;
    ei->next = e->list;
    if (e->list) e->list->prev = ei;
    e->list = ei;
    in->engine = ei;
    return ei;
}

int miaw_engine_connect(miaw_engine *e, miaw_instance *in)
{
    eng_inst *ei = eng_get(e, in);
    if (!ei) return MIAW_E_NOMEM;
    if (ei->want) return 0;
    ei->want = 1;
    ei->attempt = ei->qr_shown = 0;
    ei->restart = 0;
    eng_store_set_autoconnect(e->db, ei->id, 1);
    set_state(ei, MIAW_ST_CONNECTING, "connect requested");
    schedule_connect(ei, 0);
    return 0;
}

int miaw_engine_disconnect(miaw_engine *e, miaw_instance *in, const char *reason)
{
    eng_inst *ei = eng_get(e, in);
    if (!ei) return MIAW_E_NOMEM;
    eng_store_set_autoconnect(e->db, ei->id, 0);
    if (!ei->want && !ei->conn) {
        if (in->state != MIAW_ST_LOGGED_OUT) set_state(ei, MIAW_ST_DISCONNECTED, reason);
        return 0;
    }
    stop(ei, MIAW_ST_DISCONNECTED, reason, 0);
    return 0;
}

const char *miaw_engine_qr(miaw_engine *e, miaw_instance *in)
{
    (void)e;
    eng_inst *ei = in->engine;
    return ei && ei->conn && in->state == MIAW_ST_QR ? ei->qr : NULL;
}

json_t *miaw_engine_status(miaw_engine *e, miaw_instance *in)
{
    eng_inst *ei = in->engine;
    miaw_wa_creds tmp;
    const miaw_wa_creds *c = NULL;
    int loaded = 0;
    if (ei && ei->have_creds) c = &ei->creds;
    else if (eng_store_load(e->db, in->id, &tmp, NULL) == 1) c = &tmp, loaded = 1;
    int paired = c && c->paired;
    json_t *o = json_pack("{s:s,s:s,s:b}", "instanceId", in->id, "status", miaw_inst_state_name(in->state), "paired",
                          paired);
    json_object_set_new(o, "reason", in->state_reason ? json_string(in->state_reason) : json_null());
    if (paired) {
        json_object_set_new(o, "jid", json_string(c->jid));
        if (c->lid[0]) json_object_set_new(o, "lid", json_string(c->lid));
        if (c->platform[0]) json_object_set_new(o, "platform", json_string(c->platform));
    }
    if (loaded) miaw_wa_creds_clear(&tmp);
    if (ei && ei->logged_in) {
        char at[40];
        miaw_iso8601(at, sizeof at, ei->connected_at);
        json_object_set_new(o, "connectedAt", json_string(at));
    }
    json_object_set_new(o, "qrAvailable", json_boolean(miaw_engine_qr(e, in) != NULL));
    return o;
}

int miaw_engine_iq(miaw_engine *e, miaw_instance *in, miaw_node *iq, unsigned timeout_ms, miaw_wa_iq_cb cb,
                   void *udata)
{
    (void)e;
    eng_inst *ei = in->engine;
    if (!ei || !ei->conn || !ei->logged_in) {
        miaw_node_free(iq);
        return MIAW_E_STATE;
    }
    return miaw_wa_conn_iq(ei->conn, iq, timeout_ms, cb, udata);
}

static void on_inst_closed(uv_handle_t *h) { free(h->data); }

void eng_release(eng_inst *ei)
{
    miaw_engine *e = ei->e;
    ei->want = 0;
    drop_conn(ei);
    eng_media_release(e, ei->id); /* its media transfers end with MIAW_E_STATE */
    eng_linkcode_free(ei);
    clear_qr(ei);
    stop_timer(ei);
    eng_send_fail_all(ei, MIAW_E_GONE, "the instance went away");
    eng_send_forget(ei);
    eng_sig_close(ei);
    eng_devlist_free(ei);
    eng_sent_free_all(ei);
    eng_as_free(ei);
    miaw_wa_creds_clear(&ei->creds);
    if (ei->prev) ei->prev->next = ei->next;
    else e->list = ei->next;
    if (ei->next) ei->next->prev = ei->prev;
    miaw_instance *in = miaw_instances_find(e->inst, ei->id);
    if (in && in->engine == ei) in->engine = NULL;
    uv_close((uv_handle_t *)&ei->timer, on_inst_closed);
}
