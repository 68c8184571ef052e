/* tests/unit/test_wa_mediacrypto.c - media encryption (core/wa/mediacrypto.c): the HKDF
 * expansion against the toolchain-notes vector from Baileys (mediaKey 00..1f, image iv
 * aa6a1272…) and full expansions from Node's crypto, a fixed encryption vector (blob and
 * both hashes from Node's AES-CBC/HMAC), round trips of several sizes, and refusals:
 * tampered MAC, ciphertext or hashes, wrong type, short and unaligned blobs. The
 * streaming API (miaw_wa_media_enc / _dec): the same bytes and hashes as the one-shot
 * functions whatever the piece sizes (1 byte, odd sizes, everything at once, a MAC split
 * across pieces), a large input in small pieces, and the same refusals at _final. */
#include <miaw/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "wa/mediacrypto.h"

static void seq(uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)i;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", b[i]);
}

static const char PT[] = "miaw media test vector\n";

static void t_info_strings(void)
{
    CU_ASSERT_STRING_EQUAL(miaw_wa_media_info("image"), "WhatsApp Image Keys");
    CU_ASSERT_STRING_EQUAL(miaw_wa_media_info("sticker"), "WhatsApp Image Keys");
    CU_ASSERT_STRING_EQUAL(miaw_wa_media_info("video"), "WhatsApp Video Keys");
    CU_ASSERT_STRING_EQUAL(miaw_wa_media_info("gif"), "WhatsApp Video Keys");
    CU_ASSERT_STRING_EQUAL(miaw_wa_media_info("ptt"), "WhatsApp Audio Keys");
    CU_ASSERT_STRING_EQUAL(miaw_wa_media_info("document"), "WhatsApp Document Keys");
    CU_ASSERT_STRING_EQUAL(miaw_wa_media_info("md-msg-hist"), "WhatsApp History Keys");
    CU_ASSERT_STRING_EQUAL(miaw_wa_media_info("md-app-state"), "WhatsApp App State Keys");
    CU_ASSERT_STRING_EQUAL(miaw_wa_media_info("thumbnail-link"), "WhatsApp Link Thumbnail Keys");
    CU_ASSERT_PTR_NULL(miaw_wa_media_info("Image"));
    CU_ASSERT_PTR_NULL(miaw_wa_media_info(""));
    CU_ASSERT_PTR_NULL(miaw_wa_media_info(NULL));
}

static void t_expansion(void)
{
    uint8_t mk[32];
    seq(mk, 32);
    miaw_wa_media_keys k;
    char h[2 * 112 + 1];
    CU_ASSERT_EQUAL(miaw_wa_media_keys_derive(mk, "image", &k), 0);
    hex(k.iv, 16, h);
    CU_ASSERT_STRING_EQUAL(h, "aa6a127218397cbd2383e4ccf7176a79"); /* toolchain-notes, Baileys getMediaKeys */
    hex(k.cipher_key, 32, h);
    CU_ASSERT_STRING_EQUAL(h, "008c9aea9b7c5d81eb56b3f530f87d42dcc92d27b11ad6b5bd66f0560d0d8c46");
    hex(k.mac_key, 32, h);
    CU_ASSERT_STRING_EQUAL(h, "91d09ffec108833c1699574c52657923fb6e3e161d9698bc6b3a05fbc508a515");
    hex(k.ref_key, 32, h);
    CU_ASSERT_STRING_EQUAL(h, "4d4981725e9eb39838fcff2130508f1360cbb319f99cef163d57ab7c050a667e");
    CU_ASSERT_EQUAL(miaw_wa_media_keys_derive(mk, "document", &k), 0);
    hex(k.iv, 16, h);
    CU_ASSERT_STRING_EQUAL(h, "25e9d370804de0bb33ea5db79453db66");
    CU_ASSERT_EQUAL(miaw_wa_media_keys_derive(mk, "nonsense", &k), MIAW_E_INVAL);
    miaw_wa_media_keys_wipe(&k);
}

static void t_encrypt_vector(void)
{
    uint8_t mk[32], *blob = NULL;
    size_t bl = 0;
    miaw_wa_media_hashes hs;
    char h[128];
    seq(mk, 32);
    CU_ASSERT_EQUAL(miaw_wa_media_encrypt(mk, "image", (const uint8_t *)PT, strlen(PT), &blob, &bl, &hs), 0);
    CU_ASSERT_EQUAL(bl, 42);
    if (bl == 42) {
        hex(blob, bl, h);
        CU_ASSERT_STRING_EQUAL(h, "94414655d8dc835196f8eb26eec5ee004459948b4c7fdac52173022f5ae90cfdf60f373fa6f0dd0911ba");
    }
    hex(hs.file_sha256, 32, h);
    CU_ASSERT_STRING_EQUAL(h, "795f4c551f95800f9608ed68b3632c4618f05b2e0f22980342ff62823d57d3a2");
    hex(hs.file_enc_sha256, 32, h);
    CU_ASSERT_STRING_EQUAL(h, "869c60a8310ab71ab72d066aa31109973e06e5314cdcce3ce55c8369542343d2");
    CU_ASSERT_EQUAL(hs.file_length, strlen(PT));
    free(blob);
    CU_ASSERT_EQUAL(miaw_wa_media_encrypt(mk, "document", (const uint8_t *)PT, strlen(PT), &blob, &bl, &hs), 0);
    hex(hs.file_enc_sha256, 32, h);
    CU_ASSERT_STRING_EQUAL(h, "8afc1f2ac2480b904c268980aaf2292f0d55a7cd9b3c2a8b056be46a2ea398b7");
    free(blob);
}

static void t_round_trip(void)
{
    static const size_t sizes[] = {0, 1, 15, 16, 17, 1000, 65536 + 3};
    uint8_t mk[32];
    CU_ASSERT_EQUAL(miaw_wa_media_key_generate(mk), 0);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        uint8_t *pt = malloc(n ? n : 1), *blob = NULL, *out = NULL;
        size_t bl = 0, ol = 0;
        miaw_wa_media_hashes hs;
        for (size_t j = 0; j < n; j++) pt[j] = (uint8_t)(j * 7 + i);
        CU_ASSERT_EQUAL(miaw_wa_media_encrypt(mk, "video", pt, n, &blob, &bl, &hs), 0);
        CU_ASSERT_EQUAL(bl, (n / 16 + 1) * 16 + 10);
        CU_ASSERT_EQUAL(miaw_wa_media_decrypt(mk, "video", blob, bl, hs.file_enc_sha256, hs.file_sha256, &out, &ol), 0);
        CU_ASSERT_EQUAL(ol, n);
        CU_ASSERT(out && (n == 0 || !memcmp(out, pt, n)));
        free(out);
        out = NULL;
        /* without hashes (what Baileys does): still decrypts */
        CU_ASSERT_EQUAL(miaw_wa_media_decrypt(mk, "video", blob, bl, NULL, NULL, &out, &ol), 0);
        free(out);
        free(blob);
        free(pt);
    }
}

static void t_refusals(void)
{
    uint8_t mk[32], *blob = NULL, *out = NULL;
    size_t bl = 0, ol = 0;
    miaw_wa_media_hashes hs;
    seq(mk, 32);
    CU_ASSERT_EQUAL(miaw_wa_media_encrypt(mk, "image", (const uint8_t *)PT, strlen(PT), &blob, &bl, &hs), 0);
    /* wrong type: other keys, the MAC fails */
    CU_ASSERT_EQUAL(miaw_wa_media_decrypt(mk, "document", blob, bl, NULL, NULL, &out, &ol), MIAW_E_AUTH);
    CU_ASSERT_EQUAL(miaw_wa_media_decrypt(mk, "bogus", blob, bl, NULL, NULL, &out, &ol), MIAW_E_INVAL);
    /* a flipped bit in the MAC, in the ciphertext */
    blob[bl - 1] ^= 1;
    CU_ASSERT_EQUAL(miaw_wa_media_decrypt(mk, "image", blob, bl, NULL, NULL, &out, &ol), MIAW_E_AUTH);
    blob[bl - 1] ^= 1;
    blob[3] ^= 0x80;
    CU_ASSERT_EQUAL(miaw_wa_media_decrypt(mk, "image", blob, bl, NULL, NULL, &out, &ol), MIAW_E_AUTH);
    blob[3] ^= 0x80;
    /* hashes that do not match */
    uint8_t bad[32];
    memcpy(bad, hs.file_enc_sha256, 32);
    bad[0] ^= 1;
    CU_ASSERT_EQUAL(miaw_wa_media_decrypt(mk, "image", blob, bl, bad, NULL, &out, &ol), MIAW_E_AUTH);
    memcpy(bad, hs.file_sha256, 32);
    bad[31] ^= 1;
    CU_ASSERT_EQUAL(miaw_wa_media_decrypt(mk, "image", blob, bl, hs.file_enc_sha256, bad, &out, &ol), MIAW_E_AUTH);
    /* another media key */
    uint8_t mk2[32];
    memcpy(mk2, mk, 32);
    mk2[5] ^= 1;
    CU_ASSERT_EQUAL(miaw_wa_media_decrypt(mk2, "image", blob, bl, NULL, NULL, &out, &ol), MIAW_E_AUTH);
    /* shapes that cannot be a blob */
    CU_ASSERT_EQUAL(miaw_wa_media_decrypt(mk, "image", blob, 25, NULL, NULL, &out, &ol), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(miaw_wa_media_decrypt(mk, "image", blob, bl - 1, NULL, NULL, &out, &ol), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(miaw_wa_media_decrypt(mk, "image", blob, 0, NULL, NULL, &out, &ol), MIAW_E_INVAL);
    CU_ASSERT_PTR_NULL(out);
    /* an empty plaintext is one padding block plus the MAC; hashes optional */
    CU_ASSERT_EQUAL(miaw_wa_media_encrypt(mk, "image", NULL, 0, &out, &ol, NULL), 0);
    CU_ASSERT_EQUAL(ol, 26);
    free(out);
    free(blob);
}

/* streams in through the encryptor in pieces of `step` (0 = one piece); malloc'd blob */
static int stream_encrypt(const uint8_t *mk, const char *type, const uint8_t *pt, size_t len, size_t step,
                          uint8_t **blob, size_t *bl, miaw_wa_media_hashes *h)
{
    miaw_wa_media_enc *e = NULL;
    int rc = miaw_wa_media_enc_new(mk, type, &e);
    if (rc) return rc;
    uint8_t *out = malloc(len + 64);
    size_t o = 0, n = 0;
    for (size_t i = 0; i < len && !rc;) {
        size_t k = step && len - i > step ? step : len - i;
        rc = miaw_wa_media_enc_update(e, pt + i, k, out + o, &n);
        CU_ASSERT(n <= k + 15);
        o += n;
        i += k;
    }
    if (!rc) rc = miaw_wa_media_enc_final(e, out + o, &n, h);
    if (!rc) CU_ASSERT(n <= MIAW_WA_MEDIA_FINAL_MAX);
    o += n;
    miaw_wa_media_enc_free(e);
    if (rc) {
        free(out);
        return rc;
    }
    *blob = out;
    *bl = o;
    return 0;
}

/* the blob through the decryptor in pieces of `step`; plaintext appended to pt (cap len + 64) */
static int stream_decrypt(const uint8_t *mk, const char *type, const uint8_t *blob, size_t bl, size_t step,
                          const uint8_t *enc_sha, const uint8_t *sha, uint8_t *pt, size_t *pl, miaw_wa_media_hashes *h)
{
    miaw_wa_media_dec *d = NULL;
    int rc = miaw_wa_media_dec_new(mk, type, &d);
    if (rc) return rc;
    size_t o = 0, n = 0;
    for (size_t i = 0; i < bl && !rc;) {
        size_t k = step && bl - i > step ? step : bl - i;
        rc = miaw_wa_media_dec_update(d, blob + i, k, pt + o, &n);
        CU_ASSERT(n <= k + MIAW_WA_MEDIA_SLACK);
        o += n;
        i += k;
    }
    if (!rc) rc = miaw_wa_media_dec_final(d, enc_sha, sha, pt + o, &n, h);
    if (!rc) o += n;
    miaw_wa_media_dec_free(d);
    *pl = o;
    return rc;
}

static void t_stream_matches_one_shot(void)
{
    uint8_t mk[32];
    seq(mk, 32);
    static const size_t sizes[] = {0, 1, 15, 16, 17, 31, 32, 33, 1000, 4096, 65537};
    static const size_t steps[] = {0, 1, 3, 10, 11, 16, 17, 4096};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t len = sizes[si];
        uint8_t *pt = malloc(len + 1), *ref = NULL, *blob = NULL, *back = malloc(len + 64);
        for (size_t i = 0; i < len; i++) pt[i] = (uint8_t)(i * 7 + 3);
        size_t rl = 0;
        miaw_wa_media_hashes rh, hh, dh;
        CU_ASSERT_EQUAL_FATAL(miaw_wa_media_encrypt(mk, "document", pt, len, &ref, &rl, &rh), 0);
        for (size_t st = 0; st < sizeof steps / sizeof steps[0]; st++) {
            size_t bl = 0, pl = 0;
            CU_ASSERT_EQUAL_FATAL(stream_encrypt(mk, "document", pt, len, steps[st], &blob, &bl, &hh), 0);
            CU_ASSERT_EQUAL(bl, rl);
            CU_ASSERT(bl == rl && memcmp(blob, ref, rl) == 0);
            CU_ASSERT(memcmp(&hh, &rh, sizeof hh) == 0);
            CU_ASSERT_EQUAL(hh.file_length, len);
            CU_ASSERT_EQUAL(stream_decrypt(mk, "document", blob, bl, steps[st], rh.file_enc_sha256, rh.file_sha256,
                                           back, &pl, &dh), 0);
            CU_ASSERT_EQUAL(pl, len);
            CU_ASSERT(pl == len && (!len || memcmp(back, pt, len) == 0));
            CU_ASSERT(memcmp(&dh, &rh, sizeof dh) == 0);
            free(blob);
        }
        free(ref);
        free(pt);
        free(back);
    }
}

static void t_stream_large(void)
{
    /* 5 MiB in 8 KiB pieces: the stream holds nothing but its contexts */
    size_t len = 5u << 20;
    uint8_t mk[32], *pt = malloc(len), *blob = NULL, *back = malloc(len + 64);
    seq(mk, 32);
    for (size_t i = 0; i < len; i++) pt[i] = (uint8_t)(i ^ (i >> 9));
    size_t bl = 0, pl = 0;
    miaw_wa_media_hashes h, dh;
    CU_ASSERT_EQUAL_FATAL(stream_encrypt(mk, "video", pt, len, 8192, &blob, &bl, &h), 0);
    CU_ASSERT_EQUAL(bl, (len / 16 + 1) * 16 + 10);
    uint8_t sha[32];
    miaw_wa_sha256(pt, len, sha);
    CU_ASSERT(memcmp(sha, h.file_sha256, 32) == 0);
    miaw_wa_sha256(blob, bl, sha);
    CU_ASSERT(memcmp(sha, h.file_enc_sha256, 32) == 0);
    CU_ASSERT_EQUAL(stream_decrypt(mk, "video", blob, bl, 65536 + 5, h.file_enc_sha256, h.file_sha256, back, &pl, &dh), 0);
    CU_ASSERT(pl == len && memcmp(back, pt, len) == 0);
    free(pt);
    free(blob);
    free(back);
}

static void t_stream_refusals(void)
{
    uint8_t mk[32], *blob = NULL, out[4096];
    size_t bl = 0, pl = 0;
    miaw_wa_media_hashes h, dh;
    seq(mk, 32);
    uint8_t pt[1000];
    memset(pt, 'x', sizeof pt);
    CU_ASSERT_EQUAL_FATAL(stream_encrypt(mk, "image", pt, sizeof pt, 100, &blob, &bl, &h), 0);
    /* other keys, another type: the MAC fails */
    uint8_t mk2[32];
    memcpy(mk2, mk, 32);
    mk2[0] ^= 1;
    CU_ASSERT_EQUAL(stream_decrypt(mk2, "image", blob, bl, 7, NULL, NULL, out, &pl, NULL), MIAW_E_AUTH);
    CU_ASSERT_EQUAL(stream_decrypt(mk, "sticker", blob, bl, 7, NULL, NULL, out, &pl, NULL), 0); /* image keys */
    CU_ASSERT_EQUAL(stream_decrypt(mk, "audio", blob, bl, 7, NULL, NULL, out, &pl, NULL), MIAW_E_AUTH);
    miaw_wa_media_dec *d = NULL;
    CU_ASSERT_EQUAL(miaw_wa_media_dec_new(mk, "bogus", &d), MIAW_E_INVAL);
    CU_ASSERT_PTR_NULL(d);
    /* a flipped bit in the MAC (split across pieces), in the ciphertext */
    blob[bl - 4] ^= 1;
    CU_ASSERT_EQUAL(stream_decrypt(mk, "image", blob, bl, 9, NULL, NULL, out, &pl, NULL), MIAW_E_AUTH);
    blob[bl - 4] ^= 1;
    blob[100] ^= 1;
    CU_ASSERT_EQUAL(stream_decrypt(mk, "image", blob, bl, 64, NULL, NULL, out, &pl, NULL), MIAW_E_AUTH);
    blob[100] ^= 1;
    /* hashes that do not match; the computed ones are still reported */
    uint8_t bad[32];
    memcpy(bad, h.file_enc_sha256, 32);
    bad[3] ^= 1;
    CU_ASSERT_EQUAL(stream_decrypt(mk, "image", blob, bl, 0, bad, NULL, out, &pl, &dh), MIAW_E_AUTH);
    CU_ASSERT(memcmp(dh.file_enc_sha256, h.file_enc_sha256, 32) == 0);
    memcpy(bad, h.file_sha256, 32);
    bad[3] ^= 1;
    CU_ASSERT_EQUAL(stream_decrypt(mk, "image", blob, bl, 0, h.file_enc_sha256, bad, out, &pl, &dh), MIAW_E_AUTH);
    CU_ASSERT_EQUAL(dh.file_length, sizeof pt);
    /* truncated (unaligned, too short, MAC only) */
    CU_ASSERT_EQUAL(stream_decrypt(mk, "image", blob, bl - 1, 5, NULL, NULL, out, &pl, NULL), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(stream_decrypt(mk, "image", blob, 25, 5, NULL, NULL, out, &pl, NULL), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(stream_decrypt(mk, "image", blob, 10, 5, NULL, NULL, out, &pl, NULL), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(stream_decrypt(mk, "image", blob, 0, 5, NULL, NULL, out, &pl, NULL), MIAW_E_INVAL);
    /* a block cut off at a block boundary: MAC over the wrong bytes */
    uint8_t cut[1024];
    memcpy(cut, blob, bl - 10 - 16);
    memcpy(cut + bl - 10 - 16, blob + bl - 10, 10);
    CU_ASSERT_EQUAL(stream_decrypt(mk, "image", cut, bl - 16, 5, NULL, NULL, out, &pl, NULL), MIAW_E_AUTH);
    /* after _final (or an error) the stream refuses more */
    CU_ASSERT_EQUAL(miaw_wa_media_dec_new(mk, "image", &d), 0);
    size_t n = 0;
    CU_ASSERT_EQUAL(miaw_wa_media_dec_update(d, blob, bl, out, &n), 0);
    CU_ASSERT_EQUAL(miaw_wa_media_dec_final(d, h.file_enc_sha256, h.file_sha256, out + n, &pl, NULL), 0);
    CU_ASSERT_EQUAL(miaw_wa_media_dec_update(d, blob, 1, out, &n), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(miaw_wa_media_dec_final(d, NULL, NULL, out, &pl, NULL), MIAW_E_INVAL);
    miaw_wa_media_dec_free(d);
    miaw_wa_media_enc *e = NULL;
    CU_ASSERT_EQUAL(miaw_wa_media_enc_new(mk, "nope", &e), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(miaw_wa_media_enc_new(mk, "image", &e), 0);
    CU_ASSERT_EQUAL(miaw_wa_media_enc_final(e, out, &n, NULL), 0);
    CU_ASSERT_EQUAL(n, 26);
    CU_ASSERT_EQUAL(miaw_wa_media_enc_update(e, pt, 1, out, &n), MIAW_E_INVAL);
    miaw_wa_media_enc_free(e);
    miaw_wa_media_enc_free(NULL);
    miaw_wa_media_dec_free(NULL);
    free(blob);
}

MIAW_TESTS("wa_mediacrypto", MIAW_T(t_info_strings), MIAW_T(t_expansion), MIAW_T(t_encrypt_vector),
           MIAW_T(t_round_trip), MIAW_T(t_refusals), MIAW_T(t_stream_matches_one_shot), MIAW_T(t_stream_large),
           MIAW_T(t_stream_refusals))
