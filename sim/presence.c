/* sim/presence.c - presence and chat state routing between the devices of the simulated
 * network, and the simulated phones' presence (see presence.h): availability per account
 * (a live connection that sent <presence type="available">, or its phone put online through
 * the control API), last seen, subscriptions of connections (conn->subs) and of phones
 * (account->presence "subs"), chat states to the peer's devices (groups: group_route.c)
 * and to its phone, which records what it receives; the last-seen privacy setting ("none":
 * last="deny"). Owns the phones' presence objects. */
#include "presence.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "control.h"
#include "directory.h"
#include "group.h"
#include "miaw/plugin.h"
#include "queue.h"
#include "route.h"
#include "state.h"

#define SAW_MAX 200  /* records a phone keeps */
#define SUBS_MAX 64  /* accounts a phone subscribes to */

/* ------------------------------------------------------------------ the phone's state */

/* a's presence object {available, subs: [phone], received: [...]}, made on first use */
static json_t *pr_pstate(miaw_sim_account *a)
{
    if (!a->presence) a->presence = json_pack("{s:b,s:[],s:[]}", "available", 0, "subs", "received");
    return a->presence;
}

void miaw_sim_presence_free(miaw_sim_account *a)
{
    json_decref(a->presence);
    a->presence = NULL;
}

void miaw_sim_presence_phone_saw(miaw_sim_account *a, const miaw_node *n)
{
    json_t *st = pr_pstate(a);
    if (!st) return;
    json_t *e = json_pack("{s:s,s:I}", "type", n->tag, "t", (json_int_t)miaw_sim_now());
    const char *from = miaw_node_attr(n, "from"), *part = miaw_node_attr(n, "participant");
    json_object_set_new(e, "from", json_string(from ? from : ""));
    if (part) json_object_set_new(e, "participant", json_string(part));
    if (!strcmp(n->tag, "presence")) {
        const char *type = miaw_node_attr(n, "type"), *last = miaw_node_attr(n, "last");
        json_object_set_new(e, "status", json_string(type ? type : "available"));
        if (last) json_object_set_new(e, "last", json_string(last));
    } else {
        const miaw_node *s = miaw_node_child_at(n, 0);
        const char *media = s ? miaw_node_attr(s, "media") : NULL;
        json_object_set_new(e, "state", json_string(s ? s->tag : ""));
        if (media) json_object_set_new(e, "media", json_string(media));
    }
    json_t *rec = json_object_get(st, "received");
    json_array_append_new(rec, e);
    while (json_array_size(rec) > SAW_MAX) json_array_remove(rec, 0);
}

static int pr_phone_subscribed(miaw_sim_account *p, const miaw_sim_account *to)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(p->presence, "subs"), i, v)
        if (!strcmp(json_string_value(v), to->phone)) return 1;
    return 0;
}

/* ------------------------------------------------------------------ availability */

static int pr_account_available(miaw_sim *sim, miaw_sim_account *a)
{
    if (json_is_true(json_object_get(a->presence, "available"))) return 1;
    for (miaw_sim_conn *c = sim->conns; c; c = c->next)
        if (c->account == a && c->available && c->state == MIAW_SIM_CONN_READY) return 1;
    return 0;
}

static miaw_node *pr_presence_of(miaw_sim *sim, miaw_sim_account *a)
{
    char jid[96];
    miaw_sim_jid_attr(a, 0, 0, jid, sizeof jid);
    miaw_node *p = miaw_node_newv("presence", "from", jid, NULL);
    if (p && !pr_account_available(sim, a)) {
        miaw_node_set_attr(p, "type", "unavailable");
        /* "deny": never seen, or hidden by the account's privacy setting */
        if (a->last_seen && !json_is_true(json_object_get(a->presence, "hideLastSeen")))
            miaw_node_set_attrf(p, "last", "%" PRIu64, a->last_seen);
        else miaw_node_set_attr(p, "last", "deny");
    }
    return p;
}

/* tell every connection and phone subscribed to a about its presence */
static void pr_presence_changed(miaw_sim *sim, miaw_sim_account *a)
{
    miaw_node *p = pr_presence_of(sim, a);
    for (miaw_sim_conn *c = sim->conns; p && c; c = c->next) {
        if (c->state != MIAW_SIM_CONN_READY || !c->account) continue;
        for (size_t i = 0; i < c->nsubs; i++)
            if (c->subs[i] == a) miaw_sim_deliver(sim, c->account, c->device_id, p, "ephemeral");
    }
    for (miaw_sim_account *b = sim->accounts; p && b; b = b->next)
        if (b->presence && pr_phone_subscribed(b, a)) miaw_sim_presence_phone_saw(b, p);
    miaw_node_free(p);
}

/* a's availability was `was` before a change: last seen and the subscribers updated */
static void pr_set_available(miaw_sim *sim, miaw_sim_account *a, int was)
{
    int now = pr_account_available(sim, a);
    if (was && !now) a->last_seen = miaw_sim_now();
    if (was != now) pr_presence_changed(sim, a);
}

/* ------------------------------------------------------------------ chat state */

/* chat state n (<chatstate to><state/></chatstate>) from device dev of a */
static void pr_route_chatstate(miaw_sim *sim, miaw_sim_account *a, uint32_t dev, const miaw_node *n)
{
    miaw_sim_addr to;
    const miaw_node *state = miaw_node_child_at(n, 0);
    const char *to_s = miaw_node_attr(n, "to");
    if (to_s && strstr(to_s, "@g.us")) {
        miaw_sim_group_route_chatstate(sim, a, dev, n);
        return;
    }
    if (!state || miaw_sim_resolve_str(sim, to_s, &to) == MIAW_E_INVAL || !to.account) return;
    char jid[96];
    miaw_sim_jid_attr(a, 0, to.lid, jid, sizeof jid);
    miaw_node *cs = miaw_node_newv("chatstate", "from", jid, NULL);
    if (cs && miaw_node_add_copy(cs, state)) {
        miaw_sim_account *b = to.account;
        for (size_t i = 0; i < b->ndevices; i++)
            if (!(b == a && b->devices[i].id == dev)) miaw_sim_deliver(sim, b, b->devices[i].id, cs, "ephemeral");
        if (!(b == a && dev == 0)) miaw_sim_presence_phone_saw(b, cs);
    }
    miaw_node_free(cs);
}

/* ------------------------------------------------------------------ from connections */

static void pr_subscribe(miaw_sim_conn *c, const miaw_node *n)
{
    miaw_sim_addr to;
    if (miaw_sim_resolve_str(c->sim, miaw_node_attr(n, "to"), &to) == MIAW_E_INVAL || !to.account) return;
    size_t i = 0;
    while (i < c->nsubs && c->subs[i] != to.account) i++;
    if (i == c->nsubs && c->nsubs < sizeof c->subs / sizeof c->subs[0]) c->subs[c->nsubs++] = to.account;
    miaw_node *p = pr_presence_of(c->sim, to.account);
    if (p) miaw_sim_conn_send(c, p);
    miaw_node_free(p);
}

int miaw_sim_presence_on_node(miaw_sim_conn *c, const miaw_node *n)
{
    if (!strcmp(n->tag, "chatstate")) {
        if (c->account) pr_route_chatstate(c->sim, c->account, c->device_id, n);
        return 1;
    }
    if (strcmp(n->tag, "presence")) return 0;
    const char *type = miaw_node_attr(n, "type"), *name = miaw_node_attr(n, "name");
    if (name) snprintf(c->push_name, sizeof c->push_name, "%s", name);
    if (!type || !c->account) return 1;
    if (!strcmp(type, "subscribe")) {
        pr_subscribe(c, n);
    } else if (!strcmp(type, "available") || !strcmp(type, "unavailable")) {
        int was = pr_account_available(c->sim, c->account);
        c->available = !strcmp(type, "available");
        pr_set_available(c->sim, c->account, was);
    }
    return 1;
}

void miaw_sim_presence_on_close(miaw_sim_conn *c)
{
    miaw_sim_account *a = c->account;
    if (!a || !c->available) return;
    int was = pr_account_available(c->sim, a);
    c->available = 0;
    pr_set_available(c->sim, a, was);
}

/* ------------------------------------------------------------------ control API */

static void pr_refuse(h2o_req_t *req, int status, const char *code, const char *field, const char *msg)
{
    miaw_sim_http_json(req, status, miaw_sim_error_json(code, field, msg));
}

/* an account named by a phone number or any JID of it; NULL when none */
static miaw_sim_account *pr_peer_of(miaw_sim *sim, const char *s)
{
    miaw_sim_addr ad;
    if (!s || !*s || strlen(s) > 96) return NULL;
    miaw_sim_account *p = miaw_sim_phone_valid(s) ? miaw_sim_account_find(sim, s) : NULL;
    if (!p && miaw_sim_resolve_str(sim, s, &ad) != MIAW_E_INVAL) p = ad.account;
    return p;
}

static json_t *pr_state_json(miaw_sim *sim, miaw_sim_account *a)
{
    json_t *st = pr_pstate(a), *devs = json_array();
    for (miaw_sim_conn *c = sim->conns; c; c = c->next)
        if (c->account == a && c->state == MIAW_SIM_CONN_READY)
            json_array_append_new(devs, json_pack("{s:I,s:b,s:s}", "id", (json_int_t)c->device_id, "available",
                                                  c->available, "pushName", c->push_name));
    json_t *o = json_pack("{s:b,s:O,s:o,s:O,s:O,s:s}", "available", pr_account_available(sim, a), "phoneAvailable",
                          json_object_get(st, "available"), "devices", devs, "subscriptions", json_object_get(st, "subs"),
                          "received", json_object_get(st, "received"), "lastSeenPrivacy",
                          json_is_true(json_object_get(st, "hideLastSeen")) ? "none" : "all");
    json_object_set_new(o, "lastSeen", a->last_seen ? json_integer((json_int_t)a->last_seen) : json_null());
    return o;
}

static void pr_post(miaw_sim *sim, h2o_req_t *req, miaw_sim_account *a)
{
    json_error_t je;
    json_t *b = req->entity.len && req->entity.len <= 4096
                    ? json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES, &je)
                    : NULL;
    const char *pres = json_string_value(json_object_get(b, "presence"));
    const char *cs = json_string_value(json_object_get(b, "chatstate"));
    const char *sub = json_string_value(json_object_get(b, "subscribe"));
    if (!json_is_object(b)) {
        pr_refuse(req, 400, "INVALID_REQUEST", "body", "a JSON object body (at most 4 KiB) is required");
    } else if (json_object_get(b, "presence")) {
        if (!pres || (strcmp(pres, "available") && strcmp(pres, "unavailable"))) {
            pr_refuse(req, 400, "INVALID_REQUEST", "presence", "presence must be \"available\" or \"unavailable\"");
        } else {
            int was = pr_account_available(sim, a);
            json_object_set_new(pr_pstate(a), "available", json_boolean(!strcmp(pres, "available")));
            pr_set_available(sim, a, was);
            miaw_sim_http_json(req, 200, pr_state_json(sim, a));
        }
    } else if (json_object_get(b, "chatstate")) {
        const char *to = json_string_value(json_object_get(b, "to"));
        miaw_sim_group *g = to && strstr(to, "@g.us") ? miaw_sim_group_find(sim, to) : NULL;
        miaw_sim_account *peer = g ? NULL : pr_peer_of(sim, to);
        if (!cs || (strcmp(cs, "composing") && strcmp(cs, "recording") && strcmp(cs, "paused"))) {
            pr_refuse(req, 400, "INVALID_REQUEST", "chatstate", "chatstate must be composing, recording or paused");
        } else if (!g && !peer) {
            pr_refuse(req, 404, "NOT_FOUND", "to", "to must name an account (phone number or JID) or a group");
        } else if (g && !miaw_sim_group_member(g, a)) {
            pr_refuse(req, 409, "CONFLICT", "to", "the phone is not a member of the group");
        } else {
            char jid[96];
            if (g) miaw_sim_group_jid(g, jid, sizeof jid);
            else miaw_sim_device_jid(peer, 0, 0, jid, sizeof jid);
            miaw_node *n = miaw_node_newv("chatstate", NULL);
            miaw_node *s = n ? miaw_node_add(n, strcmp(cs, "paused") ? "composing" : "paused") : NULL;
            if (s && !strcmp(cs, "recording")) miaw_node_set_attr(s, "media", "audio");
            if (!s || miaw_node_set_jid_str(n, "to", jid)) {
                pr_refuse(req, 500, "INTERNAL_ERROR", NULL, "cannot build the chat state");
            } else {
                pr_route_chatstate(sim, a, 0, n);
                miaw_sim_http_json(req, 200, json_pack("{s:s,s:s}", "to", jid, "chatstate", cs));
            }
            miaw_node_free(n);
        }
    } else if (json_object_get(b, "lastSeen")) { /* privacy: who sees the last seen time */
        const char *ls = json_string_value(json_object_get(b, "lastSeen"));
        if (!ls || (strcmp(ls, "all") && strcmp(ls, "none"))) {
            pr_refuse(req, 400, "INVALID_REQUEST", "lastSeen", "lastSeen must be \"all\" or \"none\"");
        } else {
            json_object_set_new(pr_pstate(a), "hideLastSeen", json_boolean(!strcmp(ls, "none")));
            miaw_sim_http_json(req, 200, pr_state_json(sim, a));
        }
    } else if (json_object_get(b, "subscribe")) {
        miaw_sim_account *peer = pr_peer_of(sim, sub);
        json_t *subs = json_object_get(pr_pstate(a), "subs");
        if (!peer) {
            pr_refuse(req, 404, "NOT_FOUND", "subscribe", "subscribe must name an account (phone number or JID)");
        } else {
            if (!pr_phone_subscribed(a, peer) && json_array_size(subs) < SUBS_MAX)
                json_array_append_new(subs, json_string(peer->phone));
            miaw_node *p = pr_presence_of(sim, peer);
            if (p) miaw_sim_presence_phone_saw(a, p);
            miaw_node_free(p);
            miaw_sim_http_json(req, 200, pr_state_json(sim, a));
        }
    } else {
        pr_refuse(req, 400, "INVALID_REQUEST", "body", "give one of presence, chatstate (with to), subscribe or lastSeen");
    }
    json_decref(b);
}

void miaw_sim_presence_control(miaw_sim *sim, h2o_req_t *req, const char *phone, int is_post)
{
    miaw_sim_account *a = miaw_sim_account_find(sim, phone);
    if (!a) pr_refuse(req, 404, "NOT_FOUND", "phone", "no account with this phone");
    else if (is_post) pr_post(sim, req, a);
    else miaw_sim_http_json(req, 200, pr_state_json(sim, a));
}
