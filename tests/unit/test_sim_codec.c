/* tests/unit/test_sim_codec.c - miaw-sim's input parsers: base64 both ways (padding rules,
 * URL-safe letters, capacity), the pairing QR string (prefix optional, each field's
 * failure named), big-endian integers and the /sim route matcher. The simulator is an
 * executable, not a library, so its pure module is compiled into this test directly. */
#include <string.h>

#include "harness.h"
#include "sim/codec.c"

static void test_b64(void)
{
    char out[64];
    uint8_t back[64];
    CU_ASSERT_EQUAL(miaw_sim_b64_encode((const uint8_t *)"", 0, out, sizeof out), 0);
    CU_ASSERT_EQUAL(miaw_sim_b64_encode((const uint8_t *)"f", 1, out, sizeof out), 4);
    CU_ASSERT_STRING_EQUAL(out, "Zg==");
    CU_ASSERT_EQUAL(miaw_sim_b64_encode((const uint8_t *)"foobar", 6, out, sizeof out), 8);
    CU_ASSERT_STRING_EQUAL(out, "Zm9vYmFy");
    CU_ASSERT_EQUAL(miaw_sim_b64_encode((const uint8_t *)"fo", 2, out, 4), -1); /* no room for NUL */
    CU_ASSERT_EQUAL(miaw_sim_b64_decode("Zm9vYg==", 8, back, sizeof back), 4);
    CU_ASSERT(!memcmp(back, "foob", 4));
    CU_ASSERT_EQUAL(miaw_sim_b64_decode("Zm9vYmE=", 8, back, sizeof back), 5);
    CU_ASSERT_EQUAL(miaw_sim_b64_decode("Zm9vYmE", 7, back, sizeof back), -1);   /* length */
    CU_ASSERT_EQUAL(miaw_sim_b64_decode("Zg==Zg==", 8, back, sizeof back), -1);  /* pad inside */
    CU_ASSERT_EQUAL(miaw_sim_b64_decode("Z===", 4, back, sizeof back), -1);      /* pad at 1 */
    CU_ASSERT_EQUAL(miaw_sim_b64_decode("Zg=a", 4, back, sizeof back), -1);      /* data after pad */
    CU_ASSERT_EQUAL(miaw_sim_b64_decode("Zm 9", 4, back, sizeof back), -1);      /* space */
    CU_ASSERT_EQUAL(miaw_sim_b64_decode("Zh==", 4, back, sizeof back), -1);      /* not canonical */
    CU_ASSERT_EQUAL(miaw_sim_b64_decode("Zm9=", 4, back, sizeof back), -1);
    CU_ASSERT_EQUAL(miaw_sim_b64_decode("-_-_", 4, back, sizeof back), 3);       /* URL-safe */
    CU_ASSERT(back[0] == 0xfb && back[1] == 0xff && back[2] == 0xbf);
    CU_ASSERT_EQUAL(miaw_sim_b64_decode("Zm9vYmFy", 8, back, 5), -1);            /* capacity */
}

static const char *QR_KEYS = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=,"
                             "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=,"
                             "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8=";

static int qr(const char *s, miaw_sim_qr *q, const char **why)
{
    return miaw_sim_qr_parse(s, strlen(s), q, why);
}

static void test_qr(void)
{
    char s[512];
    miaw_sim_qr q;
    const char *why;
    snprintf(s, sizeof s, "%s2@abc,%s,1", MIAW_SIM_QR_PREFIX, QR_KEYS);
    CU_ASSERT_EQUAL(qr(s, &q, &why), 0);
    CU_ASSERT_EQUAL(q.ref_len, 5);
    CU_ASSERT(!memcmp(q.ref, "2@abc", 5));
    CU_ASSERT(q.noise_pub[0] == 0 && q.noise_pub[31] == 31);
    CU_ASSERT(q.identity_pub[0] == 32 && q.adv_secret[31] == 95);
    CU_ASSERT_STRING_EQUAL(q.platform, "1");
    /* without the URL prefix and without a platform (older clients) */
    snprintf(s, sizeof s, "ref,%s", QR_KEYS);
    CU_ASSERT_EQUAL(qr(s, &q, &why), 0);
    CU_ASSERT_STRING_EQUAL(q.platform, "");
    /* each bad part is named */
    snprintf(s, sizeof s, ",%s,1", QR_KEYS);
    CU_ASSERT_EQUAL(qr(s, &q, &why), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "ref"));
    CU_ASSERT_EQUAL(qr("ref,AAAA,BBBB,CCCC", &q, &why), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "noise"));
    CU_ASSERT_EQUAL(qr("ref", &q, &why), -1);
    snprintf(s, sizeof s, "ref,%s,1,extra", QR_KEYS);
    CU_ASSERT_EQUAL(qr(s, &q, &why), -1);
    snprintf(s, sizeof s, "ref,%s,X", QR_KEYS);
    CU_ASSERT_EQUAL(qr(s, &q, &why), -1);
    snprintf(s, sizeof s, "re f,%s,1", QR_KEYS);
    CU_ASSERT_EQUAL(qr(s, &q, &why), -1);
    memset(s, 'r', 200);
    snprintf(s + 200, sizeof s - 200, ",%s", QR_KEYS);
    CU_ASSERT_EQUAL(qr(s, &q, &why), -1); /* ref longer than 128 */
    CU_ASSERT_EQUAL(miaw_sim_qr_parse(NULL, 0, &q, &why), -1);
}

static void test_be_uint(void)
{
    CU_ASSERT_EQUAL(miaw_sim_be_uint((const uint8_t *)"\x01\x02\x03", 3), 0x010203);
    CU_ASSERT_EQUAL(miaw_sim_be_uint((const uint8_t *)"\xff\xff\xff\xff", 4), 0xffffffffLL);
    CU_ASSERT_EQUAL(miaw_sim_be_uint((const uint8_t *)"\x01", 0), -1);
    CU_ASSERT_EQUAL(miaw_sim_be_uint((const uint8_t *)"\x01\x02\x03\x04\x05", 5), -1);
}

static int route(const char *p, char *phone)
{
    return miaw_sim_route(p, strlen(p), phone, 24);
}

static void test_route(void)
{
    char phone[24];
    CU_ASSERT_EQUAL(route("/sim/accounts", phone), MIAW_SIM_ROUTE_ACCOUNTS);
    CU_ASSERT_EQUAL(route("/sim/accounts/", phone), MIAW_SIM_ROUTE_ACCOUNTS);
    CU_ASSERT_EQUAL(route("/sim/state", phone), MIAW_SIM_ROUTE_STATE);
    CU_ASSERT_EQUAL(route("/sim/cert", phone), MIAW_SIM_ROUTE_CERT);
    CU_ASSERT_EQUAL(route("/sim/accounts/15551234567/scan", phone), MIAW_SIM_ROUTE_SCAN);
    CU_ASSERT_STRING_EQUAL(phone, "15551234567");
    CU_ASSERT_EQUAL(route("/sim/accounts//scan", phone), MIAW_SIM_ROUTE_NONE);
    CU_ASSERT_EQUAL(route("/sim/accounts/1/scan/x", phone), MIAW_SIM_ROUTE_NONE);
    CU_ASSERT_EQUAL(route("/sim/accountsx", phone), MIAW_SIM_ROUTE_NONE);
    CU_ASSERT_EQUAL(route("/sim/accounts/123456789012345678901234567890/scan", phone), MIAW_SIM_ROUTE_NONE);
    CU_ASSERT_EQUAL(route("/sim", phone), MIAW_SIM_ROUTE_NONE);
    CU_ASSERT_EQUAL(route("/sim/accounts/12a4/scan", phone), MIAW_SIM_ROUTE_NONE);
    CU_ASSERT_EQUAL(miaw_sim_route("/sim/accounts/\0002/scan", 22, phone, sizeof phone), MIAW_SIM_ROUTE_NONE);
    CU_ASSERT_EQUAL(route("/sim/statex", phone), MIAW_SIM_ROUTE_NONE);
    CU_ASSERT_EQUAL(route("/sim/accounts/15551234567/messages", phone), MIAW_SIM_ROUTE_MESSAGES);
    CU_ASSERT_STRING_EQUAL(phone, "15551234567");
    CU_ASSERT_EQUAL(route("/sim/accounts/15551234567/messagesx", phone), MIAW_SIM_ROUTE_NONE);
    CU_ASSERT_EQUAL(route("/sim/accounts/15551234567/link-code", phone), MIAW_SIM_ROUTE_LINK_CODE);
    CU_ASSERT_STRING_EQUAL(phone, "15551234567");
    CU_ASSERT_EQUAL(route("/sim/accounts/15551234567/link-codex", phone), MIAW_SIM_ROUTE_NONE);
    CU_ASSERT_EQUAL(route("/sim/accounts/15551234567/link-cod", phone), MIAW_SIM_ROUTE_NONE);
    CU_ASSERT_EQUAL(route("/sim/accounts/15551234567/groups", phone), MIAW_SIM_ROUTE_GROUPS);
    CU_ASSERT_STRING_EQUAL(phone, "15551234567");
    CU_ASSERT_EQUAL(route("/sim/accounts/15551234567/groupsx", phone), MIAW_SIM_ROUTE_NONE);
    CU_ASSERT_EQUAL(route("/sim/accounts/15551234567/group", phone), MIAW_SIM_ROUTE_NONE);
    CU_ASSERT_EQUAL(route("/sim/faults", phone), MIAW_SIM_ROUTE_FAULTS);
    CU_ASSERT_EQUAL(route("/sim/faults/", phone), MIAW_SIM_ROUTE_NONE);
    CU_ASSERT_EQUAL(route("/sim/devices/1555:2@s.whatsapp.net", phone), MIAW_SIM_ROUTE_DEVICE);
    CU_ASSERT_STRING_EQUAL(phone, "1555:2@s.whatsapp.net");
    CU_ASSERT_EQUAL(route("/sim/devices/1555%3A2%40lid", phone), MIAW_SIM_ROUTE_DEVICE);
    CU_ASSERT_STRING_EQUAL(phone, "1555:2@lid");
    CU_ASSERT_EQUAL(route("/sim/devices/", phone), MIAW_SIM_ROUTE_NONE);
    CU_ASSERT_EQUAL(route("/sim/devices/a/b", phone), MIAW_SIM_ROUTE_NONE);
    CU_ASSERT_EQUAL(route("/sim/devices/A@lid", phone), MIAW_SIM_ROUTE_NONE);
    CU_ASSERT_EQUAL(route("/sim/devices/%41", phone), MIAW_SIM_ROUTE_NONE);
    CU_ASSERT_EQUAL(route("/sim/devices/%4", phone), MIAW_SIM_ROUTE_NONE);
    CU_ASSERT_EQUAL(route("/sim/devices/123456789012345678901234567890@s.whatsapp.net", phone), MIAW_SIM_ROUTE_NONE);
    CU_ASSERT_EQUAL(phone[0], 0); /* too long for the 24-byte buffer: nothing kept */
}

MIAW_TESTS("sim_codec", MIAW_T(test_b64), MIAW_T(test_qr), MIAW_T(test_be_uint), MIAW_T(test_route))
