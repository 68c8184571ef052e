/* sim/phone_kinds.c - reactions, edits, revokes, locations and contact cards for the
 * simulated phones (see phone_kinds.h): built from the control API's JSON and sent
 * through miaw_sim_phone_send_message_ex (revokes with edit="7", edits with edit="1",
 * reactions as type="reaction"), and described in the phone's message list when
 * received; read / played receipts the phone sends for a peer's messages. Owns nothing
 * beyond a call. */
#include "phone_kinds.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "directory.h"
#include "miaw/plugin.h"
#include "phone.h"
#include "route.h"
#include "state.h"

/* ------------------------------------------------------------------ describing */
static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static const char *text_of(const Miaw__Wa__Message *m)
{
    if (!m) return NULL;
    if (m->conversation) return m->conversation;
    if (m->extendedtextmessage) return m->extendedtextmessage->text;
    return NULL;
}

/* the contextInfo of m's content, whatever its kind */
static const Miaw__Wa__ContextInfo *context_of(const Miaw__Wa__Message *m)
{
    if (m->extendedtextmessage) return m->extendedtextmessage->contextinfo;
    if (m->imagemessage) return m->imagemessage->contextinfo;
    if (m->videomessage) return m->videomessage->contextinfo;
    if (m->audiomessage) return m->audiomessage->contextinfo;
    if (m->documentmessage) return m->documentmessage->contextinfo;
    if (m->stickermessage) return m->stickermessage->contextinfo;
    if (m->locationmessage) return m->locationmessage->contextinfo;
    if (m->contactmessage) return m->contactmessage->contextinfo;
    if (m->contactsarraymessage) return m->contactsarraymessage->contextinfo;
    return NULL;
}

static json_t *card(const Miaw__Wa__Message__ContactMessage *c)
{
    return json_pack("{s:o,s:o}", "name", str_or_null(c->displayname), "vcard", str_or_null(c->vcard));
}

int miaw_sim_phone_kinds_describe(const Miaw__Wa__Message *m, json_t *e)
{
    if (!m) return 0;
    int wrapped = 0;
    if (m->editedmessage && m->editedmessage->message) {
        m = m->editedmessage->message;
        wrapped = 1;
    }
    int added = 0;
    const Miaw__Wa__Message__ProtocolMessage *p = m->protocolmessage;
    if (m->reactionmessage) {
        const Miaw__Wa__MessageKey *k = m->reactionmessage->key;
        json_object_set_new(e, "type", json_string("reaction"));
        json_object_set_new(e, "reaction", json_pack("{s:o,s:s,s:b,s:o}", "messageId", str_or_null(k ? k->id : NULL),
                                                     "emoji", m->reactionmessage->text ? m->reactionmessage->text : "",
                                                     "fromMe", k && k->has_fromme && k->fromme, "participant",
                                                     str_or_null(k ? k->participant : NULL)));
        added = 1;
    } else if (p && p->key && (!p->has_type || p->type == MIAW__WA__MESSAGE__PROTOCOL_MESSAGE__TYPE__REVOKE)) {
        json_object_set_new(e, "type", json_string("revoke"));
        json_object_set_new(e, "revoke", json_pack("{s:o,s:b,s:o}", "messageId", str_or_null(p->key->id), "fromMe",
                                                   p->key->has_fromme && p->key->fromme, "participant",
                                                   str_or_null(p->key->participant)));
        added = 1;
    } else if (p && p->key && p->type == MIAW__WA__MESSAGE__PROTOCOL_MESSAGE__TYPE__MESSAGE_EDIT) {
        json_object_set_new(e, "type", json_string("edit"));
        json_object_set_new(e, "edit", json_pack("{s:o,s:o,s:I,s:s}", "messageId", str_or_null(p->key->id), "text",
                                                 str_or_null(text_of(p->editedmessage)), "timestampMs",
                                                 (json_int_t)(p->has_timestampms ? p->timestampms : 0), "style",
                                                 wrapped ? "wrapped" : "plain"));
        added = 1;
    } else if (m->locationmessage) {
        const Miaw__Wa__Message__LocationMessage *l = m->locationmessage;
        json_object_set_new(e, "type", json_string("location"));
        json_object_set_new(e, "location", json_pack("{s:f,s:f,s:o,s:o,s:o}", "latitude", l->degreeslatitude,
                                                     "longitude", l->degreeslongitude, "name", str_or_null(l->name),
                                                     "address", str_or_null(l->address), "url", str_or_null(l->url)));
        added = 1;
    } else if (m->contactmessage) {
        json_object_set_new(e, "type", json_string("contact"));
        json_object_set_new(e, "contacts", json_pack("[o]", card(m->contactmessage)));
        added = 1;
    } else if (m->contactsarraymessage) {
        json_t *arr = json_array();
        for (size_t i = 0; i < m->contactsarraymessage->n_contacts; i++)
            json_array_append_new(arr, card(m->contactsarraymessage->contacts[i]));
        json_object_set_new(e, "type", json_string("contacts"));
        json_object_set_new(e, "displayName", str_or_null(m->contactsarraymessage->displayname));
        json_object_set_new(e, "contacts", arr);
        added = 1;
    }
    const Miaw__Wa__ContextInfo *ci = context_of(m);
    if (ci && ci->n_mentionedjid) {
        json_t *arr = json_array();
        for (size_t i = 0; i < ci->n_mentionedjid; i++) json_array_append_new(arr, json_string(ci->mentionedjid[i]));
        json_object_set_new(e, "mentions", arr);
        added = 1;
    }
    if (ci && ci->has_isforwarded && ci->isforwarded) {
        json_object_set_new(e, "forwarded", json_true());
        json_object_set_new(e, "forwardingScore", json_integer(ci->has_forwardingscore ? ci->forwardingscore : 0));
        added = 1;
    }
    return added;
}

/* ------------------------------------------------------------------ sending */
static void kinds_refuse(h2o_req_t *req, int status, const char *code, const char *field, const char *msg)
{
    miaw_sim_http_json(req, status, miaw_sim_error_json(code, field, msg));
}

/* did a's phone send message id (its outbox)? */
static int sent_by(miaw_sim_account *a, const char *id)
{
    size_t i;
    json_t *r;
    json_array_foreach((json_t *)a->outbox, i, r) {
        const char *x = json_string_value(json_object_get(r, "id"));
        if (x && !strcmp(x, id)) return 1;
    }
    return 0;
}

/* o.k as a string of at most max bytes (non-empty when required); "" when absent and
 * optional; NULL when bad */
static const char *str_field(json_t *o, const char *k, size_t max, int required)
{
    json_t *v = json_object_get(o, k);
    if (!v) return required ? NULL : "";
    const char *s = json_string_value(v);
    return !s || strlen(s) > max || (required && !*s) ? NULL : s;
}

/* {"to", "receipt": {"ids": [...], "type": "read" | "played" (absent: delivery)}}: the
 * phone reports reading (or playing) messages of peer, as <receipt to=<peer> id [type]>
 * with the other ids in <list><item id/></list> */
static void send_receipt(miaw_sim *sim, h2o_req_t *req, miaw_sim_account *a, miaw_sim_account *peer, json_t *o)
{
    json_t *ids = json_object_get(o, "ids"), *tv = json_object_get(o, "type");
    const char *type = json_string_value(tv);
    size_t n = json_array_size(ids), i;
    json_t *v;
    json_array_foreach(ids, i, v) if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) > 64) n = 0;
    if (!n || n > 50) return kinds_refuse(req, 400, "INVALID_REQUEST", "ids", "ids must be 1-50 message ids");
    if (tv && (!type || (strcmp(type, "read") && strcmp(type, "played"))))
        return kinds_refuse(req, 400, "INVALID_REQUEST", "type", "type must be \"read\" or \"played\" (absent: delivery)");
    char to[80];
    miaw_sim_device_jid(peer, 0, 0, to, sizeof to);
    miaw_node *r = miaw_node_newv("receipt", "id", json_string_value(json_array_get(ids, 0)), NULL);
    if (r && type) miaw_node_set_attr(r, "type", type);
    miaw_node *list = r && n > 1 ? miaw_node_add(r, "list") : NULL;
    for (i = 1; list && i < n; i++) miaw_node_addv(list, "item", "id", json_string_value(json_array_get(ids, i)), NULL);
    if (!r || miaw_node_set_jid_str(r, "to", to)) {
        miaw_node_free(r);
        return kinds_refuse(req, 500, "INTERNAL_ERROR", NULL, "cannot build the receipt");
    }
    miaw_sim_route_receipt(sim, a, 0, r);
    miaw_node_free(r);
    miaw_sim_http_json(req, 201, json_pack("{s:I}", "receipts", (json_int_t)n));
}

int miaw_sim_phone_kinds_post(miaw_sim *sim, h2o_req_t *req, miaw_sim_account *a, json_t *b)
{
    static const char *const KINDS[] = {"reaction", "edit", "revoke", "location", "contact", "contacts", "receipt", NULL};
    const char *kind = NULL;
    for (size_t i = 0; KINDS[i] && !kind; i++)
        if (json_object_get(b, KINDS[i])) kind = KINDS[i];
    if (!kind) return 0;
    json_t *o = json_object_get(b, kind);
    const char *to = json_string_value(json_object_get(b, "to"));
    if (!to || !*to || strlen(to) > 96)
        return kinds_refuse(req, 400, "INVALID_REQUEST", "to", "to must be a phone number or a JID of a simulated account"), 1;
    if (strstr(to, "@g.us")) return kinds_refuse(req, 400, "INVALID_REQUEST", "to", "these kinds are 1:1 only here"), 1;
    miaw_sim_addr ad;
    miaw_sim_account *peer = miaw_sim_phone_valid(to) ? miaw_sim_account_find(sim, to) : NULL;
    if (!peer && miaw_sim_resolve_str(sim, to, &ad) != MIAW_E_INVAL) peer = ad.account;
    if (!peer) return kinds_refuse(req, 404, "NOT_FOUND", "to", "no account with this phone number or JID"), 1;
    if (!strcmp(kind, "receipt")) return send_receipt(sim, req, a, peer, o), 1;
    if (strcmp(kind, "contacts") ? !json_is_object(o) : !json_is_array(o) || !json_array_size(o) ||
                                                            json_array_size(o) > 50)
        return kinds_refuse(req, 400, "INVALID_REQUEST", kind, "an object (contacts: an array of 1-50 objects)"), 1;
    char remote[80], now_ms[24];
    miaw_sim_device_jid(peer, 0, 0, remote, sizeof remote);
    snprintf(now_ms, sizeof now_ms, "%llu", (unsigned long long)miaw_sim_now() * 1000ull);
    Miaw__Wa__Message m = MIAW__WA__MESSAGE__INIT, inner = MIAW__WA__MESSAGE__INIT, edited = MIAW__WA__MESSAGE__INIT;
    Miaw__Wa__Message__FutureProofMessage fp = MIAW__WA__MESSAGE__FUTURE_PROOF_MESSAGE__INIT;
    Miaw__Wa__MessageKey key = MIAW__WA__MESSAGE_KEY__INIT;
    Miaw__Wa__Message__ReactionMessage rm = MIAW__WA__MESSAGE__REACTION_MESSAGE__INIT;
    Miaw__Wa__Message__ProtocolMessage pm = MIAW__WA__MESSAGE__PROTOCOL_MESSAGE__INIT;
    Miaw__Wa__Message__LocationMessage lm = MIAW__WA__MESSAGE__LOCATION_MESSAGE__INIT;
    Miaw__Wa__Message__ContactMessage cm[50], *cms[50];
    Miaw__Wa__Message__ContactsArrayMessage cam = MIAW__WA__MESSAGE__CONTACTS_ARRAY_MESSAGE__INIT;
    const char *stype = "text", *edit = NULL, *id = NULL;
    json_t *rec = json_pack("{s:s}", "type", kind);
    key.remotejid = remote;
    if (strcmp(kind, "location") && strcmp(kind, "contact") && strcmp(kind, "contacts")) {
        id = str_field(o, "messageId", 64, 1);
        if (!id) {
            json_decref(rec);
            return kinds_refuse(req, 400, "INVALID_REQUEST", "messageId", "messageId must be a message id"), 1;
        }
        key.id = (char *)id;
        key.has_fromme = 1;
        json_object_set_new(rec, "messageId", json_string(id));
    }
    const char *bad = NULL;
    if (!strcmp(kind, "reaction")) {
        const char *emoji = str_field(o, "emoji", 64, 0);
        json_t *fm = json_object_get(o, "fromMe");
        if (!emoji || !json_object_get(o, "emoji")) bad = "emoji";
        key.fromme = fm ? json_is_true(fm) : sent_by(a, id);
        rm.key = &key;
        rm.text = (char *)emoji;
        rm.has_sendertimestampms = 1;
        rm.sendertimestampms = (int64_t)miaw_sim_now() * 1000;
        m.reactionmessage = &rm;
        stype = "reaction";
        if (emoji) json_object_set_new(rec, "emoji", json_string(emoji));
    } else if (!strcmp(kind, "revoke")) {
        key.fromme = 1;
        pm.key = &key;
        pm.has_type = 1;
        pm.type = MIAW__WA__MESSAGE__PROTOCOL_MESSAGE__TYPE__REVOKE;
        m.protocolmessage = &pm;
        edit = "7";
    } else if (!strcmp(kind, "edit")) {
        const char *text = str_field(o, "text", 65536, 1);
        if (!text) bad = "text";
        key.fromme = 1;
        edited.conversation = (char *)text;
        pm.key = &key;
        pm.has_type = 1;
        pm.type = MIAW__WA__MESSAGE__PROTOCOL_MESSAGE__TYPE__MESSAGE_EDIT;
        pm.editedmessage = &edited;
        pm.has_timestampms = 1;
        pm.timestampms = (int64_t)miaw_sim_now() * 1000;
        json_t *w = json_object_get(o, "wrapped");
        if (w && !json_is_true(w)) {
            m.protocolmessage = &pm; /* Baileys' shape */
        } else {
            inner.protocolmessage = &pm; /* whatsmeow's (WhatsApp Web's) shape */
            fp.message = &inner;
            m.editedmessage = &fp;
        }
        edit = "1";
        if (text) json_object_set_new(rec, "text", json_string(text));
    } else if (!strcmp(kind, "location")) {
        json_t *la = json_object_get(o, "latitude"), *lo = json_object_get(o, "longitude");
        lm.name = (char *)str_field(o, "name", 256, 0);
        lm.address = (char *)str_field(o, "address", 512, 0);
        if (!json_is_number(la) || fabs(json_number_value(la)) > 90) bad = "latitude";
        else if (!json_is_number(lo) || fabs(json_number_value(lo)) > 180) bad = "longitude";
        else if (!lm.name || !lm.address) bad = "name";
        lm.has_degreeslatitude = lm.has_degreeslongitude = 1;
        lm.degreeslatitude = json_number_value(la);
        lm.degreeslongitude = json_number_value(lo);
        if (lm.name && !*lm.name) lm.name = NULL;
        if (lm.address && !*lm.address) lm.address = NULL;
        m.locationmessage = &lm;
    } else { /* contact, contacts */
        size_t n = !strcmp(kind, "contact") ? 1 : json_array_size(o);
        for (size_t i = 0; i < n && !bad; i++) {
            json_t *c = !strcmp(kind, "contact") ? o : json_array_get(o, i);
            miaw__wa__message__contact_message__init(&cm[i]);
            cm[i].displayname = (char *)str_field(c, "name", 256, 1);
            cm[i].vcard = (char *)str_field(c, "vcard", 8192, 1);
            if (!cm[i].displayname || !cm[i].vcard) bad = "contacts";
            cms[i] = &cm[i];
        }
        if (n == 1 && !strcmp(kind, "contact")) {
            m.contactmessage = &cm[0];
        } else {
            cam.displayname = "contacts";
            cam.n_contacts = n;
            cam.contacts = cms;
            m.contactsarraymessage = &cam;
        }
    }
    if (bad) {
        json_decref(rec);
        return kinds_refuse(req, 400, "INVALID_REQUEST", bad, "missing or malformed field (see sim/README.md)"), 1;
    }
    char out[40];
    const char *why = NULL;
    int rc = miaw_sim_phone_send_message_ex(sim, a, to, &m, stype, NULL, edit, rec, out, sizeof out, &why);
    if (rc == MIAW_E_NOTFOUND) kinds_refuse(req, 404, "NOT_FOUND", "to", why);
    else if (rc) kinds_refuse(req, 500, "INTERNAL_ERROR", NULL, why ? why : "sending failed");
    else miaw_sim_http_json(req, 201, json_pack("{s:s}", "id", out));
    return 1;
}
