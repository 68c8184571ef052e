/* core/engine/engine_recv.c - what the server pushes about messages: incoming 1:1 <message>
 * stanzas (decrypt, unpad, parse; store in chat storage and emit `message`, with the
 * Message as JSON in `raw`, in one sqlite transaction with the Signal state, and only then
 * the delivery receipt; revokes and edits are applied to their stored target by
 * engine_protocol.c and emitted, not stored; group and broadcast ones go to
 * engine_recv_group.c), undecryptable
 * ones (an `error` event and a retry receipt, bounded), <receipt>s (acked; retries
 * answered by engine_retry.c; delivery/read recorded), <ack>s of our sends, device
 * notifications (device-list cache, logout when the phone removes this device) and w:gp2
 * ones (engine_group.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"
#include "base/metrics.h"
#include "engine/engine_appstate.h"
#include "base/log.h"
#include "wa/msgcontent.h"
#include "wa/proto_json.h"
#include "wa/signal_keys.h"
#include "wa/signal_session.h"
#include "wa/wamsg.h"
#include "wa_message.pb-c.h"

#define MAX_RETRY_RECEIPTS 5

void eng_recv_send_free(eng_inst *ei, miaw_node *n)
{
    if (n) eng_send_node(ei, n);
    miaw_node_free(n);
}

#define send_free_node eng_recv_send_free

static void ack(eng_inst *ei, const miaw_node *n, const char *cls, const char *error)
{
    send_free_node(ei, miaw_wa_ack_for(n, cls, error));
}

int eng_recv_own_user(eng_inst *ei, const miaw_jid *j)
{
    miaw_jid me, lid;
    if (miaw_jid_parse(&me, ei->creds.jid) == 0 && miaw_jid_same_user(&me, j)) return 1;
    return ei->creds.lid[0] && miaw_jid_parse(&lid, ei->creds.lid) == 0 && miaw_jid_same_user(&lid, j);
}

#define own_user eng_recv_own_user

static void user_str(const miaw_jid *j, char *out, size_t cap)
{
    miaw_jid u;
    if (miaw_jid_init(&u, j->user, j->server, 0, 0) != 0 || miaw_jid_format(&u, out, cap) < 0) snprintf(out, cap, "?");
}

/* the phone-number form of a sender: itself when PN, else the alternative attribute */
static int pn_of(const miaw_node *n, const miaw_jid *j, const char *alt, miaw_jid *out)
{
    if (!strcmp(j->server, MIAW_SERVER_USER)) return *out = *j, 0;
    return miaw_node_attr_jid(n, alt, out) == 0 && !strcmp(out->server, MIAW_SERVER_USER) ? 0 : -1;
}

/* retry receipts sent for id so far (after counting this one) */
static unsigned bump_fail(eng_inst *ei, const char *id)
{
    for (size_t i = 0; i < sizeof ei->fails / sizeof ei->fails[0]; i++)
        if (!strcmp(ei->fails[i].id, id)) return ++ei->fails[i].n;
    size_t i = ei->fail_i++ % (sizeof ei->fails / sizeof ei->fails[0]);
    snprintf(ei->fails[i].id, sizeof ei->fails[i].id, "%s", id);
    return ei->fails[i].n = 1;
}

/* <keys> for a retry receipt: our bundle with a fresh one-time pre-key and the ADV identity */
static miaw_node *retry_keys(eng_inst *ei)
{
    uint32_t first = 0;
    miaw_sig_bundle b;
    miaw_node *keys = miaw_node_new("keys");
    if (!keys || miaw_sig_generate_prekeys(ei->sig, 1, &first) != 0 || miaw_sig_own_bundle(ei->sig, first, &b) != 0 ||
        miaw_sig_bundle_to_node(&b, 0, keys) != 0) {
        miaw_node_free(keys);
        return NULL;
    }
    if (ei->creds.adv) {
        miaw_node *di = miaw_node_add(keys, "device-identity");
        if (di) miaw_node_set_bytes(di, ei->creds.adv, ei->creds.adv_len);
    }
    return keys;
}

void eng_recv_undecryptable(eng_inst *ei, const miaw_node *n, const char *from, int rc)
{
    const char *id = miaw_node_attr(n, "id");
    if (!miaw_sig_error_wants_retry(rc)) {
        MIAW_WARN("engine", "%s: message %s from %s cannot be decrypted: %s", ei->id, id, from, miaw_sig_strerror(rc));
        eng_emit(ei, "error", json_pack("{s:s,s:s,s:s,s:s}", "error", "message could not be decrypted", "messageId",
                                        id, "from", from, "reason", miaw_sig_strerror(rc)));
        ack(ei, n, "message", "500");
        return;
    }
    unsigned count = bump_fail(ei, id);
    MIAW_INFO("engine", "%s: message %s from %s cannot be decrypted (%s); retry receipt %u", ei->id, id, from,
              miaw_sig_strerror(rc), count);
    if (count == 1)
        eng_emit(ei, "error", json_pack("{s:s,s:s,s:s,s:s,s:b}", "error", "message could not be decrypted",
                                        "messageId", id, "from", from, "reason", miaw_sig_strerror(rc), "willRetry", 1));
    if (count > MAX_RETRY_RECEIPTS) {
        ack(ei, n, "message", "500");
        return;
    }
    miaw_node *keys = count > 1 ? retry_keys(ei) : NULL;
    send_free_node(ei, miaw_wa_retry_receipt(n, count, ei->creds.reg_id, keys));
    miaw_node_free(keys);
}

#define undecryptable eng_recv_undecryptable

json_t *eng_raw_mentions(const json_t *raw)
{
    json_t *out = json_array();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)raw, k, v) {
        json_t *m = json_object_get(json_object_get(v, "contextInfo"), "mentionedJid");
        if (!json_is_array(m)) continue;
        size_t i;
        json_t *j;
        json_array_foreach(m, i, j) if (json_is_string(j)) json_array_append(out, j);
        break;
    }
    return out;
}

void eng_recv_content_json(json_t *d, const miaw_wa_content *c)
{
    json_object_set_new(d, "type", json_string(miaw_wa_content_type_name(c->type)));
    json_object_set_new(d, "text", c->text ? json_string(c->text) : json_null());
    if (c->quoted_id) json_object_set_new(d, "quotedMessageId", json_string(c->quoted_id));
    json_t *raw = c->inner ? miaw_pb_json_decode(&miaw__wa__message__descriptor, c->inner, c->inner_len) : NULL;
    json_object_set_new(d, "mentions", raw ? eng_raw_mentions(raw) : json_array());
    if (raw) eng_proto_event_fields(d, raw); /* location, contacts */
    json_object_set_new(d, "raw", raw ? raw : json_null());
}

int eng_recv_decrypt_pair(eng_inst *ei, const miaw_sig_addr *addr, const miaw_sig_addr *alt, int type,
                          const uint8_t *ct, size_t len, uint8_t **pt, size_t *pt_len)
{
    int rc = miaw_sig_decrypt(ei->sig, addr, type, ct, len, pt, pt_len);
    if (rc && alt && type == MIAW_SIG_MSG && (rc == MIAW_SIG_E_NO_SESSION || rc == MIAW_SIG_E_INVALID)) {
        int rc2 = miaw_sig_decrypt(ei->sig, alt, type, ct, len, pt, pt_len);
        if (rc2 == 0 || rc2 == MIAW_SIG_E_DUPLICATE) return rc2;
    }
    return rc;
}

static json_t *event_data(const char *id, const char *from, const miaw_jid *pn, const char *chat, const char *notify,
                          const miaw_wa_content *c, int64_t t, int from_me)
{
    json_t *d = json_pack("{s:s,s:s,s:s,s:b,s:b,s:I}", "id", id, "from", from, "chat", chat, "isGroup", 0, "fromMe",
                          from_me, "timestamp", (json_int_t)t);
    json_object_set_new(d, "senderPhone", pn ? json_string(pn->user) : json_null());
    json_object_set_new(d, "senderName", notify ? json_string(notify) : json_null());
    eng_recv_content_json(d, c);
    return d;
}

void eng_recv_message(eng_inst *ei, const miaw_node *n)
{
    const char *id = miaw_node_attr(n, "id"), *notify = miaw_node_attr(n, "notify");
    miaw_jid from;
    uint64_t t = 0;
    if (!id || miaw_node_attr_jid(n, "from", &from) != 0 || !from.user[0] || miaw_node_attr_u64(n, "t", &t) != 0) {
        ack(ei, n, "message", "487");
        return;
    }
    char from_s[MIAW_JID_STR_MAX];
    miaw_jid_format(&from, from_s, sizeof from_s);
    if (!strcmp(from.server, MIAW_SERVER_GROUP) || !strcmp(from.server, MIAW_SERVER_BROADCAST)) {
        eng_recv_group_message(ei, n);
        return;
    }
    const miaw_node *enc = NULL;
    int type = 0;
    for (const miaw_node *e = miaw_node_child(n, "enc"); e && !enc; e = miaw_node_next(n, e, "enc")) {
        type = miaw_sig_type_parse(miaw_node_attr(e, "type"));
        if (type == MIAW_SIG_PKMSG || type == MIAW_SIG_MSG) enc = e;
    }
    size_t ct_len = 0;
    const uint8_t *ct = enc ? miaw_node_bytes(enc, &ct_len) : NULL;
    if (!ct || !ct_len || eng_sig_open(ei) != 0) { /* nothing this engine can read (unavailable, v3, ...) */
        ack(ei, n, "message", NULL);
        return;
    }
    int from_me = own_user(ei, &from);
    miaw_jid chat, pn, sender;
    int have_pn = pn_of(n, &from, "sender_pn", &pn) == 0;
    if (from_me) {
        if (miaw_node_attr_jid(n, "recipient", &chat) != 0) chat = from;
        miaw_jid rpn;
        if (strcmp(chat.server, MIAW_SERVER_USER) != 0 && pn_of(n, &chat, "peer_recipient_pn", &rpn) == 0) chat = rpn;
        miaw_jid_parse(&sender, ei->creds.jid);
        have_pn = 1, pn = sender;
    } else {
        chat = have_pn ? pn : from;
        sender = chat;
    }
    char chat_s[MIAW_JID_STR_MAX], sender_s[MIAW_JID_STR_MAX];
    user_str(&chat, chat_s, sizeof chat_s);
    user_str(&sender, sender_s, sizeof sender_s);
    if (eng_chat_exists(ei->e, ei->id, chat_s, id, from_me) == 1) { /* redelivered: already stored and emitted */
        send_free_node(ei, miaw_wa_receipt_for(n, from_me ? "sender" : NULL));
        return;
    }
    miaw_sig_addr addr, alt;
    uint8_t *pt = NULL;
    size_t pt_len = 0, len = 0;
    miaw_storage *db = ei->e->db;
    if (miaw_sig_addr_from_jid(&from, &addr) != 0) {
        ack(ei, n, "message", "487");
        return;
    }
    /* the session may be keyed by the sender's other namespace (a LID one made by a group) */
    miaw_jid other, odev;
    int have_alt = miaw_node_attr_jid(n, strcmp(from.server, MIAW_SERVER_LID) ? "sender_lid" : "sender_pn", &other) == 0 &&
                   miaw_jid_init(&odev, other.user, other.server, 0, from.device) == 0 &&
                   miaw_sig_addr_from_jid(&odev, &alt) == 0;
    if (miaw_storage_exec(db, "BEGIN") != 0) return; /* not acked: the server delivers it again */
    int rc = eng_recv_decrypt_pair(ei, &addr, have_alt ? &alt : NULL, type, ct, ct_len, &pt, &pt_len);
    if (rc == MIAW_SIG_E_DUPLICATE) {
        miaw_storage_exec(db, "ROLLBACK");
        send_free_node(ei, miaw_wa_receipt_for(n, from_me ? "sender" : NULL));
        return;
    }
    if (rc) {
        miaw_storage_exec(db, "ROLLBACK");
        if (rc == MIAW_E_IO || rc == MIAW_E_NOMEM) return; /* ours, not the sender's: redelivery will do */
        undecryptable(ei, n, from_s, rc);
        return;
    }
    miaw_wa_content c;
    if (miaw_wamsg_unpad(pt, pt_len, &len) != 0 || miaw_wa_content_parse(pt, len, &c) != 0) {
        free(pt);
        miaw_storage_exec(db, "COMMIT"); /* the session moved on; the payload is garbage */
        MIAW_WARN("engine", "%s: message %s from %s is not a readable Message", ei->id, id, from_s);
        eng_emit(ei, "error", json_pack("{s:s,s:s,s:s}", "error", "unreadable message payload", "messageId", id,
                                        "from", from_s));
        ack(ei, n, "message", "491");
        return;
    }
    if (from_me && c.type == MIAW_WA_CONTENT_PROTOCOL) eng_as_on_own_message(ei, pt, len); /* key shares */
    free(pt);
    int ok = 1, fresh = 0;
    if (eng_proto_visible(&c)) { /* a revoke or an edit: applied to the stored target, emitted, not stored */
        ok = eng_proto_apply(ei, chat_s, sender_s, from_me, &c, miaw_node_attr(n, "edit"), (int64_t)t) >= 0;
        if (ok)
            eng_emit(ei, "message", event_data(id, sender_s, have_pn ? &pn : NULL, chat_s, from_me ? NULL : notify, &c,
                                               (int64_t)t, from_me));
    } else if (c.type != MIAW_WA_CONTENT_PROTOCOL && c.type != MIAW_WA_CONTENT_SKDM_ONLY) {
        eng_msg_row row = {.chat = chat_s, .id = id, .sender = sender_s, .push_name = from_me ? NULL : notify,
                           .type = miaw_wa_content_type_name(c.type), .text = c.text, .quoted_id = c.quoted_id,
                           .status = from_me ? "sent" : "received", .from_me = from_me, .ts = (int64_t)t,
                           .raw = c.inner, .raw_len = c.inner_len};
        int ins = eng_chat_insert(ei->e, ei->id, &row);
        ok = ins >= 0;
        fresh = ins == 1 && !from_me && c.type != MIAW_WA_CONTENT_REACTION;
        if (ins == 1) miaw_metric_add("miaw_messages_received_total", 1, "type", row.type, "chat", "user", NULL);
        if (ins == 1)
            eng_emit(ei, "message", event_data(id, sender_s, have_pn ? &pn : NULL, chat_s, from_me ? NULL : notify, &c,
                                               (int64_t)t, from_me));
    }
    miaw_wa_content_clear(&c);
    if (!ok || miaw_storage_exec(db, "COMMIT") != 0) {
        miaw_storage_exec(db, "ROLLBACK");
        MIAW_ERR("engine", "%s: message %s could not be stored; left for redelivery", ei->id, id);
        return;
    }
    send_free_node(ei, miaw_wa_receipt_for(n, from_me ? "sender" : NULL));
    if (fresh) eng_auto_on_message(ei, n, chat_s); /* auto_mark_read, auto_reply */
}

void eng_recv_receipt(eng_inst *ei, const miaw_node *n)
{
    ack(ei, n, "receipt", NULL);
    const char *type = miaw_node_attr(n, "type"), *id = miaw_node_attr(n, "id");
    if (!id) return;
    if (type && !strcmp(type, "retry")) {
        eng_send_on_retry(ei, n);
        return;
    }
    const char *status = !type                                                   ? "delivered"
                         : !strcmp(type, "read") || !strcmp(type, "read-self")     ? "read"
                         : !strcmp(type, "played") || !strcmp(type, "played-self") ? "played"
                                                                                   : NULL;
    if (!status) return;
    eng_chat_set_status(ei->e, ei->id, id, 1, status, 0);
    const miaw_node *list = miaw_node_child(n, "list");
    for (const miaw_node *it = list ? miaw_node_child(list, "item") : NULL; it; it = miaw_node_next(list, it, "item")) {
        const char *iid = miaw_node_attr(it, "id");
        if (iid) eng_chat_set_status(ei->e, ei->id, iid, 1, status, 0);
    }
}

void eng_recv_ack(eng_inst *ei, const miaw_node *n)
{
    if (miaw_node_attr_is(n, "class", "message")) eng_send_on_ack(ei, n);
}

/* 1 when node (a notification child) names this very device as removed */
static int removes_me(eng_inst *ei, const miaw_node *x)
{
    miaw_jid j, me, lid;
    if (miaw_node_attr_jid(x, "jid", &j) != 0) return 0;
    if (miaw_jid_parse(&me, ei->creds.jid) == 0 && miaw_jid_same_user(&j, &me) && j.device == me.device) return 1;
    return ei->creds.lid[0] && miaw_jid_parse(&lid, ei->creds.lid) == 0 && miaw_jid_same_user(&j, &lid) &&
           j.device == lid.device;
}

void eng_recv_notification(eng_inst *ei, const miaw_node *n)
{
    const char *type = miaw_node_attr(n, "type");
    miaw_jid from, lid;
    char u[MIAW_JID_STR_MAX];
    if (!type || miaw_node_attr_jid(n, "from", &from) != 0) return;
    if (!strcmp(type, "w:gp2")) {
        eng_group_on_notification(ei, n);
        return;
    }
    if (!strcmp(type, "server_sync")) { /* app-state collections changed on another device */
        eng_as_on_server_sync(ei, n);
        return;
    }
    int mine = own_user(ei, &from);
    if (!strcmp(type, "devices") || (!strcmp(type, "account_sync") && miaw_node_child(n, "devices"))) {
        user_str(&from, u, sizeof u);
        eng_devlist_forget(ei, u);
        if (miaw_node_attr_jid(n, "lid", &lid) == 0) {
            user_str(&lid, u, sizeof u);
            eng_devlist_forget(ei, u);
        }
        if (mine && ei->creds.jid[0]) { /* the account's own list: also under the PN form */
            miaw_jid me;
            if (miaw_jid_parse(&me, ei->creds.jid) == 0) user_str(&me, u, sizeof u), eng_devlist_forget(ei, u);
        }
        MIAW_DEBUG("engine", "%s: device list of %s changed", ei->id, miaw_node_attr(n, "from"));
    }
    if (!mine) return;
    for (const miaw_node *c = miaw_node_child(n, NULL); c; c = miaw_node_next(n, c, NULL)) {
        int gone = !strcmp(c->tag, "remove-companion-device") && removes_me(ei, c);
        if (!strcmp(c->tag, "remove"))
            for (const miaw_node *d = miaw_node_child(c, "device"); d && !gone; d = miaw_node_next(c, d, "device"))
                gone = removes_me(ei, d);
        if (gone) {
            eng_logout(ei, "device removed (logged out from the phone)");
            return;
        }
    }
}

void eng_recv_other(eng_inst *ei, const miaw_node *n)
{
    /* calls are acknowledged (the server redelivers them otherwise); presence, chat
     * states and ib need no answer. Plugins get all of them through their stanza
     * subscriptions (the engine's tap runs after this). */
    if (!strcmp(n->tag, "call")) ack(ei, n, "call", NULL);
}
