/* tests/unit/test_engine_pairing.c - the pure protocol steps of linking a device
 * (core/wa/pairing.c) and the QR image (core/qrpng.c): fresh credentials, registration and
 * login ClientPayloads, QR strings, pair-device refs, pair-success verified against a
 * simulated primary phone (good, bad HMAC, bad account signature, garbage), the
 * pair-device-sign reply's device signature, the pre-key upload IQ, and PNG output. */
#include <miaw/plugin.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "harness.h"
#include "engine/qrpng.h"
#include "wa/pairing.h"
#include "wa_adv.pb-c.h"
#include "wa_client_payload.pb-c.h"

static uint32_t be(const uint8_t *p, int n)
{
    uint32_t v = 0;
    for (int i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

static void t_creds_and_registration_payload(void)
{
    miaw_wa_creds c;
    CU_ASSERT_EQUAL_FATAL(miaw_wa_creds_generate(&c), 0);
    CU_ASSERT(c.reg_id >= 1 && c.reg_id <= 16380);
    CU_ASSERT_EQUAL(c.spk_id, 1);
    CU_ASSERT_EQUAL(c.next_prekey_id, 1);
    CU_ASSERT_FALSE(c.paired);
    uint8_t msg[33] = {0x05};
    memcpy(msg + 1, c.spk.pub, 32);
    CU_ASSERT_EQUAL(miaw_xeddsa_verify(c.identity.pub, msg, 33, c.spk_sig, 64), 0);

    miaw_wa_client_info info = {.device_name = "miaw-test", .version = {2, 3000, 7}};
    uint8_t *buf;
    size_t len;
    CU_ASSERT_EQUAL_FATAL(miaw_wa_client_payload(&c, &info, &buf, &len), 0);
    Miaw__Wa__ClientPayload *p = miaw__wa__client_payload__unpack(NULL, len, buf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_FALSE(p->has_username);
    CU_ASSERT(p->has_passive && !p->passive);
    CU_ASSERT_EQUAL(p->useragent->platform, MIAW__WA__CLIENT_PAYLOAD__USER_AGENT__PLATFORM__WEB);
    CU_ASSERT_EQUAL(p->useragent->appversion->tertiary, 7);
    Miaw__Wa__ClientPayload__DevicePairingRegistrationData *r = p->devicepairingdata;
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT(r->eregid.len == 4 && be(r->eregid.data, 4) == c.reg_id);
    CU_ASSERT(r->ekeytype.len == 1 && r->ekeytype.data[0] == 5);
    CU_ASSERT(r->eident.len == 32 && !memcmp(r->eident.data, c.identity.pub, 32));
    CU_ASSERT(r->eskeyid.len == 3 && be(r->eskeyid.data, 3) == 1);
    CU_ASSERT(r->eskeyval.len == 32 && !memcmp(r->eskeyval.data, c.spk.pub, 32));
    CU_ASSERT(r->eskeysig.len == 64 && !memcmp(r->eskeysig.data, c.spk_sig, 64));
    /* buildHash = md5("2.3000.7") */
    uint8_t md[16];
    unsigned ml;
    EVP_Digest("2.3000.7", 8, md, &ml, EVP_md5(), NULL);
    CU_ASSERT(r->buildhash.len == 16 && !memcmp(r->buildhash.data, md, 16));
    CU_ASSERT(r->deviceprops.len > 0);
    miaw__wa__client_payload__free_unpacked(p, NULL);
    free(buf);
    miaw_wa_creds_clear(&c);
}

static void t_qr_string(void)
{
    miaw_wa_creds c;
    CU_ASSERT_EQUAL_FATAL(miaw_wa_creds_generate(&c), 0);
    char *q = NULL;
    CU_ASSERT_EQUAL_FATAL(miaw_wa_qr_string(&c, (const uint8_t *)"2@abc", 5, &q), 0);
    CU_ASSERT_EQUAL(strncmp(q, MIAW_WA_QR_PREFIX "2@abc,", strlen(MIAW_WA_QR_PREFIX) + 6), 0);
    /* ref, three base64 keys of 44 chars, platform */
    const char *s = q + strlen(MIAW_WA_QR_PREFIX) + 6;
    uint8_t dec[33];
    const uint8_t *want[3] = {c.noise.pub, c.identity.pub, c.adv_secret};
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL_FATAL(s[44], ',');
        CU_ASSERT_EQUAL(EVP_DecodeBlock(dec, (const unsigned char *)s, 44), 33);
        CU_ASSERT_EQUAL(memcmp(dec, want[i], 32), 0);
        s += 45;
    }
    CU_ASSERT_STRING_EQUAL(s, MIAW_WA_QR_PLATFORM);
    free(q);
    q = NULL;
    CU_ASSERT_EQUAL(miaw_wa_qr_string(&c, (const uint8_t *)"a,b", 3, &q), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(miaw_wa_qr_string(&c, (const uint8_t *)"", 0, &q), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(miaw_wa_qr_string(&c, (const uint8_t *)"a\nb", 3, &q), MIAW_E_INVAL);
    CU_ASSERT_PTR_NULL(q);
    miaw_wa_creds_clear(&c);
}

static void t_pair_device_refs(void)
{
    miaw_node *iq = miaw_node_newv("iq", "type", "set", "id", "s1", "xmlns", "md", "from", "JID:@s.whatsapp.net", NULL);
    miaw_node *pd = miaw_node_add(iq, "pair-device");
    const char *refs[] = {"r1", "r2", "r3"};
    for (int i = 0; i < 3; i++) miaw_node_set_bytes(miaw_node_add(pd, "ref"), refs[i], 2);
    miaw_node_add(pd, "ref"); /* empty: skipped */
    const uint8_t *out[8];
    size_t lens[8];
    CU_ASSERT_EQUAL(miaw_wa_pair_device_refs(iq, out, lens, 8), 3);
    CU_ASSERT(lens[2] == 2 && !memcmp(out[2], "r3", 2));
    CU_ASSERT_EQUAL(miaw_wa_pair_device_refs(iq, out, lens, 2), 2);
    miaw_node *r = miaw_wa_iq_result(iq);
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(r, "type"), "result");
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(r, "id"), "s1");
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(r, "to"), "@s.whatsapp.net");
    miaw_node_free(r);
    miaw_node_set_attr(iq, "type", "get");
    CU_ASSERT_EQUAL(miaw_wa_pair_device_refs(iq, out, lens, 8), 0);
    miaw_node_free(iq);
}

/* ------------------------------------------------------------ pair-success */
enum { GOOD, BAD_HMAC, BAD_ACCOUNT_SIG, GARBAGE };

/* what a primary phone sends after scanning; the phone's key pair in *phone */
static miaw_node *pair_success(const miaw_wa_creds *c, miaw_keypair *phone, int mode)
{
    miaw_keypair_generate(phone);
    Miaw__Wa__ADVDeviceIdentity id = MIAW__WA__ADVDEVICE_IDENTITY__INIT;
    id.has_rawid = id.has_timestamp = id.has_keyindex = 1;
    id.rawid = 77;
    id.timestamp = 1700000000;
    id.keyindex = 3;
    uint8_t details[64];
    size_t dlen = miaw__wa__advdevice_identity__pack(&id, details);
    uint8_t msg[2 + 64 + 32] = {6, 0};
    memcpy(msg + 2, details, dlen);
    memcpy(msg + 2 + dlen, c->identity.pub, 32);
    uint8_t sig[64];
    miaw_keypair other;
    miaw_keypair_generate(&other);
    miaw_xeddsa_sign(mode == BAD_ACCOUNT_SIG ? other.priv : phone->priv, msg, 2 + dlen + 32, sig);
    Miaw__Wa__ADVSignedDeviceIdentity s = MIAW__WA__ADVSIGNED_DEVICE_IDENTITY__INIT;
    s.has_details = s.has_accountsignaturekey = s.has_accountsignature = 1;
    s.details = (ProtobufCBinaryData){dlen, details};
    s.accountsignaturekey = (ProtobufCBinaryData){32, phone->pub};
    s.accountsignature = (ProtobufCBinaryData){64, sig};
    uint8_t sbuf[256];
    size_t slen = miaw__wa__advsigned_device_identity__pack(&s, sbuf);
    uint8_t mac[32];
    unsigned ml;
    HMAC(EVP_sha256(), c->adv_secret, 32, sbuf, slen, mac, &ml);
    if (mode == BAD_HMAC) mac[5] ^= 1;
    Miaw__Wa__ADVSignedDeviceIdentityHMAC h = MIAW__WA__ADVSIGNED_DEVICE_IDENTITY_HMAC__INIT;
    h.has_details = h.has_hmac = 1;
    h.details = (ProtobufCBinaryData){slen, sbuf};
    h.hmac = (ProtobufCBinaryData){32, mac};
    uint8_t hbuf[512];
    size_t hlen = miaw__wa__advsigned_device_identity_hmac__pack(&h, hbuf);
    miaw_node *iq = miaw_node_newv("iq", "type", "set", "id", "ps1", "xmlns", "md", "from", "JID:@s.whatsapp.net", NULL);
    miaw_node *ps = miaw_node_add(iq, "pair-success");
    if (mode == GARBAGE) miaw_node_set_bytes(miaw_node_add(ps, "device-identity"), "\x0a\xff\x01", 3);
    else miaw_node_set_bytes(miaw_node_add(ps, "device-identity"), hbuf, hlen);
    miaw_node_addv(ps, "platform", "name", "android", NULL);
    miaw_node_addv(ps, "device", "jid", "JID:15551234567:4@s.whatsapp.net", "lid", "JID:123456789012345:4@lid", NULL);
    return iq;
}

static void t_pair_success_good(void)
{
    miaw_wa_creds c;
    miaw_keypair phone;
    CU_ASSERT_EQUAL_FATAL(miaw_wa_creds_generate(&c), 0);
    miaw_node *iq = pair_success(&c, &phone, GOOD), *reply = NULL;
    const char *why = "x";
    CU_ASSERT_EQUAL_FATAL(miaw_wa_pair_success(&c, iq, &reply, &why), 0);
    CU_ASSERT_PTR_NULL(why);
    CU_ASSERT(c.paired);
    CU_ASSERT_STRING_EQUAL(c.jid, "15551234567:4@s.whatsapp.net");
    CU_ASSERT_STRING_EQUAL(c.lid, "123456789012345:4@lid");
    CU_ASSERT_STRING_EQUAL(c.platform, "android");
    CU_ASSERT_EQUAL(c.key_index, 3);
    CU_ASSERT_EQUAL(memcmp(c.account_key, phone.pub, 32), 0);
    /* the reply: result to the same id with the signed identity, account key removed */
    CU_ASSERT_PTR_NOT_NULL_FATAL(reply);
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(reply, "type"), "result");
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(reply, "id"), "ps1");
    miaw_node *di = miaw_node_path(reply, "pair-device-sign", "device-identity", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(di);
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(di, "key-index"), "3");
    size_t blen;
    const uint8_t *b = miaw_node_bytes(di, &blen);
    Miaw__Wa__ADVSignedDeviceIdentity *s = miaw__wa__advsigned_device_identity__unpack(NULL, blen, b);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_FALSE(s->has_accountsignaturekey);
    CU_ASSERT(s->has_devicesignature && s->devicesignature.len == 64);
    uint8_t msg[2 + 256 + 64] = {6, 1};
    memcpy(msg + 2, s->details.data, s->details.len);
    memcpy(msg + 2 + s->details.len, c.identity.pub, 32);
    memcpy(msg + 2 + s->details.len + 32, phone.pub, 32);
    CU_ASSERT_EQUAL(miaw_xeddsa_verify(c.identity.pub, msg, 2 + s->details.len + 64, s->devicesignature.data, 64), 0);
    miaw__wa__advsigned_device_identity__free_unpacked(s, NULL);
    /* the stored identity keeps the account key and carries the device signature */
    s = miaw__wa__advsigned_device_identity__unpack(NULL, c.adv_len, c.adv);
    CU_ASSERT(s && s->has_accountsignaturekey && s->has_devicesignature);
    if (s) miaw__wa__advsigned_device_identity__free_unpacked(s, NULL);
    /* and the login payload now names the device */
    miaw_wa_client_info info = {.version = {2, 3000, 1}};
    uint8_t *buf;
    size_t len;
    CU_ASSERT_EQUAL_FATAL(miaw_wa_client_payload(&c, &info, &buf, &len), 0);
    Miaw__Wa__ClientPayload *p = miaw__wa__client_payload__unpack(NULL, len, buf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT(p->has_username && p->username == 15551234567ULL);
    CU_ASSERT(p->has_device && p->device == 4);
    CU_ASSERT(p->passive && p->pull);
    CU_ASSERT_PTR_NULL(p->devicepairingdata);
    miaw__wa__client_payload__free_unpacked(p, NULL);
    free(buf);
    miaw_node_free(reply);
    miaw_node_free(iq);
    miaw_wa_creds_clear(&c);
}

static void expect_failure(int mode, int want_rc, const char *want_code, const char *want_why)
{
    miaw_wa_creds c;
    miaw_keypair phone;
    CU_ASSERT_EQUAL_FATAL(miaw_wa_creds_generate(&c), 0);
    miaw_node *iq = pair_success(&c, &phone, mode), *reply = NULL;
    const char *why = NULL;
    CU_ASSERT_EQUAL(miaw_wa_pair_success(&c, iq, &reply, &why), want_rc);
    CU_ASSERT_FALSE(c.paired);
    CU_ASSERT_PTR_NULL(c.adv);
    CU_ASSERT_PTR_NOT_NULL_FATAL(reply);
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(reply, "type"), "error");
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(reply, "id"), "ps1");
    miaw_node *e = miaw_node_child(reply, "error");
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(e, "code"), want_code);
    if (want_why) CU_ASSERT_STRING_EQUAL(why, want_why);
    miaw_node_free(reply);
    miaw_node_free(iq);
    miaw_wa_creds_clear(&c);
}

static void t_pair_success_bad_hmac(void) { expect_failure(BAD_HMAC, MIAW_E_AUTH, "401", "hmac-mismatch"); }
static void t_pair_success_bad_signature(void) { expect_failure(BAD_ACCOUNT_SIG, MIAW_E_AUTH, "401", "signature-mismatch"); }
static void t_pair_success_garbage(void) { expect_failure(GARBAGE, MIAW_E_INVAL, "500", NULL); }

static void t_pair_success_missing_parts(void)
{
    miaw_wa_creds c;
    CU_ASSERT_EQUAL_FATAL(miaw_wa_creds_generate(&c), 0);
    miaw_node *iq = miaw_node_newv("iq", "type", "set", "id", "x", NULL), *reply = NULL;
    miaw_node_add(iq, "pair-success");
    const char *why;
    CU_ASSERT_EQUAL(miaw_wa_pair_success(&c, iq, &reply, &why), MIAW_E_INVAL);
    CU_ASSERT_PTR_NOT_NULL(reply);
    CU_ASSERT_FALSE(c.paired);
    miaw_node_free(reply);
    miaw_node_free(iq);
    miaw_wa_creds_clear(&c);
}

static void t_prekey_upload(void)
{
    miaw_wa_creds c;
    CU_ASSERT_EQUAL_FATAL(miaw_wa_creds_generate(&c), 0);
    uint32_t ids[3] = {1, 2, 0xABCDEF};
    miaw_keypair keys[3];
    for (int i = 0; i < 3; i++) miaw_keypair_generate(&keys[i]);
    miaw_node *iq = miaw_wa_prekey_upload_iq(&c, ids, keys, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(iq);
    uint8_t *wire;
    size_t wlen;
    miaw_node *back = NULL;
    CU_ASSERT_EQUAL_FATAL(miaw_node_encode(iq, &wire, &wlen), 0);
    CU_ASSERT_EQUAL_FATAL(miaw_node_decode(wire, wlen, &back), 0);
    free(wire);
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(back, "xmlns"), "encrypt");
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(back, "type"), "set");
    size_t n;
    const uint8_t *b = miaw_node_bytes(miaw_node_child(back, "registration"), &n);
    CU_ASSERT(b && n == 4 && be(b, 4) == c.reg_id);
    b = miaw_node_bytes(miaw_node_child(back, "type"), &n);
    CU_ASSERT(b && n == 1 && b[0] == 5);
    b = miaw_node_bytes(miaw_node_child(back, "identity"), &n);
    CU_ASSERT(b && n == 32 && !memcmp(b, c.identity.pub, 32));
    miaw_node *list = miaw_node_child(back, "list");
    CU_ASSERT_EQUAL_FATAL(miaw_node_count(list), 3);
    b = miaw_node_bytes(miaw_node_path(miaw_node_child_at(list, 2), "id", NULL), &n);
    CU_ASSERT(b && n == 3 && be(b, 3) == 0xABCDEF);
    b = miaw_node_bytes(miaw_node_path(miaw_node_child_at(list, 2), "value", NULL), &n);
    CU_ASSERT(b && n == 32 && !memcmp(b, keys[2].pub, 32));
    b = miaw_node_bytes(miaw_node_path(back, "skey", "signature", NULL), &n);
    CU_ASSERT(b && n == 64 && !memcmp(b, c.spk_sig, 64));
    miaw_node_free(back);
    miaw_node_free(iq);
    miaw_wa_creds_clear(&c);
}

static uint32_t rd32(const uint8_t *p) { return be(p, 4); }

static void t_qr_png(void)
{
    uint8_t *png;
    size_t len;
    CU_ASSERT_EQUAL_FATAL(miaw_qr_png("https://wa.me/settings/linked_devices#2@x,AAAA,BBBB,CCCC,1", 4, &png, &len), 0);
    CU_ASSERT_EQUAL_FATAL(memcmp(png, "\x89PNG\r\n\x1a\n", 8), 0);
    CU_ASSERT_EQUAL(memcmp(png + 12, "IHDR", 4), 0);
    uint32_t w = rd32(png + 16), h = rd32(png + 20);
    CU_ASSERT_EQUAL(w, h);
    CU_ASSERT_EQUAL(w % 4, 0);
    CU_ASSERT_EQUAL(((w / 4) - 8 - 21) % 4, 0); /* QR widths are 21 + 4k modules */
    CU_ASSERT_EQUAL(png[24], 1); /* 1-bit greyscale */
    CU_ASSERT_EQUAL(png[25], 0);
    /* IHDR CRC */
    CU_ASSERT_EQUAL(rd32(png + 29), (uint32_t)crc32(crc32(0, NULL, 0), png + 12, 17));
    uint32_t zlen = rd32(png + 33);
    CU_ASSERT_EQUAL_FATAL(memcmp(png + 37, "IDAT", 4), 0);
    size_t row = (w + 7) / 8 + 1;
    uLongf rawlen = (uLongf)row * h;
    uint8_t *raw = malloc(rawlen);
    CU_ASSERT_EQUAL_FATAL(uncompress(raw, &rawlen, png + 41, zlen), Z_OK);
    CU_ASSERT_EQUAL(rawlen, (uLongf)row * h);
    CU_ASSERT_EQUAL(raw[0], 0);    /* filter: none */
    CU_ASSERT_EQUAL(raw[1], 0xFF); /* quiet zone is white */
    /* finder pattern: its outer ring (modules 0..6 from pixel 16) dark, its white ring (module 1) white */
    const uint8_t *r16 = raw + (size_t)16 * row + 1, *r20 = raw + (size_t)20 * row + 1;
    CU_ASSERT_EQUAL(r16[2], 0x00); /* pixels 16..23 of row 16: dark */
    CU_ASSERT_EQUAL(r16[1], 0xFF); /* pixels 8..15: quiet zone */
    CU_ASSERT_EQUAL(r20[2], 0x0F); /* row 20 (module 1): pixels 16..19 dark, 20..23 white */
    CU_ASSERT_EQUAL(memcmp(png + len - 8, "IEND", 4), 0);
    free(raw);
    free(png);
    CU_ASSERT_EQUAL(miaw_qr_png("", 4, &png, &len), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(miaw_qr_png("x", 0, &png, &len), MIAW_E_INVAL);
}

MIAW_TESTS("engine_pairing", MIAW_T(t_creds_and_registration_payload), MIAW_T(t_qr_string), MIAW_T(t_pair_device_refs),
           MIAW_T(t_pair_success_good), MIAW_T(t_pair_success_bad_hmac), MIAW_T(t_pair_success_bad_signature),
           MIAW_T(t_pair_success_garbage), MIAW_T(t_pair_success_missing_parts), MIAW_T(t_prekey_upload),
           MIAW_T(t_qr_png))
