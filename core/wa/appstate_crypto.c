/* core/wa/appstate_crypto.c - app-state sync cryptography: key expansion, LTHash,
 * index/value/snapshot/patch MACs and the AES-256-CBC value cipher (see the header for
 * the exact constructions). Stateless; OpenSSL 3 EVP_MAC and EVP_Cipher only. */
#include "wa/appstate_crypto.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "miaw/status.h"
#include "wa/noise.h"

static const char MUTATION_INFO[] = "WhatsApp Mutation Keys";
static const char LTHASH_INFO[] = "WhatsApp Patch Integrity";

int miaw_as_keys_expand(const uint8_t *key_data, size_t len, miaw_as_keys *out)
{
    uint8_t buf[160];
    if (!out || (!key_data && len)) return MIAW_E_INVAL;
    if (miaw_hkdf_sha256(NULL, 0, key_data, len, (const uint8_t *)MUTATION_INFO, sizeof MUTATION_INFO - 1, buf,
                         sizeof buf) != 0)
        return MIAW_E_INTERNAL;
    memcpy(out->index, buf, 32);
    memcpy(out->value_enc, buf + 32, 32);
    memcpy(out->value_mac, buf + 64, 32);
    memcpy(out->snapshot_mac, buf + 96, 32);
    memcpy(out->patch_mac, buf + 128, 32);
    OPENSSL_cleanse(buf, sizeof buf);
    return MIAW_OK;
}

void miaw_as_keys_wipe(miaw_as_keys *k)
{
    if (k) OPENSSL_cleanse(k, sizeof *k);
}

static int lthash_mix(uint8_t hash[MIAW_AS_HASH_LEN], const uint8_t mac[MIAW_AS_MAC_LEN], int sign)
{
    uint8_t e[MIAW_AS_HASH_LEN];
    if (miaw_hkdf_sha256(NULL, 0, mac, MIAW_AS_MAC_LEN, (const uint8_t *)LTHASH_INFO, sizeof LTHASH_INFO - 1, e,
                         sizeof e) != 0)
        return MIAW_E_INTERNAL;
    for (size_t i = 0; i < MIAW_AS_HASH_LEN; i += 2) {
        uint16_t a = (uint16_t)(hash[i] | (hash[i + 1] << 8));
        uint16_t b = (uint16_t)(e[i] | (e[i + 1] << 8));
        uint16_t r = sign > 0 ? (uint16_t)(a + b) : (uint16_t)(a - b);
        hash[i] = (uint8_t)(r & 0xff);
        hash[i + 1] = (uint8_t)(r >> 8);
    }
    return MIAW_OK;
}

int miaw_as_lthash_add(uint8_t hash[MIAW_AS_HASH_LEN], const uint8_t value_mac[MIAW_AS_MAC_LEN])
{
    return lthash_mix(hash, value_mac, 1);
}

int miaw_as_lthash_sub(uint8_t hash[MIAW_AS_HASH_LEN], const uint8_t value_mac[MIAW_AS_MAC_LEN])
{
    return lthash_mix(hash, value_mac, -1);
}

/* HMAC over up to 6 pieces; out gets the first outlen bytes of the digest */
typedef struct piece {
    const uint8_t *p;
    size_t n;
} piece;

static int hmac(const char *digest, const uint8_t key[32], const piece *parts, size_t nparts,
                const uint8_t *const *many, size_t nmany, size_t many_at, uint8_t *out, size_t outlen)
{
    uint8_t full[64];
    size_t n = 0;
    int rc = MIAW_E_INTERNAL;
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *c = mac ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest, 0),
                           OSSL_PARAM_construct_end()};
    if (!c || EVP_MAC_init(c, key, 32, params) != 1) goto done;
    for (size_t i = 0; i < nparts; i++) {
        if (i == many_at)
            for (size_t j = 0; j < nmany; j++)
                if (EVP_MAC_update(c, many[j], MIAW_AS_MAC_LEN) != 1) goto done;
        if (parts[i].n && EVP_MAC_update(c, parts[i].p, parts[i].n) != 1) goto done;
    }
    if (EVP_MAC_final(c, full, &n, sizeof full) != 1 || n < outlen) goto done;
    memcpy(out, full, outlen);
    rc = MIAW_OK;
done:
    EVP_MAC_CTX_free(c);
    EVP_MAC_free(mac);
    return rc;
}

int miaw_as_index_mac(const miaw_as_keys *k, const uint8_t *index, size_t len, uint8_t out[MIAW_AS_MAC_LEN])
{
    if (!k || (!index && len)) return MIAW_E_INVAL;
    piece p[] = {{index, len}};
    return hmac("SHA256", k->index, p, 1, NULL, 0, (size_t)-1, out, MIAW_AS_MAC_LEN);
}

int miaw_as_value_mac(const miaw_as_keys *k, int op, const uint8_t *key_id, size_t key_id_len,
                      const uint8_t *enc, size_t enc_len, uint8_t out[MIAW_AS_MAC_LEN])
{
    if (!k || (op != MIAW_AS_OP_SET && op != MIAW_AS_OP_REMOVE) || !key_id || !key_id_len || key_id_len > 254 ||
        (!enc && enc_len))
        return MIAW_E_INVAL;
    uint8_t opb = op == MIAW_AS_OP_SET ? 0x01 : 0x02;
    uint8_t trailer[8] = {0};
    trailer[7] = (uint8_t)(key_id_len + 1);
    piece p[] = {{&opb, 1}, {key_id, key_id_len}, {enc, enc_len}, {trailer, 8}};
    return hmac("SHA512", k->value_mac, p, 4, NULL, 0, (size_t)-1, out, MIAW_AS_MAC_LEN);
}

static void be64(uint8_t b[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8) b[i] = (uint8_t)(v & 0xff);
}

int miaw_as_snapshot_mac(const miaw_as_keys *k, const uint8_t hash[MIAW_AS_HASH_LEN], uint64_t version,
                         const char *name, uint8_t out[MIAW_AS_MAC_LEN])
{
    if (!k || !hash || !name) return MIAW_E_INVAL;
    uint8_t v[8];
    be64(v, version);
    piece p[] = {{hash, MIAW_AS_HASH_LEN}, {v, 8}, {(const uint8_t *)name, strlen(name)}};
    return hmac("SHA256", k->snapshot_mac, p, 3, NULL, 0, (size_t)-1, out, MIAW_AS_MAC_LEN);
}

int miaw_as_patch_mac(const miaw_as_keys *k, const uint8_t snapshot_mac[MIAW_AS_MAC_LEN],
                      const uint8_t *const *value_macs, size_t n, uint64_t version, const char *name,
                      uint8_t out[MIAW_AS_MAC_LEN])
{
    if (!k || !snapshot_mac || !name || (n && !value_macs)) return MIAW_E_INVAL;
    uint8_t v[8];
    be64(v, version);
    piece p[] = {{snapshot_mac, MIAW_AS_MAC_LEN}, {v, 8}, {(const uint8_t *)name, strlen(name)}};
    return hmac("SHA256", k->patch_mac, p, 3, value_macs, n, 1, out, MIAW_AS_MAC_LEN);
}

static int cbc(int enc, const uint8_t key[32], const uint8_t iv[16], const uint8_t *in, size_t len, uint8_t *out,
               size_t *out_len)
{
    int n1 = 0, n2 = 0, rc = MIAW_E_INTERNAL;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c || len > (size_t)1 << 30) goto done;
    if (EVP_CipherInit_ex(c, EVP_aes_256_cbc(), NULL, key, iv, enc) != 1) goto done;
    if (len && EVP_CipherUpdate(c, out, &n1, in, (int)len) != 1) goto done;
    if (EVP_CipherFinal_ex(c, out + n1, &n2) != 1) {
        rc = enc ? MIAW_E_INTERNAL : MIAW_E_AUTH;
        goto done;
    }
    *out_len = (size_t)n1 + (size_t)n2;
    rc = MIAW_OK;
done:
    EVP_CIPHER_CTX_free(c);
    return rc;
}

int miaw_as_value_encrypt(const miaw_as_keys *k, const uint8_t *iv, const uint8_t *pt, size_t len,
                          uint8_t **out, size_t *out_len)
{
    if (!k || !out || !out_len || (!pt && len) || len > (size_t)1 << 30) return MIAW_E_INVAL;
    uint8_t *buf = malloc(16 + len + 16);
    if (!buf) return MIAW_E_NOMEM;
    if (iv)
        memcpy(buf, iv, 16);
    else if (RAND_bytes(buf, 16) != 1) {
        free(buf);
        return MIAW_E_INTERNAL;
    }
    size_t n = 0;
    int rc = cbc(1, k->value_enc, buf, pt, len, buf + 16, &n);
    if (rc != MIAW_OK) {
        free(buf);
        return rc;
    }
    *out = buf;
    *out_len = 16 + n;
    return MIAW_OK;
}

int miaw_as_value_decrypt(const miaw_as_keys *k, const uint8_t *enc, size_t len, uint8_t **pt, size_t *pt_len)
{
    if (!k || !pt || !pt_len || !enc || len < 32 || (len - 16) % 16) return MIAW_E_INVAL;
    uint8_t *buf = malloc(len);
    if (!buf) return MIAW_E_NOMEM;
    size_t n = 0;
    int rc = cbc(0, k->value_enc, enc, enc + 16, len - 16, buf, &n);
    if (rc != MIAW_OK) {
        OPENSSL_cleanse(buf, len);
        free(buf);
        return rc;
    }
    *pt = buf;
    *pt_len = n;
    return MIAW_OK;
}
