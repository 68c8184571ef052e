/* sim/phone_group.h - the simulated phones in groups: creating a group, sending group
 * text with Signal sender keys (the phone's SKDM pairwise-encrypted to every member
 * device, then one skmsg for all), decrypting what members send (SKDM processed before
 * the skmsg of the same stanza) with group receipts back, and the control routes
 * POST/GET /sim/accounts/{phone}/groups. Media sent to a group comes through
 * miaw_sim_phone_group_send (phone_media_send.c builds the message).
 * Owns nothing beyond a call: keys live in the phone's Signal store (phone.c), the
 * records in the account's inbox/outbox JSON. Loop thread only. */
#ifndef MIAW_SIM_PHONE_GROUP_H
#define MIAW_SIM_PHONE_GROUP_H
#include <h2o.h>
#include <jansson.h>

#include "group.h"

/* A <message from="<id>@g.us"> delivered to a's phone: decrypted, recorded, receipt. */
void miaw_sim_phone_group_on_message(miaw_sim *sim, miaw_sim_account *a, const miaw_node *n);

struct Miaw__Wa__Message;
/* a's phone sends m to group g as <message type=stanza_type> (the skmsg <enc> marked
 * mediatype when not NULL); record (taken, NULL = {}) is completed with id, to, chat,
 * timestamp and receipts and kept in the outbox. Results as send_text. */
int miaw_sim_phone_group_send(miaw_sim *sim, miaw_sim_account *a, miaw_sim_group *g, const struct Miaw__Wa__Message *m,
                              const char *stanza_type, const char *mediatype, json_t *record, char *id, size_t cap,
                              const char **why);

/* a's phone sends text to group g (a must be a member). 0 and the id in id (cap >= 32),
 * or MIAW_E_AUTH (not a member) / MIAW_E_NOTFOUND (no device reachable) / MIAW_E_*;
 * *why explains. */
int miaw_sim_phone_group_send_text(miaw_sim *sim, miaw_sim_account *a, miaw_sim_group *g, const char *text,
                                   char *id, size_t cap, const char **why);

/* POST /sim/accounts/{phone}/groups {"subject","participants":[phone or JID…]} (create),
 * or {"group","action","participants"} (the phone adds/removes/promotes/demotes), and
 * GET (the phone's groups): always answers req. */
void miaw_sim_phone_group_control(miaw_sim *sim, h2o_req_t *req, const char *phone, int post);
#endif
