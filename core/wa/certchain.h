/* core/wa/certchain.h - the Noise server certificate chain (CertChain: a leaf signed by an
 * intermediate, the intermediate signed by a root key, XEdDSA over the serialized Details):
 * create it (server role, miaw-sim) and verify it (client role) against a configurable
 * root public key. Owns no state.
 * Ownership: *out buffers are malloc'd for the caller (free()); inputs are borrowed. */
#ifndef MIAW_WA_CERTCHAIN_H
#define MIAW_WA_CERTCHAIN_H
#include <stddef.h>
#include <stdint.h>

/* WhatsApp's long-term root ("WhatsAppLongTerm1", serial 0), Curve25519. */
extern const uint8_t miaw_wa_root_pub[32];

typedef struct miaw_certchain_spec {
    const uint8_t *root_priv;          /* 32 bytes: signs the intermediate */
    const uint8_t *intermediate_priv;  /* 32 bytes: its public key is the intermediate's
                                          key; it signs the leaf */
    const uint8_t *leaf_pub;           /* 32 bytes: the server's Noise static public */
    uint32_t intermediate_serial;      /* e.g. 1; its issuerSerial is 0 (the root) */
    uint32_t leaf_serial;              /* e.g. 2; its issuerSerial = intermediate_serial */
    uint64_t not_before;               /* unix seconds, both certificates */
    uint64_t not_after;
} miaw_certchain_spec;

/* Serialized CertChain. Returns 0, MIAW_E_INVAL (missing key), MIAW_E_NOMEM or
 * MIAW_E_INTERNAL. */
int miaw_certchain_create(const miaw_certchain_spec *spec, uint8_t **out, size_t *out_len);

/* Verify a serialized CertChain as the strictest reference client does: both certificates
 * present with 64-byte signatures; intermediate signed by root_pub with issuerSerial 0 and
 * a 32-byte key; leaf signed by the intermediate key with issuerSerial = intermediate
 * serial; now within both validity windows; leaf key == server_static (if not NULL).
 * Returns 0, MIAW_E_INVAL (not a CertChain) or MIAW_E_AUTH; *why (optional) gets a static
 * string naming the failed check. */
int miaw_certchain_verify(const uint8_t *chain, size_t len, const uint8_t root_pub[32],
                          const uint8_t *server_static, uint64_t now, const char **why);
#endif
