/* sim/linkcode.h - pairing by phone-number code on the server side and the simulated
 * phone (facts section 5.6): the companion's companion_hello (answered with a pairing
 * ref), the phone's user typing the code (POST /sim/accounts/{phone}/link-code: the
 * phone's wrapped ephemeral key goes to the companion in a link_code_companion_reg
 * notification), the companion's companion_finish (key bundle opened, adv secret
 * derived), then pair-success as after a QR scan (pair.c).
 *
 * Ownership: the link-code state of a registering connection hangs off c->reg.linkcode
 * (malloc'd here, freed by miaw_sim_linkcode_on_close); a waiting control request lives
 * in its h2o pool. Loop thread only. */
#ifndef MIAW_SIM_LINKCODE_H
#define MIAW_SIM_LINKCODE_H
#include <h2o.h>

#include "conn.h"

#define MIAW_SIM_TIMER_LINKCODE 2
#define MIAW_SIM_LINKCODE_TIMEOUT_MS 30000

/* <iq xmlns="md" type="set"><link_code_companion_reg stage=…>: answered (result or
 * error). 1 if iq was one, 0 otherwise. */
int miaw_sim_linkcode_on_iq(miaw_sim_conn *c, const miaw_node *iq);

/* POST /sim/accounts/{phone}/link-code {"code"}: always answers req (now or later). */
void miaw_sim_linkcode_control(miaw_sim *sim, h2o_req_t *req, const char *phone);

/* The companion did not send companion_finish in time. */
void miaw_sim_linkcode_on_timeout(miaw_sim_conn *c);
/* The connection ended: fail a waiting request, free the state. */
void miaw_sim_linkcode_on_close(miaw_sim_conn *c);
#endif
