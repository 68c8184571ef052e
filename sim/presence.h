/* sim/presence.h - presence and chat state in the simulated network (fact sheet 11.1,
 * 11.2, 14.6): <presence type="available|unavailable" name> from connections and phones,
 * an account's availability (any live connection or its phone online) and last seen,
 * subscriptions (<presence type="subscribe" to>: answered at once, later changes pushed to
 * the subscribers, connections and phones), <chatstate to> routed to the peer's devices
 * (groups: group_route.c), and the phone's side for the control API
 * (/sim/accounts/{phone}/presence: go online/offline, type, record, pause, subscribe, hide
 * the last seen time; see what it received). The phone's presence state is a json_t object owned by its account
 * (account->presence, freed with miaw_sim_presence_free); nothing is persisted. Loop
 * thread only. */
#ifndef MIAW_SIM_PRESENCE_H
#define MIAW_SIM_PRESENCE_H
#include <h2o.h>

#include "conn.h"
#include "sim.h"

/* <presence> and <chatstate> from a logged-in connection: routed. 1 if n was one. */
int miaw_sim_presence_on_node(miaw_sim_conn *c, const miaw_node *n);
/* connection c ends: the account may become unavailable (subscribers told). */
void miaw_sim_presence_on_close(miaw_sim_conn *c);
/* a <presence> or <chatstate> (n, borrowed) delivered to a's phone: recorded. */
void miaw_sim_presence_phone_saw(miaw_sim_account *a, const miaw_node *n);
/* GET / POST /sim/accounts/{phone}/presence. Always answers. */
void miaw_sim_presence_control(miaw_sim *sim, h2o_req_t *req, const char *phone, int post);
/* frees a->presence */
void miaw_sim_presence_free(miaw_sim_account *a);
#endif
