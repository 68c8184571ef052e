/* core/wa/wamsg.h - WhatsApp's plaintext framing inside Signal (pkmsg, msg and skmsg of
 * <enc v="2">): Message protobuf || pad, pad = n bytes each equal to n (protocol facts
 * 7.4). We pad with n in 1..15 (whatsmeow's choice; Baileys sends 1..16); unpadding
 * accepts any 1 <= n <= length whose n trailing bytes all equal n. Also builds the
 * pairwise Message that carries a sender-key distribution message. Owns nothing:
 * buffers returned through out-parameters are malloc'd and freed by the caller;
 * decoded messages are freed with miaw__wa__message__free_unpacked(m, NULL). */
#ifndef MIAW_WA_WAMSG_H
#define MIAW_WA_WAMSG_H
#include <stddef.h>
#include <stdint.h>

#include "wa_message.pb-c.h"

#define MIAW_WAMSG_PAD_MAX 15

/* msg || n bytes of n, n random in 1..15. *out malloc'd. 0 or MIAW_E_*. */
int miaw_wamsg_pad(const uint8_t *msg, size_t len, uint8_t **out, size_t *out_len);
/* Same with a given n (1..255), for tests and peers that must match a length. */
int miaw_wamsg_pad_n(const uint8_t *msg, size_t len, unsigned n, uint8_t **out, size_t *out_len);
/* Validate the padding of buf and give the message length (buf[0..*msg_len)).
 * 0, or MIAW_E_INVAL (empty, n == 0, n > len, a pad byte != n). */
int miaw_wamsg_unpad(const uint8_t *buf, size_t len, size_t *msg_len);

/* Serialize m and pad it: the plaintext to give to miaw_sig_encrypt / group encrypt. */
int miaw_wamsg_encode(const Miaw__Wa__Message *m, uint8_t **out, size_t *out_len);
/* Unpad and parse a decrypted plaintext. 0 and *out, or MIAW_E_INVAL (bad padding or
 * protobuf). */
int miaw_wamsg_decode(const uint8_t *pt, size_t len, Miaw__Wa__Message **out);

/* The padded plaintext of Message{senderKeyDistributionMessage{groupId = group,
 * axolotlSenderKeyDistributionMessage = skdm}} (facts 9.4 step 5). */
int miaw_wamsg_encode_skdm(const char *group, const uint8_t *skdm, size_t skdm_len, uint8_t **out,
                           size_t *out_len);
#endif
