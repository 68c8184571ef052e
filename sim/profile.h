/* sim/profile.h - profiles on the simulated network (facts 11.4, 11.5, 11.7): profile
 * pictures (a full image and a preview per account, an id, a privacy switch that hides
 * them from everyone else), the about text set with the `status` IQ, block lists
 * (`blocklist` IQ get/set, `account_sync` notification to the account's companions),
 * the `w:profile:picture` IQs, the pictures served over plain HTTP on the control port
 * (GET /sim/pps/{phone}/{id}/{image|preview}.jpg) and the /sim/profile/{phone} control
 * endpoint. Records are kept in <state-dir>/profiles.json (0600) when the simulator has
 * a state directory.
 *
 * Ownership: module state, one per process (like the media host); records belong to it
 * and are freed by miaw_sim_profile_close. Loop thread only. */
#ifndef MIAW_SIM_PROFILE_H
#define MIAW_SIM_PROFILE_H
#include <h2o.h>

#include "conn.h"
#include "sim.h"

#define MIAW_SIM_PICTURE_MAX (1u << 20) /* bytes of one picture (image or preview) */
#define MIAW_SIM_BLOCKLIST_MAX 1024     /* entries per account */

/* The base of picture URLs, e.g. "http://127.0.0.1:40123" (copied; set once listening). */
void miaw_sim_profile_set_base(const char *base);
/* Free every record (at exit). */
void miaw_sim_profile_close(void);

/* w:profile:picture get/set, status set, blocklist get/set: answered, 1; anything else 0. */
int miaw_sim_profile_on_iq(miaw_sim_conn *c, const miaw_node *iq, const char *xmlns, const char *type);

/* <presence name> from a logged-in device: the account's push name (what `notify` carries
 * on its messages, and <success display_name>) becomes that name. */
void miaw_sim_profile_on_presence(miaw_sim_conn *c, const miaw_node *presence);

/* A <message> from c to a user who blocked c's account: acknowledged as WhatsApp does
 * (the sender sees it sent) and dropped, 1; anything else 0 (routed as usual). */
int miaw_sim_profile_drop_blocked(miaw_sim_conn *c, const miaw_node *message);

/* The picture id `viewer` may see on `target` (usync <picture id>): 1 with *id, else 0
 * (no picture, hidden, or the viewer is blocked by the target). viewer NULL = anyone. */
int miaw_sim_profile_picture_id(miaw_sim *sim, const miaw_sim_account *target, const miaw_sim_account *viewer,
                                uint32_t *id);
/* 1 when `owner` blocked the user `other` (by phone number). */
int miaw_sim_profile_blocked(miaw_sim *sim, const miaw_sim_account *owner, const miaw_sim_account *other);

/* GET /sim/pps/… and GET|POST /sim/profile/{phone}: answered, 1; other paths 0. */
int miaw_sim_profile_control(miaw_sim *sim, h2o_req_t *req);
#endif
