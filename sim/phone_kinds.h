/* sim/phone_kinds.h - the simulated phones and the message kinds beyond text and media:
 * reactions, edits (whatsmeow's editedMessage wrapper or Baileys' plain protocolMessage),
 * revokes ("delete for everyone"), locations and contact cards, sent through the control
 * API (POST /sim/accounts/{phone}/messages with a "reaction", "edit", "revoke",
 * "location", "contact" or "contacts" object) and described when received (with the
 * mentions and forwarding marks of any content); read / played receipts the phone sends
 * ("receipt" object). Sent 1:1 only; described in groups too.
 * Owns nothing beyond a call (records go to the phone's inbox/outbox). Loop thread only. */
#ifndef MIAW_SIM_PHONE_KINDS_H
#define MIAW_SIM_PHONE_KINDS_H
#include <h2o.h>
#include <jansson.h>

#include "sim.h"
#include "wa_message.pb-c.h"

/* m (a decrypted Message, DSM already unwrapped) is one of these kinds or carries
 * mentions / forwarding: sets on the record e "type" ("reaction", "edit", "revoke",
 * "location", "contact", "contacts") and the kind's object (see sim/README.md), and
 * "mentions", "forwarded", "forwardingScore". 1 when it added anything, else 0. */
int miaw_sim_phone_kinds_describe(const Miaw__Wa__Message *m, json_t *e);

/* POST /sim/accounts/{phone}/messages whose body (b, borrowed) holds one of the kinds'
 * objects: validated, sent like text (a receipt routed), answered (201 {"id"} or
 * {"receipts"}, 400, 404, 500); returns 1.
 * 0 (nothing answered) when b holds none of them. */
int miaw_sim_phone_kinds_post(miaw_sim *sim, h2o_req_t *req, miaw_sim_account *a, json_t *b);
#endif
