/* sim/pair.h - QR pairing on the server side and the simulated phone: pair-device refs
 * for a registering connection, the phone's scan (ADV device identity: HMAC with the
 * companion's adv secret, account signature by the phone's identity key), pair-success,
 * the companion's pair-device-sign (device signature checked), the device's record and
 * the 515 stream error that makes the companion log in again.
 * Owns the pairing fields of miaw_sim_reg and the pending scan requests. */
#ifndef MIAW_SIM_PAIR_H
#define MIAW_SIM_PAIR_H
#include <h2o.h>

#include "conn.h"
#include "codec.h"
#include "wa_client_payload.pb-c.h"

/* Registration payload received: remember its keys, send <pair-device> with fresh refs.
 * Returns 0, or MIAW_E_INVAL when the pairing data is incomplete (caller fails the login). */
int miaw_sim_pair_start(miaw_sim_conn *c, const Miaw__Wa__ClientPayload__DevicePairingRegistrationData *d);

/* The phone of `a` scans `qr`. On success the pair-success IQ is queued and the HTTP
 * request `req` is answered later (200 {"deviceJid","lid"} once the companion signed, or
 * an error); returns 0. Otherwise returns an HTTP status (404 no such QR ref, 400 keys do
 * not match, 409 busy/full) with *why, and req is left to the caller. */
int miaw_sim_pair_scan(miaw_sim *sim, miaw_sim_account *a, const miaw_sim_qr *qr, h2o_req_t *req,
                       const char **why);

/* The phone of `a` adopts the registering connection c (QR scan or link code): checks,
 * ADV identity under adv_secret, pair-success; then as miaw_sim_pair_scan. platform: the
 * companion's platform id ("1"). */
int miaw_sim_pair_offer(miaw_sim_conn *c, miaw_sim_account *a, const uint8_t adv_secret[32], const char *platform,
                        h2o_req_t *req, const char **why);

/* An <iq type="result|error"> from a registering connection. 1 if it was ours. */
int miaw_sim_pair_on_iq_reply(miaw_sim_conn *c, const miaw_node *iq);
/* Pairing timer fired (companion never answered pair-success). */
void miaw_sim_pair_on_timeout(miaw_sim_conn *c);
/* Connection ended: fail a pending scan. */
void miaw_sim_pair_on_close(miaw_sim_conn *c);

#define MIAW_SIM_TIMER_PAIR 1
#endif
