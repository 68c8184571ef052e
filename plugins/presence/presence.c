/* plugins/presence/presence.c - the "presence" feature area (spec 4.4.6) on the generic
 * engine services only (stanza_send, stanza_subscribe, event_declare/emit, kv, msg_get,
 * msg_list, jid_normalize): registration, and the routes that send one stanza each -
 * POST /presence (<presence type="available|unavailable" [name]>), typing / recording /
 * stop-typing (<chatstate to><composing [media="audio"]/>|<paused/></chatstate>, 1:1 and
 * groups) and subscribe (<presence type="subscribe" to>). Read receipts: read.c;
 * incoming presence and chat states: events.c. State: only miaw_plugin_base. */
#include "presence.h"

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------ helpers */
void prs_user(const char *jid, char *out, size_t n)
{
    size_t i = 0;
    if (!n) return;
    while (jid && jid[i] && jid[i] != ':' && jid[i] != '@' && i + 1 < n) {
        out[i] = jid[i];
        i++;
    }
    out[i] = 0;
}

/* a JSON node {tag, attrs, content}; attrs and content stolen (may be NULL) */
static json_t *node(const char *tag, json_t *attrs, json_t *content)
{
    json_t *n = json_pack("{s:s}", "tag", tag);
    if (attrs) json_object_set_new(n, "attrs", attrs);
    if (content) json_object_set_new(n, "content", content);
    return n;
}

/* send node (stolen) for the request's instance; answers the error when it fails.
 * MIAW_OK when sent. */
static int send_node(miaw_plugin_base *b, miaw_req *req, json_t *n)
{
    char err[256] = "";
    int rc = n ? b->api->stanza_send(b->self, b->api->req_param(req, "instanceId"), n, err, sizeof err) : MIAW_E_NOMEM;
    json_decref(n);
    if (rc != MIAW_OK) b->api->reply_status(req, rc, NULL, "%s", *err ? err : "the stanza was not sent");
    return rc;
}

/* the {to} / {jid} path parameter as a JID; answers 400 and returns MIAW_E_INVAL when it
 * is none (or a group when groups are not allowed) */
static int path_jid(miaw_plugin_base *b, miaw_req *req, const char *param, int groups, char *out, size_t n)
{
    const char *in = b->api->req_param(req, param);
    if (!in || b->api->jid_normalize(in, out, n) != MIAW_OK) {
        b->api->reply_status(req, MIAW_E_INVAL, param, "%s must be a phone number with country code or a JID", param);
        return MIAW_E_INVAL;
    }
    if (!groups && strstr(out, "@g.us")) {
        b->api->reply_status(req, MIAW_E_INVAL, param, "%s must be a user (phone number or user JID), not a group", param);
        return MIAW_E_INVAL;
    }
    if (strstr(out, "@broadcast") || strstr(out, "@newsletter")) {
        b->api->reply_status(req, MIAW_E_INVAL, param, "%s must be a user or a group", param);
        return MIAW_E_INVAL;
    }
    return MIAW_OK;
}

/* ------------------------------------------------------------ POST /presence */
static int h_presence(miaw_req *req, void *ud)
{
    miaw_plugin_base *b = ud;
    const char *inst = b->api->req_param(req, "instanceId");
    const char *p = json_string_value(json_object_get(b->api->req_body(req), "presence"));
    json_t *name = prs_push_name(b, inst);
    json_t *attrs = json_pack("{s:s}", "type", p);
    /* WhatsApp takes the push name with "available"; without one the presence still goes */
    if (name && !strcmp(p, "available")) json_object_set(attrs, "name", name);
    if (send_node(b, req, node("presence", attrs, NULL)) == MIAW_OK)
        b->api->reply_json(req, 200, json_pack("{s:s,s:O}", "presence", p, "name", name ? name : json_null()));
    json_decref(name);
    return MIAW_OK;
}

/* ------------------------------------------------------------ chat states */
enum { CS_TYPING, CS_RECORDING, CS_PAUSED };
static const char *const CS_NAMES[] = {"composing", "recording", "paused"};

static int chatstate(miaw_req *req, miaw_plugin_base *b, int kind)
{
    char to[PRS_JID_MAX];
    if (path_jid(b, req, "to", 1, to, sizeof to)) return MIAW_OK;
    json_t *st = node(kind == CS_PAUSED ? "paused" : "composing",
                      kind == CS_RECORDING ? json_pack("{s:s}", "media", "audio") : NULL, NULL);
    json_t *n = node("chatstate", json_pack("{s:{s:s}}", "to", "jid", to), json_pack("[o]", st));
    if (send_node(b, req, n) == MIAW_OK)
        b->api->reply_json(req, 200, json_pack("{s:s,s:s}", "to", to, "state", CS_NAMES[kind]));
    return MIAW_OK;
}

static int h_typing(miaw_req *req, void *ud) { return chatstate(req, ud, CS_TYPING); }
static int h_recording(miaw_req *req, void *ud) { return chatstate(req, ud, CS_RECORDING); }
static int h_stop(miaw_req *req, void *ud) { return chatstate(req, ud, CS_PAUSED); }

/* ------------------------------------------------------------ subscribe */
static int h_subscribe(miaw_req *req, void *ud)
{
    miaw_plugin_base *b = ud;
    char jid[PRS_JID_MAX];
    if (path_jid(b, req, "jid", 0, jid, sizeof jid)) return MIAW_OK;
    json_t *n = node("presence", json_pack("{s:s,s:{s:s}}", "type", "subscribe", "to", "jid", jid), NULL);
    if (send_node(b, req, n) == MIAW_OK) b->api->reply_json(req, 200, json_pack("{s:s,s:b}", "jid", jid, "subscribed", 1));
    return MIAW_OK;
}

/* ------------------------------------------------------------ registration */
static const char *const PRESENCES[] = {"available", "unavailable", NULL};
static const miaw_field PRESENCE_BODY[] = {
    {.name = "presence", .type = MIAW_T_STRING, .flags = MIAW_F_REQUIRED, .enum_values = PRESENCES,
     .description = "available: online; unavailable: offline (last seen = now). Contacts subscribed to this "
                    "account's presence see the change",
     .example = "\"available\""},
    {0},
};

#define CS_DESC(what)                                                                                                  \
    what " `to` is a phone number with country code, a user JID (`@s.whatsapp.net`, `@lid`) or a group JID "          \
         "(`@g.us`: every member sees it). WhatsApp clears the indicator after a few seconds; send it again while "   \
         "it lasts. 400 INVALID_REQUEST (`details.field` = `to`) for anything else."

static int setup(miaw_plugin_base *b, const json_t *config, char *err, size_t errlen)
{
    (void)config;
    const miaw_route R[] = {
        {MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/presence", .handler = h_presence,
         .body = PRESENCE_BODY, .summary = "Set this account's presence (online / offline)",
         .description = "Sends `<presence type=\"available|unavailable\">`; `available` carries this account's push name "
                        "when the server knows it (from the login answer, or the copies of the messages its phone "
                        "sends), as WhatsApp expects. `name` in the answer is that name, or null.",
         .response_example = "{\"presence\":\"available\",\"name\":\"Ada\"}"},
        {MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/typing/{to}", .handler = h_typing,
         .summary = "Show \"typing...\" in a chat", .description = CS_DESC("Sends `<chatstate><composing/>`."),
         .response_example = "{\"to\":\"15551234567@s.whatsapp.net\",\"state\":\"composing\"}"},
        {MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/recording/{to}", .handler = h_recording,
         .summary = "Show \"recording audio...\" in a chat",
         .description = CS_DESC("Sends `<chatstate><composing media=\"audio\"/>`."),
         .response_example = "{\"to\":\"15551234567@s.whatsapp.net\",\"state\":\"recording\"}"},
        {MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/stop-typing/{to}", .handler = h_stop,
         .summary = "Stop the typing / recording indicator",
         .description = CS_DESC("Sends `<chatstate><paused/>`."),
         .response_example = "{\"to\":\"15551234567@s.whatsapp.net\",\"state\":\"paused\"}"},
        {MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/subscribe/{jid}", .handler = h_subscribe,
         .summary = "Subscribe to a contact's presence",
         .description = "Sends `<presence type=\"subscribe\">`. WhatsApp answers with the contact's current presence "
                        "and then reports its changes (and, as chat states, its typing) while this connection "
                        "lasts: each arrives as a `presence` webhook event. Subscribe again after a reconnect. "
                        "`jid`: a phone number or user JID (not a group).",
         .response_example = "{\"jid\":\"15551234567@s.whatsapp.net\",\"subscribed\":true}"},
    };
    for (size_t i = 0; i < sizeof R / sizeof R[0]; i++) {
        miaw_route r = R[i];
        r.flags = MIAW_ROUTE_INSTANCE;
        r.udata = b;
        r.tag = "Presence";
        int rc = b->api->route_add(b->self, &r, err, errlen);
        if (rc != MIAW_OK) return rc;
    }
    int rc = prs_read_register(b, err, errlen);
    if (rc == MIAW_OK) rc = prs_events_register(b, err, errlen);
    return rc;
}

MIAW_DEFINE_PLUGIN_MIN("presence", "1.0.0",
                       "presence, typing and recording indicators, read receipts, presence events (spec 4.4.6)", 3,
                       setup)
