/* sim/phone_group.c - the simulated phones as group members: group creation through
 * the control API, group messages (text, media) with sender keys (SKDM to every member
 * device in a pairwise pkmsg/msg, the message once as skmsg; the phone's sender key is
 * named by its LID address, as LID-addressed groups require), decryption of group
 * messages (pairwise SKDM first, then the skmsg; media fetched and checked as in 1:1)
 * recorded with the group as chat and the sender as participant and the skmsg's
 * sender-key id, delivery receipts to="<group>" participant=<sender>; member changes by
 * the phone through the control API. */
#include "phone_group.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "directory.h"
#include "base/log.h"
#include "miaw/plugin.h"
#include "phone.h"
#include "phone_kinds.h"
#include "phone_media.h"
#include "state.h"
#include "base/util.h"
#include "wa/signal_group.h"
#include "wa/signal_session.h"
#include "wa/wamsg.h"

#define PG_BOX_MAX 1000 /* as phone.c: records kept per direction */
#define PG_TEXT_MAX 65536

static json_t *pg_box(void **slot)
{
    if (!*slot) *slot = json_array();
    json_t *arr = *slot;
    while (json_array_size(arr) >= PG_BOX_MAX) json_array_remove(arr, 0);
    return arr;
}

/* ------------------------------------------------------------------ receiving */

/* decrypt one enc of the stanza; a pairwise message's SKDM is stored. *msg set when
 * a Message came out (caller frees). */
static int pg_decrypt(miaw_sim_account *a, const char *gjid, const miaw_sig_addr *from, const miaw_node *enc,
                      Miaw__Wa__Message **msg)
{
    size_t len, ptl;
    const uint8_t *ct = miaw_node_bytes(enc, &len);
    int type = miaw_sig_type_parse(miaw_node_attr(enc, "type"));
    uint8_t *pt = NULL;
    if (!ct || !type) return MIAW_E_INVAL;
    int rc = type == MIAW_SIG_SKMSG ? miaw_sig_group_decrypt(a->sig, gjid, from, ct, len, &pt, &ptl)
                                    : miaw_sig_decrypt(a->sig, from, type, ct, len, &pt, &ptl);
    if (rc) return rc;
    rc = miaw_wamsg_decode(pt, ptl, msg);
    free(pt);
    if (rc) return rc;
    Miaw__Wa__Message *m = *msg;
    if (m->devicesentmessage && m->devicesentmessage->message) m = m->devicesentmessage->message;
    if (m->senderkeydistributionmessage && m->senderkeydistributionmessage->has_axolotlsenderkeydistributionmessage) {
        const ProtobufCBinaryData *sk = &m->senderkeydistributionmessage->axolotlsenderkeydistributionmessage;
        int src = miaw_sig_group_process_skdm(a->sig, gjid, from, sk->data, sk->len);
        if (src) MIAW_WARN("sim", "phone %s: sender key of %s.%d refused (%s)", a->phone, from->name, from->device,
                           miaw_sig_strerror(src));
    }
    return 0;
}

/* the key id of a SenderKeyMessage (0x33 || protobuf{id = 1, …} || signature), -1 if unreadable */
static int64_t pg_sk_id(const uint8_t *ct, size_t len)
{
    if (len < 3 || ct[1] != 0x08) return -1; /* field 1, varint, comes first */
    uint64_t v = 0;
    for (size_t i = 2, shift = 0; i < len && shift < 35; i++, shift += 7) {
        v |= (uint64_t)(ct[i] & 0x7F) << shift;
        if (!(ct[i] & 0x80)) return (int64_t)v;
    }
    return -1;
}

static const char *pg_text(const Miaw__Wa__Message *m)
{
    if (m && m->devicesentmessage && m->devicesentmessage->message) m = m->devicesentmessage->message;
    if (!m) return NULL;
    if (m->conversation) return m->conversation;
    if (m->extendedtextmessage && m->extendedtextmessage->text) return m->extendedtextmessage->text;
    return NULL;
}

void miaw_sim_phone_group_on_message(miaw_sim *sim, miaw_sim_account *a, const miaw_node *n)
{
    miaw_jid gj;
    miaw_sim_addr s;
    const char *id = miaw_node_attr(n, "id");
    if (!id || miaw_node_attr_jid(n, "from", &gj) || miaw_sim_resolve_str(sim, miaw_node_attr(n, "participant"), &s)) {
        MIAW_WARN("sim", "phone %s: group message without a known participant dropped", a->phone);
        return;
    }
    char gjid[sizeof gj.user + 8];
    snprintf(gjid, sizeof gjid, "%s@g.us", gj.user);
    miaw_sig_addr from;
    miaw_sim_phone_addr(s.account, s.device, &from);
    /* the outcome is the skmsg's when there is one, else the first pairwise enc's */
    int rc = MIAW_E_NOTFOUND, have_sk = 0;
    const char *enc_type = NULL;
    json_t *text = json_null(), *kinds = json_object(); /* reactions, revokes…: phone_kinds.c */
    int64_t sk_id = -1;
    for (miaw_node *e = miaw_node_child(n, "enc"); e; e = miaw_node_next(n, e, "enc")) {
        Miaw__Wa__Message *m = NULL;
        int erc = pg_decrypt(a, gjid, &from, e, &m), sk = miaw_node_attr_is(e, "type", "skmsg");
        size_t ctl = 0;
        const uint8_t *ct = sk ? miaw_node_bytes(e, &ctl) : NULL;
        if (ct) sk_id = pg_sk_id(ct, ctl);
        if (sk || (!have_sk && rc == MIAW_E_NOTFOUND)) rc = erc;
        have_sk |= sk;
        if (!erc && m) { /* media (fetched and checked), reactions, revokes… */
            const Miaw__Wa__Message *body = m->devicesentmessage ? m->devicesentmessage->message : m;
            miaw_sim_phone_media_describe(body, kinds);
            miaw_sim_phone_kinds_describe(body, kinds);
        }
        const char *t = erc ? NULL : pg_text(m);
        if (t && json_is_null(text)) {
            json_decref(text);
            text = json_string(t);
            enc_type = miaw_node_attr(e, "type");
        } else if (sk && !enc_type) {
            enc_type = "skmsg";
        }
        if (m) miaw__wa__message__free_unpacked(m, NULL);
    }
    char pjid[80], pdev[80];
    miaw_sim_device_jid(s.account, 0, 0, pjid, sizeof pjid);
    miaw_sim_device_jid(s.account, s.device, 0, pdev, sizeof pdev);
    uint64_t t = 0;
    miaw_node_attr_u64(n, "t", &t);
    json_t *rec = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:o}", "id", id, "from", gjid, "chat", gjid, "participant",
                            pjid, "fromDevice", pdev, "type", miaw_node_attr(n, "type") ? miaw_node_attr(n, "type") : "",
                            "timestamp", (json_int_t)t, "text", text);
    json_object_update(rec, kinds);
    json_decref(kinds);
    if (enc_type) json_object_set_new(rec, "encType", json_string(enc_type));
    if (sk_id >= 0) json_object_set_new(rec, "senderKeyId", json_integer((json_int_t)sk_id));
    if (s.account == a) json_object_set_new(rec, "fromMe", json_true());
    if (miaw_node_attr(n, "offline")) json_object_set_new(rec, "offline", json_true());
    if (rc) json_object_set_new(rec, "error", json_string(miaw_sig_strerror(rc)));
    json_array_append_new(pg_box(&a->inbox), rec);
    MIAW_INFO("sim", "phone %s: group %s message %s from %s %s", a->phone, gj.user, id, pdev,
              rc ? miaw_sig_strerror(rc) : "decrypted");
    if (s.account != a && (!rc || miaw_sig_error_wants_retry(rc))) { /* the delivery (or retry) receipt */
        miaw_node *r = miaw_node_newv("receipt", "id", id, "participant", miaw_node_attr(n, "participant"), NULL);
        if (r && !miaw_node_set_jid_str(r, "to", gjid)) {
            if (rc) miaw_node_set_attr(r, "type", "retry");
            miaw_sim_group_route_receipt(sim, a, 0, r);
        }
        miaw_node_free(r);
    }
    miaw_sim_state_save(sim);
}

/* ------------------------------------------------------------------ sending */

/* the pairwise part: the phone's SKDM to every member device but itself */
static int pg_distribute(miaw_sim *sim, miaw_sim_account *a, miaw_sim_group *g, const char *gjid,
                         const miaw_sig_addr *self, miaw_node *parts, unsigned *sent, unsigned *failed)
{
    uint8_t *skdm = NULL, *pt = NULL;
    size_t skl, ptl;
    int rc = miaw_sig_group_skdm(a->sig, gjid, self, &skdm, &skl);
    if (!rc) rc = miaw_wamsg_encode_skdm(gjid, skdm, skl, &pt, &ptl);
    free(skdm);
    for (size_t i = 0; !rc && i < g->nmembers; i++) {
        miaw_sim_account *b = g->members[i].account;
        for (size_t k = 0; k <= b->ndevices; k++) {
            uint32_t dev = k ? b->devices[k - 1].id : 0;
            if (b == a && dev == 0) continue;
            /* appended as <to jid=<LID device>> */
            if (miaw_sim_phone_encrypt_to(sim, a, b, dev, pt, ptl, 1, parts)) (*failed)++;
            else (*sent)++;
        }
    }
    free(pt);
    return rc;
}

int miaw_sim_phone_group_send(miaw_sim *sim, miaw_sim_account *a, miaw_sim_group *g, const Miaw__Wa__Message *m,
                              const char *stanza_type, const char *mediatype, json_t *record, char *id, size_t cap,
                              const char **why)
{
    if (!miaw_sim_group_member(g, a)) {
        json_decref(record);
        *why = "the phone is not a member of this group";
        return MIAW_E_AUTH;
    }
    int rc = miaw_sim_phone_open(sim, a);
    if (rc) {
        json_decref(record);
        *why = "the phone's Signal store is not available";
        return rc;
    }
    char hex[19], gjid[48];
    if (miaw_random_hex(hex, 9)) return json_decref(record), MIAW_E_INTERNAL;
    for (char *p = hex; *p; p++)
        if (*p >= 'a' && *p <= 'f') *p = (char)(*p - 'a' + 'A');
    snprintf(id, cap, "3EB0%s", hex);
    miaw_sim_group_jid(g, gjid, sizeof gjid);
    miaw_sig_addr self;
    miaw_sim_phone_addr(a, 0, &self);
    miaw_node *st = miaw_node_newv("message", "id", id, "type", stanza_type, "addressing_mode", "lid", NULL);
    miaw_node *parts = st && !miaw_node_set_jid_str(st, "to", gjid) ? miaw_node_add(st, "participants") : NULL;
    unsigned sent = 0, failed = 0;
    rc = parts ? pg_distribute(sim, a, g, gjid, &self, parts, &sent, &failed) : MIAW_E_NOMEM;
    uint8_t *pt = NULL, *ct = NULL;
    size_t ptl, ctl;
    if (!rc) rc = miaw_wamsg_encode(m, &pt, &ptl);
    if (!rc) rc = miaw_sig_group_encrypt(a->sig, gjid, &self, pt, ptl, &ct, &ctl);
    free(pt);
    miaw_node *enc = !rc ? miaw_node_addv(st, "enc", "v", "2", "type", "skmsg", NULL) : NULL;
    if (!rc) rc = enc ? miaw_node_set_bytes(enc, ct, ctl) : MIAW_E_NOMEM;
    if (!rc && mediatype) miaw_node_set_attr(enc, "mediatype", mediatype); /* as clients mark media */
    free(ct);
    if (!rc && !sent && g->nmembers > 1) {
        rc = MIAW_E_NOTFOUND;
        *why = "no device of the group's members could be reached";
    }
    if (!rc) {
        miaw_sim_group_route_message(sim, a, 0, st);
        json_t *rec = record ? record : json_object();
        record = NULL;
        json_object_set_new(rec, "id", json_string(id));
        json_object_set_new(rec, "to", json_string(gjid));
        json_object_set_new(rec, "chat", json_string(gjid));
        json_object_set_new(rec, "timestamp", json_integer((json_int_t)miaw_sim_now()));
        json_object_set_new(rec, "receipts", json_array());
        json_array_append_new(pg_box(&a->outbox), rec);
        miaw_sim_state_save(sim);
        MIAW_INFO("sim", "phone %s: group %s message %s (%u devices got the sender key, %u failed)", a->phone, g->id, id,
                  sent, failed);
    } else if (!*why) {
        *why = "encryption failed";
    }
    json_decref(record);
    miaw_node_free(st);
    return rc;
}

int miaw_sim_phone_group_send_text(miaw_sim *sim, miaw_sim_account *a, miaw_sim_group *g, const char *text,
                                   char *id, size_t cap, const char **why)
{
    Miaw__Wa__Message msg = MIAW__WA__MESSAGE__INIT;
    msg.conversation = (char *)text;
    return miaw_sim_phone_group_send(sim, a, g, &msg, "text", NULL, json_pack("{s:s}", "text", text), id, cap, why);
}

/* ------------------------------------------------------------------ control */

static void pg_bad(h2o_req_t *req, int status, const char *code, const char *field, const char *msg)
{
    miaw_sim_http_json(req, status, miaw_sim_error_json(code, field, msg));
}

static json_t *pg_group_json(const miaw_sim_group *g)
{
    char gjid[48], j[80];
    miaw_sim_group_jid(g, gjid, sizeof gjid);
    json_t *parts = json_array();
    for (size_t i = 0; i < g->nmembers; i++) {
        miaw_sim_device_jid(g->members[i].account, 0, 0, j, sizeof j);
        int rank = g->members[i].rank;
        json_array_append_new(parts, json_pack("{s:s,s:o}", "jid", j, "admin",
                                               rank == MIAW_SIM_SUPERADMIN ? json_string("superadmin")
                                               : rank == MIAW_SIM_ADMIN    ? json_string("admin")
                                                                           : json_null()));
    }
    return json_pack("{s:s,s:s,s:s,s:o,s:s}", "jid", gjid, "id", g->id, "subject", g->subject, "participants", parts,
                     "invite", g->invite);
}

/* the accounts a participants array names (phone numbers or JIDs; NULL where unknown,
 * the first such entry in *bad_one); calloc'd */
static miaw_sim_account **pg_accounts(miaw_sim *sim, json_t *jp, const char **bad_one)
{
    size_t n = json_array_size(jp), i;
    miaw_sim_account **who = calloc(n ? n : 1, sizeof *who);
    json_t *v;
    if (who) json_array_foreach(jp, i, v) {
        const char *s = json_string_value(v);
        miaw_sim_addr ad;
        if (s && miaw_sim_phone_valid(s)) who[i] = miaw_sim_account_find(sim, s);
        else if (s && miaw_sim_resolve_str(sim, s, &ad) != MIAW_E_INVAL) who[i] = ad.account;
        if (!who[i] && !*bad_one) *bad_one = s ? s : "(not a string)";
    }
    return who;
}

/* {"group","action":"add|remove|promote|demote","participants":[…]}: the phone changes
 * the members as its w:g2 IQ would (notifications included) */
static void pg_participants(miaw_sim *sim, h2o_req_t *req, miaw_sim_account *a, json_t *b)
{
    const char *action = json_string_value(json_object_get(b, "action"));
    json_t *jp = json_object_get(b, "participants");
    miaw_sim_group *g = miaw_sim_group_find(sim, json_string_value(json_object_get(b, "group")));
    if (!g) {
        pg_bad(req, 404, "NOT_FOUND", "group", "no such group");
        return;
    }
    if (!json_is_array(jp) || !json_array_size(jp) || json_array_size(jp) >= MIAW_SIM_GROUP_MEMBERS_MAX) {
        pg_bad(req, 400, "INVALID_REQUEST", "participants", "participants must be an array of 1-256 entries");
        return;
    }
    size_t n = json_array_size(jp);
    const char *bad_one = NULL;
    miaw_sim_account **who = pg_accounts(sim, jp, &bad_one);
    int *codes = calloc(n, sizeof *codes);
    int rc = who && codes ? miaw_sim_group_participants(sim, g, a, 0, action ? action : "", who, n, codes) : MIAW_E_NOMEM;
    if (rc == MIAW_E_INVAL) {
        pg_bad(req, 400, "INVALID_REQUEST", "action", "action must be add, remove, promote or demote");
    } else if (rc == MIAW_E_AUTH) {
        pg_bad(req, 403, "INVALID_REQUEST", NULL, "the phone may not change this group's members");
    } else if (rc) {
        pg_bad(req, 500, "INTERNAL_ERROR", NULL, "cannot change the members");
    } else {
        json_t *out = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(out, json_pack("{s:O,s:i}", "jid", json_array_get(jp, i), "code", codes[i]));
        miaw_sim_http_json(req, 200, json_pack("{s:o}", "participants", out));
    }
    free(who);
    free(codes);
}

static void pg_create(miaw_sim *sim, h2o_req_t *req, miaw_sim_account *a)
{
    json_error_t je;
    json_t *b = req->entity.len <= PG_TEXT_MAX ? json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES, &je)
                                               : NULL;
    const char *subject = json_string_value(json_object_get(b, "subject"));
    json_t *jp = json_object_get(b, "participants");
    if (!json_is_object(b)) {
        pg_bad(req, 400, "INVALID_REQUEST", "body", "the body must be a JSON object of at most 64 KiB");
    } else if (json_object_get(b, "action")) {
        pg_participants(sim, req, a, b);
    } else if (!subject || !*subject || strlen(subject) > MIAW_SIM_GROUP_SUBJECT_MAX) {
        pg_bad(req, 400, "INVALID_REQUEST", "subject", "subject must be a non-empty string of at most 100 bytes");
    } else if (jp && (!json_is_array(jp) || json_array_size(jp) >= MIAW_SIM_GROUP_MEMBERS_MAX)) {
        pg_bad(req, 400, "INVALID_REQUEST", "participants", "participants must be an array of at most 256 entries");
    } else {
        size_t n = json_array_size(jp);
        const char *bad_one = NULL;
        miaw_sim_account **who = pg_accounts(sim, jp, &bad_one);
        miaw_sim_group *g = NULL;
        int rc = !who ? MIAW_E_NOMEM : bad_one ? MIAW_E_NOTFOUND : miaw_sim_group_create(sim, a, 0, subject, who, n, NULL, &g);
        if (rc == MIAW_E_NOTFOUND) pg_bad(req, 404, "NOT_FOUND", "participants", "a participant is not an account on the network");
        else if (rc == MIAW_E_LIMIT) pg_bad(req, 409, "CONFLICT", NULL, "too many groups on the network");
        else if (rc) pg_bad(req, 500, "INTERNAL_ERROR", NULL, "cannot create the group");
        else miaw_sim_http_json(req, 201, pg_group_json(g));
        free(who);
    }
    json_decref(b);
}

void miaw_sim_phone_group_control(miaw_sim *sim, h2o_req_t *req, const char *phone, int post)
{
    miaw_sim_account *a = miaw_sim_account_find(sim, phone);
    if (!a) {
        pg_bad(req, 404, "NOT_FOUND", "phone", "no account with this phone");
        return;
    }
    if (post) {
        pg_create(sim, req, a);
        return;
    }
    json_t *arr = json_array();
    for (miaw_sim_group *g = sim->groups; g; g = g->next)
        if (miaw_sim_group_member(g, a)) json_array_insert_new(arr, 0, pg_group_json(g));
    miaw_sim_http_json(req, 200, json_pack("{s:o}", "groups", arr));
}
