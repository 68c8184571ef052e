/* sim/group_ops.c - what members do to groups: create (creator = superadmin),
 * add/remove/promote/demote, subject, description, settings, leave, invite link
 * revoke and join, join requests (approval mode). Each change is saved and announced to the members' devices with
 * a w:gp2 notification (group.c). Permission rules (inferred from the clients'
 * behaviour): admins change participants, settings and the invite link; any member
 * adds when member_add_mode is all_member_add and edits subject/description unless
 * the group is locked. */
#include "group.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "directory.h"
#include "base/log.h"
#include "miaw/plugin.h"
#include "state.h"
#include "base/util.h"

static int grp_request_index(const miaw_sim_group *g, const miaw_sim_account *a);
static void grp_request_drop(miaw_sim_group *g, int i);

static int grp_is_admin(miaw_sim_group *g, const miaw_sim_account *a)
{
    miaw_sim_member *m = miaw_sim_group_member(g, a);
    return m && m->rank >= MIAW_SIM_ADMIN;
}

static void grp_invite_code(char *out, size_t cap)
{
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    uint8_t r[22];
    size_t n = cap - 1 < sizeof r ? cap - 1 : sizeof r;
    miaw_random(r, n);
    for (size_t i = 0; i < n; i++) out[i] = alpha[r[i] % (sizeof alpha - 1)];
    out[n] = 0;
}

static int grp_new_id(miaw_sim *sim, char *out, size_t cap)
{
    for (int tries = 0; tries < 16; tries++) {
        uint8_t r[8];
        if (miaw_random(r, sizeof r)) return MIAW_E_INTERNAL;
        uint64_t v = 0;
        for (size_t i = 0; i < sizeof r; i++) v = v << 8 | r[i];
        snprintf(out, cap, "120363%012" PRIu64, (uint64_t)(v % UINT64_C(1000000000000)));
        if (!miaw_sim_group_find(sim, out)) return 0;
    }
    return MIAW_E_INTERNAL;
}

/* the child for a participant-list notification */
static miaw_node *grp_plist(const char *tag)
{
    return miaw_node_new(tag);
}

int miaw_sim_group_create(miaw_sim *sim, miaw_sim_account *creator, uint32_t dev, const char *subject,
                          miaw_sim_account **who, size_t n, int *codes, miaw_sim_group **out)
{
    size_t slen = subject ? strlen(subject) : 0;
    if (!slen || slen > MIAW_SIM_GROUP_SUBJECT_MAX) return MIAW_E_INVAL;
    if (sim->ngroups >= MIAW_SIM_GROUP_MAX) return MIAW_E_LIMIT;
    miaw_sim_group *g = calloc(1, sizeof *g);
    if (!g) return MIAW_E_NOMEM;
    if (grp_new_id(sim, g->id, sizeof g->id)) {
        free(g);
        return MIAW_E_INTERNAL;
    }
    memcpy(g->subject, subject, slen + 1);
    g->creation = g->subject_t = miaw_sim_now();
    g->creator = g->subject_owner = creator;
    g->members[0].account = creator;
    g->members[0].rank = MIAW_SIM_SUPERADMIN;
    g->nmembers = 1;
    for (size_t i = 0; i < n; i++) {
        int code = 200;
        if (!who[i]) code = 404;
        else if (miaw_sim_group_member(g, who[i])) code = 409;
        else if (g->nmembers >= MIAW_SIM_GROUP_MEMBERS_MAX) code = 406;
        else g->members[g->nmembers++].account = who[i];
        if (codes) codes[i] = code;
    }
    grp_invite_code(g->invite, sizeof g->invite);
    g->next = sim->groups;
    sim->groups = g;
    sim->ngroups++;
    miaw_sim_state_save(sim);
    miaw_node *c = miaw_node_newv("create", "reason", "create", NULL);
    if (c && miaw_sim_group_node(g, c)) miaw_sim_group_notify(sim, g, creator, dev, c, NULL, 0);
    miaw_node_free(c);
    MIAW_INFO("sim", "group %s \"%s\" created by %s with %zu members", g->id, g->subject, creator->phone, g->nmembers);
    *out = g;
    return 0;
}

static int grp_participant_op(miaw_sim_group *g, const char *action, miaw_sim_account *b, miaw_sim_account **removed,
                              size_t *nremoved)
{
    miaw_sim_member *m = miaw_sim_group_member(g, b);
    if (!b) return 404;
    if (!strcmp(action, "add")) {
        if (m) return 409;
        if (g->nmembers >= MIAW_SIM_GROUP_MEMBERS_MAX) return 406;
        g->members[g->nmembers].account = b;
        g->members[g->nmembers++].rank = MIAW_SIM_MEMBER;
        int k = grp_request_index(g, b); /* an add answers a pending join request */
        if (k >= 0) grp_request_drop(g, k);
        return 200;
    }
    if (!m) return 404;
    if (b == g->creator && strcmp(action, "promote")) return 403;
    if (!strcmp(action, "promote")) {
        if (m->rank < MIAW_SIM_ADMIN) m->rank = MIAW_SIM_ADMIN;
    } else if (!strcmp(action, "demote")) {
        m->rank = MIAW_SIM_MEMBER;
    } else { /* remove */
        removed[(*nremoved)++] = b;
        *m = g->members[--g->nmembers];
    }
    return 200;
}

int miaw_sim_group_participants(miaw_sim *sim, miaw_sim_group *g, miaw_sim_account *actor, uint32_t dev,
                                const char *action, miaw_sim_account **who, size_t n, int *codes)
{
    int add = !strcmp(action, "add");
    if (!add && strcmp(action, "remove") && strcmp(action, "promote") && strcmp(action, "demote"))
        return MIAW_E_INVAL;
    if (!miaw_sim_group_member(g, actor) || (!grp_is_admin(g, actor) && !(add && !g->admin_add))) return MIAW_E_AUTH;
    miaw_sim_account **removed = calloc(n ? n : 1, sizeof *removed);
    miaw_node *note = grp_plist(action);
    if (!removed || !note) {
        free(removed);
        miaw_node_free(note);
        return MIAW_E_NOMEM;
    }
    size_t nremoved = 0, ok = 0;
    for (size_t i = 0; i < n; i++) {
        codes[i] = grp_participant_op(g, action, who[i], removed, &nremoved);
        if (codes[i] != 200) continue;
        /* the same account named twice counts once */
        int dup = 0;
        for (size_t k = 0; k < i; k++) dup |= codes[k] == 200 && who[k] == who[i];
        if (dup) continue;
        miaw_sim_member *m = miaw_sim_group_member(g, who[i]);
        miaw_sim_group_participant_node(who[i], m ? m->rank : MIAW_SIM_MEMBER, note);
        ok++;
    }
    if (ok) {
        miaw_sim_state_save(sim);
        miaw_sim_group_notify(sim, g, actor, dev, note, removed, nremoved);
        MIAW_INFO("sim", "group %s: %s of %zu participants by %s", g->id, action, ok, actor->phone);
    }
    miaw_node_free(note);
    free(removed);
    return 0;
}

static int grp_may_edit(miaw_sim_group *g, miaw_sim_account *actor)
{
    if (!miaw_sim_group_member(g, actor)) return 0;
    return !g->locked || grp_is_admin(g, actor);
}

int miaw_sim_group_set_subject(miaw_sim *sim, miaw_sim_group *g, miaw_sim_account *actor, uint32_t dev,
                               const char *subject, size_t len)
{
    if (!grp_may_edit(g, actor)) return MIAW_E_AUTH;
    if (!subject || !len || len > MIAW_SIM_GROUP_SUBJECT_MAX || memchr(subject, 0, len)) return MIAW_E_INVAL;
    memcpy(g->subject, subject, len);
    g->subject[len] = 0;
    g->subject_t = miaw_sim_now();
    g->subject_owner = actor;
    miaw_sim_state_save(sim);
    char lid[96], pn[96];
    miaw_sim_jid_attr(actor, 0, 1, lid, sizeof lid);
    miaw_sim_jid_attr(actor, 0, 0, pn, sizeof pn);
    miaw_node *c = miaw_node_newv("subject", "subject", g->subject, "s_o", lid, "s_o_pn", pn, NULL);
    if (c) {
        miaw_node_set_attrf(c, "s_t", "%" PRIu64, g->subject_t);
        miaw_sim_group_notify(sim, g, actor, dev, c, NULL, 0);
    }
    miaw_node_free(c);
    return 0;
}

int miaw_sim_group_set_desc(miaw_sim *sim, miaw_sim_group *g, miaw_sim_account *actor, uint32_t dev,
                            const char *id, const char *text, size_t len)
{
    if (!grp_may_edit(g, actor)) return MIAW_E_AUTH;
    if ((text && (len > MIAW_SIM_GROUP_DESC_MAX || memchr(text, 0, len))) || (id && strlen(id) >= sizeof g->desc_id))
        return MIAW_E_INVAL;
    char *copy = NULL;
    if (text && len && !(copy = strndup(text, len))) return MIAW_E_NOMEM;
    free(g->desc);
    g->desc = copy;
    if (id && *id) snprintf(g->desc_id, sizeof g->desc_id, "%s", id);
    else miaw_random_hex(g->desc_id, 8);
    g->desc_t = miaw_sim_now();
    g->desc_owner = actor;
    miaw_sim_state_save(sim);
    miaw_node *c = miaw_node_newv("description", "id", g->desc_id, NULL);
    if (c && copy) miaw_node_set_bytes(miaw_node_add(c, "body"), copy, strlen(copy));
    else if (c) miaw_node_add(c, "delete");
    if (c) miaw_sim_group_notify(sim, g, actor, dev, c, NULL, 0);
    miaw_node_free(c);
    return 0;
}

int miaw_sim_group_setting(miaw_sim *sim, miaw_sim_group *g, miaw_sim_account *actor, uint32_t dev,
                           const miaw_node *s)
{
    const char *t = s->tag;
    int known = !strcmp(t, "announcement") || !strcmp(t, "not_announcement") || !strcmp(t, "locked") ||
                !strcmp(t, "unlocked") || !strcmp(t, "ephemeral") || !strcmp(t, "not_ephemeral") ||
                !strcmp(t, "member_add_mode") || !strcmp(t, "membership_approval_mode");
    if (!known) return MIAW_E_NOTFOUND;
    if (!grp_is_admin(g, actor)) return MIAW_E_AUTH;
    miaw_node *c = miaw_node_new(t);
    if (!c) return MIAW_E_NOMEM;
    int rc = 0;
    if (!strcmp(t, "announcement") || !strcmp(t, "not_announcement")) {
        g->announce = t[0] == 'a';
    } else if (!strcmp(t, "locked") || !strcmp(t, "unlocked")) {
        g->locked = t[0] == 'l';
    } else if (!strcmp(t, "not_ephemeral")) {
        g->ephemeral = 0;
    } else if (!strcmp(t, "ephemeral")) {
        uint64_t exp = 0;
        if (miaw_node_attr_u64(s, "expiration", &exp) || exp > 366u * 86400) rc = MIAW_E_INVAL;
        else if ((g->ephemeral = (uint32_t)exp)) miaw_node_set_attrf(c, "expiration", "%" PRIu32, g->ephemeral);
        else miaw_node_free(c), c = miaw_node_new("not_ephemeral");
    } else if (!strcmp(t, "member_add_mode")) {
        size_t len;
        const uint8_t *b = miaw_node_bytes(s, &len);
        if (b && len == 9 && !memcmp(b, "admin_add", 9)) g->admin_add = 1;
        else if (b && len == 14 && !memcmp(b, "all_member_add", 14)) g->admin_add = 0;
        else rc = MIAW_E_INVAL;
        if (!rc) miaw_node_set_bytes(c, b, len);
    } else { /* membership_approval_mode */
        const char *st = miaw_node_attr(miaw_node_child(s, "group_join"), "state");
        if (st && (!strcmp(st, "on") || !strcmp(st, "off"))) {
            g->approval = !strcmp(st, "on");
            miaw_node_addv(c, "group_join", "state", st, NULL);
        } else {
            rc = MIAW_E_INVAL;
        }
    }
    if (!rc && c) {
        miaw_sim_state_save(sim);
        miaw_sim_group_notify(sim, g, actor, dev, c, NULL, 0);
    }
    miaw_node_free(c);
    return rc;
}

/* unlink g from the network and free it */
static void grp_delete(miaw_sim *sim, miaw_sim_group *g)
{
    for (miaw_sim_group **pp = &sim->groups; *pp; pp = &(*pp)->next)
        if (*pp == g) {
            *pp = g->next;
            sim->ngroups--;
            break;
        }
    MIAW_INFO("sim", "group %s deleted: no members left", g->id);
    free(g->desc);
    free(g);
}

int miaw_sim_group_leave(miaw_sim *sim, miaw_sim_group *g, miaw_sim_account *a, uint32_t dev)
{
    miaw_sim_member *m = miaw_sim_group_member(g, a);
    if (!m) return MIAW_E_NOTFOUND;
    int was_admin = m->rank >= MIAW_SIM_ADMIN;
    *m = g->members[--g->nmembers];
    if (!g->nmembers) {
        grp_delete(sim, g);
        miaw_sim_state_save(sim);
        return 0;
    }
    /* the last admin left: the longest-standing member takes over */
    if (was_admin) {
        int admins = 0;
        for (size_t i = 0; i < g->nmembers; i++) admins += g->members[i].rank >= MIAW_SIM_ADMIN;
        if (!admins) g->members[0].rank = MIAW_SIM_ADMIN;
    }
    miaw_sim_state_save(sim);
    miaw_node *c = grp_plist("remove");
    if (c && miaw_sim_group_participant_node(a, MIAW_SIM_MEMBER, c))
        miaw_sim_group_notify(sim, g, a, dev, c, &a, 1);
    miaw_node_free(c);
    MIAW_INFO("sim", "group %s: %s left", g->id, a->phone);
    return 0;
}

int miaw_sim_group_revoke_invite(miaw_sim *sim, miaw_sim_group *g, miaw_sim_account *actor, uint32_t dev)
{
    if (!grp_is_admin(g, actor)) return MIAW_E_AUTH;
    memcpy(g->invite_prev, g->invite, sizeof g->invite);
    grp_invite_code(g->invite, sizeof g->invite);
    miaw_sim_state_save(sim);
    miaw_node *c = miaw_node_newv("invite", "code", g->invite, NULL);
    if (c) miaw_sim_group_notify(sim, g, actor, dev, c, NULL, 0);
    miaw_node_free(c);
    return 0;
}

int miaw_sim_group_join(miaw_sim *sim, miaw_sim_group *g, miaw_sim_account *a, uint32_t dev)
{
    if (miaw_sim_group_member(g, a)) return MIAW_E_EXIST;
    if (g->nmembers >= MIAW_SIM_GROUP_MEMBERS_MAX) return MIAW_E_LIMIT;
    g->members[g->nmembers].account = a;
    g->members[g->nmembers++].rank = MIAW_SIM_MEMBER;
    int k = grp_request_index(g, a);
    if (k >= 0) grp_request_drop(g, k);
    miaw_sim_state_save(sim);
    miaw_node *c = miaw_node_newv("add", "reason", "invite", NULL);
    if (c && miaw_sim_group_participant_node(a, MIAW_SIM_MEMBER, c)) miaw_sim_group_notify(sim, g, a, dev, c, NULL, 0);
    miaw_node_free(c);
    MIAW_INFO("sim", "group %s: %s joined through the invite link", g->id, a->phone);
    return 0;
}

/* ------------------------------------------------------------------ join requests */

static int grp_request_index(const miaw_sim_group *g, const miaw_sim_account *a)
{
    for (size_t i = 0; a && i < g->nrequests; i++)
        if (g->requests[i] == a) return (int)i;
    return -1;
}

static void grp_request_drop(miaw_sim_group *g, int i)
{
    g->requests[i] = g->requests[g->nrequests - 1];
    g->request_t[i] = g->request_t[g->nrequests - 1];
    g->nrequests--;
}

int miaw_sim_group_request_join(miaw_sim *sim, miaw_sim_group *g, miaw_sim_account *a, uint32_t dev)
{
    if (miaw_sim_group_member(g, a)) return MIAW_E_EXIST;
    if (grp_request_index(g, a) >= 0) return 0;
    if (g->nrequests >= MIAW_SIM_GROUP_REQUESTS_MAX) return MIAW_E_LIMIT;
    g->requests[g->nrequests] = a;
    g->request_t[g->nrequests++] = miaw_sim_now();
    miaw_sim_state_save(sim);
    char lid[96], pn[96];
    miaw_sim_jid_attr(a, 0, 1, lid, sizeof lid);
    miaw_sim_jid_attr(a, 0, 0, pn, sizeof pn);
    miaw_node *c = miaw_node_newv("created_membership_requests", "request_method", "invite_link", NULL);
    if (c) {
        miaw_node_set_jid_str(c, "participant", lid + 4);
        miaw_node_set_jid_str(c, "participant_pn", pn + 4);
        miaw_node_set_attrf(c, "t", "%" PRIu64, miaw_sim_now());
        miaw_sim_group_notify(sim, g, a, dev, c, NULL, 0);
    }
    miaw_node_free(c);
    MIAW_INFO("sim", "group %s: %s asked to join", g->id, a->phone);
    return 0;
}

int miaw_sim_group_requests_action(miaw_sim *sim, miaw_sim_group *g, miaw_sim_account *actor, uint32_t dev,
                                   const char *action, miaw_sim_account **who, size_t n, int *codes)
{
    int approve = !strcmp(action, "approve");
    if (!approve && strcmp(action, "reject")) return MIAW_E_INVAL;
    if (!grp_is_admin(g, actor)) return MIAW_E_AUTH;
    miaw_node *note = grp_plist(approve ? "add" : "revoked_membership_requests");
    if (!note) return MIAW_E_NOMEM;
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        int k = grp_request_index(g, who[i]);
        codes[i] = k < 0 ? 404 : approve && g->nmembers >= MIAW_SIM_GROUP_MEMBERS_MAX ? 406 : 200;
        if (codes[i] != 200) continue;
        grp_request_drop(g, k);
        if (approve) {
            g->members[g->nmembers].account = who[i];
            g->members[g->nmembers++].rank = MIAW_SIM_MEMBER;
        }
        miaw_sim_group_participant_node(who[i], MIAW_SIM_MEMBER, note);
        ok++;
    }
    if (ok) {
        miaw_sim_state_save(sim);
        /* a rejected requester is told too */
        miaw_sim_group_notify(sim, g, actor, dev, note, approve ? NULL : who, approve ? 0 : n);
        MIAW_INFO("sim", "group %s: %s of %zu join requests by %s", g->id, action, ok, actor->phone);
    }
    miaw_node_free(note);
    return 0;
}

void miaw_sim_group_requests_nodes(const miaw_sim_group *g, miaw_node *parent)
{
    char lid[96], pn[96];
    for (size_t i = 0; i < g->nrequests; i++) {
        miaw_sim_jid_attr(g->requests[i], 0, 1, lid, sizeof lid);
        miaw_sim_jid_attr(g->requests[i], 0, 0, pn, sizeof pn);
        miaw_node *r = miaw_node_addv(parent, "membership_approval_request", "request_method", "invite_link", NULL);
        if (!r) return;
        miaw_node_set_jid_str(r, "jid", lid + 4);
        miaw_node_set_jid_str(r, "phone_number", pn + 4);
        miaw_node_set_attrf(r, "t", "%" PRIu64, g->request_t[i]);
    }
}
