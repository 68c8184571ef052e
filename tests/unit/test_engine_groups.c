/* tests/unit/test_engine_groups.c - the pure parts of group messaging: the key id of a
 * sender-key distribution message, whatsmeow's participant hash, group metadata nodes to
 * the cached JSON, the pairwise Message of a retry resend (with our SKDM inside), and the
 * mentions of a received Message's JSON. */
#include <jansson.h>
#include <miaw/status.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"
#include "harness.h"
#include "wa/wamsg.h"
#include "wa_message.pb-c.h"

/* 0x33 || {id, iteration, chainKey (32), signingKey (33)} with the fields in the given order */
static size_t skdm_bytes(uint8_t *b, uint32_t id, int id_last)
{
    size_t n = 0;
    b[n++] = 0x33;
    if (!id_last) {
        b[n++] = 0x08;
        for (uint32_t v = id; ; v >>= 7) {
            b[n++] = (uint8_t)((v & 0x7F) | (v > 0x7F ? 0x80 : 0));
            if (v <= 0x7F) break;
        }
    }
    b[n++] = 0x10, b[n++] = 0x05;
    b[n++] = 0x1a, b[n++] = 32;
    memset(b + n, 0xAB, 32), n += 32;
    b[n++] = 0x22, b[n++] = 33;
    b[n++] = 0x05, memset(b + n, 0xCD, 32), n += 32;
    if (id_last) {
        b[n++] = 0x08;
        for (uint32_t v = id; ; v >>= 7) {
            b[n++] = (uint8_t)((v & 0x7F) | (v > 0x7F ? 0x80 : 0));
            if (v <= 0x7F) break;
        }
    }
    return n;
}

static void t_skdm_key_id(void)
{
    uint8_t b[128];
    uint32_t id = 0;
    size_t n = skdm_bytes(b, 1234567890, 0);
    CU_ASSERT_EQUAL(eng_skdm_key_id(b, n, &id), 0);
    CU_ASSERT_EQUAL(id, 1234567890);
    n = skdm_bytes(b, 7, 1); /* id after the bytes fields */
    CU_ASSERT_EQUAL(eng_skdm_key_id(b, n, &id), 0);
    CU_ASSERT_EQUAL(id, 7);
    /* no id, truncated, garbage */
    n = skdm_bytes(b, 7, 1);
    CU_ASSERT_EQUAL(eng_skdm_key_id(b, n - 2, &id), MIAW_E_NOTFOUND);
    n = skdm_bytes(b, 1234567890, 0);
    CU_ASSERT_EQUAL(eng_skdm_key_id(b, 4, &id), MIAW_E_INVAL);   /* varint cut */
    CU_ASSERT_EQUAL(eng_skdm_key_id(b, n - 40, &id), 0);          /* the id comes before the cut */
    n = skdm_bytes(b, 7, 1);
    CU_ASSERT_EQUAL(eng_skdm_key_id(b, n - 40, &id), MIAW_E_INVAL); /* a length past the end */
    uint8_t bad[] = {0x33, 0x0b, 0x01};                          /* wire type 3 */
    CU_ASSERT_EQUAL(eng_skdm_key_id(bad, sizeof bad, &id), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(eng_skdm_key_id(b, 1, &id), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(eng_skdm_key_id(NULL, 10, &id), MIAW_E_INVAL);
}

static void t_phash(void)
{
    miaw_jid d[3];
    char out[16];
    CU_ASSERT_EQUAL_FATAL(miaw_jid_parse(&d[0], "111@lid"), 0);
    CU_ASSERT_EQUAL_FATAL(miaw_jid_parse(&d[1], "222:3@lid"), 0);
    CU_ASSERT_EQUAL_FATAL(miaw_jid_parse(&d[2], "111:2@lid"), 0);
    /* "2:" + base64(SHA-256("111.0:0@lid111.0:2@lid222.0:3@lid")[0:6]), computed with Python */
    CU_ASSERT_EQUAL(eng_group_phash(d, 3, out, sizeof out), 0);
    CU_ASSERT_STRING_EQUAL(out, "2:tGmp7Whj");
    miaw_jid r[3] = {d[2], d[0], d[1]}; /* order does not matter */
    CU_ASSERT_EQUAL(eng_group_phash(r, 3, out, sizeof out), 0);
    CU_ASSERT_STRING_EQUAL(out, "2:tGmp7Whj");
    CU_ASSERT_EQUAL_FATAL(miaw_jid_parse(&d[0], "15550001111@s.whatsapp.net"), 0);
    CU_ASSERT_EQUAL(eng_group_phash(d, 1, out, sizeof out), 0);
    CU_ASSERT_STRING_EQUAL(out, "2:QrBd9lE9");
    CU_ASSERT_EQUAL(eng_group_phash(d, 1, out, 8), MIAW_E_INVAL);
}

static void t_meta_parse(void)
{
    miaw_node *iq = miaw_node_newv("iq", "type", "result", NULL);
    miaw_node *g = miaw_node_addv(iq, "group", "id", "120363000000000001", "subject", "Team", "addressing_mode", "lid",
                                  NULL);
    miaw_node_addv(g, "participant", "jid", "JID:111@lid", "phone_number", "JID:15550001111@s.whatsapp.net", "type",
                   "superadmin", NULL);
    miaw_node_addv(g, "participant", "jid", "JID:222@lid", NULL);
    miaw_node_addv(g, "participant", "jid", "not a jid", NULL); /* skipped */
    miaw_node_addv(g, "description", "id", "x", NULL);
    json_t *m = eng_group_meta_parse(iq);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT(json_is_true(json_object_get(m, "lid")));
    json_t *p = json_object_get(m, "participants");
    CU_ASSERT_EQUAL_FATAL(json_array_size(p), 2);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(p, 0), "jid")), "111@lid");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(p, 0), "pn")), "15550001111@s.whatsapp.net");
    CU_ASSERT_PTR_NULL(json_object_get(json_array_get(p, 1), "pn"));
    json_decref(m);
    miaw_node_free(iq);

    /* a PN-addressed group without addressing_mode, participants with their LID beside */
    g = miaw_node_newv("group", "id", "15550001111-1700000000", NULL);
    miaw_node_addv(g, "participant", "jid", "JID:15550001111@s.whatsapp.net", "lid", "JID:111@lid", NULL);
    m = eng_group_meta_parse(g);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT(json_is_false(json_object_get(m, "lid")));
    p = json_object_get(m, "participants");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(p, 0), "jid")), "15550001111@s.whatsapp.net");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(p, 0), "lid")), "111@lid");
    json_decref(m);
    miaw_node_free(g);

    /* not a group: no id, or some other node */
    g = miaw_node_newv("group", "subject", "x", NULL);
    CU_ASSERT_PTR_NULL(eng_group_meta_parse(g));
    miaw_node_free(g);
    iq = miaw_node_newv("iq", "type", "result", NULL);
    CU_ASSERT_PTR_NULL(eng_group_meta_parse(iq));
    CU_ASSERT_PTR_NULL(eng_group_meta_parse(NULL));
    miaw_node_free(iq);
}

static void t_msg_with_skdm(void)
{
    Miaw__Wa__Message m = MIAW__WA__MESSAGE__INIT;
    m.conversation = "hello group";
    uint8_t msg[64], skdm[3] = {0x33, 0x08, 0x07}, *out = NULL;
    size_t len = miaw__wa__message__pack(&m, msg), olen = 0;
    CU_ASSERT_EQUAL_FATAL(eng_group_msg_with_skdm(msg, len, "120363000000000001@g.us", skdm, sizeof skdm, &out, &olen), 0);
    Miaw__Wa__Message *d = NULL;
    CU_ASSERT_EQUAL_FATAL(miaw_wamsg_decode(out, olen, &d), 0); /* padded as any plaintext */
    CU_ASSERT_STRING_EQUAL(d->conversation, "hello group");
    CU_ASSERT_PTR_NOT_NULL_FATAL(d->senderkeydistributionmessage);
    CU_ASSERT_STRING_EQUAL(d->senderkeydistributionmessage->groupid, "120363000000000001@g.us");
    CU_ASSERT_EQUAL(d->senderkeydistributionmessage->axolotlsenderkeydistributionmessage.len, 3);
    CU_ASSERT_EQUAL(memcmp(d->senderkeydistributionmessage->axolotlsenderkeydistributionmessage.data, skdm, 3), 0);
    miaw__wa__message__free_unpacked(d, NULL);
    free(out);
    /* a Message that already carries an SKDM gets ours instead; garbage is refused */
    Miaw__Wa__Message__SenderKeyDistributionMessage old = MIAW__WA__MESSAGE__SENDER_KEY_DISTRIBUTION_MESSAGE__INIT;
    old.groupid = "other@g.us";
    m.senderkeydistributionmessage = &old;
    len = miaw__wa__message__pack(&m, msg);
    CU_ASSERT_EQUAL_FATAL(eng_group_msg_with_skdm(msg, len, "g@g.us", skdm, sizeof skdm, &out, &olen), 0);
    CU_ASSERT_EQUAL_FATAL(miaw_wamsg_decode(out, olen, &d), 0);
    CU_ASSERT_STRING_EQUAL(d->senderkeydistributionmessage->groupid, "g@g.us");
    miaw__wa__message__free_unpacked(d, NULL);
    free(out);
    uint8_t junk[] = {0xff, 0xff, 0xff};
    CU_ASSERT_EQUAL(eng_group_msg_with_skdm(junk, sizeof junk, "g@g.us", skdm, 3, &out, &olen), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(eng_group_msg_with_skdm(msg, len, NULL, skdm, 3, &out, &olen), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(eng_group_msg_with_skdm(msg, len, "g@g.us", skdm, 0, &out, &olen), MIAW_E_INVAL);
}

static void t_mentions(void)
{
    json_t *raw = json_loads("{\"extendedTextMessage\":{\"text\":\"hi @a @b\",\"contextInfo\":{\"mentionedJid\":"
                             "[\"111@lid\",5,\"15550001111@s.whatsapp.net\"]}},\"messageContextInfo\":{}}",
                             0, NULL);
    json_t *m = eng_raw_mentions(raw);
    CU_ASSERT_EQUAL_FATAL(json_array_size(m), 2);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(m, 0)), "111@lid");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(m, 1)), "15550001111@s.whatsapp.net");
    json_decref(m);
    json_decref(raw);
    raw = json_loads("{\"conversation\":\"plain\"}", 0, NULL);
    m = eng_raw_mentions(raw);
    CU_ASSERT(json_is_array(m) && json_array_size(m) == 0);
    json_decref(m);
    json_decref(raw);
    m = eng_raw_mentions(NULL);
    CU_ASSERT(json_is_array(m) && json_array_size(m) == 0);
    json_decref(m);
}

MIAW_TESTS("engine_groups", MIAW_T(t_skdm_key_id), MIAW_T(t_phash), MIAW_T(t_meta_parse), MIAW_T(t_msg_with_skdm),
           MIAW_T(t_mentions))
