/* core/wa/noise.h - WhatsApp's Noise_XX_25519_AESGCM_SHA256: the handshake state machine
 * in both roles (client = companion instance, server = miaw-sim) exchanging
 * HandshakeMessage protobufs, and the transport cipher (AES-256-GCM, 32-bit counters)
 * that follows. Owns handshake secrets and transport keys; framing is frame.h's job.
 *
 * Ownership: a miaw_noise_hs is created by miaw_noise_client_new/miaw_noise_server_new and
 * freed (secrets wiped) by miaw_noise_hs_free. Every uint8_t **out is malloc'd for the
 * caller, who frees it with free(). Input buffers are borrowed for the call only.
 * Errors: MIAW_E_INVAL malformed input, MIAW_E_AUTH decryption/certificate failure,
 * MIAW_E_STATE call out of order, MIAW_E_LIMIT counter exhausted, MIAW_E_NOMEM,
 * MIAW_E_INTERNAL (OpenSSL failure). After any error a handshake is dead: free it. */
#ifndef MIAW_WA_NOISE_H
#define MIAW_WA_NOISE_H
#include <stddef.h>
#include <stdint.h>

#include "wa/sigcrypto.h"

/* "WA", magic 6, dictionary version 3: the prologue and the first client frame's intro. */
extern const uint8_t miaw_noise_wa_header[4];

#define MIAW_NOISE_TAG_LEN 16

typedef struct miaw_noise_hs miaw_noise_hs;

typedef struct miaw_noise_client_opts {
    /* Trusted root for the server certificate chain (32 bytes, copied); NULL = WhatsApp's
     * root (miaw_wa_root_pub). The simulator's root goes here for local tests. */
    const uint8_t *root_pub;
    /* Skip certificate-chain verification. Only for fixed test vectors whose payload is
     * not a chain; never set by the engine. */
    int skip_cert_verify;
    /* Unix seconds for certificate validity checks; 0 = time(NULL). */
    uint64_t now;
    /* Fixed ephemeral private key (32 bytes, copied) for test vectors; NULL = random. */
    const uint8_t *ephemeral_priv;
} miaw_noise_client_opts;

/* Client role. static_kp is the device's Noise static key pair (copied). opts may be NULL.
 * Returns NULL on allocation or key failure. */
miaw_noise_hs *miaw_noise_client_new(const miaw_keypair *static_kp,
                                     const miaw_noise_client_opts *opts);
/* Step 1: serialized HandshakeMessage{clientHello}. Frame it with the intro header. */
int miaw_noise_client_hello(miaw_noise_hs *hs, uint8_t **out, size_t *out_len);
/* Step 2: consume HandshakeMessage{serverHello}: decrypt the server static key and the
 * certificate chain and verify the chain (root, serials, dates, leaf key == static). */
int miaw_noise_client_read_server_hello(miaw_noise_hs *hs, const uint8_t *msg, size_t len);
/* Step 3: serialized HandshakeMessage{clientFinish} carrying our static key and the
 * encrypted ClientPayload bytes. Afterwards call miaw_noise_split. */
int miaw_noise_client_finish(miaw_noise_hs *hs, const uint8_t *client_payload,
                             size_t payload_len, uint8_t **out, size_t *out_len);

/* Server role. static_kp: the server's Noise static key pair (copied); cert_chain: the
 * serialized CertChain whose leaf key is static_kp->pub (copied). ephemeral_priv: NULL =
 * random, else 32 bytes (tests). */
miaw_noise_hs *miaw_noise_server_new(const miaw_keypair *static_kp, const uint8_t *cert_chain,
                                     size_t cert_len, const uint8_t *ephemeral_priv);
/* Step 1: consume HandshakeMessage{clientHello} (payload of the first frame, intro and
 * optional routing prefix already stripped by the frame reader). */
int miaw_noise_server_read_client_hello(miaw_noise_hs *hs, const uint8_t *msg, size_t len);
/* Step 2: serialized HandshakeMessage{serverHello}. */
int miaw_noise_server_hello(miaw_noise_hs *hs, uint8_t **out, size_t *out_len);
/* Step 3: consume HandshakeMessage{clientFinish}; *payload gets the decrypted ClientPayload
 * bytes (caller frees). The client's static key is then miaw_noise_remote_static(). */
int miaw_noise_server_read_client_finish(miaw_noise_hs *hs, const uint8_t *msg, size_t len,
                                         uint8_t **payload, size_t *payload_len);

/* The peer's static public key (32 bytes, owned by hs) once known, else NULL. */
const uint8_t *miaw_noise_remote_static(const miaw_noise_hs *hs);
/* The handshake hash h (32 bytes, owned by hs). */
const uint8_t *miaw_noise_handshake_hash(const miaw_noise_hs *hs);
void miaw_noise_hs_free(miaw_noise_hs *hs);

/* Transport state after the handshake. Plain struct, no heap: wipe with
 * miaw_noise_transport_wipe when done. Counters are per direction, start at 0 and the
 * 12-byte IV is 8 zero bytes + the counter big-endian. */
typedef struct miaw_noise_transport {
    uint8_t write_key[32];
    uint8_t read_key[32];
    uint64_t write_n;
    uint64_t read_n;
} miaw_noise_transport;

/* Derive the transport keys (client writes with the first half, server with the second).
 * Only valid after client_finish (client) / read_client_finish (server). */
int miaw_noise_split(const miaw_noise_hs *hs, miaw_noise_transport *t);
/* out must hold len + 16 bytes. Advances write_n. */
int miaw_noise_encrypt(miaw_noise_transport *t, const uint8_t *pt, size_t len, uint8_t *out);
/* out must hold len - 16 bytes; *out_len = len - 16. Advances read_n even when the frame
 * fails authentication (MIAW_E_AUTH), as both reference clients do. */
int miaw_noise_decrypt(miaw_noise_transport *t, const uint8_t *ct, size_t len, uint8_t *out,
                       size_t *out_len);
void miaw_noise_transport_wipe(miaw_noise_transport *t);

/* Primitives, exposed for tests and other modules. */
/* X25519 with raw 32-byte keys; rejects an all-zero shared secret (MIAW_E_AUTH). */
int miaw_x25519(uint8_t out[32], const uint8_t priv[32], const uint8_t pub[32]);
/* HKDF-SHA256(salt, ikm, info) -> out_len bytes (at most 255*32). */
int miaw_hkdf_sha256(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
                     const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len);
/* AES-256-GCM with a 12-byte IV; enc: out = ct||tag (len+16); dec: out = pt (len-16). */
int miaw_aes_gcm(int enc, const uint8_t key[32], const uint8_t iv[12], const uint8_t *aad,
                 size_t aad_len, const uint8_t *in, size_t len, uint8_t *out);
#endif
