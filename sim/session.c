/* sim/session.c - a connection after the handshake: registration or login decided by the
 * ClientPayload, <success>/<failure> and the offline backlog, the replaced-connection
 * conflict, dispatch of incoming stanzas (messages, receipts, acks, presence and chat
 * state go to route.c), and the IQ services (w:p ping, passive, encrypt
 * upload/count/digest/rotate and key fetch, usync, logout, default
 * privacy/abt/blocklist answers) with a logged empty result for every other IQ. */
#include "session.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "appstate.h"
#include "codec.h"
#include "base/log.h"
#include "miaw/plugin.h"
#include "directory.h"
#include "group.h"
#include "linkcode.h"
#include "media.h"
#include "pair.h"
#include "profile.h"
#include "queue.h"
#include "route.h"
#include "state.h"
#include "wa_client_payload.pb-c.h"

#define SERVER_JID "JID:@s.whatsapp.net"
#define CLOSE_AFTER_MS 1000

/* ------------------------------------------------------------------ helpers */

miaw_node *miaw_sim_iq_result(const miaw_node *iq)
{
    const char *id = miaw_node_attr(iq, "id");
    return miaw_node_newv("iq", "from", SERVER_JID, "type", "result", "id", id ? id : "", NULL);
}

int miaw_sim_iq_error(miaw_sim_conn *c, const miaw_node *iq, int code, const char *text)
{
    const char *id = miaw_node_attr(iq, "id");
    miaw_node *r = miaw_node_newv("iq", "from", SERVER_JID, "type", "error", "id", id ? id : "", NULL);
    miaw_node *e = r ? miaw_node_add(r, "error") : NULL;
    int rc = MIAW_E_NOMEM;
    if (e && !miaw_node_set_attrf(e, "code", "%d", code) && !miaw_node_set_attr(e, "text", text))
        rc = miaw_sim_conn_send(c, r);
    miaw_node_free(r);
    return rc;
}

static int send_and_free(miaw_sim_conn *c, miaw_node *n)
{
    int rc = n ? miaw_sim_conn_send(c, n) : MIAW_E_NOMEM;
    miaw_node_free(n);
    return rc;
}

void miaw_sim_stream_error(miaw_sim_conn *c, const char *code, const char *conflict, const char *why)
{
    miaw_node *n = miaw_node_new("stream:error");
    if (n && code) miaw_node_set_attr(n, "code", code);
    if (n && conflict) miaw_node_addv(n, "conflict", "type", conflict, NULL);
    send_and_free(c, n);
    miaw_sim_conn_close_after(c, CLOSE_AFTER_MS, why);
}

static void failure(miaw_sim_conn *c, int reason, const char *why)
{
    /* before the transport is up for a login, <failure> is still a transport frame */
    c->state = MIAW_SIM_CONN_READY;
    miaw_node *n = miaw_node_new("failure");
    if (n) miaw_node_set_attrf(n, "reason", "%d", reason);
    send_and_free(c, n);
    MIAW_INFO("sim", "conn %llu: login refused (%d, %s)", (unsigned long long)c->id, reason, why);
    miaw_sim_conn_close_after(c, CLOSE_AFTER_MS, why);
}

static miaw_sim_device *conn_device(miaw_sim_conn *c)
{
    return c->account ? miaw_sim_device_find(c->account, c->device_id) : NULL;
}

/* ------------------------------------------------------------------ handshake payload */

static void login(miaw_sim_conn *c, const Miaw__Wa__ClientPayload *p)
{
    char phone[24], lid[48];
    snprintf(phone, sizeof phone, "%" PRIu64, p->username);
    miaw_sim_account *a = miaw_sim_account_find(c->sim, phone);
    miaw_sim_device *d = a ? miaw_sim_device_find(a, p->device) : NULL;
    if (!d) {
        failure(c, 401, "unknown device");
        return;
    }
    if (memcmp(d->noise_pub, c->client_static, 32)) {
        failure(c, 401, "noise key differs from the one the device registered");
        return;
    }
    if (d->conn && d->conn != c) { /* one live connection per device: the old one goes */
        miaw_sim_conn *old = d->conn;
        old->account = NULL;
        d->conn = NULL;
        miaw_sim_stream_error(old, NULL, "replaced", "replaced by a new login");
        miaw_sim_conn_flush(old);
    }
    c->account = a;
    c->device_id = d->id;
    d->conn = c;
    c->state = MIAW_SIM_CONN_READY;
    snprintf(lid, sizeof lid, "JID:%s@lid", a->lid);
    miaw_node *s = miaw_node_newv("success", "t", "0", "lid", lid, NULL);
    if (s) {
        miaw_node_set_attrf(s, "t", "%" PRIu64, miaw_sim_now());
        miaw_node_set_attrf(s, "creation", "%" PRIu64, a->created_at);
        miaw_node_set_attr(s, "display_name", a->name);
    }
    send_and_free(c, s);
    /* what arrived while it was away, then <ib><offline count/> ends the backlog */
    miaw_sim_queue_flush_login(c->sim, d, c);
    miaw_sim_appstate_on_login(c->sim, a, d->id); /* the phone shares its app-state key */
    MIAW_INFO("sim", "conn %llu: login %s device %u (%s)", (unsigned long long)c->id, a->phone, d->id,
              c->push_name[0] ? c->push_name : "no push name");
}

void miaw_sim_session_on_payload(miaw_sim_conn *c, const uint8_t *payload, size_t len)
{
    Miaw__Wa__ClientPayload *p = miaw__wa__client_payload__unpack(NULL, len, payload);
    if (!p) {
        failure(c, 400, "ClientPayload does not parse");
        return;
    }
    if (p->pushname) snprintf(c->push_name, sizeof c->push_name, "%s", p->pushname);
    if (p->devicepairingdata && !p->has_username) {
        c->state = MIAW_SIM_CONN_REGISTERING;
        if (miaw_sim_pair_start(c, p->devicepairingdata)) failure(c, 400, "incomplete device pairing data");
    } else if (p->has_username && p->has_device) {
        login(c, p);
    } else {
        failure(c, 400, "ClientPayload is neither a registration nor a login");
    }
    miaw__wa__client_payload__free_unpacked(p, NULL);
}

/* ------------------------------------------------------------------ encrypt */

static int child_uint(const miaw_node *n, const char *tag, size_t want_len, int64_t *out)
{
    size_t len;
    const uint8_t *b = miaw_node_bytes(miaw_node_child(n, tag), &len);
    if (!b || len != want_len || (*out = miaw_sim_be_uint(b, len)) < 0) return -1;
    return 0;
}

static int child_key(const miaw_node *n, const char *tag, uint8_t *out, size_t want)
{
    size_t len;
    const uint8_t *b = miaw_node_bytes(miaw_node_child(n, tag), &len);
    if (!b || len != want) return -1;
    memcpy(out, b, want);
    return 0;
}

/* <skey><id/><value/><signature/></skey>: checked against the identity, then stored */
static int take_skey(miaw_sim_device *d, const miaw_node *sk)
{
    int64_t id;
    uint8_t pub[33], sig[64];
    pub[0] = 5;
    if (!sk || child_uint(sk, "id", 3, &id) || child_key(sk, "value", pub + 1, 32) ||
        child_key(sk, "signature", sig, 64))
        return -1;
    if (miaw_xeddsa_verify(d->identity_pub, pub, 33, sig, 64)) return -1;
    d->skey_id = (uint32_t)id;
    memcpy(d->skey_pub, pub + 1, 32);
    memcpy(d->skey_sig, sig, 64);
    return 0;
}

static int prekey_upload(miaw_sim_conn *c, miaw_sim_device *d, const miaw_node *iq)
{
    int64_t reg;
    uint8_t ident[32];
    const miaw_node *list = miaw_node_child(iq, "list");
    if (child_uint(iq, "registration", 4, &reg) || child_key(iq, "identity", ident, 32) || !list)
        return miaw_sim_iq_error(c, iq, 400, "bad-request");
    if (memcmp(ident, d->identity_pub, 32)) return miaw_sim_iq_error(c, iq, 409, "identity-mismatch");
    uint32_t n = miaw_node_count(list), got = 0;
    miaw_sim_prekey *keys = calloc(n ? n : 1, sizeof *keys);
    if (!keys) return miaw_sim_iq_error(c, iq, 500, "internal-error");
    for (miaw_node *k = miaw_node_child(list, "key"); k; k = miaw_node_next(list, k, "key")) {
        int64_t id;
        if (child_uint(k, "id", 3, &id) || child_key(k, "value", keys[got].pub, 32)) {
            free(keys);
            return miaw_sim_iq_error(c, iq, 400, "bad-request");
        }
        keys[got++].id = (uint32_t)id;
    }
    miaw_sim_device saved = *d;
    if (take_skey(d, miaw_node_child(iq, "skey"))) {
        free(keys);
        return miaw_sim_iq_error(c, iq, 400, "bad-signed-prekey");
    }
    int rc = miaw_sim_prekeys_put(d, keys, got);
    free(keys);
    if (rc) {
        d->skey_id = saved.skey_id;
        return miaw_sim_iq_error(c, iq, 406, "too-many-prekeys");
    }
    d->reg_id = (uint32_t)reg;
    miaw_sim_state_save(c->sim);
    MIAW_INFO("sim", "conn %llu: %u pre-keys uploaded (%zu stored)", (unsigned long long)c->id, got, d->nprekeys);
    return send_and_free(c, miaw_sim_iq_result(iq));
}

static int on_encrypt(miaw_sim_conn *c, const miaw_node *iq)
{
    miaw_sim_device *d = conn_device(c);
    miaw_node *first = miaw_node_child_at(iq, 0);
    const char *what = first ? first->tag : "";
    if (!d) return miaw_sim_iq_error(c, iq, 401, "not-authorized");
    if (miaw_node_attr_is(iq, "type", "set") && miaw_node_child(iq, "list")) return prekey_upload(c, d, iq);
    if (!strcmp(what, "count")) {
        miaw_node *r = miaw_sim_iq_result(iq);
        miaw_node *cn = r ? miaw_node_add(r, "count") : NULL;
        if (cn) miaw_node_set_attrf(cn, "value", "%zu", d->nprekeys);
        return send_and_free(c, r);
    }
    if (!strcmp(what, "digest")) {
        /* what the real digest holds is not known from client code; clients only need the
         * element, so it carries the stored bundle's public parts */
        miaw_node *r = miaw_sim_iq_result(iq);
        miaw_node *dg = r ? miaw_node_add(r, "digest") : NULL;
        uint8_t reg[4] = {(uint8_t)(d->reg_id >> 24), (uint8_t)(d->reg_id >> 16), (uint8_t)(d->reg_id >> 8),
                          (uint8_t)d->reg_id};
        if (dg) {
            miaw_node_set_bytes(miaw_node_add(dg, "registration"), reg, 4);
            miaw_node_set_bytes(miaw_node_add(dg, "type"), "\x05", 1);
            miaw_node_set_bytes(miaw_node_add(dg, "identity"), d->identity_pub, 32);
        }
        return send_and_free(c, r);
    }
    if (!strcmp(what, "rotate")) {
        if (take_skey(d, miaw_node_child(first, "skey"))) return miaw_sim_iq_error(c, iq, 400, "bad-signed-prekey");
        miaw_sim_state_save(c->sim);
        return send_and_free(c, miaw_sim_iq_result(iq));
    }
    return -1; /* not handled here */
}

/* ------------------------------------------------------------------ account settings */

/* privacy, abt props, blocklist: what clients ask right after login. The simulator has no
 * settings yet: everything is "all", no AB props, nobody blocked. 1 when answered. */
static int on_settings(miaw_sim_conn *c, const miaw_node *iq, const char *xmlns, const char *type)
{
    static const char *cats[] = {"readreceipts", "last", "online", "profile", "status", "groupadd", "calladd", "messages"};
    int get = !strcmp(type, "get");
    miaw_node *r = NULL;
    if (!strcmp(xmlns, "privacy") && get && miaw_node_child(iq, "privacy")) {
        r = miaw_sim_iq_result(iq);
        miaw_node *p = r ? miaw_node_add(r, "privacy") : NULL;
        for (size_t i = 0; p && i < sizeof cats / sizeof cats[0]; i++)
            miaw_node_addv(p, "category", "name", cats[i], "value", "all", NULL);
    } else if (!strcmp(xmlns, "abt") && get) {
        r = miaw_sim_iq_result(iq);
        if (r) miaw_node_addv(r, "props", "protocol", "1", NULL);
    } else if (!strcmp(xmlns, "blocklist") && get) {
        r = miaw_sim_iq_result(iq);
        if (r) miaw_node_add(r, "list");
    } else if (!strcmp(xmlns, "privacy") || !strcmp(xmlns, "urn:xmpp:whatsapp:dirty") || !strcmp(xmlns, "w:stats")) {
        r = miaw_sim_iq_result(iq); /* settings changes and stats: accepted, not kept yet */
    } else {
        return 0;
    }
    send_and_free(c, r);
    return 1;
}

/* ------------------------------------------------------------------ logout */

/* <iq xmlns="md" type="set"><remove-companion-device jid reason/></iq>: a companion
 * logs itself (or another companion of the account) out. 1 when handled. */
static int on_remove_companion(miaw_sim_conn *c, const miaw_node *iq)
{
    const miaw_node *rm = miaw_node_child(iq, "remove-companion-device");
    miaw_jid j;
    miaw_sim_addr ad;
    if (!rm) return 0;
    if (!c->account || miaw_node_attr_jid(rm, "jid", &j) || miaw_sim_resolve(c->sim, &j, &ad) ||
        ad.account != c->account || ad.device == 0) {
        miaw_sim_iq_error(c, iq, 404, "item-not-found");
        return 1;
    }
    send_and_free(c, miaw_sim_iq_result(iq));
    const char *reason = miaw_node_attr(rm, "reason");
    miaw_sim_dir_unlink(c->sim, ad.account, ad.device, reason ? reason : "remove-companion-device");
    return 1;
}

/* ------------------------------------------------------------------ dispatch */

static void on_iq(miaw_sim_conn *c, const miaw_node *iq)
{
    const char *type = miaw_node_attr(iq, "type");
    const char *xmlns = miaw_node_attr(iq, "xmlns");
    if (!type || !miaw_node_attr(iq, "id")) {
        MIAW_WARN("sim", "conn %llu: iq without id or type dropped", (unsigned long long)c->id);
        return;
    }
    if (!strcmp(type, "result") || !strcmp(type, "error")) {
        if (!miaw_sim_pair_on_iq_reply(c, iq))
            MIAW_DEBUG("sim", "conn %llu: unmatched iq %s id=%s", (unsigned long long)c->id, type, miaw_node_attr(iq, "id"));
        return;
    }
    if (xmlns && !strcmp(xmlns, "w:p")) {
        send_and_free(c, miaw_sim_iq_result(iq));
        return;
    }
    if (xmlns && !strcmp(xmlns, "passive")) {
        send_and_free(c, miaw_sim_iq_result(iq));
        return;
    }
    if (xmlns && !strcmp(xmlns, "encrypt") && !strcmp(type, "get") && miaw_sim_dir_key_fetch(c, iq)) return;
    if (xmlns && !strcmp(xmlns, "encrypt") && on_encrypt(c, iq) != -1) return;
    if (xmlns && !strcmp(xmlns, "usync") && !strcmp(type, "get")) {
        miaw_sim_dir_usync(c, iq);
        return;
    }
    if (xmlns && !strcmp(xmlns, "md") && miaw_sim_linkcode_on_iq(c, iq)) return;
    if (xmlns && !strcmp(xmlns, "md") && !strcmp(type, "set") && on_remove_companion(c, iq)) return;
    if (xmlns && !strcmp(xmlns, "w:g2") && miaw_sim_group_on_iq(c, iq)) return;
    if (xmlns && !strcmp(xmlns, "w:m") && miaw_sim_media_on_iq(c, iq)) return;
    if (xmlns && miaw_sim_profile_on_iq(c, iq, xmlns, type)) return; /* pictures, about, block list */
    if (xmlns && miaw_sim_appstate_on_iq(c, iq)) return;
    if (xmlns && on_settings(c, iq, xmlns, type)) return;
    /* the generic answer: an empty result (an error child is fatal for some clients) */
    miaw_node *first = miaw_node_child_at(iq, 0);
    c->sim->unknown_iqs++;
    MIAW_INFO("sim", "conn %llu: unknown iq xmlns=%s type=%s child=%s answered with an empty result",
              (unsigned long long)c->id, xmlns ? xmlns : "-", type, first ? first->tag : "-");
    send_and_free(c, miaw_sim_iq_result(iq));
}

void miaw_sim_session_on_node(miaw_sim_conn *c, miaw_node *n)
{
    if (!strcmp(n->tag, "presence")) miaw_sim_profile_on_presence(c, n); /* the account's push name */
    if (!strcmp(n->tag, "iq")) {
        on_iq(c, n);
    } else if (!strcmp(n->tag, "message") && miaw_sim_profile_drop_blocked(c, n)) {
        /* to someone who blocked the sender: acknowledged, not delivered */
    } else if (c->state == MIAW_SIM_CONN_READY && miaw_sim_route_on_node(c, n)) {
        /* message, receipt, ack, presence, chatstate */
    } else if (!strcmp(n->tag, "presence")) {
        const char *name = miaw_node_attr(n, "name");
        if (name) snprintf(c->push_name, sizeof c->push_name, "%s", name);
    } else if (!strcmp(n->tag, "ib") || !strcmp(n->tag, "ack")) {
        /* unified_session, offline_batch: nothing to do */
    } else {
        MIAW_INFO("sim", "conn %llu: <%s> dropped (not simulated yet)", (unsigned long long)c->id, n->tag);
    }
}

void miaw_sim_session_on_timer(miaw_sim_conn *c, int kind)
{
    if (kind == MIAW_SIM_TIMER_PAIR) miaw_sim_pair_on_timeout(c);
    else if (kind == MIAW_SIM_TIMER_LINKCODE) miaw_sim_linkcode_on_timeout(c);
}

void miaw_sim_session_on_close(miaw_sim_conn *c)
{
    miaw_sim_pair_on_close(c);
    miaw_sim_linkcode_on_close(c);
    miaw_sim_route_on_close(c);
    miaw_sim_device *d = conn_device(c);
    if (d && d->conn == c) {
        d->conn = NULL;
        miaw_sim_queue_conn_lost(d);
    }
    c->account = NULL;
}
