/* plugins/presence/events.c - incoming presence and chat states as the `presence`
 * webhook event (spec 5): <presence from [type="unavailable"] [last]> ->
 * {jid, status: available|unavailable, lastSeen?}; <chatstate from [participant]>
 * <composing [media="audio"]/>|<paused/> -> {jid, chat, status: composing|recording|paused}.
 * Also what the plugin knows of this account, in its kv store per instance: "me" {jid,
 * lid} from the core's `ready` event, and "pushName" {name} from the `display_name` of
 * <success> at login and the senderName of the `message` events of this account's own 1:1
 * messages (the server stamps the sender's push name on them), the latest winning. State: none besides
 * those kv rows. */
#include "presence.h"

#include <stdlib.h>
#include <string.h>

/* is jid (any device, PN or LID) this account? */
static int is_me(miaw_plugin_base *b, const char *inst, const char *jid)
{
    json_t *me = b->api->kv_get(b->self, inst, "me");
    char u[PRS_JID_MAX], mu[PRS_JID_MAX], lu[PRS_JID_MAX];
    prs_user(jid, u, sizeof u);
    prs_user(json_string_value(json_object_get(me, "jid")), mu, sizeof mu);
    prs_user(json_string_value(json_object_get(me, "lid")), lu, sizeof lu);
    json_decref(me);
    return *u && (!strcmp(u, mu) || !strcmp(u, lu));
}

json_t *prs_push_name(miaw_plugin_base *b, const char *inst)
{
    json_t *v = b->api->kv_get(b->self, inst, "pushName");
    const char *s = json_string_value(json_object_get(v, "name"));
    json_t *out = s && *s ? json_string(s) : NULL;
    json_decref(v);
    return out;
}

static void on_ready(const miaw_event *ev, void *ud)
{
    miaw_plugin_base *b = ud;
    const char *jid = json_string_value(json_object_get(ev->data, "jid"));
    const char *lid = json_string_value(json_object_get(ev->data, "lid"));
    if (!ev->instance_id || !jid) return;
    b->api->kv_put(b->self, ev->instance_id, "me", json_pack("{s:s,s:s}", "jid", jid, "lid", lid ? lid : ""));
}

static void remember_name(miaw_plugin_base *b, const char *inst, const char *name)
{
    if (!name || !*name || strlen(name) > 256) return;
    json_t *old = prs_push_name(b, inst);
    if (!old || strcmp(json_string_value(old), name))
        b->api->kv_put(b->self, inst, "pushName", json_pack("{s:s}", "name", name));
    json_decref(old);
}

/* the `message` event of a copy of this account's own 1:1 message: its senderName is the
 * account's push name (the event exists anyway: no stanza is converted for this) */
static void on_message(const miaw_event *ev, void *ud)
{
    const json_t *d = ev->data;
    if (ev->instance_id && json_is_true(json_object_get(d, "fromMe")) && !json_is_true(json_object_get(d, "isGroup")))
        remember_name(ud, ev->instance_id, json_string_value(json_object_get(d, "senderName")));
}

/* <success display_name> at login: the account's name as the server knows it */
static void on_success(const char *inst, const json_t *n, void *ud) { remember_name(ud, inst, miaw_jnode_attr(n, "display_name")); }

static void on_presence(const char *inst, const json_t *n, void *ud)
{
    miaw_plugin_base *b = ud;
    const char *from = miaw_jnode_attr(n, "from"), *type = miaw_jnode_attr(n, "type"), *last = miaw_jnode_attr(n, "last");
    if (!from || strstr(from, "@g.us")) return; /* group online counts are not reported */
    const char *status = !type || !strcmp(type, "available") ? "available" : !strcmp(type, "unavailable") ? "unavailable" : NULL;
    if (!status) return; /* subscribe, probe and the like are not presence changes */
    json_t *d = json_pack("{s:s,s:s}", "jid", from, "status", status);
    char *end = NULL;
    long long t = last ? strtoll(last, &end, 10) : 0;
    if (last && end && !*end && t > 0) json_object_set_new(d, "lastSeen", json_integer(t)); /* "deny": hidden */
    b->api->event_emit(b->self, "presence", inst, d);
}

static void on_chatstate(const char *inst, const json_t *n, void *ud)
{
    miaw_plugin_base *b = ud;
    const char *from = miaw_jnode_attr(n, "from"), *part = miaw_jnode_attr(n, "participant");
    const json_t *st = json_array_get(json_object_get(n, "content"), 0);
    const char *tag = json_string_value(json_object_get(st, "tag"));
    if (!from || !tag) return;
    const char *media = miaw_jnode_attr(st, "media");
    const char *status = !strcmp(tag, "paused")      ? "paused"
                         : strcmp(tag, "composing") ? NULL
                         : media && !strcmp(media, "audio") ? "recording"
                                                            : "composing";
    const char *jid = part ? part : from;
    if (!status || is_me(b, inst, jid)) return;
    b->api->event_emit(b->self, "presence", inst, json_pack("{s:s,s:s,s:s}", "jid", jid, "chat", from, "status", status));
}

int prs_events_register(miaw_plugin_base *b, char *err, size_t errlen)
{
    miaw_event_decl d = {sizeof(miaw_event_decl), "presence", MIAW_EVENT_F_WEBHOOK,
                         "A contact's presence or chat state: {jid, chat?, status: available | unavailable | "
                         "composing | recording | paused, lastSeen?}. Presence arrives for the contacts this "
                         "account subscribed to (POST /instances/{instanceId}/subscribe/{jid}); chat states "
                         "(chat = the user, or the group) from anyone typing in a chat with this account."};
    if (b->api->event_declare(b->self, &d, err, errlen) != MIAW_OK) return MIAW_E_INVAL;
    if (b->api->event_subscribe(b->self, "ready", on_ready, b, NULL) != MIAW_OK ||
        b->api->event_subscribe(b->self, "message", on_message, b, NULL) != MIAW_OK)
        goto fail;
    miaw_stanza_filter fp = {sizeof fp, .tag = "presence"}, fc = {sizeof fc, .tag = "chatstate"},
                       fs = {sizeof fs, .tag = "success"};
    if (b->api->stanza_subscribe(b->self, &fp, on_presence, b, NULL) != MIAW_OK ||
        b->api->stanza_subscribe(b->self, &fc, on_chatstate, b, NULL) != MIAW_OK ||
        b->api->stanza_subscribe(b->self, &fs, on_success, b, NULL) != MIAW_OK)
        goto fail;
    return MIAW_OK;
fail:
    snprintf(err, errlen, "cannot subscribe to the core's events and stanzas");
    return MIAW_E_INVAL;
}
