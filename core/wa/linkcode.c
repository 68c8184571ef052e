/* core/wa/linkcode.c - pairing by phone-number code: the code, its PBKDF2 wrapping key,
 * the key bundle and adv secret, and the companion's companion_hello / companion_finish
 * stanzas (see linkcode.h; facts section 5.6). */
#include "wa/linkcode.h"

#include <miaw/status.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wa/noise.h"

static const char BUNDLE_INFO[] = "link_code_pairing_key_bundle_encryption_key";
static const char ADV_INFO[] = "adv_secret";

/* ------------------------------------------------------------------ the code */
void miaw_wa_linkcode_encode(const uint8_t raw[5], char code[MIAW_WA_LINKCODE_LEN + 1])
{
    uint64_t v = 0;
    for (int i = 0; i < 5; i++) v = v << 8 | raw[i];
    for (int i = 0; i < MIAW_WA_LINKCODE_LEN; i++)
        code[i] = MIAW_WA_LINKCODE_ALPHABET[(v >> (35 - 5 * i)) & 31];
    code[MIAW_WA_LINKCODE_LEN] = 0;
}

int miaw_wa_linkcode_generate(char code[MIAW_WA_LINKCODE_LEN + 1])
{
    uint8_t raw[5];
    if (RAND_bytes(raw, sizeof raw) != 1) return MIAW_E_INTERNAL;
    miaw_wa_linkcode_encode(raw, code);
    OPENSSL_cleanse(raw, sizeof raw);
    return 0;
}

int miaw_wa_linkcode_normalize(const char *in, char code[MIAW_WA_LINKCODE_LEN + 1])
{
    size_t n = 0, seps = 0;
    if (!in) return MIAW_E_INVAL;
    for (const char *p = in; *p; p++) {
        char ch = *p;
        if ((ch == '-' || ch == ' ') && n == MIAW_WA_LINKCODE_LEN / 2 && !seps) {
            seps++;
            continue;
        }
        if (ch >= 'a' && ch <= 'z') ch = (char)(ch - 'a' + 'A');
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')) || n >= MIAW_WA_LINKCODE_LEN)
            return MIAW_E_INVAL;
        code[n++] = ch;
    }
    if (n != MIAW_WA_LINKCODE_LEN) return MIAW_E_INVAL;
    code[n] = 0;
    return 0;
}

void miaw_wa_linkcode_display(const char *code, char out[MIAW_WA_LINKCODE_LEN + 2])
{
    snprintf(out, MIAW_WA_LINKCODE_LEN + 2, "%.4s-%.4s", code, code + 4);
}

/* ------------------------------------------------------------------ crypto */
int miaw_wa_linkcode_key(const char *code, const uint8_t salt[32], uint8_t key[32])
{
    return PKCS5_PBKDF2_HMAC(code, (int)strlen(code), salt, 32, MIAW_WA_LINKCODE_ITERATIONS, EVP_sha256(), 32,
                             key) == 1
               ? 0
               : MIAW_E_INTERNAL;
}

static int aes_ctr(const uint8_t key[32], const uint8_t iv[16], const uint8_t in[32], uint8_t out[32])
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, m = 0, ok = c && EVP_EncryptInit_ex(c, EVP_aes_256_ctr(), NULL, key, iv) == 1 &&
                           EVP_EncryptUpdate(c, out, &n, in, 32) == 1 && EVP_EncryptFinal_ex(c, out + n, &m) == 1 &&
                           n + m == 32;
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : MIAW_E_INTERNAL;
}

int miaw_wa_linkcode_wrap(const char *code, const uint8_t pub[32], const uint8_t *salt_iv,
                          uint8_t out[MIAW_WA_LINKCODE_WRAPPED_LEN])
{
    uint8_t key[32];
    if (salt_iv) memcpy(out, salt_iv, 48);
    else if (RAND_bytes(out, 48) != 1) return MIAW_E_INTERNAL;
    int rc = miaw_wa_linkcode_key(code, out, key);
    if (!rc) rc = aes_ctr(key, out + 32, pub, out + 48);
    OPENSSL_cleanse(key, sizeof key);
    return rc;
}

int miaw_wa_linkcode_unwrap(const char *code, const uint8_t in[MIAW_WA_LINKCODE_WRAPPED_LEN], uint8_t pub[32])
{
    uint8_t key[32];
    int rc = miaw_wa_linkcode_key(code, in, key);
    if (!rc) rc = aes_ctr(key, in + 32, in + 48, pub);
    OPENSSL_cleanse(key, sizeof key);
    return rc;
}

static int bundle_key(const uint8_t shared[32], const uint8_t salt[32], uint8_t key[32])
{
    return miaw_hkdf_sha256(salt, 32, shared, 32, (const uint8_t *)BUNDLE_INFO, sizeof BUNDLE_INFO - 1, key, 32);
}

int miaw_wa_linkcode_bundle_seal(const uint8_t shared[32], const uint8_t companion_identity[32],
                                 const uint8_t primary_identity[32], const uint8_t random[32],
                                 const uint8_t *salt_nonce, uint8_t out[MIAW_WA_LINKCODE_BUNDLE_LEN])
{
    uint8_t key[32], plain[MIAW_WA_LINKCODE_BUNDLE_PLAIN];
    if (salt_nonce) memcpy(out, salt_nonce, 44);
    else if (RAND_bytes(out, 44) != 1) return MIAW_E_INTERNAL;
    memcpy(plain, companion_identity, 32);
    memcpy(plain + 32, primary_identity, 32);
    memcpy(plain + 64, random, 32);
    int rc = bundle_key(shared, out, key);
    if (!rc) rc = miaw_aes_gcm(1, key, out + 32, NULL, 0, plain, sizeof plain, out + 44);
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(plain, sizeof plain);
    return rc;
}

int miaw_wa_linkcode_bundle_open(const uint8_t shared[32], const uint8_t *in, size_t len,
                                 uint8_t plain[MIAW_WA_LINKCODE_BUNDLE_PLAIN])
{
    uint8_t key[32];
    if (!in || len != MIAW_WA_LINKCODE_BUNDLE_LEN) return MIAW_E_INVAL;
    int rc = bundle_key(shared, in, key);
    if (!rc && miaw_aes_gcm(0, key, in + 32, NULL, 0, in + 44, len - 44, plain) != 0) rc = MIAW_E_AUTH;
    OPENSSL_cleanse(key, sizeof key);
    if (rc) OPENSSL_cleanse(plain, MIAW_WA_LINKCODE_BUNDLE_PLAIN);
    return rc;
}

int miaw_wa_linkcode_adv_secret(const uint8_t eph_shared[32], const uint8_t identity_shared[32],
                                const uint8_t random[32], uint8_t out[32])
{
    uint8_t ikm[96];
    memcpy(ikm, eph_shared, 32);
    memcpy(ikm + 32, identity_shared, 32);
    memcpy(ikm + 64, random, 32);
    int rc = miaw_hkdf_sha256(NULL, 0, ikm, sizeof ikm, (const uint8_t *)ADV_INFO, sizeof ADV_INFO - 1, out, 32);
    OPENSSL_cleanse(ikm, sizeof ikm);
    return rc;
}

/* ------------------------------------------------------------------ companion */
int miaw_wa_linkcode_start(miaw_wa_linkcode *lc, const char *phone, const char *code)
{
    memset(lc, 0, sizeof *lc);
    size_t n = phone ? strlen(phone) : 0;
    if (n < 5 || n > 20 || phone[0] == '0' || strspn(phone, "0123456789") != n) return MIAW_E_INVAL;
    memcpy(lc->phone, phone, n + 1);
    int rc = code ? miaw_wa_linkcode_normalize(code, lc->code) : miaw_wa_linkcode_generate(lc->code);
    if (!rc) rc = miaw_keypair_generate(&lc->eph);
    if (!rc) rc = miaw_wa_linkcode_wrap(lc->code, lc->eph.pub, NULL, lc->wrapped);
    if (rc) miaw_wa_linkcode_clear(lc);
    return rc;
}

void miaw_wa_linkcode_clear(miaw_wa_linkcode *lc)
{
    if (!lc) return;
    free(lc->ref);
    OPENSSL_cleanse(lc, sizeof *lc);
}

static int add_bytes(miaw_node *parent, const char *tag, const void *b, size_t n)
{
    miaw_node *x = miaw_node_add(parent, tag);
    return x ? miaw_node_set_bytes(x, b, n) : MIAW_E_NOMEM;
}

/* <iq xmlns=md type=set to=s.whatsapp.net><link_code_companion_reg jid stage>; *reg set */
static miaw_node *reg_iq(const char *phone, const char *stage, miaw_node **reg)
{
    char jid[48];
    snprintf(jid, sizeof jid, "JID:%s@" MIAW_SERVER_USER, phone);
    miaw_node *iq = miaw_node_newv("iq", "xmlns", "md", "type", "set", "to", "JID:@" MIAW_SERVER_USER, NULL);
    *reg = iq ? miaw_node_addv(iq, "link_code_companion_reg", "jid", jid, "stage", stage, NULL) : NULL;
    if (!*reg) {
        miaw_node_free(iq);
        return NULL;
    }
    return iq;
}

miaw_node *miaw_wa_linkcode_hello_iq(const miaw_wa_linkcode *lc, const uint8_t noise_pub[32])
{
    miaw_node *reg, *iq = reg_iq(lc->phone, "companion_hello", &reg);
    static const uint8_t nonce = 0;
    if (!iq) return NULL;
    if (miaw_node_set_attr(reg, "should_show_push_notification", "true") ||
        add_bytes(reg, "link_code_pairing_wrapped_companion_ephemeral_pub", lc->wrapped, sizeof lc->wrapped) ||
        add_bytes(reg, "companion_server_auth_key_pub", noise_pub, 32) ||
        add_bytes(reg, "companion_platform_id", MIAW_WA_QR_PLATFORM, strlen(MIAW_WA_QR_PLATFORM)) ||
        add_bytes(reg, "companion_platform_display", MIAW_WA_LINKCODE_PLATFORM_DISPLAY,
                  strlen(MIAW_WA_LINKCODE_PLATFORM_DISPLAY)) ||
        add_bytes(reg, "link_code_pairing_nonce", &nonce, 1)) {
        miaw_node_free(iq);
        return NULL;
    }
    return iq;
}

int miaw_wa_linkcode_hello_reply(miaw_wa_linkcode *lc, const miaw_node *reply)
{
    size_t len = 0;
    const uint8_t *ref =
        reply && miaw_node_attr_is(reply, "type", "result")
            ? miaw_node_bytes(miaw_node_path(reply, "link_code_companion_reg", "link_code_pairing_ref", NULL), &len)
            : NULL;
    if (!ref || !len || len > 256) return MIAW_E_INVAL;
    uint8_t *copy = malloc(len);
    if (!copy) return MIAW_E_NOMEM;
    memcpy(copy, ref, len);
    free(lc->ref);
    lc->ref = copy;
    lc->ref_len = len;
    return 0;
}

static const uint8_t *child_bytes(const miaw_node *n, const char *tag, size_t want, size_t *len)
{
    size_t l = 0;
    const uint8_t *b = miaw_node_bytes(miaw_node_child(n, tag), &l);
    if (len) *len = l;
    return b && (!want || l == want) ? b : NULL;
}

int miaw_wa_linkcode_finish(const miaw_wa_linkcode *lc, const miaw_wa_creds *creds, const miaw_node *notification,
                            uint8_t adv_secret[32], miaw_node **iq, const char **why)
{
    *iq = NULL;
    *why = NULL;
    const miaw_node *reg = miaw_node_child(notification, "link_code_companion_reg");
    size_t ref_len = 0;
    const uint8_t *ref = reg ? child_bytes(reg, "link_code_pairing_ref", 0, &ref_len) : NULL;
    const uint8_t *primary_identity = reg ? child_bytes(reg, "primary_identity_pub", 32, NULL) : NULL;
    const uint8_t *wrapped =
        reg ? child_bytes(reg, "link_code_pairing_wrapped_primary_ephemeral_pub", MIAW_WA_LINKCODE_WRAPPED_LEN, NULL)
            : NULL;
    if (!ref || !primary_identity || !wrapped) {
        *why = "malformed link_code_companion_reg notification";
        return MIAW_E_INVAL;
    }
    if (!lc->ref || ref_len != lc->ref_len || memcmp(ref, lc->ref, ref_len)) {
        *why = "the notification's pairing ref is not ours";
        return MIAW_E_INVAL;
    }
    uint8_t primary_eph[32], shared[32], ident_shared[32], random[32], bundle[MIAW_WA_LINKCODE_BUNDLE_LEN];
    int rc = miaw_wa_linkcode_unwrap(lc->code, wrapped, primary_eph);
    if (!rc && (rc = miaw_x25519(shared, lc->eph.priv, primary_eph)) == 0 &&
        (rc = miaw_x25519(ident_shared, creds->identity.priv, primary_identity)) == 0) {
        if (RAND_bytes(random, sizeof random) != 1) rc = MIAW_E_INTERNAL;
        if (!rc) rc = miaw_wa_linkcode_bundle_seal(shared, creds->identity.pub, primary_identity, random, NULL, bundle);
        if (!rc) rc = miaw_wa_linkcode_adv_secret(shared, ident_shared, random, adv_secret);
    }
    miaw_node *r = NULL, *out = rc ? NULL : reg_iq(lc->phone, "companion_finish", &r);
    if (out && (add_bytes(r, "link_code_pairing_wrapped_key_bundle", bundle, sizeof bundle) ||
                add_bytes(r, "companion_identity_public", creds->identity.pub, 32) ||
                add_bytes(r, "link_code_pairing_ref", lc->ref, lc->ref_len))) {
        miaw_node_free(out);
        out = NULL;
    }
    if (!rc && !out) rc = MIAW_E_NOMEM;
    if (rc) {
        *why = rc == MIAW_E_AUTH ? "the phone's keys are unusable" : "internal error";
        OPENSSL_cleanse(adv_secret, 32);
    }
    OPENSSL_cleanse(shared, sizeof shared);
    OPENSSL_cleanse(ident_shared, sizeof ident_shared);
    OPENSSL_cleanse(random, sizeof random);
    *iq = out;
    return rc;
}
