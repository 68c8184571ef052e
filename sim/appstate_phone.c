/* sim/appstate_phone.c - the simulated phone's side of app-state sync: it shares the
 * account's app-state sync key with each companion (an appStateSyncKeyShare protocol
 * message, once per companion and run, when it logs in, and whenever a companion asks
 * with an appStateSyncKeyRequest), decodes every patch the server
 * accepts with that key (all MACs and the LTHash checked, its own state per collection)
 * and logs the mutations, and creates mutations of its own for the control API
 * (POST / GET /sim/accounts/{phone}/appstate, see sim/README.md). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "appstate.h"
#include "base/log.h"
#include "base/util.h"
#include "control.h"
#include "directory.h"
#include "miaw/status.h"
#include "phone.h"
#include "route.h"
#include "state.h"
#include "wa_message.pb-c.h"

#define ASP_LOG_MAX 1000
#define ASP_BODY_MAX (256 * 1024)

static int asp_key_fn(void *ud, const uint8_t *id, size_t len, uint8_t kd[32])
{
    miaw_sim_as *s = ud;
    if (len != sizeof s->key_id || memcmp(id, s->key_id, len)) return MIAW_E_NOTFOUND;
    memcpy(kd, s->key_data, 32);
    return MIAW_OK;
}

typedef struct asp_logctx {
    miaw_sim_as *s;
    uint64_t version;
    uint32_t dev;
} asp_logctx;

static void asp_log_add(miaw_sim_as *s, json_t *e)
{
    json_array_append_new(s->log, e);
    while (json_array_size(s->log) > ASP_LOG_MAX) json_array_remove(s->log, 0);
}

static void asp_on_mut(void *ud, const char *coll, const miaw_as_mutation *m)
{
    asp_logctx *l = ud;
    asp_log_add(l->s, json_pack("{s:s,s:I,s:I,s:s,s:O?,s:s,s:O,s:I}", "collection", coll, "version",
                            (json_int_t)l->version, "fromDevice", (json_int_t)l->dev, "operation",
                            m->op == MIAW_AS_OP_REMOVE ? "remove" : "set", "index", m->index_json, "indexText",
                            m->index, "value", m->value, "timestamp", (json_int_t)m->timestamp));
}

void miaw_sim_appstate_phone_apply(miaw_sim_account *a, int ci, uint32_t dev, const uint8_t *patch, size_t len)
{
    miaw_sim_as *s = a->appstate;
    asp_logctx l = {s, s->c[ci].version, dev};
    miaw_as_ctx ctx = {.name = miaw_as_collections[ci], .key_fn = asp_key_fn, .key_ud = s, .mut_fn = asp_on_mut, .mut_ud = &l};
    int rc = miaw_as_decode_patch(&ctx, &s->c[ci].phone, patch, len, s->c[ci].version, NULL, 0);
    if (rc) {
        MIAW_WARN("sim", "phone %s: app-state %s version %" PRIu64 " from device %u does not verify: %s", a->phone,
                  miaw_as_collections[ci], s->c[ci].version, dev, ctx.err);
        asp_log_add(s, json_pack("{s:s,s:I,s:I,s:s}", "collection", miaw_as_collections[ci], "version",
                             (json_int_t)s->c[ci].version, "fromDevice", (json_int_t)dev, "error", ctx.err));
    }
}

/* ------------------------------------------------------------------ key share */

static int asp_send_share(miaw_sim *sim, miaw_sim_account *a, miaw_sim_as *s, uint32_t dev)
{
    Miaw__Wa__Message m = MIAW__WA__MESSAGE__INIT;
    Miaw__Wa__Message__ProtocolMessage pm = MIAW__WA__MESSAGE__PROTOCOL_MESSAGE__INIT;
    Miaw__Wa__Message__AppStateSyncKeyShare sh = MIAW__WA__MESSAGE__APP_STATE_SYNC_KEY_SHARE__INIT;
    Miaw__Wa__Message__AppStateSyncKey k = MIAW__WA__MESSAGE__APP_STATE_SYNC_KEY__INIT, *kp = &k;
    Miaw__Wa__Message__AppStateSyncKeyId kid = MIAW__WA__MESSAGE__APP_STATE_SYNC_KEY_ID__INIT;
    Miaw__Wa__Message__AppStateSyncKeyData kd = MIAW__WA__MESSAGE__APP_STATE_SYNC_KEY_DATA__INIT;
    Miaw__Wa__Message__AppStateSyncKeyFingerprint fp = MIAW__WA__MESSAGE__APP_STATE_SYNC_KEY_FINGERPRINT__INIT;
    kid.has_keyid = 1;
    kid.keyid.data = s->key_id;
    kid.keyid.len = sizeof s->key_id;
    kd.has_keydata = 1;
    kd.keydata.data = s->key_data;
    kd.keydata.len = 32;
    fp.has_rawid = 1;
    fp.rawid = a->raw_id;
    fp.has_currentindex = 1;
    fp.currentindex = 0;
    kd.fingerprint = &fp;
    kd.has_timestamp = 1;
    kd.timestamp = (int64_t)a->created_at * 1000;
    k.keyid = &kid;
    k.keydata = &kd;
    sh.n_keys = 1;
    sh.keys = &kp;
    pm.has_type = 1;
    pm.type = MIAW__WA__MESSAGE__PROTOCOL_MESSAGE__TYPE__APP_STATE_SYNC_KEY_SHARE;
    pm.appstatesynckeyshare = &sh;
    m.protocolmessage = &pm;
    size_t pl = 0;
    uint8_t *p = miaw_sim_phone_padded(&m, &pl);
    char id[40], to[64];
    uint8_t rnd[8];
    if (!p || miaw_random(rnd, sizeof rnd)) {
        free(p);
        return MIAW_E_NOMEM;
    }
    snprintf(id, sizeof id, "3EB0%02X%02X%02X%02X%02X%02X%02X%02X", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5],
             rnd[6], rnd[7]);
    miaw_sim_device_jid(a, 0, 0, to, sizeof to);
    miaw_node *st = miaw_node_newv("message", "id", id, "to", to, "type", "text", "category", "peer", "push_priority",
                                   "high_force", NULL);
    miaw_node *parts = st ? miaw_node_add(st, "participants") : NULL;
    int rc = parts ? miaw_sim_phone_encrypt_to(sim, a, a, dev, p, pl, 0, parts) : MIAW_E_NOMEM;
    free(p);
    if (!rc) rc = miaw_sim_route_message(sim, a, 0, st) > 0 ? 0 : MIAW_E_NOTFOUND;
    miaw_node_free(st);
    return rc;
}

void miaw_sim_appstate_on_login(miaw_sim *sim, miaw_sim_account *a, uint32_t dev)
{
    miaw_sim_as *s = dev ? miaw_sim_appstate_get(a) : NULL;
    if (!s) return;
    for (size_t i = 0; i < s->nshared; i++)
        if (s->shared[i] == dev) return;
    if (miaw_sim_phone_open(sim, a)) return;
    int rc = asp_send_share(sim, a, s, dev);
    if (rc) {
        MIAW_WARN("sim", "phone %s: app-state key share to device %u failed (%d)", a->phone, dev, rc);
        return;
    }
    if (s->nshared < sizeof s->shared / sizeof s->shared[0]) s->shared[s->nshared++] = dev;
    MIAW_INFO("sim", "phone %s: app-state sync key shared with device %u", a->phone, dev);
}

void miaw_sim_appstate_on_key_request(miaw_sim *sim, miaw_sim_account *a, uint32_t dev)
{
    miaw_sim_as *s = dev ? miaw_sim_appstate_get(a) : NULL;
    if (!s) return;
    int rc = asp_send_share(sim, a, s, dev);
    MIAW_INFO("sim", "phone %s: device %u asked for the app-state key: %s", a->phone, dev, rc ? "share failed" : "shared");
}

/* ------------------------------------------------------------------ control */

static void asp_bad(h2o_req_t *req, int status, const char *code, const char *field, const char *msg)
{
    miaw_sim_http_json(req, status, json_pack("{s:o}", "error", miaw_sim_error_json(code, field, msg)));
}

static json_t *asp_state_json(miaw_sim_account *a, miaw_sim_as *s)
{
    char kid[16];
    for (size_t i = 0; i < sizeof s->key_id; i++) snprintf(kid + 2 * i, 3, "%02x", s->key_id[i]);
    json_t *cols = json_object();
    for (int i = 0; i < 5; i++) {
        char h[2 * MIAW_AS_HASH_LEN + 1];
        for (size_t j = 0; j < MIAW_AS_HASH_LEN; j++) snprintf(h + 2 * j, 3, "%02x", s->c[i].phone.hash[j]);
        json_object_set_new(cols, miaw_as_collections[i],
                            json_pack("{s:I,s:I,s:I,s:I,s:s}", "version", (json_int_t)s->c[i].version, "patches",
                                      (json_int_t)s->c[i].np, "records", (json_int_t)s->c[i].nr, "phoneVersion",
                                      (json_int_t)s->c[i].phone.version, "phoneHash", h));
    }
    (void)a;
    return json_pack("{s:s,s:o,s:O,s:b,s:b}", "keyIdHex", kid, "collections", cols, "mutations", s->log, "snapshots",
                     s->snapshots, "externalMutations", s->external);
}

static int asp_op_of(const char *s)
{
    return !s ? -1 : !strcmp(s, "set") ? MIAW_AS_OP_SET : !strcmp(s, "remove") ? MIAW_AS_OP_REMOVE : -1;
}

static void asp_post(miaw_sim *sim, h2o_req_t *req, miaw_sim_account *a, miaw_sim_as *s)
{
    if (req->entity.len > ASP_BODY_MAX) return asp_bad(req, 413, "PAYLOAD_TOO_LARGE", "body", "body larger than 256 KiB");
    json_t *b = json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES, NULL);
    const char *name = json_string_value(json_object_get(b, "collection"));
    json_t *muts = json_object_get(b, "mutations");
    int ci = miaw_sim_appstate_coll(name);
    size_t n = json_array_size(muts);
    miaw_as_out *o = n && n <= 100 ? calloc(n, sizeof *o) : NULL;
    json_t *snap = json_object_get(b, "snapshots"), *ext = json_object_get(b, "externalMutations");
    json_t *noti = json_object_get(b, "notifications");
    if (!json_is_object(b)) {
        asp_bad(req, 400, "INVALID_REQUEST", "body", "the body is not a JSON object");
    } else if (!name && (snap || ext || noti)) { /* how the server answers fetches, notifies */
        if ((snap && !json_is_boolean(snap)) || (ext && !json_is_boolean(ext)) || (noti && !json_is_boolean(noti))) {
            asp_bad(req, 400, "INVALID_REQUEST",
                    snap && !json_is_boolean(snap)  ? "snapshots"
                    : ext && !json_is_boolean(ext) ? "externalMutations"
                                                   : "notifications",
                    "must be a boolean");
        } else {
            if (snap) s->snapshots = json_is_true(snap);
            if (ext) s->external = json_is_true(ext);
            if (noti) s->quiet = !json_is_true(noti);
            miaw_sim_http_json(req, 200, json_pack("{s:b,s:b,s:b}", "snapshots", s->snapshots, "externalMutations",
                                                   s->external, "notifications", !s->quiet));
        }
    } else if (ci < 0) {
        asp_bad(req, 400, "INVALID_REQUEST", "collection", "collection must name one of the five app-state collections");
    } else if (!o) {
        asp_bad(req, 400, "INVALID_REQUEST", "mutations", "mutations must be an array of 1 to 100 objects");
    } else {
        size_t i;
        json_t *m;
        const char *field = NULL;
        json_array_foreach(muts, i, m)
        {
            o[i].op = asp_op_of(json_string_value(json_object_get(m, "operation")));
            o[i].index = json_object_get(m, "index");
            o[i].value = json_object_get(m, "value");
            json_t *v = json_object_get(m, "version");
            o[i].action_version = v ? (int32_t)json_integer_value(v) : 2;
            if (o[i].op < 0) field = "operation";
        }
        miaw_as_state tmp;
        miaw_as_state_init(&tmp);
        miaw_as_ctx ctx = {.name = name};
        uint8_t *p = NULL;
        size_t pl = 0;
        uint64_t nv = 0;
        const char *why = "";
        int rc = field ? MIAW_E_INVAL : miaw_as_state_copy(&tmp, &s->c[ci].phone);
        if (field) snprintf(ctx.err, sizeof ctx.err, "operation must be \"set\" or \"remove\"");
        if (!rc) rc = miaw_as_encode_patch(&ctx, &tmp, s->key_id, sizeof s->key_id, s->key_data, o, n, NULL, &p, &pl);
        if (rc == MIAW_E_INVAL) {
            asp_bad(req, 400, "INVALID_REQUEST", "mutations", ctx.err);
        } else if (rc || (rc = miaw_sim_appstate_accept(sim, a, ci, 0, s->c[ci].version, p, pl, &nv, &why))) {
            asp_bad(req, 500, "INTERNAL_ERROR", NULL, rc == MIAW_E_EXIST ? why : "the patch could not be made");
        } else {
            miaw_sim_http_json(req, 201, json_pack("{s:s,s:I}", "collection", name, "version", (json_int_t)nv));
        }
        free(p);
        miaw_as_state_free(&tmp);
    }
    free(o);
    json_decref(b);
}

int miaw_sim_appstate_control(miaw_sim *sim, h2o_req_t *req)
{
    static const char pre[] = "/sim/accounts/", suf[] = "/appstate";
    const char *path = req->path_normalized.base;
    size_t len = req->path_normalized.len, pl = sizeof pre - 1, sl = sizeof suf - 1;
    if (len <= pl + sl || memcmp(path, pre, pl) || memcmp(path + len - sl, suf, sl)) return 0;
    char phone[MIAW_SIM_PHONE_MAX + 1];
    size_t n = len - pl - sl;
    if (n >= sizeof phone) return 0;
    memcpy(phone, path + pl, n);
    phone[n] = 0;
    if (strchr(phone, '/')) return 0;
    miaw_sim_account *a = miaw_sim_account_find(sim, phone);
    miaw_sim_as *s = a ? miaw_sim_appstate_get(a) : NULL;
    int get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"));
    int is_post = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"));
    if (!a)
        asp_bad(req, 404, "NOT_FOUND", "phone", "no account with this phone");
    else if (!s)
        asp_bad(req, 500, "INTERNAL_ERROR", NULL, "out of memory");
    else if (get)
        miaw_sim_http_json(req, 200, asp_state_json(a, s));
    else if (is_post)
        asp_post(sim, req, a, s);
    else
        asp_bad(req, 405, "METHOD_NOT_ALLOWED", NULL, "method not allowed on this endpoint");
    return 1;
}
