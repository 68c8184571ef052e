/* core/engine/engine_send.c - outgoing 1:1 messages: recipient parsing, device lists (usync,
 * cached), pre-key bundles for devices without a session, one Signal encryption per
 * device (the recipient's devices get the Message, the account's own other devices a
 * DeviceSentMessage copy), the <message> stanza, and the answer once the server's <ack>
 * arrives. Keeps the last ENG_SENT_RING messages for retry receipts (engine_retry.c). The
 * send object, its queue, sweep, ack and common steps serve group sends too
 * (engine_send_group.c takes over after ENG_SEND_START). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "http/ratelimit.h"
#include "engine/engine_int.h"
#include "base/metrics.h"
#include "base/log.h"
#include "base/util.h"
#include "wa/msgcontent.h"
#include "wa/signal_keys.h"
#include "wa/signal_session.h"
#include "wa/wamsg.h"

#define SEND_TIMEOUT_MS 45000
#define MAX_DEVS (2 * MIAW_WA_MAX_DEVICES)

static void send_free(eng_send *s)
{
    eng_send_group_free(s->g);
    free(s->msg);
    free(s->dsm);
    free(s->edit);
    for (size_t i = 0; i < s->nextra; i++) miaw_node_free(s->extra[i]);
    free(s->extra);
    free(s);
}

/* metrics of a finished send: sent by content type with its latency, or failed by reason */
static void count_send(const eng_send *s, int err)
{
    if (err) {
        const char *why = err == MIAW_E_NOTFOUND ? "not_found" : err == MIAW_E_STATE ? "not_connected"
                          : err == MIAW_E_TIMEOUT ? "timeout" : err == MIAW_E_IO ? "refused" : "other";
        miaw_metric_add("miaw_messages_send_failed_total", 1, "reason", why, NULL);
        return;
    }
    miaw_wa_content c;
    int parsed = s->msg && miaw_wa_content_parse(s->msg, s->msg_len, &c) == 0;
    miaw_metric_add("miaw_messages_sent_total", 1, "type", parsed ? miaw_wa_content_type_name(c.type) : "unknown", NULL);
    if (parsed) miaw_wa_content_clear(&c);
    miaw_metric_observe("miaw_message_send_duration_seconds", (double)(uv_hrtime() - s->started_ns) / 1e9, NULL);
}

void eng_send_finish(eng_send *s, int err, int64_t ts, const char *detail)
{
    if (s->done) return;
    s->done = 1;
    if (!s->cancelled || !err) count_send(s, err);
    eng_send **pp = &s->ei->sends;
    while (*pp && *pp != s) pp = &(*pp)->next;
    if (*pp) *pp = s->next;
    if (err) MIAW_INFO("engine", "%s: message %s not sent: %s", s->ei->id, s->id, detail ? detail : "");
    if (!s->cancelled && s->cb) s->cb(err, s->id, ts, detail, s->udata);
    if (!s->inflight) send_free(s);
}

#define finish eng_send_finish

int eng_send_iq_back(eng_send *s, int err, const miaw_node *reply)
{
    s->inflight = 0;
    if (s->done) {
        send_free(s);
        return 0;
    }
    if (err == MIAW_E_GONE) finish(s, MIAW_E_STATE, 0, "the connection closed");
    else if (err == MIAW_E_TIMEOUT) finish(s, MIAW_E_TIMEOUT, 0, "the server did not answer");
    else if (err || !reply || !miaw_node_attr_is(reply, "type", "result"))
        finish(s, MIAW_E_IO, 0, "the server answered a query with an error");
    else return 1;
    return 0;
}

/* ------------------------------------------------------------ encrypt + stanza */
typedef struct devset {
    miaw_jid j[MAX_DEVS];
    int own[MAX_DEVS];
    size_t n;
} devset;

static void collect(eng_send *s, devset *d)
{
    d->n = 0;
    miaw_jid me;
    miaw_jid_parse(&me, s->ei->creds.jid);
    const miaw_jid *users[2] = {&s->chat, &s->own};
    for (int k = 0; k < 2; k++) {
        char u[MIAW_JID_STR_MAX];
        miaw_jid_format(users[k], u, sizeof u);
        eng_devlist *l = eng_devlist_get(s->ei, u);
        for (size_t i = 0; l && i < l->n && d->n < MAX_DEVS; i++) {
            if (k == 1 && l->devices[i] == me.device) continue; /* not to ourselves */
            if (miaw_jid_init(&d->j[d->n], users[k]->user, users[k]->server, 0, l->devices[i]) == 0)
                d->own[d->n++] = k == 1;
        }
    }
}

int eng_send_encrypt_one(eng_inst *ei, const miaw_jid *dev, const uint8_t *pt, size_t len, int *type, uint8_t **ct,
                       size_t *ct_len)
{
    miaw_sig_addr a;
    if (miaw_sig_addr_from_jid(dev, &a) != 0) return MIAW_E_INVAL;
    return miaw_sig_encrypt(ei->sig, &a, pt, len, type, ct, ct_len);
}

void eng_send_remember(eng_inst *ei, const eng_send *s)
{
    eng_sent *r = calloc(1, sizeof *r);
    if (!r || !(r->msg = malloc(s->msg_len)) || !(r->dsm = malloc(s->dsm_len ? s->dsm_len : 1))) {
        if (r) free(r->msg);
        free(r);
        return;
    }
    memcpy(r->id, s->id, sizeof r->id);
    r->chat = s->chat;
    memcpy(r->msg, s->msg, s->msg_len);
    r->msg_len = s->msg_len;
    memcpy(r->dsm, s->dsm, s->dsm_len);
    r->dsm_len = s->dsm_len;
    eng_sent *old = ei->sent[ei->sent_i];
    if (old) {
        free(old->msg);
        free(old->dsm);
        free(old);
    }
    ei->sent[ei->sent_i] = r;
    ei->sent_i = (ei->sent_i + 1) % ENG_SENT_RING;
}

static void step_encrypt(eng_send *s)
{
    eng_inst *ei = s->ei;
    devset d;
    collect(s, &d);
    uint8_t *pm = NULL, *pd = NULL;
    size_t pml = 0, pdl = 0;
    if (miaw_wamsg_pad(s->msg, s->msg_len, &pm, &pml) != 0 || miaw_wamsg_pad(s->dsm, s->dsm_len, &pd, &pdl) != 0) {
        free(pm);
        finish(s, MIAW_E_NOMEM, 0, "out of memory");
        return;
    }
    miaw_wa_enc encs[MAX_DEVS];
    uint8_t *cts[MAX_DEVS];
    size_t k = 0, peers = 0, listed = 0;
    for (size_t i = 0; i < d.n; i++) listed += !d.own[i];
    /* no device listed for the recipient and no validation asked: own devices only */
    int unchecked = !listed && !ei->e->cfg->account_validation;
    for (size_t i = 0; i < d.n; i++) {
        int type = 0;
        size_t len = 0;
        int rc = d.own[i] ? eng_send_encrypt_one(ei, &d.j[i], pd, pdl, &type, &cts[k], &len)
                          : eng_send_encrypt_one(ei, &d.j[i], pm, pml, &type, &cts[k], &len);
        if (rc != 0) {
            char j[MIAW_JID_STR_MAX];
            miaw_jid_format(&d.j[i], j, sizeof j);
            MIAW_DEBUG("engine", "%s: no session with %s (%s); device skipped", ei->id, j, miaw_sig_strerror(rc));
            continue;
        }
        encs[k] = (miaw_wa_enc){.to = d.j[i], .type = miaw_sig_type_name(type), .ct = cts[k], .ct_len = len};
        peers += !d.own[i];
        k++;
    }
    free(pm);
    free(pd);
    miaw_node *st = NULL;
    if (peers || (unchecked && k)) st = miaw_wa_message_stanza(s->id, &s->chat, s->stype, encs, k, ei->creds.adv, ei->creds.adv_len);
    if (st && s->edit) miaw_node_set_attr(st, "edit", s->edit);
    if (st) eng_send_mark_encs(st, s);
    for (size_t i = 0; st && i < s->nextra; i++) miaw_node_add_copy(st, s->extra[i]);
    for (size_t i = 0; i < k; i++) free(cts[i]);
    if (!peers && !(unchecked && k)) {
        finish(s, MIAW_E_IO, 0, "no device of the recipient could be reached (no Signal session)");
        return;
    }
    if (!st) {
        finish(s, MIAW_E_NOMEM, 0, "cannot build the message stanza");
        return;
    }
    miaw_wa_content c;
    if (!s->no_store && miaw_wa_content_parse(s->msg, s->msg_len, &c) == 0) {
        eng_msg_row row = {.chat = s->chat_s, .id = s->id, .sender = s->own_s,
                           .type = miaw_wa_content_type_name(c.type), .text = c.text, .quoted_id = c.quoted_id,
                           .status = "pending", .from_me = 1, .ts = miaw_now_ms() / 1000, .raw = s->msg,
                           .raw_len = s->msg_len};
        eng_chat_insert(ei->e, ei->id, &row);
        miaw_wa_content_clear(&c);
    }
    eng_send_remember(ei, s);
    int rc = eng_send_node(ei, st);
    miaw_node_free(st);
    if (rc) {
        finish(s, MIAW_E_STATE, 0, "the connection closed");
        return;
    }
    s->step = ENG_SEND_ACK;
}

/* the attributes WhatsApp's clients put on the <enc>s of a message (facts 7.5): mediatype
 * for media, decrypt-fail="hide" for edits/revokes (an edit attribute) and reactions, so a
 * device that cannot decrypt them shows no placeholder */
void eng_send_mark_encs(miaw_node *stanza, const eng_send *s)
{
    const char *mt = miaw_wa_enc_mediatype(s->msg, s->msg_len);
    int hide = s->edit || !strcmp(s->stype, "reaction");
    if (!mt && !hide) return;
    const miaw_node *parts = miaw_node_child(stanza, "participants");
    const miaw_node *lists[2] = {parts, stanza};
    for (int k = 0; k < 2; k++) {
        if (!lists[k]) continue;
        for (miaw_node *c = miaw_node_child(lists[k], NULL); c; c = miaw_node_next(lists[k], c, NULL)) {
            miaw_node *enc = !strcmp(c->tag, "enc") ? c : !strcmp(c->tag, "to") ? miaw_node_child(c, "enc") : NULL;
            if (!enc) continue;
            if (mt) miaw_node_set_attr(enc, "mediatype", mt);
            if (hide) miaw_node_set_attr(enc, "decrypt-fail", "hide");
        }
    }
}

/* ------------------------------------------------------------ pre-keys */
int eng_send_build_sessions(eng_inst *ei, const miaw_node *reply)
{
    const miaw_node *list = miaw_node_child(reply, "list");
    int n = 0;
    for (const miaw_node *u = list ? miaw_node_child(list, "user") : NULL; u; u = miaw_node_next(list, u, "user")) {
        miaw_jid j;
        miaw_sig_addr a;
        miaw_sig_bundle b;
        if (miaw_node_attr_jid(u, "jid", &j) != 0 || miaw_sig_addr_from_jid(&j, &a) != 0) continue;
        const miaw_node *keys = miaw_node_child(u, "keys") ? miaw_node_child(u, "keys") : u;
        int rc = miaw_sig_bundle_from_node(keys, miaw_node_child(keys, "registration") ? keys : u, &b);
        if (rc == 0) rc = miaw_sig_session_from_bundle(ei->sig, &a, &b);
        if (rc == 0) n++;
        else MIAW_WARN("engine", "%s: unusable pre-key bundle for %s: %s", ei->id, miaw_node_attr(u, "jid"),
                       miaw_sig_strerror(rc));
    }
    return n;
}

static void on_keys(miaw_wa_conn *c, const miaw_node *reply, int err, void *ud)
{
    (void)c;
    eng_send *s = ud;
    if (!eng_send_iq_back(s, err, reply)) return;
    eng_send_build_sessions(s->ei, reply);
    step_encrypt(s);
}

static void step_keys(eng_send *s)
{
    eng_inst *ei = s->ei;
    devset d;
    collect(s, &d);
    size_t peers = 0;
    for (size_t i = 0; i < d.n; i++) peers += !d.own[i];
    /* whatsapp.account_validation off: no check, the stanza goes to the account's own devices */
    if (!peers && (s->ei->e->cfg->account_validation || !d.n)) {
        finish(s, MIAW_E_NOTFOUND, 0, "the recipient is not on WhatsApp (no devices)");
        return;
    }
    miaw_jid need[MAX_DEVS];
    size_t k = 0;
    for (size_t i = 0; i < d.n; i++) {
        miaw_sig_addr a;
        if (miaw_sig_addr_from_jid(&d.j[i], &a) == 0 && miaw_sig_store_has_session(ei->sig, a.name, a.device) != 1)
            need[k++] = d.j[i];
    }
    if (!k) {
        step_encrypt(s);
        return;
    }
    miaw_node *iq = miaw_wa_prekey_fetch_iq(need, k);
    s->step = ENG_SEND_KEYS;
    if (!iq || !ei->conn || miaw_wa_conn_iq(ei->conn, iq, 0, on_keys, s) != 0) {
        finish(s, MIAW_E_STATE, 0, "the connection closed");
        return;
    }
    s->inflight = 1;
}

/* ------------------------------------------------------------ usync */
static void on_usync(miaw_wa_conn *c, const miaw_node *reply, int err, void *ud)
{
    (void)c;
    eng_send *s = ud;
    if (!eng_send_iq_back(s, err, reply)) return;
    miaw_wa_usync_user *users = calloc(8, sizeof *users);
    int n = users ? miaw_wa_usync_devices_parse(reply, users, 8) : MIAW_E_NOMEM;
    if (n < 0) {
        free(users);
        finish(s, MIAW_E_IO, 0, "unreadable device list from the server");
        return;
    }
    int got_chat = 0, got_own = 0;
    for (int i = 0; i < n; i++) {
        eng_devlist_put(s->ei, &users[i]);
        got_chat |= miaw_jid_same_user(&users[i].user, &s->chat);
        got_own |= miaw_jid_same_user(&users[i].user, &s->own);
    }
    /* a user the server left out has no devices: remember that too */
    miaw_wa_usync_user empty = {0};
    if (!got_chat) empty.user = s->chat, eng_devlist_put(s->ei, &empty);
    if (!got_own) empty.user = s->own, eng_devlist_put(s->ei, &empty);
    free(users);
    step_keys(s);
}

static void step_start(eng_send *s)
{
    eng_inst *ei = s->ei;
    if (!ei->conn || !ei->logged_in || eng_sig_open(ei) != 0) {
        finish(s, MIAW_E_STATE, 0, "the instance is not connected");
        return;
    }
    miaw_jid want[2];
    size_t k = 0;
    if (!eng_devlist_get(ei, s->chat_s)) want[k++] = s->chat;
    if (!eng_devlist_get(ei, s->own_s)) want[k++] = s->own;
    if (!k) {
        step_keys(s);
        return;
    }
    char sid[MIAW_WA_MSGID_MAX];
    miaw_wa_message_id(s->own.user, (uint64_t)(miaw_now_ms() / 1000), sid);
    miaw_node *iq = miaw_wa_usync_devices_iq(want, k, sid);
    s->step = ENG_SEND_USYNC;
    if (!iq || miaw_wa_conn_iq(ei->conn, iq, 0, on_usync, s) != 0) {
        finish(s, MIAW_E_STATE, 0, "the connection closed");
        return;
    }
    s->inflight = 1;
}

/* ------------------------------------------------------------ public */
static void quote_of(miaw_engine *e, const char *inst, const char *id, const miaw_jid *chat, const char *own,
                     char **text, char **participant)
{
    char *c = NULL, *sender = NULL;
    int from_me = 0;
    *text = *participant = NULL;
    if (eng_chat_find(e, inst, id, &c, &sender, text, &from_me)) {
        *participant = strdup(from_me ? own : c);
    } else {
        char u[MIAW_JID_STR_MAX];
        miaw_jid_format(chat, u, sizeof u);
        *participant = strdup(u); /* unknown here: most likely the peer's */
    }
    free(c);
    free(sender);
}

static void on_sweep(uv_timer_t *t)
{
    miaw_engine *e = t->data;
    eng_send_sweep(e);
}

static int check_connected(eng_inst *ei, miaw_instance *in, char *err, size_t errlen)
{
    if (!ei || !ei->conn || !ei->logged_in || in->state != MIAW_ST_CONNECTED) {
        snprintf(err, errlen, "instance '%s' is not connected (status %s)", in->id, miaw_inst_state_name(in->state));
        return MIAW_E_STATE;
    }
    return 0;
}

/* rate_limit.send_per_minute / send_min_gap_ms, per instance, for every message any
 * plugin sends (this is the one entry all sends go through): MIAW_E_LIMIT (429
 * RATE_LIMITED, with Retry-After) before anything is built or sent */
static int check_rate(miaw_engine *e, miaw_instance *in, char *err, size_t errlen)
{
    const miaw_config *c = e->cfg;
    if (!c || (!c->rl_send_per_min && !c->rl_send_gap_ms)) return 0;
    if (!e->send_rl) e->send_rl = miaw_ratelimit_new((uint32_t)c->rl_send_per_min, (uint32_t)c->rl_send_per_min,
                                                     (uint32_t)c->rl_send_gap_ms, 100000);
    uint64_t ms = miaw_ratelimit_take(e->send_rl, in->id, uv_now(e->loop));
    if (!ms) return 0;
    miaw_http_retry_hint(ms);
    snprintf(err, errlen, "instance '%s' reached its send limit (%d per minute, %d ms apart); retry in %llu ms", in->id,
             c->rl_send_per_min, c->rl_send_gap_ms, (unsigned long long)ms);
    return MIAW_E_LIMIT;
}

/* queues s (msg and dsm set) and starts it on the next loop turn */
void eng_send_enqueue(miaw_engine *e, eng_send *s, miaw_engine_send_cb cb, void *udata, unsigned timeout_ms,
                    uint64_t *handle)
{
    s->cb = cb;
    s->udata = udata;
    s->handle = ++e->next_send;
    s->started_ns = uv_hrtime();
    s->step = ENG_SEND_START;
    s->deadline = uv_now(e->loop) + (timeout_ms ? timeout_ms : SEND_TIMEOUT_MS);
    eng_inst *ei = s->ei;
    s->next = ei->sends;
    ei->sends = s;
    if (handle) *handle = s->handle;
    if (!ei->busy) {
        ei->busy = 1;
        ei->busy_prev = NULL;
        ei->busy_next = e->busy;
        if (e->busy) e->busy->busy_prev = ei;
        e->busy = ei;
    }
    if (!ei->kicked) {
        ei->kicked = 1;
        ei->kick_next = e->kick;
        e->kick = ei;
    }
    /* start on the next loop turn: the callback never runs inside the call */
    uv_timer_start(e->sweep, on_sweep, 0, 1000);
}

static eng_send *send_new(eng_inst *ei, const miaw_jid *chat, const char *id)
{
    eng_send *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->ei = ei;
    s->chat = *chat;
    miaw_jid me;
    miaw_jid_parse(&me, ei->creds.jid);
    miaw_jid_init(&s->own, me.user, me.server, 0, 0);
    miaw_jid_format(&s->chat, s->chat_s, sizeof s->chat_s);
    miaw_jid_format(&s->own, s->own_s, sizeof s->own_s);
    if (id && *id) snprintf(s->id, sizeof s->id, "%s", id);
    else miaw_wa_message_id(me.user, (uint64_t)(miaw_now_ms() / 1000), s->id);
    snprintf(s->stype, sizeof s->stype, "text");
    return s;
}

int eng_send_prepare(eng_inst *ei, const miaw_jid *chat, const uint8_t *msg, size_t len, const miaw_msg_opts *o,
                     miaw_node **extra, size_t nextra, eng_send **out, char *err, size_t errlen)
{
    eng_send *s = send_new(ei, chat, o ? o->message_id : NULL);
    if (!s) return snprintf(err, errlen, "out of memory"), MIAW_E_NOMEM;
    if (o && o->type) snprintf(s->stype, sizeof s->stype, "%s", o->type);
    s->no_store = o && (o->flags & MIAW_MSG_F_NO_STORE);
    s->msg = malloc(len ? len : 1);
    if (s->msg) memcpy(s->msg, msg, len), s->msg_len = len;
    int rc = s->msg ? miaw_wa_dsm_wrap(s->chat_s, s->msg, s->msg_len, &s->dsm, &s->dsm_len) : MIAW_E_NOMEM;
    if (rc == 0 && o && o->edit) rc = (s->edit = strdup(o->edit)) ? 0 : MIAW_E_NOMEM;
    if (rc == 0 && nextra) {
        s->extra = calloc(nextra, sizeof *s->extra);
        for (size_t i = 0; s->extra && i < nextra; i++)
            if ((s->extra[i] = miaw_node_clone(extra[i]))) s->nextra++;
        if (s->nextra != nextra) rc = MIAW_E_NOMEM;
    }
    if (rc != 0) {
        send_free(s);
        return snprintf(err, errlen, rc == MIAW_E_INVAL ? "not a serialized Message" : "out of memory"), rc;
    }
    *out = s;
    return 0;
}

int miaw_engine_send_msg(miaw_engine *e, miaw_instance *in, const char *to, const uint8_t *msg, size_t len,
                         const miaw_msg_opts *o, miaw_node **extra, size_t nextra, miaw_engine_send_cb cb,
                         void *udata, uint64_t *handle, const char **field, char *err, size_t errlen)
{
    miaw_jid chat;
    *field = NULL;
    if (!to || miaw_jid_recipient(to, &chat) != 0) {
        *field = "to";
        snprintf(err, errlen, "'to' must be a phone number (5-20 digits with country code), a user JID or a group JID");
        return MIAW_E_INVAL;
    }
    if (o && o->message_id && (!*o->message_id || strlen(o->message_id) >= MIAW_WA_MSGID_MAX)) {
        *field = "opts.message_id";
        snprintf(err, errlen, "a message id has 1-%d characters", MIAW_WA_MSGID_MAX - 1);
        return MIAW_E_INVAL;
    }
    if (o && o->type && (!*o->type || strlen(o->type) >= 16)) {
        *field = "opts.type";
        snprintf(err, errlen, "a stanza type has 1-15 characters");
        return MIAW_E_INVAL;
    }
    eng_inst *ei = in->engine;
    int rc = check_connected(ei, in, err, errlen);
    if (!rc) rc = check_rate(e, in, err, errlen);
    if (rc) return rc;
    if (!strcmp(chat.server, MIAW_SERVER_GROUP)) {
        rc = eng_send_group(e, ei, &chat, msg, len, o, extra, nextra, cb, udata, handle, err, errlen);
        if (rc == MIAW_E_INVAL) *field = "message";
        return rc;
    }
    eng_send *s = NULL;
    rc = eng_send_prepare(ei, &chat, msg, len, o, extra, nextra, &s, err, errlen);
    if (rc != 0) {
        if (rc == MIAW_E_INVAL) *field = "message";
        return rc;
    }
    eng_send_enqueue(e, s, cb, udata, o ? o->timeout_ms : 0, handle);
    return 0;
}

int miaw_engine_send_text(miaw_engine *e, miaw_instance *in, const char *to, const char *text, const char *quoted_id,
                          miaw_engine_send_cb cb, void *udata, uint64_t *handle, const char **field, char *err,
                          size_t errlen)
{
    miaw_jid chat;
    *field = NULL;
    if (!to || miaw_jid_recipient(to, &chat) != 0) {
        *field = "to";
        snprintf(err, errlen, "'to' must be a phone number (5-20 digits with country code), a user JID or a group JID");
        return MIAW_E_INVAL;
    }
    if (!text || !*text) {
        *field = "text";
        snprintf(err, errlen, "'text' must not be empty");
        return MIAW_E_INVAL;
    }
    eng_inst *ei = in->engine;
    int rc = check_connected(ei, in, err, errlen);
    if (rc) return rc;
    char own[MIAW_JID_STR_MAX];
    miaw_jid me, own_user;
    miaw_jid_parse(&me, ei->creds.jid);
    miaw_jid_init(&own_user, me.user, me.server, 0, 0);
    miaw_jid_format(&own_user, own, sizeof own);
    char *qtext = NULL, *qpart = NULL;
    if (quoted_id && *quoted_id) quote_of(e, ei->id, quoted_id, &chat, own, &qtext, &qpart);
    miaw_wa_quote q = {.id = quoted_id, .participant = qpart, .text = qtext};
    uint8_t *msg = NULL;
    size_t len = 0;
    rc = miaw_wa_text_message(text, quoted_id && *quoted_id ? &q : NULL, &msg, &len);
    free(qtext);
    free(qpart);
    if (rc != 0) return snprintf(err, errlen, "cannot build the message"), MIAW_E_NOMEM;
    rc = miaw_engine_send_msg(e, in, to, msg, len, NULL, NULL, 0, cb, udata, handle, field, err, errlen);
    free(msg);
    return rc;
}

void miaw_engine_send_cancel(miaw_engine *e, uint64_t handle)
{
    for (eng_inst *ei = e->busy; ei; ei = ei->busy_next)
        for (eng_send *s = ei->sends; s; s = s->next)
            if (s->handle == handle) s->cancelled = 1;
}

void eng_send_cancel_all(eng_inst *ei)
{
    for (eng_send *s = ei->sends; s; s = s->next) s->cancelled = 1;
}

static void busy_unlink(miaw_engine *e, eng_inst *ei)
{
    if (ei->busy_prev) ei->busy_prev->busy_next = ei->busy_next;
    else e->busy = ei->busy_next;
    if (ei->busy_next) ei->busy_next->busy_prev = ei->busy_prev;
    ei->busy_next = ei->busy_prev = NULL;
    ei->busy = 0;
}

static void start_queued(eng_inst *ei)
{
    for (eng_send *s = ei->sends, *next; s; s = next) {
        next = s->next;
        if (s->step == ENG_SEND_START) s->g ? eng_send_group_start(s) : step_start(s);
    }
}

/* On the loop turn after a send is queued: starts the queued sends of the instances on
 * e->kick. At most once a second (the timer repeats while sends are in progress): fails
 * the sends past their deadline, walking only the instances on e->busy. Neither walk
 * depends on how many instances exist. */
void eng_send_sweep(miaw_engine *e)
{
    while (e->kick) {
        eng_inst *ei = e->kick;
        e->kick = ei->kick_next;
        ei->kick_next = NULL;
        ei->kicked = 0;
        start_queued(ei);
    }
    uint64_t now = uv_now(e->loop);
    if (now < e->next_deadline_check) return;
    e->next_deadline_check = now + 1000;
    for (eng_inst *ei = e->busy, *nexti; ei; ei = nexti) {
        eng_send *s = ei->sends;
        while (s) {
            eng_send *next = s->next;
            if (s->step == ENG_SEND_START) s->g ? eng_send_group_start(s) : step_start(s);
            else if (now >= s->deadline) finish(s, MIAW_E_TIMEOUT, 0, "no acknowledgement from the server in time");
            s = next;
        }
        nexti = ei->busy_next;
        if (!ei->sends) busy_unlink(e, ei);
    }
    if (!e->busy) uv_timer_stop(e->sweep);
}

void eng_send_forget(eng_inst *ei)
{
    miaw_engine *e = ei->e;
    if (ei->busy) busy_unlink(e, ei);
    if (ei->kicked) {
        for (eng_inst **p = &e->kick; *p; p = &(*p)->kick_next)
            if (*p == ei) {
                *p = ei->kick_next;
                break;
            }
        ei->kick_next = NULL;
        ei->kicked = 0;
    }
}

void eng_send_on_ack(eng_inst *ei, const miaw_node *ack)
{
    const char *id = miaw_node_attr(ack, "id"), *error = miaw_node_attr(ack, "error");
    if (!id) return;
    for (eng_send *s = ei->sends; s; s = s->next) {
        if (s->step != ENG_SEND_ACK || strcmp(s->id, id) != 0) continue;
        uint64_t t = 0;
        if (miaw_node_attr_u64(ack, "t", &t) != 0) t = (uint64_t)(miaw_now_ms() / 1000);
        if (error && strcmp(error, "0") != 0) {
            char why[64];
            snprintf(why, sizeof why, "the server refused the message (error %s)", error);
            eng_chat_set_status(ei->e, ei->id, id, 1, "error", 0);
            finish(s, MIAW_E_IO, 0, why);
        } else {
            eng_chat_set_status(ei->e, ei->id, id, 1, "sent", (int64_t)t);
            eng_proto_on_acked(ei, s, (int64_t)t); /* our revoke / edit: the target follows */
            if (s->g) eng_send_group_acked(s, ack);
            finish(s, 0, (int64_t)t, NULL);
        }
        return;
    }
}

void eng_send_fail_all(eng_inst *ei, int err, const char *why)
{
    while (ei->sends) finish(ei->sends, err, 0, why);
}

void eng_sent_free_all(eng_inst *ei)
{
    for (size_t i = 0; i < ENG_SENT_RING; i++) {
        eng_sent *r = ei->sent[i];
        if (!r) continue;
        free(r->msg);
        free(r->dsm);
        free(r);
        ei->sent[i] = NULL;
    }
}
