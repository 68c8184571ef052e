/* tests/tools/signal_peer.c - one Signal account of miaw's signal layer driven by JSON
 * lines on stdin (one reply line per request on stdout), for the interop test against
 * Baileys' libsignal. Byte strings travel as hex. Requests ({"op": ...}):
 *   open {jid, db?}          new account (identity, signed pre-key, 5 pre-keys)
 *   bundle {prekey?}         <iq><list><user jid>bundle</user></list></iq>, encoded node
 *   session {node}           build sessions from a fetch-response node (every <user>)
 *   encrypt {to, text}       Message{conversation} padded -> {type, ct}
 *   encrypt_skdm {to, group} Message{senderKeyDistributionMessage} -> {type, ct}
 *   decrypt {from, type, ct} -> {text?, skdm_group?} (an SKDM inside is processed)
 *   group_encrypt {group, text} -> {ct}
 *   group_decrypt {group, from, ct} -> {text}
 * Errors: {"ok": false, "code": n, "error": "..."}. */
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "miaw/plugin.h"
#include "wa/node.h"
#include "wa/signal_group.h"
#include "wa/signal_keys.h"
#include "wa/signal_session.h"
#include "wa/wamsg.h"

static sqlite3 *db;
static miaw_sig_db *sdb;
static miaw_sig_store *st;
static miaw_sig_addr self;
static char self_jid[128];

static char *hex(const uint8_t *p, size_t n)
{
    char *s = malloc(n * 2 + 1);
    for (size_t i = 0; s && i < n; i++) sprintf(s + i * 2, "%02x", p[i]);
    if (s) s[n * 2] = 0;
    return s;
}

static uint8_t *unhex(const char *s, size_t *n)
{
    size_t l = s ? strlen(s) : 1;
    if (l % 2) return NULL;
    uint8_t *p = malloc(l / 2 + 1);
    for (size_t i = 0; p && i < l / 2; i++) {
        unsigned v;
        if (sscanf(s + i * 2, "%2x", &v) != 1) {
            free(p);
            return NULL;
        }
        p[i] = (uint8_t)v;
    }
    *n = l / 2;
    return p;
}

static json_t *fail(int code, const char *what)
{
    return json_pack("{s:b, s:i, s:s}", "ok", 0, "code", code, "error", what ? what : miaw_sig_strerror(code));
}

static json_t *ok_with(json_t *o)
{
    json_object_set_new(o, "ok", json_true());
    return o;
}

static void set_hex(json_t *o, const char *key, const uint8_t *p, size_t n)
{
    char *h = hex(p, n);
    json_object_set_new(o, key, json_string(h ? h : ""));
    free(h);
}

static json_t *op_open(json_t *req)
{
    const char *jid = json_string_value(json_object_get(req, "jid"));
    const char *path = json_string_value(json_object_get(req, "db"));
    if (!jid || st) return fail(MIAW_E_INVAL, "jid missing or already open");
    snprintf(self_jid, sizeof self_jid, "%s", jid);
    if (sqlite3_open(path ? path : ":memory:", &db) != SQLITE_OK) return fail(MIAW_E_IO, NULL);
    int rc = miaw_sig_db_open(db, &sdb);
    if (rc == 0) rc = miaw_sig_store_open(sdb, jid, &st);
    if (rc == 0) rc = miaw_sig_addr_parse(jid, &self);
    if (rc == 0) rc = miaw_sig_generate_identity(st, 0);
    uint32_t spk = 0, first = 0;
    if (rc == 0 && miaw_sig_store_counters(st, NULL, &spk) == 0 && spk == 0) {
        rc = miaw_sig_generate_signed_prekey(st, 0, NULL);
        if (rc == 0) rc = miaw_sig_generate_prekeys(st, 5, &first);
    }
    return rc ? fail(rc, NULL) : ok_with(json_object());
}

static json_t *op_bundle(json_t *req)
{
    miaw_sig_bundle b;
    uint32_t next = 0;
    int with_pk = !json_is_false(json_object_get(req, "prekey"));
    int rc = miaw_sig_store_counters(st, &next, NULL);
    /* the lowest pre-key id still held, as a server would hand out */
    uint32_t id = 0;
    for (uint32_t i = 1; with_pk && rc == 0 && i < next; i++) {
        miaw_keypair kp;
        if (miaw_sig_store_get_prekey(st, i, &kp) == 0) {
            id = i;
            break;
        }
    }
    if (rc == 0) rc = miaw_sig_own_bundle(st, id, &b);
    if (rc) return fail(rc, NULL);
    miaw_node *iq = miaw_node_newv("iq", "type", "result", NULL);
    char jidattr[160];
    snprintf(jidattr, sizeof jidattr, "JID:%s", self_jid);
    miaw_node *user = miaw_node_addv(miaw_node_add(iq, "list"), "user", "jid", jidattr, NULL);
    uint8_t *wire = NULL;
    size_t n = 0;
    rc = miaw_sig_bundle_to_node(&b, 1, user);
    if (rc == 0) rc = miaw_node_encode(iq, &wire, &n);
    miaw_node_free(iq);
    if (rc) return fail(rc, NULL);
    json_t *o = json_pack("{s:i}", "prekey_id", (int)id);
    set_hex(o, "node", wire, n);
    free(wire);
    return ok_with(o);
}

static json_t *op_session(json_t *req)
{
    size_t n = 0;
    uint8_t *wire = unhex(json_string_value(json_object_get(req, "node")), &n);
    miaw_node *iq = NULL;
    int rc = wire ? miaw_node_decode(wire, n, &iq) : MIAW_E_INVAL;
    free(wire);
    int count = 0;
    miaw_node *list = rc == 0 ? miaw_node_child(iq, "list") : NULL;
    for (miaw_node *u = list ? miaw_node_child(list, "user") : NULL; u && rc == 0;
         u = miaw_node_next(list, u, "user")) {
        miaw_sig_bundle b;
        miaw_sig_addr a;
        rc = miaw_sig_addr_parse(miaw_node_attr(u, "jid"), &a);
        if (rc == 0) rc = miaw_sig_bundle_from_node(u, NULL, &b);
        if (rc == 0) rc = miaw_sig_session_from_bundle(st, &a, &b);
        count += rc == 0;
    }
    miaw_node_free(iq);
    if (rc == 0 && count == 0) rc = MIAW_E_NOTFOUND;
    return rc ? fail(rc, NULL) : ok_with(json_pack("{s:i}", "sessions", count));
}

static json_t *encrypt_msg(const char *to, const Miaw__Wa__Message *m)
{
    miaw_sig_addr a;
    uint8_t *pt = NULL, *ct = NULL;
    size_t pt_len = 0, ct_len = 0;
    int type = 0;
    int rc = miaw_sig_addr_parse(to, &a);
    if (rc == 0) rc = miaw_wamsg_encode(m, &pt, &pt_len);
    if (rc == 0) rc = miaw_sig_encrypt(st, &a, pt, pt_len, &type, &ct, &ct_len);
    free(pt);
    if (rc) return fail(rc, NULL);
    json_t *o = json_pack("{s:s}", "type", miaw_sig_type_name(type));
    set_hex(o, "ct", ct, ct_len);
    free(ct);
    return ok_with(o);
}

static json_t *op_encrypt(json_t *req)
{
    Miaw__Wa__Message m = MIAW__WA__MESSAGE__INIT;
    m.conversation = (char *)json_string_value(json_object_get(req, "text"));
    return encrypt_msg(json_string_value(json_object_get(req, "to")), &m);
}

static json_t *op_encrypt_skdm(json_t *req)
{
    const char *group = json_string_value(json_object_get(req, "group"));
    uint8_t *skdm = NULL;
    size_t n = 0;
    int rc = group ? miaw_sig_group_skdm(st, group, &self, &skdm, &n) : MIAW_E_INVAL;
    if (rc) return fail(rc, NULL);
    Miaw__Wa__Message m = MIAW__WA__MESSAGE__INIT;
    Miaw__Wa__Message__SenderKeyDistributionMessage d = MIAW__WA__MESSAGE__SENDER_KEY_DISTRIBUTION_MESSAGE__INIT;
    d.groupid = (char *)group;
    d.has_axolotlsenderkeydistributionmessage = 1;
    d.axolotlsenderkeydistributionmessage.data = skdm;
    d.axolotlsenderkeydistributionmessage.len = n;
    m.senderkeydistributionmessage = &d;
    json_t *o = encrypt_msg(json_string_value(json_object_get(req, "to")), &m);
    free(skdm);
    return o;
}

/* a decrypted plaintext: unpad, parse, process an SKDM, report the text */
static json_t *deliver(const uint8_t *pt, size_t len, const miaw_sig_addr *from)
{
    Miaw__Wa__Message *m = NULL;
    int rc = miaw_wamsg_decode(pt, len, &m);
    if (rc) return fail(rc, "bad plaintext");
    json_t *o = json_object();
    if (m->conversation) json_object_set_new(o, "text", json_string(m->conversation));
    Miaw__Wa__Message__SenderKeyDistributionMessage *d = m->senderkeydistributionmessage;
    if (d && d->groupid && d->has_axolotlsenderkeydistributionmessage) {
        rc = miaw_sig_group_process_skdm(st, d->groupid, from, d->axolotlsenderkeydistributionmessage.data,
                                         d->axolotlsenderkeydistributionmessage.len);
        json_object_set_new(o, "skdm_group", json_string(d->groupid));
    }
    miaw__wa__message__free_unpacked(m, NULL);
    if (rc) {
        json_decref(o);
        return fail(rc, NULL);
    }
    return ok_with(o);
}

static json_t *op_decrypt(json_t *req, int group)
{
    miaw_sig_addr a;
    size_t n = 0, pt_len = 0;
    uint8_t *ct = unhex(json_string_value(json_object_get(req, "ct")), &n), *pt = NULL;
    int rc = miaw_sig_addr_parse(json_string_value(json_object_get(req, "from")), &a);
    if (!ct) rc = MIAW_E_INVAL;
    if (rc == 0 && group)
        rc = miaw_sig_group_decrypt(st, json_string_value(json_object_get(req, "group")), &a, ct, n, &pt, &pt_len);
    else if (rc == 0)
        rc = miaw_sig_decrypt(st, &a, miaw_sig_type_parse(json_string_value(json_object_get(req, "type"))), ct, n,
                              &pt, &pt_len);
    free(ct);
    json_t *o = rc ? fail(rc, NULL) : deliver(pt, pt_len, &a);
    free(pt);
    return o;
}

static json_t *op_group_encrypt(json_t *req)
{
    Miaw__Wa__Message m = MIAW__WA__MESSAGE__INIT;
    m.conversation = (char *)json_string_value(json_object_get(req, "text"));
    const char *group = json_string_value(json_object_get(req, "group"));
    uint8_t *pt = NULL, *ct = NULL;
    size_t pt_len = 0, ct_len = 0;
    int rc = group ? miaw_wamsg_encode(&m, &pt, &pt_len) : MIAW_E_INVAL;
    if (rc == 0) rc = miaw_sig_group_encrypt(st, group, &self, pt, pt_len, &ct, &ct_len);
    free(pt);
    if (rc) return fail(rc, NULL);
    json_t *o = json_object();
    set_hex(o, "ct", ct, ct_len);
    free(ct);
    return ok_with(o);
}

static json_t *handle(json_t *req)
{
    const char *op = json_string_value(json_object_get(req, "op"));
    if (!op) return fail(MIAW_E_INVAL, "op missing");
    if (!strcmp(op, "open")) return op_open(req);
    if (!st) return fail(MIAW_E_INVAL, "not open");
    if (!strcmp(op, "bundle")) return op_bundle(req);
    if (!strcmp(op, "session")) return op_session(req);
    if (!strcmp(op, "encrypt")) return op_encrypt(req);
    if (!strcmp(op, "encrypt_skdm")) return op_encrypt_skdm(req);
    if (!strcmp(op, "decrypt")) return op_decrypt(req, 0);
    if (!strcmp(op, "group_encrypt")) return op_group_encrypt(req);
    if (!strcmp(op, "group_decrypt")) return op_decrypt(req, 1);
    return fail(MIAW_E_INVAL, "unknown op");
}

int main(void)
{
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, stdin) > 0) {
        json_error_t err;
        json_t *req = json_loads(line, 0, &err);
        json_t *res = req ? handle(req) : fail(MIAW_E_INVAL, "bad json");
        char *out = json_dumps(res, JSON_COMPACT);
        printf("%s\n", out ? out : "{\"ok\":false}");
        fflush(stdout);
        free(out);
        json_decref(res);
        json_decref(req);
    }
    free(line);
    miaw_sig_store_close(st);
    miaw_sig_db_close(sdb);
    if (db) sqlite3_close(db);
    return 0;
}
