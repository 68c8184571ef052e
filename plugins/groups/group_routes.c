/* plugins/groups/group_routes.c - the group routes of spec 4.4.4 that manage one group
 * or the list: create (with the per-participant outcome), list, metadata, participants
 * add/remove, admins promote/demote (per-participant results), PATCH of subject,
 * description and settings (one w:g2 IQ per change, then the new metadata), and leave.
 * Each request is a grp_call (group_call.c); nothing is kept between requests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "groups.h"

/* ------------------------------------------------------------ schemas */
static const miaw_field JID_ITEM = {.type = MIAW_T_STRING, .flags = MIAW_F_NONEMPTY | MIAW_F_HAS_MAX, .max = 128,
                                    .description = "phone number with country code, or a user JID (@s.whatsapp.net, @lid)"};
static const miaw_field CREATE_BODY[] = {
    {.name = "subject", .type = MIAW_T_STRING, .flags = MIAW_F_REQUIRED | MIAW_F_NONEMPTY | MIAW_F_HAS_MAX, .max = 100,
     .description = "the group's name", .example = "\"Team\""},
    {.name = "participants", .type = MIAW_T_ARRAY, .flags = MIAW_F_REQUIRED | MIAW_F_HAS_MAX, .max = GRP_MAX_PARTICIPANTS,
     .items = &JID_ITEM, .description = "members to add besides this account", .example = "[\"15550001111\"]"},
    {.name = "description", .type = MIAW_T_STRING, .flags = MIAW_F_HAS_MAX, .max = 2048},
    {0},
};
static const miaw_field PARTS_BODY[] = {
    {.name = "participants", .type = MIAW_T_ARRAY, .flags = MIAW_F_REQUIRED | MIAW_F_HAS_MIN | MIAW_F_HAS_MAX, .min = 1,
     .max = GRP_MAX_PARTICIPANTS, .items = &JID_ITEM, .example = "[\"15550001111\"]"},
    {0},
};
static const char *const ADD_MODES[] = {"admin_add", "all_member_add", NULL};
static const miaw_field PATCH_BODY[] = {
    {.name = "subject", .type = MIAW_T_STRING, .flags = MIAW_F_NONEMPTY | MIAW_F_HAS_MAX, .max = 100},
    {.name = "description", .type = MIAW_T_STRING, .flags = MIAW_F_NULLABLE | MIAW_F_HAS_MAX, .max = 2048,
     .description = "null or \"\" removes it"},
    {.name = "announce", .type = MIAW_T_BOOLEAN, .description = "only admins send messages"},
    {.name = "locked", .type = MIAW_T_BOOLEAN, .description = "only admins edit the group's info"},
    {.name = "ephemeral", .type = MIAW_T_INTEGER, .flags = MIAW_F_HAS_MIN | MIAW_F_HAS_MAX, .min = 0, .max = 31536000,
     .description = "disappearing messages in seconds (0 = off; WhatsApp offers 86400, 604800, 7776000)"},
    {.name = "memberAddMode", .type = MIAW_T_STRING, .enum_values = ADD_MODES},
    {.name = "approvalMode", .type = MIAW_T_BOOLEAN, .description = "admins approve who joins"},
    {0},
};

#define META_EXAMPLE                                                                                                   \
    "{\"jid\":\"120363012345678901@g.us\",\"subject\":\"Team\",\"owner\":\"15550001111@s.whatsapp.net\","           \
    "\"creation\":1735118400,\"participants\":[{\"jid\":\"15550001111@s.whatsapp.net\",\"phone\":\"15550001111\","  \
    "\"lid\":\"81234567890123@lid\",\"admin\":\"superadmin\"}],\"description\":null,\"announce\":false,"            \
    "\"locked\":false,\"ephemeral\":0,\"memberAddMode\":\"all_member_add\",\"approvalMode\":false}"

/* ------------------------------------------------------------ helpers */
/* participants[] of the body normalized to user JIDs in a new array; NULL after a 400 */
static json_t *norm_participants(grp_call *c)
{
    json_t *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(c->body, "participants"), i, v) {
        char jid[160], field[48];
        if (c->b->api->jid_normalize(json_string_value(v), jid, sizeof jid) != MIAW_OK || strstr(jid, GRP_SERVER)) {
            snprintf(field, sizeof field, "participants[%zu]", i);
            json_decref(out);
            grp_call_fail(c, 400, "INVALID_REQUEST", field, "not a phone number or user JID");
            return NULL;
        }
        json_array_append_new(out, json_string(jid));
    }
    return out;
}

static json_t *participant_nodes(const json_t *jids)
{
    json_t *arr = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(jids, i, v)
        json_array_append_new(arr, grp_node("participant", json_pack("{s:{s:O}}", "jid", "jid", v), NULL));
    return arr;
}

static int same_user(const char *a, const char *b)
{
    char ua[96], ub[96];
    if (!a || !b) return 0;
    grp_user(a, ua, sizeof ua);
    grp_user(b, ub, sizeof ub);
    return ua[0] && !strcmp(ua, ub) && !strcmp(strchr(a, '@') ? strchr(a, '@') : "", strchr(b, '@') ? strchr(b, '@') : "");
}

/* the per-participant result for requested jid among the participant nodes of parent
 * (absent: `missing`) */
static json_t *outcome(const json_t *parent, const char *jid, const char *action, int missing)
{
    const json_t *k, *found = NULL;
    size_t i;
    json_array_foreach(json_object_get(parent, "content"), i, k) {
        const char *t = json_string_value(json_object_get(k, "tag"));
        if (!t || strcmp(t, "participant")) continue;
        if (same_user(miaw_jnode_attr(k, "jid"), jid) || same_user(miaw_jnode_attr(k, "phone_number"), jid) ||
            same_user(miaw_jnode_attr(k, "lid"), jid)) {
            found = k;
            break;
        }
    }
    const char *err = found ? miaw_jnode_attr(found, "error") : NULL;
    int code = found ? (err ? atoi(err) : 200) : missing;
    const json_t *ar = found ? miaw_jnode_child(found, "add_request") : NULL;
    char phone[64] = "";
    const char *pn = found ? miaw_jnode_attr(found, "phone_number") : NULL;
    if (pn) grp_user(pn, phone, sizeof phone);
    else if (!strstr(jid, "@lid")) grp_user(jid, phone, sizeof phone);
    json_t *o = json_pack("{s:s,s:o,s:s,s:i}", "jid", jid, "phone", phone[0] ? json_string(phone) : json_null(), "status",
                          grp_outcome(code, action, ar != NULL), "code", code);
    if (ar && miaw_jnode_attr(ar, "code")) json_object_set_new(o, "inviteCode", json_string(miaw_jnode_attr(ar, "code")));
    if (ar && miaw_jnode_attr(ar, "expiration"))
        json_object_set_new(o, "inviteExpiration", json_integer(strtoll(miaw_jnode_attr(ar, "expiration"), NULL, 10)));
    return o;
}

static void desc_id(char out[17])
{
    unsigned char r[8] = {0};
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) memset(r, 0x5a, sizeof r);
    for (int i = 0; i < 8; i++) snprintf(out + 2 * i, 3, "%02X", r[i]);
}

static json_t *description_node(const char *text, const char *prev)
{
    char id[17];
    desc_id(id);
    json_t *attrs = json_pack("{s:s}", "id", id);
    if (prev) json_object_set_new(attrs, "prev", json_string(prev));
    if (!text || !*text) {
        json_object_set_new(attrs, "delete", json_string("true"));
        return grp_node("description", attrs, NULL);
    }
    return grp_node("description", attrs, json_pack("[o]", grp_node("body", NULL, json_string(text))));
}

static json_t *query_node(void) { return grp_node("query", json_pack("{s:s}", "request", "interactive"), NULL); }

/* ------------------------------------------------------------ create */
static void create_step(grp_call *c, const json_t *reply)
{
    if (c->stage == 0) {
        const json_t *g = miaw_jnode_child(reply, "group");
        if (!g) return grp_call_fail(c, 500, "WHATSAPP_ERROR", NULL, "WhatsApp answered the create without a group");
        json_t *meta = grp_metadata(g);
        json_t *res = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(c->acc, "jids"), i, v)
            json_array_append_new(res, outcome(g, json_string_value(v), "add", 404));
        json_object_set_new(meta, "results", res);
        json_object_set_new(c->acc, "meta", meta);
        snprintf(c->group, sizeof c->group, "%s", json_string_value(json_object_get(meta, "jid")));
        const char *d = json_string_value(json_object_get(c->body, "description"));
        if (d && *d) {
            c->stage = 1;
            grp_call_iq(c, "set", c->group, description_node(d, NULL));
            return;
        }
    } else {
        json_object_set(json_object_get(c->acc, "meta"), "description", json_object_get(c->body, "description"));
    }
    json_t *meta = json_incref(json_object_get(c->acc, "meta"));
    grp_call_done(c, 201, meta);
}

static int h_create(miaw_req *req, void *ud)
{
    grp_call *c = grp_call_new(ud, req, GRP_CTX_GROUP, create_step);
    if (!c) return MIAW_OK;
    json_t *jids = norm_participants(c);
    if (!jids) return MIAW_OK;
    c->acc = json_pack("{s:o}", "jids", jids);
    json_t *create = grp_node("create", json_pack("{s:O}", "subject", json_object_get(c->body, "subject")),
                              participant_nodes(jids));
    return grp_call_start(c, grp_call_iq(c, "set", GRP_SERVER, create));
}

/* ------------------------------------------------------------ list, metadata */
static void list_step(grp_call *c, const json_t *reply)
{
    json_t *out = json_array();
    const json_t *gs = miaw_jnode_child(reply, "groups"), *k;
    size_t i;
    json_array_foreach(json_object_get(gs, "content"), i, k) {
        const char *t = json_string_value(json_object_get(k, "tag"));
        if (t && !strcmp(t, "group")) json_array_append_new(out, grp_metadata(k));
    }
    grp_call_done(c, 200, json_pack("{s:o}", "groups", out));
}

static int h_list(miaw_req *req, void *ud)
{
    grp_call *c = grp_call_new(ud, req, GRP_CTX_GROUP, list_step);
    if (!c) return MIAW_OK;
    json_t *p = grp_node("participating", NULL,
                         json_pack("[o,o]", grp_node("participants", NULL, NULL), grp_node("description", NULL, NULL)));
    return grp_call_start(c, grp_call_iq(c, "get", GRP_SERVER, p));
}

static void meta_step(grp_call *c, const json_t *reply)
{
    const json_t *g = miaw_jnode_child(reply, "group");
    if (!g) return grp_call_fail(c, 500, "WHATSAPP_ERROR", NULL, "WhatsApp answered without the group");
    grp_call_done(c, 200, grp_metadata(g));
}

static int h_get(miaw_req *req, void *ud)
{
    char group[96];
    if (grp_path(ud, req, group, sizeof group)) return MIAW_OK;
    grp_call *c = grp_call_new(ud, req, GRP_CTX_GROUP, meta_step);
    if (!c) return MIAW_OK;
    return grp_call_start(c, grp_call_iq(c, "get", group, query_node()));
}

/* ------------------------------------------------------------ participants, admins */
static void members_step(grp_call *c, const json_t *reply)
{
    const char *action = c->scratch;
    const json_t *res = miaw_jnode_child(reply, action);
    json_t *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(c->acc, "jids"), i, v)
        json_array_append_new(out, outcome(res ? res : reply, json_string_value(v), action, res ? 404 : 200));
    grp_call_done(c, 200, json_pack("{s:s,s:s,s:o}", "groupJid", c->group, "action", action, "participants", out));
}

static int members(miaw_req *req, void *ud, const char *action)
{
    char group[96];
    if (grp_path(ud, req, group, sizeof group)) return MIAW_OK;
    grp_call *c = grp_call_new(ud, req, GRP_CTX_GROUP, members_step);
    if (!c) return MIAW_OK;
    snprintf(c->group, sizeof c->group, "%s", group);
    snprintf(c->scratch, sizeof c->scratch, "%s", action);
    json_t *jids = norm_participants(c);
    if (!jids) return MIAW_OK;
    c->acc = json_pack("{s:o}", "jids", jids);
    return grp_call_start(c, grp_call_iq(c, "set", group, grp_node(action, NULL, participant_nodes(jids))));
}

static int h_add(miaw_req *r, void *ud) { return members(r, ud, "add"); }
static int h_remove(miaw_req *r, void *ud) { return members(r, ud, "remove"); }
static int h_promote(miaw_req *r, void *ud) { return members(r, ud, "promote"); }
static int h_demote(miaw_req *r, void *ud) { return members(r, ud, "demote"); }

/* ------------------------------------------------------------ PATCH */
/* the changes of the body as [{field, node}], in a fixed order */
static json_t *patch_changes(const json_t *body, const char *prev_desc)
{
    json_t *ch = json_array(), *v;
#define ADD(F, N) json_array_append_new(ch, json_pack("{s:s,s:o}", "field", F, "node", N))
    if ((v = json_object_get(body, "subject"))) ADD("subject", grp_node("subject", NULL, json_incref(v)));
    if ((v = json_object_get(body, "description"))) ADD("description", description_node(json_string_value(v), prev_desc));
    if ((v = json_object_get(body, "announce")))
        ADD("announce", grp_node(json_is_true(v) ? "announcement" : "not_announcement", NULL, NULL));
    if ((v = json_object_get(body, "locked"))) ADD("locked", grp_node(json_is_true(v) ? "locked" : "unlocked", NULL, NULL));
    if ((v = json_object_get(body, "ephemeral"))) {
        char secs[24];
        snprintf(secs, sizeof secs, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        ADD("ephemeral", json_integer_value(v) ? grp_node("ephemeral", json_pack("{s:s}", "expiration", secs), NULL)
                                               : grp_node("not_ephemeral", NULL, NULL));
    }
    if ((v = json_object_get(body, "memberAddMode"))) ADD("memberAddMode", grp_node("member_add_mode", NULL, json_incref(v)));
    if ((v = json_object_get(body, "approvalMode")))
        ADD("approvalMode", grp_node("membership_approval_mode", NULL,
                                     json_pack("[o]", grp_node("group_join", json_pack("{s:s}", "state",
                                                                                       json_is_true(v) ? "on" : "off"),
                                                               NULL))));
#undef ADD
    return ch;
}

static int patch_error(grp_call *c, int status, const json_t *reply, const char *detail)
{
    (void)reply;
    if (c->stage == 0) return 0; /* the first query: the plain mapping */
    const char *field = json_string_value(json_object_get(json_array_get(c->acc, (size_t)c->stage - 1), "field"));
    if (!field) return 0; /* the final query */
    grp_err e;
    grp_map_error(status, detail, c->ctx, &e);
    grp_call_fail(c, e.http, e.code, e.http == 400 ? field : NULL, "%s: %s%s", field, e.message,
                  c->stage > 1 ? " (the fields before it were applied)" : "");
    return 1;
}

static void patch_step(grp_call *c, const json_t *reply)
{
    if (c->stage == 0) { /* the metadata: the description's current id */
        const json_t *g = miaw_jnode_child(reply, "group");
        c->acc = patch_changes(c->body, g ? miaw_jnode_attr(miaw_jnode_child(g, "description"), "id") : NULL);
    } else if ((size_t)c->stage > json_array_size(c->acc)) {
        return meta_step(c, reply);
    }
    json_t *next = json_array_get(c->acc, (size_t)c->stage++);
    if (next) grp_call_iq(c, "set", c->group, json_incref(json_object_get(next, "node")));
    else grp_call_iq(c, "get", c->group, query_node());
}

static int h_patch(miaw_req *req, void *ud)
{
    miaw_plugin_base *b = ud;
    char group[96];
    if (grp_path(b, req, group, sizeof group)) return MIAW_OK;
    if (!json_object_size(b->api->req_body(req)))
        return b->api->reply_status(req, MIAW_E_INVAL, "body", "nothing to change: give at least one field"), MIAW_OK;
    grp_call *c = grp_call_new(b, req, GRP_CTX_GROUP, patch_step);
    if (!c) return MIAW_OK;
    snprintf(c->group, sizeof c->group, "%s", group);
    c->on_error = patch_error;
    return grp_call_start(c, grp_call_iq(c, "get", group, query_node()));
}

/* ------------------------------------------------------------ leave */
static void leave_step(grp_call *c, const json_t *reply)
{
    (void)reply;
    if (c->stage++ == 0) {
        json_t *leave = grp_node("leave", NULL, json_pack("[o]", grp_node("group", json_pack("{s:{s:s}}", "id", "jid", c->group), NULL)));
        grp_call_iq(c, "set", GRP_SERVER, leave);
        return;
    }
    grp_call_done(c, 200, json_pack("{s:s,s:b}", "groupJid", c->group, "left", 1));
}

static int h_leave(miaw_req *req, void *ud)
{
    char group[96];
    if (grp_path(ud, req, group, sizeof group)) return MIAW_OK;
    grp_call *c = grp_call_new(ud, req, GRP_CTX_GROUP, leave_step);
    if (!c) return MIAW_OK;
    snprintf(c->group, sizeof c->group, "%s", group);
    /* the membership first: leaving a group this account is not in is a 404 */
    return grp_call_start(c, grp_call_iq(c, "get", group, query_node()));
}

/* ------------------------------------------------------------ registration */
#define RESULTS_EXAMPLE                                                                                               \
    "{\"groupJid\":\"120363012345678901@g.us\",\"action\":\"add\",\"participants\":[{\"jid\":"                        \
    "\"15550001111@s.whatsapp.net\",\"phone\":\"15550001111\",\"status\":\"ok\",\"code\":200}]}"

int grp_routes_register(miaw_plugin_base *b, char *err, size_t errlen)
{
    const miaw_route R[] = {
        {MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/groups", .handler = h_create,
         .body = CREATE_BODY, .summary = "Create a group",
         .description = "This account becomes the superadmin. `results` gives each requested participant's outcome: "
                        "ok, already_member, invite_sent (privacy settings: WhatsApp sent an invite instead, "
                        "`inviteCode`), privacy_refused, not_on_whatsapp.",
         .response_example = META_EXAMPLE},
        {MIAW_ROUTE_INIT, .method = "GET", .path = "/instances/{instanceId}/groups", .handler = h_list,
         .summary = "List the groups this account is in", .response_example = "{\"groups\":[" META_EXAMPLE "]}"},
        {MIAW_ROUTE_INIT, .method = "GET", .path = "/instances/{instanceId}/groups/{groupJid}", .handler = h_get,
         .summary = "Get group info", .description = "404 when the group does not exist or this account is not a member.",
         .response_example = META_EXAMPLE},
        {MIAW_ROUTE_INIT, .method = "PATCH", .path = "/instances/{instanceId}/groups/{groupJid}", .handler = h_patch,
         .body = PATCH_BODY, .summary = "Update the subject, description or settings",
         .description = "One WhatsApp operation per field, in the order of the schema; answers the new metadata. "
                        "403 NOT_GROUP_ADMIN when only admins may make a change.",
         .response_example = META_EXAMPLE},
        {MIAW_ROUTE_INIT, .method = "DELETE", .path = "/instances/{instanceId}/groups/{groupJid}", .handler = h_leave,
         .summary = "Leave the group", .response_example = "{\"groupJid\":\"120363012345678901@g.us\",\"left\":true}"},
        {MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/groups/{groupJid}/participants",
         .handler = h_add, .body = PARTS_BODY, .summary = "Add participants", .response_example = RESULTS_EXAMPLE},
        {MIAW_ROUTE_INIT, .method = "DELETE", .path = "/instances/{instanceId}/groups/{groupJid}/participants",
         .handler = h_remove, .body = PARTS_BODY, .summary = "Remove participants", .response_example = RESULTS_EXAMPLE},
        {MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/groups/{groupJid}/admins",
         .handler = h_promote, .body = PARTS_BODY, .summary = "Promote participants to admin",
         .response_example = RESULTS_EXAMPLE},
        {MIAW_ROUTE_INIT, .method = "DELETE", .path = "/instances/{instanceId}/groups/{groupJid}/admins",
         .handler = h_demote, .body = PARTS_BODY, .summary = "Demote admins", .response_example = RESULTS_EXAMPLE},
    };
    for (size_t i = 0; i < sizeof R / sizeof R[0]; i++) {
        miaw_route r = R[i];
        r.flags = MIAW_ROUTE_INSTANCE;
        r.udata = b;
        r.tag = "Groups";
        int rc = b->api->route_add(b->self, &r, err, errlen);
        if (rc != MIAW_OK) return rc;
    }
    return MIAW_OK;
}
