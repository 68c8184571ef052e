/* sim/linkcode.c - pairing by phone-number code, server side and simulated phone: the
 * companion_hello stage (pairing ref), the code typed on the phone through the control
 * API (the phone's ephemeral key wrapped with it, sent in a link_code_companion_reg
 * notification), the companion_finish stage (key bundle opened with the ECDH secret: a
 * wrong code fails here; adv secret derived) and the hand-over to pair.c's pair-success.
 * Owns each registering connection's link-code state and the waiting control requests. */
#include "linkcode.h"

#include <inttypes.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "base/log.h"
#include "miaw/plugin.h"
#include "pair.h"
#include "session.h"
#include "state.h"
#include "base/util.h"
#include "wa/linkcode.h"
#include "wa/noise.h"

#define BODY_MAX 4096

/* a control request waiting for companion_finish; lives in the request's pool */
typedef struct lc_wait {
    h2o_req_t *req;
    miaw_sim_conn *conn; /* NULL once answered or the connection is gone */
} lc_wait;

typedef struct miaw_sim_linkcode {
    miaw_sim_account *account; /* named by the hello's jid (borrowed; accounts live on) */
    uint8_t wrapped[MIAW_WA_LINKCODE_WRAPPED_LEN]; /* the companion's ephemeral key, wrapped */
    char ref[48];              /* link_code_pairing_ref */
    char platform[8];          /* companion_platform_id */
    char display[64];          /* companion_platform_display */
    /* once the phone's user typed a code */
    int typed;
    miaw_keypair eph;          /* the phone's ephemeral key */
    uint8_t companion_eph[32]; /* the companion's, unwrapped with the typed code */
    lc_wait *wait;             /* the control request (borrowed) */
} miaw_sim_linkcode;

static int send_and_free(miaw_sim_conn *c, miaw_node *n)
{
    int rc = n ? miaw_sim_conn_send(c, n) : MIAW_E_NOMEM;
    miaw_node_free(n);
    return rc;
}

static void wait_answer(miaw_sim_linkcode *lc, int status, json_t *body)
{
    lc_wait *w = lc->wait;
    lc->wait = NULL;
    if (!w) {
        json_decref(body);
        return;
    }
    w->conn = NULL;
    miaw_sim_http_json(w->req, status, body);
}

/* the typed code is over (failed, timed out, abandoned): the phone may type again */
static void untype(miaw_sim_conn *c, int status, const char *code, const char *field, const char *msg)
{
    miaw_sim_linkcode *lc = c->reg.linkcode;
    if (!lc) return;
    if (lc->typed) MIAW_INFO("sim", "conn %llu: link code attempt ended: %s", (unsigned long long)c->id, msg);
    wait_answer(lc, status, miaw_sim_error_json(code, field, msg));
    lc->typed = 0;
    OPENSSL_cleanse(&lc->eph, sizeof lc->eph);
    if (c->timer_kind == MIAW_SIM_TIMER_LINKCODE) miaw_sim_conn_timer(c, 0, 0);
}

static void wait_dispose(void *p)
{
    lc_wait *w = p;
    if (!w->conn || !w->conn->reg.linkcode || w->conn->reg.linkcode->wait != w) return;
    w->conn->reg.linkcode->wait = NULL; /* the HTTP client left first */
    untype(w->conn, 0, "", NULL, "the control request went away");
}

static const uint8_t *child(const miaw_node *n, const char *tag, size_t min, size_t max, size_t *len)
{
    size_t l = 0;
    const uint8_t *b = miaw_node_bytes(miaw_node_child(n, tag), &l);
    if (!b || l < min || l > max) return NULL;
    *len = l;
    return b;
}

/* "Browser (OS)" as WhatsApp checks it (whatsmeow: 400 for a bad value) */
static int display_ok(const uint8_t *s, size_t n)
{
    const uint8_t *open = memchr(s, '(', n);
    if (!open || open < s + 2 || open[-1] != ' ' || s[n - 1] != ')' || open + 2 >= s + n) return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e || ((s[i] == '(' || s[i] == ')') && s + i != open && i != n - 1)) return 0;
    return 1;
}

/* ------------------------------------------------------------------ companion_hello */
static void on_hello(miaw_sim_conn *c, const miaw_node *iq, const miaw_node *reg)
{
    miaw_jid j;
    size_t wl = 0, kl = 0, pl = 0, dl = 0, nl = 0;
    const uint8_t *wrapped = child(reg, "link_code_pairing_wrapped_companion_ephemeral_pub", 80, 80, &wl);
    const uint8_t *key = child(reg, "companion_server_auth_key_pub", 32, 32, &kl);
    const uint8_t *plat = child(reg, "companion_platform_id", 1, 7, &pl);
    const uint8_t *disp = child(reg, "companion_platform_display", 3, 63, &dl);
    if (miaw_node_attr_jid(reg, "jid", &j) || strcmp(j.server, MIAW_SERVER_USER) || j.device || !wrapped || !key ||
        !plat || !disp || !child(reg, "link_code_pairing_nonce", 1, 16, &nl) || !display_ok(disp, dl)) {
        miaw_sim_iq_error(c, iq, 400, "bad-request");
        return;
    }
    miaw_sim_account *a = miaw_sim_phone_valid(j.user) ? miaw_sim_account_find(c->sim, j.user) : NULL;
    if (!a) {
        miaw_sim_iq_error(c, iq, 404, "item-not-found");
        return;
    }
    if (memcmp(key, c->client_static, 32)) {
        miaw_sim_iq_error(c, iq, 401, "not-authorized");
        return;
    }
    if (c->reg.account) {
        miaw_sim_iq_error(c, iq, 409, "conflict");
        return;
    }
    miaw_sim_linkcode *lc = c->reg.linkcode;
    if (lc) untype(c, 409, "CONFLICT", NULL, "the companion asked for a new code");
    else if (!(lc = c->reg.linkcode = calloc(1, sizeof *lc))) {
        miaw_sim_iq_error(c, iq, 500, "internal-error");
        return;
    }
    char hex[33];
    if (miaw_random_hex(hex, 16)) {
        miaw_sim_iq_error(c, iq, 500, "internal-error");
        return;
    }
    lc->account = a;
    memcpy(lc->wrapped, wrapped, 80);
    snprintf(lc->ref, sizeof lc->ref, "2@lc%s", hex);
    snprintf(lc->platform, sizeof lc->platform, "%.*s", (int)pl, (const char *)plat);
    snprintf(lc->display, sizeof lc->display, "%.*s", (int)dl, (const char *)disp);
    miaw_node *r = miaw_sim_iq_result(iq);
    miaw_node *rr = r ? miaw_node_add(r, "link_code_companion_reg") : NULL;
    miaw_node *ref = rr ? miaw_node_add(rr, "link_code_pairing_ref") : NULL;
    if (ref) miaw_node_set_bytes(ref, lc->ref, strlen(lc->ref));
    send_and_free(c, r);
    MIAW_INFO("sim", "conn %llu: companion (%s) waits for a code typed on %s's phone", (unsigned long long)c->id,
              lc->display, a->phone);
}

/* ------------------------------------------------------------------ the phone's user types */
static json_t *body_object(h2o_req_t *req)
{
    if (!req->entity.base || !req->entity.len || req->entity.len > BODY_MAX) return NULL;
    json_t *o = json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static void bad(h2o_req_t *req, int status, const char *code, const char *field, const char *msg)
{
    miaw_sim_http_json(req, status, miaw_sim_error_json(code, field, msg));
}

static miaw_sim_conn *asking_conn(miaw_sim *sim, const miaw_sim_account *a)
{
    for (miaw_sim_conn *c = sim->conns; c; c = c->next)
        if (c->state == MIAW_SIM_CONN_REGISTERING && c->reg.linkcode && c->reg.linkcode->account == a) return c;
    return NULL;
}

/* the phone's half: unwrap the companion's key, send ours; 0 or an HTTP status */
static int type_code(miaw_sim_conn *c, const char *code, const char **why)
{
    miaw_sim_linkcode *lc = c->reg.linkcode;
    uint8_t wrapped[MIAW_WA_LINKCODE_WRAPPED_LEN];
    char id[32];
    *why = "cannot build the notification";
    if (miaw_wa_linkcode_unwrap(code, lc->wrapped, lc->companion_eph) || miaw_keypair_generate(&lc->eph) ||
        miaw_wa_linkcode_wrap(code, lc->eph.pub, NULL, wrapped))
        return 500;
    miaw_sim_next_id(c->sim, id, sizeof id);
    miaw_node *n = miaw_node_newv("notification", "from", "JID:@s.whatsapp.net", "type", "link_code_companion_reg",
                                  "id", id, NULL);
    miaw_node *reg = n ? miaw_node_add(n, "link_code_companion_reg") : NULL;
    if (!reg || miaw_node_set_attrf(n, "t", "%" PRIu64, miaw_sim_now()) ||
        miaw_node_set_bytes(miaw_node_add(reg, "link_code_pairing_ref"), lc->ref, strlen(lc->ref)) ||
        miaw_node_set_bytes(miaw_node_add(reg, "primary_identity_pub"), lc->account->identity.pub, 32) ||
        miaw_node_set_bytes(miaw_node_add(reg, "link_code_pairing_wrapped_primary_ephemeral_pub"), wrapped,
                            sizeof wrapped) ||
        miaw_sim_conn_send(c, n)) {
        miaw_node_free(n);
        return 500;
    }
    miaw_node_free(n);
    return 0;
}

void miaw_sim_linkcode_control(miaw_sim *sim, h2o_req_t *req, const char *phone)
{
    miaw_sim_account *a = miaw_sim_account_find(sim, phone);
    if (!a) {
        bad(req, 404, "NOT_FOUND", "phone", "no account with this phone");
        return;
    }
    json_t *b = body_object(req);
    char code[MIAW_WA_LINKCODE_LEN + 1];
    const char *s = json_string_value(json_object_get(b, "code"));
    if (!b) {
        bad(req, 400, "INVALID_REQUEST", "body", "the body must be a JSON object of at most 4 KiB");
    } else if (miaw_wa_linkcode_normalize(s, code)) {
        bad(req, 400, "INVALID_REQUEST", "code", "code must be the 8 characters the companion shows (XXXX-XXXX)");
    } else {
        miaw_sim_conn *c = asking_conn(sim, a);
        const char *why = NULL;
        int status;
        if (!c) {
            bad(req, 404, "NOT_FOUND", "code", "no connected companion asked for a code for this phone number");
        } else if (c->reg.linkcode->typed || c->reg.account) {
            bad(req, 409, "CONFLICT", NULL, "a code for this companion is being checked, or it is being paired");
        } else if ((status = type_code(c, code, &why)) != 0) {
            bad(req, status, "INTERNAL_ERROR", NULL, why);
        } else {
            miaw_sim_linkcode *lc = c->reg.linkcode;
            lc_wait *w = h2o_mem_alloc_shared(&req->pool, sizeof *w, wait_dispose);
            w->req = req;
            w->conn = c;
            lc->wait = w;
            lc->typed = 1;
            miaw_sim_conn_timer(c, MIAW_SIM_LINKCODE_TIMEOUT_MS, MIAW_SIM_TIMER_LINKCODE);
            MIAW_INFO("sim", "conn %llu: code typed on %s's phone; notification sent", (unsigned long long)c->id,
                      a->phone);
            json_decref(b);
            miaw_sim_conn_flush(c); /* may free c: last */
            return;
        }
    }
    json_decref(b);
}

/* ------------------------------------------------------------------ companion_finish */
static void on_finish(miaw_sim_conn *c, const miaw_node *iq, const miaw_node *reg)
{
    miaw_sim_linkcode *lc = c->reg.linkcode;
    size_t bl = 0, il = 0, rl = 0;
    const uint8_t *bundle = child(reg, "link_code_pairing_wrapped_key_bundle", 1, 4096, &bl);
    const uint8_t *ident = child(reg, "companion_identity_public", 32, 32, &il);
    const uint8_t *ref = child(reg, "link_code_pairing_ref", 1, 256, &rl);
    if (!bundle || !ident || !ref) {
        miaw_sim_iq_error(c, iq, 400, "bad-request");
        return;
    }
    if (!lc || rl != strlen(lc->ref) || memcmp(ref, lc->ref, rl) || !lc->typed) {
        miaw_sim_iq_error(c, iq, 404, "item-not-found"); /* no such pairing, or no code typed */
        return;
    }
    if (memcmp(ident, c->reg.identity_pub, 32)) {
        miaw_sim_iq_error(c, iq, 401, "not-authorized");
        untype(c, 502, "PAIRING_FAILED", NULL, "companion_finish names another identity key than the registration");
        return;
    }
    uint8_t shared[32], plain[MIAW_WA_LINKCODE_BUNDLE_PLAIN], ident_shared[32], adv[32];
    int rc = miaw_x25519(shared, lc->eph.priv, lc->companion_eph);
    if (!rc) rc = miaw_wa_linkcode_bundle_open(shared, bundle, bl, plain);
    if (rc) {
        OPENSSL_cleanse(shared, sizeof shared);
        miaw_sim_iq_error(c, iq, 401, "not-authorized");
        untype(c, 400, "INVALID_REQUEST", "code",
               "wrong code: the companion's key bundle does not open with it (the companion keeps waiting)");
        return;
    }
    miaw_sim_account *a = lc->account;
    const char *err = NULL;
    if (memcmp(plain, c->reg.identity_pub, 32) || memcmp(plain + 32, a->identity.pub, 32))
        err = "the key bundle names other identity keys";
    else if (miaw_x25519(ident_shared, a->identity.priv, c->reg.identity_pub) ||
             miaw_wa_linkcode_adv_secret(shared, ident_shared, plain + 64, adv))
        err = "cannot derive the adv secret";
    OPENSSL_cleanse(shared, sizeof shared);
    OPENSSL_cleanse(plain, sizeof plain);
    OPENSSL_cleanse(ident_shared, sizeof ident_shared);
    if (err) {
        miaw_sim_iq_error(c, iq, 401, "not-authorized");
        untype(c, 502, "PAIRING_FAILED", NULL, err);
        return;
    }
    send_and_free(c, miaw_sim_iq_result(iq));
    /* the request now waits for pair-device-sign, as after a scan */
    lc_wait *w = lc->wait;
    lc->wait = NULL;
    if (w) w->conn = NULL;
    lc->typed = 0;
    miaw_sim_conn_timer(c, 0, 0);
    const char *why = NULL;
    int status = w ? miaw_sim_pair_offer(c, a, adv, lc->platform, w->req, &why) : 0;
    OPENSSL_cleanse(adv, sizeof adv);
    if (status) bad(w->req, status, status == 409 ? "CONFLICT" : "INTERNAL_ERROR", NULL, why);
    MIAW_INFO("sim", "conn %llu: key bundle opened; %s", (unsigned long long)c->id,
              status ? "pairing refused" : "pair-success sent");
}

/* ------------------------------------------------------------------ dispatch */
int miaw_sim_linkcode_on_iq(miaw_sim_conn *c, const miaw_node *iq)
{
    const miaw_node *reg = miaw_node_child(iq, "link_code_companion_reg");
    if (!reg) return 0;
    const char *stage = miaw_node_attr(reg, "stage");
    if (!miaw_node_attr_is(iq, "type", "set") || !stage) {
        miaw_sim_iq_error(c, iq, 400, "bad-request");
    } else if (c->state != MIAW_SIM_CONN_REGISTERING) {
        miaw_sim_iq_error(c, iq, 405, "not-allowed"); /* only a registering companion pairs */
    } else if (!strcmp(stage, "companion_hello")) {
        on_hello(c, iq, reg);
    } else if (!strcmp(stage, "companion_finish")) {
        on_finish(c, iq, reg);
    } else {
        miaw_sim_iq_error(c, iq, 400, "bad-request");
    }
    return 1;
}

void miaw_sim_linkcode_on_timeout(miaw_sim_conn *c)
{
    untype(c, 504, "TIMEOUT", NULL, "the companion did not send companion_finish in time");
}

void miaw_sim_linkcode_on_close(miaw_sim_conn *c)
{
    miaw_sim_linkcode *lc = c->reg.linkcode;
    if (!lc) return;
    wait_answer(lc, 502, miaw_sim_error_json("CONNECTION_CLOSED", NULL, "the companion disconnected during pairing"));
    OPENSSL_cleanse(lc, sizeof *lc);
    free(lc);
    c->reg.linkcode = NULL;
}
