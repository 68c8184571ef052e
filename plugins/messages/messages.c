/* plugins/messages/messages.c - the "messages" feature area (spec 4.4.2). Routes that
 * work today: POST /instances/{instanceId}/messages/text, answered once the WhatsApp
 * server has acknowledged the message (host API 1.1 send_text). Media, edit, delete,
 * react and forward come with the protocol work that implements them. */
#include <jansson.h>
#include <miaw/plugin.h>
#include <miaw/plugin_util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pending {
    const miaw_host_api *api;
    miaw_plugin *self;
    miaw_req *req;
    miaw_id handle;
} pending;

static void on_sent(int status, const char *message_id, int64_t ts, const char *detail, void *udata)
{
    pending *p = udata;
    const miaw_host_api *api = p->api;
    if (status == MIAW_OK) {
        json_t *d = json_pack("{s:s,s:I}", "messageId", message_id, "timestamp", (json_int_t)ts * 1000);
        api->reply_json(p->req, 200, d);
    } else if (status == MIAW_E_STATE) {
        api->reply_error(p->req, 503, "INSTANCE_NOT_CONNECTED", "%s", detail ? detail : "not connected");
    } else if (status == MIAW_E_NOTFOUND) {
        api->reply_error(p->req, 404, "NOT_FOUND", "%s", detail ? detail : "recipient not found");
    } else if (status == MIAW_E_TIMEOUT) {
        api->reply_error(p->req, 504, "TIMEOUT", "%s", detail ? detail : "timed out");
    } else {
        api->reply_error(p->req, 500, "WHATSAPP_ERROR", "%s", detail ? detail : "send failed");
    }
    free(p);
}

static void on_abort(miaw_req *req, int reason, void *udata)
{
    (void)req;
    (void)reason;
    pending *p = udata;
    p->api->send_cancel(p->self, p->handle);
    free(p);
}

static int h_text(miaw_req *req, void *udata)
{
    miaw_plugin_base *b = udata;
    const miaw_host_api *api = b->api;
    const json_t *body = api->req_body(req);
    const char *to = json_string_value(json_object_get(body, "to"));
    const char *text = json_string_value(json_object_get(body, "text"));
    const char *quoted = json_string_value(json_object_get(body, "quotedMessageId"));
    pending *p = calloc(1, sizeof *p);
    if (!p) return api->reply_error(req, 500, "INTERNAL_ERROR", "out of memory"), MIAW_OK;
    p->api = api;
    p->self = b->self;
    p->req = req;
    char err[256];
    const char *field = NULL;
    int rc = api->send_text(b->self, api->req_param(req, "instanceId"), to, text, quoted, on_sent, p, &p->handle,
                            &field, err, sizeof err);
    if (rc != MIAW_OK) {
        free(p);
        if (rc == MIAW_E_INVAL) api->reply_error(req, 400, "INVALID_REQUEST", "%s", err);
        else if (rc == MIAW_E_STATE) api->reply_error(req, 503, "INSTANCE_NOT_CONNECTED", "%s", err);
        else if (rc == MIAW_E_NOTFOUND) api->reply_error(req, 404, "INSTANCE_NOT_FOUND", "%s", err);
        else api->reply_error(req, 500, "INTERNAL_ERROR", "%s", err);
        return MIAW_OK;
    }
    /* the callback never runs inside send_text, so suspending now is in time */
    api->req_suspend(req, on_abort, p);
    return MIAW_ASYNC;
}

static const miaw_field TEXT_BODY[] = {
    {.name = "to", .type = MIAW_T_STRING, .flags = MIAW_F_REQUIRED | MIAW_F_NONEMPTY | MIAW_F_HAS_MAX, .max = 128,
     .description = "Recipient: phone number with country code (e.g. 6281234567890) or a user JID",
     .example = "\"6281234567890\""},
    {.name = "text", .type = MIAW_T_STRING, .flags = MIAW_F_REQUIRED | MIAW_F_NONEMPTY | MIAW_F_HAS_MAX,
     .max = 65536, .description = "Message text", .example = "\"Hello from API!\""},
    {.name = "quotedMessageId", .type = MIAW_T_STRING, .flags = MIAW_F_NULLABLE | MIAW_F_HAS_MAX, .max = 128,
     .description = "Id of a message to reply to (optional)", .example = "\"3EB0C4F1A2B3C4D5E6F7A8\""},
    {0},
};

static int setup(miaw_plugin_base *b, const json_t *config, char *err, size_t errlen)
{
    (void)config;
    if (!MIAW_HOST_HAS(b->api, send_text) || !MIAW_HOST_HAS(b->api, send_cancel)) {
        snprintf(err, errlen, "this server's plugin API has no send_text (needs 1.1)");
        return MIAW_E_NOTSUP;
    }
    const miaw_route text = {
        MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/messages/text",
        .flags = MIAW_ROUTE_INSTANCE, .handler = h_text, .udata = b, .body = TEXT_BODY, .timeout_ms = 60000,
        .operation_id = "sendText", .summary = "Send text message",
        .description = "Sends a 1:1 text (optionally as a reply) and answers once WhatsApp's server has "
                       "acknowledged it. 400 INVALID_REQUEST for a bad number, 503 INSTANCE_NOT_CONNECTED when the "
                       "instance is not connected, 404 NOT_FOUND when the number is not on WhatsApp.",
        .tag = "Messages", .response_example = "{\"messageId\":\"3EB0C4F1A2B3C4D5E6F7A8\",\"timestamp\":1735118400000}"};
    if (b->api->route_add(b->self, &text, err, errlen) != MIAW_OK) return MIAW_E_INVAL;
    MIAW_LOGI(b->api, b->self, "loaded");
    return MIAW_OK;
}

MIAW_DEFINE_PLUGIN("messages", "0.2.0", "send, edit, delete, react, forward messages and download media (spec 4.4.2)",
                   setup)
