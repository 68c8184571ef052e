/* sim/group_route.c - group stanzas between devices (protocol facts 9.4, 14.4, 14.5):
 * a <message to=<group>> fanned out to every device of every member (phones included)
 * but the sending one, each copy carrying that device's pairwise enc from
 * <participants> (the sender-key distribution message) followed by the shared skmsg,
 * with participant (the sender's LID device JID), participant_pn and
 * addressing_mode="lid"; retry resends to one device; group receipts and chat states.
 * Owns nothing beyond a call; delivery goes through queue.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "directory.h"
#include "group.h"
#include "presence.h"
#include "base/log.h"
#include "miaw/plugin.h"
#include "queue.h"
#include "state.h"

/* attributes a delivered group message keeps from the sender's stanza */
static const char *GR_KEEP[] = {"type", "edit", "category", "expiration", "push_priority"};

/* a resolved <participants><to jid> entry */
typedef struct gr_target {
    miaw_sim_account *account;
    uint32_t device;
    const miaw_node *to;
} gr_target;

static const char *gr_push_name(miaw_sim_account *a, uint32_t dev)
{
    miaw_sim_device *d = dev ? miaw_sim_device_find(a, dev) : NULL;
    if (a->name[0] || !d || !d->conn) return a->name;
    return d->conn->push_name;
}

static int gr_has_pkmsg(const miaw_node *parent)
{
    for (miaw_node *e = parent ? miaw_node_child(parent, "enc") : NULL; e; e = miaw_node_next(parent, e, "enc"))
        if (miaw_node_attr_is(e, "type", "pkmsg")) return 1;
    return 0;
}

/* one copy of n for device (b, bdev): pairwise encs of `to` (may be NULL), then the
 * encs directly under n (the skmsg) */
static int gr_deliver(miaw_sim *sim, const miaw_sim_group *g, miaw_sim_account *a, uint32_t dev, const miaw_node *n,
                      miaw_sim_account *b, uint32_t bdev, const miaw_node *to)
{
    char gjid[48], part[96], pn[96];
    miaw_sim_group_jid(g, gjid, sizeof gjid);
    miaw_sim_jid_attr(a, dev, 1, part, sizeof part);
    miaw_sim_jid_attr(a, 0, 0, pn, sizeof pn);
    miaw_node *m = miaw_node_newv("message", "id", miaw_node_attr(n, "id"), "participant", part, "participant_pn", pn,
                                  NULL);
    if (!m) return MIAW_E_NOMEM;
    miaw_node_set_jid_str(m, "from", gjid);
    miaw_node_set_attrf(m, "t", "%" PRIu64, miaw_sim_now());
    for (size_t i = 0; i < sizeof GR_KEEP / sizeof GR_KEEP[0]; i++)
        if (miaw_node_attr(n, GR_KEEP[i])) miaw_node_set_attr(m, GR_KEEP[i], miaw_node_attr(n, GR_KEEP[i]));
    miaw_node_set_attr(m, "addressing_mode", "lid");
    miaw_node_set_attr(m, "notify", gr_push_name(a, dev));
    for (miaw_node *e = to ? miaw_node_child(to, "enc") : NULL; e; e = miaw_node_next(to, e, "enc"))
        miaw_node_add_copy(m, e);
    for (miaw_node *e = miaw_node_child(n, "enc"); e; e = miaw_node_next(n, e, "enc")) miaw_node_add_copy(m, e);
    const miaw_node *di = miaw_node_child(n, "device-identity");
    if (di && gr_has_pkmsg(to)) miaw_node_add_copy(m, di);
    for (miaw_node *x = miaw_node_child(n, "meta"); x; x = miaw_node_next(n, x, "meta")) miaw_node_add_copy(m, x);
    int rc = miaw_sim_deliver(sim, b, bdev, m, "message");
    miaw_node_free(m);
    return rc;
}

static const miaw_node *gr_find(const gr_target *t, size_t nt, const miaw_sim_account *b, uint32_t dev)
{
    for (size_t i = 0; i < nt; i++)
        if (t[i].account == b && t[i].device == dev) return t[i].to;
    return NULL;
}

int miaw_sim_group_route_message(miaw_sim *sim, miaw_sim_account *a, uint32_t dev, const miaw_node *n)
{
    miaw_jid tj;
    if (miaw_node_attr_jid(n, "to", &tj)) return MIAW_E_INVAL;
    miaw_sim_group *g = miaw_sim_group_find(sim, tj.user);
    if (!g || !miaw_sim_group_member(g, a)) {
        MIAW_INFO("sim", "account %s: message %s to %s refused (%s)", a->phone, miaw_node_attr(n, "id"), tj.user,
                  g ? "not a member" : "no such group");
        return MIAW_E_INVAL;
    }
    sim->messages_routed++;
    const miaw_node *parts = miaw_node_child(n, "participants");
    uint32_t cnt = parts ? miaw_node_count(parts) : 0;
    gr_target *t = calloc(cnt ? cnt : 1, sizeof *t);
    if (!t) return MIAW_E_NOMEM;
    size_t nt = 0;
    for (miaw_node *to = parts ? miaw_node_child(parts, "to") : NULL; to; to = miaw_node_next(parts, to, "to")) {
        miaw_sim_addr d;
        if (miaw_sim_resolve_str(sim, miaw_node_attr(to, "jid"), &d) || !miaw_sim_group_member(g, d.account)) continue;
        t[nt].account = d.account;
        t[nt].device = d.device;
        t[nt++].to = to;
    }
    int delivered = 0, has_shared = miaw_node_child(n, "enc") != NULL;
    miaw_sim_addr only;
    if (miaw_node_attr(n, "participant")) { /* a retry resend: that device only */
        if (!miaw_sim_resolve_str(sim, miaw_node_attr(n, "participant"), &only) &&
            miaw_sim_group_member(g, only.account) && !(only.account == a && only.device == dev)) {
            const miaw_node *to = gr_find(t, nt, only.account, only.device);
            if ((to || has_shared) && !gr_deliver(sim, g, a, dev, n, only.account, only.device, to)) delivered++;
        }
        free(t);
        return delivered;
    }
    for (size_t i = 0; i < g->nmembers; i++) {
        miaw_sim_account *b = g->members[i].account;
        for (size_t k = 0; k <= b->ndevices; k++) { /* the phone, then the companions */
            uint32_t bdev = k ? b->devices[k - 1].id : 0;
            if (b == a && bdev == dev) continue;
            const miaw_node *to = gr_find(t, nt, b, bdev);
            if (!to && !has_shared) continue;
            if (!gr_deliver(sim, g, a, dev, n, b, bdev, to)) delivered++;
        }
    }
    free(t);
    MIAW_DEBUG("sim", "group %s: message %s from %s:%u to %d devices", g->id, miaw_node_attr(n, "id"), a->phone, dev,
               delivered);
    return delivered;
}

void miaw_sim_group_route_receipt(miaw_sim *sim, miaw_sim_account *a, uint32_t dev, const miaw_node *n)
{
    miaw_jid tj;
    miaw_sim_addr s;
    const char *type = miaw_node_attr(n, "type");
    static const char *consumed[] = {"sender", "peer_msg", "hist_sync", "server-error"};
    for (size_t i = 0; type && i < sizeof consumed / sizeof consumed[0]; i++)
        if (!strcmp(type, consumed[i])) return;
    if (miaw_node_attr_jid(n, "to", &tj) || !miaw_node_attr(n, "id")) return;
    miaw_sim_group *g = miaw_sim_group_find(sim, tj.user);
    if (!g || miaw_sim_resolve_str(sim, miaw_node_attr(n, "participant"), &s) == MIAW_E_INVAL || !s.account) return;
    char gjid[48], reader[96];
    miaw_sim_group_jid(g, gjid, sizeof gjid);
    miaw_sim_jid_attr(a, dev, s.lid, reader, sizeof reader);
    miaw_node *r = miaw_node_newv("receipt", "id", miaw_node_attr(n, "id"), "participant", reader, NULL);
    if (!r) return;
    miaw_node_set_jid_str(r, "from", gjid);
    miaw_node_set_attrf(r, "t", "%" PRIu64, miaw_sim_now());
    if (type) miaw_node_set_attr(r, "type", type);
    for (uint32_t i = 0; i < miaw_node_count(n); i++) miaw_node_add_copy(r, miaw_node_child_at(n, i));
    miaw_sim_account *b = s.account;
    if (type && !strcmp(type, "retry")) { /* to exactly the device that sent the message */
        if (s.has_device && miaw_sim_addr_device(&s)) miaw_sim_deliver(sim, b, s.device, r, "receipt");
    } else {
        if (!(b == a && dev == 0)) miaw_sim_deliver(sim, b, 0, r, "receipt");
        for (size_t i = 0; i < b->ndevices; i++)
            if (!(b == a && b->devices[i].id == dev)) miaw_sim_deliver(sim, b, b->devices[i].id, r, "receipt");
    }
    miaw_node_free(r);
}

void miaw_sim_group_route_chatstate(miaw_sim *sim, miaw_sim_account *a, uint32_t dev, const miaw_node *n)
{
    miaw_jid tj;
    const miaw_node *state = miaw_node_child_at(n, 0);
    if (!state || miaw_node_attr_jid(n, "to", &tj)) return;
    miaw_sim_group *g = miaw_sim_group_find(sim, tj.user);
    if (!g || !miaw_sim_group_member(g, a)) return;
    char gjid[48], part[96];
    miaw_sim_group_jid(g, gjid, sizeof gjid);
    miaw_sim_jid_attr(a, 0, 1, part, sizeof part);
    miaw_node *cs = miaw_node_newv("chatstate", "participant", part, NULL);
    if (cs && !miaw_node_set_jid_str(cs, "from", gjid) && miaw_node_add_copy(cs, state)) {
        for (size_t i = 0; i < g->nmembers; i++) {
            miaw_sim_account *b = g->members[i].account;
            for (size_t k = 0; k < b->ndevices; k++)
                if (!(b == a && b->devices[k].id == dev)) miaw_sim_deliver(sim, b, b->devices[k].id, cs, "ephemeral");
            if (!(b == a && dev == 0)) miaw_sim_presence_phone_saw(b, cs); /* the member's phone */
        }
    }
    miaw_node_free(cs);
}
