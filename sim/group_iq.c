/* sim/group_iq.c - the w:g2 IQ service (protocol facts 9.2): to "@g.us" create,
 * participating, leave, invite info and join; to "<id>@g.us" the metadata query,
 * add/remove/promote/demote, subject, description, settings, invite link get/revoke,
 * v4 invite accept, and join requests in approval mode (a join by link becomes a
 * request; the list; approve / reject). Results carry the <group>
 * metadata node or the per-participant outcome; failures are <error code text>.
 * Owns nothing beyond a call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "directory.h"
#include "group.h"
#include "base/log.h"
#include "miaw/plugin.h"
#include "session.h"
#include "state.h"

#define GRP_IQ_MAX_PARTICIPANTS 512

/* <iq type="result" id from=<the request's to>> */
static miaw_node *gi_result(const miaw_node *iq)
{
    miaw_node *r = miaw_sim_iq_result(iq);
    const miaw_attr *to = miaw_node_attr_get(iq, "to");
    if (r && to && to->jid) miaw_node_set_jid(r, "from", to->jid);
    return r;
}

static int gi_send(miaw_sim_conn *c, miaw_node *r)
{
    int rc = r ? miaw_sim_conn_send(c, r) : MIAW_E_NOMEM;
    miaw_node_free(r);
    return rc;
}

static void gi_fail(miaw_sim_conn *c, const miaw_node *iq, int rc)
{
    switch (rc) {
    case MIAW_E_AUTH: miaw_sim_iq_error(c, iq, 401, "not-authorized"); break;
    case MIAW_E_NOTFOUND: miaw_sim_iq_error(c, iq, 404, "item-not-found"); break;
    case MIAW_E_EXIST: miaw_sim_iq_error(c, iq, 409, "conflict"); break;
    case MIAW_E_LIMIT: miaw_sim_iq_error(c, iq, 406, "resource-constraint"); break;
    case MIAW_E_INVAL: miaw_sim_iq_error(c, iq, 400, "bad-request"); break;
    default: miaw_sim_iq_error(c, iq, 500, "internal-server-error"); break;
    }
}

/* the accounts named by the <participant jid> children of op (NULL for unknown ones);
 * *n gets the count. Returns a malloc'd array (NULL when there are none). */
static miaw_sim_account **gi_accounts(miaw_sim *sim, const miaw_node *op, size_t *n)
{
    *n = 0;
    uint32_t cnt = miaw_node_count(op);
    if (!cnt) return NULL;
    miaw_sim_account **who = calloc(cnt, sizeof *who);
    for (miaw_node *p = who ? miaw_node_child(op, "participant") : NULL; p && *n < GRP_IQ_MAX_PARTICIPANTS;
         p = miaw_node_next(op, p, "participant")) {
        miaw_sim_addr ad;
        miaw_sim_resolve_str(sim, miaw_node_attr(p, "jid"), &ad);
        who[(*n)++] = ad.account;
    }
    return who;
}

/* ------------------------------------------------------------------ to @g.us */

static void gi_create(miaw_sim_conn *c, const miaw_node *iq, const miaw_node *op)
{
    size_t n;
    miaw_sim_account **who = gi_accounts(c->sim, op, &n);
    miaw_sim_group *g;
    const char *subject = miaw_node_attr(op, "subject");
    int rc = miaw_sim_group_create(c->sim, c->account, c->device_id, subject, who, n, NULL, &g);
    free(who);
    if (rc) {
        gi_fail(c, iq, rc);
        return;
    }
    miaw_node *r = gi_result(iq);
    if (r) miaw_sim_group_node(g, r);
    gi_send(c, r);
}

static void gi_participating(miaw_sim_conn *c, const miaw_node *iq)
{
    miaw_node *r = gi_result(iq);
    miaw_node *groups = r ? miaw_node_add(r, "groups") : NULL;
    for (miaw_sim_group *g = c->sim->groups; groups && g; g = g->next)
        if (miaw_sim_group_member(g, c->account)) miaw_sim_group_node(g, groups);
    gi_send(c, r);
}

static void gi_leave(miaw_sim_conn *c, const miaw_node *iq, const miaw_node *op)
{
    for (miaw_node *gn = miaw_node_child(op, "group"); gn; gn = miaw_node_next(op, gn, "group")) {
        miaw_sim_group *g = miaw_sim_group_find(c->sim, miaw_node_attr(gn, "id"));
        if (g) miaw_sim_group_leave(c->sim, g, c->account, c->device_id);
    }
    gi_send(c, gi_result(iq));
}

/* get: the group behind an invite code; set: join through it */
static void gi_invite_code(miaw_sim_conn *c, const miaw_node *iq, const miaw_node *op, int set)
{
    const char *code = miaw_node_attr(op, "code");
    miaw_sim_group *g = miaw_sim_group_by_invite(c->sim, code);
    if (!g) {
        int revoked = 0;
        for (miaw_sim_group *x = c->sim->groups; code && *code && x; x = x->next) revoked |= !strcmp(x->invite_prev, code);
        miaw_sim_iq_error(c, iq, revoked ? 410 : 406, revoked ? "gone" : "not-acceptable");
        return;
    }
    if (set && g->approval && !miaw_sim_group_member(g, c->account)) { /* approval mode: a request */
        int rc = miaw_sim_group_request_join(c->sim, g, c->account, c->device_id);
        if (rc) {
            gi_fail(c, iq, rc);
            return;
        }
        char jid[48];
        miaw_sim_group_jid(g, jid, sizeof jid);
        miaw_node *r = gi_result(iq);
        miaw_node *rq = r ? miaw_node_add(r, "membership_approval_request") : NULL;
        if (rq) miaw_node_set_jid_str(rq, "jid", jid);
        gi_send(c, r);
        return;
    }
    if (set) {
        int rc = miaw_sim_group_join(c->sim, g, c->account, c->device_id);
        if (rc && rc != MIAW_E_EXIST) {
            gi_fail(c, iq, rc);
            return;
        }
    }
    miaw_node *r = gi_result(iq);
    if (r && set) {
        char jid[48];
        miaw_sim_group_jid(g, jid, sizeof jid);
        miaw_node *gn = miaw_node_add(r, "group");
        if (gn) miaw_node_set_jid_str(gn, "jid", jid);
    } else if (r) {
        miaw_sim_group_node(g, r);
    }
    gi_send(c, r);
}

static int gi_server(miaw_sim_conn *c, const miaw_node *iq, const miaw_node *op, int set)
{
    if (set && !strcmp(op->tag, "create")) gi_create(c, iq, op);
    else if (!set && !strcmp(op->tag, "participating")) gi_participating(c, iq);
    else if (set && !strcmp(op->tag, "leave")) gi_leave(c, iq, op);
    else if (!strcmp(op->tag, "invite") && miaw_node_attr(op, "code")) gi_invite_code(c, iq, op, set);
    else return 0;
    return 1;
}

/* ------------------------------------------------------------------ to <id>@g.us */

static void gi_participants(miaw_sim_conn *c, const miaw_node *iq, miaw_sim_group *g, const miaw_node *op)
{
    size_t n;
    miaw_sim_account **who = gi_accounts(c->sim, op, &n);
    int *codes = calloc(n ? n : 1, sizeof *codes);
    int rc = codes ? miaw_sim_group_participants(c->sim, g, c->account, c->device_id, op->tag, who, n, codes)
                   : MIAW_E_NOMEM;
    if (rc) {
        gi_fail(c, iq, rc);
    } else {
        miaw_node *r = gi_result(iq);
        miaw_node *res = r ? miaw_node_add(r, op->tag) : NULL;
        size_t i = 0;
        for (miaw_node *p = miaw_node_child(op, "participant"); res && p && i < n;
             p = miaw_node_next(op, p, "participant"), i++) {
            miaw_node *pn = miaw_node_add(res, "participant");
            const miaw_attr *ja = miaw_node_attr_get(p, "jid");
            if (!pn || !ja) continue;
            if (ja->jid) miaw_node_set_jid(pn, "jid", ja->jid);
            else miaw_node_set_attr(pn, "jid", ja->str);
            if (codes[i] != 200) miaw_node_set_attrf(pn, "error", "%d", codes[i]);
            if (who[i]) {
                char pnj[96];
                miaw_sim_jid_attr(who[i], 0, 0, pnj, sizeof pnj);
                miaw_node_set_jid_str(pn, "phone_number", pnj + 4);
            }
        }
        gi_send(c, r);
    }
    free(codes);
    free(who);
}

static void gi_description(miaw_sim_conn *c, const miaw_node *iq, miaw_sim_group *g, const miaw_node *op)
{
    const char *prev = miaw_node_attr(op, "prev");
    if (prev && g->desc && strcmp(prev, g->desc_id)) {
        miaw_sim_iq_error(c, iq, 409, "conflict");
        return;
    }
    size_t len = 0;
    const uint8_t *body = miaw_node_bytes(miaw_node_child(op, "body"), &len);
    int del = miaw_node_attr_is(op, "delete", "true") || !body || !len;
    int rc = miaw_sim_group_set_desc(c->sim, g, c->account, c->device_id, miaw_node_attr(op, "id"),
                                     del ? NULL : (const char *)body, del ? 0 : len);
    if (rc) gi_fail(c, iq, rc);
    else gi_send(c, gi_result(iq));
}

static void gi_invite(miaw_sim_conn *c, const miaw_node *iq, miaw_sim_group *g, int set)
{
    miaw_sim_member *m = miaw_sim_group_member(g, c->account);
    if (!m || m->rank < MIAW_SIM_ADMIN) {
        miaw_sim_iq_error(c, iq, 401, "not-authorized");
        return;
    }
    if (set) miaw_sim_group_revoke_invite(c->sim, g, c->account, c->device_id);
    miaw_node *r = gi_result(iq);
    if (r) miaw_node_addv(r, "invite", "code", g->invite, NULL);
    gi_send(c, r);
}

/* <membership_requests_action><approve|reject><participant jid/>…: per participant
 * `error` when it failed, echoed in the same shape */
static void gi_requests_action(miaw_sim_conn *c, const miaw_node *iq, miaw_sim_group *g, const miaw_node *op)
{
    const miaw_node *act = miaw_node_child_at(op, 0);
    size_t n;
    miaw_sim_account **who = act ? gi_accounts(c->sim, act, &n) : NULL;
    if (!act) n = 0;
    int *codes = calloc(n ? n : 1, sizeof *codes);
    int rc = !act ? MIAW_E_INVAL
                  : codes ? miaw_sim_group_requests_action(c->sim, g, c->account, c->device_id, act->tag, who, n, codes)
                          : MIAW_E_NOMEM;
    if (rc) {
        gi_fail(c, iq, rc);
    } else {
        miaw_node *r = gi_result(iq);
        miaw_node *res = r ? miaw_node_add(miaw_node_add(r, "membership_requests_action"), act->tag) : NULL;
        size_t i = 0;
        for (miaw_node *p = miaw_node_child(act, "participant"); res && p && i < n; p = miaw_node_next(act, p, "participant"), i++) {
            miaw_node *pn = miaw_node_add(res, "participant");
            const miaw_attr *ja = miaw_node_attr_get(p, "jid");
            if (!pn || !ja) continue;
            if (ja->jid) miaw_node_set_jid(pn, "jid", ja->jid);
            else miaw_node_set_attr(pn, "jid", ja->str);
            if (codes[i] != 200) miaw_node_set_attrf(pn, "error", "%d", codes[i]);
        }
        gi_send(c, r);
    }
    free(codes);
    free(who);
}

static int gi_group(miaw_sim_conn *c, const miaw_node *iq, miaw_sim_group *g, const miaw_node *op, int set)
{
    const char *t = op->tag;
    int rc = 0;
    if (!g) {
        miaw_sim_iq_error(c, iq, 404, "item-not-found");
        return 1;
    }
    int member = miaw_sim_group_member(g, c->account) != NULL;
    if (!member && !(set && !strcmp(t, "accept"))) {
        miaw_sim_iq_error(c, iq, 403, "forbidden");
        return 1;
    }
    if (!set && !strcmp(t, "query")) {
        miaw_node *r = gi_result(iq);
        if (r) miaw_sim_group_node(g, r);
        gi_send(c, r);
    } else if (set && (!strcmp(t, "add") || !strcmp(t, "remove") || !strcmp(t, "promote") || !strcmp(t, "demote"))) {
        gi_participants(c, iq, g, op);
    } else if (set && !strcmp(t, "subject")) {
        size_t len = 0;
        const uint8_t *b = miaw_node_bytes(op, &len);
        if ((rc = miaw_sim_group_set_subject(c->sim, g, c->account, c->device_id, (const char *)b, b ? len : 0)))
            gi_fail(c, iq, rc);
        else gi_send(c, gi_result(iq));
    } else if (set && !strcmp(t, "description")) {
        gi_description(c, iq, g, op);
    } else if (!strcmp(t, "invite")) {
        gi_invite(c, iq, g, set);
    } else if (set && !strcmp(t, "accept")) {
        /* a v4 invite (GroupInviteMessage): the code came from an admin's message */
        const char *code = miaw_node_attr(op, "code");
        rc = code && *code ? miaw_sim_group_join(c->sim, g, c->account, c->device_id) : MIAW_E_INVAL;
        if (rc && rc != MIAW_E_EXIST) gi_fail(c, iq, rc);
        else gi_send(c, gi_result(iq));
    } else if (!set && !strcmp(t, "membership_approval_requests")) {
        miaw_sim_member *m = miaw_sim_group_member(g, c->account);
        if (!m || m->rank < MIAW_SIM_ADMIN) {
            miaw_sim_iq_error(c, iq, 401, "not-authorized");
            return 1;
        }
        miaw_node *r = gi_result(iq);
        miaw_node *l = r ? miaw_node_add(r, "membership_approval_requests") : NULL;
        if (l) miaw_sim_group_requests_nodes(g, l);
        gi_send(c, r);
    } else if (set && !strcmp(t, "membership_requests_action")) {
        gi_requests_action(c, iq, g, op);
    } else if (set && (rc = miaw_sim_group_setting(c->sim, g, c->account, c->device_id, op)) != MIAW_E_NOTFOUND) {
        if (rc) gi_fail(c, iq, rc);
        else gi_send(c, gi_result(iq));
    } else {
        return 0;
    }
    return 1;
}

int miaw_sim_group_on_iq(miaw_sim_conn *c, const miaw_node *iq)
{
    miaw_jid to;
    const miaw_node *op = miaw_node_child_at(iq, 0);
    const char *type = miaw_node_attr(iq, "type");
    if (!c->account || !op || !type || miaw_node_attr_jid(iq, "to", &to) || strcmp(to.server, MIAW_SERVER_GROUP))
        return 0;
    int set = !strcmp(type, "set");
    if (!set && strcmp(type, "get")) return 0;
    int handled = to.user[0] ? gi_group(c, iq, miaw_sim_group_find(c->sim, to.user), op, set) : gi_server(c, iq, op, set);
    if (handled) MIAW_DEBUG("sim", "conn %llu: w:g2 %s %s answered", (unsigned long long)c->id, type, op->tag);
    return handled;
}
