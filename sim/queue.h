/* sim/queue.h - delivery of server stanzas to one device: straight to its live
 * connection, into its offline queue when it has none (flushed at its next login with
 * offline="1" and the <ib><offline count/> marker), to the simulated phone for device 0.
 * Messages stay queued until the device acknowledges them (receipt or ack), so a
 * connection lost before the ack gets them again at the next login.
 * Owns the miaw_sim_queued entries of every device (sim.h). Loop thread only. */
#ifndef MIAW_SIM_QUEUE_H
#define MIAW_SIM_QUEUE_H
#include "sim.h"
#include "wa/node.h"

/* Deliver n (borrowed; copied as needed) to device dev of account a. kind is the ack
 * class that would clear it ("message", "receipt", "notification"), or "ephemeral" for
 * what only live connections get (presence, chat state). Device 0 hands the
 * stanza to the phone (phone.c). Returns 0, MIAW_E_NOTFOUND (no such device) or
 * MIAW_E_NOMEM. The device's connection is flushed (a no-op inside its own callback). */
int miaw_sim_deliver(miaw_sim *sim, miaw_sim_account *a, uint32_t dev, const miaw_node *n,
                     const char *kind);

/* The device logged in on c: send everything queued with offline="1", then
 * <ib><offline count="N"/></ib>. */
void miaw_sim_queue_flush_login(miaw_sim *sim, miaw_sim_device *d, struct miaw_sim_conn *c);
/* The device acknowledged (kind, id): drop the matching entry. 1 if one was dropped. */
int miaw_sim_queue_ack(miaw_sim_device *d, const char *kind, const char *id);
/* The device's connection ended: entries sent on it become pending again. */
void miaw_sim_queue_conn_lost(miaw_sim_device *d);
/* Free every entry (unlink, shutdown). */
void miaw_sim_queue_clear(miaw_sim_device *d);
/* Entries queued for all devices (GET /sim/state). */
size_t miaw_sim_queue_total(const miaw_sim *sim);
#endif
