/* sim/route.h - the stanzas devices send each other through the server: 1:1 messages
 * fanned out to every listed device of the recipient and to the sender's other devices
 * (DSM copies with recipient), device-directed resends, peer messages to the phone,
 * the server ack, receipts routed back to the sender's devices (retry receipts to the
 * one device), acks clearing offline queues, presence subscriptions and chat states.
 * Owns nothing beyond a call; delivery goes through queue.h. Loop thread only. */
#ifndef MIAW_SIM_ROUTE_H
#define MIAW_SIM_ROUTE_H
#include "conn.h"

/* A <message> from device dev of account a (a companion's connection or the phone):
 * fanned out. Returns the number of devices it was delivered or queued to, or a
 * negative MIAW_E_* with *why (static) when the stanza is refused. */
int miaw_sim_route_message(miaw_sim *sim, miaw_sim_account *a, uint32_t dev, const miaw_node *n);
/* A <receipt> from device dev of a: routed. */
void miaw_sim_route_receipt(miaw_sim *sim, miaw_sim_account *a, uint32_t dev, const miaw_node *n);

/* Stanzas from a logged-in connection: message (server ack sent), receipt (acked),
 * ack, presence, chatstate. 1 if n was one of these. */
int miaw_sim_route_on_node(miaw_sim_conn *c, const miaw_node *n);
/* The account's presence subscribers and state, forgotten when a connection ends. */
void miaw_sim_route_on_close(miaw_sim_conn *c);
#endif
