/* core/wa/signal_keys.h - an account's Signal key material for registration and pre-key
 * service: identity + registration id, signed pre-key, batches of one-time pre-keys, and
 * pre-key bundles in the byte form WhatsApp nodes carry (reading and writing the nodes).
 * Owns no state: everything lives in the account's miaw_sig_store.
 *
 * Wire form of a bundle (protocol facts 6.1, 6.3, 8.4), all node contents raw bytes:
 *   <registration> 4 bytes, registration id big-endian
 *   <type>         1 byte 0x05 (Curve25519)
 *   <identity>     32 bytes: the identity public key WITHOUT the 0x05 prefix
 *   <skey><id> 3 bytes BE </id><value> 32 bytes, no prefix </value>
 *         <signature> 64 bytes XEdDSA by the identity over 05 || value </signature></skey>
 *   <key><id> 3 bytes BE </id><value> 32 bytes, no prefix </value></key>  (optional)
 * Inside Signal messages keys carry the 0x05 prefix (33 bytes); libsignal adds it.
 * Pre-key ids are 24-bit: generated ids run 1..0xFFFFFF and wrap back to 1. */
#ifndef MIAW_WA_SIGNAL_KEYS_H
#define MIAW_WA_SIGNAL_KEYS_H
#include <stddef.h>
#include <stdint.h>

#include "wa/node.h"
#include "wa/signal_store.h"

#define MIAW_SIG_PREKEY_ID_MAX 0xFFFFFFu

/* A pre-key bundle as WhatsApp carries it (raw 32-byte keys). Plain value type. */
typedef struct miaw_sig_bundle {
    uint32_t reg_id;
    uint8_t identity[32];
    uint32_t spk_id;
    uint8_t spk_pub[32];
    uint8_t spk_sig[64];
    int has_prekey; /* the one-time pre-key is optional (exhausted on the server) */
    uint32_t prekey_id;
    uint8_t prekey_pub[32];
} miaw_sig_bundle;

/* Fresh identity key pair and 14-bit registration id (1..16380) for the account, unless
 * it has one and replace is 0 (then nothing changes). 0 or MIAW_E_*. */
int miaw_sig_generate_identity(miaw_sig_store *s, int replace);
/* A new signed pre-key with id (0 = current id + 1, wrapping in 1..0xFFFFFF), signed by
 * the identity; becomes the current one. *id_out (optional) gets the id. */
int miaw_sig_generate_signed_prekey(miaw_sig_store *s, uint32_t id, uint32_t *id_out);
/* n new one-time pre-keys with increasing ids from the account's counter; *first_id gets
 * the first (ids first, first+1, ... wrapping 0xFFFFFF -> 1). 0 or MIAW_E_*. */
int miaw_sig_generate_prekeys(miaw_sig_store *s, uint32_t n, uint32_t *first_id);
/* Public key and signature of signed pre-key id (0 = the current one). */
int miaw_sig_signed_prekey_get(miaw_sig_store *s, uint32_t id, uint32_t *id_out,
                               uint8_t pub[32], uint8_t sig[64]);

/* The account's own bundle with the current signed pre-key and, when prekey_id != 0,
 * that one-time pre-key (MIAW_E_NOTFOUND if it is gone). */
int miaw_sig_own_bundle(miaw_sig_store *s, uint32_t prekey_id, miaw_sig_bundle *out);

/* Append the bundle's children to parent in fetch-response order: registration (when
 * with_registration), type, identity, skey, key (when has_prekey). 0 or MIAW_E_*. */
int miaw_sig_bundle_to_node(const miaw_sig_bundle *b, int with_registration, miaw_node *parent);
/* Read a bundle from keys (a fetch response's <user>, or a retry receipt's <keys>);
 * <registration> is read from reg_holder when given (the retry receipt), else from keys.
 * Checks lengths and type 0x05. 0 or MIAW_E_INVAL. */
int miaw_sig_bundle_from_node(const miaw_node *keys, const miaw_node *reg_holder,
                              miaw_sig_bundle *out);
/* Append the pre-key upload children (6.1) for one-time pre-keys first..first+n-1 (ids
 * wrapping as above) to parent (the <iq xmlns="encrypt" type="set">): registration,
 * type, identity, list of key, skey (the current signed pre-key). 0 or MIAW_E_*. */
int miaw_sig_upload_to_node(miaw_sig_store *s, uint32_t first, uint32_t n, miaw_node *parent);
#endif
