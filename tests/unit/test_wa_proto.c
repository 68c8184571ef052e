/* tests/unit/test_wa_proto.c - the generated protobuf-c code for miaw's WhatsApp subset:
 * known wire bytes, round trips of the pairing (ADV) structures with real XEdDSA
 * signatures, ClientPayload field numbers, unknown-field skipping, malformed input. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "wa/sigcrypto.h"
#include "wa_adv.pb-c.h"
#include "wa_client_payload.pb-c.h"
#include "wa_device_props.pb-c.h"
#include "wa_message.pb-c.h"

static void test_message_bytes(void)
{
    Miaw__Wa__Message m = MIAW__WA__MESSAGE__INIT;
    m.conversation = "hi";
    uint8_t b[64];
    size_t n = miaw__wa__message__pack(&m, b);
    CU_ASSERT(n == 4 && memcmp(b, "\x0a\x02hi", 4) == 0);

    /* reaction: field 46 -> tag (46<<3|2) = 0x172 -> varint f2 02 */
    Miaw__Wa__MessageKey k = MIAW__WA__MESSAGE_KEY__INIT;
    k.remotejid = "1@s.whatsapp.net";
    k.has_fromme = 1;
    k.fromme = 1;
    k.id = "ID";
    Miaw__Wa__Message__ReactionMessage r = MIAW__WA__MESSAGE__REACTION_MESSAGE__INIT;
    r.key = &k;
    r.text = "";
    Miaw__Wa__Message m2 = MIAW__WA__MESSAGE__INIT;
    m2.reactionmessage = &r;
    n = miaw__wa__message__pack(&m2, b);
    CU_ASSERT(b[0] == 0xf2 && b[1] == 0x02);
    Miaw__Wa__Message *u = miaw__wa__message__unpack(NULL, n, b);
    CU_ASSERT_FATAL(u && u->reactionmessage && u->reactionmessage->key);
    CU_ASSERT_STRING_EQUAL(u->reactionmessage->key->id, "ID");
    CU_ASSERT(u->reactionmessage->key->fromme == 1);
    /* an empty reaction text (= remove) stays present */
    CU_ASSERT(u->reactionmessage->text != NULL && u->reactionmessage->text[0] == 0);
    miaw__wa__message__free_unpacked(u, NULL);
}

static void test_edit_and_quote_nesting(void)
{
    Miaw__Wa__Message inner = MIAW__WA__MESSAGE__INIT;
    inner.conversation = "new text";
    Miaw__Wa__MessageKey k = MIAW__WA__MESSAGE_KEY__INIT;
    k.id = "OLD";
    Miaw__Wa__Message__ProtocolMessage pm = MIAW__WA__MESSAGE__PROTOCOL_MESSAGE__INIT;
    pm.key = &k;
    pm.has_type = 1;
    pm.type = MIAW__WA__MESSAGE__PROTOCOL_MESSAGE__TYPE__MESSAGE_EDIT;
    pm.editedmessage = &inner;
    pm.has_timestampms = 1;
    pm.timestampms = 1700000000123LL;
    Miaw__Wa__Message mid = MIAW__WA__MESSAGE__INIT;
    mid.protocolmessage = &pm;
    Miaw__Wa__Message__FutureProofMessage fp = MIAW__WA__MESSAGE__FUTURE_PROOF_MESSAGE__INIT;
    fp.message = &mid;
    Miaw__Wa__Message outer = MIAW__WA__MESSAGE__INIT;
    outer.editedmessage = &fp;
    uint8_t b[256];
    size_t n = miaw__wa__message__pack(&outer, b);
    Miaw__Wa__Message *u = miaw__wa__message__unpack(NULL, n, b);
    CU_ASSERT_FATAL(u && u->editedmessage && u->editedmessage->message);
    Miaw__Wa__Message__ProtocolMessage *p = u->editedmessage->message->protocolmessage;
    CU_ASSERT_FATAL(p != NULL);
    CU_ASSERT(p->type == 14 && p->timestampms == 1700000000123LL);
    CU_ASSERT_STRING_EQUAL(p->editedmessage->conversation, "new text");
    miaw__wa__message__free_unpacked(u, NULL);
    /* revoke is type 0, which must still be sent explicitly */
    pm.type = MIAW__WA__MESSAGE__PROTOCOL_MESSAGE__TYPE__REVOKE;
    pm.editedmessage = NULL;
    pm.has_timestampms = 0;
    n = miaw__wa__message__pack(&mid, b);
    u = miaw__wa__message__unpack(NULL, n, b);
    CU_ASSERT(u && u->protocolmessage && u->protocolmessage->has_type && u->protocolmessage->type == 0);
    miaw__wa__message__free_unpacked(u, NULL);
}

static void test_unknown_fields_skipped(void)
{
    /* conversation "a", then field 49 (pollCreationMessage) length 3, then field 200 varint */
    const uint8_t b[] = {0x0a, 0x01, 'a', 0x8a, 0x03, 0x03, 0x0a, 0x01, 'p', 0xc0, 0x0c, 0x05};
    Miaw__Wa__Message *u = miaw__wa__message__unpack(NULL, sizeof b, b);
    CU_ASSERT_FATAL(u != NULL);
    CU_ASSERT_STRING_EQUAL(u->conversation, "a");
    CU_ASSERT(u->imagemessage == NULL);
    miaw__wa__message__free_unpacked(u, NULL);
    /* truncated length and a bad wire type are refused */
    const uint8_t t1[] = {0x0a, 0x05, 'a'};
    CU_ASSERT(miaw__wa__message__unpack(NULL, sizeof t1, t1) == NULL);
    const uint8_t t2[] = {0x0f, 0x00};
    CU_ASSERT(miaw__wa__message__unpack(NULL, sizeof t2, t2) == NULL);
}

static void test_client_payload_fields(void)
{
    Miaw__Wa__ClientPayload p = MIAW__WA__CLIENT_PAYLOAD__INIT;
    Miaw__Wa__ClientPayload__UserAgent ua = MIAW__WA__CLIENT_PAYLOAD__USER_AGENT__INIT;
    Miaw__Wa__ClientPayload__UserAgent__AppVersion av = MIAW__WA__CLIENT_PAYLOAD__USER_AGENT__APP_VERSION__INIT;
    av.has_primary = av.has_secondary = av.has_tertiary = 1;
    av.primary = 2, av.secondary = 3000, av.tertiary = 1035194821;
    ua.has_platform = 1;
    ua.platform = MIAW__WA__CLIENT_PAYLOAD__USER_AGENT__PLATFORM__WEB;
    ua.appversion = &av;
    p.has_username = 1;
    p.username = 15551234567ULL;
    p.has_device = 1;
    p.device = 12;
    p.has_passive = p.has_pull = 1;
    p.passive = p.pull = 1;
    p.useragent = &ua;
    uint8_t b[128];
    size_t n = miaw__wa__client_payload__pack(&p, b);
    /* username=1 varint, passive=3, userAgent=5{platform=1:14,...}, device=18 (90 01 0c), pull=33 (88 02 01) */
    CU_ASSERT(b[0] == 0x08);
    int found_device = 0, found_pull = 0;
    for (size_t i = 0; i + 2 < n; i++) {
        if (b[i] == 0x90 && b[i + 1] == 0x01 && b[i + 2] == 12) found_device = 1;
        if (b[i] == 0x88 && b[i + 1] == 0x02 && b[i + 2] == 1) found_pull = 1;
    }
    CU_ASSERT(found_device && found_pull);
    Miaw__Wa__ClientPayload *u = miaw__wa__client_payload__unpack(NULL, n, b);
    CU_ASSERT_FATAL(u != NULL);
    CU_ASSERT(u->username == 15551234567ULL && u->device == 12 && u->useragent->platform == 14);
    CU_ASSERT(u->useragent->appversion->tertiary == 1035194821);
    CU_ASSERT(!u->has_connecttype && u->devicepairingdata == NULL);
    miaw__wa__client_payload__free_unpacked(u, NULL);
}

/* the pairing flow's signatures, built and checked on our structures (fact sheet 5.4) */
static void test_adv_pairing_structures(void)
{
    miaw_keypair account, device;
    CU_ASSERT_FATAL(miaw_keypair_generate(&account) == 0 && miaw_keypair_generate(&device) == 0);
    Miaw__Wa__ADVDeviceIdentity di = MIAW__WA__ADVDEVICE_IDENTITY__INIT;
    di.has_rawid = di.has_timestamp = di.has_keyindex = 1;
    di.rawid = 0xdeadbeef, di.timestamp = 1700000000, di.keyindex = 3;
    uint8_t details[64];
    size_t dl = miaw__wa__advdevice_identity__pack(&di, details);
    uint8_t msg[2 + 64 + 32 + 32];
    msg[0] = 6, msg[1] = 0;
    memcpy(msg + 2, details, dl);
    memcpy(msg + 2 + dl, device.pub, 32);
    uint8_t asig[64], dsig[64];
    CU_ASSERT_FATAL(miaw_xeddsa_sign(account.priv, msg, 2 + dl + 32, asig) == 0);
    Miaw__Wa__ADVSignedDeviceIdentity sd = MIAW__WA__ADVSIGNED_DEVICE_IDENTITY__INIT;
    sd.has_details = sd.has_accountsignaturekey = sd.has_accountsignature = 1;
    sd.details.data = details, sd.details.len = dl;
    sd.accountsignaturekey.data = account.pub, sd.accountsignaturekey.len = 32;
    sd.accountsignature.data = asig, sd.accountsignature.len = 64;
    uint8_t sb[256];
    size_t sl = miaw__wa__advsigned_device_identity__pack(&sd, sb);
    Miaw__Wa__ADVSignedDeviceIdentityHMAC h = MIAW__WA__ADVSIGNED_DEVICE_IDENTITY_HMAC__INIT;
    h.has_details = 1, h.details.data = sb, h.details.len = sl;
    uint8_t hb[512];
    size_t hl = miaw__wa__advsigned_device_identity_hmac__pack(&h, hb);

    /* companion side: unpack, verify the account signature, add the device signature */
    Miaw__Wa__ADVSignedDeviceIdentityHMAC *uh = miaw__wa__advsigned_device_identity_hmac__unpack(NULL, hl, hb);
    CU_ASSERT_FATAL(uh && uh->has_details && !uh->has_accounttype);
    Miaw__Wa__ADVSignedDeviceIdentity *us =
        miaw__wa__advsigned_device_identity__unpack(NULL, uh->details.len, uh->details.data);
    CU_ASSERT_FATAL(us && us->accountsignaturekey.len == 32 && us->accountsignature.len == 64);
    Miaw__Wa__ADVDeviceIdentity *ud = miaw__wa__advdevice_identity__unpack(NULL, us->details.len, us->details.data);
    CU_ASSERT_FATAL(ud != NULL);
    CU_ASSERT(ud->rawid == 0xdeadbeef && ud->keyindex == 3 && ud->timestamp == 1700000000);
    memcpy(msg + 2, us->details.data, us->details.len);
    CU_ASSERT(miaw_xeddsa_verify(us->accountsignaturekey.data, msg, 2 + dl + 32, us->accountsignature.data, 64) == 0);
    msg[1] = 5; /* the hosted prefix must not verify */
    CU_ASSERT(miaw_xeddsa_verify(us->accountsignaturekey.data, msg, 2 + dl + 32, us->accountsignature.data, 64) != 0);
    /* device signature over 06 01 || details || device pub || account pub */
    uint8_t m2[2 + 64 + 64];
    m2[0] = 6, m2[1] = 1;
    memcpy(m2 + 2, us->details.data, dl);
    memcpy(m2 + 2 + dl, device.pub, 32);
    memcpy(m2 + 2 + dl + 32, account.pub, 32);
    CU_ASSERT(miaw_xeddsa_sign(device.priv, m2, 2 + dl + 64, dsig) == 0);
    CU_ASSERT(miaw_xeddsa_verify(device.pub, m2, 2 + dl + 64, dsig, 64) == 0);
    miaw__wa__advdevice_identity__free_unpacked(ud, NULL);
    miaw__wa__advsigned_device_identity__free_unpacked(us, NULL);
    miaw__wa__advsigned_device_identity_hmac__free_unpacked(uh, NULL);

    /* key index list: packed repeated validIndexes (field 4, wire type 2) */
    Miaw__Wa__ADVKeyIndexList kl = MIAW__WA__ADVKEY_INDEX_LIST__INIT;
    uint32_t idx[] = {0, 3, 5};
    kl.n_validindexes = 3, kl.validindexes = idx;
    uint8_t kb[32];
    size_t kn = miaw__wa__advkey_index_list__pack(&kl, kb);
    CU_ASSERT(kn == 5 && kb[0] == 0x22 && kb[1] == 3 && kb[2] == 0 && kb[3] == 3 && kb[4] == 5);
}

static void test_device_props(void)
{
    Miaw__Wa__DeviceProps dp = MIAW__WA__DEVICE_PROPS__INIT;
    Miaw__Wa__DeviceProps__HistorySyncConfig hc = MIAW__WA__DEVICE_PROPS__HISTORY_SYNC_CONFIG__INIT;
    hc.has_storagequotamb = 1, hc.storagequotamb = 10240;
    dp.os = "miaw";
    dp.has_platformtype = 1;
    dp.platformtype = MIAW__WA__DEVICE_PROPS__PLATFORM_TYPE__CHROME;
    dp.historysyncconfig = &hc;
    uint8_t b[64];
    size_t n = miaw__wa__device_props__pack(&dp, b);
    const uint8_t want[] = {0x0a, 4, 'm', 'i', 'a', 'w', 0x18, 1, 0x2a, 3, 0x18, 0x80, 0x50};
    CU_ASSERT(n == sizeof want && memcmp(b, want, n) == 0);
}

MIAW_TESTS("wa_proto", MIAW_T(test_message_bytes), MIAW_T(test_edit_and_quote_nesting),
           MIAW_T(test_unknown_fields_skipped), MIAW_T(test_client_payload_fields),
           MIAW_T(test_adv_pairing_structures), MIAW_T(test_device_props))
