/* sim/phone.h - the simulated phone of each account (device 0) as a full Signal client:
 * identity (the account's identity key), signed pre-key and one-time pre-keys in a
 * Signal store keyed "phone:<number>" (sqlite: <state-dir>/phones.db, or in memory),
 * its public bundle in the account's `phone` record for pre-key fetches; decrypts what
 * is delivered to device 0 (kept for GET /sim/accounts/{phone}/messages, delivery
 * receipt sent back), encrypts and sends text to every device of a recipient and to its
 * own companions (deviceSentMessage).
 * Owns the sqlite handle, the Signal db, each account's store and its inbox/outbox JSON.
 * Loop thread only. */
#ifndef MIAW_SIM_PHONE_H
#define MIAW_SIM_PHONE_H
#include <jansson.h>

#include "sim.h"
#include "wa/node.h"

/* Open the phones' database (state dir or memory). 0 or MIAW_E_*; err gets a message. */
int miaw_sim_phones_open(miaw_sim *sim, char *err, size_t errcap);
/* Close every account's store and the database. */
void miaw_sim_phones_close(miaw_sim *sim);

/* Make sure a's phone has its keys (first use: signed pre-key and one-time pre-keys,
 * published in a->phone). 0 or MIAW_E_*. */
int miaw_sim_phone_open(miaw_sim *sim, miaw_sim_account *a);
/* One-time pre-keys ran low after a fetch: the phone publishes more. */
void miaw_sim_phone_refill(miaw_sim *sim, miaw_sim_account *a);

/* A stanza the server delivers to a's phone (message, receipt, notification; borrowed). */
int miaw_sim_phone_on_stanza(miaw_sim *sim, miaw_sim_account *a, const miaw_node *n);

/* The phone sends text to `to` (phone number or JID of an account). 0 and the message id
 * in id (cap >= 32), or MIAW_E_NOTFOUND (no such account) / MIAW_E_*; *why explains. */
int miaw_sim_phone_send_text(miaw_sim *sim, miaw_sim_account *a, const char *to, const char *text,
                             char *id, size_t cap, const char **why);

/* The phone sends Message m (borrowed) to `to` like send_text does: every device of the
 * recipient, a deviceSentMessage copy for its own companions; stanza_type is the
 * <message type> ("text", "media"), mediatype (or NULL) the <enc mediatype>. record
 * (stolen, may be NULL) is what the outbox keeps: id, to, timestamp and receipts are
 * added. Same results as send_text. */
struct Miaw__Wa__Message;
int miaw_sim_phone_send_message(miaw_sim *sim, miaw_sim_account *a, const char *to, const struct Miaw__Wa__Message *m,
                                const char *stanza_type, const char *mediatype, json_t *record, char *id, size_t cap,
                                const char **why);

/* {"messages":[received…],"sent":[… with receipts]} (new reference). */
json_t *miaw_sim_phone_messages_json(miaw_sim_account *a);
#endif
