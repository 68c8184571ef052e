/* tests/unit/test_wa_node.c - binary node codec: token tables, JIDs, the worked byte
 * vectors (protocol facts Appendix C and Baileys' own encoding), packing, lengths,
 * compressed frames, malformed input, the builder/reader API and the text form. */
#include <miaw/plugin.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "harness.h"
#include "wa/jid.h"
#include "wa/node.h"
#include "wa/tokens.h"

static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
    size_t n = 0;
    while (*h) {
        if (*h == ' ') {
            h++;
            continue;
        }
        unsigned v;
        if (sscanf(h, "%2x", &v) != 1 || n >= cap) return (size_t)-1;
        out[n++] = (uint8_t)v;
        h += 2;
    }
    return n;
}

/* encode n, compare to hex; decode the hex, compare to n; re-encode, compare again */
static void check_vector(miaw_node *n, const char *hex)
{
    uint8_t want[512];
    size_t wlen = unhex(hex, want, sizeof want);
    CU_ASSERT_FATAL(wlen != (size_t)-1);
    uint8_t *enc = NULL;
    size_t elen = 0;
    CU_ASSERT_EQUAL_FATAL(miaw_node_encode(n, &enc, &elen), 0);
    CU_ASSERT_EQUAL(elen, wlen);
    CU_ASSERT(elen == wlen && memcmp(enc, want, wlen) == 0);
    if (elen != wlen || memcmp(enc, want, wlen)) {
        for (size_t i = 0; i < elen; i++) fprintf(stderr, "%02x", enc[i]);
        fprintf(stderr, "\n");
    }
    free(enc);
    miaw_node *d = NULL;
    CU_ASSERT_EQUAL_FATAL(miaw_node_decode(want, wlen, &d), 0);
    CU_ASSERT(miaw_node_equal(n, d));
    CU_ASSERT_EQUAL(miaw_node_encode(d, &enc, &elen), 0);
    CU_ASSERT(elen == wlen && memcmp(enc, want, wlen) == 0);
    free(enc);
    miaw_node_free(d);
}

static void test_token_tables(void)
{
    /* integrity: SHA-256 of the 236 single-byte tokens joined with '\n' */
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    for (unsigned i = 1; i < MIAW_TOKEN_SINGLE_COUNT; i++) {
        EVP_DigestUpdate(c, "\n", 1);
        EVP_DigestUpdate(c, miaw_token_single(i), strlen(miaw_token_single(i)));
    }
    unsigned char md[32];
    EVP_DigestFinal_ex(c, md, NULL);
    EVP_MD_CTX_free(c);
    char hex[65];
    for (int i = 0; i < 32; i++) sprintf(hex + 2 * i, "%02x", md[i]);
    CU_ASSERT_STRING_EQUAL(hex, "1e8302d2aba0d8c40d09fd79fc9c70347350cb00926dd0e3565683b347be35a5");

    CU_ASSERT_PTR_NULL(miaw_token_single(0));
    CU_ASSERT_PTR_NULL(miaw_token_single(236));
    CU_ASSERT_PTR_NULL(miaw_token_double(4, 0));
    CU_ASSERT_PTR_NULL(miaw_token_double(0, 256));
    CU_ASSERT_STRING_EQUAL(miaw_token_single(1), "xmlstreamstart");
    CU_ASSERT_STRING_EQUAL(miaw_token_single(235), "screen_height");
    CU_ASSERT_STRING_EQUAL(miaw_token_double(0, 0), "read-self");
    CU_ASSERT_STRING_EQUAL(miaw_token_double(0, 255), "mute_v2");
    CU_ASSERT_STRING_EQUAL(miaw_token_double(1, 0), "reject");
    CU_ASSERT_STRING_EQUAL(miaw_token_double(2, 0), "64");
    CU_ASSERT_STRING_EQUAL(miaw_token_double(3, 0), "1724");

    /* every token is found at its own place: no duplicates, the index is complete */
    int dict;
    unsigned idx;
    for (unsigned i = 1; i < MIAW_TOKEN_SINGLE_COUNT; i++) {
        const char *t = miaw_token_single(i);
        CU_ASSERT_EQUAL(miaw_token_lookup(t, strlen(t), &dict, &idx), 1);
        CU_ASSERT_EQUAL(idx, i);
    }
    for (unsigned d = 0; d < 4; d++)
        for (unsigned i = 0; i < 256; i++) {
            const char *t = miaw_token_double(d, i);
            CU_ASSERT_EQUAL(miaw_token_lookup(t, strlen(t), &dict, &idx), 2);
            CU_ASSERT(dict == (int)d && idx == i);
        }
    static const struct { const char *s; unsigned idx; } known[] = {
        {"iq", 25}, {"id", 8}, {"type", 4}, {"to", 17}, {"from", 6}, {"xmlns", 22}, {"get", 41},
        {"set", 90}, {"result", 20}, {"message", 19}, {"receipt", 7}, {"ack", 27},
        {"notification", 9}, {"enc", 29}, {"v", 81}, {"2", 69}, {"msg", 77}, {"pkmsg", 83},
        {"skmsg", 50}, {"participant", 5}, {"participants", 107}, {"t", 26}, {"usync", 121},
        {"devices", 15}, {"device", 59}, {"device-list", 54}, {"key-index", 80}, {"lid", 118},
        {"success", 76}, {"stream:error", 157}, {"w:p", 87}, {"ping", 86}, {"encrypt", 203},
        {"key", 158}, {"identity", 156}, {"registration", 173}, {"list", 113}, {"user", 14},
        {"media_conn", 58}, {"w:m", 194}, {"g.us", 28}, {"s.whatsapp.net", 3}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        CU_ASSERT_EQUAL(miaw_token_lookup(known[i].s, strlen(known[i].s), &dict, &idx), 1);
        CU_ASSERT_EQUAL(idx, known[i].idx);
    }
    static const struct { const char *s; int d; unsigned idx; } dbl[] = {
        {"failure", 2, 60}, {"pair-device", 1, 238}, {"ref", 1, 80}, {"w:g2", 1, 51}, {"skey", 0, 45}};
    for (size_t i = 0; i < sizeof dbl / sizeof dbl[0]; i++) {
        CU_ASSERT_EQUAL(miaw_token_lookup(dbl[i].s, strlen(dbl[i].s), &dict, &idx), 2);
        CU_ASSERT(dict == dbl[i].d && idx == dbl[i].idx);
    }
    CU_ASSERT_EQUAL(miaw_token_lookup("pair-success", 12, &dict, &idx), 0);
    CU_ASSERT_EQUAL(miaw_token_lookup("", 0, &dict, &idx), 0);
    CU_ASSERT_EQUAL(miaw_token_lookup("iqx", 2, &dict, &idx), 1); /* length-bounded */
    CU_ASSERT_EQUAL(miaw_token_lookup("i", 1, &dict, &idx), 0);
    CU_ASSERT_EQUAL(miaw_token_lookup("1\0xyz", 5, &dict, &idx), 0); /* NUL inside: no token */
    CU_ASSERT_EQUAL(miaw_token_lookup("iq\0", 3, &dict, &idx), 0);
}

static void test_jid_forms(void)
{
    static const struct { const char *s; int kind; const char *user, *server; unsigned dev, agent, integ; } ok[] = {
        {"15551234567@s.whatsapp.net", MIAW_JID_PAIR, "15551234567", "s.whatsapp.net", 0, 0, 0},
        {"@s.whatsapp.net", MIAW_JID_PAIR, "", "s.whatsapp.net", 0, 0, 0},
        {"15551234567:3@s.whatsapp.net", MIAW_JID_AD, "15551234567", "s.whatsapp.net", 3, 0, 0},
        {"15551234567:0@s.whatsapp.net", MIAW_JID_AD, "15551234567", "s.whatsapp.net", 0, 0, 0},
        {"15551234567_5:2@s.whatsapp.net", MIAW_JID_AD, "15551234567", "s.whatsapp.net", 2, 5, 0},
        {"123456789012345:7@lid", MIAW_JID_AD, "123456789012345", "lid", 7, 0, 0},
        {"123456789012345@lid", MIAW_JID_PAIR, "123456789012345", "lid", 0, 0, 0},
        {"120363025246125486@g.us", MIAW_JID_PAIR, "120363025246125486", "g.us", 0, 0, 0},
        {"status@broadcast", MIAW_JID_PAIR, "status", "broadcast", 0, 0, 0},
        {"120363144038483540@newsletter", MIAW_JID_PAIR, "120363144038483540", "newsletter", 0, 0, 0},
        {"1555:99@hosted", MIAW_JID_AD, "1555", "hosted", 99, 0, 0},
        {"1555:1@hosted.lid", MIAW_JID_AD, "1555", "hosted.lid", 1, 0, 0},
        {"100012345:5@msgr", MIAW_JID_FB, "100012345", "msgr", 5, 0, 0},
        {"7-abc:300@interop", MIAW_JID_INTEROP, "abc", "interop", 300, 0, 7},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        miaw_jid j;
        CU_ASSERT_EQUAL_FATAL(miaw_jid_parse(&j, ok[i].s), 0);
        CU_ASSERT_EQUAL(j.kind, ok[i].kind);
        CU_ASSERT_STRING_EQUAL(j.user, ok[i].user);
        CU_ASSERT_STRING_EQUAL(j.server, ok[i].server);
        CU_ASSERT_EQUAL(j.device, ok[i].dev);
        CU_ASSERT_EQUAL(j.agent, ok[i].agent);
        CU_ASSERT_EQUAL(j.integrator, ok[i].integ);
        char buf[MIAW_JID_STR_MAX];
        CU_ASSERT(miaw_jid_format(&j, buf, sizeof buf) > 0);
        CU_ASSERT_STRING_EQUAL(buf, ok[i].s);
        /* as an attribute value and as content: encode, decode, same JID */
        miaw_node *n = miaw_node_new("x");
        CU_ASSERT_EQUAL(miaw_node_set_jid(n, "jid", &j), 0);
        CU_ASSERT_EQUAL(miaw_node_set_content_jid(n, &j), 0);
        uint8_t *enc;
        size_t elen;
        CU_ASSERT_EQUAL_FATAL(miaw_node_encode(n, &enc, &elen), 0);
        miaw_node *d;
        CU_ASSERT_EQUAL_FATAL(miaw_node_decode(enc, elen, &d), 0);
        CU_ASSERT(miaw_node_equal(n, d));
        miaw_jid back;
        CU_ASSERT_EQUAL(miaw_node_attr_jid(d, "jid", &back), 0);
        CU_ASSERT(miaw_jid_equal(&back, &j));
        CU_ASSERT_STRING_EQUAL(miaw_node_attr(d, "jid"), ok[i].s);
        CU_ASSERT_EQUAL(d->content_type, MIAW_CONTENT_JID);
        free(enc);
        miaw_node_free(d);
        miaw_node_free(n);
    }
    static const char *bad[] = {"", "nouser", "a@", "a@b@c", "1:2:3@s.whatsapp.net",
                                "1:256@s.whatsapp.net", "1:x@s.whatsapp.net", "1:@lid",
                                "1_0:1@s.whatsapp.net", "1_1:1@s.whatsapp.net", "1_128:1@s.whatsapp.net", "1_x:1@s.whatsapp.net", "x:1@g.us",
                                "abc@interop", "abc:1@interop", "x-abc:1@interop", "a@msgr",
                                "1:70000@msgr", "a@0123456789012345678901234567890123"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        miaw_jid j;
        CU_ASSERT_NOT_EQUAL(miaw_jid_parse(&j, bad[i]), 0);
        if (miaw_jid_parse(&j, bad[i]) == 0) fprintf(stderr, "accepted bad jid %s\n", bad[i]);
    }
    miaw_jid j;
    CU_ASSERT_EQUAL(miaw_jid_init(&j, "1555", "s.whatsapp.net", 0, 0), 0);
    CU_ASSERT_EQUAL(j.kind, MIAW_JID_PAIR);
    CU_ASSERT_EQUAL(miaw_jid_init(&j, "1555", "s.whatsapp.net", 0, 4), 0);
    CU_ASSERT_EQUAL(j.kind, MIAW_JID_AD);
    CU_ASSERT_EQUAL(miaw_jid_init(&j, "1555", "hosted", 0, 0), 0);
    CU_ASSERT_EQUAL(j.kind, MIAW_JID_AD);
    CU_ASSERT_EQUAL(miaw_jid_domain(&j), MIAW_JID_DOMAIN_HOSTED);
    CU_ASSERT_EQUAL(miaw_jid_init(&j, "1555", "g.us", 0, 3), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(miaw_jid_init(&j, "1555", "", 0, 0), MIAW_E_INVAL);
    miaw_jid a, b;
    miaw_jid_parse(&a, "1555:3@s.whatsapp.net");
    miaw_jid_parse(&b, "1555@s.whatsapp.net");
    CU_ASSERT(miaw_jid_same_user(&a, &b));
    CU_ASSERT(!miaw_jid_equal(&a, &b));
}

/* Appendix C.1 example 1 */
static void test_vector_ping(void)
{
    miaw_node *n = miaw_node_newv("iq", "id", "1.23-4", "xmlns", "w:p", "type", "get", "to",
                                  "JID:@s.whatsapp.net", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    CU_ASSERT_PTR_NOT_NULL(miaw_node_add(n, "ping"));
    check_vector(n, "00 f8 0a 19 08 ff 03 1b 23 a4 16 57 04 29 11 fa 00 03 f8 01 f8 01 56");
    miaw_node_free(n);
}

/* Appendix C.1 examples 2 and 3 */
static void test_vector_message(void)
{
    miaw_node *n = miaw_node_newv("message", "to", "JID:15551234567:3@s.whatsapp.net", "id",
                                  "3EB0A1B2C3", "type", "text", NULL);
    miaw_node *enc = miaw_node_addv(n, "enc", "v", "2", "type", "msg", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(enc);
    CU_ASSERT_EQUAL(miaw_node_set_bytes(enc, "\x33\xaa", 2), 0);
    check_vector(n, "00 f8 08 13 11 f7 00 03 ff 86 15 55 12 34 56 7f 08 fb 05 3e b0 a1 b2 c3 04 38"
                    " f8 01 f8 06 1d 51 45 04 4d fc 02 33 aa");
    miaw_node_free(n);

    /* the LID device JID of example 3, as the value of a one-attribute node <x jid=...> */
    miaw_node *l = miaw_node_newv("user", "jid", "JID:123456789012345:7@lid", NULL);
    check_vector(l, "00 f8 03 0e 0c f7 01 07 ff 88 12 34 56 78 90 12 34 5f");
    miaw_node_free(l);
}

/* The vector Baileys' own encoder produced (toolchain notes). */
static void test_vector_baileys(void)
{
    miaw_node *n = miaw_node_newv("iq", "id", "1234.5678-1", "to", "JID:@s.whatsapp.net",
                                  "type", "get", "xmlns", "w:p", NULL);
    miaw_node_add(n, "ping");
    miaw_node_addv(n, "user", "jid", "JID:15551234567@s.whatsapp.net", NULL);
    miaw_node *raw = miaw_node_add(n, "raw");
    miaw_node_set_bytes(raw, "\xde\xad\xbe\xef", 4);
    check_vector(n, "00f80a1908ff861234b5678a1f11fa000304291657f803f80156f8030e0cfaff8615551234567f"
                    "03f802fc03726177fc04deadbeef");
    miaw_node_free(n);
}

static miaw_node *roundtrip(const miaw_node *n)
{
    uint8_t *enc;
    size_t elen;
    if (miaw_node_encode(n, &enc, &elen)) return NULL;
    miaw_node *d = NULL;
    int rc = miaw_node_decode(enc, elen, &d);
    free(enc);
    return rc ? NULL : d;
}

static void test_packing(void)
{
    struct { const char *s; uint8_t tag; } cases[] = {
        {"98", MIAW_TAG_NIBBLE_8}, {"9071", MIAW_TAG_NIBBLE_8}, {"1.5-", MIAW_TAG_NIBBLE_8},
        {"ABCDEF0123", MIAW_TAG_HEX_8}, {"3EB0", MIAW_TAG_HEX_8}, {"3eb0", MIAW_TAG_BINARY_8},
        {"A", MIAW_TAG_HEX_8}, {"hello world", MIAW_TAG_BINARY_8}, {"caf\xc3\xa9", MIAW_TAG_BINARY_8},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        miaw_node *n = miaw_node_newv("x", "k", cases[i].s, NULL);
        uint8_t *enc;
        size_t elen;
        CU_ASSERT_EQUAL_FATAL(miaw_node_encode_raw(n, &enc, &elen), 0);
        /* f8 03 fc 01 'x' fc 01 'k' then the value's tag ("x", "k" are not tokens) */
        CU_ASSERT(elen > 8 && enc[8] == cases[i].tag);
        free(enc);
        miaw_node *d = roundtrip(n);
        CU_ASSERT_PTR_NOT_NULL_FATAL(d);
        CU_ASSERT_STRING_EQUAL(miaw_node_attr(d, "k"), cases[i].s);
        miaw_node_free(d);
        miaw_node_free(n);
    }
    /* 127 digits pack, 128 do not */
    char digits[129];
    memset(digits, '7', 128);
    digits[128] = 0;
    miaw_node *n = miaw_node_new("x");
    miaw_node_set_string(n, digits);
    uint8_t *enc;
    size_t elen;
    CU_ASSERT_EQUAL(miaw_node_encode_raw(n, &enc, &elen), 0);
    CU_ASSERT_EQUAL(enc[5], MIAW_TAG_BINARY_8); /* f8 02 fc 01 78 <content> */
    free(enc);
    digits[127] = 0;
    miaw_node_set_string(n, digits);
    CU_ASSERT_EQUAL(miaw_node_encode_raw(n, &enc, &elen), 0);
    CU_ASSERT_EQUAL(enc[5], MIAW_TAG_NIBBLE_8);
    CU_ASSERT_EQUAL(enc[6], 0x80 | 64);
    CU_ASSERT_EQUAL(elen, 7u + 64);
    free(enc);
    miaw_node *d = roundtrip(n);
    CU_ASSERT_EQUAL(d->content_type, MIAW_CONTENT_STRING);
    CU_ASSERT_STRING_EQUAL((const char *)d->data, digits);
    miaw_node_free(d);
    /* token content stays a string; tokens win over packing ("2" is a token) */
    miaw_node_set_string(n, "2");
    CU_ASSERT_EQUAL(miaw_node_encode_raw(n, &enc, &elen), 0);
    CU_ASSERT(elen == 6 && enc[5] == 69);
    free(enc);
    miaw_node_free(n);

    /* nibble 12..14 are invalid; 15 inside the string decodes as a NUL byte */
    uint8_t bad[] = {0xf8, 0x03, 0x19, 0x08, 0xff, 0x01, 0x1c};
    CU_ASSERT_EQUAL(miaw_node_decode_raw(bad, sizeof bad, &d), MIAW_E_INVAL);
    uint8_t nul[] = {0xf8, 0x03, 0x19, 0x08, 0xff, 0x01, 0xf1};
    CU_ASSERT_EQUAL_FATAL(miaw_node_decode_raw(nul, sizeof nul, &d), 0);
    size_t len;
    const char *v = miaw_node_attrn(d, "id", &len);
    CU_ASSERT(len == 2 && v[0] == 0 && v[1] == '1');
    miaw_node_free(d);
}

static void test_binary_lengths(void)
{
    static const size_t sizes[] = {0, 1, 255, 256, 1000, (1u << 20) - 1, 1u << 20, (1u << 20) + 5};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t sz = sizes[i];
        uint8_t *buf = malloc(sz + 1);
        for (size_t k = 0; k < sz; k++) buf[k] = (uint8_t)(k * 31 + 7);
        miaw_node *n = miaw_node_new("qqqqq");
        CU_ASSERT_EQUAL(miaw_node_set_bytes(n, buf, sz), 0);
        uint8_t *enc;
        size_t elen;
        CU_ASSERT_EQUAL_FATAL(miaw_node_encode_raw(n, &enc, &elen), 0);
        uint8_t want = sz < 256 ? MIAW_TAG_BINARY_8 : sz < (1u << 20) ? MIAW_TAG_BINARY_20 : MIAW_TAG_BINARY_32;
        size_t hdr = sz < 256 ? 2 : sz < (1u << 20) ? 4 : 5;
        /* f8 02 fc 05 "qqqqq" <len tag> */
        CU_ASSERT_EQUAL(enc[9], want);
        CU_ASSERT_EQUAL(elen, 9 + hdr + sz);
        miaw_node *d;
        CU_ASSERT_EQUAL_FATAL(miaw_node_decode_raw(enc, elen, &d), 0);
        size_t dl;
        const uint8_t *db = miaw_node_bytes(d, &dl);
        CU_ASSERT(dl == sz && (sz == 0 || memcmp(db, buf, sz) == 0));
        CU_ASSERT_EQUAL(d->content_type, MIAW_CONTENT_BYTES);
        /* truncating the payload by one byte must fail cleanly */
        CU_ASSERT_EQUAL(miaw_node_decode_raw(enc, elen - 1, &d == NULL ? NULL : &(miaw_node *){0}),
                        MIAW_E_INVAL);
        free(enc);
        miaw_node_free(d);
        miaw_node_free(n);
        free(buf);
    }
}

static void test_list16_and_empty_list(void)
{
    miaw_node *n = miaw_node_new("list");
    for (int i = 0; i < 300; i++) miaw_node_addv(n, "item", "n", "1", NULL);
    uint8_t *enc;
    size_t elen;
    CU_ASSERT_EQUAL(miaw_node_encode_raw(n, &enc, &elen), 0);
    CU_ASSERT_EQUAL(enc[3], MIAW_TAG_LIST_16);
    CU_ASSERT(enc[4] == 0x01 && enc[5] == 0x2c);
    free(enc);
    miaw_node *d = roundtrip(n);
    CU_ASSERT_EQUAL(miaw_node_count(d), 300u);
    CU_ASSERT(miaw_node_equal(n, d));
    miaw_node_free(d);
    miaw_node_free(n);

    /* explicit empty child list differs from no content, and survives a round trip */
    n = miaw_node_new("iq");
    miaw_node_set_empty_list(n);
    CU_ASSERT_EQUAL(miaw_node_encode_raw(n, &enc, &elen), 0);
    CU_ASSERT(elen == 4 && enc[0] == 0xf8 && enc[1] == 2 && enc[2] == 25 && enc[3] == 0);
    free(enc);
    d = roundtrip(n);
    CU_ASSERT_EQUAL(d->content_type, MIAW_CONTENT_LIST);
    CU_ASSERT_EQUAL(miaw_node_count(d), 0u);
    miaw_node_free(d);
    miaw_node_clear_content(n);
    d = roundtrip(n);
    CU_ASSERT_EQUAL(d->content_type, MIAW_CONTENT_NONE);
    miaw_node_free(d);
    miaw_node_free(n);
}

static void test_compressed(void)
{
    miaw_node *n = miaw_node_newv("message", "from", "JID:120363025246125486@g.us", "id",
                                  "3EB0C0FFEE", "participant", "JID:15551234567:2@s.whatsapp.net", NULL);
    miaw_node *e = miaw_node_addv(n, "enc", "v", "2", "type", "skmsg", NULL);
    uint8_t payload[600];
    memset(payload, 0x41, sizeof payload);
    miaw_node_set_bytes(e, payload, sizeof payload);
    uint8_t *raw;
    size_t rlen;
    CU_ASSERT_EQUAL_FATAL(miaw_node_encode_raw(n, &raw, &rlen), 0);
    uLongf clen = compressBound(rlen);
    uint8_t *frame = malloc(clen + 1);
    frame[0] = MIAW_NODE_FLAG_COMPRESSED;
    CU_ASSERT_EQUAL_FATAL(compress2(frame + 1, &clen, raw, rlen, 9), Z_OK);
    CU_ASSERT(clen < rlen);
    miaw_node *d;
    CU_ASSERT_EQUAL_FATAL(miaw_node_decode(frame, clen + 1, &d), 0);
    CU_ASSERT(miaw_node_equal(n, d));
    miaw_node_free(d);
    /* truncated stream, trailing garbage, corrupt stream */
    CU_ASSERT_EQUAL(miaw_node_decode(frame, clen, &d), MIAW_E_INVAL);
    uint8_t *more = malloc(clen + 2);
    memcpy(more, frame, clen + 1);
    more[clen + 1] = 0x00;
    CU_ASSERT_EQUAL(miaw_node_decode(more, clen + 2, &d), MIAW_E_INVAL);
    more[3] ^= 0xff;
    CU_ASSERT_NOT_EQUAL(miaw_node_decode(more, clen + 1, &d), 0);
    free(more);
    free(frame);
    free(raw);
    miaw_node_free(n);

    /* a bomb: 40 MiB of zeros inflates beyond the limit */
    size_t big = 40u << 20;
    uint8_t *zeros = calloc(1, big);
    clen = compressBound(big);
    frame = malloc(clen + 1);
    frame[0] = MIAW_NODE_FLAG_COMPRESSED;
    CU_ASSERT_EQUAL_FATAL(compress2(frame + 1, &clen, zeros, big, 9), Z_OK);
    CU_ASSERT_EQUAL(miaw_node_decode(frame, clen + 1, &d), MIAW_E_LIMIT);
    free(frame);
    free(zeros);
}

static void test_malformed(void)
{
    miaw_node *d = NULL;
    static const struct { const char *hex; } bad[] = {
        {""},                       /* nothing */
        {"00"},                     /* LIST_EMPTY as a node */
        {"f800"},                   /* size 0 */
        {"f801"},                   /* no tag */
        {"f80100"},                 /* empty tag */
        {"f801f0"},                 /* unused tag byte 240 */
        {"f801f4"},                 /* 244 */
        {"f80119ff"},               /* trailing byte */
        {"f80319"},                 /* missing attribute */
        {"f8031908"},               /* missing attribute value */
        {"f8031908f8"},             /* a list where a string belongs */
        {"f80219f8"},               /* content list without size */
        {"f80219f805"},             /* 5 children promised, none present */
        {"f80219f9ffff"},           /* 65535 children promised */
        {"f8ff19"},                 /* 127 attributes promised */
        {"f80219fcff00"},           /* BINARY_8 longer than the input */
        {"f80219fd0fffff"},         /* BINARY_20 longer than the input */
        {"f80219feffffffff"},       /* BINARY_32 longer than the input */
        {"f80219fa0000"},           /* JID pair with empty server */
        {"f80219fa00"},             /* truncated JID pair */
        {"f80219f70001"},           /* truncated AD JID */
        {"f80219f6fc0161"},         /* truncated FB JID */
        {"f80219f5fc016100010002"}, /* interop JID without server */
        {"f80219ec"},               /* double-byte token without index */
        {"f80219ff85"},             /* nibble: 5 bytes promised */
        {"f80219fa"},               /* JID pair, nothing after */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t buf[64];
        size_t n = unhex(bad[i].hex, buf, sizeof buf);
        int rc = miaw_node_decode_raw(buf, n, &d);
        CU_ASSERT(rc < 0);
        CU_ASSERT_PTR_NULL(d);
        if (rc >= 0) fprintf(stderr, "accepted malformed %s\n", bad[i].hex);
    }
    CU_ASSERT_EQUAL(miaw_node_decode(NULL, 0, &d), MIAW_E_INVAL);

    /* every prefix of a valid frame is rejected; the full one is accepted */
    uint8_t full[64];
    size_t flen = unhex("00f80a1908ff861234b5678a1f11fa000304291657f803f80156f8030e0cfaff8615551234"
                        "567f03f802fc03726177fc04deadbeef", full, sizeof full);
    for (size_t k = 0; k < flen; k++) CU_ASSERT(miaw_node_decode(full, k, &d) < 0);
    CU_ASSERT_EQUAL(miaw_node_decode(full, flen, &d), 0);
    miaw_node_free(d);

    /* depth: 64 levels decode, 66 do not; the encoder refuses too */
    miaw_node *root = miaw_node_new("a"), *cur = root;
    for (int i = 0; i < MIAW_NODE_MAX_DEPTH; i++) cur = miaw_node_add(cur, "a");
    d = roundtrip(root);
    CU_ASSERT_PTR_NOT_NULL(d);
    miaw_node_free(d);
    miaw_node_add(miaw_node_add(cur, "a"), "a");
    uint8_t *enc;
    size_t elen;
    CU_ASSERT_EQUAL(miaw_node_encode(root, &enc, &elen), MIAW_E_INVAL);
    miaw_node_free(root);
    uint8_t deep[4 * 100];
    for (int i = 0; i < 100; i++) { /* <a><a>... as raw bytes: f8 02 fc01 61? use token iq */
        deep[4 * i] = 0xf8;
        deep[4 * i + 1] = 0x02;
        deep[4 * i + 2] = 25;
        deep[4 * i + 3] = 0xf8; /* list of 1 follows... */
    }
    /* rewrite as: node(size 2, tag iq, content list 1) repeated; final node size 1 */
    size_t p = 0;
    uint8_t chain[6 * 100 + 3];
    for (int i = 0; i < 100; i++) {
        chain[p++] = 0xf8; chain[p++] = 0x02; chain[p++] = 25; chain[p++] = 0xf8; chain[p++] = 0x01;
    }
    chain[p++] = 0xf8; chain[p++] = 0x01; chain[p++] = 25;
    CU_ASSERT_EQUAL(miaw_node_decode_raw(chain, p, &d), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(miaw_node_decode_raw(chain + 5 * 40, p - 5 * 40, &d), 0); /* 60 deep */
    miaw_node_free(d);
    (void)deep;
}

static void test_api(void)
{
    miaw_node *iq = miaw_node_newv("iq", "id", "abc", "type", "get", "xmlns", "usync", "to",
                                   "JID:@s.whatsapp.net", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(iq);
    miaw_node *usync = miaw_node_addv(iq, "usync", "sid", "s1", "mode", "query", "last", "true",
                                      "index", "0", "context", "message", NULL);
    miaw_node *list = miaw_node_add(usync, "list");
    for (int i = 0; i < 3; i++) {
        miaw_node *u = miaw_node_add(list, "user");
        CU_ASSERT_EQUAL(miaw_node_set_attrf(u, "jid", "1555000000%d@s.whatsapp.net", i), 0);
    }
    miaw_node_add(miaw_node_add(usync, "query"), "devices");
    CU_ASSERT_PTR_NULL(miaw_node_newv("iq", "to", "JID:not a jid", NULL));
    CU_ASSERT_PTR_NULL(miaw_node_new(""));
    CU_ASSERT_PTR_NULL(miaw_node_add(iq, NULL));

    CU_ASSERT_PTR_EQUAL(miaw_node_path(iq, "usync", "list", NULL), list);
    CU_ASSERT_PTR_NULL(miaw_node_path(iq, "usync", "nope", NULL));
    int count = 0;
    for (miaw_node *u = miaw_node_child(list, "user"); u; u = miaw_node_next(list, u, "user")) count++;
    CU_ASSERT_EQUAL(count, 3);
    CU_ASSERT_EQUAL(miaw_node_count(list), 3u);
    CU_ASSERT_PTR_NULL(miaw_node_child_at(list, 3));
    miaw_jid j;
    CU_ASSERT_EQUAL(miaw_node_attr_jid(miaw_node_child_at(list, 2), "jid", &j), 0); /* parsed */
    CU_ASSERT_STRING_EQUAL(j.user, "15550000002");
    CU_ASSERT_EQUAL(miaw_node_attr_jid(iq, "to", &j), 0);
    CU_ASSERT_STRING_EQUAL(j.server, "s.whatsapp.net");
    CU_ASSERT_EQUAL(miaw_node_attr_jid(iq, "id", &j), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(miaw_node_attr_jid(iq, "nope", &j), MIAW_E_NOTFOUND);
    CU_ASSERT(miaw_node_attr_is(usync, "mode", "query"));
    CU_ASSERT(!miaw_node_attr_is(usync, "mode", "quer"));
    uint64_t v;
    CU_ASSERT_EQUAL(miaw_node_attr_u64(usync, "index", &v), 0);
    CU_ASSERT_EQUAL(v, 0u);
    CU_ASSERT_EQUAL(miaw_node_set_attr(usync, "index", "18446744073709551615"), 0);
    CU_ASSERT_EQUAL(miaw_node_attr_u64(usync, "index", &v), 0);
    CU_ASSERT_EQUAL(v, UINT64_MAX);
    CU_ASSERT_EQUAL(miaw_node_set_attr(usync, "index", "18446744073709551616"), 0);
    CU_ASSERT_EQUAL(miaw_node_attr_u64(usync, "index", &v), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(miaw_node_attr_u64(usync, "mode", &v), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(usync->nattrs, 5u); /* replaced, not appended */
    CU_ASSERT_EQUAL(miaw_node_del_attr(usync, "last"), 0);
    CU_ASSERT_EQUAL(miaw_node_del_attr(usync, "last"), MIAW_E_NOTFOUND);
    CU_ASSERT_PTR_NULL(miaw_node_attr(usync, "last"));
    CU_ASSERT_EQUAL(usync->nattrs, 4u);

    miaw_node *c = miaw_node_clone(iq);
    CU_ASSERT(miaw_node_equal(iq, c));
    miaw_node_set_attr(miaw_node_path(c, "usync", "list", "user", NULL), "jid", "x");
    CU_ASSERT(!miaw_node_equal(iq, c));
    miaw_node *holder = miaw_node_new("holder");
    miaw_node *copy = miaw_node_add_copy(holder, usync);
    CU_ASSERT(miaw_node_equal(copy, usync));
    CU_ASSERT_PTR_EQUAL(copy->parent, holder);
    miaw_node_free(c); /* the copy is independent of c and iq */
    CU_ASSERT_EQUAL(miaw_node_remove_child(list, 0), 0);
    CU_ASSERT_EQUAL(miaw_node_count(list), 2u);
    CU_ASSERT_EQUAL(miaw_node_remove_child(list, 5), MIAW_E_NOTFOUND);
    CU_ASSERT_EQUAL(miaw_node_count(miaw_node_child(copy, "list")), 3u);
    miaw_node_free(holder);

    /* setting content replaces children */
    CU_ASSERT_EQUAL(miaw_node_set_string(list, "hello"), 0);
    CU_ASSERT_EQUAL(miaw_node_count(list), 0u);
    size_t len;
    CU_ASSERT_STRING_EQUAL((const char *)miaw_node_bytes(list, &len), "hello");
    miaw_node_free(iq);
}

static void test_text_form(void)
{
    miaw_node *n = miaw_node_newv("message", "to", "JID:15551234567:3@s.whatsapp.net", "id",
                                  "3EB0\"q\"", NULL);
    miaw_node *e = miaw_node_addv(n, "enc", "v", "2", NULL);
    miaw_node_set_bytes(e, "\x01\x02\x03\x04\x05", 5);
    miaw_node *b = miaw_node_add(n, "body");
    miaw_node_set_string(b, "hi\n");
    miaw_node_add(n, "empty");
    char *t = miaw_node_to_text(n, 3, 0);
    CU_ASSERT_STRING_EQUAL(t, "<message to=15551234567:3@s.whatsapp.net id=\"3EB0\\\"q\\\"\">"
                              "<enc v=\"2\"><!bytes 5: 010203...></enc><body>\"hi\\n\"</body>"
                              "<empty/></message>");
    free(t);
    t = miaw_node_to_text(n, 0, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "\n  <enc v=\"2\"><!bytes 5: 0102030405></enc>\n"));
    free(t);
    miaw_node_free(n);
}

MIAW_TESTS("wa_node", MIAW_T(test_token_tables), MIAW_T(test_jid_forms), MIAW_T(test_vector_ping),
           MIAW_T(test_vector_message), MIAW_T(test_vector_baileys), MIAW_T(test_packing),
           MIAW_T(test_binary_lengths), MIAW_T(test_list16_and_empty_list),
           MIAW_T(test_compressed), MIAW_T(test_malformed), MIAW_T(test_api),
           MIAW_T(test_text_form))
