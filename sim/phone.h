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
#include "wa/signal_session.h"

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
/* The same with the <message edit> attribute ("1" edit, "7" revoke; NULL = none). */
int miaw_sim_phone_send_message_ex(miaw_sim *sim, miaw_sim_account *a, const char *to,
                                   const struct Miaw__Wa__Message *m, const char *stanza_type, const char *mediatype,
                                   const char *edit, json_t *record, char *id, size_t cap, const char **why);

/* For the phone's group and retry paths (phone_group.c, phone_retry.c): */
/* The Signal address of device dev of b: the phone keys its sessions by LID ("<lid>_1"). */
void miaw_sim_phone_addr(const miaw_sim_account *b, uint32_t dev, miaw_sig_addr *out);
/* A new session of a with addr (device d of b) from a bundle popped from the directory.
 * 0 or MIAW_E_* / a Signal error. */
int miaw_sim_phone_session_from_dir(miaw_sim *sim, miaw_sim_account *a, miaw_sim_account *b, miaw_sim_device *d,
                                    const miaw_sig_addr *addr);
/* pt (padded) encrypted by a for device dev of b (a session from a fresh bundle when
 * there is none) and appended to parts as <to jid><enc/></to>; the jid is b's LID form
 * when lid. 0, MIAW_E_NOTFOUND (a device without keys) or MIAW_E_* / a Signal error. */
int miaw_sim_phone_encrypt_to(miaw_sim *sim, miaw_sim_account *a, miaw_sim_account *b, uint32_t dev, const uint8_t *pt,
                              size_t ptl, int lid, miaw_node *parts);
/* m serialized with WhatsApp's random padding (1..15 bytes of the pad length); malloc'd
 * (*len bytes), NULL when out of memory. */
uint8_t *miaw_sim_phone_padded(const struct Miaw__Wa__Message *m, size_t *len);

/* {"messages":[received…],"sent":[… with receipts]} (new reference). */
json_t *miaw_sim_phone_messages_json(miaw_sim_account *a);
#endif
