/* sim/control.c - the /sim control API: create accounts, let an account's phone scan a
 * companion's QR, send and list the phone's messages, unlink devices, cut connections,
 * report the state and the certificate root. JSON in and out; bad input gets a 400
 * naming the field. Owns nothing beyond a request. */
#include "control.h"

#include <string.h>

#include "appstate.h"
#include "codec.h"
#include "base/log.h"
#include "miaw/plugin.h"
#include "conn.h"
#include "directory.h"
#include "linkcode.h"
#include "pair.h"
#include "media_tls.h"
#include "phone.h"
#include "phone_media.h"
#include "phone_kinds.h"
#include "phone_group.h"
#include "presence.h"
#include "profile.h"
#include "state.h"

#define BODY_MAX (1024 * 1024) /* media messages carry base64 */

void miaw_sim_http_json(h2o_req_t *req, int status, json_t *body)
{
    char *s = json_dumps(body ? body : json_object(), JSON_COMPACT);
    json_decref(body);
    static const char *reasons[600];
    reasons[200] = "OK", reasons[201] = "Created", reasons[400] = "Bad Request", reasons[404] = "Not Found",
    reasons[405] = "Method Not Allowed", reasons[426] = "Upgrade Required", reasons[409] = "Conflict", reasons[413] = "Payload Too Large",
    reasons[500] = "Internal Server Error", reasons[502] = "Bad Gateway", reasons[504] = "Gateway Timeout";
    req->res.status = status;
    req->res.reason = status > 0 && status < 600 && reasons[status] ? reasons[status] : "Status";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    size_t len = s ? strlen(s) : 2;
    /* h2o_send_inline copies the body into the request pool */
    h2o_send_inline(req, s ? s : "{}", len);
    MIAW_INFO("sim", "%.*s %.*s %d", (int)req->method.len, req->method.base, (int)req->path.len, req->path.base,
              status);
    free(s);
}

json_t *miaw_sim_error_json(const char *code, const char *field, const char *message)
{
    json_t *e = json_pack("{s:s,s:s}", "code", code, "message", message ? message : "");
    if (field) json_object_set_new(e, "field", json_string(field));
    return json_pack("{s:o}", "error", e);
}

static void bad(h2o_req_t *req, int status, const char *code, const char *field, const char *msg)
{
    miaw_sim_http_json(req, status, miaw_sim_error_json(code, field, msg));
}

static json_t *body_object(h2o_req_t *req)
{
    if (!req->entity.base || !req->entity.len) {
        bad(req, 400, "INVALID_REQUEST", "body", "a JSON object body is required");
        return NULL;
    }
    if (req->entity.len > BODY_MAX) {
        bad(req, 413, "PAYLOAD_TOO_LARGE", "body", "the body is larger than 1 MiB");
        return NULL;
    }
    json_error_t je;
    json_t *o = json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        bad(req, 400, "INVALID_REQUEST", "body", "the body is not a JSON object");
        return NULL;
    }
    return o;
}

static void create_account(miaw_sim *sim, h2o_req_t *req)
{
    json_t *b = body_object(req);
    if (!b) return;
    json_t *jp = json_object_get(b, "phone"), *jn = json_object_get(b, "name");
    const char *phone = json_string_value(jp), *name = jn ? json_string_value(jn) : "";
    if (!miaw_sim_phone_valid(phone)) {
        bad(req, 400, "INVALID_REQUEST", "phone", "phone must be 5-20 digits, country code first, no leading zero");
    } else if (!name || strlen(name) > MIAW_SIM_NAME_MAX) {
        bad(req, 400, "INVALID_REQUEST", "name", "name must be a string of at most 64 bytes");
    } else {
        miaw_sim_account *a;
        int rc = miaw_sim_account_add(sim, phone, name, &a);
        if (rc == MIAW_E_EXIST) {
            bad(req, 409, "CONFLICT", "phone", "an account with this phone exists");
        } else if (rc) {
            bad(req, 500, "INTERNAL_ERROR", NULL, "cannot create the account");
        } else {
            char jid[64], lid[64];
            miaw_sim_device_jid(a, 0, 0, jid, sizeof jid);
            miaw_sim_device_jid(a, 0, 1, lid, sizeof lid);
            miaw_sim_state_save(sim);
            MIAW_INFO("sim", "account %s (%s) created, lid %s", a->phone, a->name, a->lid);
            miaw_sim_http_json(req, 201, json_pack("{s:s,s:s}", "jid", jid, "lid", lid));
        }
    }
    json_decref(b);
}

static void scan(miaw_sim *sim, h2o_req_t *req, const char *phone)
{
    miaw_sim_account *a = miaw_sim_account_find(sim, phone);
    if (!a) {
        bad(req, 404, "NOT_FOUND", "phone", "no account with this phone");
        return;
    }
    json_t *b = body_object(req);
    if (!b) return;
    const char *qrs = json_string_value(json_object_get(b, "qr"));
    miaw_sim_qr qr;
    const char *why = NULL;
    if (!qrs) {
        bad(req, 400, "INVALID_REQUEST", "qr", "qr must be the string the companion shows as a QR code");
    } else if (miaw_sim_qr_parse(qrs, strlen(qrs), &qr, &why)) {
        bad(req, 400, "INVALID_REQUEST", "qr", why);
    } else {
        int status = miaw_sim_pair_scan(sim, a, &qr, req, &why);
        if (status) bad(req, status, status == 404 ? "NOT_FOUND" : status == 409 ? "CONFLICT" : status == 400 ? "INVALID_REQUEST" : "INTERNAL_ERROR", status == 400 ? "qr" : NULL, why);
    }
    json_decref(b);
}

#define TEXT_MAX 65536

static void messages(miaw_sim *sim, h2o_req_t *req, const char *phone, int post)
{
    miaw_sim_account *a = miaw_sim_account_find(sim, phone);
    if (!a) {
        bad(req, 404, "NOT_FOUND", "phone", "no account with this phone");
        return;
    }
    if (!post) {
        miaw_sim_http_json(req, 200, miaw_sim_phone_messages_json(a));
        return;
    }
    json_t *b = body_object(req);
    if (!b) return;
    const char *to = json_string_value(json_object_get(b, "to"));
    const char *text = json_string_value(json_object_get(b, "text"));
    if (miaw_sim_phone_media_kind(b)) { /* image, video, audio, sticker, document */
        miaw_sim_phone_media_post(sim, req, a, b);
    } else if (miaw_sim_phone_kinds_post(sim, req, a, b)) { /* reaction, edit, revoke, location, contact(s) */
    } else if (!to || !*to || strlen(to) > 96) {
        bad(req, 400, "INVALID_REQUEST", "to", "to must be a phone number or a JID of a simulated account");
    } else if (!text || !*text || strlen(text) > TEXT_MAX) {
        bad(req, 400, "INVALID_REQUEST", "text", "text must be a non-empty string of at most 64 KiB");
    } else {
        char id[40];
        const char *why = NULL;
        miaw_sim_group *g = strstr(to, "@g.us") ? miaw_sim_group_find(sim, to) : NULL;
        int rc = g ? miaw_sim_phone_group_send_text(sim, a, g, text, id, sizeof id, &why)
             : strstr(to, "@g.us") ? (why = "no such group", MIAW_E_NOTFOUND)
                                   : miaw_sim_phone_send_text(sim, a, to, text, id, sizeof id, &why);
        if (rc == MIAW_E_AUTH) bad(req, 409, "CONFLICT", "to", why);
        else if (rc == MIAW_E_NOTFOUND) bad(req, 404, "NOT_FOUND", "to", why);
        else if (rc) bad(req, 500, "INTERNAL_ERROR", NULL, why ? why : "sending failed");
        else miaw_sim_http_json(req, 201, json_pack("{s:s}", "id", id));
    }
    json_decref(b);
}

static void unlink_device(miaw_sim *sim, h2o_req_t *req, const char *jid)
{
    miaw_sim_addr ad;
    int rc = miaw_sim_resolve_str(sim, jid, &ad);
    if (rc == MIAW_E_INVAL) {
        bad(req, 400, "INVALID_REQUEST", "jid", "not a device JID (<phone>:<n>@s.whatsapp.net or <lid>:<n>@lid)");
    } else if (rc || ad.device == 0) {
        bad(req, 404, "NOT_FOUND", "jid", ad.device == 0 && ad.account ? "the phone (device 0) cannot be unlinked"
                                                                        : "no such linked device");
    } else {
        miaw_sim_dir_unlink(sim, ad.account, ad.device, "unlinked through the control API");
        miaw_sim_http_json(req, 200, json_pack("{s:b}", "removed", 1));
    }
}

/* POST /sim/faults {"drop":"all"|"<jid>"}: cut connections (a WebSocket close, no
 * stream error: what a network failure looks like to the client) */
static void faults(miaw_sim *sim, h2o_req_t *req)
{
    json_t *b = body_object(req);
    if (!b) return;
    const char *drop = json_string_value(json_object_get(b, "drop"));
    miaw_sim_addr ad;
    int all = drop && !strcmp(drop, "all");
    if (!drop || (!all && miaw_sim_resolve_str(sim, drop, &ad) == MIAW_E_INVAL)) {
        bad(req, 400, "INVALID_REQUEST", "drop", "drop must be \"all\" or a device or user JID");
        json_decref(b);
        return;
    }
    miaw_sim_conn *victims[256];
    size_t n = 0;
    for (miaw_sim_conn *c = sim->conns; c && n < 256; c = c->next) {
        if (c->state == MIAW_SIM_CONN_CLOSING) continue;
        int hit = all || (c->account && c->account == ad.account && (!ad.has_device || ad.device == c->device_id));
        if (hit) victims[n++] = c;
    }
    for (size_t i = 0; i < n; i++) miaw_sim_conn_close(victims[i], "dropped through the control API");
    for (size_t i = 0; i < n; i++) miaw_sim_conn_flush(victims[i]);
    miaw_sim_http_json(req, 200, json_pack("{s:I}", "dropped", (json_int_t)n));
    json_decref(b);
}

static void cert(miaw_sim *sim, h2o_req_t *req)
{
    char hex[65], b64[48];
    miaw_sim_hex(sim->root.pub, 32, hex);
    miaw_sim_b64_encode(sim->root.pub, 32, b64, sizeof b64);
    char *chain = malloc(4 * ((sim->cert_len + 2) / 3) + 1);
    if (chain) miaw_sim_b64_encode(sim->cert, sim->cert_len, chain, 4 * ((sim->cert_len + 2) / 3) + 1);
    char shex[65];
    miaw_sim_hex(sim->server_static.pub, 32, shex);
    miaw_sim_http_json(req, 200, json_pack("{s:s,s:s,s:s,s:s,s:i}", "rootPublicKeyHex", hex, "rootPublicKeyBase64", b64,
                                           "serverStaticHex", shex, "certChainBase64", chain ? chain : "",
                                           "intermediateIssuerSerial", 0));
    free(chain);
}

void miaw_sim_control(miaw_sim *sim, h2o_req_t *req)
{
    char phone[128];
    size_t plen = req->path_normalized.len;
    int route = miaw_sim_route(req->path_normalized.base, plen, phone, sizeof phone);
    if (route == MIAW_SIM_ROUTE_NONE && miaw_sim_media_control(sim, req)) return; /* /sim/media-ca, /sim/media */
    if (route == MIAW_SIM_ROUTE_NONE && miaw_sim_profile_control(sim, req)) return; /* /sim/profile, /sim/pps */
    if (miaw_sim_appstate_control(sim, req)) return; /* /sim/accounts/{phone}/appstate */
    int get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"));
    int post = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"));
    int del = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("DELETE"));
    switch (route) {
    case MIAW_SIM_ROUTE_ACCOUNTS:
        if (post) { create_account(sim, req); return; }
        if (get) {
            json_t *st = miaw_sim_state_json(sim);
            json_t *acc = json_incref(json_object_get(st, "accounts"));
            json_decref(st);
            miaw_sim_http_json(req, 200, json_pack("{s:o}", "accounts", acc));
            return;
        }
        break;
    case MIAW_SIM_ROUTE_SCAN:
        if (post) { scan(sim, req, phone); return; }
        break;
    case MIAW_SIM_ROUTE_GROUPS:
        if (get || post) { miaw_sim_phone_group_control(sim, req, phone, post); return; }
        break;
    case MIAW_SIM_ROUTE_PRESENCE:
        if (get || post) { miaw_sim_presence_control(sim, req, phone, post); return; }
        break;
    case MIAW_SIM_ROUTE_LINK_CODE:
        if (post) { miaw_sim_linkcode_control(sim, req, phone); return; }
        break;
    case MIAW_SIM_ROUTE_STATE:
        if (get) { miaw_sim_http_json(req, 200, miaw_sim_state_json(sim)); return; }
        break;
    case MIAW_SIM_ROUTE_CERT:
        if (get) { cert(sim, req); return; }
        break;
    case MIAW_SIM_ROUTE_MESSAGES:
        if (get || post) { messages(sim, req, phone, post); return; }
        break;
    case MIAW_SIM_ROUTE_DEVICE:
        if (del) { unlink_device(sim, req, phone); return; }
        break;
    case MIAW_SIM_ROUTE_FAULTS:
        if (post) { faults(sim, req); return; }
        break;
    default:
        bad(req, 404, "NOT_FOUND", NULL, "no such control endpoint (see sim/README.md)");
        return;
    }
    bad(req, 405, "METHOD_NOT_ALLOWED", NULL, "method not allowed on this endpoint");
}
