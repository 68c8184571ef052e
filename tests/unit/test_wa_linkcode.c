/* tests/unit/test_wa_linkcode.c - pairing by phone-number code (core/wa/linkcode.c):
 * the code alphabet and its normalisation, PBKDF2 + AES-CTR wrapping, the HKDF + GCM key
 * bundle and the adv secret against vectors computed with Node's crypto and Baileys'
 * code encoder, the companion_hello IQ, and a whole companion/primary exchange (same
 * adv secret on both sides; a wrong code fails the bundle; malformed notifications). */
#include <miaw/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "wa/linkcode.h"
#include "wa/noise.h"

static void seq(uint8_t *b, uint8_t start, size_t n)
{
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)(start + i);
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", b[i]);
}

static void t_code_encoding(void)
{
    char code[9];
    const uint8_t a[5] = {0x01, 0x23, 0x45, 0x67, 0x89}, z[5] = {0}, f[5] = {0xff, 0xff, 0xff, 0xff, 0xff},
                  h[5] = {0x84, 0x21, 0x08, 0x42, 0x10};
    miaw_wa_linkcode_encode(a, code);
    CU_ASSERT_STRING_EQUAL(code, "15JMBSWA"); /* Baileys bytesToCrockford */
    miaw_wa_linkcode_encode(z, code);
    CU_ASSERT_STRING_EQUAL(code, "11111111");
    miaw_wa_linkcode_encode(f, code);
    CU_ASSERT_STRING_EQUAL(code, "ZZZZZZZZ");
    miaw_wa_linkcode_encode(h, code);
    CU_ASSERT_STRING_EQUAL(code, "HHHHHHHH");
    char other[9];
    CU_ASSERT_EQUAL(miaw_wa_linkcode_generate(code), 0);
    CU_ASSERT_EQUAL(miaw_wa_linkcode_generate(other), 0);
    CU_ASSERT_EQUAL(strlen(code), 8);
    CU_ASSERT_EQUAL(strspn(code, MIAW_WA_LINKCODE_ALPHABET), 8);
    CU_ASSERT(strcmp(code, other) != 0);
    char disp[10];
    miaw_wa_linkcode_display("ABCDEFGH", disp);
    CU_ASSERT_STRING_EQUAL(disp, "ABCD-EFGH");
}

static void t_code_normalize(void)
{
    char c[9];
    CU_ASSERT_EQUAL(miaw_wa_linkcode_normalize("abcd-efgh", c), 0);
    CU_ASSERT_STRING_EQUAL(c, "ABCDEFGH");
    CU_ASSERT_EQUAL(miaw_wa_linkcode_normalize("ABCD EFGH", c), 0);
    CU_ASSERT_STRING_EQUAL(c, "ABCDEFGH");
    CU_ASSERT_EQUAL(miaw_wa_linkcode_normalize("15JMBSWA", c), 0);
    CU_ASSERT_STRING_EQUAL(c, "15JMBSWA");
    const char *bad[] = {"", "ABCDEFG", "ABCDEFGHI", "ABC-DEFGH", "ABCD--EFGH", "ABCD-EFG-", "ABCD_EFGH",
                         "ABCDEFG\xc3\xa9", "-ABCDEFGH", "ABCDEFGH-", "ABCD\nEFGH"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) CU_ASSERT_EQUAL(miaw_wa_linkcode_normalize(bad[i], c), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(miaw_wa_linkcode_normalize(NULL, c), MIAW_E_INVAL);
}

static void t_wrap_vector(void)
{
    uint8_t salt_iv[48], pub[32], out[80], key[32], back[32];
    char h[161];
    seq(salt_iv, 0, 48);
    seq(pub, 0x40, 32);
    CU_ASSERT_EQUAL_FATAL(miaw_wa_linkcode_key("ABCD2345", salt_iv, key), 0);
    hex(key, 32, h);
    CU_ASSERT_STRING_EQUAL(h, "fc9c4bfd83a71c63199e5871fd4ace6dfa302c1461a4596c3493f616f21756d1");
    CU_ASSERT_EQUAL_FATAL(miaw_wa_linkcode_wrap("ABCD2345", pub, salt_iv, out), 0);
    hex(out, 80, h);
    CU_ASSERT_STRING_EQUAL(h, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
                              "202122232425262728292a2b2c2d2e2f"
                              "ad416d44a9de581364da0d30911ed0f75ed6822ac02d9155c16d3631a2f403c0");
    CU_ASSERT_EQUAL(miaw_wa_linkcode_unwrap("ABCD2345", out, back), 0);
    CU_ASSERT(!memcmp(back, pub, 32));
    /* another code gives other bytes, without an error (CTR has no integrity) */
    CU_ASSERT_EQUAL(miaw_wa_linkcode_unwrap("ABCD2346", out, back), 0);
    CU_ASSERT(memcmp(back, pub, 32) != 0);
    /* random salt and iv */
    uint8_t out2[80];
    CU_ASSERT_EQUAL(miaw_wa_linkcode_wrap("ABCD2345", pub, NULL, out2), 0);
    CU_ASSERT(memcmp(out2, out, 48) != 0);
    CU_ASSERT_EQUAL(miaw_wa_linkcode_unwrap("ABCD2345", out2, back), 0);
    CU_ASSERT(!memcmp(back, pub, 32));
}

static void t_bundle_and_adv_vector(void)
{
    uint8_t shared[32], sn[44], ci[32], pi[32], rnd[32], out[MIAW_WA_LINKCODE_BUNDLE_LEN], plain[96];
    char h[2 * MIAW_WA_LINKCODE_BUNDLE_LEN + 1];
    memset(shared, 0x11, 32);
    seq(sn, 0x80, 32);
    seq(sn + 32, 0xa0, 12);
    seq(ci, 0x01, 32);
    seq(pi, 0x21, 32);
    seq(rnd, 0x61, 32);
    CU_ASSERT_EQUAL(MIAW_WA_LINKCODE_BUNDLE_LEN, 156);
    CU_ASSERT_EQUAL_FATAL(miaw_wa_linkcode_bundle_seal(shared, ci, pi, rnd, sn, out), 0);
    hex(out, sizeof out, h);
    CU_ASSERT_STRING_EQUAL(h, "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
                              "a0a1a2a3a4a5a6a7a8a9aaab"
                              "c17c9c3cf6f4f836165f6afb6aff889280de81c5cbe8290cc8285dac86459d11"
                              "096605252c20325ada6ef92bd34c47f02583a36ff79b8e2b56cc81ff18375881"
                              "7238fb5497ba98bcdb063315943024125beda7c12f416b8ceea5bca4b1fd4c37"
                              "51d6311782d249fb4e3fb5a122ba5260");
    CU_ASSERT_EQUAL_FATAL(miaw_wa_linkcode_bundle_open(shared, out, sizeof out, plain), 0);
    CU_ASSERT(!memcmp(plain, ci, 32) && !memcmp(plain + 32, pi, 32) && !memcmp(plain + 64, rnd, 32));
    /* tampering, a wrong key, a wrong length */
    out[100] ^= 1;
    CU_ASSERT_EQUAL(miaw_wa_linkcode_bundle_open(shared, out, sizeof out, plain), MIAW_E_AUTH);
    out[100] ^= 1;
    shared[0] ^= 1;
    CU_ASSERT_EQUAL(miaw_wa_linkcode_bundle_open(shared, out, sizeof out, plain), MIAW_E_AUTH);
    shared[0] ^= 1;
    CU_ASSERT_EQUAL(miaw_wa_linkcode_bundle_open(shared, out, sizeof out - 1, plain), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(miaw_wa_linkcode_bundle_open(shared, NULL, 0, plain), MIAW_E_INVAL);

    uint8_t ident[32], adv[32];
    memset(ident, 0x22, 32);
    CU_ASSERT_EQUAL_FATAL(miaw_wa_linkcode_adv_secret(shared, ident, rnd, adv), 0);
    hex(adv, 32, h);
    CU_ASSERT_STRING_EQUAL(h, "196fa11ae9416dc12837f1e47c178c5845077b674c140d97d0652208c297372d");
}

static const uint8_t *kid(const miaw_node *reg, const char *tag, size_t *len)
{
    return miaw_node_bytes(miaw_node_child(reg, tag), len);
}

static void t_start_and_hello(void)
{
    miaw_wa_linkcode lc;
    CU_ASSERT_EQUAL(miaw_wa_linkcode_start(&lc, "+15551234567", NULL), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(miaw_wa_linkcode_start(&lc, "0155512345", NULL), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(miaw_wa_linkcode_start(&lc, "1234", NULL), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(miaw_wa_linkcode_start(&lc, "123456789012345678901", NULL), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(miaw_wa_linkcode_start(&lc, NULL, NULL), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(miaw_wa_linkcode_start(&lc, "15551234567", "bad"), MIAW_E_INVAL);
    CU_ASSERT_EQUAL_FATAL(miaw_wa_linkcode_start(&lc, "15551234567", "abcd-2345"), 0);
    CU_ASSERT_STRING_EQUAL(lc.code, "ABCD2345");
    uint8_t pub[32];
    CU_ASSERT_EQUAL(miaw_wa_linkcode_unwrap(lc.code, lc.wrapped, pub), 0);
    CU_ASSERT(!memcmp(pub, lc.eph.pub, 32));

    uint8_t noise[32];
    memset(noise, 7, 32);
    miaw_node *iq = miaw_wa_linkcode_hello_iq(&lc, noise);
    CU_ASSERT_PTR_NOT_NULL_FATAL(iq);
    CU_ASSERT(miaw_node_attr_is(iq, "xmlns", "md") && miaw_node_attr_is(iq, "type", "set"));
    miaw_jid j;
    CU_ASSERT(miaw_node_attr_jid(iq, "to", &j) == 0 && !strcmp(j.server, "s.whatsapp.net") && !j.user[0]);
    const miaw_node *reg = miaw_node_child(iq, "link_code_companion_reg");
    CU_ASSERT_PTR_NOT_NULL_FATAL(reg);
    CU_ASSERT(miaw_node_attr_jid(reg, "jid", &j) == 0 && !strcmp(j.user, "15551234567"));
    CU_ASSERT(miaw_node_attr_is(reg, "stage", "companion_hello"));
    CU_ASSERT(miaw_node_attr_is(reg, "should_show_push_notification", "true"));
    size_t len;
    const uint8_t *b = kid(reg, "link_code_pairing_wrapped_companion_ephemeral_pub", &len);
    CU_ASSERT(b && len == 80 && !memcmp(b, lc.wrapped, 80));
    b = kid(reg, "companion_server_auth_key_pub", &len);
    CU_ASSERT(b && len == 32 && !memcmp(b, noise, 32));
    b = kid(reg, "companion_platform_id", &len);
    CU_ASSERT(b && len == 1 && b[0] == '1');
    b = kid(reg, "companion_platform_display", &len);
    CU_ASSERT(b && len == strlen("Chrome (Linux)") && !memcmp(b, "Chrome (Linux)", len));
    b = kid(reg, "link_code_pairing_nonce", &len);
    CU_ASSERT(b && len == 1 && b[0] == 0);
    /* the wire form survives an encode/decode */
    uint8_t *wire;
    size_t wl;
    miaw_node *back = NULL;
    CU_ASSERT_EQUAL_FATAL(miaw_node_encode_raw(iq, &wire, &wl), 0);
    CU_ASSERT_EQUAL(miaw_node_decode_raw(wire, wl, &back), 0);
    CU_ASSERT(back && miaw_node_equal(back, iq));
    free(wire);
    miaw_node_free(back);
    miaw_node_free(iq);

    /* the reply: needs a result with a ref */
    miaw_node *r = miaw_node_newv("iq", "type", "error", "id", "1", NULL);
    CU_ASSERT_EQUAL(miaw_wa_linkcode_hello_reply(&lc, r), MIAW_E_INVAL);
    miaw_node_set_attr(r, "type", "result");
    CU_ASSERT_EQUAL(miaw_wa_linkcode_hello_reply(&lc, r), MIAW_E_INVAL);
    miaw_node_set_bytes(miaw_node_add(miaw_node_add(r, "link_code_companion_reg"), "link_code_pairing_ref"), "ref-1", 5);
    CU_ASSERT_EQUAL(miaw_wa_linkcode_hello_reply(&lc, r), 0);
    CU_ASSERT(lc.ref_len == 5 && !memcmp(lc.ref, "ref-1", 5));
    CU_ASSERT_EQUAL(miaw_wa_linkcode_hello_reply(&lc, NULL), MIAW_E_INVAL);
    miaw_node_free(r);
    miaw_wa_linkcode_clear(&lc);
}

/* the phone's side of the exchange, as the simulator plays it */
typedef struct {
    miaw_keypair identity, eph;
    uint8_t companion_eph[32];
} primary;

static miaw_node *notification(primary *p, const char *typed, const miaw_wa_linkcode *lc, const char *ref)
{
    uint8_t wrapped[80];
    CU_ASSERT_FATAL(miaw_keypair_generate(&p->eph) == 0);
    CU_ASSERT_FATAL(miaw_wa_linkcode_unwrap(typed, lc->wrapped, p->companion_eph) == 0);
    CU_ASSERT_FATAL(miaw_wa_linkcode_wrap(typed, p->eph.pub, NULL, wrapped) == 0);
    miaw_node *n = miaw_node_newv("notification", "from", "JID:@s.whatsapp.net", "type", "link_code_companion_reg",
                                  "id", "n1", NULL);
    miaw_node *reg = miaw_node_add(n, "link_code_companion_reg");
    miaw_node_set_bytes(miaw_node_add(reg, "link_code_pairing_ref"), ref, strlen(ref));
    miaw_node_set_bytes(miaw_node_add(reg, "primary_identity_pub"), p->identity.pub, 32);
    miaw_node_set_bytes(miaw_node_add(reg, "link_code_pairing_wrapped_primary_ephemeral_pub"), wrapped, 80);
    return n;
}

/* the phone opens the bundle: 0 and the adv secret, or the error */
static int primary_finish(primary *p, const miaw_node *iq, const miaw_wa_creds *c, uint8_t adv[32])
{
    const miaw_node *reg = miaw_node_child(iq, "link_code_companion_reg");
    size_t len;
    const uint8_t *bundle = kid(reg, "link_code_pairing_wrapped_key_bundle", &len);
    uint8_t shared[32], plain[96], ident_shared[32];
    CU_ASSERT_FATAL(miaw_x25519(shared, p->eph.priv, p->companion_eph) == 0);
    int rc = miaw_wa_linkcode_bundle_open(shared, bundle, len, plain);
    if (rc) return rc;
    CU_ASSERT(!memcmp(plain, c->identity.pub, 32));
    CU_ASSERT(!memcmp(plain + 32, p->identity.pub, 32));
    CU_ASSERT_FATAL(miaw_x25519(ident_shared, p->identity.priv, plain) == 0);
    return miaw_wa_linkcode_adv_secret(shared, ident_shared, plain + 64, adv);
}

static void t_exchange(void)
{
    miaw_wa_creds c;
    miaw_wa_linkcode lc;
    primary p;
    CU_ASSERT_FATAL(miaw_wa_creds_generate(&c) == 0);
    CU_ASSERT_FATAL(miaw_keypair_generate(&p.identity) == 0);
    CU_ASSERT_FATAL(miaw_wa_linkcode_start(&lc, "15551234567", NULL) == 0);
    lc.ref = (uint8_t *)strdup("2@ref");
    lc.ref_len = 5;

    /* the right code: both sides derive the same adv secret */
    miaw_node *n = notification(&p, lc.code, &lc, "2@ref"), *iq = NULL;
    uint8_t adv_c[32], adv_p[32];
    const char *why;
    CU_ASSERT_EQUAL_FATAL(miaw_wa_linkcode_finish(&lc, &c, n, adv_c, &iq, &why), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(iq);
    const miaw_node *reg = miaw_node_child(iq, "link_code_companion_reg");
    CU_ASSERT(miaw_node_attr_is(reg, "stage", "companion_finish"));
    size_t len;
    const uint8_t *b = kid(reg, "companion_identity_public", &len);
    CU_ASSERT(b && len == 32 && !memcmp(b, c.identity.pub, 32));
    b = kid(reg, "link_code_pairing_ref", &len);
    CU_ASSERT(b && len == 5 && !memcmp(b, "2@ref", 5));
    CU_ASSERT_EQUAL(primary_finish(&p, iq, &c, adv_p), 0);
    CU_ASSERT(!memcmp(adv_c, adv_p, 32));
    miaw_node_free(iq);
    miaw_node_free(n);

    /* the phone typed another code: the bundle does not open */
    char wrong[9];
    memcpy(wrong, lc.code, 9);
    wrong[0] = wrong[0] == 'A' ? 'B' : 'A';
    n = notification(&p, wrong, &lc, "2@ref");
    CU_ASSERT_EQUAL_FATAL(miaw_wa_linkcode_finish(&lc, &c, n, adv_c, &iq, &why), 0);
    CU_ASSERT_EQUAL(primary_finish(&p, iq, &c, adv_p), MIAW_E_AUTH);
    miaw_node_free(iq);
    miaw_node_free(n);

    /* someone else's ref, missing or short children */
    n = notification(&p, lc.code, &lc, "2@other");
    CU_ASSERT_EQUAL(miaw_wa_linkcode_finish(&lc, &c, n, adv_c, &iq, &why), MIAW_E_INVAL);
    CU_ASSERT_PTR_NULL(iq);
    CU_ASSERT_PTR_NOT_NULL(why);
    miaw_node_free(n);
    const char *drop[] = {"link_code_pairing_ref", "primary_identity_pub", "link_code_pairing_wrapped_primary_ephemeral_pub"};
    for (int k = 0; k < 3; k++) {
        n = notification(&p, lc.code, &lc, "2@ref");
        miaw_node *r = miaw_node_child(n, "link_code_companion_reg");
        for (uint32_t i = 0; i < miaw_node_count(r); i++)
            if (!strcmp(miaw_node_child_at(r, i)->tag, drop[k])) miaw_node_set_bytes(miaw_node_child_at(r, i), "x", 1);
        CU_ASSERT_EQUAL(miaw_wa_linkcode_finish(&lc, &c, n, adv_c, &iq, &why), MIAW_E_INVAL);
        CU_ASSERT_PTR_NULL(iq);
        miaw_node_free(n);
    }
    n = miaw_node_newv("notification", "type", "link_code_companion_reg", NULL);
    CU_ASSERT_EQUAL(miaw_wa_linkcode_finish(&lc, &c, n, adv_c, &iq, &why), MIAW_E_INVAL);
    miaw_node_free(n);
    /* a small-order primary key is refused */
    n = notification(&p, lc.code, &lc, "2@ref");
    miaw_node *r = miaw_node_child(n, "link_code_companion_reg");
    uint8_t zero[32] = {0};
    miaw_node_set_bytes(miaw_node_child(r, "primary_identity_pub"), zero, 32);
    CU_ASSERT_EQUAL(miaw_wa_linkcode_finish(&lc, &c, n, adv_c, &iq, &why), MIAW_E_AUTH);
    CU_ASSERT_PTR_NULL(iq);
    miaw_node_free(n);

    miaw_wa_linkcode_clear(&lc);
    miaw_wa_creds_clear(&c);
}

MIAW_TESTS("wa_linkcode", MIAW_T(t_code_encoding), MIAW_T(t_code_normalize), MIAW_T(t_wrap_vector),
           MIAW_T(t_bundle_and_adv_vector), MIAW_T(t_start_and_hello), MIAW_T(t_exchange))
