/* core/wa/sigcrypto.c - libsignal-protocol-c crypto callbacks implemented with OpenSSL 3
 * EVP (HMAC-SHA256, SHA-512, AES-CBC/CTR, RAND), Curve25519 key pairs (OpenSSL X25519) and
 * XEdDSA helpers on top of libsignal's curve code. Owns the shared signal_context. */
#include "wa/sigcrypto.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <signal/curve.h>

#include "miaw/status.h"

static int cb_random(uint8_t *data, size_t len, void *ud)
{
    (void)ud;
    return RAND_bytes(data, (int)len) == 1 ? 0 : SG_ERR_UNKNOWN;
}

static int cb_hmac_init(void **hctx, const uint8_t *key, size_t key_len, void *ud)
{
    (void)ud;
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!mac) return SG_ERR_UNKNOWN;
    EVP_MAC_CTX *c = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);
    if (!c) return SG_ERR_NOMEM;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_init(c, key, key_len, params) != 1) {
        EVP_MAC_CTX_free(c);
        return SG_ERR_UNKNOWN;
    }
    *hctx = c;
    return 0;
}

static int cb_hmac_update(void *hctx, const uint8_t *data, size_t len, void *ud)
{
    (void)ud;
    return EVP_MAC_update(hctx, data, len) == 1 ? 0 : SG_ERR_UNKNOWN;
}

static int cb_hmac_final(void *hctx, signal_buffer **out, void *ud)
{
    (void)ud;
    uint8_t md[32];
    size_t n = 0;
    if (EVP_MAC_final(hctx, md, &n, sizeof md) != 1) return SG_ERR_UNKNOWN;
    signal_buffer *b = signal_buffer_create(md, n);
    if (!b) return SG_ERR_NOMEM;
    *out = b;
    return 0;
}

static void cb_hmac_cleanup(void *hctx, void *ud)
{
    (void)ud;
    EVP_MAC_CTX_free(hctx);
}

static int cb_sha512_init(void **dctx, void *ud)
{
    (void)ud;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c) return SG_ERR_NOMEM;
    if (EVP_DigestInit_ex(c, EVP_sha512(), NULL) != 1) {
        EVP_MD_CTX_free(c);
        return SG_ERR_UNKNOWN;
    }
    *dctx = c;
    return 0;
}

static int cb_sha512_update(void *dctx, const uint8_t *data, size_t len, void *ud)
{
    (void)ud;
    return EVP_DigestUpdate(dctx, data, len) == 1 ? 0 : SG_ERR_UNKNOWN;
}

static int cb_sha512_final(void *dctx, signal_buffer **out, void *ud)
{
    (void)ud;
    uint8_t md[64];
    unsigned n = 0;
    if (EVP_DigestFinal_ex(dctx, md, &n) != 1) return SG_ERR_UNKNOWN;
    /* libsignal reuses the context after final: re-arm it */
    if (EVP_DigestInit_ex(dctx, EVP_sha512(), NULL) != 1) return SG_ERR_UNKNOWN;
    signal_buffer *b = signal_buffer_create(md, n);
    if (!b) return SG_ERR_NOMEM;
    *out = b;
    return 0;
}

static void cb_sha512_cleanup(void *dctx, void *ud)
{
    (void)ud;
    EVP_MD_CTX_free(dctx);
}

static const EVP_CIPHER *pick_cipher(int cipher, size_t key_len)
{
    if (cipher == SG_CIPHER_AES_CBC_PKCS5) {
        if (key_len == 16) return EVP_aes_128_cbc();
        if (key_len == 24) return EVP_aes_192_cbc();
        if (key_len == 32) return EVP_aes_256_cbc();
    } else if (cipher == SG_CIPHER_AES_CTR_NOPADDING) {
        if (key_len == 16) return EVP_aes_128_ctr();
        if (key_len == 24) return EVP_aes_192_ctr();
        if (key_len == 32) return EVP_aes_256_ctr();
    }
    return NULL;
}

static int do_cipher(signal_buffer **output, int cipher, const uint8_t *key, size_t key_len,
                     const uint8_t *iv, size_t iv_len, const uint8_t *in, size_t in_len,
                     int enc)
{
    const EVP_CIPHER *ev = pick_cipher(cipher, key_len);
    if (!ev || iv_len != 16 || in_len > (size_t)INT32_MAX - 32) return SG_ERR_INVAL;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c) return SG_ERR_NOMEM;
    int rc = SG_ERR_UNKNOWN;
    uint8_t *out = malloc(in_len + 32);
    int n1 = 0, n2 = 0;
    if (!out) {
        rc = SG_ERR_NOMEM;
        goto done;
    }
    if (EVP_CipherInit_ex(c, ev, NULL, key, iv, enc) != 1) goto done;
    if (EVP_CipherUpdate(c, out, &n1, in, (int)in_len) != 1) goto done;
    if (EVP_CipherFinal_ex(c, out + n1, &n2) != 1) goto done;
    signal_buffer *b = signal_buffer_create(out, (size_t)n1 + (size_t)n2);
    if (!b) {
        rc = SG_ERR_NOMEM;
        goto done;
    }
    *output = b;
    rc = 0;
done:
    if (out) OPENSSL_cleanse(out, in_len + 32);
    free(out);
    EVP_CIPHER_CTX_free(c);
    return rc;
}

static int cb_encrypt(signal_buffer **output, int cipher, const uint8_t *key, size_t key_len,
                      const uint8_t *iv, size_t iv_len, const uint8_t *pt, size_t pt_len,
                      void *ud)
{
    (void)ud;
    return do_cipher(output, cipher, key, key_len, iv, iv_len, pt, pt_len, 1);
}

static int cb_decrypt(signal_buffer **output, int cipher, const uint8_t *key, size_t key_len,
                      const uint8_t *iv, size_t iv_len, const uint8_t *ct, size_t ct_len,
                      void *ud)
{
    (void)ud;
    return do_cipher(output, cipher, key, key_len, iv, iv_len, ct, ct_len, 0);
}

int miaw_signal_ctx_new(signal_context **out)
{
    signal_context *ctx = NULL;
    if (signal_context_create(&ctx, NULL) != 0 || !ctx) return MIAW_E_NOMEM;
    signal_crypto_provider p = {
        .random_func = cb_random,
        .hmac_sha256_init_func = cb_hmac_init,
        .hmac_sha256_update_func = cb_hmac_update,
        .hmac_sha256_final_func = cb_hmac_final,
        .hmac_sha256_cleanup_func = cb_hmac_cleanup,
        .sha512_digest_init_func = cb_sha512_init,
        .sha512_digest_update_func = cb_sha512_update,
        .sha512_digest_final_func = cb_sha512_final,
        .sha512_digest_cleanup_func = cb_sha512_cleanup,
        .encrypt_func = cb_encrypt,
        .decrypt_func = cb_decrypt,
        .user_data = NULL,
    };
    if (signal_context_set_crypto_provider(ctx, &p) != 0) {
        signal_context_destroy(ctx);
        return MIAW_E_INTERNAL;
    }
    *out = ctx;
    return 0;
}

static pthread_once_t shared_once = PTHREAD_ONCE_INIT;
static signal_context *shared_ctx;
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;

static void shared_lock_fn(void *ud)
{
    (void)ud;
    pthread_mutex_lock(&shared_lock);
}

static void shared_unlock_fn(void *ud)
{
    (void)ud;
    pthread_mutex_unlock(&shared_lock);
}

static void shared_destroy(void)
{
    if (shared_ctx) signal_context_destroy(shared_ctx);
    shared_ctx = NULL;
}

static void shared_init(void)
{
    signal_context *c = NULL;
    if (miaw_signal_ctx_new(&c) != 0) return;
    signal_context_set_locking_functions(c, shared_lock_fn, shared_unlock_fn);
    shared_ctx = c;
    atexit(shared_destroy);
}

signal_context *miaw_signal_ctx_shared(void)
{
    pthread_once(&shared_once, shared_init);
    return shared_ctx;
}

void miaw_curve25519_clamp(uint8_t priv[32])
{
    priv[0] &= 248;
    priv[31] &= 127;
    priv[31] |= 64;
}

/* The public key is X25519(k, 9) computed by OpenSSL (fixed-base, 64-bit field arithmetic):
 * about 4x faster than libsignal's 32-bit curve25519-donna ladder, which made the 812
 * one-time pre-keys of a registration most of the CPU a pairing costs. Same result: both
 * clamp k the same way (checked against libsignal in test_wa_signal). */
int miaw_keypair_from_private(miaw_keypair *kp, const uint8_t priv[32])
{
    uint8_t k[32];
    memcpy(k, priv, 32);
    miaw_curve25519_clamp(k);
    EVP_PKEY *e = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, k, 32);
    size_t len = 32;
    int rc = e && EVP_PKEY_get_raw_public_key(e, kp->pub, &len) == 1 && len == 32 ? 0 : MIAW_E_INTERNAL;
    if (rc == 0) memcpy(kp->priv, k, 32);
    EVP_PKEY_free(e);
    OPENSSL_cleanse(k, sizeof k);
    return rc;
}

int miaw_keypair_generate(miaw_keypair *kp)
{
    uint8_t k[32];
    if (RAND_bytes(k, sizeof k) != 1) return MIAW_E_INTERNAL;
    int rc = miaw_keypair_from_private(kp, k);
    OPENSSL_cleanse(k, sizeof k);
    return rc;
}

int miaw_xeddsa_sign(const uint8_t priv[32], const uint8_t *msg, size_t len, uint8_t sig[64])
{
    signal_context *ctx = miaw_signal_ctx_shared();
    if (!ctx) return MIAW_E_INTERNAL;
    uint8_t k[32];
    memcpy(k, priv, 32);
    miaw_curve25519_clamp(k);
    ec_private_key *sk = NULL;
    signal_buffer *sb = NULL;
    int rc = MIAW_E_INTERNAL;
    if (curve_decode_private_point(&sk, k, 32, ctx) != 0) goto done;
    if (curve_calculate_signature(ctx, &sb, sk, msg, len) != 0) goto done;
    if (signal_buffer_len(sb) != 64) goto done;
    memcpy(sig, signal_buffer_data(sb), 64);
    rc = 0;
done:
    OPENSSL_cleanse(k, sizeof k);
    signal_buffer_free(sb);
    SIGNAL_UNREF(sk);
    return rc;
}

int miaw_xeddsa_verify(const uint8_t pub[32], const uint8_t *msg, size_t len,
                       const uint8_t *sig, size_t sig_len)
{
    if (sig_len != 64) return MIAW_E_AUTH;
    signal_context *ctx = miaw_signal_ctx_shared();
    if (!ctx) return MIAW_E_INTERNAL;
    uint8_t k[33];
    k[0] = 0x05; /* DJB key type */
    memcpy(k + 1, pub, 32);
    ec_public_key *pk = NULL;
    if (curve_decode_point(&pk, k, sizeof k, ctx) != 0) return MIAW_E_AUTH;
    int v = curve_verify_signature(pk, msg, len, sig, sig_len);
    SIGNAL_UNREF(pk);
    return v == 1 ? 0 : MIAW_E_AUTH;
}
