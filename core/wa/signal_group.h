/* core/wa/signal_group.h - group messages with Signal sender keys: the own sender key
 * per group and its distribution message (SKDM), processing a received SKDM, and
 * skmsg encryption/decryption. Owns nothing beyond each call; the keys live in the
 * account's sender-key store, keyed by (group JID string, sender address).
 *
 * Wire forms (protocol facts 9.5): SKDM = 0x33 || protobuf{id, iteration, chainKey,
 * signingKey (33 bytes, 0x05-prefixed)}; skmsg = 0x33 || protobuf{id, iteration,
 * ciphertext} || 64-byte XEdDSA signature. The SKDM travels inside a pairwise
 * Message.senderKeyDistributionMessage{groupId, axolotlSenderKeyDistributionMessage}
 * (wamsg.h builds that). group is the group JID string, e.g. "1203630@g.us"; self /
 * sender is the device address (signal_session.h: the LID address when known). */
#ifndef MIAW_WA_SIGNAL_GROUP_H
#define MIAW_WA_SIGNAL_GROUP_H
#include <stddef.h>
#include <stdint.h>

#include "wa/signal_session.h"

/* The own SKDM for group (creating the sender key on first use). *out malloc'd.
 * 0 or MIAW_E_*. */
int miaw_sig_group_skdm(miaw_sig_store *s, const char *group, const miaw_sig_addr *self,
                        uint8_t **out, size_t *out_len);
/* Forget the own sender key of group (the next miaw_sig_group_skdm makes a new one,
 * which every member must then receive). */
int miaw_sig_group_rotate(miaw_sig_store *s, const char *group, const miaw_sig_addr *self);

/* Store a received SKDM of sender for group. 0, MIAW_SIG_E_INVALID, MIAW_SIG_E_BAD_KEY
 * or MIAW_E_*. */
int miaw_sig_group_process_skdm(miaw_sig_store *s, const char *group, const miaw_sig_addr *sender,
                                const uint8_t *skdm, size_t len);

/* Encrypt padded plaintext once for the whole group (creates the sender key when
 * absent: distribute miaw_sig_group_skdm first). *out malloc'd. 0 or MIAW_E_*. */
int miaw_sig_group_encrypt(miaw_sig_store *s, const char *group, const miaw_sig_addr *self,
                           const uint8_t *pt, size_t len, uint8_t **out, size_t *out_len);

/* Decrypt an skmsg of sender in group. *out malloc'd (still padded). 0, or
 * MIAW_SIG_E_NO_SESSION (no sender key from that sender: ask for a retry),
 * MIAW_SIG_E_DUPLICATE, MIAW_SIG_E_INVALID (garbage, bad signature), MIAW_E_*.
 * No state changes on failure. */
int miaw_sig_group_decrypt(miaw_sig_store *s, const char *group, const miaw_sig_addr *sender,
                           const uint8_t *ct, size_t len, uint8_t **out, size_t *out_len);
#endif
