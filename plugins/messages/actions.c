/* plugins/messages/actions.c - what can be done to a stored message (spec 4.4.2), all on
 * msg_get + msg_send: edit POST /instances/{instanceId}/messages/{messageId} (own text
 * messages within WhatsApp's 15-minute window: protocolMessage MESSAGE_EDIT in an
 * editedMessage wrapper, stanza edit="1"), delete DELETE …/messages/{messageId} (revoke
 * for everyone: own messages edit="7", others' in groups as an admin revoke edit="8"
 * that the server accepts or refuses), react POST …/{messageId}/reaction and forward
 * POST …/{messageId}/forward (media forwarded with its stored keys, no re-upload). Also
 * the send helper every route of this file and kinds.c answers through (msgs_send).
 * Owns one act_pending per request in flight. */
#include <jansson.h>
#include <miaw/plugin.h>
#include <miaw/plugin_util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "messages.h"
#include "msgkit.h"

#define EDIT_WINDOW_S (15 * 60) /* WhatsApp lets its users edit a message for 15 minutes */

/* ------------------------------------------------------------ sending */
typedef struct act_pending {
    miaw_plugin_base *b;
    miaw_req *req;
    miaw_id handle;
    char inst[72], chat[128];
    const char *id_key; /* the answer's name for the sent message's id */
    json_t *extra;      /* merged into the answer */
} act_pending;

static void pending_free(act_pending *p)
{
    json_decref(p->extra);
    free(p);
}

static void on_sent(int status, const char *id, int64_t ts, const char *detail, void *udata)
{
    act_pending *p = udata;
    const miaw_host_api *api = p->b->api;
    if (status == MIAW_OK) {
        json_t *d = json_pack("{s:s,s:I}", p->id_key, id, "timestamp", (json_int_t)ts * 1000);
        if (p->extra) json_object_update(d, p->extra);
        api->reply_json(p->req, 200, d);
        msgs_ack_server(api, p->b->self, p->inst, id, p->chat, ts);
    } else {
        api->reply_status(p->req, status, NULL, "%s", detail ? detail : "the message was not sent");
    }
    pending_free(p);
}

static void on_abort(miaw_req *req, int reason, void *udata)
{
    (void)req, (void)reason;
    act_pending *p = udata;
    p->b->api->cancel(p->b->self, p->handle);
    pending_free(p);
}

int msgs_send(miaw_plugin_base *b, miaw_req *req, const char *inst, const char *to, const json_t *msg,
              const miaw_msg_opts *opts, const char *id_key, json_t *extra)
{
    const miaw_host_api *api = b->api;
    act_pending *p = calloc(1, sizeof *p);
    if (!p || !msg) {
        free(p);
        json_decref(extra);
        return api->reply_status(req, MIAW_E_NOMEM, NULL, "out of memory"), MIAW_OK;
    }
    p->b = b;
    p->req = req;
    p->id_key = id_key ? id_key : "messageId";
    p->extra = extra;
    snprintf(p->inst, sizeof p->inst, "%s", inst);
    if (api->jid_normalize(to, p->chat, sizeof p->chat) != MIAW_OK) snprintf(p->chat, sizeof p->chat, "%s", to);
    char err[256];
    const char *field = NULL;
    int rc = api->msg_send(b->self, inst, to, msg, NULL, 0, opts, on_sent, p, &p->handle, &field, err, sizeof err);
    if (rc != MIAW_OK) {
        pending_free(p);
        return api->reply_status(req, rc, field, "%s", err), MIAW_OK;
    }
    api->req_suspend(req, on_abort, p); /* the callback never runs inside msg_send */
    return MIAW_ASYNC;
}

json_t *msgs_message_base(void)
{
    unsigned char r[32];
    size_t got = 0;
    while (got < sizeof r) {
        ssize_t n = getrandom(r + got, sizeof r - got, 0);
        if (n <= 0) return NULL;
        got += (size_t)n;
    }
    static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char s[45];
    size_t o = 0;
    for (size_t i = 0; i < sizeof r; i += 3) {
        unsigned v = (unsigned)r[i] << 16 | (i + 1 < sizeof r ? (unsigned)r[i + 1] << 8 : 0) |
                     (i + 2 < sizeof r ? r[i + 2] : 0);
        s[o++] = T[v >> 18 & 63];
        s[o++] = T[v >> 12 & 63];
        s[o++] = i + 1 < sizeof r ? T[v >> 6 & 63] : '=';
        s[o++] = i + 2 < sizeof r ? T[v & 63] : '=';
    }
    s[o] = 0;
    return json_pack("{s:{s:s}}", "messageContextInfo", "messageSecret", s);
}

/* ------------------------------------------------------------ the stored message */
typedef struct target {
    json_t *m; /* msg_get's answer (owned) */
    const char *id, *chat, *sender, *type, *status;
    int from_me, group;
} target;

/* the message {messageId} of the request, or 0 with the request answered (404) */
static int find(miaw_plugin_base *b, miaw_req *req, target *t)
{
    const miaw_host_api *api = b->api;
    memset(t, 0, sizeof *t);
    t->id = api->req_param(req, "messageId");
    t->m = api->msg_get(b->self, api->req_param(req, "instanceId"), t->id);
    if (!t->m) {
        api->reply_status(req, MIAW_E_NOTFOUND, "messageId", "no message '%s' in this instance's chat storage", t->id);
        return 0;
    }
    t->chat = json_string_value(json_object_get(t->m, "chat"));
    t->sender = json_string_value(json_object_get(t->m, "sender"));
    t->type = json_string_value(json_object_get(t->m, "type"));
    t->status = json_string_value(json_object_get(t->m, "status"));
    t->from_me = json_is_true(json_object_get(t->m, "fromMe"));
    t->group = t->chat && strstr(t->chat, "@g.us") != NULL;
    if (!t->chat) {
        api->reply_status(req, MIAW_E_NOTFOUND, "messageId", "message '%s' has no chat", t->id);
        json_decref(t->m);
        return 0;
    }
    return 1;
}

static int conflict(miaw_plugin_base *b, miaw_req *req, target *t, const char *msg)
{
    b->api->reply_status(req, MIAW_E_EXIST, "messageId", "%s", msg);
    json_decref(t->m);
    return MIAW_OK;
}

static int is_revoked(const target *t) { return t->status && !strcmp(t->status, "revoked"); }

static char *ms_now(const miaw_host_api *api, char out[24])
{
    snprintf(out, 24, "%lld", (long long)api->now_ms());
    return out;
}

/* ------------------------------------------------------------ edit */
static int h_edit(miaw_req *req, void *udata)
{
    miaw_plugin_base *b = udata;
    const miaw_host_api *api = b->api;
    const char *inst = api->req_param(req, "instanceId");
    const char *text = json_string_value(json_object_get(api->req_body(req), "text"));
    target t;
    if (!find(b, req, &t)) return MIAW_OK;
    if (!t.from_me) return conflict(b, req, &t, "only messages this account sent can be edited");
    if (is_revoked(&t)) return conflict(b, req, &t, "the message was deleted for everyone; it cannot be edited");
    if (!t.type || strcmp(t.type, "text") != 0) return conflict(b, req, &t, "only text messages can be edited");
    json_int_t sent = json_integer_value(json_object_get(t.m, "timestamp"));
    int64_t age = api->now_ms() / 1000 - (int64_t)sent;
    if (sent > 0 && age > EDIT_WINDOW_S) {
        char why[160];
        snprintf(why, sizeof why, "WhatsApp allows edits for 15 minutes after sending; this message is %lld minutes old",
                 (long long)(age / 60));
        return conflict(b, req, &t, why);
    }
    /* the new content keeps the message's kind: a reply stays an extendedTextMessage */
    json_t *old = json_object_get(t.m, "message");
    json_t *content = json_object_get(old, "extendedTextMessage") ? json_pack("{s:{s:s}}", "extendedTextMessage", "text", text)
                                                                   : json_pack("{s:s}", "conversation", text);
    char now[24];
    /* whatsmeow's (WhatsApp Web's) shape; Baileys sends the protocolMessage unwrapped */
    json_t *msg = json_pack("{s:{s:{s:{s:{s:s,s:b,s:s},s:s,s:o,s:s}}}}", "editedMessage", "message", "protocolMessage",
                            "key", "remoteJid", t.chat, "fromMe", 1, "id", t.id, "type", "MESSAGE_EDIT",
                            "editedMessage", content, "timestampMs", ms_now(api, now));
    miaw_msg_opts o = {sizeof o, .type = "text", .edit = "1", .flags = MIAW_MSG_F_NO_STORE};
    int rc = msgs_send(b, req, inst, t.chat, msg, &o, "protocolMessageId",
                       json_pack("{s:s,s:s}", "messageId", t.id, "text", text));
    json_decref(msg);
    json_decref(t.m);
    return rc;
}

/* ------------------------------------------------------------ delete */
static int h_delete(miaw_req *req, void *udata)
{
    miaw_plugin_base *b = udata;
    const miaw_host_api *api = b->api;
    const char *inst = api->req_param(req, "instanceId");
    target t;
    if (!find(b, req, &t)) return MIAW_OK;
    if (is_revoked(&t)) return conflict(b, req, &t, "the message is already deleted for everyone");
    if (t.type && !strcmp(t.type, "reaction"))
        return conflict(b, req, &t, "a reaction is removed by reacting with an empty emoji (POST …/reaction {\"emoji\":\"\"})");
    if (!t.from_me && !t.group)
        return conflict(b, req, &t, "in a 1:1 chat only messages this account sent can be deleted for everyone");
    json_t *key = json_pack("{s:s,s:b,s:s}", "remoteJid", t.chat, "fromMe", t.from_me, "id", t.id);
    if (!t.from_me && t.sender) json_object_set_new(key, "participant", json_string(t.sender));
    json_t *msg = json_pack("{s:{s:o,s:s}}", "protocolMessage", "key", key, "type", "REVOKE");
    /* someone else's message in a group: an admin revoke; the server decides */
    miaw_msg_opts o = {sizeof o, .type = "text", .edit = t.from_me ? "7" : "8", .flags = MIAW_MSG_F_NO_STORE};
    int rc = msgs_send(b, req, inst, t.chat, msg, &o, "protocolMessageId",
                       json_pack("{s:s,s:b,s:b}", "messageId", t.id, "deleted", 1, "asAdmin", !t.from_me));
    json_decref(msg);
    json_decref(t.m);
    return rc;
}

/* ------------------------------------------------------------ react */
static int h_react(miaw_req *req, void *udata)
{
    miaw_plugin_base *b = udata;
    const miaw_host_api *api = b->api;
    const char *inst = api->req_param(req, "instanceId");
    const char *emoji = json_string_value(json_object_get(api->req_body(req), "emoji"));
    if (!mk_is_emoji(emoji))
        return api->reply_status(req, MIAW_E_INVAL, "emoji",
                                 "emoji must be one emoji (e.g. \"👍\", \"❤️\", \"🇧🇷\") or \"\" to remove the reaction"),
               MIAW_OK;
    target t;
    if (!find(b, req, &t)) return MIAW_OK;
    if (is_revoked(&t)) return conflict(b, req, &t, "the message was deleted for everyone");
    if (t.type && (!strcmp(t.type, "reaction") || !strcmp(t.type, "protocol")))
        return conflict(b, req, &t, "a reaction cannot be reacted to");
    json_t *key = json_pack("{s:s,s:b,s:s}", "remoteJid", t.chat, "fromMe", t.from_me, "id", t.id);
    if (t.group && !t.from_me && t.sender) json_object_set_new(key, "participant", json_string(t.sender));
    char now[24];
    json_t *msg = json_pack("{s:{s:o,s:s,s:s}}", "reactionMessage", "key", key, "text", emoji, "senderTimestampMs",
                            ms_now(api, now));
    miaw_msg_opts o = {sizeof o, .type = "reaction"};
    int rc = msgs_send(b, req, inst, t.chat, msg, &o, "reactionId",
                       json_pack("{s:s,s:s,s:b}", "messageId", t.id, "emoji", emoji, "removed", !*emoji));
    json_decref(msg);
    json_decref(t.m);
    return rc;
}

/* ------------------------------------------------------------ forward */
static int h_forward(miaw_req *req, void *udata)
{
    miaw_plugin_base *b = udata;
    const miaw_host_api *api = b->api;
    const char *inst = api->req_param(req, "instanceId");
    const char *to = json_string_value(json_object_get(api->req_body(req), "to"));
    char jid[128];
    if (api->jid_normalize(to, jid, sizeof jid) != MIAW_OK)
        return api->reply_status(req, MIAW_E_INVAL, "to",
                                 "'to' must be a phone number (5-20 digits with country code), a user JID or a group "
                                 "JID"),
               MIAW_OK;
    target t;
    if (!find(b, req, &t)) return MIAW_OK;
    if (is_revoked(&t)) return conflict(b, req, &t, "the message was deleted for everyone");
    const json_t *stored = json_object_get(t.m, "message");
    if (!json_is_object(stored))
        return conflict(b, req, &t, "the message's content is not in chat storage (whatsapp.chat_storage is off)");
    const char *stype = "text", *why = NULL;
    json_t *fwd = mk_forward(stored, &stype, &why);
    if (!fwd) return conflict(b, req, &t, why);
    json_t *msg = msgs_message_base();
    if (msg) json_object_update(msg, fwd);
    json_decref(fwd);
    miaw_msg_opts o = {sizeof o, .type = stype};
    int rc = msgs_send(b, req, inst, to, msg, &o, "messageId", json_pack("{s:s}", "forwardedFrom", t.id));
    json_decref(msg);
    json_decref(t.m);
    return rc;
}

/* ------------------------------------------------------------ routes */
static const miaw_field EDIT_BODY[] = {
    {.name = "text", .type = MIAW_T_STRING, .flags = MIAW_F_REQUIRED | MIAW_F_NONEMPTY | MIAW_F_HAS_MAX, .max = 65536,
     .description = "The new text", .example = "\"Hello again (edited)\""},
    {0},
};

static const miaw_field REACT_BODY[] = {
    {.name = "emoji", .type = MIAW_T_STRING, .flags = MIAW_F_REQUIRED | MIAW_F_HAS_MAX, .max = 64,
     .description = "One emoji; \"\" removes this account's reaction", .example = "\"👍\""},
    {0},
};

static const miaw_field FORWARD_BODY[] = {
    {.name = "to", .type = MIAW_T_STRING, .flags = MIAW_F_REQUIRED | MIAW_F_NONEMPTY | MIAW_F_HAS_MAX, .max = 128,
     .description = "Recipient: phone number with country code, a user JID or a group JID",
     .example = "\"6281234567890\""},
    {0},
};

int msgs_action_routes(miaw_plugin_base *b, char *err, size_t errlen)
{
    const miaw_route routes[] = {
        {MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/messages/{messageId}",
         .flags = MIAW_ROUTE_INSTANCE, .handler = h_edit, .udata = b, .body = EDIT_BODY, .timeout_ms = 60000,
         .operation_id = "editMessage", .summary = "Edit message", .tag = "Messages",
         .description = "Replaces the text of a text message this account sent, for everyone (WhatsApp shows it as "
                        "edited), within 15 minutes of sending. Answered once WhatsApp's server acknowledged the "
                        "edit; chat storage then holds the new text. 404 NOT_FOUND for an unknown messageId; 409 "
                        "CONFLICT for someone else's message, a deleted one, a message that is not text, or one "
                        "older than 15 minutes; 503 when the instance is not connected.",
         .response_example = "{\"messageId\":\"3EB0C4F1A2B3C4D5E6F7A8\",\"protocolMessageId\":"
                             "\"3EB0D5E6F7A8B9C0D1E2F3\",\"text\":\"Hello again (edited)\",\"timestamp\":1735118460000}"},
        {MIAW_ROUTE_INIT, .method = "DELETE", .path = "/instances/{instanceId}/messages/{messageId}",
         .flags = MIAW_ROUTE_INSTANCE, .handler = h_delete, .udata = b, .timeout_ms = 60000,
         .operation_id = "deleteMessage", .summary = "Delete message for everyone", .tag = "Messages",
         .description = "Revokes a message for everyone. This account's own messages in any chat; in a group also "
                        "other members' messages when this account is an admin (sent as an admin revoke: WhatsApp's "
                        "server refuses it otherwise, answered 500 WHATSAPP_ERROR). Chat storage keeps the row with "
                        "status \"revoked\" and no content. 404 unknown messageId; 409 already deleted, a reaction, "
                        "or someone else's message in a 1:1 chat.",
         .response_example = "{\"messageId\":\"3EB0C4F1A2B3C4D5E6F7A8\",\"protocolMessageId\":"
                             "\"3EB0D5E6F7A8B9C0D1E2F3\",\"deleted\":true,\"asAdmin\":false,\"timestamp\":1735118460000}"},
        {MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/messages/{messageId}/reaction",
         .flags = MIAW_ROUTE_INSTANCE, .handler = h_react, .udata = b, .body = REACT_BODY, .timeout_ms = 60000,
         .operation_id = "reactToMessage", .summary = "React to message", .tag = "Messages",
         .description = "Reacts to a stored message (sent or received) with one emoji, replacing this account's "
                        "earlier reaction; \"\" removes it. 400 INVALID_REQUEST (details.field emoji) for anything "
                        "but one emoji; 404 unknown messageId; 409 a deleted message or a reaction.",
         .response_example = "{\"messageId\":\"3EB0C4F1A2B3C4D5E6F7A8\",\"reactionId\":\"3EB0D5E6F7A8B9C0D1E2F3\","
                             "\"emoji\":\"👍\",\"removed\":false,\"timestamp\":1735118460000}"},
        {MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/messages/{messageId}/forward",
         .flags = MIAW_ROUTE_INSTANCE, .handler = h_forward, .udata = b, .body = FORWARD_BODY, .timeout_ms = 60000,
         .operation_id = "forwardMessage", .summary = "Forward message", .tag = "Messages",
         .description = "Sends a copy of a stored message (text, media, location, contact card) to another chat, "
                        "marked as forwarded (contextInfo.isForwarded, forwardingScore + 1). Media is forwarded with "
                        "the stored media keys: nothing is downloaded or uploaded again. 400 bad 'to'; 404 unknown "
                        "messageId or recipient not on WhatsApp; 409 a deleted message, a kind that cannot be "
                        "forwarded (reaction, view-once media, ...) or content not kept (chat storage off).",
         .response_example = "{\"messageId\":\"3EB0D5E6F7A8B9C0D1E2F3\",\"forwardedFrom\":\"3EB0C4F1A2B3C4D5E6F7A8\","
                             "\"timestamp\":1735118460000}"},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (b->api->route_add(b->self, &routes[i], err, errlen) != MIAW_OK) return MIAW_E_INVAL;
    return MIAW_OK;
}
