/* plugins/groups/group_events.c - the group events (spec 5.1 plus issue 12): w:gp2
 * notifications (protocol facts 9.3), taken through a stanza subscription after the
 * core acknowledged them, become group_update (subject, description, settings, invite
 * code, deletion), group_participants (add, remove, promote, demote, leave, join,
 * approve, reject, request) and group_join (this account was added, or joined). The
 * account's own JIDs come from the core's `ready` event, kept in kv ("me"); a join made
 * through the API is reported once (kv "joined:<group>" marks it for two minutes).
 * Owns no memory between calls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groups.h"

#define JOIN_MARK_MS 120000

static int same_user(const char *a, const char *b)
{
    char ua[96], ub[96];
    if (!a || !b) return 0;
    grp_user(a, ua, sizeof ua);
    grp_user(b, ub, sizeof ub);
    return ua[0] && !strcmp(ua, ub);
}

/* is participant node p this account (me = {jid, lid})? */
static int is_me(const json_t *me, const json_t *p)
{
    const char *mj = json_string_value(json_object_get(me, "jid")), *ml = json_string_value(json_object_get(me, "lid"));
    const char *keys[] = {"jid", "phone_number", "lid"};
    for (int i = 0; i < 3; i++) {
        const char *v = miaw_jnode_attr(p, keys[i]);
        if (!v) continue;
        if (strstr(v, "@lid") ? same_user(v, ml) : same_user(v, mj)) return 1;
    }
    return 0;
}

int grp_events_member(miaw_plugin_base *b, const char *inst, const json_t *group)
{
    json_t *me = b->api->kv_get(b->self, inst, "me");
    const json_t *k;
    size_t i;
    int found = 0;
    json_array_foreach(json_object_get(group, "content"), i, k) {
        const char *t = json_string_value(json_object_get(k, "tag"));
        if (me && t && !strcmp(t, "participant") && is_me(me, k)) found = 1;
    }
    json_decref(me);
    return found;
}

static void on_ready(const miaw_event *ev, void *ud)
{
    miaw_plugin_base *b = ud;
    const char *jid = json_string_value(json_object_get(ev->data, "jid"));
    const char *lid = json_string_value(json_object_get(ev->data, "lid"));
    if (!ev->instance_id || !jid) return;
    b->api->kv_put(b->self, ev->instance_id, "me", json_pack("{s:s,s:s}", "jid", jid, "lid", lid ? lid : ""));
}

static void emit_join(miaw_plugin_base *b, const char *inst, const char *group, const char *actor, const char *how,
                      json_t *meta)
{
    json_t *d = json_pack("{s:s,s:s,s:s}", "groupJid", group, "reason", how, "actor", actor ? actor : "");
    if (!actor) json_object_set_new(d, "actor", json_null());
    if (meta) json_object_set_new(d, "group", meta);
    b->api->event_emit(b->self, "group_join", inst, d);
}

/* joins made through the API, one kv row per instance ("joins": {groupJid: ms}) pruned of
 * marks older than JOIN_MARK_MS on every use, so a notification that never comes leaves
 * nothing behind for long */
static json_t *joins_load(miaw_plugin_base *b, const char *inst)
{
    json_t *v = b->api->kv_get(b->self, inst, "joins");
    if (!json_is_object(v)) {
        json_decref(v);
        v = json_object();
    }
    int64_t now = b->api->now_ms();
    const char *k;
    json_t *t;
    void *tmp;
    json_object_foreach_safe(v, tmp, k, t)
    {
        if (!json_is_integer(t) || now - json_integer_value(t) >= JOIN_MARK_MS) json_object_del(v, k);
    }
    return v;
}

static void joins_store(miaw_plugin_base *b, const char *inst, json_t *v)
{
    if (json_object_size(v))
        b->api->kv_put(b->self, inst, "joins", v); /* takes the reference */
    else {
        b->api->kv_del(b->self, inst, "joins");
        json_decref(v);
    }
}

void grp_events_joined(miaw_plugin_base *b, const char *inst, const char *group, const char *how)
{
    json_t *v = joins_load(b, inst);
    json_object_set_new(v, group, json_integer((json_int_t)b->api->now_ms()));
    joins_store(b, inst, v);
    emit_join(b, inst, group, NULL, how, NULL);
}

/* a join made through the API and now notified: reported already */
static int joined_recently(miaw_plugin_base *b, const char *inst, const char *group)
{
    json_t *v = joins_load(b, inst);
    int recent = json_object_get(v, group) != NULL;
    if (recent) json_object_del(v, group);
    joins_store(b, inst, v);
    return recent;
}

static const char *participants_action(const char *tag, const json_t *child, const char *actor)
{
    const char *reason = miaw_jnode_attr(child, "reason");
    if (!strcmp(tag, "add")) {
        if (reason && !strcmp(reason, "invite")) return "join";
        if (reason && strstr(reason, "approv")) return "approve";
        return "add";
    }
    if (!strcmp(tag, "remove")) {
        const json_t *c = json_object_get(child, "content");
        if (json_array_size(c) == 1 && actor && same_user(miaw_jnode_attr(json_array_get(c, 0), "jid"), actor)) return "leave";
        return "remove";
    }
    if (!strcmp(tag, "promote") || !strcmp(tag, "demote") || !strcmp(tag, "leave")) return tag;
    if (!strcmp(tag, "created_membership_requests")) return "request";
    if (!strcmp(tag, "revoked_membership_requests")) return "reject";
    return NULL;
}

/* the settings part of a group_update, set on d; 0 when tag is not one */
static int update_fields(const char *tag, const json_t *child, json_t *d)
{
    if (!strcmp(tag, "subject")) {
        const char *s = miaw_jnode_attr(child, "subject");
        json_object_set_new(d, "subject", json_string(s ? s : ""));
    } else if (!strcmp(tag, "description")) {
        json_t *t = miaw_jnode_child(child, "delete") ? NULL : miaw_jnode_text(miaw_jnode_child(child, "body"));
        json_object_set_new(d, "description", t ? t : json_null());
        const char *id = miaw_jnode_attr(child, "id");
        json_object_set_new(d, "descriptionId", id ? json_string(id) : json_null());
    } else if (!strcmp(tag, "announcement") || !strcmp(tag, "not_announcement")) {
        json_object_set_new(d, "announce", json_boolean(tag[0] == 'a'));
    } else if (!strcmp(tag, "locked") || !strcmp(tag, "unlocked")) {
        json_object_set_new(d, "locked", json_boolean(tag[0] == 'l'));
    } else if (!strcmp(tag, "ephemeral") || !strcmp(tag, "not_ephemeral")) {
        const char *e = tag[0] == 'e' ? miaw_jnode_attr(child, "expiration") : NULL;
        json_object_set_new(d, "ephemeral", json_integer(e ? strtoll(e, NULL, 10) : 0));
    } else if (!strcmp(tag, "member_add_mode")) {
        json_t *t = miaw_jnode_text(child);
        json_object_set_new(d, "memberAddMode", t ? t : json_null());
    } else if (!strcmp(tag, "membership_approval_mode")) {
        const char *st = miaw_jnode_attr(miaw_jnode_child(child, "group_join"), "state");
        json_object_set_new(d, "approvalMode", json_boolean(!st || !strcmp(st, "on")));
    } else if (!strcmp(tag, "invite")) {
        const char *code = miaw_jnode_attr(child, "code");
        json_object_set_new(d, "inviteCode", code ? json_string(code) : json_null());
    } else if (!strcmp(tag, "delete")) {
        json_object_set_new(d, "deleted", json_true());
    } else {
        return 0;
    }
    return 1;
}

static void on_gp2(const char *inst, const json_t *node, void *ud)
{
    miaw_plugin_base *b = ud;
    const char *group = miaw_jnode_attr(node, "from");
    if (!inst || !group || !strstr(group, GRP_SERVER)) return;
    const char *actor_lid = miaw_jnode_attr(node, "participant"), *actor_pn = miaw_jnode_attr(node, "participant_pn");
    const char *actor = actor_pn ? actor_pn : actor_lid;
    const char *t = miaw_jnode_attr(node, "t");
    json_t *me = b->api->kv_get(b->self, inst, "me");
    size_t i;
    const json_t *child;
    json_array_foreach(json_object_get(node, "content"), i, child) {
        const char *tag = json_string_value(json_object_get(child, "tag"));
        if (!tag) continue;
        if (!strcmp(tag, "create")) {
            const json_t *g = miaw_jnode_child(child, "group");
            emit_join(b, inst, group, actor, "create", g ? grp_metadata(g) : NULL);
            continue;
        }
        const char *action = participants_action(tag, child, actor_lid ? actor_lid : actor);
        if (action) {
            json_t *parts = json_array();
            int me_added = 0;
            size_t k;
            const json_t *p;
            json_array_foreach(json_object_get(child, "content"), k, p) {
                const char *pt = json_string_value(json_object_get(p, "tag"));
                if (!pt || strcmp(pt, "participant")) continue;
                json_array_append_new(parts, grp_participant(p));
                me_added |= me && is_me(me, p);
            }
            if (!json_array_size(parts) && miaw_jnode_attr(child, "participant")) { /* a join request names one in attrs */
                json_t *p1 = json_pack("{s:s,s:{s:s}}", "tag", "participant", "attrs", "jid", miaw_jnode_attr(child, "participant"));
                if (miaw_jnode_attr(child, "participant_pn"))
                    json_object_set_new(json_object_get(p1, "attrs"), "phone_number", json_string(miaw_jnode_attr(child, "participant_pn")));
                json_array_append_new(parts, grp_participant(p1));
                json_decref(p1);
            }
            json_t *d = json_pack("{s:s,s:s,s:o,s:o}", "groupJid", group, "action", action, "participants", parts,
                                  "timestamp", t ? json_integer(strtoll(t, NULL, 10)) : json_null());
            json_object_set_new(d, "actor", actor ? json_string(actor) : json_null());
            json_object_set_new(d, "actorLid", actor_lid ? json_string(actor_lid) : json_null());
            b->api->event_emit(b->self, "group_participants", inst, d);
            int joins = !strcmp(action, "add") || !strcmp(action, "join") || !strcmp(action, "approve");
            if (joins && me_added && !joined_recently(b, inst, group))
                emit_join(b, inst, group, actor, !strcmp(action, "add") ? "added" : !strcmp(action, "join") ? "invite" : "approved",
                          NULL);
            continue;
        }
        json_t *d = json_pack("{s:s}", "groupJid", group);
        if (!update_fields(tag, child, d)) {
            json_decref(d);
            b->api->log(b->self, MIAW_LOG_DEBUG, "%s: w:gp2 <%s> in %s not reported", inst, tag, group);
            continue;
        }
        json_object_set_new(d, "actor", actor ? json_string(actor) : json_null());
        json_object_set_new(d, "actorLid", actor_lid ? json_string(actor_lid) : json_null());
        json_object_set_new(d, "timestamp", t ? json_integer(strtoll(t, NULL, 10)) : json_null());
        b->api->event_emit(b->self, "group_update", inst, d);
    }
    json_decref(me);
}

int grp_events_register(miaw_plugin_base *b, char *err, size_t errlen)
{
    static const miaw_event_decl D[] = {
        {sizeof(miaw_event_decl), "group_update", MIAW_EVENT_F_WEBHOOK,
         "A group's subject, description or settings changed: {groupJid, actor, actorLid, timestamp} and one of "
         "subject, description (+descriptionId), announce, locked, ephemeral, memberAddMode, approvalMode, "
         "inviteCode, deleted"},
        {sizeof(miaw_event_decl), "group_participants", MIAW_EVENT_F_WEBHOOK,
         "Members changed: {groupJid, actor, actorLid, timestamp, action: add | remove | promote | demote | leave | "
         "join | approve | reject | request, participants: [{jid, phone, lid, admin}]}"},
        {sizeof(miaw_event_decl), "group_join", MIAW_EVENT_F_WEBHOOK,
         "This account was added to a group or joined one: {groupJid, actor, reason: create | added | invite | "
         "approved, group (the metadata, when the group was just created)}"},
    };
    for (size_t i = 0; i < sizeof D / sizeof D[0]; i++) {
        int rc = b->api->event_declare(b->self, &D[i], err, errlen);
        if (rc != MIAW_OK) return rc;
    }
    int rc = b->api->event_subscribe(b->self, "ready", on_ready, b, NULL);
    if (rc != MIAW_OK) {
        snprintf(err, errlen, "cannot subscribe to ready");
        return rc;
    }
    miaw_stanza_filter f = {sizeof f, "notification", "w:gp2", NULL, NULL};
    rc = b->api->stanza_subscribe(b->self, &f, on_gp2, b, NULL);
    if (rc != MIAW_OK) snprintf(err, errlen, "cannot subscribe to w:gp2 notifications");
    return rc;
}
