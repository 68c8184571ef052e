/* plugins/messages/messages.c - the "messages" feature area (spec 4.4.2), built on the
 * generic engine services of plugin ABI 1.2 only. Routes that work today:
 * POST /instances/{instanceId}/messages/text (a WAProto.Message built here as JSON:
 * conversation, or extendedTextMessage with the quoted message found by msg_get; sent
 * with msg_send and answered once WhatsApp's server acknowledged it). Owns one `pending`
 * per request in flight. */
#include <jansson.h>
#include <miaw/plugin.h>
#include <miaw/plugin_util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "messages.h"

typedef struct pending {
    const miaw_host_api *api;
    miaw_plugin *self;
    miaw_req *req;
    miaw_id handle;
    char inst[72], chat[128]; /* for message_ack "server" (events.c) */
} pending;

static void on_sent(int status, const char *message_id, int64_t ts, const char *detail, void *udata)
{
    pending *p = udata;
    const miaw_host_api *api = p->api;
    if (status == MIAW_OK) {
        json_t *d = json_pack("{s:s,s:I}", "messageId", message_id, "timestamp", (json_int_t)ts * 1000);
        api->reply_json(p->req, 200, d);
        msgs_ack_server(api, p->self, p->inst, message_id, p->chat, ts);
    } else {
        api->reply_status(p->req, status, NULL, "%s", detail ? detail : "the message was not sent");
    }
    free(p);
}

static void on_abort(miaw_req *req, int reason, void *udata)
{
    (void)req;
    (void)reason;
    pending *p = udata;
    p->api->cancel(p->self, p->handle);
    free(p);
}

/* 32 random bytes, base64: the messageSecret every message carries */
static int message_secret(char out[45])
{
    unsigned char r[32];
    size_t got = 0;
    while (got < sizeof r) {
        ssize_t n = getrandom(r + got, sizeof r - got, 0);
        if (n <= 0) return -1;
        got += (size_t)n;
    }
    static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < sizeof r; i += 3) {
        unsigned v = (unsigned)r[i] << 16 | (i + 1 < sizeof r ? (unsigned)r[i + 1] << 8 : 0) |
                     (i + 2 < sizeof r ? r[i + 2] : 0);
        out[o++] = T[v >> 18 & 63];
        out[o++] = T[v >> 12 & 63];
        out[o++] = i + 1 < sizeof r ? T[v >> 6 & 63] : '=';
        out[o++] = i + 2 < sizeof r ? T[v & 63] : '=';
    }
    out[o] = 0;
    return 0;
}

/* the quoted message for a reply's contextInfo: the stored message without its own
 * messageContextInfo, or just its text; NULL when nothing is known */
static json_t *quoted_body(const json_t *stored)
{
    json_t *m = json_object_get(stored, "message");
    if (json_is_object(m)) {
        json_t *q = json_deep_copy(m);
        json_object_del(q, "messageContextInfo");
        if (json_object_size(q)) return q;
        json_decref(q);
    }
    const char *text = json_string_value(json_object_get(stored, "text"));
    return text ? json_pack("{s:s}", "conversation", text) : NULL;
}

/* Message JSON of a text (with a reply's contextInfo when quoted is given): new reference */
static json_t *text_message(const miaw_host_api *api, miaw_plugin *self, const char *inst, const char *to,
                            const char *text, const char *quoted)
{
    char secret[45];
    if (message_secret(secret) != 0) return NULL;
    json_t *m = json_object();
    json_object_set_new(m, "messageContextInfo", json_pack("{s:s}", "messageSecret", secret));
    if (!quoted || !*quoted) {
        json_object_set_new(m, "conversation", json_string(text));
        return m;
    }
    json_t *stored = api->msg_get(self, inst, quoted);
    char peer[128] = "";
    api->jid_normalize(to, peer, sizeof peer);
    const char *sender = json_string_value(json_object_get(stored, "sender"));
    json_t *ci = json_pack("{s:s,s:s}", "stanzaId", quoted, "participant", sender ? sender : peer);
    json_t *q = stored ? quoted_body(stored) : NULL;
    if (q) json_object_set_new(ci, "quotedMessage", q);
    json_object_set_new(m, "extendedTextMessage", json_pack("{s:s,s:o}", "text", text, "contextInfo", ci));
    json_decref(stored);
    return m;
}

static int h_text(miaw_req *req, void *udata)
{
    miaw_plugin_base *b = udata;
    const miaw_host_api *api = b->api;
    const json_t *body = api->req_body(req);
    const char *inst = api->req_param(req, "instanceId");
    const char *to = json_string_value(json_object_get(body, "to"));
    const char *text = json_string_value(json_object_get(body, "text"));
    const char *quoted = json_string_value(json_object_get(body, "quotedMessageId"));
    char jid[128];
    if (api->jid_normalize(to, jid, sizeof jid) != MIAW_OK)
        return api->reply_status(req, MIAW_E_INVAL, "to",
                                 "'to' must be a phone number (5-20 digits with country code), a user JID or a "
                                 "group JID"),
               MIAW_OK;
    json_t *msg = text_message(api, b->self, inst, to, text, quoted);
    const json_t *mentions = json_object_get(body, "mentions"); /* kinds.c */
    if (msg && json_array_size(mentions) && msgs_text_mentions(b, req, msg, mentions) != MIAW_OK)
        return json_decref(msg), MIAW_OK;
    pending *p = calloc(1, sizeof *p);
    if (!p || !msg) {
        free(p);
        json_decref(msg);
        return api->reply_status(req, MIAW_E_NOMEM, NULL, "out of memory"), MIAW_OK;
    }
    p->api = api;
    p->self = b->self;
    p->req = req;
    snprintf(p->inst, sizeof p->inst, "%s", inst);
    snprintf(p->chat, sizeof p->chat, "%s", jid);
    char err[256];
    const char *field = NULL;
    int rc = api->msg_send(b->self, inst, to, msg, NULL, 0, NULL, on_sent, p, &p->handle, &field, err, sizeof err);
    json_decref(msg);
    if (rc != MIAW_OK) {
        free(p);
        api->reply_status(req, rc, field, "%s", err);
        return MIAW_OK;
    }
    /* the callback never runs inside msg_send, so suspending now is in time */
    api->req_suspend(req, on_abort, p);
    return MIAW_ASYNC;
}

static const miaw_field TEXT_BODY[] = {
    {.name = "to", .type = MIAW_T_STRING, .flags = MIAW_F_REQUIRED | MIAW_F_NONEMPTY | MIAW_F_HAS_MAX, .max = 128,
     .description = "Recipient: phone number with country code (e.g. 6281234567890), a user JID or a group JID",
     .example = "\"6281234567890\""},
    {.name = "text", .type = MIAW_T_STRING, .flags = MIAW_F_REQUIRED | MIAW_F_NONEMPTY | MIAW_F_HAS_MAX,
     .max = 65536, .description = "Message text", .example = "\"Hello from API!\""},
    {.name = "quotedMessageId", .type = MIAW_T_STRING, .flags = MIAW_F_NULLABLE | MIAW_F_HAS_MAX, .max = 128,
     .description = "Id of a message to reply to (optional)", .example = "\"3EB0C4F1A2B3C4D5E6F7A8\""},
    {.name = "mentions", .type = MIAW_T_ARRAY, .flags = MIAW_F_NULLABLE | MIAW_F_HAS_MAX, .max = 256,
     .items = &(const miaw_field){.type = MIAW_T_STRING, .flags = MIAW_F_NONEMPTY | MIAW_F_HAS_MAX, .max = 128},
     .description = "Phone numbers (or user JIDs) mentioned (contextInfo.mentionedJid); writing @<number> in the "
                    "text is up to the caller", .example = "[\"6281234567890\"]"},
    {0},
};

int msgs_text_routes(miaw_plugin_base *b, char *err, size_t errlen)
{
    const miaw_route text = {
        MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/messages/text",
        .flags = MIAW_ROUTE_INSTANCE, .handler = h_text, .udata = b, .body = TEXT_BODY, .timeout_ms = 60000,
        .operation_id = "sendText", .summary = "Send text message",
        .description = "Sends a text (optionally as a reply) and answers once WhatsApp's server has "
                       "acknowledged it. 400 INVALID_REQUEST for a bad number, 503 INSTANCE_NOT_CONNECTED when the "
                       "instance is not connected, 404 NOT_FOUND when the number is not on WhatsApp.",
        .tag = "Messages", .response_example = "{\"messageId\":\"3EB0C4F1A2B3C4D5E6F7A8\",\"timestamp\":1735118400000}"};
    return b->api->route_add(b->self, &text, err, errlen) == MIAW_OK ? MIAW_OK : MIAW_E_INVAL;
}

/* inside init: every feature file registers here, in this order */
static int setup(miaw_plugin_base *b, const json_t *config, char *err, size_t errlen)
{
    (void)config;
    if (!MIAW_HOST_HAS(b->api, msg_send) || !MIAW_HOST_HAS(b->api, jid_normalize)) {
        snprintf(err, errlen, "this server's plugin API has no msg_send (needs 1.2)");
        return MIAW_E_NOTSUP;
    }
    int rc = msgs_text_routes(b, err, errlen);
    if (rc != MIAW_OK) return rc;
    rc = msgs_media_routes(b, config, err, errlen);
    if (rc != MIAW_OK) return rc;
    rc = msgs_action_routes(b, err, errlen);
    if (rc == MIAW_OK) rc = msgs_kind_routes(b, err, errlen);
    if (rc == MIAW_OK) rc = msgs_event_setup(b, err, errlen);
    if (rc == MIAW_OK) rc = msgs_history_routes(b, err, errlen);
    if (rc != MIAW_OK) return rc;
    MIAW_LOGI(b->api, b->self, "loaded");
    return MIAW_OK;
}

MIAW_DEFINE_PLUGIN_MIN("messages", "1.0.0",
                       "send text, image, video, audio and voice notes, documents, stickers, locations and "
                       "contact cards; edit, delete for everyone, react to and forward messages; download "
                       "received media; list chats and stored messages; message, receipt and reaction events "
                       "(spec 4.4.2)",
                       3, setup)
