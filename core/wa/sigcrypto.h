/* core/wa/sigcrypto.h - the OpenSSL 3 crypto provider for libsignal-protocol-c, and the
 * Curve25519/XEdDSA helpers built on it (raw 32-byte keys as WhatsApp puts them on the
 * wire). Owns nothing global except one lazily created shared signal_context. */
#ifndef MIAW_WA_SIGCRYPTO_H
#define MIAW_WA_SIGCRYPTO_H
#include <stddef.h>
#include <stdint.h>
#include <signal/signal_protocol.h>

/* A new signal_context with the OpenSSL provider installed. *out is owned by the caller:
 * free with signal_context_destroy(). Returns 0, MIAW_E_NOMEM or MIAW_E_INTERNAL. */
int miaw_signal_ctx_new(signal_context **out);

/* A process-wide context for stateless work (signatures, key import), created on first
 * use (thread-safe). Borrowed: never destroy it. NULL only if creation failed. */
signal_context *miaw_signal_ctx_shared(void);

/* Clamp a raw Curve25519 private key in place (libsignal does not clamp on import). */
void miaw_curve25519_clamp(uint8_t priv[32]);

/* Curve25519 key pair from 32 random bytes (clamped). Raw, no 0x05 prefix. */
typedef struct miaw_keypair {
    uint8_t pub[32];
    uint8_t priv[32];
} miaw_keypair;

/* Fresh random key pair. Returns 0 or a negative MIAW_E_* code. */
int miaw_keypair_generate(miaw_keypair *kp);
/* Key pair from a given private key (clamped into kp->priv). */
int miaw_keypair_from_private(miaw_keypair *kp, const uint8_t priv[32]);

/* XEdDSA signature (64 bytes) of msg with a raw private key. Returns 0 or MIAW_E_*. */
int miaw_xeddsa_sign(const uint8_t priv[32], const uint8_t *msg, size_t len, uint8_t sig[64]);
/* 0 if sig is a valid XEdDSA signature of msg under the raw public key, MIAW_E_AUTH if
 * not, another MIAW_E_* on internal failure. */
int miaw_xeddsa_verify(const uint8_t pub[32], const uint8_t *msg, size_t len,
                       const uint8_t *sig, size_t sig_len);
#endif
