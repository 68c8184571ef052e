/* sim/phone_retry.h - retry receipts for the simulated phones (protocol facts 8.4), both
 * ways: the retry receipt a phone sends when it cannot decrypt a message (retry count,
 * registration id, its bundle with a fresh one-time pre-key from the second attempt on),
 * and the phone's answer to a retry receipt for a 1:1 text it sent: the Signal session
 * with the requesting device rebuilt from the bundle in the receipt (or a freshly popped
 * one), the text re-encrypted for that one device (a deviceSentMessage for the phone's
 * own companions) and sent alone with device_fanout="false" and the count on the <enc>.
 * Owns nothing beyond a call: keys live in the phone's Signal store (phone.c), the sent
 * messages in the account's outbox JSON. Loop thread only. */
#ifndef MIAW_SIM_PHONE_RETRY_H
#define MIAW_SIM_PHONE_RETRY_H
#include "sim.h"
#include "wa/node.h"

/* Retries a phone asks for per message before giving up (Baileys' limit). */
#define MIAW_SIM_PHONE_MAX_RETRY_RECEIPTS 5
/* Retry receipts per sent message a phone answers (whatsmeow ignores more). */
#define MIAW_SIM_PHONE_MAX_RESENDS 10

/* The retry receipt a's phone sends for message msg (borrowed), which it failed to
 * decrypt (already recorded in its inbox with an error: the count is the number of such
 * records for the id); NULL when the count is over the limit or on failure. The caller
 * owns the node. */
miaw_node *miaw_sim_phone_retry_receipt(miaw_sim *sim, miaw_sim_account *a, const miaw_node *msg);

/* A <receipt type="retry"> delivered to a's phone (borrowed): the message it names is
 * encrypted again for the requesting device and sent. 0, or MIAW_E_NOTFOUND (not a 1:1
 * message the phone sent, or an unknown device), MIAW_E_LIMIT (too many retries),
 * MIAW_E_INVAL, or a Signal error. */
int miaw_sim_phone_on_retry(miaw_sim *sim, miaw_sim_account *a, const miaw_node *receipt);
#endif
