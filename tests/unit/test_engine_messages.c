/* tests/unit/test_engine_messages.c - the pure parts of 1:1 messaging: message ids, text
 * and reply payloads, the own-device DeviceSentMessage wrapper, parsing received payloads
 * (wrappers, garbage), usync device queries and answers, pre-key fetch queries, the
 * <message> stanza, acks, delivery and retry receipts. */
#include <miaw/plugin.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "wa/msgcontent.h"
#include "wa/proto_json.h"
#include "wa/stanza.h"
#include "wa_message.pb-c.h"

static void t_message_ids(void)
{
    char a[MIAW_WA_MSGID_MAX], b[MIAW_WA_MSGID_MAX];
    CU_ASSERT_EQUAL_FATAL(miaw_wa_message_id("15551234567", 1735118400, a), 0);
    CU_ASSERT_EQUAL_FATAL(miaw_wa_message_id("15551234567", 1735118400, b), 0);
    CU_ASSERT_EQUAL(strlen(a), 22);
    CU_ASSERT_EQUAL(strncmp(a, "3EB0", 4), 0);
    for (size_t i = 4; i < 22; i++) CU_ASSERT(strchr("0123456789ABCDEF", a[i]) != NULL);
    CU_ASSERT(strcmp(a, b) != 0);
    CU_ASSERT_EQUAL(miaw_wa_message_id(NULL, 0, a), 0);
}

static void t_text_and_reply(void)
{
    uint8_t *buf;
    size_t len;
    CU_ASSERT_EQUAL_FATAL(miaw_wa_text_message("hello", NULL, &buf, &len), 0);
    Miaw__Wa__Message *m = miaw__wa__message__unpack(NULL, len, buf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_STRING_EQUAL(m->conversation, "hello");
    CU_ASSERT_PTR_NOT_NULL(m->messagecontextinfo);
    CU_ASSERT_EQUAL(m->messagecontextinfo->messagesecret.len, 32);
    miaw__wa__message__free_unpacked(m, NULL);
    miaw_wa_content c;
    CU_ASSERT_EQUAL(miaw_wa_content_parse(buf, len, &c), 0);
    CU_ASSERT_EQUAL(c.type, MIAW_WA_CONTENT_TEXT);
    CU_ASSERT_STRING_EQUAL(c.text, "hello");
    CU_ASSERT_PTR_NULL(c.quoted_id);
    CU_ASSERT_PTR_NULL(c.dsm_destination);
    miaw_wa_content_clear(&c);
    free(buf);

    miaw_wa_quote q = {.id = "3EB0AAAA", .participant = "15550003333@s.whatsapp.net", .text = "original"};
    CU_ASSERT_EQUAL_FATAL(miaw_wa_text_message("reply", &q, &buf, &len), 0);
    m = miaw__wa__message__unpack(NULL, len, buf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_PTR_NULL(m->conversation);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m->extendedtextmessage);
    CU_ASSERT_STRING_EQUAL(m->extendedtextmessage->text, "reply");
    CU_ASSERT_PTR_NOT_NULL_FATAL(m->extendedtextmessage->contextinfo);
    CU_ASSERT_STRING_EQUAL(m->extendedtextmessage->contextinfo->stanzaid, "3EB0AAAA");
    CU_ASSERT_STRING_EQUAL(m->extendedtextmessage->contextinfo->participant, "15550003333@s.whatsapp.net");
    CU_ASSERT_STRING_EQUAL(m->extendedtextmessage->contextinfo->quotedmessage->conversation, "original");
    miaw__wa__message__free_unpacked(m, NULL);
    CU_ASSERT_EQUAL(miaw_wa_content_parse(buf, len, &c), 0);
    CU_ASSERT_STRING_EQUAL(c.text, "reply");
    CU_ASSERT_STRING_EQUAL(c.quoted_id, "3EB0AAAA");
    CU_ASSERT_STRING_EQUAL(c.quoted_participant, "15550003333@s.whatsapp.net");
    miaw_wa_content_clear(&c);

    /* the copy for the own devices: DSM with the context info on top */
    uint8_t *dsm;
    size_t dlen;
    CU_ASSERT_EQUAL_FATAL(miaw_wa_dsm_wrap("15550003333@s.whatsapp.net", buf, len, &dsm, &dlen), 0);
    m = miaw__wa__message__unpack(NULL, dlen, dsm);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m->devicesentmessage);
    CU_ASSERT_STRING_EQUAL(m->devicesentmessage->destinationjid, "15550003333@s.whatsapp.net");
    CU_ASSERT_PTR_NOT_NULL(m->messagecontextinfo);
    CU_ASSERT_PTR_NULL(m->devicesentmessage->message->messagecontextinfo);
    miaw__wa__message__free_unpacked(m, NULL);
    CU_ASSERT_EQUAL(miaw_wa_content_parse(dsm, dlen, &c), 0);
    CU_ASSERT_STRING_EQUAL(c.dsm_destination, "15550003333@s.whatsapp.net");
    CU_ASSERT_STRING_EQUAL(c.text, "reply");
    CU_ASSERT_STRING_EQUAL(c.quoted_id, "3EB0AAAA");
    miaw_wa_content_clear(&c);
    free(dsm);
    free(buf);
    CU_ASSERT_EQUAL(miaw_wa_dsm_wrap("x@s.whatsapp.net", (const uint8_t *)"\xff\xff\xff", 3, &dsm, &dlen), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(miaw_wa_text_message(NULL, NULL, &buf, &len), MIAW_E_INVAL);
}

static void t_parse_wrappers_and_garbage(void)
{
    /* ephemeral{viewOnce{imageMessage{caption}}} unwraps */
    Miaw__Wa__Message inner = MIAW__WA__MESSAGE__INIT, mid = MIAW__WA__MESSAGE__INIT, top = MIAW__WA__MESSAGE__INIT;
    Miaw__Wa__Message__ImageMessage img = MIAW__WA__MESSAGE__IMAGE_MESSAGE__INIT;
    Miaw__Wa__Message__FutureProofMessage w1 = MIAW__WA__MESSAGE__FUTURE_PROOF_MESSAGE__INIT,
                                          w2 = MIAW__WA__MESSAGE__FUTURE_PROOF_MESSAGE__INIT;
    img.caption = "look";
    inner.imagemessage = &img;
    w1.message = &inner;
    mid.viewoncemessage = &w1;
    w2.message = &mid;
    top.ephemeralmessage = &w2;
    uint8_t buf[256];
    size_t n = miaw__wa__message__pack(&top, buf);
    miaw_wa_content c;
    CU_ASSERT_EQUAL_FATAL(miaw_wa_content_parse(buf, n, &c), 0);
    CU_ASSERT_EQUAL(c.type, MIAW_WA_CONTENT_IMAGE);
    CU_ASSERT_STRING_EQUAL(c.text, "look");
    CU_ASSERT_STRING_EQUAL(miaw_wa_content_type_name(c.type), "image");
    miaw_wa_content_clear(&c);
    /* an empty Message: unknown, not an error */
    CU_ASSERT_EQUAL(miaw_wa_content_parse(buf, 0, &c), 0);
    CU_ASSERT_EQUAL(c.type, MIAW_WA_CONTENT_UNKNOWN);
    miaw_wa_content_clear(&c);
    /* garbage never crashes */
    srand(7);
    for (int i = 0; i < 2000; i++) {
        uint8_t g[64];
        size_t gl = (size_t)(rand() % 64);
        for (size_t k = 0; k < gl; k++) g[k] = (uint8_t)rand();
        if (miaw_wa_content_parse(g, gl, &c) == 0) miaw_wa_content_clear(&c);
        else CU_ASSERT_PTR_NULL(c.text);
    }
    CU_ASSERT_STRING_EQUAL(miaw_wa_content_type_name((miaw_wa_content_type)99), "unknown");
}

static void t_usync(void)
{
    miaw_jid u[2];
    miaw_jid_parse(&u[0], "15550003333:4@s.whatsapp.net");
    miaw_jid_parse(&u[1], "15550002222@s.whatsapp.net");
    miaw_node *iq = miaw_wa_usync_devices_iq(u, 2, "sid-1");
    CU_ASSERT_PTR_NOT_NULL_FATAL(iq);
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(iq, "xmlns"), "usync");
    miaw_node *us = miaw_node_child(iq, "usync");
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(us, "sid"), "sid-1");
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(us, "context"), "message");
    CU_ASSERT_PTR_NOT_NULL(miaw_node_path(iq, "usync", "query", "devices", NULL));
    CU_ASSERT_PTR_NOT_NULL(miaw_node_path(iq, "usync", "query", "lid", NULL));
    miaw_node *list = miaw_node_path(iq, "usync", "list", NULL);
    CU_ASSERT_EQUAL(miaw_node_count(list), 2);
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(miaw_node_child_at(list, 0), "jid"), "15550003333@s.whatsapp.net");
    /* the wire form survives a round trip */
    uint8_t *wire;
    size_t wl;
    miaw_node *back;
    CU_ASSERT_EQUAL_FATAL(miaw_node_encode(iq, &wire, &wl), 0);
    CU_ASSERT_EQUAL_FATAL(miaw_node_decode(wire, wl, &back), 0);
    CU_ASSERT(miaw_node_equal(iq, back));
    free(wire);
    miaw_node_free(back);
    miaw_node_free(iq);

    miaw_node *r = miaw_node_newv("iq", "type", "result", "id", "1", NULL);
    miaw_node *l = miaw_node_add(miaw_node_add(r, "usync"), "list");
    miaw_node *a = miaw_node_addv(l, "user", "jid", "JID:15550003333@s.whatsapp.net", NULL);
    miaw_node *dl = miaw_node_add(miaw_node_add(a, "devices"), "device-list");
    miaw_node_addv(dl, "device", "id", "0", NULL);
    miaw_node_addv(dl, "device", "id", "12", "key-index", "2", NULL);
    miaw_node_addv(dl, "device", "id", "999", NULL); /* out of range: skipped */
    miaw_node_addv(dl, "device", "id", "12", NULL);  /* duplicate: skipped */
    miaw_node_addv(a, "lid", "val", "JID:123456789012345@lid", NULL);
    miaw_node_addv(l, "user", "jid", "not a jid", NULL); /* skipped */
    miaw_node_addv(l, "user", "jid", "JID:15550002222@s.whatsapp.net", NULL); /* no devices */
    miaw_wa_usync_user out[4];
    CU_ASSERT_EQUAL_FATAL(miaw_wa_usync_devices_parse(r, out, 4), 2);
    CU_ASSERT_STRING_EQUAL(out[0].user.user, "15550003333");
    CU_ASSERT_EQUAL(out[0].ndevices, 2);
    CU_ASSERT_EQUAL(out[0].devices[0], 0);
    CU_ASSERT_EQUAL(out[0].devices[1], 12);
    CU_ASSERT_STRING_EQUAL(out[0].lid, "123456789012345@lid");
    CU_ASSERT_EQUAL(out[1].ndevices, 0);
    CU_ASSERT_STRING_EQUAL(out[1].lid, "");
    CU_ASSERT_EQUAL(miaw_wa_usync_devices_parse(r, out, 1), 1);
    miaw_node_set_attr(r, "type", "error");
    CU_ASSERT_EQUAL(miaw_wa_usync_devices_parse(r, out, 4), MIAW_E_INVAL);
    miaw_node_free(r);
    r = miaw_node_newv("iq", "type", "result", NULL);
    CU_ASSERT_EQUAL(miaw_wa_usync_devices_parse(r, out, 4), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(miaw_wa_usync_devices_parse(NULL, out, 4), MIAW_E_INVAL);
    miaw_node_free(r);
}

static void t_prekey_fetch_and_stanza(void)
{
    miaw_jid d[2];
    miaw_jid_parse(&d[0], "15550003333@s.whatsapp.net");
    miaw_jid_parse(&d[1], "15550003333:12@s.whatsapp.net");
    miaw_node *iq = miaw_wa_prekey_fetch_iq(d, 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(iq);
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(iq, "xmlns"), "encrypt");
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(iq, "type"), "get");
    miaw_node *key = miaw_node_child(iq, "key");
    CU_ASSERT_EQUAL(miaw_node_count(key), 2);
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(miaw_node_child_at(key, 1), "jid"), "15550003333:12@s.whatsapp.net");
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(miaw_node_child_at(key, 1), "reason"), "identity");
    miaw_node_free(iq);

    uint8_t ct[3] = {0x33, 1, 2}, adv[4] = {9, 9, 9, 9};
    miaw_wa_enc encs[2] = {{.to = d[0], .type = "msg", .ct = ct, .ct_len = 3},
                           {.to = d[1], .type = "pkmsg", .ct = ct, .ct_len = 3}};
    miaw_jid chat;
    miaw_jid_parse(&chat, "15550003333@s.whatsapp.net");
    miaw_node *m = miaw_wa_message_stanza("3EB0AB", &chat, "text", encs, 2, adv, 4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(m, "to"), "15550003333@s.whatsapp.net");
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(m, "type"), "text");
    miaw_node *parts = miaw_node_child(m, "participants");
    CU_ASSERT_EQUAL(miaw_node_count(parts), 2);
    miaw_node *enc = miaw_node_path(parts, "to", "enc", NULL);
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(enc, "v"), "2");
    size_t bl;
    CU_ASSERT_PTR_NOT_NULL(miaw_node_bytes(enc, &bl));
    CU_ASSERT_EQUAL(bl, 3);
    CU_ASSERT_PTR_NOT_NULL(miaw_node_child(m, "device-identity"));
    miaw_node_free(m);
    m = miaw_wa_message_stanza("3EB0AB", &chat, "text", encs, 1, adv, 4); /* only msg: no identity */
    CU_ASSERT_PTR_NULL(miaw_node_child(m, "device-identity"));
    miaw_node_free(m);
}

static void t_acks_and_receipts(void)
{
    miaw_node *msg = miaw_node_newv("message", "id", "ABC", "from", "JID:15550003333:2@s.whatsapp.net", "t", "1700000000",
                                    "type", "text", "recipient", "JID:15550004444@s.whatsapp.net", NULL);
    miaw_node *r = miaw_wa_receipt_for(msg, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(r->tag, "receipt");
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(r, "id"), "ABC");
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(r, "to"), "15550003333:2@s.whatsapp.net");
    CU_ASSERT_PTR_NOT_NULL(miaw_node_attr_get(r, "to")->jid);
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(r, "recipient"), "15550004444@s.whatsapp.net");
    CU_ASSERT_PTR_NULL(miaw_node_attr(r, "type"));
    miaw_node_free(r);
    r = miaw_wa_receipt_for(msg, "sender");
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(r, "type"), "sender");
    miaw_node_free(r);

    miaw_node *a = miaw_wa_ack_for(msg, "message", "487");
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(a, "class"), "message");
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(a, "error"), "487");
    CU_ASSERT_PTR_NULL(miaw_node_attr(a, "type")); /* not copied for messages */
    miaw_node_free(a);
    a = miaw_wa_ack_for(msg, "receipt", NULL);
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(a, "type"), "text");
    miaw_node_free(a);

    miaw_node *keys = miaw_node_new("keys");
    r = miaw_wa_retry_receipt(msg, 2, 0x01020304, keys);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(r, "type"), "retry");
    miaw_node *retry = miaw_node_child(r, "retry");
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(retry, "count"), "2");
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(retry, "id"), "ABC");
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(retry, "t"), "1700000000");
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(retry, "v"), "1");
    size_t rl;
    const uint8_t *reg = miaw_node_bytes(miaw_node_child(r, "registration"), &rl);
    CU_ASSERT_EQUAL_FATAL(rl, 4);
    CU_ASSERT(reg[0] == 1 && reg[1] == 2 && reg[2] == 3 && reg[3] == 4);
    CU_ASSERT_PTR_NOT_NULL(miaw_node_child(r, "keys"));
    miaw_node_free(r);
    miaw_node_free(keys);
    miaw_node_free(msg);

    /* no id or no from: nothing to answer */
    msg = miaw_node_newv("message", "t", "1", NULL);
    CU_ASSERT_PTR_NULL(miaw_wa_receipt_for(msg, NULL));
    CU_ASSERT_PTR_NULL(miaw_wa_ack_for(msg, "message", NULL));
    CU_ASSERT_PTR_NULL(miaw_wa_retry_receipt(msg, 1, 1, NULL));
    miaw_node_free(msg);
}

/* the enc's mediatype attribute, from the Message (facts 7.5) */
static const char *mediatype_of_json(const char *json)
{
    json_error_t je;
    json_t *j = json_loads(json, 0, &je);
    uint8_t *b = NULL;
    size_t n = 0;
    char err[200];
    CU_ASSERT_FATAL(j != NULL);
    CU_ASSERT_EQUAL_FATAL(miaw_pb_json_encode(&miaw__wa__message__descriptor, j, &b, &n, err, sizeof err), 0);
    const char *t = miaw_wa_enc_mediatype(b, n);
    free(b);
    json_decref(j);
    return t;
}

static void t_enc_mediatype(void)
{
    static const struct { const char *json, *want; } C[] = {
        {"{\"imageMessage\":{\"mimetype\":\"image/jpeg\"}}", "image"},
        {"{\"videoMessage\":{\"seconds\":3}}", "video"},
        {"{\"videoMessage\":{\"gifPlayback\":true}}", "gif"},
        {"{\"audioMessage\":{\"ptt\":true}}", "ptt"},
        {"{\"audioMessage\":{\"seconds\":2}}", "audio"},
        {"{\"documentMessage\":{\"fileName\":\"a.pdf\"}}", "document"},
        {"{\"stickerMessage\":{}}", "sticker"},
        {"{\"contactMessage\":{\"displayName\":\"A\"}}", "vcard"},
        {"{\"extendedTextMessage\":{\"text\":\"see https://a.b\",\"matchedText\":\"https://a.b\"}}", "url"},
        {"{\"viewOnceMessageV2\":{\"message\":{\"imageMessage\":{}}}}", "image"},
        {"{\"documentWithCaptionMessage\":{\"message\":{\"documentMessage\":{}}}}", "document"},
        {"{\"conversation\":\"hi\"}", NULL},
        {"{\"extendedTextMessage\":{\"text\":\"no preview\"}}", NULL},
        {"{\"reactionMessage\":{\"text\":\"x\"}}", NULL},
    };
    for (size_t i = 0; i < sizeof C / sizeof C[0]; i++) {
        const char *got = mediatype_of_json(C[i].json);
        if (!C[i].want) {
            CU_ASSERT_PTR_NULL(got);
        } else {
            CU_ASSERT_PTR_NOT_NULL_FATAL(got);
            CU_ASSERT_STRING_EQUAL(got, C[i].want);
        }
    }
    static const uint8_t garbage[] = {0xff, 0xff, 0xff};
    CU_ASSERT_PTR_NULL(miaw_wa_enc_mediatype(garbage, sizeof garbage));
}

MIAW_TESTS("engine_messages", MIAW_T(t_message_ids), MIAW_T(t_enc_mediatype), MIAW_T(t_text_and_reply), MIAW_T(t_parse_wrappers_and_garbage),
           MIAW_T(t_usync), MIAW_T(t_prekey_fetch_and_stanza), MIAW_T(t_acks_and_receipts))
