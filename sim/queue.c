/* sim/queue.c - per-device delivery and offline queues: live send, queue while offline,
 * flush at login with offline="1" and the <ib><offline count/> marker, keep messages
 * until acknowledged, device 0 to the simulated phone. Owns the queue entries. */
#include "queue.h"

#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "base/log.h"
#include "miaw/plugin.h"
#include "phone.h"
#include "state.h"

static void entry_free(miaw_sim_queued *q)
{
    if (!q) return;
    free(q->node);
    free(q);
}

static int append(miaw_sim_device *d, const miaw_node *n, const char *kind, int sent)
{
    miaw_sim_queued *q = calloc(1, sizeof *q);
    if (!q) return MIAW_E_NOMEM;
    const char *id = miaw_node_attr(n, "id");
    snprintf(q->kind, sizeof q->kind, "%s", kind);
    snprintf(q->id, sizeof q->id, "%s", id ? id : "");
    q->sent = sent;
    if (miaw_node_encode_raw(n, &q->node, &q->node_len)) {
        free(q);
        return MIAW_E_NOMEM;
    }
    if (d->nqueue >= MIAW_SIM_QUEUE_MAX) { /* bounded: the oldest stanza goes */
        miaw_sim_queued *old = d->queue;
        d->queue = old->next;
        d->nqueue--;
        MIAW_WARN("sim", "device %u: offline queue full, dropped %s %s", d->id, old->kind, old->id);
        entry_free(old);
    }
    miaw_sim_queued **tail = &d->queue;
    while (*tail) tail = &(*tail)->next;
    *tail = q;
    d->nqueue++;
    return 0;
}

int miaw_sim_deliver(miaw_sim *sim, miaw_sim_account *a, uint32_t dev, const miaw_node *n, const char *kind)
{
    if (dev == 0) return strcmp(kind, "ephemeral") ? miaw_sim_phone_on_stanza(sim, a, n) : 0;
    miaw_sim_device *d = miaw_sim_device_find(a, dev);
    if (!d) return MIAW_E_NOTFOUND;
    miaw_sim_conn *c = d->conn;
    int live = c && c->state == MIAW_SIM_CONN_READY;
    int is_msg = !strcmp(kind, "message");
    if (live && miaw_sim_conn_send(c, n) == 0) {
        /* messages are kept until the device acknowledges them */
        int rc = is_msg ? append(d, n, kind, 1) : 0;
        miaw_sim_conn_flush(c);
        return rc;
    }
    if (!strcmp(kind, "ephemeral")) return 0; /* presence, chat state: live devices only */
    return append(d, n, kind, 0);
}

void miaw_sim_queue_flush_login(miaw_sim *sim, miaw_sim_device *d, miaw_sim_conn *c)
{
    (void)sim;
    unsigned count = 0;
    miaw_sim_queued **pp = &d->queue;
    while (*pp) {
        miaw_sim_queued *q = *pp;
        miaw_node *n = NULL;
        if (miaw_node_decode_raw(q->node, q->node_len, &n) == 0) {
            miaw_node_set_attr(n, "offline", "1");
            if (miaw_sim_conn_send(c, n) == 0) count++;
            miaw_node_free(n);
        }
        if (!strcmp(q->kind, "message")) { /* kept until acknowledged */
            q->sent = 1;
            pp = &q->next;
        } else {
            *pp = q->next;
            d->nqueue--;
            entry_free(q);
        }
    }
    miaw_node *ib = miaw_node_new("ib");
    miaw_node *off = ib ? miaw_node_add(ib, "offline") : NULL;
    if (off && !miaw_node_set_attrf(off, "count", "%u", count)) miaw_sim_conn_send(c, ib);
    miaw_node_free(ib);
    if (count) MIAW_INFO("sim", "conn %llu: %u offline stanzas delivered", (unsigned long long)c->id, count);
}

int miaw_sim_queue_ack(miaw_sim_device *d, const char *kind, const char *id)
{
    if (!d || !kind || !id) return 0;
    for (miaw_sim_queued **pp = &d->queue; *pp; pp = &(*pp)->next) {
        miaw_sim_queued *q = *pp;
        if (!strcmp(q->kind, kind) && !strcmp(q->id, id)) {
            *pp = q->next;
            d->nqueue--;
            entry_free(q);
            return 1;
        }
    }
    return 0;
}

void miaw_sim_queue_conn_lost(miaw_sim_device *d)
{
    for (miaw_sim_queued *q = d ? d->queue : NULL; q; q = q->next) q->sent = 0;
}

void miaw_sim_queue_clear(miaw_sim_device *d)
{
    while (d->queue) {
        miaw_sim_queued *q = d->queue;
        d->queue = q->next;
        entry_free(q);
    }
    d->nqueue = 0;
}

size_t miaw_sim_queue_total(const miaw_sim *sim)
{
    size_t n = 0;
    for (const miaw_sim_account *a = sim->accounts; a; a = a->next)
        for (size_t i = 0; i < a->ndevices; i++) n += a->devices[i].nqueue;
    return n;
}
