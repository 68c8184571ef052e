/* core/engine/engine_recv_group.c - incoming group and broadcast messages (protocol facts
 * 8.1, 8.2, 9.5): <message from="<group>@g.us|<list>@broadcast" participant=<sender
 * device> [participant_pn|participant_lid]> with a pairwise pkmsg/msg (our copy of the
 * sender's SKDM, or the message itself in a retry resend) and the skmsg, processed in
 * order. The SKDM goes into the sender-key store under (group, sender's LID address when
 * known), the skmsg is decrypted with it; store (revokes and edits: applied to their
 * target by engine_protocol.c), event `message` (isGroup, participant,
 * raw) and the Signal state commit in one sqlite transaction, then the receipt (with
 * participant). An skmsg we have no key for gets a retry receipt (bounded, as for 1:1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"
#include "base/metrics.h"
#include "base/log.h"
#include "wa/signal_group.h"
#include "wa/wamsg.h"
#include "wa_message.pb-c.h"

/* who sent it, in both namespaces as far as the stanza tells */
typedef struct sender {
    miaw_jid dev;             /* participant as given (a device JID) */
    miaw_jid lid, pn;         /* user JIDs; server "" when unknown */
    miaw_sig_addr pair, alt;  /* session addresses: as given, and the other namespace */
    int have_alt;
    miaw_sig_addr key;        /* sender-key address: the LID device when known */
    char user_s[MIAW_JID_STR_MAX]; /* the sender's user JID for events: PN when known */
} sender;

static int sender_of(const miaw_node *n, sender *s)
{
    memset(s, 0, sizeof *s);
    if (miaw_node_attr_jid(n, "participant", &s->dev) != 0 || !s->dev.user[0] ||
        miaw_sig_addr_from_jid(&s->dev, &s->pair) != 0)
        return MIAW_E_INVAL;
    int is_lid = !strcmp(s->dev.server, MIAW_SERVER_LID);
    miaw_jid alt, altdev;
    int got_alt = miaw_node_attr_jid(n, is_lid ? "participant_pn" : "participant_lid", &alt) == 0 && alt.user[0];
    miaw_jid_init(is_lid ? &s->lid : &s->pn, s->dev.user, s->dev.server, 0, 0);
    if (got_alt) miaw_jid_init(is_lid ? &s->pn : &s->lid, alt.user, alt.server, 0, 0);
    s->have_alt = got_alt && miaw_jid_init(&altdev, alt.user, alt.server, 0, s->dev.device) == 0 &&
                  miaw_sig_addr_from_jid(&altdev, &s->alt) == 0;
    s->key = s->lid.user[0] && !is_lid && s->have_alt ? s->alt : s->pair;
    miaw_jid_format(s->pn.server[0] ? &s->pn : is_lid ? &s->lid : &s->pn, s->user_s, sizeof s->user_s);
    return 0;
}

/* what the encs of one stanza gave */
typedef struct outcome {
    int pair_rc, sk_rc;       /* first failure of each kind (0 = none) */
    int have_pair, have_sk;   /* such an enc was there */
    int sk_ok;
    miaw_wa_content pair_c, sk_c; /* content (type SKDM_ONLY when only a key came pairwise) */
    int pair_has_c, sk_has_c;
    int garbage;              /* a decrypted payload that is not a Message */
} outcome;

/* a decrypted pairwise Message: its SKDM into the store (under the stanza's group,
 * whatever groupId it names), its content kept */
static int take_pairwise(eng_inst *ei, const char *group, const sender *snd, const uint8_t *pt, size_t len,
                         outcome *o)
{
    Miaw__Wa__Message *m = miaw__wa__message__unpack(NULL, len, pt);
    if (!m) return MIAW_E_INVAL;
    const Miaw__Wa__Message *b = m->devicesentmessage && m->devicesentmessage->message ? m->devicesentmessage->message : m;
    const Miaw__Wa__Message__SenderKeyDistributionMessage *d =
        b->senderkeydistributionmessage ? b->senderkeydistributionmessage : m->senderkeydistributionmessage;
    int rc = 0;
    if (d && d->has_axolotlsenderkeydistributionmessage) {
        rc = miaw_sig_group_process_skdm(ei->sig, group, &snd->key, d->axolotlsenderkeydistributionmessage.data,
                                         d->axolotlsenderkeydistributionmessage.len);
        if (rc && rc != MIAW_E_NOMEM && rc != MIAW_E_IO) {
            MIAW_WARN("engine", "%s: sender key of %s for %s refused: %s", ei->id, snd->pair.name, group,
                      miaw_sig_strerror(rc));
            rc = 0;
        }
    }
    miaw__wa__message__free_unpacked(m, NULL);
    if (rc) return rc;
    if (!o->pair_has_c && miaw_wa_content_parse(pt, len, &o->pair_c) == 0) o->pair_has_c = 1;
    return 0;
}

/* decrypt every enc in order; MIAW_E_IO / MIAW_E_NOMEM: ours, roll back */
static int decrypt_all(eng_inst *ei, const miaw_node *n, const char *group, const sender *snd, outcome *o)
{
    for (const miaw_node *e = miaw_node_child(n, "enc"); e; e = miaw_node_next(n, e, "enc")) {
        int type = miaw_sig_type_parse(miaw_node_attr(e, "type"));
        size_t ctl = 0, ptl = 0, len = 0;
        const uint8_t *ct = miaw_node_bytes(e, &ctl);
        uint8_t *pt = NULL;
        int rc;
        if (!ct || !ctl || !type) continue; /* v=3, msmsg, empty: nothing we read */
        if (type == MIAW_SIG_SKMSG) {
            o->have_sk = 1;
            rc = miaw_sig_group_decrypt(ei->sig, group, &snd->key, ct, ctl, &pt, &ptl);
        } else {
            o->have_pair = 1;
            rc = eng_recv_decrypt_pair(ei, &snd->pair, snd->have_alt ? &snd->alt : NULL, type, ct, ctl, &pt, &ptl);
        }
        if (rc == MIAW_E_IO || rc == MIAW_E_NOMEM) return rc;
        if (rc == 0 && miaw_wamsg_unpad(pt, ptl, &len) != 0) rc = MIAW_E_INVAL, o->garbage = 1;
        if (rc == 0 && type == MIAW_SIG_SKMSG) {
            if (miaw_wa_content_parse(pt, len, &o->sk_c) == 0) o->sk_ok = o->sk_has_c = 1;
            else o->garbage = 1;
        } else if (rc == 0) {
            rc = take_pairwise(ei, group, snd, pt, len, o);
            if (rc == MIAW_E_IO || rc == MIAW_E_NOMEM) {
                free(pt);
                return rc;
            }
            if (rc) o->garbage = 1;
        }
        free(pt);
        int *first = type == MIAW_SIG_SKMSG ? &o->sk_rc : &o->pair_rc;
        if (rc && !*first) *first = rc;
    }
    return 0;
}

static json_t *event_data(const miaw_node *n, const char *chat, int is_group, const sender *snd, int from_me,
                          const char *own_s, const miaw_wa_content *c, int64_t t)
{
    const char *who = from_me ? own_s : snd->user_s;
    const char *notify = from_me ? NULL : miaw_node_attr(n, "notify");
    json_t *d = json_pack("{s:s,s:s,s:s,s:s,s:b,s:b,s:I}", "id", miaw_node_attr(n, "id"), "from", who, "participant",
                          who, "chat", chat, "isGroup", is_group, "fromMe", from_me, "timestamp", (json_int_t)t);
    miaw_jid me;
    const char *phone = from_me ? (miaw_jid_parse(&me, own_s) == 0 ? me.user : NULL)
                                : snd->pn.server[0] ? snd->pn.user : NULL;
    json_object_set_new(d, "senderPhone", phone ? json_string(phone) : json_null());
    if (!from_me && snd->lid.server[0]) {
        char l[MIAW_JID_STR_MAX];
        miaw_jid_format(&snd->lid, l, sizeof l);
        json_object_set_new(d, "senderLid", json_string(l));
    }
    json_object_set_new(d, "senderName", notify ? json_string(notify) : json_null());
    eng_recv_content_json(d, c);
    return d;
}

static void ack_msg(eng_inst *ei, const miaw_node *n, const char *code)
{
    eng_recv_send_free(ei, miaw_wa_ack_for(n, "message", code));
}

static void receipt(eng_inst *ei, const miaw_node *n, int from_me)
{
    eng_recv_send_free(ei, miaw_wa_receipt_for(n, from_me ? "sender" : NULL));
}

/* stores and emits c; 0, or -1 when the row could not be written */
static int deliver(eng_inst *ei, const miaw_node *n, const char *chat, int is_group, const sender *snd, int from_me,
                   const miaw_wa_content *c)
{
    int proto = eng_proto_visible(c); /* a revoke or an edit: applied and emitted, not stored */
    if (!proto && (c->type == MIAW_WA_CONTENT_PROTOCOL || c->type == MIAW_WA_CONTENT_SKDM_ONLY)) return 0;
    miaw_jid me, own;
    char own_s[MIAW_JID_STR_MAX] = "";
    if (miaw_jid_parse(&me, ei->creds.jid) == 0 && miaw_jid_init(&own, me.user, me.server, 0, 0) == 0)
        miaw_jid_format(&own, own_s, sizeof own_s);
    uint64_t t = 0;
    miaw_node_attr_u64(n, "t", &t);
    const char *id = miaw_node_attr(n, "id");
    if (proto) {
        int rc = eng_proto_apply(ei, chat, from_me ? own_s : snd->user_s, from_me, c, miaw_node_attr(n, "edit"),
                                 (int64_t)t);
        if (rc >= 0) eng_emit(ei, "message", event_data(n, chat, is_group, snd, from_me, own_s, c, (int64_t)t));
        return rc < 0 ? -1 : 0;
    }
    eng_msg_row row = {.chat = chat, .id = id, .sender = from_me ? own_s : snd->user_s,
                       .push_name = from_me ? NULL : miaw_node_attr(n, "notify"),
                       .type = miaw_wa_content_type_name(c->type), .text = c->text, .quoted_id = c->quoted_id,
                       .status = from_me ? "sent" : "received", .from_me = from_me, .ts = (int64_t)t,
                       .raw = c->inner, .raw_len = c->inner_len};
    int ins = eng_chat_insert(ei->e, ei->id, &row);
    if (ins == 1) miaw_metric_add("miaw_messages_received_total", 1, "type", row.type, "chat", is_group ? "group" : "broadcast", NULL);
    if (ins == 1) eng_emit(ei, "message", event_data(n, chat, is_group, snd, from_me, own_s, c, (int64_t)t));
    return ins < 0 ? -1 : 0;
}

void eng_recv_group_message(eng_inst *ei, const miaw_node *n)
{
    const char *id = miaw_node_attr(n, "id");
    miaw_jid from;
    sender snd;
    char chat[MIAW_JID_STR_MAX];
    if (!id || miaw_node_attr_jid(n, "from", &from) != 0 || miaw_jid_format(&from, chat, sizeof chat) < 0 ||
        sender_of(n, &snd) != 0) {
        ack_msg(ei, n, "487"); /* a group or broadcast message names its sender */
        return;
    }
    int is_group = !strcmp(from.server, MIAW_SERVER_GROUP);
    int from_me = eng_recv_own_user(ei, &snd.dev);
    if (!miaw_node_child(n, "enc")) { /* <unavailable> and the like: nothing to decrypt */
        MIAW_INFO("engine", "%s: message %s in %s from %s carries no ciphertext", ei->id, id, chat, snd.user_s);
        ack_msg(ei, n, NULL);
        return;
    }
    if (eng_chat_exists(ei->e, ei->id, chat, id, from_me) == 1) { /* redelivered: stored and emitted before */
        receipt(ei, n, from_me);
        return;
    }
    miaw_storage *db = ei->e->db;
    if (eng_sig_open(ei) != 0 || miaw_storage_exec(db, "BEGIN") != 0) return; /* not acked: delivered again */
    outcome o = {0};
    int rc = decrypt_all(ei, n, chat, &snd, &o);
    char dev_s[MIAW_JID_STR_MAX];
    miaw_jid_format(&snd.dev, dev_s, sizeof dev_s);
    const miaw_wa_content *c = o.sk_has_c ? &o.sk_c : o.pair_has_c ? &o.pair_c : NULL;
    int dup = o.have_sk ? o.sk_rc == MIAW_SIG_E_DUPLICATE : o.pair_rc == MIAW_SIG_E_DUPLICATE;
    int failed = o.have_sk ? !o.sk_ok && !(o.pair_has_c && o.pair_c.type != MIAW_WA_CONTENT_SKDM_ONLY)
                           : o.have_pair && !o.pair_has_c;
    if (rc || dup) {
        miaw_storage_exec(db, "ROLLBACK");
        if (dup) receipt(ei, n, from_me);
    } else if (o.garbage && !c) {
        miaw_storage_exec(db, "COMMIT"); /* the keys moved on; the payload is garbage */
        MIAW_WARN("engine", "%s: message %s in %s from %s is not a readable Message", ei->id, id, chat, dev_s);
        eng_emit(ei, "error", json_pack("{s:s,s:s,s:s,s:s}", "error", "unreadable message payload", "messageId", id,
                                        "from", dev_s, "chat", chat));
        ack_msg(ei, n, "491");
    } else if (failed || (!o.have_sk && !o.have_pair)) {
        /* keep what the pairwise part gave (a session step, a sender key), ask again */
        miaw_storage_exec(db, "COMMIT");
        int why = o.have_sk ? o.sk_rc : o.pair_rc;
        if (!o.have_sk && !o.have_pair) ack_msg(ei, n, NULL); /* only encs we do not read */
        else eng_recv_undecryptable(ei, n, dev_s, why ? why : MIAW_SIG_E_INVALID);
    } else if ((c && deliver(ei, n, chat, is_group, &snd, from_me, c) != 0) || miaw_storage_exec(db, "COMMIT") != 0) {
        miaw_storage_exec(db, "ROLLBACK");
        MIAW_ERR("engine", "%s: message %s in %s could not be stored; left for redelivery", ei->id, id, chat);
    } else {
        if (o.pair_rc && o.sk_ok)
            MIAW_DEBUG("engine", "%s: message %s in %s: pairwise part unreadable (%s), skmsg read", ei->id, id, chat,
                       miaw_sig_strerror(o.pair_rc));
        receipt(ei, n, from_me);
    }
    miaw_wa_content_clear(&o.pair_c);
    miaw_wa_content_clear(&o.sk_c);
}
