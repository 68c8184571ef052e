/* sim/phone.c - each account's simulated phone (device 0) as a Signal client: keys in a
 * sqlite-backed Signal store, its public bundle for pre-key fetches, decryption of what
 * the server delivers to it (messages kept, delivery receipts sent back, receipts for
 * its own messages recorded), and sending text to a recipient's devices and its own
 * companions. Owns the phones' database, stores and inbox/outbox JSON. */
#include "phone.h"

#include <inttypes.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "directory.h"
#include "phone_group.h"
#include "phone_retry.h"
#include "phone_media.h"
#include "phone_kinds.h"
#include "base/log.h"
#include "miaw/plugin.h"
#include "appstate.h"
#include "route.h"
#include "state.h"
#include "base/util.h"
#include "wa/signal_keys.h"
#include "wa/signal_session.h"
#include "wa_message.pb-c.h"

#define PREKEY_BATCH 30
#define PREKEY_LOW 10
#define BOX_MAX 1000 /* messages kept per direction and phone */

int miaw_sim_phones_open(miaw_sim *sim, char *err, size_t errcap)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/phones.db", sim->state_dir ? sim->state_dir : "");
    sqlite3 *db = NULL;
    if (sqlite3_open(sim->state_dir ? path : ":memory:", &db) != SQLITE_OK) {
        snprintf(err, errcap, "cannot open %s", sim->state_dir ? path : "the in-memory phone database");
        sqlite3_close(db);
        return MIAW_E_IO;
    }
    if (sim->state_dir) {
        sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
        chmod(path, 0600);
    }
    miaw_sig_db *sdb;
    if (miaw_sig_db_open(db, &sdb)) {
        snprintf(err, errcap, "cannot create the Signal tables in the phone database");
        sqlite3_close(db);
        return MIAW_E_IO;
    }
    sim->sqlite = db;
    sim->sigdb = sdb;
    return 0;
}

void miaw_sim_phones_close(miaw_sim *sim)
{
    for (miaw_sim_account *a = sim->accounts; a; a = a->next) {
        miaw_sig_store_close(a->sig);
        a->sig = NULL;
    }
    miaw_sig_db_close(sim->sigdb);
    sqlite3_close(sim->sqlite);
    sim->sigdb = NULL;
    sim->sqlite = NULL;
}

/* publish n new one-time pre-keys in a->phone */
static int publish_prekeys(miaw_sim_account *a, uint32_t n)
{
    uint32_t first;
    int rc = miaw_sig_generate_prekeys(a->sig, n, &first);
    for (uint32_t i = 0; !rc && i < n; i++) {
        uint32_t id = (first - 1 + i) % MIAW_SIG_PREKEY_ID_MAX + 1;
        miaw_keypair kp;
        miaw_sim_prekey k = {id, {0}};
        if (!(rc = miaw_sig_store_get_prekey(a->sig, id, &kp))) {
            memcpy(k.pub, kp.pub, 32);
            rc = miaw_sim_prekeys_put(&a->primary, &k, 1);
        }
        memset(&kp, 0, sizeof kp);
    }
    return rc;
}

int miaw_sim_phone_open(miaw_sim *sim, miaw_sim_account *a)
{
    if (a->sig) return 0;
    if (!sim->sigdb) return MIAW_E_STATE;
    char owner[48];
    snprintf(owner, sizeof owner, "phone:%s", a->phone);
    int rc = miaw_sig_store_open(sim->sigdb, owner, &a->sig);
    if (rc) return rc;
    miaw_keypair ident;
    uint32_t reg;
    rc = miaw_sig_store_get_identity(a->sig, &ident, &reg);
    memset(&ident, 0, sizeof ident);
    if (rc == 0 && a->primary.skey_id) return 0; /* keys and published bundle both known */
    /* first use: the account's identity key is the phone's Signal identity */
    uint8_t r[2];
    if (miaw_random(r, 2)) return MIAW_E_INTERNAL;
    reg = 1 + (((uint32_t)r[0] << 8 | r[1]) % 16380);
    uint32_t spk;
    rc = miaw_sig_store_set_identity(a->sig, &a->identity, reg);
    if (!rc) rc = miaw_sig_generate_signed_prekey(a->sig, 0, &spk);
    if (!rc) rc = miaw_sig_signed_prekey_get(a->sig, spk, &a->primary.skey_id, a->primary.skey_pub, a->primary.skey_sig);
    if (!rc) {
        a->primary.id = 0;
        a->primary.reg_id = reg;
        memcpy(a->primary.identity_pub, a->identity.pub, 32);
        a->primary.nprekeys = 0;
        rc = publish_prekeys(a, PREKEY_BATCH);
    }
    if (rc) {
        MIAW_ERR("sim", "phone %s: key setup failed (%s)", a->phone, miaw_sig_strerror(rc));
        miaw_sig_store_close(a->sig);
        a->sig = NULL;
        a->primary.skey_id = 0;
        return rc;
    }
    miaw_sim_state_save(sim);
    MIAW_INFO("sim", "phone %s: Signal keys ready (registration %u, %zu pre-keys)", a->phone, reg, a->primary.nprekeys);
    return 0;
}

void miaw_sim_phone_refill(miaw_sim *sim, miaw_sim_account *a)
{
    if (!a->sig || a->primary.nprekeys >= PREKEY_LOW) return;
    if (publish_prekeys(a, PREKEY_BATCH)) MIAW_WARN("sim", "phone %s: pre-key refill failed", a->phone);
    miaw_sim_state_save(sim);
}

/* ------------------------------------------------------------------ records */

static json_t *box(void **slot)
{
    if (!*slot) *slot = json_array();
    json_t *arr = *slot;
    while (json_array_size(arr) >= BOX_MAX) json_array_remove(arr, 0);
    return arr;
}

json_t *miaw_sim_phone_messages_json(miaw_sim_account *a)
{
    return json_pack("{s:O,s:O}", "messages", box(&a->inbox), "sent", box(&a->outbox));
}

void miaw_sim_phone_addr(const miaw_sim_account *b, uint32_t dev, miaw_sig_addr *out)
{
    char name[MIAW_SIM_PHONE_MAX + 4];
    snprintf(name, sizeof name, "%s_1", b->lid); /* sessions keyed by the LID address */
    miaw_sig_addr_set(out, name, (int32_t)dev);
}

/* ------------------------------------------------------------------ receiving */

static const char *message_text(const Miaw__Wa__Message *m)
{
    if (!m) return NULL;
    if (m->conversation) return m->conversation;
    if (m->extendedtextmessage && m->extendedtextmessage->text) return m->extendedtextmessage->text;
    return NULL;
}

/* decrypt one <enc>; fills *msg (caller frees) or returns an error code */
static int decrypt_enc(miaw_sim_account *a, const miaw_sig_addr *from, const miaw_node *enc, Miaw__Wa__Message **msg)
{
    size_t len, ptl;
    const uint8_t *ct = miaw_node_bytes(enc, &len);
    int type = miaw_sig_type_parse(miaw_node_attr(enc, "type"));
    uint8_t *pt = NULL;
    if (!ct || (type != MIAW_SIG_PKMSG && type != MIAW_SIG_MSG)) return MIAW_E_INVAL;
    int rc = miaw_sig_decrypt(a->sig, from, type, ct, len, &pt, &ptl);
    if (rc) return rc;
    /* WhatsApp padding: the last byte says how many bytes to drop */
    if (!ptl || pt[ptl - 1] == 0 || pt[ptl - 1] > ptl) rc = MIAW_E_INVAL;
    else *msg = miaw__wa__message__unpack(NULL, ptl - pt[ptl - 1], pt);
    free(pt);
    return rc ? rc : *msg ? 0 : MIAW_E_INVAL;
}

static void on_message(miaw_sim *sim, miaw_sim_account *a, const miaw_node *n)
{
    miaw_sim_addr from;
    const char *id = miaw_node_attr(n, "id"), *from_s = miaw_node_attr(n, "from");
    if (from_s && strstr(from_s, "@g.us")) {
        miaw_sim_phone_group_on_message(sim, a, n);
        return;
    }
    if (!id || miaw_sim_resolve_str(sim, from_s, &from)) {
        MIAW_WARN("sim", "phone %s: message from an unknown sender dropped", a->phone);
        return;
    }
    miaw_sig_addr addr;
    miaw_sim_phone_addr(from.account, from.device, &addr);
    Miaw__Wa__Message *m = NULL;
    int rc = MIAW_E_NOTFOUND;
    const miaw_node *enc = NULL;
    for (enc = miaw_node_child(n, "enc"); enc; enc = miaw_node_next(n, enc, "enc"))
        if (!(rc = decrypt_enc(a, &addr, enc, &m))) break;
    char fjid[80], fdev[80];
    miaw_sim_device_jid(from.account, 0, 0, fjid, sizeof fjid);
    miaw_sim_device_jid(from.account, from.device, 0, fdev, sizeof fdev);
    uint64_t t = 0;
    miaw_node_attr_u64(n, "t", &t);
    json_t *e = json_pack("{s:s,s:s,s:s,s:s,s:I}", "id", id, "from", fjid, "fromDevice", fdev, "type",
                          miaw_node_attr(n, "type") ? miaw_node_attr(n, "type") : "", "timestamp", (json_int_t)t);
    if (enc) json_object_set_new(e, "encType", json_string(miaw_node_attr(enc, "type")));
    if (miaw_node_attr(n, "offline")) json_object_set_new(e, "offline", json_true());
    const Miaw__Wa__Message *body = m;
    if (m && m->devicesentmessage) { /* sent by one of this phone's companions */
        body = m->devicesentmessage->message;
        json_object_set_new(e, "fromMe", json_true());
        if (m->devicesentmessage->destinationjid)
            json_object_set_new(e, "to", json_string(m->devicesentmessage->destinationjid));
    }
    const char *text = message_text(body);
    if (rc) json_object_set_new(e, "error", json_string(miaw_sig_strerror(rc)));
    else if (text) json_object_set_new(e, "text", json_string(text));
    else json_object_set_new(e, "text", json_null());
    if (!rc) miaw_sim_phone_media_describe(body, e); /* images, documents…: fetched and checked */
    if (!rc) miaw_sim_phone_kinds_describe(body, e); /* reactions, edits, revokes, locations, cards */
    if (!rc && m && m->protocolmessage && m->protocolmessage->appstatesynckeyrequest && from.account == a)
        miaw_sim_appstate_on_key_request(sim, a, from.device); /* a companion misses the app-state key */
    json_array_append_new(box(&a->inbox), e);
    if (m) miaw__wa__message__free_unpacked(m, NULL);
    MIAW_INFO("sim", "phone %s: message %s from %s %s", a->phone, id, fdev, rc ? miaw_sig_strerror(rc) : "decrypted");
    /* the delivery receipt, as a phone sends it (a DSM copy gets type="sender"), or a
     * retry receipt asking the sender to encrypt again (phone_retry.c) */
    miaw_node *r = rc ? NULL : miaw_node_newv("receipt", "id", id, NULL);
    if (rc && miaw_sig_error_wants_retry(rc) && (r = miaw_sim_phone_retry_receipt(sim, a, n)))
        miaw_sim_route_receipt(sim, a, 0, r);
    else if (r && from_s) {
        const miaw_attr *fa = miaw_node_attr_get(n, "from");
        if (fa && fa->jid) miaw_node_set_jid(r, "to", fa->jid);
        else miaw_node_set_attr(r, "to", from_s);
        if (miaw_node_attr(n, "recipient")) {
            miaw_node_set_jid_str(r, "recipient", miaw_node_attr(n, "recipient"));
            miaw_node_set_attr(r, "type", "sender");
        }
        miaw_sim_route_receipt(sim, a, 0, r);
    }
    miaw_node_free(r);
    miaw_sim_state_save(sim);
}

/* a receipt n for the phone's sent message id: recorded; 1 when id was one */
static int record_receipt(miaw_sim_account *a, const char *id, const miaw_node *n)
{
    const char *type = miaw_node_attr(n, "type");
    size_t i;
    json_t *e;
    json_array_foreach((json_t *)a->outbox, i, e) {
        if (!id || strcmp(json_string_value(json_object_get(e, "id")) ? json_string_value(json_object_get(e, "id")) : "", id))
            continue;
        uint64_t t = 0;
        miaw_node_attr_u64(n, "t", &t);
        json_array_append_new(json_object_get(e, "receipts"),
                              json_pack("{s:s,s:s,s:I}", "from", miaw_node_attr(n, "participant") ? miaw_node_attr(n, "participant") : miaw_node_attr(n, "from") ? miaw_node_attr(n, "from") : "",
                                        "type", type ? type : "delivery", "timestamp", (json_int_t)t));
        return 1;
    }
    return 0;
}

static void on_receipt(miaw_sim *sim, miaw_sim_account *a, const miaw_node *n)
{
    const char *type = miaw_node_attr(n, "type");
    int hit = record_receipt(a, miaw_node_attr(n, "id"), n);
    /* the other ids of the same receipt: <list><item id/>...</list> */
    const miaw_node *list = !type || strcmp(type, "retry") ? miaw_node_child(n, "list") : NULL;
    for (miaw_node *it = list ? miaw_node_child(list, "item") : NULL; it; it = miaw_node_next(list, it, "item"))
        hit |= record_receipt(a, miaw_node_attr(it, "id"), n);
    if (hit) miaw_sim_state_save(sim);
    if (type && !strcmp(type, "retry")) miaw_sim_phone_on_retry(sim, a, n); /* phone_retry.c */
}

int miaw_sim_phone_on_stanza(miaw_sim *sim, miaw_sim_account *a, const miaw_node *n)
{
    if (miaw_sim_phone_open(sim, a)) return MIAW_E_STATE;
    if (!strcmp(n->tag, "message")) on_message(sim, a, n);
    else if (!strcmp(n->tag, "receipt")) on_receipt(sim, a, n);
    return 0; /* notifications: the phone has nothing to do with them */
}

/* ------------------------------------------------------------------ sending */

int miaw_sim_phone_session_from_dir(miaw_sim *sim, miaw_sim_account *a, miaw_sim_account *b, miaw_sim_device *d,
                                    const miaw_sig_addr *addr)
{
    miaw_node *u = miaw_node_new("user");
    miaw_sig_bundle bundle;
    int rc = u ? miaw_sim_dir_bundle(sim, b, d, u) : MIAW_E_NOMEM;
    if (!rc) rc = miaw_sig_bundle_from_node(u, NULL, &bundle);
    miaw_node_free(u);
    return rc ? rc : miaw_sig_session_from_bundle(a->sig, addr, &bundle);
}

int miaw_sim_phone_encrypt_to(miaw_sim *sim, miaw_sim_account *a, miaw_sim_account *b, uint32_t dev, const uint8_t *pt,
                              size_t ptl, int lid, miaw_node *parts)
{
    miaw_sig_addr addr;
    miaw_sim_phone_addr(b, dev, &addr);
    int rc = miaw_sig_store_has_session(a->sig, addr.name, addr.device);
    if (rc < 0) return rc;
    if (rc == 0) { /* no session yet: X3DH from a fresh bundle */
        miaw_sim_device *d = dev ? miaw_sim_device_find(b, dev) : &b->primary;
        if (!dev && (rc = miaw_sim_phone_open(sim, b))) return rc;
        if (!d || (!d->skey_id && !d->reg_id)) return MIAW_E_NOTFOUND;
        if ((rc = miaw_sim_phone_session_from_dir(sim, a, b, d, &addr))) return rc;
    }
    int type;
    uint8_t *ct;
    size_t ctl;
    if ((rc = miaw_sig_encrypt(a->sig, &addr, pt, ptl, &type, &ct, &ctl))) return rc;
    char jid[96];
    miaw_sim_jid_attr(b, dev, lid, jid, sizeof jid);
    miaw_node *to = miaw_node_addv(parts, "to", "jid", jid, NULL);
    miaw_node *enc = to ? miaw_node_addv(to, "enc", "v", "2", "type", miaw_sig_type_name(type), NULL) : NULL;
    rc = enc ? miaw_node_set_bytes(enc, ct, ctl) : MIAW_E_NOMEM;
    free(ct);
    return rc;
}

uint8_t *miaw_sim_phone_padded(const Miaw__Wa__Message *m, size_t *len)
{
    uint8_t r = 0;
    miaw_random(&r, 1);
    size_t pad = (r & 15) ? (r & 15) : 15, n = miaw__wa__message__get_packed_size(m);
    uint8_t *p = malloc(n + pad);
    if (!p) return NULL;
    miaw__wa__message__pack(m, p);
    memset(p + n, (int)pad, pad);
    *len = n + pad;
    return p;
}

int miaw_sim_phone_send_text(miaw_sim *sim, miaw_sim_account *a, const char *to, const char *text, char *id,
                             size_t cap, const char **why)
{
    Miaw__Wa__Message msg = MIAW__WA__MESSAGE__INIT;
    msg.conversation = (char *)text;
    return miaw_sim_phone_send_message(sim, a, to, &msg, "text", NULL, json_pack("{s:s}", "text", text), id, cap, why);
}

int miaw_sim_phone_send_message(miaw_sim *sim, miaw_sim_account *a, const char *to, const Miaw__Wa__Message *m,
                                const char *stanza_type, const char *mediatype, json_t *record, char *id, size_t cap,
                                const char **why)
{
    return miaw_sim_phone_send_message_ex(sim, a, to, m, stanza_type, mediatype, NULL, record, id, cap, why);
}

int miaw_sim_phone_send_message_ex(miaw_sim *sim, miaw_sim_account *a, const char *to, const Miaw__Wa__Message *m,
                                   const char *stanza_type, const char *mediatype, const char *edit, json_t *record,
                                   char *id, size_t cap, const char **why)
{
    miaw_sim_addr ad;
    miaw_sim_account *b = miaw_sim_phone_valid(to) ? miaw_sim_account_find(sim, to) : NULL;
    if (!b && miaw_sim_resolve_str(sim, to, &ad) != MIAW_E_INVAL) b = ad.account;
    if (!b) {
        json_decref(record);
        *why = "no account with this phone number or JID";
        return MIAW_E_NOTFOUND;
    }
    int rc = miaw_sim_phone_open(sim, a);
    if (rc) {
        json_decref(record);
        *why = "the phone's Signal store is not available";
        return rc;
    }
    uint8_t rnd[9];
    char hex[19];
    if (miaw_random(rnd, sizeof rnd)) {
        json_decref(record);
        return MIAW_E_INTERNAL;
    }
    for (size_t i = 0; i < sizeof rnd; i++) snprintf(hex + 2 * i, 3, "%02X", rnd[i]);
    snprintf(id, cap, "3EB0%s", hex);
    char dest[64];
    miaw_sim_device_jid(b, 0, 0, dest, sizeof dest);
    Miaw__Wa__Message dsm = MIAW__WA__MESSAGE__INIT;
    Miaw__Wa__Message__DeviceSentMessage ds = MIAW__WA__MESSAGE__DEVICE_SENT_MESSAGE__INIT;
    ds.destinationjid = dest;
    ds.message = (Miaw__Wa__Message *)m;
    dsm.devicesentmessage = &ds;
    size_t pl, dl;
    uint8_t *p = miaw_sim_phone_padded(m, &pl), *dp = miaw_sim_phone_padded(&dsm, &dl);
    char tojid[80];
    miaw_sim_jid_attr(b, 0, 0, tojid, sizeof tojid);
    miaw_node *st = miaw_node_newv("message", "id", id, "to", tojid, "type", stanza_type, NULL);
    if (st && edit) miaw_node_set_attr(st, "edit", edit);
    miaw_node *parts = st ? miaw_node_add(st, "participants") : NULL;
    unsigned sent = 0, failed = 0;
    if (!p || !dp || !parts) rc = MIAW_E_NOMEM;
    for (size_t i = 0; !rc && i <= b->ndevices; i++) { /* the recipient's phone, then companions */
        uint32_t dev = i ? b->devices[i - 1].id : 0;
        if (b == a && dev == 0) continue;
        if (miaw_sim_phone_encrypt_to(sim, a, b, dev, b == a ? dp : p, b == a ? dl : pl, 0, parts)) failed++;
        else sent++;
    }
    for (size_t i = 0; !rc && b != a && i < a->ndevices; i++) /* own companions: the DSM copy */
        miaw_sim_phone_encrypt_to(sim, a, a, a->devices[i].id, dp, dl, 0, parts) ? failed++ : sent++;
    free(p);
    free(dp);
    for (miaw_node *t = parts ? miaw_node_child(parts, "to") : NULL; t && mediatype; t = miaw_node_next(parts, t, "to"))
        miaw_node_set_attr(miaw_node_child(t, "enc"), "mediatype", mediatype); /* as clients mark media */
    if (!rc && !sent) {
        rc = MIAW_E_NOTFOUND;
        *why = "no device of the recipient could be reached";
    }
    if (!rc) {
        miaw_sim_route_message(sim, a, 0, st);
        json_t *rec = record ? record : json_object();
        record = NULL;
        json_object_set_new(rec, "id", json_string(id));
        json_object_set_new(rec, "to", json_string(dest));
        json_object_set_new(rec, "timestamp", json_integer((json_int_t)miaw_sim_now()));
        json_object_set_new(rec, "receipts", json_array());
        json_array_append_new(box(&a->outbox), rec);
        miaw_sim_state_save(sim);
        MIAW_INFO("sim", "phone %s: message %s to %s (%u devices, %u failed)", a->phone, id, dest, sent, failed);
    } else if (!*why) {
        *why = "encryption failed";
    }
    json_decref(record);
    miaw_node_free(st);
    return rc;
}
