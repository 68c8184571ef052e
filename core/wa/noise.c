/* core/wa/noise.c - WhatsApp's Noise XX handshake (both roles) and transport cipher on
 * OpenSSL 3: symmetric state (h, ck, k, n), HandshakeMessage encode/decode, split, and
 * AES-256-GCM frames with per-direction counters. Owns all handshake secrets. */
#include "wa/noise.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "base/log.h"
#include "miaw/status.h"
#include "wa/certchain.h"
#include "wa_handshake.pb-c.h"

const uint8_t miaw_noise_wa_header[4] = {'W', 'A', 6, 3};

/* 28 ASCII characters + 4 NULs = 32 bytes: used as h directly, not hashed */
static const uint8_t NOISE_PROTOCOL[32] = "Noise_XX_25519_AESGCM_SHA256\0\0\0";

enum { ROLE_CLIENT = 1, ROLE_SERVER = 2 };
enum {
    PH_START,       /* client: hello not sent; server: waiting for client hello */
    PH_HELLO,       /* client: hello sent; server: client hello read */
    PH_MID,         /* client: server hello verified; server: server hello sent */
    PH_DONE,        /* finish written / read: split allowed */
    PH_DEAD,        /* an error happened */
};

struct miaw_noise_hs {
    int role;
    int phase;
    uint8_t h[32];
    uint8_t ck[32];
    uint8_t k[32];
    uint32_t n;
    miaw_keypair e;          /* our ephemeral */
    miaw_keypair s;          /* our static */
    uint8_t re[32];          /* remote ephemeral */
    uint8_t rs[32];          /* remote static */
    int have_rs;
    /* client */
    uint8_t root[32];
    int skip_cert;
    uint64_t now;
    /* server */
    uint8_t *cert;
    size_t cert_len;
};

/* ---------------------------------------------------------------- primitives */

int miaw_x25519(uint8_t out[32], const uint8_t priv[32], const uint8_t pub[32])
{
    int rc = MIAW_E_INTERNAL;
    EVP_PKEY *sk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
    EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pub, 32);
    EVP_PKEY_CTX *c = sk ? EVP_PKEY_CTX_new(sk, NULL) : NULL;
    size_t n = 32;
    if (!sk || !pk || !c) goto done;
    if (EVP_PKEY_derive_init(c) != 1 || EVP_PKEY_derive_set_peer(c, pk) != 1) goto done;
    /* OpenSSL refuses an all-zero result (small-order peer key) */
    if (EVP_PKEY_derive(c, out, &n) != 1 || n != 32) {
        rc = MIAW_E_AUTH;
        goto done;
    }
    rc = 0;
done:
    EVP_PKEY_CTX_free(c);
    EVP_PKEY_free(sk);
    EVP_PKEY_free(pk);
    return rc;
}

static int hmac256(const uint8_t *key, size_t key_len, const uint8_t *a, size_t a_len,
                   const uint8_t *b, size_t b_len, uint8_t out[32])
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *c = mac ? EVP_MAC_CTX_new(mac) : NULL;
    int rc = MIAW_E_INTERNAL;
    size_t n = 0;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    static const uint8_t nokey = 0;
    if (!c) goto done;
    if (EVP_MAC_init(c, key_len ? key : &nokey, key_len, params) != 1) goto done;
    if (a_len && EVP_MAC_update(c, a, a_len) != 1) goto done;
    if (b_len && EVP_MAC_update(c, b, b_len) != 1) goto done;
    if (EVP_MAC_final(c, out, &n, 32) != 1 || n != 32) goto done;
    rc = 0;
done:
    EVP_MAC_CTX_free(c);
    EVP_MAC_free(mac);
    return rc;
}

int miaw_hkdf_sha256(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
                     const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len)
{
    static const uint8_t zero_salt[32];
    uint8_t prk[32], t[32 + 256 + 1];
    size_t done = 0, tlen = 0;
    int rc;
    if (out_len > 255 * 32 || info_len > 256) return MIAW_E_INVAL;
    if (!salt_len) {
        salt = zero_salt;
        salt_len = sizeof zero_salt;
    }
    if ((rc = hmac256(salt, salt_len, ikm, ikm_len, NULL, 0, prk)) != 0) return rc;
    for (uint8_t i = 1; done < out_len; i++) {
        /* T(i) = HMAC(PRK, T(i-1) || info || i) */
        uint8_t blk[32];
        if (info_len) memcpy(t + tlen, info, info_len);
        t[tlen + info_len] = i;
        if ((rc = hmac256(prk, 32, t, tlen + info_len + 1, NULL, 0, blk)) != 0) break;
        size_t take = out_len - done < 32 ? out_len - done : 32;
        memcpy(out + done, blk, take);
        done += take;
        memcpy(t, blk, 32);
        tlen = 32;
        OPENSSL_cleanse(blk, sizeof blk);
    }
    OPENSSL_cleanse(prk, sizeof prk);
    OPENSSL_cleanse(t, sizeof t);
    return rc;
}

int miaw_aes_gcm(int enc, const uint8_t key[32], const uint8_t iv[12], const uint8_t *aad,
                 size_t aad_len, const uint8_t *in, size_t len, uint8_t *out)
{
    if (!enc && len < MIAW_NOISE_TAG_LEN) return MIAW_E_AUTH;
    size_t body = enc ? len : len - MIAW_NOISE_TAG_LEN;
    if (body > (size_t)INT32_MAX || aad_len > (size_t)INT32_MAX) return MIAW_E_INVAL;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c) return MIAW_E_NOMEM;
    int rc = MIAW_E_INTERNAL, n = 0;
    if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, key, iv, enc) != 1) goto done;
    if (aad_len && EVP_CipherUpdate(c, NULL, &n, aad, (int)aad_len) != 1) goto done;
    if (body && EVP_CipherUpdate(c, out, &n, in, (int)body) != 1) goto done;
    if (enc) {
        if (EVP_CipherFinal_ex(c, out + body, &n) != 1) goto done;
        if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, MIAW_NOISE_TAG_LEN, out + body) != 1)
            goto done;
    } else {
        if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, MIAW_NOISE_TAG_LEN,
                                (void *)(in + body)) != 1)
            goto done;
        if (EVP_CipherFinal_ex(c, out + body, &n) != 1) {
            OPENSSL_cleanse(out, body);
            rc = MIAW_E_AUTH;
            goto done;
        }
    }
    rc = 0;
done:
    EVP_CIPHER_CTX_free(c);
    return rc;
}

static void make_iv(uint8_t iv[12], uint64_t n)
{
    memset(iv, 0, 8);
    iv[8] = (uint8_t)(n >> 24);
    iv[9] = (uint8_t)(n >> 16);
    iv[10] = (uint8_t)(n >> 8);
    iv[11] = (uint8_t)n;
}

/* ---------------------------------------------------------------- symmetric state */

static int mix_hash(miaw_noise_hs *hs, const uint8_t *d, size_t len)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned n = 0;
    int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(c, hs->h, 32) == 1 && (!len || EVP_DigestUpdate(c, d, len) == 1) &&
             EVP_DigestFinal_ex(c, hs->h, &n) == 1 && n == 32;
    EVP_MD_CTX_free(c);
    return ok ? 0 : MIAW_E_INTERNAL;
}

static int mix_key(miaw_noise_hs *hs, const uint8_t *ikm, size_t len)
{
    uint8_t out[64];
    int rc = miaw_hkdf_sha256(hs->ck, 32, ikm, len, NULL, 0, out, 64);
    if (rc == 0) {
        memcpy(hs->ck, out, 32);
        memcpy(hs->k, out + 32, 32);
        hs->n = 0;
    }
    OPENSSL_cleanse(out, sizeof out);
    return rc;
}

static int mix_dh(miaw_noise_hs *hs, const uint8_t priv[32], const uint8_t pub[32])
{
    uint8_t shared[32];
    int rc = miaw_x25519(shared, priv, pub);
    if (rc == 0) rc = mix_key(hs, shared, 32);
    OPENSSL_cleanse(shared, sizeof shared);
    return rc;
}

/* out: len + 16 bytes */
static int hs_encrypt(miaw_noise_hs *hs, const uint8_t *pt, size_t len, uint8_t *out)
{
    uint8_t iv[12];
    make_iv(iv, hs->n);
    int rc = miaw_aes_gcm(1, hs->k, iv, hs->h, 32, pt, len, out);
    if (rc) return rc;
    hs->n++;
    return mix_hash(hs, out, len + MIAW_NOISE_TAG_LEN);
}

/* out: len - 16 bytes */
static int hs_decrypt(miaw_noise_hs *hs, const uint8_t *ct, size_t len, uint8_t *out)
{
    uint8_t iv[12];
    make_iv(iv, hs->n);
    int rc = miaw_aes_gcm(0, hs->k, iv, hs->h, 32, ct, len, out);
    if (rc) return rc;
    hs->n++;
    return mix_hash(hs, ct, len);
}

static miaw_noise_hs *hs_new(int role, const miaw_keypair *static_kp, const uint8_t *eph_priv)
{
    miaw_noise_hs *hs = calloc(1, sizeof *hs);
    if (!hs) return NULL;
    hs->role = role;
    hs->s = *static_kp;
    int rc = eph_priv ? miaw_keypair_from_private(&hs->e, eph_priv) : miaw_keypair_generate(&hs->e);
    if (rc) {
        miaw_noise_hs_free(hs);
        return NULL;
    }
    memcpy(hs->h, NOISE_PROTOCOL, 32);
    memcpy(hs->ck, NOISE_PROTOCOL, 32);
    memcpy(hs->k, NOISE_PROTOCOL, 32);
    if (mix_hash(hs, miaw_noise_wa_header, sizeof miaw_noise_wa_header) != 0) {
        miaw_noise_hs_free(hs);
        return NULL;
    }
    return hs;
}

void miaw_noise_hs_free(miaw_noise_hs *hs)
{
    if (!hs) return;
    if (hs->cert) {
        OPENSSL_cleanse(hs->cert, hs->cert_len);
        free(hs->cert);
    }
    OPENSSL_cleanse(hs, sizeof *hs);
    free(hs);
}

const uint8_t *miaw_noise_remote_static(const miaw_noise_hs *hs)
{
    return hs && hs->have_rs ? hs->rs : NULL;
}

const uint8_t *miaw_noise_handshake_hash(const miaw_noise_hs *hs)
{
    return hs ? hs->h : NULL;
}

static int fail(miaw_noise_hs *hs, int rc, const char *what)
{
    hs->phase = PH_DEAD;
    MIAW_DEBUG("noise", "handshake failed: %s (%d)", what, rc);
    return rc;
}

static int pack_hs(const Miaw__Wa__HandshakeMessage *m, uint8_t **out, size_t *out_len)
{
    size_t n = miaw__wa__handshake_message__get_packed_size(m);
    uint8_t *b = malloc(n ? n : 1);
    if (!b) return MIAW_E_NOMEM;
    miaw__wa__handshake_message__pack(m, b);
    *out = b;
    *out_len = n;
    return 0;
}

/* ---------------------------------------------------------------- client role */

miaw_noise_hs *miaw_noise_client_new(const miaw_keypair *static_kp,
                                     const miaw_noise_client_opts *opts)
{
    if (!static_kp) return NULL;
    miaw_noise_hs *hs = hs_new(ROLE_CLIENT, static_kp, opts ? opts->ephemeral_priv : NULL);
    if (!hs) return NULL;
    memcpy(hs->root, opts && opts->root_pub ? opts->root_pub : miaw_wa_root_pub, 32);
    hs->skip_cert = opts ? opts->skip_cert_verify : 0;
    hs->now = opts ? opts->now : 0;
    return hs;
}

int miaw_noise_client_hello(miaw_noise_hs *hs, uint8_t **out, size_t *out_len)
{
    if (!hs || hs->role != ROLE_CLIENT || hs->phase != PH_START) return MIAW_E_STATE;
    int rc = mix_hash(hs, hs->e.pub, 32);
    if (rc) return fail(hs, rc, "hash");
    Miaw__Wa__HandshakeMessage m = MIAW__WA__HANDSHAKE_MESSAGE__INIT;
    Miaw__Wa__HandshakeMessage__ClientHello ch = MIAW__WA__HANDSHAKE_MESSAGE__CLIENT_HELLO__INIT;
    ch.has_ephemeral = 1;
    ch.ephemeral.data = hs->e.pub;
    ch.ephemeral.len = 32;
    m.clienthello = &ch;
    if ((rc = pack_hs(&m, out, out_len)) != 0) return fail(hs, rc, "pack");
    hs->phase = PH_HELLO;
    return 0;
}

int miaw_noise_client_read_server_hello(miaw_noise_hs *hs, const uint8_t *msg, size_t len)
{
    if (!hs || hs->role != ROLE_CLIENT || hs->phase != PH_HELLO) return MIAW_E_STATE;
    Miaw__Wa__HandshakeMessage *m = miaw__wa__handshake_message__unpack(NULL, len, msg);
    uint8_t *cert = NULL;
    int rc;
    if (!m) return fail(hs, MIAW_E_INVAL, "server hello: not a HandshakeMessage");
    Miaw__Wa__HandshakeMessage__ServerHello *sh = m->serverhello;
    if (!sh || !sh->has_ephemeral || sh->ephemeral.len != 32 || !sh->has_static_ ||
        sh->static_.len != 32 + MIAW_NOISE_TAG_LEN || !sh->has_payload ||
        sh->payload.len < MIAW_NOISE_TAG_LEN) {
        rc = fail(hs, MIAW_E_INVAL, "server hello: missing or malformed fields");
        goto out;
    }
    memcpy(hs->re, sh->ephemeral.data, 32);
    if ((rc = mix_hash(hs, hs->re, 32)) || (rc = mix_dh(hs, hs->e.priv, hs->re))) {
        rc = fail(hs, rc, "ee");
        goto out;
    }
    if ((rc = hs_decrypt(hs, sh->static_.data, sh->static_.len, hs->rs))) {
        rc = fail(hs, rc, "server static decrypt");
        goto out;
    }
    hs->have_rs = 1;
    if ((rc = mix_dh(hs, hs->e.priv, hs->rs))) {
        rc = fail(hs, rc, "es");
        goto out;
    }
    size_t cert_len = sh->payload.len - MIAW_NOISE_TAG_LEN;
    cert = malloc(cert_len ? cert_len : 1);
    if (!cert) {
        rc = fail(hs, MIAW_E_NOMEM, "alloc");
        goto out;
    }
    if ((rc = hs_decrypt(hs, sh->payload.data, sh->payload.len, cert))) {
        rc = fail(hs, rc, "certificate decrypt");
        goto out;
    }
    if (!hs->skip_cert) {
        const char *why = NULL;
        uint64_t now = hs->now ? hs->now : (uint64_t)time(NULL);
        rc = miaw_certchain_verify(cert, cert_len, hs->root, hs->rs, now, &why);
        if (rc) {
            MIAW_WARN("noise", "server certificate refused: %s", why ? why : "?");
            rc = fail(hs, rc, "certificate");
            goto out;
        }
    }
    hs->phase = PH_MID;
    rc = 0;
out:
    free(cert);
    miaw__wa__handshake_message__free_unpacked(m, NULL);
    return rc;
}

int miaw_noise_client_finish(miaw_noise_hs *hs, const uint8_t *client_payload,
                             size_t payload_len, uint8_t **out, size_t *out_len)
{
    if (!hs || hs->role != ROLE_CLIENT || hs->phase != PH_MID) return MIAW_E_STATE;
    if (payload_len > (1u << 24)) return fail(hs, MIAW_E_LIMIT, "payload too large");
    uint8_t c_static[32 + MIAW_NOISE_TAG_LEN];
    uint8_t *c_payload = malloc(payload_len + MIAW_NOISE_TAG_LEN);
    int rc;
    if (!c_payload) return fail(hs, MIAW_E_NOMEM, "alloc");
    if ((rc = hs_encrypt(hs, hs->s.pub, 32, c_static)) || (rc = mix_dh(hs, hs->s.priv, hs->re)) ||
        (rc = hs_encrypt(hs, client_payload, payload_len, c_payload))) {
        free(c_payload);
        return fail(hs, rc, "client finish");
    }
    Miaw__Wa__HandshakeMessage m = MIAW__WA__HANDSHAKE_MESSAGE__INIT;
    Miaw__Wa__HandshakeMessage__ClientFinish cf = MIAW__WA__HANDSHAKE_MESSAGE__CLIENT_FINISH__INIT;
    cf.has_static_ = 1;
    cf.static_.data = c_static;
    cf.static_.len = sizeof c_static;
    cf.has_payload = 1;
    cf.payload.data = c_payload;
    cf.payload.len = payload_len + MIAW_NOISE_TAG_LEN;
    m.clientfinish = &cf;
    rc = pack_hs(&m, out, out_len);
    free(c_payload);
    if (rc) return fail(hs, rc, "pack");
    hs->phase = PH_DONE;
    return 0;
}

/* ---------------------------------------------------------------- server role */

miaw_noise_hs *miaw_noise_server_new(const miaw_keypair *static_kp, const uint8_t *cert_chain,
                                     size_t cert_len, const uint8_t *ephemeral_priv)
{
    if (!static_kp || (!cert_chain && cert_len) || cert_len > (1u << 20)) return NULL;
    miaw_noise_hs *hs = hs_new(ROLE_SERVER, static_kp, ephemeral_priv);
    if (!hs) return NULL;
    hs->cert = malloc(cert_len ? cert_len : 1);
    if (!hs->cert) {
        miaw_noise_hs_free(hs);
        return NULL;
    }
    if (cert_len) memcpy(hs->cert, cert_chain, cert_len);
    hs->cert_len = cert_len;
    return hs;
}

int miaw_noise_server_read_client_hello(miaw_noise_hs *hs, const uint8_t *msg, size_t len)
{
    if (!hs || hs->role != ROLE_SERVER || hs->phase != PH_START) return MIAW_E_STATE;
    Miaw__Wa__HandshakeMessage *m = miaw__wa__handshake_message__unpack(NULL, len, msg);
    int rc = 0;
    if (!m) return fail(hs, MIAW_E_INVAL, "client hello: not a HandshakeMessage");
    Miaw__Wa__HandshakeMessage__ClientHello *ch = m->clienthello;
    if (!ch || !ch->has_ephemeral || ch->ephemeral.len != 32) {
        rc = fail(hs, MIAW_E_INVAL, "client hello: missing ephemeral");
    } else {
        memcpy(hs->re, ch->ephemeral.data, 32);
        if ((rc = mix_hash(hs, hs->re, 32)))
            rc = fail(hs, rc, "hash");
        else
            hs->phase = PH_HELLO;
    }
    miaw__wa__handshake_message__free_unpacked(m, NULL);
    return rc;
}

int miaw_noise_server_hello(miaw_noise_hs *hs, uint8_t **out, size_t *out_len)
{
    if (!hs || hs->role != ROLE_SERVER || hs->phase != PH_HELLO) return MIAW_E_STATE;
    uint8_t c_static[32 + MIAW_NOISE_TAG_LEN];
    uint8_t *c_cert = malloc(hs->cert_len + MIAW_NOISE_TAG_LEN);
    int rc;
    if (!c_cert) return fail(hs, MIAW_E_NOMEM, "alloc");
    if ((rc = mix_hash(hs, hs->e.pub, 32)) || (rc = mix_dh(hs, hs->e.priv, hs->re)) ||
        (rc = hs_encrypt(hs, hs->s.pub, 32, c_static)) || (rc = mix_dh(hs, hs->s.priv, hs->re)) ||
        (rc = hs_encrypt(hs, hs->cert, hs->cert_len, c_cert))) {
        free(c_cert);
        return fail(hs, rc, "server hello");
    }
    Miaw__Wa__HandshakeMessage m = MIAW__WA__HANDSHAKE_MESSAGE__INIT;
    Miaw__Wa__HandshakeMessage__ServerHello sh = MIAW__WA__HANDSHAKE_MESSAGE__SERVER_HELLO__INIT;
    sh.has_ephemeral = 1;
    sh.ephemeral.data = hs->e.pub;
    sh.ephemeral.len = 32;
    sh.has_static_ = 1;
    sh.static_.data = c_static;
    sh.static_.len = sizeof c_static;
    sh.has_payload = 1;
    sh.payload.data = c_cert;
    sh.payload.len = hs->cert_len + MIAW_NOISE_TAG_LEN;
    m.serverhello = &sh;
    rc = pack_hs(&m, out, out_len);
    free(c_cert);
    if (rc) return fail(hs, rc, "pack");
    hs->phase = PH_MID;
    return 0;
}

int miaw_noise_server_read_client_finish(miaw_noise_hs *hs, const uint8_t *msg, size_t len,
                                         uint8_t **payload, size_t *payload_len)
{
    if (!hs || hs->role != ROLE_SERVER || hs->phase != PH_MID) return MIAW_E_STATE;
    Miaw__Wa__HandshakeMessage *m = miaw__wa__handshake_message__unpack(NULL, len, msg);
    uint8_t *pt = NULL;
    int rc;
    if (!m) return fail(hs, MIAW_E_INVAL, "client finish: not a HandshakeMessage");
    Miaw__Wa__HandshakeMessage__ClientFinish *cf = m->clientfinish;
    if (!cf || !cf->has_static_ || cf->static_.len != 32 + MIAW_NOISE_TAG_LEN ||
        !cf->has_payload || cf->payload.len < MIAW_NOISE_TAG_LEN) {
        rc = fail(hs, MIAW_E_INVAL, "client finish: missing or malformed fields");
        goto out;
    }
    if ((rc = hs_decrypt(hs, cf->static_.data, cf->static_.len, hs->rs))) {
        rc = fail(hs, rc, "client static decrypt");
        goto out;
    }
    hs->have_rs = 1;
    if ((rc = mix_dh(hs, hs->e.priv, hs->rs))) {
        rc = fail(hs, rc, "se");
        goto out;
    }
    size_t n = cf->payload.len - MIAW_NOISE_TAG_LEN;
    pt = malloc(n ? n : 1);
    if (!pt) {
        rc = fail(hs, MIAW_E_NOMEM, "alloc");
        goto out;
    }
    if ((rc = hs_decrypt(hs, cf->payload.data, cf->payload.len, pt))) {
        rc = fail(hs, rc, "client payload decrypt");
        goto out;
    }
    *payload = pt;
    *payload_len = n;
    pt = NULL;
    hs->phase = PH_DONE;
    rc = 0;
out:
    free(pt);
    miaw__wa__handshake_message__free_unpacked(m, NULL);
    return rc;
}

/* ---------------------------------------------------------------- transport */

int miaw_noise_split(const miaw_noise_hs *hs, miaw_noise_transport *t)
{
    if (!hs || !t || hs->phase != PH_DONE) return MIAW_E_STATE;
    uint8_t out[64];
    int rc = miaw_hkdf_sha256(hs->ck, 32, NULL, 0, NULL, 0, out, 64);
    if (rc) return rc;
    memset(t, 0, sizeof *t);
    if (hs->role == ROLE_CLIENT) {
        memcpy(t->write_key, out, 32);
        memcpy(t->read_key, out + 32, 32);
    } else {
        memcpy(t->read_key, out, 32);
        memcpy(t->write_key, out + 32, 32);
    }
    OPENSSL_cleanse(out, sizeof out);
    return 0;
}

#define COUNTER_LIMIT ((uint64_t)1 << 32)

int miaw_noise_encrypt(miaw_noise_transport *t, const uint8_t *pt, size_t len, uint8_t *out)
{
    if (t->write_n >= COUNTER_LIMIT) return MIAW_E_LIMIT;
    uint8_t iv[12];
    make_iv(iv, t->write_n);
    int rc = miaw_aes_gcm(1, t->write_key, iv, NULL, 0, pt, len, out);
    if (rc == 0) t->write_n++;
    return rc;
}

int miaw_noise_decrypt(miaw_noise_transport *t, const uint8_t *ct, size_t len, uint8_t *out,
                       size_t *out_len)
{
    if (t->read_n >= COUNTER_LIMIT) return MIAW_E_LIMIT;
    if (len < MIAW_NOISE_TAG_LEN) {
        t->read_n++;
        return MIAW_E_AUTH;
    }
    uint8_t iv[12];
    make_iv(iv, t->read_n++);
    int rc = miaw_aes_gcm(0, t->read_key, iv, NULL, 0, ct, len, out);
    if (rc == 0 && out_len) *out_len = len - MIAW_NOISE_TAG_LEN;
    return rc;
}

void miaw_noise_transport_wipe(miaw_noise_transport *t)
{
    if (t) OPENSSL_cleanse(t, sizeof *t);
}
