/* sim/state.h - the simulator's persistent state: key material (root, intermediate,
 * server static) and the certificate chain built from it, accounts and their linked
 * devices with pre-keys; loaded from and saved to <state-dir>/state.json (0600) when a
 * state directory is given, in memory otherwise. Owns every record in miaw_sim.
 *
 * Ownership: miaw_sim_state_open fills a caller-provided miaw_sim (usually static);
 * miaw_sim_state_close frees what it allocated. Returned account/device pointers are
 * borrowed and stay valid until the record is removed or the state closed. */
#ifndef MIAW_SIM_STATE_H
#define MIAW_SIM_STATE_H
#include <jansson.h>

#include "sim.h"

/* Load <dir>/state.json or generate fresh keys (and write them) when it does not exist.
 * dir NULL = in memory. Returns 0, or a negative MIAW_E_* with a message in err. */
int miaw_sim_state_open(miaw_sim *sim, uv_loop_t *loop, const char *dir, char *err, size_t errcap);
void miaw_sim_state_close(miaw_sim *sim);
/* Write the state file now (no-op in memory). 0 or MIAW_E_IO. */
int miaw_sim_state_save(miaw_sim *sim);

/* 1 when phone is 5..20 decimal digits without a leading zero. */
int miaw_sim_phone_valid(const char *phone);
/* New account with a fresh identity, LID and rawId. MIAW_E_EXIST if the phone is taken,
 * MIAW_E_INVAL for a bad phone or name. *out borrowed. */
int miaw_sim_account_add(miaw_sim *sim, const char *phone, const char *name,
                         miaw_sim_account **out);
miaw_sim_account *miaw_sim_account_find(miaw_sim *sim, const char *phone);
/* Account by its LID user part (digits). */
miaw_sim_account *miaw_sim_account_find_lid(miaw_sim *sim, const char *lid);
miaw_sim_device *miaw_sim_device_find(miaw_sim_account *a, uint32_t id);
/* Append a device record (copied; its adv/prekeys pointers are taken over). NULL when full. */
miaw_sim_device *miaw_sim_device_add(miaw_sim_account *a, const miaw_sim_device *d);
/* Remove the companion record with this id (its memory freed; queue cleared first by
 * the caller). Pointers to later devices of the account move. */
void miaw_sim_device_remove(miaw_sim_account *a, uint32_t id);
/* Store pre-keys (replacing ones with the same id). 0 or MIAW_E_NOMEM / MIAW_E_LIMIT. */
int miaw_sim_prekeys_put(miaw_sim_device *d, const miaw_sim_prekey *keys, size_t n);

/* JSON view for GET /sim/state (new reference). */
json_t *miaw_sim_state_json(const miaw_sim *sim);
/* "<phone>:<dev>@s.whatsapp.net" / "<lid>:<dev>@lid" into buf. */
void miaw_sim_device_jid(const miaw_sim_account *a, uint32_t dev, int lid, char *buf, size_t cap);
#endif
