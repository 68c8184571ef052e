/* core/engine/engine_auto.c - what the configuration makes the engine do by itself, and
 * unlinking: whatsapp.auto_mark_read (a read receipt for every incoming 1:1 message) and
 * whatsapp.auto_reply (a text sent back to every incoming 1:1 message, at most 5 per chat and
 * minute so that two auto-replying accounts cannot loop); unlinking the
 * companion device from the account (`<iq xmlns="md" type="set" to="s.whatsapp.net">
 * <remove-companion-device jid=<own device> reason="user_initiated"/></iq>`, as whatsmeow's
 * Logout and Baileys' logout send it) for POST /instances/{id}/logout and for
 * DELETE /instances/{id} (miaw_engine_unlink). Owns the small context of each pending unlink
 * (freed when its IQ callback ran). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"
#include "base/log.h"
#include "http/http.h"

#define UNLINK_TIMEOUT_MS 10000
#define AUTO_REPLY_MAX 5          /* auto replies per chat ... */
#define AUTO_REPLY_WINDOW_MS 60000 /* ... per minute: two auto-replying accounts cannot loop */

/* 1 when chat may get one more auto reply now (and counts it) */
static int auto_reply_allowed(eng_inst *ei, const char *chat)
{
    uint64_t now = uv_now(ei->e->loop);
    size_t slot = 0;
    for (size_t i = 0; i < sizeof ei->autor / sizeof ei->autor[0]; i++) {
        if (!strcmp(ei->autor[i].chat, chat)) {
            slot = i;
            goto found;
        }
        if (ei->autor[i].since < ei->autor[slot].since) slot = i; /* the oldest, reused */
    }
    snprintf(ei->autor[slot].chat, sizeof ei->autor[slot].chat, "%s", chat);
    ei->autor[slot].since = now;
    ei->autor[slot].n = 0;
found:
    if (now - ei->autor[slot].since >= AUTO_REPLY_WINDOW_MS) {
        ei->autor[slot].since = now;
        ei->autor[slot].n = 0;
    }
    return ++ei->autor[slot].n <= AUTO_REPLY_MAX;
}

/* ------------------------------------------------------------ auto read / reply */
void eng_auto_on_message(eng_inst *ei, const miaw_node *n, const char *chat)
{
    const miaw_config *cfg = ei->e->cfg;
    if (cfg->auto_mark_read) eng_recv_send_free(ei, miaw_wa_receipt_for(n, "read"));
    if (cfg->auto_reply && *cfg->auto_reply) {
        miaw_instance *in = miaw_instances_find(ei->e->inst, ei->id);
        const char *field = NULL;
        char err[256];
        uint64_t handle = 0;
        if (!in) return;
        if (!auto_reply_allowed(ei, chat)) {
            MIAW_INFO("engine", "%s: no auto reply to %s: %d sent within a minute already", ei->id, chat, AUTO_REPLY_MAX);
            return;
        }
        int rc = miaw_engine_send_text(ei->e, in, chat, cfg->auto_reply, NULL, NULL, NULL, &handle, &field, err,
                                       sizeof err);
        if (rc) MIAW_WARN("engine", "%s: auto reply to %s not sent: %s", ei->id, chat, err);
    }
}

/* ------------------------------------------------------------ unlink */
typedef struct unlink_ctx {
    miaw_engine *e;
    char id[65];
    miaw_engine_unlink_cb cb;
    void *ud;
} unlink_ctx;

static void on_unlink_reply(miaw_wa_conn *c, const miaw_node *reply, int err, void *ud)
{
    (void)c;
    unlink_ctx *u = ud;
    if (u->e->closing) { /* shutdown: nobody acts on the answer */
        if (u->cb) u->cb(u->ud, -1, "the server is shutting down");
        free(u);
        return;
    }
    int ok = !err && reply && miaw_node_attr_is(reply, "type", "result");
    const char *why = ok ? NULL : err == MIAW_E_TIMEOUT ? "the server did not answer the unlink request"
                              : err                     ? "the connection closed before the server answered"
                                                        : "the server refused to unlink the device";
    miaw_instance *in = miaw_instances_find(u->e->inst, u->id);
    if (ok) MIAW_INFO("engine", "%s: device unlinked from the account", u->id);
    else MIAW_WARN("engine", "%s: unlink: %s", u->id, why);
    if (ok && in && in->engine) eng_logout(in->engine, "logged out by request (device unlinked)");
    if (u->cb) u->cb(u->ud, ok, why);
    free(u);
}

int miaw_engine_unlink(miaw_engine *e, miaw_instance *in, miaw_engine_unlink_cb cb, void *ud)
{
    eng_inst *ei = in->engine;
    if (!ei || !ei->conn || !ei->logged_in || !ei->have_creds || !ei->creds.jid[0]) return MIAW_E_STATE;
    miaw_node *iq = miaw_node_newv("iq", "xmlns", "md", "type", "set", "to", "JID:@s.whatsapp.net", NULL);
    miaw_node *rm = iq ? miaw_node_add(iq, "remove-companion-device") : NULL;
    miaw_jid me;
    if (!rm || miaw_jid_parse(&me, ei->creds.jid) != 0 || miaw_node_set_jid(rm, "jid", &me) != 0 ||
        miaw_node_set_attr(rm, "reason", "user_initiated") != 0) {
        miaw_node_free(iq);
        return MIAW_E_NOMEM;
    }
    unlink_ctx *u = calloc(1, sizeof *u);
    if (!u) {
        miaw_node_free(iq);
        return MIAW_E_NOMEM;
    }
    *u = (unlink_ctx){.e = e, .cb = cb, .ud = ud};
    snprintf(u->id, sizeof u->id, "%s", in->id);
    if (miaw_wa_conn_iq(ei->conn, iq, UNLINK_TIMEOUT_MS, on_unlink_reply, u) != 0) {
        free(u);
        return MIAW_E_STATE;
    }
    return 0;
}

/* ------------------------------------------------------------ POST .../logout */
typedef struct logout_req {
    miaw_req *q;   /* NULL once the client left */
    miaw_engine *e;
    char id[65];
} logout_req;

static void logout_abort(miaw_req *q, int reason, void *ud)
{
    (void)q;
    (void)reason;
    ((logout_req *)ud)->q = NULL; /* freed by logout_done, which always runs */
}

static json_t *logout_json(miaw_engine *e, miaw_instance *in, int unlinked)
{
    json_t *d = miaw_engine_status(e, in);
    json_object_set_new(d, "unlinked", json_boolean(unlinked));
    return d;
}

static void logout_done(void *ud, int ok, const char *why)
{
    logout_req *l = ud;
    miaw_req *q = l->q;
    miaw_instance *in = miaw_instances_find(l->e->inst, l->id);
    char msg[200];
    snprintf(msg, sizeof msg, "the device could not be unlinked: %s", why ? why : "");
    if (q && ok <= 0) miaw_req_reply_code(q, 502, "WHATSAPP_ERROR", NULL, msg);
    else if (q && in) miaw_req_reply_data(q, 200, logout_json(l->e, in, 1));
    else if (q) miaw_req_reply_data(q, 200, json_pack("{s:s,s:b}", "instanceId", l->id, "unlinked", 1));
    free(l); /* answered (or gone): the request's abort callback no longer runs */
}

static int h_logout(miaw_req *q, void *ud)
{
    miaw_engine *e = ud;
    miaw_instance *in = miaw_instances_find(e->inst, miaw_req_param(q, "instanceId"));
    eng_inst *ei = in->engine;
    if (!ei || !ei->logged_in) {
        json_t *st = miaw_engine_status(e, in);
        int paired = json_is_true(json_object_get(st, "paired"));
        json_decref(st);
        if (paired)
            return miaw_req_reply_err(q, MIAW_ERR_INSTANCE_NOT_CONNECTED, json_pack("{s:s}", "status", miaw_inst_state_name(in->state)),
                                      "instance '%s' is paired but not connected: connect it first, the phone is "
                                      "told to unlink the device over the connection",
                                      in->id),
                   MIAW_OK;
        return miaw_req_reply_err(q, MIAW_ERR_CONFLICT, json_pack("{s:s}", "status", miaw_inst_state_name(in->state)),
                                  "instance '%s' is not paired: nothing to log out", in->id),
               MIAW_OK;
    }
    logout_req *l = calloc(1, sizeof *l);
    if (!l) return miaw_req_reply_err(q, MIAW_ERR_INTERNAL, NULL, "out of memory"), MIAW_OK;
    l->q = q;
    l->e = e;
    snprintf(l->id, sizeof l->id, "%s", in->id);
    int rc = miaw_engine_unlink(e, in, logout_done, l);
    if (rc) {
        free(l);
        return miaw_req_reply_err(q, rc == MIAW_E_STATE ? MIAW_ERR_INSTANCE_NOT_CONNECTED : MIAW_ERR_INTERNAL, NULL,
                                  "cannot send the unlink request"),
               MIAW_OK;
    }
    if (miaw_req_suspend(q, logout_abort, l) != MIAW_OK) {
        l->q = NULL; /* logout_done frees l; the client gets the pipeline's error */
        return MIAW_E_NOMEM;
    }
    return MIAW_ASYNC;
}

int eng_auto_routes(miaw_engine *e, miaw_router *rt, char *err, size_t errlen)
{
    const miaw_route r = {
        MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/logout", .flags = MIAW_ROUTE_INSTANCE,
        .handler = h_logout, .udata = e, .operation_id = "logoutInstance", .summary = "Log out (unlink the device)",
        .description = "Tells WhatsApp to remove this device from the account (the phone's linked-devices list no "
                       "longer shows it; remove-companion-device), then drops the instance's credentials and "
                       "Signal keys. The instance itself stays (status logged_out); connect again to pair anew "
                       "by QR. 503 INSTANCE_NOT_CONNECTED when paired but not connected (the unlink goes over the "
                       "connection), 409 CONFLICT when not paired, 502 when the server refuses or does not answer.",
        .tag = "Instances",
        .response_example = "{\"instanceId\":\"my-bot-1\",\"status\":\"logged_out\",\"paired\":false,"
                            "\"reason\":\"logged out by request (device unlinked)\",\"qrAvailable\":false,"
                            "\"unlinked\":true}"};
    return miaw_router_add(rt, &r, 0, NULL, err, errlen);
}

static int unlink_adapter(void *udata, miaw_instance *in, miaw_inst_unlink_done done, void *done_ud)
{
    return miaw_engine_unlink(udata, in, done, done_ud);
}

void eng_auto_attach(miaw_engine *e, int on) { miaw_instances_set_unlink(e->inst, on ? unlink_adapter : NULL, e); }
