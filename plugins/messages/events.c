/* plugins/messages/events.c - the webhook events of the messages plugin (spec 5.1):
 * message_edit, message_delete and message_reaction derived from the core's `message`
 * event (its raw Message: protocolMessage REVOKE / MESSAGE_EDIT, reactionMessage), and
 * message_ack for messages this account sent: "server" when the server acknowledged a
 * send of this plugin (msgs_ack_server), "delivery" / "read" / "played" from <receipt>
 * stanzas (every id of <list><item id>), once per message, reader and status rank.
 * Owns a fixed table of the acks already reported (static, cleared at init). */
#include <jansson.h>
#include <miaw/plugin.h>
#include <miaw/node_util.h>
#include <miaw/plugin_util.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "messages.h"
#include "msgkit.h"

#define ACK_SLOTS 4096

/* (instance, message, reader) -> highest status reported; collisions only re-report */
static struct {
    uint64_t h;
    int rank;
} ACKS[ACK_SLOTS];

static uint64_t fnv(uint64_t h, const char *s)
{
    for (; s && *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (h ^ 0xff) * 1099511628211ull; /* a separator, so ("ab","c") != ("a","bc") */
}

/* 1 when status for (inst, id, who) is news (and records it) */
static int ack_new(const char *inst, const char *id, const char *who, const char *status)
{
    uint64_t h = fnv(fnv(fnv(1469598103934665603ull, inst), id), who);
    int rank = mk_ack_rank(status);
    size_t i = (size_t)(h % ACK_SLOTS);
    if (ACKS[i].h == h && ACKS[i].rank >= rank) return 0;
    ACKS[i].h = h;
    ACKS[i].rank = rank;
    return 1;
}

void msgs_ack_server(const miaw_host_api *api, miaw_plugin *self, const char *inst, const char *id, const char *chat,
                     int64_t ts_s)
{
    if (!inst || !id || !ack_new(inst, id, "", "server")) return;
    json_t *d = json_pack("{s:s,s:s,s:s,s:n,s:I}", "messageId", id, "chat", chat ? chat : "", "status", "server",
                          "from", "timestamp", (json_int_t)ts_s);
    api->event_emit(self, "message_ack", inst, d);
}

static void ack_one(miaw_plugin_base *b, const char *inst, const char *id, const char *who, const char *status,
                    json_int_t ts)
{
    json_t *m = b->api->msg_get(b->self, inst, id);
    /* only our own messages: read-self receipts and the like name messages we received */
    if (m && json_is_true(json_object_get(m, "fromMe")) && ack_new(inst, id, who, status)) {
        const char *chat = json_string_value(json_object_get(m, "chat"));
        b->api->event_emit(b->self, "message_ack", inst,
                           json_pack("{s:s,s:s,s:s,s:s,s:I}", "messageId", id, "chat", chat ? chat : "", "status",
                                     status, "from", who, "timestamp", ts));
    }
    json_decref(m);
}

static void on_receipt(const char *inst, const json_t *node, void *udata)
{
    miaw_plugin_base *b = udata;
    const char *status = mk_receipt_status(miaw_jnode_attr(node, "type"));
    const char *id = miaw_jnode_attr(node, "id"), *part = miaw_jnode_attr(node, "participant"), *from = miaw_jnode_attr(node, "from");
    if (!status || !id) return;
    char who[160];
    if (mk_user_jid(part ? part : from, who, sizeof who) != 0) return;
    const char *t = miaw_jnode_attr(node, "t");
    json_int_t ts = t ? (json_int_t)strtoll(t, NULL, 10) : 0;
    if (ts <= 0) ts = (json_int_t)(b->api->now_ms() / 1000);
    ack_one(b, inst, id, who, status, ts);
    size_t i, k;
    const json_t *c, *it;
    json_array_foreach(json_object_get(node, "content"), i, c) {
        if (!json_is_string(json_object_get(c, "tag")) || strcmp(json_string_value(json_object_get(c, "tag")), "list"))
            continue;
        json_array_foreach(json_object_get(c, "content"), k, it) {
            const char *iid = miaw_jnode_attr(it, "id");
            if (iid) ack_one(b, inst, iid, who, status, ts);
        }
    }
}

static int same(const json_t *a, const json_t *b)
{
    return json_is_string(a) && json_is_string(b) && !strcmp(json_string_value(a), json_string_value(b));
}

/* an edit or a deletion by someone who did not write the stored target is not reported
 * (the engine did not apply it either); a group deletion may be an admin's; an unknown
 * target (older than this device) cannot be checked */
static int by_author(miaw_plugin_base *b, const char *inst, const json_t *d, const char *type)
{
    if (!strcmp(type, "message_reaction")) return 1;
    json_t *m = b->api->msg_get(b->self, inst, json_string_value(json_object_get(d, "messageId")));
    if (!m) return 1;
    int me = json_is_true(json_object_get(d, "fromMe"));
    int ok = same(json_object_get(m, "chat"), json_object_get(d, "chat")) &&
             (json_is_true(json_object_get(d, "isGroup")) && !strcmp(type, "message_delete")
                  ? 1
                  : json_is_true(json_object_get(m, "fromMe")) == me &&
                        (me || same(json_object_get(m, "sender"), json_object_get(d, "from"))));
    json_decref(m);
    return ok;
}

static void on_message(const miaw_event *ev, void *udata)
{
    miaw_plugin_base *b = udata;
    const char *type = NULL;
    json_t *d = ev->instance_id ? mk_action_event(ev->data, &type) : NULL;
    if (!d) return;
    if (by_author(b, ev->instance_id, d, type)) b->api->event_emit(b->self, type, ev->instance_id, d);
    else json_decref(d);
}

static const struct {
    const char *type, *desc;
} EVENTS[] = {
    {"message_edit", "A message was edited by its author (a contact, or this account on another of its devices; "
                     "edits made through this API are answered, not reported): {messageId (the edited message), "
                     "chat, from, fromMe, isGroup, text (the new text), message (the new WAProto content), editedAt "
                     "(unix seconds), protocolMessageId}"},
    {"message_delete", "A message was deleted for everyone (by a contact, a group admin, or this account on another "
                       "device): {messageId, chat, from (who deleted it), fromMe, isGroup, participant (the author, "
                       "when a group admin deleted someone else's message), protocolMessageId, timestamp}"},
    {"message_reaction", "A reaction was added, changed or removed (by a contact, or this account on another "
                         "device): {messageId (the message reacted to), chat, from, fromMe, isGroup, emoji (\"\" = "
                         "the reaction was removed), reactionId, timestamp}"},
    {"message_ack", "A message this account sent reached a new state: {messageId, chat, status: \"server\" (the "
                    "server accepted it; from null) | \"delivery\" | \"read\" | \"played\", from (the recipient, or "
                    "in groups the member, whose device reported it), timestamp (unix seconds)}. Once per message, "
                    "recipient and status."},
};

int msgs_event_setup(miaw_plugin_base *b, char *err, size_t errlen)
{
    memset(ACKS, 0, sizeof ACKS);
    const miaw_host_api *api = b->api;
    for (size_t i = 0; i < sizeof EVENTS / sizeof EVENTS[0]; i++) {
        miaw_event_decl d = {sizeof d, EVENTS[i].type, MIAW_EVENT_F_WEBHOOK, EVENTS[i].desc};
        if (api->event_declare(b->self, &d, err, errlen) != MIAW_OK) return MIAW_E_INVAL;
    }
    if (api->event_subscribe(b->self, "message", on_message, b, NULL) != MIAW_OK) {
        snprintf(err, errlen, "cannot subscribe to message events");
        return MIAW_E_INVAL;
    }
    miaw_stanza_filter f = {sizeof f, .tag = "receipt"};
    if (api->stanza_subscribe(b->self, &f, on_receipt, b, NULL) != MIAW_OK) {
        snprintf(err, errlen, "cannot subscribe to receipts");
        return MIAW_E_INVAL;
    }
    return MIAW_OK;
}
