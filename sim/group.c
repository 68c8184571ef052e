/* sim/group.c - group records: lookup, the <group> metadata node and participant
 * nodes, w:gp2 notifications to member devices, and persistence in state.json (plus
 * the GET /sim/state view). The operations that change groups are group_ops.c. */
#include "group.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "directory.h"
#include "base/log.h"
#include "miaw/plugin.h"
#include "queue.h"
#include "state.h"

/* ------------------------------------------------------------------ lookup */

miaw_sim_group *miaw_sim_group_find(miaw_sim *sim, const char *id)
{
    if (!id) return NULL;
    size_t n = strcspn(id, "@");
    if (id[n] && strcmp(id + n, "@g.us")) return NULL;
    for (miaw_sim_group *g = sim->groups; g; g = g->next)
        if (strlen(g->id) == n && !memcmp(g->id, id, n)) return g;
    return NULL;
}

miaw_sim_group *miaw_sim_group_by_invite(miaw_sim *sim, const char *code)
{
    for (miaw_sim_group *g = sim->groups; code && *code && g; g = g->next)
        if (!strcmp(g->invite, code)) return g;
    return NULL;
}

miaw_sim_member *miaw_sim_group_member(miaw_sim_group *g, const miaw_sim_account *a)
{
    for (size_t i = 0; a && i < g->nmembers; i++)
        if (g->members[i].account == a) return &g->members[i];
    return NULL;
}

void miaw_sim_group_jid(const miaw_sim_group *g, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s@g.us", g->id);
}

/* ------------------------------------------------------------------ nodes */

static const char *grp_rank_name(int rank)
{
    return rank == MIAW_SIM_SUPERADMIN ? "superadmin" : rank == MIAW_SIM_ADMIN ? "admin" : NULL;
}

static void grp_user_jid(const miaw_sim_account *a, int lid, char *buf, size_t cap)
{
    miaw_sim_jid_attr(a, 0, lid, buf, cap);
}

miaw_node *miaw_sim_group_participant_node(const miaw_sim_account *a, int rank, miaw_node *parent)
{
    char lid[96], pn[96];
    grp_user_jid(a, 1, lid, sizeof lid);
    grp_user_jid(a, 0, pn, sizeof pn);
    miaw_node *p = miaw_node_addv(parent, "participant", "jid", lid, "phone_number", pn, NULL);
    if (p && grp_rank_name(rank)) miaw_node_set_attr(p, "type", grp_rank_name(rank));
    return p;
}

miaw_node *miaw_sim_group_node(const miaw_sim_group *g, miaw_node *parent)
{
    char jid[96], pn[96];
    miaw_node *n = miaw_node_addv(parent, "group", "id", g->id, "subject", g->subject, NULL);
    if (!n) return NULL;
    miaw_node_set_attrf(n, "s_t", "%" PRIu64, g->subject_t);
    if (g->subject_owner) {
        grp_user_jid(g->subject_owner, 1, jid, sizeof jid);
        grp_user_jid(g->subject_owner, 0, pn, sizeof pn);
        miaw_node_set_jid_str(n, "s_o", jid + 4);
        miaw_node_set_jid_str(n, "s_o_pn", pn + 4);
    }
    miaw_node_set_attrf(n, "creation", "%" PRIu64, g->creation);
    if (g->creator) {
        grp_user_jid(g->creator, 1, jid, sizeof jid);
        grp_user_jid(g->creator, 0, pn, sizeof pn);
        miaw_node_set_jid_str(n, "creator", jid + 4);
        miaw_node_set_jid_str(n, "creator_pn", pn + 4);
    }
    miaw_node_set_attrf(n, "size", "%zu", g->nmembers);
    miaw_node_set_attr(n, "addressing_mode", "lid");
    for (size_t i = 0; i < g->nmembers; i++)
        miaw_sim_group_participant_node(g->members[i].account, g->members[i].rank, n);
    if (g->desc) {
        miaw_node *d = miaw_node_addv(n, "description", "id", g->desc_id, NULL);
        if (d) {
            if (g->desc_owner) {
                grp_user_jid(g->desc_owner, 1, jid, sizeof jid);
                miaw_node_set_jid_str(d, "participant", jid + 4);
            }
            miaw_node_set_attrf(d, "t", "%" PRIu64, g->desc_t);
            miaw_node_set_bytes(miaw_node_add(d, "body"), g->desc, strlen(g->desc));
        }
    }
    if (g->announce) miaw_node_add(n, "announcement");
    if (g->locked) miaw_node_add(n, "locked");
    if (g->ephemeral) {
        miaw_node *e = miaw_node_add(n, "ephemeral");
        if (e) miaw_node_set_attrf(e, "expiration", "%" PRIu32, g->ephemeral);
    }
    const char *mode = g->admin_add ? "admin_add" : "all_member_add";
    miaw_node_set_bytes(miaw_node_add(n, "member_add_mode"), mode, strlen(mode));
    /* Baileys reads the mere presence of this element as "approval on" */
    if (g->approval)
        miaw_node_addv(miaw_node_add(n, "membership_approval_mode"), "group_join", "state", "on", NULL);
    return n;
}

/* ------------------------------------------------------------------ notifications */

static void grp_deliver_all(miaw_sim *sim, miaw_sim_account *b, miaw_sim_account *actor, uint32_t dev,
                            const miaw_node *n)
{
    /* the phones keep no notifications: companions only */
    for (size_t i = 0; i < b->ndevices; i++)
        if (!(b == actor && b->devices[i].id == dev)) miaw_sim_deliver(sim, b, b->devices[i].id, n, "notification");
}

void miaw_sim_group_notify(miaw_sim *sim, const miaw_sim_group *g, miaw_sim_account *actor, uint32_t dev,
                           const miaw_node *child, miaw_sim_account **extra, size_t nextra)
{
    char gjid[48], id[48], lid[96], pn[96];
    miaw_sim_group_jid(g, gjid, sizeof gjid);
    miaw_sim_next_id(sim, id, sizeof id);
    miaw_node *n = miaw_node_newv("notification", "type", "w:gp2", "id", id, NULL);
    if (!n) return;
    miaw_node_set_jid_str(n, "from", gjid);
    miaw_node_set_attrf(n, "t", "%" PRIu64, miaw_sim_now());
    if (actor) {
        grp_user_jid(actor, 1, lid, sizeof lid);
        grp_user_jid(actor, 0, pn, sizeof pn);
        miaw_node_set_jid_str(n, "participant", lid + 4);
        miaw_node_set_jid_str(n, "participant_pn", pn + 4);
        if (actor->name[0]) miaw_node_set_attr(n, "notify", actor->name);
    }
    miaw_node_set_attr(n, "addressing_mode", "lid");
    if (!miaw_node_add_copy(n, child)) {
        miaw_node_free(n);
        return;
    }
    for (size_t i = 0; i < g->nmembers; i++) grp_deliver_all(sim, g->members[i].account, actor, dev, n);
    for (size_t i = 0; i < nextra; i++)
        if (extra[i]) grp_deliver_all(sim, extra[i], actor, dev, n);
    MIAW_DEBUG("sim", "group %s: w:gp2 %s notified", g->id, child->tag);
    miaw_node_free(n);
}

/* ------------------------------------------------------------------ JSON */

static json_t *grp_account_ref(const miaw_sim_account *a, int persist)
{
    char j[80];
    if (!a) return json_null();
    if (persist) return json_string(a->phone);
    miaw_sim_device_jid(a, 0, 0, j, sizeof j);
    return json_string(j);
}

static json_t *grp_one_json(const miaw_sim_group *g, int persist)
{
    char jid[48];
    miaw_sim_group_jid(g, jid, sizeof jid);
    json_t *members = json_array();
    for (size_t i = 0; i < g->nmembers; i++) {
        const miaw_sim_account *a = g->members[i].account;
        char lid[80];
        miaw_sim_device_jid(a, 0, 1, lid, sizeof lid);
        json_t *m = persist ? json_pack("{s:s,s:i}", "phone", a->phone, "rank", g->members[i].rank)
                            : json_pack("{s:o,s:s,s:o}", "jid", grp_account_ref(a, 0), "lid", lid, "admin",
                                        grp_rank_name(g->members[i].rank) ? json_string(grp_rank_name(g->members[i].rank))
                                                                          : json_null());
        json_array_append_new(members, m);
    }
    json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:o,s:I,s:o,s:o,s:s}", "id", g->id, "jid", jid, "subject", g->subject,
                          "subjectTime", (json_int_t)g->subject_t, "subjectOwner", grp_account_ref(g->subject_owner, persist),
                          "creation", (json_int_t)g->creation, "creator", grp_account_ref(g->creator, persist),
                          persist ? "members" : "participants", members, "invite", g->invite);
    if (!o) return NULL;
    if (g->desc) {
        json_object_set_new(o, "description", json_string(g->desc));
        json_object_set_new(o, "descId", json_string(g->desc_id));
        json_object_set_new(o, "descTime", json_integer((json_int_t)g->desc_t));
        json_object_set_new(o, "descOwner", grp_account_ref(g->desc_owner, persist));
    }
    json_object_set_new(o, "announce", json_boolean(g->announce));
    json_object_set_new(o, "locked", json_boolean(g->locked));
    json_object_set_new(o, "adminAdd", json_boolean(g->admin_add));
    json_object_set_new(o, "approval", json_boolean(g->approval));
    json_object_set_new(o, "ephemeral", json_integer(g->ephemeral));
    json_t *reqs = json_array();
    for (size_t i = 0; i < g->nrequests; i++)
        json_array_append_new(reqs, json_pack("{s:o,s:I}", persist ? "phone" : "jid", grp_account_ref(g->requests[i], persist),
                                              "t", (json_int_t)g->request_t[i]));
    json_object_set_new(o, "requests", reqs);
    if (persist) json_object_set_new(o, "invitePrev", json_string(g->invite_prev));
    return o;
}

json_t *miaw_sim_groups_json(const miaw_sim *sim, int persist)
{
    json_t *arr = json_array();
    for (const miaw_sim_group *g = sim->groups; g; g = g->next)
        json_array_insert_new(arr, 0, grp_one_json(g, persist)); /* oldest first */
    return arr;
}

static miaw_sim_account *grp_load_ref(miaw_sim *sim, json_t *v)
{
    return json_is_string(v) ? miaw_sim_account_find(sim, json_string_value(v)) : NULL;
}

static void grp_copy(char *dst, size_t cap, json_t *v)
{
    snprintf(dst, cap, "%s", json_is_string(v) ? json_string_value(v) : "");
}

void miaw_sim_groups_load(miaw_sim *sim, json_t *arr)
{
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
        const char *id = json_string_value(json_object_get(o, "id"));
        json_t *members = json_object_get(o, "members");
        if (!id || strlen(id) >= sizeof((miaw_sim_group *)0)->id || miaw_sim_group_find(sim, id) ||
            !json_is_array(members) || sim->ngroups >= MIAW_SIM_GROUP_MAX) {
            MIAW_WARN("sim", "state: group entry %zu skipped", i);
            continue;
        }
        miaw_sim_group *g = calloc(1, sizeof *g);
        if (!g) return;
        snprintf(g->id, sizeof g->id, "%s", id);
        grp_copy(g->subject, sizeof g->subject, json_object_get(o, "subject"));
        grp_copy(g->invite, sizeof g->invite, json_object_get(o, "invite"));
        grp_copy(g->invite_prev, sizeof g->invite_prev, json_object_get(o, "invitePrev"));
        g->subject_t = (uint64_t)json_integer_value(json_object_get(o, "subjectTime"));
        g->subject_owner = grp_load_ref(sim, json_object_get(o, "subjectOwner"));
        g->creation = (uint64_t)json_integer_value(json_object_get(o, "creation"));
        g->creator = grp_load_ref(sim, json_object_get(o, "creator"));
        const char *desc = json_string_value(json_object_get(o, "description"));
        if (desc && strlen(desc) <= MIAW_SIM_GROUP_DESC_MAX && (g->desc = strdup(desc))) {
            grp_copy(g->desc_id, sizeof g->desc_id, json_object_get(o, "descId"));
            g->desc_t = (uint64_t)json_integer_value(json_object_get(o, "descTime"));
            g->desc_owner = grp_load_ref(sim, json_object_get(o, "descOwner"));
        }
        g->announce = json_is_true(json_object_get(o, "announce"));
        g->locked = json_is_true(json_object_get(o, "locked"));
        g->admin_add = json_is_true(json_object_get(o, "adminAdd"));
        g->approval = json_is_true(json_object_get(o, "approval"));
        g->ephemeral = (uint32_t)json_integer_value(json_object_get(o, "ephemeral"));
        size_t k;
        json_t *m;
        json_array_foreach(members, k, m) {
            miaw_sim_account *a = grp_load_ref(sim, json_object_get(m, "phone"));
            json_int_t rank = json_integer_value(json_object_get(m, "rank"));
            if (!a || miaw_sim_group_member(g, a) || g->nmembers >= MIAW_SIM_GROUP_MEMBERS_MAX) continue;
            g->members[g->nmembers].account = a;
            g->members[g->nmembers++].rank = rank >= 0 && rank <= MIAW_SIM_SUPERADMIN ? (int)rank : MIAW_SIM_MEMBER;
        }
        json_array_foreach(json_object_get(o, "requests"), k, m) {
            miaw_sim_account *a = grp_load_ref(sim, json_object_get(m, "phone"));
            if (!a || miaw_sim_group_member(g, a) || g->nrequests >= MIAW_SIM_GROUP_REQUESTS_MAX) continue;
            g->requests[g->nrequests] = a;
            g->request_t[g->nrequests++] = (uint64_t)json_integer_value(json_object_get(m, "t"));
        }
        if (!g->nmembers) {
            free(g->desc);
            free(g);
            continue;
        }
        g->next = sim->groups; /* the file lists the oldest first: the list stays newest first */
        sim->groups = g;
        sim->ngroups++;
    }
}

void miaw_sim_groups_free(miaw_sim *sim)
{
    while (sim->groups) {
        miaw_sim_group *g = sim->groups;
        sim->groups = g->next;
        free(g->desc);
        free(g);
    }
    sim->ngroups = 0;
}
