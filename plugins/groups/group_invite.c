/* plugins/groups/group_invite.c - invite links and joining (spec 4.4.4): the link of a
 * group and its revocation, what a code points to (without joining), joining by code
 * (group_join emitted), and the join requests of a group in approval mode (list,
 * approve, reject). Each request is a grp_call (group_call.c); nothing is kept. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groups.h"

#define LINK_PREFIX "https://chat.whatsapp.com/"

static const miaw_field JID_ITEM = {.type = MIAW_T_STRING, .flags = MIAW_F_NONEMPTY | MIAW_F_HAS_MAX, .max = 128};
static const miaw_field PARTS_BODY[] = {
    {.name = "participants", .type = MIAW_T_ARRAY, .flags = MIAW_F_REQUIRED | MIAW_F_HAS_MIN | MIAW_F_HAS_MAX, .min = 1,
     .max = GRP_MAX_PARTICIPANTS, .items = &JID_ITEM, .example = "[\"15550001111\"]"},
    {0},
};

static json_t *link_json(const char *group, const char *code)
{
    char link[160];
    snprintf(link, sizeof link, LINK_PREFIX "%s", code);
    return json_pack("{s:s,s:s,s:s}", "groupJid", group, "inviteCode", code, "inviteLink", link);
}

/* ------------------------------------------------------------ the link of a group */
static void link_step(grp_call *c, const json_t *reply)
{
    const char *code = miaw_jnode_attr(miaw_jnode_child(reply, "invite"), "code");
    if (!code) return grp_call_fail(c, 500, "WHATSAPP_ERROR", NULL, "WhatsApp answered without an invite code");
    grp_call_done(c, 200, link_json(c->group, code));
}

static int link_route(miaw_req *req, void *ud, const char *type)
{
    char group[96];
    if (grp_path(ud, req, group, sizeof group)) return MIAW_OK;
    grp_call *c = grp_call_new(ud, req, GRP_CTX_GROUP, link_step);
    if (!c) return MIAW_OK;
    snprintf(c->group, sizeof c->group, "%s", group);
    return grp_call_start(c, grp_call_iq(c, type, group, grp_node("invite", NULL, NULL)));
}

static int h_invite(miaw_req *r, void *ud) { return link_route(r, ud, "get"); }
static int h_revoke(miaw_req *r, void *ud) { return link_route(r, ud, "set"); }

/* ------------------------------------------------------------ codes */
/* the code of the path into c->scratch; 400 answered when it is not one */
static grp_call *code_call(miaw_plugin_base *b, miaw_req *req, grp_step_fn step)
{
    char code[96];
    if (grp_parse_code(b->api->req_param(req, "inviteCode"), code, sizeof code)) {
        b->api->reply_status(req, MIAW_E_INVAL, "inviteCode", "not an invite code (the letters and digits after https://chat.whatsapp.com/)");
        return NULL;
    }
    grp_call *c = grp_call_new(b, req, GRP_CTX_INVITE, step);
    if (c) snprintf(c->scratch, sizeof c->scratch, "%s", code);
    return c;
}

static void info_step(grp_call *c, const json_t *reply)
{
    const json_t *g = miaw_jnode_child(reply, "group");
    if (!g) return grp_call_fail(c, 500, "WHATSAPP_ERROR", NULL, "WhatsApp answered without the group");
    json_t *meta = grp_metadata(g);
    json_object_set_new(meta, "inviteCode", json_string(c->scratch));
    grp_call_done(c, 200, meta);
}

static int h_info(miaw_req *req, void *ud)
{
    grp_call *c = code_call(ud, req, info_step);
    if (!c) return MIAW_OK;
    json_t *inv = grp_node("invite", json_pack("{s:s}", "code", c->scratch), NULL);
    return grp_call_start(c, grp_call_iq(c, "get", GRP_SERVER, inv));
}

static void join_step(grp_call *c, const json_t *reply)
{
    if (c->stage++ == 0) { /* what the code points to: already in it is a 409, not a join */
        const json_t *info = miaw_jnode_child(reply, "group");
        if (info && grp_events_member(c->b, c->inst, info)) {
            json_t *m = grp_metadata(info);
            grp_call_fail(c, 409, "CONFLICT", NULL, "this account is already a member of %s",
                          json_string_value(json_object_get(m, "jid")));
            json_decref(m);
            return;
        }
        grp_call_iq(c, "set", GRP_SERVER, grp_node("invite", json_pack("{s:s}", "code", c->scratch), NULL));
        return;
    }
    const json_t *g = miaw_jnode_child(reply, "group"), *pend = miaw_jnode_child(reply, "membership_approval_request");
    const char *jid = miaw_jnode_attr(g ? g : pend, "jid");
    if (!jid && g && miaw_jnode_attr(g, "id")) {
        snprintf(c->group, sizeof c->group, "%s%s", miaw_jnode_attr(g, "id"), strchr(miaw_jnode_attr(g, "id"), '@') ? "" : GRP_SERVER);
        jid = c->group;
    }
    if (!jid) return grp_call_fail(c, 500, "WHATSAPP_ERROR", NULL, "WhatsApp answered the join without the group");
    if (!pend) grp_events_joined(c->b, c->inst, jid, "invite");
    grp_call_done(c, 200, json_pack("{s:s,s:b}", "groupJid", jid, "pending", pend != NULL));
}

static int h_join(miaw_req *req, void *ud)
{
    grp_call *c = code_call(ud, req, join_step);
    if (!c) return MIAW_OK;
    json_t *inv = grp_node("invite", json_pack("{s:s}", "code", c->scratch), NULL);
    return grp_call_start(c, grp_call_iq(c, "get", GRP_SERVER, inv));
}

/* ------------------------------------------------------------ join requests */
static void requests_step(grp_call *c, const json_t *reply)
{
    json_t *out = json_array();
    const json_t *k;
    size_t i;
    json_array_foreach(json_object_get(miaw_jnode_child(reply, "membership_approval_requests"), "content"), i, k) {
        json_t *p = grp_participant(k);
        json_object_del(p, "admin");
        const char *t = miaw_jnode_attr(k, "t") ? miaw_jnode_attr(k, "t") : miaw_jnode_attr(k, "request_time"), *how = miaw_jnode_attr(k, "request_method");
        json_object_set_new(p, "requestTime", t ? json_integer(strtoll(t, NULL, 10)) : json_null());
        json_object_set_new(p, "method", how ? json_string(how) : json_null());
        json_array_append_new(out, p);
    }
    grp_call_done(c, 200, json_pack("{s:s,s:o}", "groupJid", c->group, "requests", out));
}

static int h_requests(miaw_req *req, void *ud)
{
    char group[96];
    if (grp_path(ud, req, group, sizeof group)) return MIAW_OK;
    grp_call *c = grp_call_new(ud, req, GRP_CTX_GROUP, requests_step);
    if (!c) return MIAW_OK;
    snprintf(c->group, sizeof c->group, "%s", group);
    return grp_call_start(c, grp_call_iq(c, "get", group, grp_node("membership_approval_requests", NULL, NULL)));
}

static void decide_step(grp_call *c, const json_t *reply)
{
    const json_t *act = miaw_jnode_child(miaw_jnode_child(reply, "membership_requests_action"), c->scratch);
    json_t *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(c->acc, "jids"), i, v) {
        const char *jid = json_string_value(v);
        int code = act ? 404 : 200;
        const json_t *k;
        size_t j;
        char want[96], got[96];
        grp_user(jid, want, sizeof want);
        json_array_foreach(json_object_get(act, "content"), j, k) {
            grp_user(miaw_jnode_attr(k, "jid"), got, sizeof got);
            char pn[96] = "";
            grp_user(miaw_jnode_attr(k, "phone_number"), pn, sizeof pn);
            if (!strcmp(want, got) || !strcmp(want, pn)) {
                code = miaw_jnode_attr(k, "error") ? atoi(miaw_jnode_attr(k, "error")) : 200;
                break;
            }
        }
        json_array_append_new(out, json_pack("{s:s,s:s,s:i}", "jid", jid, "status",
                                             code == 200 ? "ok" : code == 404 ? "no_request" : "error", "code", code));
    }
    grp_call_done(c, 200, json_pack("{s:s,s:s,s:o}", "groupJid", c->group, "action", c->scratch, "participants", out));
}

static int decide(miaw_req *req, void *ud, const char *action)
{
    miaw_plugin_base *b = ud;
    char group[96];
    if (grp_path(b, req, group, sizeof group)) return MIAW_OK;
    grp_call *c = grp_call_new(b, req, GRP_CTX_GROUP, decide_step);
    if (!c) return MIAW_OK;
    snprintf(c->group, sizeof c->group, "%s", group);
    snprintf(c->scratch, sizeof c->scratch, "%s", action);
    json_t *jids = json_array(), *parts = json_array(), *v;
    size_t i;
    json_array_foreach(json_object_get(c->body, "participants"), i, v) {
        char jid[160], field[48];
        if (b->api->jid_normalize(json_string_value(v), jid, sizeof jid) != MIAW_OK || strstr(jid, GRP_SERVER)) {
            json_decref(jids);
            json_decref(parts);
            snprintf(field, sizeof field, "participants[%zu]", i);
            grp_call_fail(c, 400, "INVALID_REQUEST", field, "not a phone number or user JID");
            return MIAW_OK;
        }
        json_array_append_new(jids, json_string(jid));
        json_array_append_new(parts, grp_node("participant", json_pack("{s:{s:s}}", "jid", "jid", jid), NULL));
    }
    c->acc = json_pack("{s:o}", "jids", jids);
    json_t *node = grp_node("membership_requests_action", NULL, json_pack("[o]", grp_node(action, NULL, parts)));
    return grp_call_start(c, grp_call_iq(c, "set", group, node));
}

static int h_approve(miaw_req *r, void *ud) { return decide(r, ud, "approve"); }
static int h_reject(miaw_req *r, void *ud) { return decide(r, ud, "reject"); }

/* ------------------------------------------------------------ registration */
#define LINK_EXAMPLE                                                                                                   \
    "{\"groupJid\":\"120363012345678901@g.us\",\"inviteCode\":\"AbCdEfGhIjKlMnOpQrStUv\",\"inviteLink\":"           \
    "\"https://chat.whatsapp.com/AbCdEfGhIjKlMnOpQrStUv\"}"

int grp_invite_register(miaw_plugin_base *b, char *err, size_t errlen)
{
    const miaw_route R[] = {
        {MIAW_ROUTE_INIT, .method = "GET", .path = "/instances/{instanceId}/groups/{groupJid}/invite", .handler = h_invite,
         .summary = "Get the invite link", .description = "Admins only (403 NOT_GROUP_ADMIN).",
         .response_example = LINK_EXAMPLE},
        {MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/groups/{groupJid}/revoke-invite",
         .handler = h_revoke, .summary = "Revoke the invite link",
         .description = "The old code stops working; answers the new one. Admins only.", .response_example = LINK_EXAMPLE},
        {MIAW_ROUTE_INIT, .method = "GET", .path = "/instances/{instanceId}/groups/invite/{inviteCode}", .handler = h_info,
         .summary = "What an invite code points to, without joining",
         .description = "The code of a https://chat.whatsapp.com/<code> link. 400 INVALID_REQUEST (field "
                        "inviteCode) for an invalid or revoked code."},
        {MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/groups/join/{inviteCode}", .handler = h_join,
         .summary = "Join a group through an invite code",
         .description = "`pending` is true when the group approves new members first (a join request was made).",
         .response_example = "{\"groupJid\":\"120363012345678901@g.us\",\"pending\":false}"},
        {MIAW_ROUTE_INIT, .method = "GET", .path = "/instances/{instanceId}/groups/{groupJid}/requests",
         .handler = h_requests, .summary = "List the join requests (approval mode)",
         .response_example = "{\"groupJid\":\"120363012345678901@g.us\",\"requests\":[{\"jid\":"
                             "\"15550001111@s.whatsapp.net\",\"phone\":\"15550001111\",\"lid\":null,"
                             "\"requestTime\":1735118400,\"method\":\"invite_link\"}]}"},
        {MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/groups/{groupJid}/requests/approve",
         .handler = h_approve, .body = PARTS_BODY, .summary = "Approve join requests"},
        {MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/groups/{groupJid}/requests/reject",
         .handler = h_reject, .body = PARTS_BODY, .summary = "Reject join requests"},
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
