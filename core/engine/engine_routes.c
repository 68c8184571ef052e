/* core/engine/engine_routes.c - the engine's outside: settings from the configuration, creation
 * and teardown, the instance.deleted subscription, reconnect-at-start, and the lifecycle
 * routes of spec 4.4.1 (connect, disconnect, restart, status, qr). */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/ratelimit.h"
#include "engine/engine_int.h"
#include "engine/engine_appstate.h"
#include "engine/media.h"
#include "http/http.h"
#include "base/log.h"
#include "engine/qrpng.h"
#include "wa/pairing.h"

/* ------------------------------------------------------------ settings */
static int parse_key32(const char *s, uint8_t out[32])
{
    size_t n = strlen(s);
    if (n == 64) {
        for (size_t i = 0; i < 32; i++) {
            unsigned b;
            if (sscanf(s + 2 * i, "%2x", &b) != 1) return -1;
            out[i] = (uint8_t)b;
        }
        return 0;
    }
    uint8_t buf[48];
    if (n != 44 || EVP_DecodeBlock(buf, (const unsigned char *)s, 44) != 33 || s[43] != '=' || s[42] == '=') return -1;
    memcpy(out, buf, 32);
    return 0;
}

int miaw_engine_opts_from_config(miaw_engine_opts *o, const miaw_config *c, char *err, size_t errlen)
{
    *o = (miaw_engine_opts){.qr_first_ms = (unsigned)c->wa_qr_first_ms, .qr_next_ms = (unsigned)c->wa_qr_next_ms,
                            .qr_max = (unsigned)c->wa_qr_max, .keepalive_ms = (unsigned)c->wa_keepalive_ms,
                            .dead_ms = (unsigned)c->wa_dead_ms,
                            .handshake_timeout_ms = (unsigned)c->wa_handshake_timeout_ms,
                            .backoff_min_ms = (unsigned)c->wa_backoff_min_ms,
                            .backoff_max_ms = (unsigned)c->wa_backoff_max_ms,
                            .handshakes_per_sec = (unsigned)c->wa_handshakes_per_sec,
                            .prekeys_initial = (unsigned)c->wa_prekeys, .prekeys_refill = 50, .prekeys_min = 5};
    if (o->backoff_max_ms < o->backoff_min_ms) o->backoff_max_ms = o->backoff_min_ms;
    if (sscanf(c->wa_version, "%u.%u.%u", &o->version[0], &o->version[1], &o->version[2]) != 3) {
        snprintf(err, errlen, "whatsapp.version (WA_VERSION): expected a.b.c, got '%s'", c->wa_version);
        return -1;
    }
    if (*c->wa_root_key) {
        if (parse_key32(c->wa_root_key, o->root_pub) != 0) {
            snprintf(err, errlen, "whatsapp.root_key (WA_ROOT_KEY): expected 32 bytes as 64 hex digits or base64");
            return -1;
        }
        o->has_root = 1;
    }
    return 0;
}

/* ------------------------------------------------------------ routes */
static miaw_instance *req_inst(miaw_engine *e, miaw_req *q)
{
    return miaw_instances_find(e->inst, miaw_req_param(q, "instanceId"));
}

static int h_connect(miaw_req *q, void *ud)
{
    miaw_engine *e = ud;
    miaw_instance *in = req_inst(e, q);
    if (miaw_engine_connect(e, in) != 0)
        return miaw_req_reply_err(q, MIAW_ERR_INTERNAL, NULL, "cannot start connecting"), MIAW_OK;
    miaw_req_reply_data(q, 200, miaw_engine_status(e, in));
    return MIAW_OK;
}

static int h_disconnect(miaw_req *q, void *ud)
{
    miaw_engine *e = ud;
    miaw_instance *in = req_inst(e, q);
    miaw_engine_disconnect(e, in, "disconnected by request");
    miaw_req_reply_data(q, 200, miaw_engine_status(e, in));
    return MIAW_OK;
}

static int h_restart(miaw_req *q, void *ud)
{
    miaw_engine *e = ud;
    miaw_instance *in = req_inst(e, q);
    miaw_engine_disconnect(e, in, "restarting");
    if (miaw_engine_connect(e, in) != 0)
        return miaw_req_reply_err(q, MIAW_ERR_INTERNAL, NULL, "cannot start connecting"), MIAW_OK;
    miaw_req_reply_data(q, 200, miaw_engine_status(e, in));
    return MIAW_OK;
}

static int h_status(miaw_req *q, void *ud)
{
    miaw_engine *e = ud;
    miaw_req_reply_data(q, 200, miaw_engine_status(e, req_inst(e, q)));
    return MIAW_OK;
}

static int h_qr(miaw_req *q, void *ud)
{
    miaw_engine *e = ud;
    miaw_instance *in = req_inst(e, q);
    const char *qr = miaw_engine_qr(e, in);
    if (!qr) {
        if (in->state == MIAW_ST_CONNECTED)
            return miaw_req_reply_err(q, MIAW_ERR_CONFLICT, json_pack("{s:s}", "status", "connected"),
                                      "instance '%s' is already connected", in->id),
                   MIAW_OK;
        return miaw_req_reply_err(q, MIAW_ERR_NOT_FOUND, json_pack("{s:s}", "status", miaw_inst_state_name(in->state)),
                                  "no QR code is available (status %s); POST /instances/%s/connect first",
                                  miaw_inst_state_name(in->state), in->id),
               MIAW_OK;
    }
    uint8_t *png;
    size_t plen;
    if (miaw_qr_png(qr, 8, &png, &plen) != 0)
        return miaw_req_reply_err(q, MIAW_ERR_INTERNAL, NULL, "cannot render the QR code"), MIAW_OK;
    const char *accept = miaw_req_header(q, "accept");
    if (accept && strstr(accept, "image/png")) {
        miaw_req_reply_raw(q, 200, "image/png", png, plen, "no-store");
        free(png);
        return MIAW_OK;
    }
    char *b64 = miaw_wa_b64(png, plen);
    free(png);
    if (!b64) return miaw_req_reply_err(q, MIAW_ERR_INTERNAL, NULL, "out of memory"), MIAW_OK;
    size_t n = strlen(b64) + 32;
    char *url = malloc(n);
    if (url) snprintf(url, n, "data:image/png;base64,%s", b64);
    free(b64);
    json_t *d = json_pack("{s:s,s:s,s:s}", "instanceId", in->id, "qr", qr, "base64", url ? url : "");
    free(url);
    miaw_req_reply_data(q, 200, d);
    return MIAW_OK;
}

#define STATUS_EX                                                                                                  \
    "{\"instanceId\":\"my-bot-1\",\"status\":\"connected\",\"paired\":true,\"reason\":null,"                      \
    "\"jid\":\"15551234567:3@s.whatsapp.net\",\"lid\":\"123456789012345:3@lid\",\"connectedAt\":"                  \
    "\"2025-12-25T10:00:00.000Z\",\"qrAvailable\":false}"

int eng_routes(miaw_engine *e, miaw_router *rt, char *err, size_t errlen)
{
    const miaw_route routes[] = {
        {MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/connect", .flags = MIAW_ROUTE_INSTANCE,
         .handler = h_connect, .udata = e, .operation_id = "connectInstance", .summary = "Connect to WhatsApp",
         .description = "Starts connecting. A paired instance logs in; a new one registers and emits `qr` events "
                        "(GET .../qr) until the code is scanned or the codes run out. Idempotent.",
         .tag = "Instances", .response_example = STATUS_EX},
        {MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/disconnect", .flags = MIAW_ROUTE_INSTANCE,
         .handler = h_disconnect, .udata = e, .operation_id = "disconnectInstance",
         .summary = "Disconnect from WhatsApp",
         .description = "Closes the connection and stays disconnected (also across server restarts); the device "
                        "stays paired.",
         .tag = "Instances", .response_example = STATUS_EX},
        {MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/restart", .flags = MIAW_ROUTE_INSTANCE,
         .handler = h_restart, .udata = e, .operation_id = "restartInstance", .summary = "Restart instance",
         .description = "Disconnects and connects again.", .tag = "Instances", .response_example = STATUS_EX},
        {MIAW_ROUTE_INIT, .method = "GET", .path = "/instances/{instanceId}/status", .flags = MIAW_ROUTE_INSTANCE,
         .handler = h_status, .udata = e, .operation_id = "getInstanceStatus", .summary = "Get connection status",
         .description = "State (disconnected, connecting, qr, connected, logged_out) with its reason; the device "
                        "JIDs once paired.",
         .tag = "Instances", .response_example = STATUS_EX},
        {MIAW_ROUTE_INIT, .method = "GET", .path = "/instances/{instanceId}/qr", .flags = MIAW_ROUTE_INSTANCE,
         .handler = h_qr, .udata = e, .operation_id = "getInstanceQr", .summary = "Get the current QR code",
         .description = "`{qr, base64}` (base64 = a PNG data URL), or the PNG itself with `Accept: image/png`. "
                        "404 NOT_FOUND when no code is current, 409 CONFLICT when already connected.",
         .tag = "Instances",
         .response_example = "{\"instanceId\":\"my-bot-1\",\"qr\":\"https://wa.me/settings/linked_devices#"
                             "2@abc,ZmFrZQ==,ZmFrZQ==,ZmFrZQ==,1\",\"base64\":\"data:image/png;base64,iVBORw0...\"}"},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (miaw_router_add(rt, &routes[i], 0, NULL, err, errlen) != 0) return -1;
    if (eng_auto_routes(e, rt, err, errlen) != 0) return -1;
    return eng_linkcode_routes(e, rt, err, errlen);
}

/* ------------------------------------------------------------ lifecycle */
static void on_deleted(const miaw_event *ev, void *ud)
{
    miaw_engine *e = ud;
    if (!ev->instance_id) return;
    miaw_instance *in = miaw_instances_find(e->inst, ev->instance_id);
    if (in && in->engine) eng_release(in->engine);
    eng_store_delete(e->db, ev->instance_id);
    eng_sig_purge(e, ev->instance_id);
    eng_chat_delete(e, ev->instance_id);
    eas_purge(e->db, ev->instance_id);
}

miaw_engine *miaw_engine_new(uv_loop_t *loop, const miaw_config *cfg, miaw_storage *db, miaw_bus *bus,
                             miaw_instances *inst, miaw_router *rt, const miaw_engine_opts *opts, char *err,
                             size_t errlen)
{
    miaw_engine *e = calloc(1, sizeof *e);
    if (!e) return snprintf(err, errlen, "out of memory"), NULL;
    e->loop = loop;
    e->cfg = cfg;
    e->db = db;
    e->bus = bus;
    e->inst = inst;
    if (opts) e->o = *opts;
    else if (miaw_engine_opts_from_config(&e->o, cfg, err, errlen) != 0) goto fail;
    if (eng_store_init(db) != 0 || eng_chat_init(db) != 0 || eng_hist_init(db) != 0 || eas_store_init(db) != 0 ||
        miaw_sig_db_open(db->db, &e->sdb) != 0) {
        snprintf(err, errlen, "cannot create the engine's tables");
        goto fail;
    }
    e->sweep = malloc(sizeof *e->sweep);
    if (!e->sweep) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    uv_timer_init(loop, e->sweep);
    e->sweep->data = e;
    if (eng_routes(e, rt, err, errlen) != 0) goto fail;
    if (eng_media_new(e, err, errlen) != 0) goto fail;
    if (eng_hist_start(e, err, errlen) != 0) goto fail;
    if (miaw_bus_subscribe(bus, NULL, "instance.deleted", on_deleted, e, &e->sub_deleted) != 0) {
        snprintf(err, errlen, "cannot subscribe to instance.deleted");
        goto fail;
    }
    eng_auto_attach(e, 1);
    if (!e->o.has_root && strncmp(cfg->wa_ws_url, "wss://web.whatsapp.com", 22) != 0)
        MIAW_WARN("engine", "whatsapp.ws_url is not WhatsApp's but WA_ROOT_KEY is unset: handshakes will fail");
    char **ids;
    size_t n;
    if (eng_store_autoconnect_ids(db, &ids, &n) == 0) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            miaw_instance *in = miaw_instances_find(inst, ids[i]);
            if (in && in->state != MIAW_ST_LOGGED_OUT && miaw_engine_connect(e, in) == 0) k++;
            free(ids[i]);
        }
        free(ids);
        if (k) MIAW_INFO("engine", "reconnecting %zu paired instance(s)", k);
    }
    return e;
fail:
    eng_hist_stop(e);
    sqlite3_finalize(e->chat_ins);
    eng_media_free(e);
    miaw_sig_db_close(e->sdb);
    if (e->sweep) uv_close((uv_handle_t *)e->sweep, (uv_close_cb)free);
    free(e);
    return NULL;
}

void miaw_engine_free(miaw_engine *e)
{
    if (!e) return;
    e->closing = 1;
    eng_auto_attach(e, 0);
    /* shutdown: nobody is left to hear about pending sends (plugins are unloaded) */
    for (eng_inst *ei = e->list; ei; ei = ei->next) eng_send_cancel_all(ei);
    while (e->list) eng_release(e->list);
    eng_media_free(e);
    eng_hist_stop(e);
    sqlite3_finalize(e->chat_ins);
    miaw_ratelimit_free(e->send_rl);
    miaw_bus_unsubscribe(e->bus, NULL, e->sub_deleted);
    miaw_sig_db_close(e->sdb);
    uv_close((uv_handle_t *)e->sweep, (uv_close_cb)free);
    free(e);
}
