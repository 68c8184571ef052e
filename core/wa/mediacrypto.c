/* core/wa/mediacrypto.c - WhatsApp media encryption: HKDF expansion of the media key with
 * the per-type info string, AES-256-CBC + truncated HMAC-SHA256 blobs, and the two file
 * hashes, on whole buffers or streamed (one cipher, one HMAC and two SHA-256 contexts per
 * stream). OpenSSL 3 (EVP) only; owns nothing beyond a call, or its stream. */
#include "wa/mediacrypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "miaw/status.h"
#include "wa/noise.h"

static const struct {
    const char *type, *info;
} INFOS[] = {
    {"image", "WhatsApp Image Keys"},
    {"sticker", "WhatsApp Image Keys"},
    {"product", "WhatsApp Image Keys"},
    {"product-catalog-image", "WhatsApp Image Keys"},
    {"biz-cover-photo", "WhatsApp Image Keys"},
    {"video", "WhatsApp Video Keys"},
    {"gif", "WhatsApp Video Keys"},
    {"ptv", "WhatsApp Video Keys"},
    {"audio", "WhatsApp Audio Keys"},
    {"ptt", "WhatsApp Audio Keys"},
    {"document", "WhatsApp Document Keys"},
    {"md-msg-hist", "WhatsApp History Keys"},
    {"history", "WhatsApp History Keys"},
    {"md-app-state", "WhatsApp App State Keys"},
    {"app-state", "WhatsApp App State Keys"},
    {"thumbnail-link", "WhatsApp Link Thumbnail Keys"},
    {"thumbnail-image", "WhatsApp Image Thumbnail Keys"},
    {"thumbnail-video", "WhatsApp Video Thumbnail Keys"},
    {"thumbnail-document", "WhatsApp Document Thumbnail Keys"},
    {"sticker-pack", "WhatsApp Sticker Pack Keys"},
    {"payment-bg-image", "WhatsApp Payment Background Keys"},
};

const char *miaw_wa_media_info(const char *type)
{
    if (!type) return NULL;
    for (size_t i = 0; i < sizeof INFOS / sizeof INFOS[0]; i++)
        if (!strcmp(INFOS[i].type, type)) return INFOS[i].info;
    return NULL;
}

int miaw_wa_media_keys_derive(const uint8_t media_key[MIAW_WA_MEDIA_KEY_LEN], const char *type,
                              miaw_wa_media_keys *out)
{
    const char *info = miaw_wa_media_info(type);
    uint8_t exp[MIAW_WA_MEDIA_EXPANDED_LEN];
    if (!info || !media_key || !out) return MIAW_E_INVAL;
    /* no salt = 32 zero bytes (RFC 5869), which miaw_hkdf_sha256 uses for salt_len 0 */
    int rc = miaw_hkdf_sha256(NULL, 0, media_key, MIAW_WA_MEDIA_KEY_LEN, (const uint8_t *)info, strlen(info), exp,
                              sizeof exp);
    if (rc) return rc;
    memcpy(out->iv, exp, 16);
    memcpy(out->cipher_key, exp + 16, 32);
    memcpy(out->mac_key, exp + 48, 32);
    memcpy(out->ref_key, exp + 80, 32);
    OPENSSL_cleanse(exp, sizeof exp);
    return 0;
}

void miaw_wa_media_keys_wipe(miaw_wa_media_keys *k)
{
    if (k) OPENSSL_cleanse(k, sizeof *k);
}

int miaw_wa_media_key_generate(uint8_t media_key[MIAW_WA_MEDIA_KEY_LEN])
{
    return RAND_bytes(media_key, MIAW_WA_MEDIA_KEY_LEN) == 1 ? 0 : MIAW_E_INTERNAL;
}

int miaw_wa_sha256(const uint8_t *in, size_t n, uint8_t out[32])
{
    unsigned int len = 0;
    static const uint8_t empty = 0;
    if (EVP_Digest(n ? in : &empty, n, out, &len, EVP_sha256(), NULL) != 1 || len != 32) return MIAW_E_INTERNAL;
    return 0;
}

/* HMAC-SHA256(key, a || b) -> out (32 bytes) */
static int mac2(const uint8_t key[32], const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, uint8_t out[32])
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *c = mac ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    size_t n = 0;
    int rc = MIAW_E_INTERNAL;
    if (c && EVP_MAC_init(c, key, 32, params) == 1 && (!alen || EVP_MAC_update(c, a, alen) == 1) &&
        (!blen || EVP_MAC_update(c, b, blen) == 1) && EVP_MAC_final(c, out, &n, 32) == 1 && n == 32)
        rc = 0;
    EVP_MAC_CTX_free(c);
    EVP_MAC_free(mac);
    return rc;
}

/* AES-256-CBC with PKCS#7 in one direction; out must hold len + 16 bytes */
static int cbc(int enc, const miaw_wa_media_keys *k, const uint8_t *in, size_t len, uint8_t *out, size_t *out_len)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n1 = 0, n2 = 0, rc = MIAW_E_INTERNAL;
    if (!c) return MIAW_E_NOMEM;
    if (EVP_CipherInit_ex(c, EVP_aes_256_cbc(), NULL, k->cipher_key, k->iv, enc) != 1) goto done;
    if (len && EVP_CipherUpdate(c, out, &n1, in, (int)len) != 1) goto done;
    if (EVP_CipherFinal_ex(c, out + n1, &n2) != 1) {
        rc = enc ? MIAW_E_INTERNAL : MIAW_E_AUTH; /* bad padding */
        goto done;
    }
    *out_len = (size_t)n1 + (size_t)n2;
    rc = 0;
done:
    EVP_CIPHER_CTX_free(c);
    return rc;
}

int miaw_wa_media_encrypt(const uint8_t media_key[MIAW_WA_MEDIA_KEY_LEN], const char *type, const uint8_t *pt,
                          size_t len, uint8_t **blob, size_t *blob_len, miaw_wa_media_hashes *h)
{
    miaw_wa_media_keys k;
    if (!blob || !blob_len || (len && !pt) || len > MIAW_WA_MEDIA_MAX) return MIAW_E_INVAL;
    int rc = miaw_wa_media_keys_derive(media_key, type, &k);
    if (rc) return rc;
    size_t ctl = 0, cap = (len / 16 + 1) * 16 + MIAW_WA_MEDIA_MAC_LEN;
    uint8_t *out = malloc(cap), mac[32];
    if (!out) rc = MIAW_E_NOMEM;
    if (!rc) rc = cbc(1, &k, pt, len, out, &ctl);
    if (!rc) rc = mac2(k.mac_key, k.iv, 16, out, ctl, mac);
    if (!rc) {
        memcpy(out + ctl, mac, MIAW_WA_MEDIA_MAC_LEN);
        if (h) {
            h->file_length = len;
            rc = miaw_wa_sha256(pt, len, h->file_sha256);
            if (!rc) rc = miaw_wa_sha256(out, ctl + MIAW_WA_MEDIA_MAC_LEN, h->file_enc_sha256);
        }
    }
    miaw_wa_media_keys_wipe(&k);
    if (rc) {
        free(out);
        return rc;
    }
    *blob = out;
    *blob_len = ctl + MIAW_WA_MEDIA_MAC_LEN;
    return 0;
}

int miaw_wa_media_decrypt(const uint8_t media_key[MIAW_WA_MEDIA_KEY_LEN], const char *type, const uint8_t *blob,
                          size_t blob_len, const uint8_t *file_enc_sha256, const uint8_t *file_sha256,
                          uint8_t **pt, size_t *pt_len)
{
    uint8_t digest[32], mac[32];
    miaw_wa_media_keys k;
    if (!pt || !pt_len || !blob || blob_len < 16 + MIAW_WA_MEDIA_MAC_LEN ||
        (blob_len - MIAW_WA_MEDIA_MAC_LEN) % 16 || blob_len > MIAW_WA_MEDIA_MAX + 32)
        return MIAW_E_INVAL;
    size_t ctl = blob_len - MIAW_WA_MEDIA_MAC_LEN;
    int rc = miaw_wa_media_keys_derive(media_key, type, &k);
    if (rc) return rc;
    if (file_enc_sha256) {
        if ((rc = miaw_wa_sha256(blob, blob_len, digest))) goto out;
        if (CRYPTO_memcmp(digest, file_enc_sha256, 32)) {
            rc = MIAW_E_AUTH;
            goto out;
        }
    }
    if ((rc = mac2(k.mac_key, k.iv, 16, blob, ctl, mac))) goto out;
    if (CRYPTO_memcmp(mac, blob + ctl, MIAW_WA_MEDIA_MAC_LEN)) {
        rc = MIAW_E_AUTH;
        goto out;
    }
    uint8_t *out = malloc(ctl + 16);
    size_t n = 0;
    if (!out) {
        rc = MIAW_E_NOMEM;
        goto out;
    }
    rc = cbc(0, &k, blob, ctl, out, &n);
    if (!rc && file_sha256) {
        rc = miaw_wa_sha256(out, n, digest);
        if (!rc && CRYPTO_memcmp(digest, file_sha256, 32)) rc = MIAW_E_AUTH;
    }
    if (rc) {
        OPENSSL_cleanse(out, ctl + 16);
        free(out);
    } else {
        *pt = out;
        *pt_len = n;
    }
out:
    miaw_wa_media_keys_wipe(&k);
    return rc;
}

/* ------------------------------------------------------------ streaming */
struct mstream {
    EVP_CIPHER_CTX *cipher;
    EVP_MAC_CTX *mac;
    EVP_MD_CTX *pt_sha, *blob_sha;
    uint8_t tail[MIAW_WA_MEDIA_MAC_LEN]; /* decryption: the last bytes seen (the MAC, at the end) */
    size_t tail_len;
    uint64_t pt_len, ct_len;
    int dead; /* after an error or _final */
};
struct miaw_wa_media_enc { struct mstream s; };
struct miaw_wa_media_dec { struct mstream s; };

static void ms_clear(struct mstream *s)
{
    EVP_CIPHER_CTX_free(s->cipher);
    EVP_MAC_CTX_free(s->mac);
    EVP_MD_CTX_free(s->pt_sha);
    EVP_MD_CTX_free(s->blob_sha);
    OPENSSL_cleanse(s, sizeof *s);
}

static int ms_init(struct mstream *s, const uint8_t *media_key, const char *type, int enc)
{
    miaw_wa_media_keys k;
    memset(s, 0, sizeof *s);
    int rc = miaw_wa_media_keys_derive(media_key, type, &k);
    if (rc) return rc;
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    s->cipher = EVP_CIPHER_CTX_new();
    s->mac = mac ? EVP_MAC_CTX_new(mac) : NULL;
    s->pt_sha = EVP_MD_CTX_new();
    s->blob_sha = EVP_MD_CTX_new();
    EVP_MAC_free(mac); /* the context keeps its own reference */
    rc = MIAW_E_NOMEM;
    if (s->cipher && s->mac && s->pt_sha && s->blob_sha) {
        rc = MIAW_E_INTERNAL;
        if (EVP_CipherInit_ex(s->cipher, EVP_aes_256_cbc(), NULL, k.cipher_key, k.iv, enc) == 1 &&
            EVP_MAC_init(s->mac, k.mac_key, 32, params) == 1 && EVP_MAC_update(s->mac, k.iv, 16) == 1 &&
            EVP_DigestInit_ex(s->pt_sha, EVP_sha256(), NULL) == 1 &&
            EVP_DigestInit_ex(s->blob_sha, EVP_sha256(), NULL) == 1)
            rc = 0;
    }
    miaw_wa_media_keys_wipe(&k);
    if (rc) ms_clear(s);
    return rc;
}

/* one cipher step in pieces EVP's int lengths can take; *n += what was produced */
static int ms_cipher(struct mstream *s, const uint8_t *in, size_t len, uint8_t *out, size_t *n)
{
    while (len) {
        int piece = len > (1u << 30) ? 1 << 30 : (int)len, got = 0;
        if (EVP_CipherUpdate(s->cipher, out + *n, &got, in, piece) != 1) return MIAW_E_INTERNAL;
        *n += (size_t)got;
        in += piece;
        len -= (size_t)piece;
    }
    return 0;
}

int miaw_wa_media_enc_new(const uint8_t media_key[MIAW_WA_MEDIA_KEY_LEN], const char *type, miaw_wa_media_enc **out)
{
    if (!out || !media_key) return MIAW_E_INVAL;
    miaw_wa_media_enc *e = malloc(sizeof *e);
    if (!e) return MIAW_E_NOMEM;
    int rc = ms_init(&e->s, media_key, type, 1);
    if (rc) {
        free(e);
        return rc;
    }
    *out = e;
    return 0;
}

int miaw_wa_media_enc_update(miaw_wa_media_enc *e, const uint8_t *pt, size_t len, uint8_t *out, size_t *out_len)
{
    if (!e || e->s.dead || (len && (!pt || !out)) || !out_len) return MIAW_E_INVAL;
    struct mstream *s = &e->s;
    size_t n = 0;
    *out_len = 0;
    if (!len) return 0;
    int rc = EVP_DigestUpdate(s->pt_sha, pt, len) == 1 ? ms_cipher(s, pt, len, out, &n) : MIAW_E_INTERNAL;
    if (!rc && n && (EVP_MAC_update(s->mac, out, n) != 1 || EVP_DigestUpdate(s->blob_sha, out, n) != 1))
        rc = MIAW_E_INTERNAL;
    if (rc) {
        s->dead = 1;
        return rc;
    }
    s->pt_len += len;
    s->ct_len += n;
    *out_len = n;
    return 0;
}

int miaw_wa_media_enc_final(miaw_wa_media_enc *e, uint8_t *out, size_t *out_len, miaw_wa_media_hashes *h)
{
    if (!e || e->s.dead || !out || !out_len) return MIAW_E_INVAL;
    struct mstream *s = &e->s;
    uint8_t mac[32];
    size_t n = 0;
    unsigned int dl = 0;
    int got = 0, rc = MIAW_E_INTERNAL;
    s->dead = 1;
    if (EVP_CipherFinal_ex(s->cipher, out, &got) != 1) return rc;
    n = (size_t)got;
    if (EVP_MAC_update(s->mac, out, n) != 1 || EVP_MAC_final(s->mac, mac, &(size_t){0}, sizeof mac) != 1) return rc;
    memcpy(out + n, mac, MIAW_WA_MEDIA_MAC_LEN);
    n += MIAW_WA_MEDIA_MAC_LEN;
    miaw_wa_media_hashes tmp, *hh = h ? h : &tmp;
    if (EVP_DigestUpdate(s->blob_sha, out, n) != 1 || EVP_DigestFinal_ex(s->blob_sha, hh->file_enc_sha256, &dl) != 1 ||
        EVP_DigestFinal_ex(s->pt_sha, hh->file_sha256, &dl) != 1)
        return rc;
    hh->file_length = s->pt_len;
    *out_len = n;
    OPENSSL_cleanse(mac, sizeof mac);
    return 0;
}

void miaw_wa_media_enc_free(miaw_wa_media_enc *e)
{
    if (!e) return;
    ms_clear(&e->s);
    free(e);
}

int miaw_wa_media_dec_new(const uint8_t media_key[MIAW_WA_MEDIA_KEY_LEN], const char *type, miaw_wa_media_dec **out)
{
    if (!out || !media_key) return MIAW_E_INVAL;
    miaw_wa_media_dec *d = malloc(sizeof *d);
    if (!d) return MIAW_E_NOMEM;
    int rc = ms_init(&d->s, media_key, type, 0);
    if (rc) {
        free(d);
        return rc;
    }
    *out = d;
    return 0;
}

/* ciphertext bytes: into the MAC and the cipher, plaintext into its hash */
static int dec_ct(struct mstream *s, const uint8_t *ct, size_t len, uint8_t *out, size_t *n)
{
    size_t before = *n;
    if (!len) return 0;
    if (EVP_MAC_update(s->mac, ct, len) != 1) return MIAW_E_INTERNAL;
    int rc = ms_cipher(s, ct, len, out, n);
    if (!rc && *n > before && EVP_DigestUpdate(s->pt_sha, out + before, *n - before) != 1) rc = MIAW_E_INTERNAL;
    s->ct_len += len;
    s->pt_len += *n - before;
    return rc;
}

int miaw_wa_media_dec_update(miaw_wa_media_dec *d, const uint8_t *in, size_t len, uint8_t *out, size_t *out_len)
{
    if (!d || d->s.dead || (len && (!in || !out)) || !out_len) return MIAW_E_INVAL;
    struct mstream *s = &d->s;
    size_t n = 0;
    *out_len = 0;
    if (!len) return 0;
    if (EVP_DigestUpdate(s->blob_sha, in, len) != 1) return s->dead = 1, MIAW_E_INTERNAL;
    size_t total = s->tail_len + len;
    if (total <= MIAW_WA_MEDIA_MAC_LEN) { /* still only a possible MAC */
        memcpy(s->tail + s->tail_len, in, len);
        s->tail_len = total;
        return 0;
    }
    size_t ct = total - MIAW_WA_MEDIA_MAC_LEN;       /* bytes now known to be ciphertext */
    size_t from_tail = ct < s->tail_len ? ct : s->tail_len, from_in = ct - from_tail;
    int rc = dec_ct(s, s->tail, from_tail, out, &n);
    if (!rc) rc = dec_ct(s, in, from_in, out, &n);
    if (rc) return s->dead = 1, rc;
    /* the new tail: what is left of the old one, then the rest of in */
    memmove(s->tail, s->tail + from_tail, s->tail_len - from_tail);
    memcpy(s->tail + (s->tail_len - from_tail), in + from_in, len - from_in);
    s->tail_len = MIAW_WA_MEDIA_MAC_LEN;
    *out_len = n;
    return 0;
}

int miaw_wa_media_dec_final(miaw_wa_media_dec *d, const uint8_t *file_enc_sha256, const uint8_t *file_sha256,
                            uint8_t *out, size_t *out_len, miaw_wa_media_hashes *h)
{
    if (!d || d->s.dead || !out || !out_len) return MIAW_E_INVAL;
    struct mstream *s = &d->s;
    miaw_wa_media_hashes tmp, *hh = h ? h : &tmp;
    uint8_t mac[32];
    unsigned int dl = 0;
    int got = 0, rc = MIAW_E_INTERNAL;
    s->dead = 1;
    *out_len = 0;
    memset(hh, 0, sizeof *hh);
    if (s->tail_len != MIAW_WA_MEDIA_MAC_LEN || s->ct_len < 16 || s->ct_len % 16) return MIAW_E_INVAL;
    if (EVP_DigestFinal_ex(s->blob_sha, hh->file_enc_sha256, &dl) != 1 ||
        EVP_MAC_final(s->mac, mac, &(size_t){0}, sizeof mac) != 1)
        return rc;
    rc = 0;
    if (file_enc_sha256 && CRYPTO_memcmp(hh->file_enc_sha256, file_enc_sha256, 32)) rc = MIAW_E_AUTH;
    if (CRYPTO_memcmp(mac, s->tail, MIAW_WA_MEDIA_MAC_LEN)) rc = MIAW_E_AUTH;
    OPENSSL_cleanse(mac, sizeof mac);
    if (EVP_CipherFinal_ex(s->cipher, out, &got) != 1) {
        got = 0;
        if (!rc) rc = MIAW_E_AUTH; /* bad padding */
    }
    if (got && EVP_DigestUpdate(s->pt_sha, out, (size_t)got) != 1) return MIAW_E_INTERNAL;
    s->pt_len += (size_t)got;
    if (EVP_DigestFinal_ex(s->pt_sha, hh->file_sha256, &dl) != 1) return MIAW_E_INTERNAL;
    hh->file_length = s->pt_len;
    if (!rc && file_sha256 && CRYPTO_memcmp(hh->file_sha256, file_sha256, 32)) rc = MIAW_E_AUTH;
    if (rc) OPENSSL_cleanse(out, (size_t)got);
    else *out_len = (size_t)got;
    return rc;
}

void miaw_wa_media_dec_free(miaw_wa_media_dec *d)
{
    if (!d) return;
    ms_clear(&d->s);
    free(d);
}
