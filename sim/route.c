/* sim/route.c - message fan-out, server acks, receipt routing, client acks between the
 * devices of the simulated network (presence and chat state: presence.c). Owns nothing beyond a
 * call: stanzas are built per recipient device and handed to queue.c. */
#include "route.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "directory.h"
#include "group.h"
#include "base/log.h"
#include "miaw/plugin.h"
#include "presence.h"
#include "queue.h"
#include "session.h"
#include "state.h"

/* attributes a delivered message keeps from the sender's stanza */
static const char *KEEP_ATTRS[] = {"type", "edit", "category", "addressing_mode", "expiration", "push_priority"};

static int send_and_free(miaw_sim_conn *c, miaw_node *n)
{
    int rc = n ? miaw_sim_conn_send(c, n) : MIAW_E_NOMEM;
    miaw_node_free(n);
    return rc;
}

/* the sender's push name: the account's name, else what its connection announced */
static const char *push_name(miaw_sim_account *a, uint32_t dev)
{
    miaw_sim_device *d = dev ? miaw_sim_device_find(a, dev) : NULL;
    if (a->name[0] || !d || !d->conn) return a->name;
    return d->conn->push_name;
}

static int has_pkmsg(const miaw_node *parent)
{
    for (miaw_node *e = miaw_node_child(parent, "enc"); e; e = miaw_node_next(parent, e, "enc"))
        if (miaw_node_attr_is(e, "type", "pkmsg")) return 1;
    return 0;
}

/* one copy of message n for device (b, bdev), carrying the encs of `encs_from` */
static int deliver_copy(miaw_sim *sim, miaw_sim_account *a, uint32_t dev, const miaw_node *n, const miaw_sim_addr *to,
                        miaw_sim_account *b, uint32_t bdev, int bdev_lid, const miaw_node *encs_from)
{
    char jid[96], alt[96];
    miaw_sim_jid_attr(a, dev, bdev_lid, jid, sizeof jid);
    miaw_node *m = miaw_node_newv("message", "from", jid, "id", miaw_node_attr(n, "id"), NULL);
    if (!m) return MIAW_E_NOMEM;
    miaw_node_set_attrf(m, "t", "%" PRIu64, miaw_sim_now());
    for (size_t i = 0; i < sizeof KEEP_ATTRS / sizeof KEEP_ATTRS[0]; i++)
        if (miaw_node_attr(n, KEEP_ATTRS[i])) miaw_node_set_attr(m, KEEP_ATTRS[i], miaw_node_attr(n, KEEP_ATTRS[i]));
    miaw_node_set_attr(m, "notify", push_name(a, dev));
    if (b == a) { /* a copy for the sender's own device: which chat it went to */
        const miaw_attr *ta = miaw_node_attr_get(n, "recipient"); /* a device-directed resend names it */
        if (!ta) ta = miaw_node_attr_get(n, "to");
        if (ta->jid) miaw_node_set_jid(m, "recipient", ta->jid);
        else miaw_node_set_attr(m, "recipient", ta->str);
        if (to->account) {
            miaw_sim_jid_attr(to->account, 0, !to->lid, alt, sizeof alt);
            miaw_node_set_jid_str(m, to->lid ? "peer_recipient_pn" : "peer_recipient_lid", alt + 4);
        }
    } else { /* the sender's other address */
        miaw_sim_jid_attr(a, 0, !bdev_lid, alt, sizeof alt);
        miaw_node_set_jid_str(m, bdev_lid ? "sender_pn" : "sender_lid", alt + 4);
    }
    for (miaw_node *e = miaw_node_child(encs_from, "enc"); e; e = miaw_node_next(encs_from, e, "enc"))
        miaw_node_add_copy(m, e);
    const miaw_node *di = miaw_node_child(n, "device-identity");
    if (di && has_pkmsg(encs_from)) miaw_node_add_copy(m, di);
    for (miaw_node *x = miaw_node_child(n, "meta"); x; x = miaw_node_next(n, x, "meta")) miaw_node_add_copy(m, x);
    int rc = miaw_sim_deliver(sim, b, bdev, m, "message");
    miaw_node_free(m);
    return rc;
}

int miaw_sim_route_message(miaw_sim *sim, miaw_sim_account *a, uint32_t dev, const miaw_node *n)
{
    miaw_jid tj;
    miaw_sim_addr to;
    if (!miaw_node_attr(n, "id") || miaw_node_attr_jid(n, "to", &tj)) return MIAW_E_INVAL;
    if (!strcmp(tj.server, MIAW_SERVER_GROUP)) return miaw_sim_group_route_message(sim, a, dev, n);
    if (!strcmp(tj.server, MIAW_SERVER_BROADCAST) || !strcmp(tj.server, MIAW_SERVER_NEWSLETTER))
        return MIAW_E_NOTSUP; /* status and newsletters are later slices */
    int trc = miaw_sim_resolve(sim, &tj, &to);
    if (trc == MIAW_E_INVAL) return MIAW_E_INVAL;
    const miaw_node *parts = miaw_node_child(n, "participants");
    int delivered = 0;
    sim->messages_routed++;
    if (parts) {
        for (miaw_node *t = miaw_node_child(parts, "to"); t; t = miaw_node_next(parts, t, "to")) {
            miaw_jid dj;
            miaw_sim_addr d;
            if (miaw_node_attr_jid(t, "jid", &dj) || miaw_sim_resolve(sim, &dj, &d)) continue; /* unknown device */
            if (d.account == a && d.device == dev) continue;                            /* the sender itself */
            if (d.account != a && d.account != to.account) continue; /* neither party: not a DM fan-out */
            if (!deliver_copy(sim, a, dev, n, &to, d.account, d.device, d.lid, t)) delivered++;
        }
        return delivered;
    }
    if (!miaw_node_child(n, "enc")) return 0;
    /* device-directed (a retry resend): to a device JID, or to a user JID with
     * device_fanout="false" for device 0, which is written without ":0" */
    if (to.account && trc == 0 && (to.has_device || miaw_node_attr_is(n, "device_fanout", "false"))) {
        if (to.account == a && to.device == dev) return 0;
        miaw_sim_addr chat = to; /* the chat a resend to an own device belongs to */
        if (to.account == a && miaw_node_attr(n, "recipient") &&
            (miaw_sim_resolve_str(sim, miaw_node_attr(n, "recipient"), &chat) == MIAW_E_INVAL || !chat.account))
            chat = to;
        if (!deliver_copy(sim, a, dev, n, &chat, to.account, to.device, to.lid, n)) delivered++;
        return delivered;
    }
    /* a peer message from a companion to its own phone (app-state key requests) */
    if (to.account == a && dev != 0 && miaw_node_attr_is(n, "category", "peer")) {
        if (!deliver_copy(sim, a, dev, n, &to, a, 0, 0, n)) delivered++;
        return delivered;
    }
    /* a peer message the phone does not serve */
    MIAW_INFO("sim", "account %s: %s message %s without participants not delivered", a->phone,
              miaw_node_attr_is(n, "category", "peer") ? "peer" : "user-addressed", miaw_node_attr(n, "id"));
    return 0;
}

/* ------------------------------------------------------------------ receipts */

static int consumed_type(const char *type)
{
    static const char *t[] = {"sender", "peer_msg", "hist_sync", "server-error"};
    for (size_t i = 0; type && i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(type, t[i])) return 1;
    return 0;
}

void miaw_sim_route_receipt(miaw_sim *sim, miaw_sim_account *a, uint32_t dev, const miaw_node *n)
{
    const char *type = miaw_node_attr(n, "type");
    miaw_sim_addr to;
    miaw_jid tj;
    if (!miaw_node_attr(n, "id") || consumed_type(type) || miaw_node_attr_jid(n, "to", &tj)) return;
    if (!strcmp(tj.server, MIAW_SERVER_GROUP)) {
        miaw_sim_group_route_receipt(sim, a, dev, n);
        return;
    }
    if (miaw_sim_resolve(sim, &tj, &to) == MIAW_E_INVAL || !to.account) return;
    char jid[96];
    miaw_sim_jid_attr(a, dev, to.lid, jid, sizeof jid);
    miaw_node *r = miaw_node_newv("receipt", "from", jid, "id", miaw_node_attr(n, "id"), NULL);
    if (!r) return;
    miaw_node_set_attrf(r, "t", "%" PRIu64, miaw_sim_now());
    if (type) miaw_node_set_attr(r, "type", type);
    if (miaw_node_attr(n, "recipient")) miaw_node_set_attr(r, "recipient", miaw_node_attr(n, "recipient"));
    for (uint32_t i = 0; i < miaw_node_count(n); i++) miaw_node_add_copy(r, miaw_node_child_at(n, i));
    if (type && !strcmp(type, "retry")) { /* to exactly the device that sent the message (a user JID: the phone) */
        if (miaw_sim_addr_device(&to) && !(to.account == a && to.device == dev))
            miaw_sim_deliver(sim, to.account, to.device, r, "receipt");
    } else { /* delivery/read/played: every device of the sender's account but the reader */
        miaw_sim_account *b = to.account;
        if (!(b == a && dev == 0)) miaw_sim_deliver(sim, b, 0, r, "receipt");
        for (size_t i = 0; i < b->ndevices; i++) {
            uint32_t id = b->devices[i].id;
            if (!(b == a && id == dev)) miaw_sim_deliver(sim, b, id, r, "receipt");
        }
    }
    miaw_node_free(r);
}

/* ------------------------------------------------------------------ from connections */

static void server_ack(miaw_sim_conn *c, const miaw_node *n, const char *cls, const char *error)
{
    const miaw_attr *to = miaw_node_attr_get(n, "to");
    miaw_node *ack = miaw_node_newv("ack", "class", cls, "id", miaw_node_attr(n, "id"), NULL);
    if (!ack) return;
    if (to && to->jid) miaw_node_set_jid(ack, "from", to->jid);
    else if (to) miaw_node_set_attr(ack, "from", to->str);
    else miaw_node_set_jid_str(ack, "from", "@s.whatsapp.net");
    if (!strcmp(cls, "message")) miaw_node_set_attrf(ack, "t", "%" PRIu64, miaw_sim_now());
    if (miaw_node_attr(n, "type") && strcmp(cls, "message")) miaw_node_set_attr(ack, "type", miaw_node_attr(n, "type"));
    if (error) miaw_node_set_attr(ack, "error", error);
    send_and_free(c, ack);
}

int miaw_sim_route_on_node(miaw_sim_conn *c, const miaw_node *n)
{
    miaw_sim_device *d = c->account ? miaw_sim_device_find(c->account, c->device_id) : NULL;
    if (!strcmp(n->tag, "message")) {
        if (!d || !miaw_node_attr(n, "id")) return 1;
        int rc = miaw_sim_route_message(c->sim, c->account, c->device_id, n);
        /* 479: the stanza cannot be routed as addressed */
        server_ack(c, n, "message", rc == MIAW_E_INVAL || rc == MIAW_E_NOTSUP ? "479" : NULL);
        MIAW_DEBUG("sim", "conn %llu: message %s routed to %d devices", (unsigned long long)c->id,
                   miaw_node_attr(n, "id"), rc);
    } else if (!strcmp(n->tag, "receipt")) {
        if (!d || !miaw_node_attr(n, "id")) return 1;
        miaw_sim_queue_ack(d, "message", miaw_node_attr(n, "id"));
        const miaw_node *list = miaw_node_child(n, "list");
        for (miaw_node *it = list ? miaw_node_child(list, "item") : NULL; it; it = miaw_node_next(list, it, "item"))
            miaw_sim_queue_ack(d, "message", miaw_node_attr(it, "id"));
        server_ack(c, n, "receipt", NULL);
        miaw_sim_route_receipt(c->sim, c->account, c->device_id, n);
    } else if (!strcmp(n->tag, "ack")) {
        if (d && miaw_node_attr(n, "class")) miaw_sim_queue_ack(d, miaw_node_attr(n, "class"), miaw_node_attr(n, "id"));
    } else {
        return miaw_sim_presence_on_node(c, n); /* presence, chatstate */
    }
    return 1;
}

void miaw_sim_route_on_close(miaw_sim_conn *c) { miaw_sim_presence_on_close(c); }
