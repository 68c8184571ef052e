/* plugins/messages/history.c - chat history routes of the messages plugin, over the host's
 * chat storage services (ABI 1.3 msg_list / chat_list, 1.2 msg_get):
 * GET /instances/{instanceId}/chats, GET /instances/{instanceId}/chats/{jid}/messages and
 * GET /instances/{instanceId}/messages/{messageId}. Validates the query parameters (400
 * INVALID_REQUEST naming the parameter in details.field), passes them to the host as its
 * query object and answers the host's page as is. Synchronous; owns nothing past a call. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "messages.h"

#define HIST_MAX_LIMIT 200

/* an unsigned decimal in [min, max] (no sign, no spaces); 0 or -1 */
static int parse_uint(const char *s, long long min, long long max, long long *out)
{
    if (!s || !*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 18) return -1;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno || v < min || v > max) return -1;
    *out = v;
    return 0;
}

/* the query parameters of a list route into the host's query object; MIAW_OK, or
 * MIAW_E_INVAL with req answered (details.field = the parameter) */
static int read_query(const miaw_host_api *api, miaw_req *req, int messages, json_t *q)
{
    const char *v;
    long long n;
    if ((v = api->req_query(req, "limit"))) {
        if (parse_uint(v, 1, HIST_MAX_LIMIT, &n) != 0)
            return api->reply_status(req, MIAW_E_INVAL, "limit", "limit: expected an integer from 1 to %d",
                                     HIST_MAX_LIMIT),
                   MIAW_E_INVAL;
        json_object_set_new(q, "limit", json_integer(n));
    }
    if ((v = api->req_query(req, "before"))) {
        if (!*v || strlen(v) > 128)
            return api->reply_status(req, MIAW_E_INVAL, "before", "before: expected the 'next' cursor of a previous "
                                                                  "page"),
                   MIAW_E_INVAL;
        json_object_set_new(q, "before", json_string(v));
    }
    if (!messages) return MIAW_OK;
    if ((v = api->req_query(req, "type"))) {
        if (!*v || strlen(v) > 32 || strspn(v, "abcdefghijklmnopqrstuvwxyz_") != strlen(v))
            return api->reply_status(req, MIAW_E_INVAL, "type",
                                     "type: expected a message type such as text, image, video, audio, document, "
                                     "sticker, location, contact or reaction"),
                   MIAW_E_INVAL;
        json_object_set_new(q, "type", json_string(v));
    }
    if ((v = api->req_query(req, "fromMe"))) {
        int b = !strcmp(v, "true") || !strcmp(v, "1") ? 1 : !strcmp(v, "false") || !strcmp(v, "0") ? 0 : -1;
        if (b < 0)
            return api->reply_status(req, MIAW_E_INVAL, "fromMe", "fromMe: expected true or false"), MIAW_E_INVAL;
        json_object_set_new(q, "fromMe", json_boolean(b));
    }
    static const char *const TIMES[] = {"since", "until"};
    for (size_t i = 0; i < 2; i++) {
        if (!(v = api->req_query(req, TIMES[i]))) continue;
        if (parse_uint(v, 0, 253402300799LL, &n) != 0) /* up to 9999-12-31 */
            return api->reply_status(req, MIAW_E_INVAL, TIMES[i], "%s: expected a unix time in seconds", TIMES[i]),
                   MIAW_E_INVAL;
        json_object_set_new(q, TIMES[i], json_integer(n));
    }
    return MIAW_OK;
}

/* answers req with the host's page (stolen): data as is, or the error it names */
static int answer(const miaw_host_api *api, miaw_req *req, json_t *page)
{
    if (!page) return api->reply_status(req, MIAW_E_NOTFOUND, NULL, "no such instance"), MIAW_OK;
    const char *e = json_string_value(json_object_get(page, "error"));
    if (e) {
        const char *field = json_string_value(json_object_get(page, "field"));
        api->reply_status(req, field ? MIAW_E_INVAL : MIAW_E_INTERNAL, field, "%s", e);
        json_decref(page);
        return MIAW_OK;
    }
    api->reply_json(req, 200, page);
    return MIAW_OK;
}

static int h_chats(miaw_req *req, void *udata)
{
    miaw_plugin_base *b = udata;
    const miaw_host_api *api = b->api;
    json_t *q = json_object();
    if (read_query(api, req, 0, q) != MIAW_OK) {
        json_decref(q);
        return MIAW_OK;
    }
    json_t *page = api->chat_list(b->self, api->req_param(req, "instanceId"), q);
    json_decref(q);
    return answer(api, req, page);
}

static int h_chat_messages(miaw_req *req, void *udata)
{
    miaw_plugin_base *b = udata;
    const miaw_host_api *api = b->api;
    char jid[160];
    if (api->jid_normalize(api->req_param(req, "jid"), jid, sizeof jid) != MIAW_OK)
        return api->reply_status(req, MIAW_E_INVAL, "jid",
                                 "jid: expected a phone number with country code, a user JID or a group JID"),
               MIAW_OK;
    json_t *q = json_pack("{s:s}", "chat", jid);
    if (read_query(api, req, 1, q) != MIAW_OK) {
        json_decref(q);
        return MIAW_OK;
    }
    json_t *page = api->msg_list(b->self, api->req_param(req, "instanceId"), q);
    json_decref(q);
    return answer(api, req, page);
}

static int h_message(miaw_req *req, void *udata)
{
    miaw_plugin_base *b = udata;
    const miaw_host_api *api = b->api;
    const char *id = api->req_param(req, "messageId");
    json_t *m = api->msg_get(b->self, api->req_param(req, "instanceId"), id);
    if (!m) return api->reply_status(req, MIAW_E_NOTFOUND, "messageId", "message '%s' not found", id), MIAW_OK;
    api->reply_json(req, 200, m);
    return MIAW_OK;
}

#define MSG_EXAMPLE                                                                                            \
    "{\"id\":\"3EB0C4F1A2B3C4D5E6F7A8\",\"fromMe\":false,\"timestamp\":1735118400,"                          \
    "\"chat\":\"6281234567890@s.whatsapp.net\",\"sender\":\"6281234567890@s.whatsapp.net\",\"type\":\"text\"," \
    "\"status\":\"received\",\"pushName\":\"Ada\",\"text\":\"Hello!\",\"quotedId\":null,"                    \
    "\"message\":{\"conversation\":\"Hello!\"}}"

int msgs_history_routes(miaw_plugin_base *b, char *err, size_t errlen)
{
    if (!MIAW_HOST_HAS(b->api, msg_list) || !MIAW_HOST_HAS(b->api, chat_list)) {
        snprintf(err, errlen, "this server's plugin API has no chat history (needs 1.3)");
        return MIAW_E_NOTSUP;
    }
    const miaw_route routes[] = {
        {MIAW_ROUTE_INIT, .method = "GET", .path = "/instances/{instanceId}/chats", .flags = MIAW_ROUTE_INSTANCE,
         .handler = h_chats, .udata = b, .operation_id = "listChats", .summary = "List chats", .tag = "Chats",
         .description =
             "The chats of the instance from chat storage (1:1 and groups), most recent activity first: each with "
             "its last message (the shape of GET /messages/{messageId}), unreadCount (received messages not read or "
             "played yet) and messageCount. Query: limit (1-200, default 50) and before (the previous page's "
             "'next'); next is null on the last page. A chat that gets a new message while you page moves to the "
             "top. 400 INVALID_REQUEST with details.field naming a bad parameter or cursor.",
         .response_example = "{\"chats\":[{\"jid\":\"6281234567890@s.whatsapp.net\",\"isGroup\":false,"
                             "\"lastMessage\":" MSG_EXAMPLE ",\"unreadCount\":2,\"messageCount\":57}],"
                             "\"next\":\"YwEAAAAAZ2vNQAAAAAAAAAA5\"}"},
        {MIAW_ROUTE_INIT, .method = "GET", .path = "/instances/{instanceId}/chats/{jid}/messages",
         .flags = MIAW_ROUTE_INSTANCE, .handler = h_chat_messages, .udata = b, .operation_id = "listChatMessages",
         .summary = "List messages of a chat", .tag = "Chats",
         .description =
             "Stored messages of one chat (jid: a phone number with country code, a user JID or a group JID), "
             "newest first, sent and received. Query: limit (1-200, default 50); before (the previous page's "
             "'next' cursor; pages stay exact while new messages arrive); type (text, image, video, audio, "
             "document, sticker, location, contact, reaction...); fromMe (true/false); since and until (unix "
             "seconds, inclusive). next is null on the last page. 400 INVALID_REQUEST with details.field naming a "
             "bad parameter or cursor.",
         .response_example = "{\"messages\":[" MSG_EXAMPLE "],\"next\":\"bQEAAAAAZ2vNQAAAAAAAAAA5\"}"},
        {MIAW_ROUTE_INIT, .method = "GET", .path = "/instances/{instanceId}/messages/{messageId}",
         .flags = MIAW_ROUTE_INSTANCE, .handler = h_message, .udata = b, .operation_id = "getMessage",
         .summary = "Get message", .tag = "Chats",
         .description = "One stored message (sent or received) by id: chat, sender, fromMe, timestamp (unix "
                        "seconds), type, status (pending, sent, delivered, read, played, received, revoked...), "
                        "pushName, text, quotedId and message (the WhatsApp Message as JSON; null when chat storage "
                        "keeps no content). 404 NOT_FOUND for an unknown id.",
         .response_example = MSG_EXAMPLE},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (b->api->route_add(b->self, &routes[i], err, errlen) != MIAW_OK) return MIAW_E_INVAL;
    return MIAW_OK;
}
