/* core/wa/appstate_crypto.h - the cryptography of WhatsApp's app-state sync (syncd):
 * the expansion of a 32-byte app-state sync key into its five keys, the LTHash (a
 * 128-byte summation hash over value MACs), index MACs, value MACs, snapshot MACs, patch
 * MACs and the AES-256-CBC value encryption. Used by the engine (core/engine) and by
 * miaw-sim's app-state server and phone. OpenSSL 3 only, no state, no I/O.
 *
 * Facts (public protocol):
 *   keys      HKDF-SHA256(keyData, no salt, "WhatsApp Mutation Keys", 160) split in five
 *             32-byte keys: index, value encryption, value MAC, snapshot MAC, patch MAC
 *   LTHash    each value MAC is expanded with HKDF-SHA256(no salt, "WhatsApp Patch
 *             Integrity", 128) and added to (or subtracted from) the state as 64
 *             little-endian uint16 lanes, modulo 2^16
 *   index MAC HMAC-SHA256(indexKey, index JSON bytes)
 *   value MAC first 32 bytes of HMAC-SHA512(valueMacKey, op || keyId || iv||ciphertext ||
 *             8-byte big-endian (1 + len(keyId))), op = 0x01 SET, 0x02 REMOVE
 *   snapshot  HMAC-SHA256(snapshotMacKey, lthash || uint64be(version) || collection name)
 *   patch     HMAC-SHA256(patchMacKey, snapshotMac || valueMac... || uint64be(version) ||
 *             collection name)
 *   value     iv(16) || AES-256-CBC-PKCS#7(valueEncryptionKey, iv, SyncActionData bytes)
 *
 * Ownership: outputs are caller-provided fixed buffers, except the malloc'd buffers
 * returned through uint8_t ** (the caller frees). Keys are plain values the caller
 * should wipe (miaw_as_keys_wipe). */
#ifndef MIAW_WA_APPSTATE_CRYPTO_H
#define MIAW_WA_APPSTATE_CRYPTO_H
#include <stddef.h>
#include <stdint.h>

#define MIAW_AS_HASH_LEN 128
#define MIAW_AS_MAC_LEN 32
#define MIAW_AS_KEY_LEN 32
#define MIAW_AS_OP_SET 0    /* SyncdMutation.SyncdOperation */
#define MIAW_AS_OP_REMOVE 1

typedef struct miaw_as_keys {
    uint8_t index[32];
    uint8_t value_enc[32];
    uint8_t value_mac[32];
    uint8_t snapshot_mac[32];
    uint8_t patch_mac[32];
} miaw_as_keys;

/* Expand keyData (any length, WhatsApp's are 32 bytes). 0 or MIAW_E_INVAL/_INTERNAL. */
int miaw_as_keys_expand(const uint8_t *key_data, size_t len, miaw_as_keys *out);
void miaw_as_keys_wipe(miaw_as_keys *k);

/* hash (128 bytes) += / -= the LTHash expansion of a 32-byte value MAC.
 * 0 or MIAW_E_INTERNAL (hash unchanged then). */
int miaw_as_lthash_add(uint8_t hash[MIAW_AS_HASH_LEN], const uint8_t value_mac[MIAW_AS_MAC_LEN]);
int miaw_as_lthash_sub(uint8_t hash[MIAW_AS_HASH_LEN], const uint8_t value_mac[MIAW_AS_MAC_LEN]);

/* HMAC-SHA256(indexKey, index). 0 or MIAW_E_INTERNAL. */
int miaw_as_index_mac(const miaw_as_keys *k, const uint8_t *index, size_t len, uint8_t out[MIAW_AS_MAC_LEN]);

/* The value MAC of enc (iv || ciphertext) for op (MIAW_AS_OP_*) under key id key_id
 * (1..254 bytes). 0, MIAW_E_INVAL (bad op or key id length) or MIAW_E_INTERNAL. */
int miaw_as_value_mac(const miaw_as_keys *k, int op, const uint8_t *key_id, size_t key_id_len,
                      const uint8_t *enc, size_t enc_len, uint8_t out[MIAW_AS_MAC_LEN]);

/* Snapshot MAC of (hash, version, name). 0 or MIAW_E_INVAL/_INTERNAL. */
int miaw_as_snapshot_mac(const miaw_as_keys *k, const uint8_t hash[MIAW_AS_HASH_LEN], uint64_t version,
                         const char *name, uint8_t out[MIAW_AS_MAC_LEN]);

/* Patch MAC over snapshot_mac, n value MACs (value_macs[i] points at 32 bytes each),
 * version and name. 0 or MIAW_E_INVAL/_INTERNAL. */
int miaw_as_patch_mac(const miaw_as_keys *k, const uint8_t snapshot_mac[MIAW_AS_MAC_LEN],
                      const uint8_t *const *value_macs, size_t n, uint64_t version, const char *name,
                      uint8_t out[MIAW_AS_MAC_LEN]);

/* Encrypt pt: *out = iv || ciphertext (malloc'd). iv NULL = a fresh random IV.
 * 0 or MIAW_E_NOMEM/_INTERNAL. */
int miaw_as_value_encrypt(const miaw_as_keys *k, const uint8_t *iv, const uint8_t *pt, size_t len,
                          uint8_t **out, size_t *out_len);
/* Decrypt enc = iv || ciphertext: *pt malloc'd (non-NULL even when empty). MIAW_E_INVAL
 * for a length that cannot be one, MIAW_E_AUTH for bad padding, MIAW_E_NOMEM/_INTERNAL. */
int miaw_as_value_decrypt(const miaw_as_keys *k, const uint8_t *enc, size_t len, uint8_t **pt, size_t *pt_len);
#endif
