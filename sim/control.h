/* sim/control.h - the simulator's JSON control API under /sim (accounts, scan, state,
 * certificate) and the JSON response helpers other modules answer requests with.
 * Owns no state: it reads and changes the miaw_sim it is given. */
#ifndef MIAW_SIM_CONTROL_H
#define MIAW_SIM_CONTROL_H
#include <h2o.h>
#include <jansson.h>

#include "codec.h"
#include "sim.h"

/* Answer req with status and body (stolen; NULL = {}). Usable later than the handler. */
void miaw_sim_http_json(h2o_req_t *req, int status, json_t *body);
/* {"error":{"code","message"[,"field"]}} (new reference). */
json_t *miaw_sim_error_json(const char *code, const char *field, const char *message);

/* Handle a request whose path starts with /sim. Always answers (now or later). */
void miaw_sim_control(miaw_sim *sim, h2o_req_t *req);

#endif
