/* tests/unit/test_plugin_messages_actions.c - the message actions and kinds of the messages
 * plugin: its pure helpers (plugins/messages/msgkit.c compiled in: vCard 3.0 text with
 * escaping and folding, phone digits, the emoji check, forwarded copies, mentions,
 * receipt types, the action events of `message` events) and its routes and events on the
 * SDK's mock host (build/plugins/messages.so): edit / delete / react / forward built from
 * msg_get's stored message (WAProto JSON checked by the server's encoder, stanza edit
 * attributes, the 15-minute edit window on the virtual clock, 404 / 409 / 400 with
 * details.field), location and contact cards, mentions on the text route, message_edit /
 * message_delete / message_reaction from core `message` events (not for someone else's
 * message), message_ack from receipts (own messages only, once per status) and on send. */
#include "harness.h"
#include "plugin_path.h"

#include "wa/proto_json.h"

#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <miaw/mock_host.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugins/messages/msgkit.c"

/* ------------------------------------------------------------ pure helpers */
static void test_phone_digits(void)
{
    char d[MK_PHONE_MAX];
    CU_ASSERT_EQUAL(mk_phone_digits("+62 812-3456-7890", d), 0);
    CU_ASSERT_STRING_EQUAL(d, "6281234567890");
    CU_ASSERT_EQUAL(mk_phone_digits("(555) 123.4567", d), 0);
    CU_ASSERT_STRING_EQUAL(d, "5551234567");
    const char *bad[] = {"", "1234", "0812345678", "12ab45678", "123456789012345678901", "+1 555 x", NULL};
    for (size_t i = 0; bad[i]; i++) CU_ASSERT_EQUAL(mk_phone_digits(bad[i], d), -1);
    CU_ASSERT_EQUAL(mk_phone_digits(NULL, d), -1);
}

static void test_vcard(void)
{
    mk_contact c = {"John Doe", "+62 812-3456-7890", "Acme, Inc.", "john@example.com"};
    char *v = mk_vcard(&c);
    CU_ASSERT_STRING_EQUAL(v, "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Doe;John;;;\r\nFN:John Doe\r\nORG:Acme\\, Inc.\r\n"
                              "EMAIL;type=INTERNET:john@example.com\r\n"
                              "TEL;type=CELL;type=VOICE;waid=6281234567890:+6281234567890\r\nEND:VCARD\r\n");
    free(v);
    /* one word: the given name; escapes of ; \ , and line breaks */
    mk_contact e = {"Semi;colon\\back,comma\nnew", "15551234567", NULL, ""};
    v = mk_vcard(&e);
    CU_ASSERT_STRING_EQUAL(v, "BEGIN:VCARD\r\nVERSION:3.0\r\nN:;Semi\\;colon\\\\back\\,comma\\nnew;;;\r\n"
                              "FN:Semi\\;colon\\\\back\\,comma\\nnew\r\n"
                              "TEL;type=CELL;type=VOICE;waid=15551234567:+15551234567\r\nEND:VCARD\r\n");
    free(v);
    /* folding: lines of at most 75 octets, continuation lines start with a space, no
     * UTF-8 sequence is split, and unfolding gives the value back */
    char name[400] = "";
    for (int i = 0; i < 60; i++) strcat(name, "é"); /* 2 bytes each */
    strcat(name, " Zoë");
    mk_contact f = {name, "15551234567", NULL, NULL};
    v = mk_vcard(&f);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    size_t lines = 0;
    for (char *p = v, *nl; (nl = strstr(p, "\r\n")); p = nl + 2, lines++) {
        CU_ASSERT_TRUE(nl - p <= 75);
        if (nl + 2 < v + strlen(v)) CU_ASSERT_NOT_EQUAL((unsigned char)nl[2] & 0xC0, 0x80);
    }
    CU_ASSERT_EQUAL(lines, 8); /* N and FN take two lines each */
    char unfolded[2048] = "";
    for (char *p = v; *p;) {
        if (!strncmp(p, "\r\n ", 3)) p += 3;
        else strncat(unfolded, p++, 1);
    }
    char want[600];
    snprintf(want, sizeof want, "FN:%s\r\n", name);
    CU_ASSERT_PTR_NOT_NULL(strstr(unfolded, want));
    free(v);
    mk_contact nophone = {"A", "12ab", NULL, NULL}, noname = {"", "15551234567", NULL, NULL};
    CU_ASSERT_PTR_NULL(mk_vcard(&nophone));
    CU_ASSERT_PTR_NULL(mk_vcard(&noname));
}

static void test_emoji(void)
{
    const char *good[] = {"", "👍", "❤️", "🇧🇷", "1️⃣", "#⃣", "👨‍👩‍👧‍👦", "👍🏽", "©", "🏴󠁧󠁢󠁥󠁮󠁧󠁿", "☕", NULL};
    const char *bad[] = {"a", "hello", "👍 ok", " ", "1", "a👍", "\n", "ж", "中", "\xe2\x80\x8d", NULL};
    for (size_t i = 0; good[i]; i++) {
        if (!mk_is_emoji(good[i])) fprintf(stderr, "\nnot an emoji? %s\n", good[i]);
        CU_ASSERT_TRUE(mk_is_emoji(good[i]));
    }
    for (size_t i = 0; bad[i]; i++) {
        if (mk_is_emoji(bad[i])) fprintf(stderr, "\nan emoji? %s\n", bad[i]);
        CU_ASSERT_FALSE(mk_is_emoji(bad[i]));
    }
    char many[80] = "";
    for (int i = 0; i < 17; i++) strcat(many, "👍");
    CU_ASSERT_FALSE(mk_is_emoji(many)); /* 68 bytes */
    CU_ASSERT_FALSE(mk_is_emoji(NULL));
}

static json_t *J(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    if (!j) fprintf(stderr, "\nbad test JSON: %s: %s\n", e.text, s);
    return j;
}

static void test_forward(void)
{
    const char *st = NULL, *why = NULL;
    json_t *m = J("{\"conversation\":\"hi\",\"messageContextInfo\":{\"messageSecret\":\"AAAA\"}}");
    json_t *f = mk_forward(m, &st, &why);
    json_t *want = J("{\"extendedTextMessage\":{\"text\":\"hi\",\"contextInfo\":{\"isForwarded\":true,"
                     "\"forwardingScore\":1}}}");
    CU_ASSERT_TRUE(json_equal(f, want));
    CU_ASSERT_STRING_EQUAL(st, "text");
    json_decref(m), json_decref(f), json_decref(want);
    /* media: the keys stay, the reply context goes, the score grows */
    m = J("{\"imageMessage\":{\"url\":\"https://h/x\",\"mediaKey\":\"a2V5\",\"caption\":\"c\",\"contextInfo\":"
          "{\"stanzaId\":\"Q\",\"participant\":\"1@s.whatsapp.net\",\"forwardingScore\":4,\"isForwarded\":true}}}");
    f = mk_forward(m, &st, &why);
    want = J("{\"imageMessage\":{\"url\":\"https://h/x\",\"mediaKey\":\"a2V5\",\"caption\":\"c\",\"contextInfo\":"
             "{\"isForwarded\":true,\"forwardingScore\":5}}}");
    CU_ASSERT_TRUE(json_equal(f, want));
    CU_ASSERT_STRING_EQUAL(st, "media");
    json_decref(m), json_decref(f), json_decref(want);
    m = J("{\"locationMessage\":{\"degreesLatitude\":1.5,\"degreesLongitude\":2}}");
    f = mk_forward(m, &st, &why);
    CU_ASSERT_EQUAL(json_is_true(miaw_mock_get(f, "locationMessage.contextInfo.isForwarded")), 1);
    CU_ASSERT_STRING_EQUAL(st, "text");
    json_decref(m), json_decref(f);
    const char *no[] = {"{\"reactionMessage\":{\"text\":\"x\"}}", "{\"protocolMessage\":{\"type\":0}}",
                        "{\"imageMessage\":{\"viewOnce\":true}}", "{\"messageContextInfo\":{}}", "{}",
                        "{\"pollCreationMessage\":{\"name\":\"p\"}}", NULL};
    for (size_t i = 0; no[i]; i++) {
        m = J(no[i]);
        why = NULL;
        CU_ASSERT_PTR_NULL(mk_forward(m, &st, &why));
        CU_ASSERT_PTR_NOT_NULL(why);
        json_decref(m);
    }
    CU_ASSERT_PTR_NULL(mk_forward(NULL, &st, &why));
}

static void test_mentions_receipts_jids(void)
{
    json_t *m = J("{\"conversation\":\"hi @1\"}"), *jids = J("[\"1@s.whatsapp.net\"]");
    CU_ASSERT_EQUAL(mk_add_mentions(m, jids), 0);
    json_t *want = J("{\"extendedTextMessage\":{\"text\":\"hi @1\",\"contextInfo\":{\"mentionedJid\":[\"1@s.whatsapp.net\"]}}}");
    CU_ASSERT_TRUE(json_equal(m, want));
    json_decref(m), json_decref(want);
    m = J("{\"extendedTextMessage\":{\"text\":\"r\",\"contextInfo\":{\"stanzaId\":\"Q\"}}}");
    CU_ASSERT_EQUAL(mk_add_mentions(m, jids), 0);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(m, "extendedTextMessage.contextInfo.stanzaId"), "Q");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(m, "extendedTextMessage.contextInfo.mentionedJid[0]"), "1@s.whatsapp.net");
    json_decref(m);
    m = J("{\"imageMessage\":{}}");
    CU_ASSERT_EQUAL(mk_add_mentions(m, jids), -1);
    json_decref(m), json_decref(jids);

    CU_ASSERT_STRING_EQUAL(mk_receipt_status(NULL), "delivery");
    CU_ASSERT_STRING_EQUAL(mk_receipt_status("inactive"), "delivery");
    CU_ASSERT_STRING_EQUAL(mk_receipt_status("read"), "read");
    CU_ASSERT_STRING_EQUAL(mk_receipt_status("read-self"), "read");
    CU_ASSERT_STRING_EQUAL(mk_receipt_status("played"), "played");
    CU_ASSERT_PTR_NULL(mk_receipt_status("retry"));
    CU_ASSERT_PTR_NULL(mk_receipt_status("sender"));
    CU_ASSERT_PTR_NULL(mk_receipt_status("peer_msg"));
    CU_ASSERT_TRUE(mk_ack_rank("server") < mk_ack_rank("delivery"));
    CU_ASSERT_TRUE(mk_ack_rank("read") < mk_ack_rank("played"));
    CU_ASSERT_EQUAL(mk_ack_rank("x"), 0);

    char u[64];
    CU_ASSERT_EQUAL(mk_user_jid("15551234567:3@s.whatsapp.net", u, sizeof u), 0);
    CU_ASSERT_STRING_EQUAL(u, "15551234567@s.whatsapp.net");
    CU_ASSERT_EQUAL(mk_user_jid("123@lid", u, sizeof u), 0);
    CU_ASSERT_STRING_EQUAL(u, "123@lid");
    CU_ASSERT_EQUAL(mk_user_jid("nojid", u, sizeof u), -1);
    CU_ASSERT_EQUAL(mk_user_jid("@x", u, sizeof u), -1);
    CU_ASSERT_EQUAL(mk_user_jid("15551234567@s.whatsapp.net", u, 8), -1);
}

static void test_action_events(void)
{
    const char *type = NULL;
    json_t *d = J("{\"id\":\"R1\",\"chat\":\"1@s.whatsapp.net\",\"from\":\"1@s.whatsapp.net\",\"fromMe\":false,"
                  "\"isGroup\":false,\"timestamp\":1700000000,\"raw\":{\"reactionMessage\":{\"key\":{\"id\":\"T\"},"
                  "\"text\":\"👍\"}}}");
    json_t *e = mk_action_event(d, &type);
    CU_ASSERT_STRING_EQUAL(type, "message_reaction");
    json_t *want = J("{\"messageId\":\"T\",\"chat\":\"1@s.whatsapp.net\",\"from\":\"1@s.whatsapp.net\",\"fromMe\":false,"
                     "\"isGroup\":false,\"emoji\":\"👍\",\"reactionId\":\"R1\",\"timestamp\":1700000000}");
    CU_ASSERT_TRUE(json_equal(e, want));
    json_decref(d), json_decref(e), json_decref(want);
    /* a revoke without an explicit type (REVOKE is 0, the default) */
    d = J("{\"id\":\"P\",\"chat\":\"g@g.us\",\"from\":\"2@s.whatsapp.net\",\"fromMe\":false,\"isGroup\":true,"
          "\"timestamp\":5,\"raw\":{\"protocolMessage\":{\"key\":{\"id\":\"T\",\"participant\":\"3@s.whatsapp.net\"}}}}");
    e = mk_action_event(d, &type);
    CU_ASSERT_STRING_EQUAL(type, "message_delete");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(e, "participant"), "3@s.whatsapp.net");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(e, "protocolMessageId"), "P");
    CU_ASSERT_EQUAL(json_is_true(miaw_mock_get(e, "isGroup")), 1);
    json_decref(d), json_decref(e);
    d = J("{\"id\":\"P\",\"chat\":\"1@s.whatsapp.net\",\"from\":\"1@s.whatsapp.net\",\"fromMe\":true,\"timestamp\":9,"
          "\"raw\":{\"protocolMessage\":{\"key\":{\"id\":\"T\"},\"type\":14,\"timestampMs\":\"1700000123456\","
          "\"editedMessage\":{\"extendedTextMessage\":{\"text\":\"new\"}}}}}");
    e = mk_action_event(d, &type);
    CU_ASSERT_STRING_EQUAL(type, "message_edit");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(e, "text"), "new");
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(e, "editedAt")), 1700000123);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(e, "message.extendedTextMessage.text"), "new");
    json_decref(d), json_decref(e);
    const char *none[] = {"{\"raw\":{\"conversation\":\"x\"}}", "{\"raw\":{\"protocolMessage\":{\"type\":3}}}",
                          "{\"raw\":{\"protocolMessage\":{\"type\":0}}}", "{\"raw\":{\"reactionMessage\":{}}}",
                          "{\"raw\":null}", "{}", NULL};
    for (size_t i = 0; none[i]; i++) {
        d = J(none[i]);
        CU_ASSERT_PTR_NULL(mk_action_event(d, &type));
        json_decref(d);
    }
}

static int waproto_check(const json_t *message, char *path, size_t pathlen, char *err, size_t errlen, void *ud)
{
    (void)ud;
    uint8_t *buf = NULL;
    size_t len = 0;
    char e[256] = "";
    int rc = miaw_pb_json_encode(miaw_pb_type("Message"), message, &buf, &len, e, sizeof e);
    free(buf);
    if (rc == 0) return MIAW_OK;
    const char *colon = strstr(e, ": ");
    snprintf(path, pathlen, "%.*s", colon ? (int)(colon - e) : 0, e);
    snprintf(err, errlen, "%s", colon ? colon + 2 : e);
    return MIAW_E_INVAL;
}

#define NOW_S 1735118400LL /* the mock's clock */
#define BOB "6281111111111@s.whatsapp.net"
#define GROUP "120363000000000001@g.us"

static miaw_mock *setup(void)
{
    miaw_mock *m = miaw_mock_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    char err[512] = "";
    miaw_plugin *p = miaw_mock_load(m, miaw_test_plugin_path("messages"), "messages", NULL, err, sizeof err);
    if (!p) fprintf(stderr, "\nload: %s\n", err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    miaw_mock_set_message_check(m, waproto_check, NULL);
    CU_ASSERT_EQUAL(miaw_mock_put_instance(m, "i1", NULL), MIAW_OK);
    char j[512];
    /* our text a minute ago, an old one, Bob's text, our location, a revoked one, Carol's in a group */
    snprintf(j, sizeof j, "{\"chat\":\"%s\",\"sender\":\"me@s.whatsapp.net\",\"fromMe\":true,\"timestamp\":%lld,"
             "\"type\":\"text\",\"status\":\"sent\",\"text\":\"hi\",\"message\":{\"conversation\":\"hi\"}}", BOB, NOW_S - 60);
    miaw_mock_put_message(m, "i1", "MINE", j);
    snprintf(j, sizeof j, "{\"chat\":\"%s\",\"sender\":\"me@s.whatsapp.net\",\"fromMe\":true,\"timestamp\":%lld,"
             "\"type\":\"text\",\"status\":\"read\",\"text\":\"old\",\"message\":{\"extendedTextMessage\":{\"text\":"
             "\"old\"}}}", BOB, NOW_S - 16 * 60);
    miaw_mock_put_message(m, "i1", "OLD", j);
    snprintf(j, sizeof j, "{\"chat\":\"%s\",\"sender\":\"%s\",\"fromMe\":false,\"timestamp\":%lld,\"type\":\"text\","
             "\"status\":\"received\",\"text\":\"yo\",\"message\":{\"conversation\":\"yo\"}}", BOB, BOB, NOW_S);
    miaw_mock_put_message(m, "i1", "BOBS", j);
    snprintf(j, sizeof j, "{\"chat\":\"%s\",\"sender\":\"me@s.whatsapp.net\",\"fromMe\":true,\"timestamp\":%lld,"
             "\"type\":\"location\",\"status\":\"sent\",\"message\":{\"locationMessage\":{\"degreesLatitude\":1,"
             "\"degreesLongitude\":2}}}", BOB, NOW_S);
    miaw_mock_put_message(m, "i1", "LOC", j);
    snprintf(j, sizeof j, "{\"chat\":\"%s\",\"sender\":\"me@s.whatsapp.net\",\"fromMe\":true,\"timestamp\":%lld,"
             "\"type\":\"text\",\"status\":\"revoked\",\"message\":null}", BOB, NOW_S);
    miaw_mock_put_message(m, "i1", "GONE", j);
    snprintf(j, sizeof j, "{\"chat\":\"%s\",\"sender\":\"6282222222222@s.whatsapp.net\",\"fromMe\":false,"
             "\"timestamp\":%lld,\"type\":\"image\",\"status\":\"received\",\"message\":{\"imageMessage\":{\"url\":"
             "\"https://h/x\",\"mediaKey\":\"a2V5\",\"directPath\":\"/v/x\",\"mimetype\":\"image/jpeg\"}}}", GROUP, NOW_S);
    miaw_mock_put_message(m, "i1", "CAROLS", j);
    return m;
}

static void teardown(miaw_mock *m)
{
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_violations(m)), 0);
    miaw_mock_free(m);
}

static int call(miaw_mock *m, const char *method, const char *path, const char *body, miaw_mock_reply *r)
{
    memset(r, 0, sizeof *r);
    int st = miaw_mock_call(m, method, path, body, r);
    if (st >= 400) fprintf(stderr, "  [%s %s -> %d %s]\n", method, path, st, r->text ? r->text : "");
    return st;
}

static void expect(miaw_mock *m, const char *method, const char *path, const char *body, int status, const char *code,
                   const char *field)
{
    miaw_mock_reply r;
    CU_ASSERT_EQUAL(call(m, method, path, body, &r), status);
    CU_ASSERT_STRING_EQUAL(miaw_mock_reply_code(&r) ? miaw_mock_reply_code(&r) : "", code);
    const char *got = miaw_mock_str(r.json, "error.details.field");
    if (field) CU_ASSERT_STRING_EQUAL(got ? got : "(none)", field);
    miaw_mock_reply_clear(&r);
}

static const json_t *last_send(miaw_mock *m)
{
    const json_t *s = miaw_mock_sends(m);
    return json_array_get(s, json_array_size(s) - 1);
}

/* the newest event of type, or NULL */
static const json_t *event(miaw_mock *m, const char *type)
{
    const json_t *ev = miaw_mock_events(m), *hit = NULL, *e;
    size_t i;
    json_array_foreach(ev, i, e) if (!strcmp(miaw_mock_str(e, "type"), type)) hit = e;
    return hit;
}

static size_t count_events(miaw_mock *m, const char *type)
{
    size_t n = 0, i;
    const json_t *e;
    json_array_foreach(miaw_mock_events(m), i, e) n += !strcmp(miaw_mock_str(e, "type"), type);
    return n;
}

static void test_routes_listed(void)
{
    miaw_mock *m = setup();
    json_t *routes = miaw_mock_routes(m);
    const char *want[][2] = {{"POST", "/instances/{instanceId}/messages/{messageId}"},
                             {"DELETE", "/instances/{instanceId}/messages/{messageId}"},
                             {"POST", "/instances/{instanceId}/messages/{messageId}/reaction"},
                             {"POST", "/instances/{instanceId}/messages/{messageId}/forward"},
                             {"POST", "/instances/{instanceId}/messages/location"},
                             {"POST", "/instances/{instanceId}/messages/contact"}};
    for (size_t k = 0; k < 6; k++) {
        int found = 0;
        size_t i;
        json_t *r;
        json_array_foreach(routes, i, r) found |= !strcmp(miaw_mock_str(r, "method"), want[k][0]) &&
                                                  !strcmp(miaw_mock_str(r, "path"), want[k][1]);
        CU_ASSERT_TRUE(found);
    }
    json_decref(routes);
    teardown(m);
}

static void test_edit(void)
{
    miaw_mock *m = setup();
    miaw_mock_reply r;
    CU_ASSERT_EQUAL(call(m, "POST", "/instances/i1/messages/MINE", "{\"text\":\"hi!\"}", &r), 0);
    const json_t *s = last_send(m);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "jid"), BOB);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "opts.edit"), "1");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "opts.type"), "text");
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(s, "opts.flags")), MIAW_MSG_F_NO_STORE);
    const json_t *pm = miaw_mock_get(s, "message.editedMessage.message.protocolMessage");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(pm, "key.id"), "MINE");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(pm, "key.remoteJid"), BOB);
    CU_ASSERT_EQUAL(json_is_true(miaw_mock_get(pm, "key.fromMe")), 1);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(pm, "type"), "MESSAGE_EDIT");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(pm, "editedMessage.conversation"), "hi!");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(pm, "timestampMs"), "1735118400000");
    CU_ASSERT_EQUAL(miaw_mock_complete_send(m, 0, MIAW_OK, "3EB0EDIT", NOW_S + 1, NULL), MIAW_OK);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.messageId"), "MINE");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.protocolMessageId"), "3EB0EDIT");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.text"), "hi!");
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.json, "data.timestamp")), (NOW_S + 1) * 1000);
    const json_t *ack = event(m, "message_ack");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(ack, "data.messageId"), "3EB0EDIT");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(ack, "data.status"), "server");
    miaw_mock_reply_clear(&r);
    /* a reply stays an extendedTextMessage; OLD is past the window */
    expect(m, "POST", "/instances/i1/messages/OLD", "{\"text\":\"x\"}", 409, "CONFLICT", "messageId");
    miaw_mock_run_timers(m, 0);
    expect(m, "POST", "/instances/i1/messages/BOBS", "{\"text\":\"x\"}", 409, "CONFLICT", "messageId");
    expect(m, "POST", "/instances/i1/messages/LOC", "{\"text\":\"x\"}", 409, "CONFLICT", "messageId");
    expect(m, "POST", "/instances/i1/messages/GONE", "{\"text\":\"x\"}", 409, "CONFLICT", "messageId");
    expect(m, "POST", "/instances/i1/messages/NOPE", "{\"text\":\"x\"}", 404, "NOT_FOUND", "messageId");
    expect(m, "POST", "/instances/i1/messages/MINE", "{\"text\":\"\"}", 400, "INVALID_REQUEST", "text");
    expect(m, "POST", "/instances/i1/messages/MINE", "{}", 400, "INVALID_REQUEST", "text");
    expect(m, "POST", "/instances/i2/messages/MINE", "{\"text\":\"x\"}", 404, "INSTANCE_NOT_FOUND", NULL);
    /* 14 minutes later MINE is still editable, at 16 it is not */
    miaw_mock_run_timers(m, 13 * 60 * 1000);
    CU_ASSERT_EQUAL(call(m, "POST", "/instances/i1/messages/MINE", "{\"text\":\"late\"}", &r), 0);
    miaw_mock_reply_clear(&r);
    miaw_mock_run_timers(m, 2 * 60 * 1000 + 1000);
    expect(m, "POST", "/instances/i1/messages/MINE", "{\"text\":\"too late\"}", 409, "CONFLICT", "messageId");
    /* the old message keeps its kind when it is in time */
    char j[256];
    snprintf(j, sizeof j, "{\"chat\":\"%s\",\"fromMe\":true,\"timestamp\":%lld,\"type\":\"text\",\"status\":\"sent\","
             "\"message\":{\"extendedTextMessage\":{\"text\":\"q\",\"contextInfo\":{\"stanzaId\":\"X\"}}}}", GROUP,
             (long long)(miaw_mock_now(m) / 1000));
    miaw_mock_put_message(m, "i1", "REPLY", j);
    CU_ASSERT_EQUAL(call(m, "POST", "/instances/i1/messages/REPLY", "{\"text\":\"q2\"}", &r), 0);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(last_send(m), "message.editedMessage.message.protocolMessage.editedMessage."
                                                       "extendedTextMessage.text"), "q2");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(last_send(m), "jid"), GROUP);
    miaw_mock_reply_clear(&r);
    teardown(m);
}

static void test_delete_react(void)
{
    miaw_mock *m = setup();
    miaw_mock_reply r;
    CU_ASSERT_EQUAL(call(m, "DELETE", "/instances/i1/messages/MINE", NULL, &r), 0);
    const json_t *s = last_send(m);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "opts.edit"), "7");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "message.protocolMessage.type"), "REVOKE");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "message.protocolMessage.key.id"), "MINE");
    CU_ASSERT_EQUAL(json_is_true(miaw_mock_get(s, "message.protocolMessage.key.fromMe")), 1);
    CU_ASSERT_PTR_NULL(miaw_mock_get(s, "message.protocolMessage.key.participant"));
    CU_ASSERT_EQUAL(miaw_mock_complete_send(m, 0, MIAW_OK, "3EB0DEL", NOW_S, NULL), MIAW_OK);
    CU_ASSERT_EQUAL(json_is_true(miaw_mock_get(r.json, "data.deleted")), 1);
    CU_ASSERT_EQUAL(json_is_false(miaw_mock_get(r.json, "data.asAdmin")), 1);
    miaw_mock_reply_clear(&r);
    /* someone else's message in a group: an admin revoke naming the author */
    CU_ASSERT_EQUAL(call(m, "DELETE", "/instances/i1/messages/CAROLS", NULL, &r), 0);
    s = last_send(m);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "opts.edit"), "8");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "message.protocolMessage.key.participant"), "6282222222222@s.whatsapp.net");
    CU_ASSERT_EQUAL(json_is_false(miaw_mock_get(s, "message.protocolMessage.key.fromMe")), 1);
    /* the server refuses it: 500 WHATSAPP_ERROR */
    CU_ASSERT_EQUAL(miaw_mock_complete_send(m, 1, MIAW_E_IO, NULL, 0, "the server refused the message (error 403)"),
                    MIAW_OK);
    CU_ASSERT_EQUAL(r.status, 500);
    CU_ASSERT_STRING_EQUAL(miaw_mock_reply_code(&r), "WHATSAPP_ERROR");
    miaw_mock_reply_clear(&r);
    expect(m, "DELETE", "/instances/i1/messages/BOBS", NULL, 409, "CONFLICT", "messageId");
    expect(m, "DELETE", "/instances/i1/messages/GONE", NULL, 409, "CONFLICT", "messageId");
    expect(m, "DELETE", "/instances/i1/messages/NOPE", NULL, 404, "NOT_FOUND", "messageId");

    /* reactions: the key is from our side; in groups it names the author */
    CU_ASSERT_EQUAL(call(m, "POST", "/instances/i1/messages/BOBS/reaction", "{\"emoji\":\"👍\"}", &r), 0);
    s = last_send(m);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "opts.type"), "reaction");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "message.reactionMessage.text"), "👍");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "message.reactionMessage.key.remoteJid"), BOB);
    CU_ASSERT_EQUAL(json_is_false(miaw_mock_get(s, "message.reactionMessage.key.fromMe")), 1);
    CU_ASSERT_PTR_NULL(miaw_mock_get(s, "message.reactionMessage.key.participant"));
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "message.reactionMessage.senderTimestampMs"), "1735118400000");
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(call(m, "POST", "/instances/i1/messages/CAROLS/reaction", "{\"emoji\":\"\"}", &r), 0);
    s = last_send(m);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "message.reactionMessage.text"), "");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "message.reactionMessage.key.participant"), "6282222222222@s.whatsapp.net");
    CU_ASSERT_EQUAL(miaw_mock_complete_send(m, json_array_size(miaw_mock_sends(m)) - 1, MIAW_OK, "3EB0R", NOW_S, NULL),
                    MIAW_OK);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.reactionId"), "3EB0R");
    CU_ASSERT_EQUAL(json_is_true(miaw_mock_get(r.json, "data.removed")), 1);
    miaw_mock_reply_clear(&r);
    expect(m, "POST", "/instances/i1/messages/BOBS/reaction", "{\"emoji\":\"ok\"}", 400, "INVALID_REQUEST", "emoji");
    expect(m, "POST", "/instances/i1/messages/BOBS/reaction", "{\"emoji\":5}", 400, "INVALID_REQUEST", "emoji");
    expect(m, "POST", "/instances/i1/messages/NOPE/reaction", "{\"emoji\":\"👍\"}", 404, "NOT_FOUND", "messageId");
    expect(m, "POST", "/instances/i1/messages/GONE/reaction", "{\"emoji\":\"👍\"}", 409, "CONFLICT", "messageId");
    /* not connected: 503 from msg_send */
    miaw_mock_set_connected(m, "i1", 0);
    expect(m, "POST", "/instances/i1/messages/BOBS/reaction", "{\"emoji\":\"👍\"}", 503, "INSTANCE_NOT_CONNECTED", NULL);
    teardown(m);
}

static void test_forward_location_contact(void)
{
    miaw_mock *m = setup();
    miaw_mock_reply r;
    CU_ASSERT_EQUAL(call(m, "POST", "/instances/i1/messages/CAROLS/forward", "{\"to\":\"+62 811 1111 1111\"}", &r), 0);
    const json_t *s = last_send(m);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "jid"), BOB);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "opts.type"), "media");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "message.imageMessage.mediaKey"), "a2V5");
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(s, "message.imageMessage.contextInfo.forwardingScore")), 1);
    CU_ASSERT_PTR_NOT_NULL(miaw_mock_str(s, "message.messageContextInfo.messageSecret"));
    CU_ASSERT_EQUAL(miaw_mock_complete_send(m, 0, MIAW_OK, "3EB0FWD", NOW_S, NULL), MIAW_OK);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.messageId"), "3EB0FWD");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.forwardedFrom"), "CAROLS");
    miaw_mock_reply_clear(&r);
    expect(m, "POST", "/instances/i1/messages/GONE/forward", "{\"to\":\"6281111111111\"}", 409, "CONFLICT", "messageId");
    expect(m, "POST", "/instances/i1/messages/MINE/forward", "{\"to\":\"nope\"}", 400, "INVALID_REQUEST", "to");

    const char *loc = "/instances/i1/messages/location";
    CU_ASSERT_EQUAL(call(m, "POST", loc, "{\"to\":\"6281111111111\",\"latitude\":-6.5,\"longitude\":106,\"name\":\"X\"}",
                         &r), 0);
    s = last_send(m);
    CU_ASSERT_EQUAL(json_real_value(miaw_mock_get(s, "message.locationMessage.degreesLatitude")), -6.5);
    CU_ASSERT_EQUAL(json_number_value(miaw_mock_get(s, "message.locationMessage.degreesLongitude")), 106);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "message.locationMessage.name"), "X");
    CU_ASSERT_PTR_NULL(miaw_mock_get(s, "message.locationMessage.address"));
    miaw_mock_reply_clear(&r);
    expect(m, "POST", loc, "{\"to\":\"6281111111111\",\"latitude\":90.0001,\"longitude\":0}", 400, "INVALID_REQUEST",
           "latitude");
    expect(m, "POST", loc, "{\"to\":\"6281111111111\",\"latitude\":0,\"longitude\":-181}", 400, "INVALID_REQUEST",
           "longitude");
    expect(m, "POST", loc, "{\"to\":\"6281111111111\",\"latitude\":0}", 400, "INVALID_REQUEST", "longitude");
    expect(m, "POST", loc, "{\"to\":\"6281111111111\",\"latitude\":0,\"longitude\":0,\"url\":\"no\"}", 400,
           "INVALID_REQUEST", "url");

    const char *con = "/instances/i1/messages/contact";
    CU_ASSERT_EQUAL(call(m, "POST", con, "{\"to\":\"6281111111111\",\"contacts\":[{\"name\":\"Ann\",\"phone\":"
                                         "\"+1 555 123 4567\"}]}", &r), 0);
    s = last_send(m);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "message.contactMessage.displayName"), "Ann");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "message.contactMessage.vcard"),
                           "BEGIN:VCARD\r\nVERSION:3.0\r\nN:;Ann;;;\r\nFN:Ann\r\n"
                           "TEL;type=CELL;type=VOICE;waid=15551234567:+15551234567\r\nEND:VCARD\r\n");
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(call(m, "POST", con, "{\"to\":\"6281111111111\",\"contacts\":[{\"name\":\"Ann\",\"phone\":"
                                         "\"15551234567\"},{\"name\":\"Ben\",\"phone\":\"15557654321\",\"org\":"
                                         "\"B;C\"}]}", &r), 0);
    s = last_send(m);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "message.contactsArrayMessage.displayName"), "2 contacts");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "message.contactsArrayMessage.contacts[1].displayName"), "Ben");
    CU_ASSERT_PTR_NOT_NULL(strstr(miaw_mock_str(s, "message.contactsArrayMessage.contacts[1].vcard"), "ORG:B\\;C\r\n"));
    miaw_mock_reply_clear(&r);
    expect(m, "POST", con, "{\"to\":\"6281111111111\",\"contacts\":[]}", 400, "INVALID_REQUEST", "contacts");
    expect(m, "POST", con, "{\"to\":\"6281111111111\",\"contacts\":[{\"name\":\"A\",\"phone\":\"0812\"}]}", 400,
           "INVALID_REQUEST", "contacts[0].phone");
    expect(m, "POST", con, "{\"to\":\"6281111111111\",\"contacts\":[{\"name\":\"A\",\"phone\":\"15551234567\","
                           "\"email\":\"a b@c\"}]}", 400, "INVALID_REQUEST", "contacts[0].email");
    expect(m, "POST", con, "{\"to\":\"6281111111111\",\"contacts\":[{\"phone\":\"15551234567\"}]}", 400,
           "INVALID_REQUEST", "contacts[0].name");

    /* mentions on the text route */
    CU_ASSERT_EQUAL(call(m, "POST", "/instances/i1/messages/text", "{\"to\":\"6281111111111\",\"text\":\"hi @1555\","
                                                                  "\"mentions\":[\"+1 555 123 4567\"]}", &r), 0);
    s = last_send(m);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "message.extendedTextMessage.text"), "hi @1555");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "message.extendedTextMessage.contextInfo.mentionedJid[0]"),
                           "15551234567@s.whatsapp.net");
    CU_ASSERT_EQUAL(miaw_mock_complete_send(m, json_array_size(miaw_mock_sends(m)) - 1, MIAW_OK, "3EB0TXT", NOW_S,
                                            NULL), MIAW_OK);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(event(m, "message_ack"), "data.messageId"), "3EB0TXT");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(event(m, "message_ack"), "data.chat"), BOB);
    miaw_mock_reply_clear(&r);
    expect(m, "POST", "/instances/i1/messages/text", "{\"to\":\"6281111111111\",\"text\":\"x\",\"mentions\":[\"x\"]}",
           400, "INVALID_REQUEST", "mentions[0]");
    expect(m, "POST", "/instances/i1/messages/text", "{\"to\":\"6281111111111\",\"text\":\"x\",\"mentions\":[1]}", 400,
           "INVALID_REQUEST", "mentions[0]");
    teardown(m);
}

static void test_events(void)
{
    miaw_mock *m = setup();
    /* Bob reacts to our message, edits and deletes his own */
    miaw_mock_emit(m, "message", "i1", "{\"id\":\"R\",\"chat\":\"" BOB "\",\"from\":\"" BOB "\",\"fromMe\":false,"
                   "\"isGroup\":false,\"type\":\"reaction\",\"timestamp\":1,\"raw\":{\"reactionMessage\":{\"key\":"
                   "{\"id\":\"MINE\"},\"text\":\"❤️\"}}}");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(event(m, "message_reaction"), "data.messageId"), "MINE");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(event(m, "message_reaction"), "data.emoji"), "❤️");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(event(m, "message_reaction"), "instanceId"), "i1");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(event(m, "message_reaction"), "source"), "messages");
    miaw_mock_emit(m, "message", "i1", "{\"id\":\"E\",\"chat\":\"" BOB "\",\"from\":\"" BOB "\",\"fromMe\":false,"
                   "\"type\":\"protocol\",\"timestamp\":2,\"raw\":{\"protocolMessage\":{\"key\":{\"id\":\"BOBS\"},"
                   "\"type\":14,\"editedMessage\":{\"conversation\":\"yo!\"}}}}");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(event(m, "message_edit"), "data.text"), "yo!");
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(event(m, "message_edit"), "data.editedAt")), 2);
    miaw_mock_emit(m, "message", "i1", "{\"id\":\"D\",\"chat\":\"" BOB "\",\"from\":\"" BOB "\",\"fromMe\":false,"
                   "\"type\":\"protocol\",\"timestamp\":3,\"raw\":{\"protocolMessage\":{\"key\":{\"id\":\"BOBS\"},"
                   "\"type\":0}}}");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(event(m, "message_delete"), "data.messageId"), "BOBS");
    /* Bob editing or deleting OUR message: not reported; an unknown target is */
    miaw_mock_emit(m, "message", "i1", "{\"id\":\"E2\",\"chat\":\"" BOB "\",\"from\":\"" BOB "\",\"fromMe\":false,"
                   "\"raw\":{\"protocolMessage\":{\"key\":{\"id\":\"MINE\"},\"type\":14,\"editedMessage\":"
                   "{\"conversation\":\"x\"}}}}");
    miaw_mock_emit(m, "message", "i1", "{\"id\":\"D2\",\"chat\":\"" BOB "\",\"from\":\"" BOB "\",\"fromMe\":false,"
                   "\"raw\":{\"protocolMessage\":{\"key\":{\"id\":\"MINE\"},\"type\":0}}}");
    CU_ASSERT_EQUAL(count_events(m, "message_edit"), 1);
    CU_ASSERT_EQUAL(count_events(m, "message_delete"), 1);
    miaw_mock_emit(m, "message", "i1", "{\"id\":\"D3\",\"chat\":\"" BOB "\",\"from\":\"" BOB "\",\"fromMe\":false,"
                   "\"raw\":{\"protocolMessage\":{\"key\":{\"id\":\"UNKNOWN\"},\"type\":0}}}");
    CU_ASSERT_EQUAL(count_events(m, "message_delete"), 2);
    /* a group admin's deletion of Carol's message is reported */
    miaw_mock_emit(m, "message", "i1", "{\"id\":\"D4\",\"chat\":\"" GROUP "\",\"from\":\"" BOB "\",\"fromMe\":false,"
                   "\"isGroup\":true,\"raw\":{\"protocolMessage\":{\"key\":{\"id\":\"CAROLS\",\"participant\":"
                   "\"6282222222222@s.whatsapp.net\"},\"type\":0}}}");
    CU_ASSERT_EQUAL(count_events(m, "message_delete"), 3);
    /* plain messages make no action events */
    miaw_mock_emit(m, "message", "i1", "{\"id\":\"T\",\"chat\":\"" BOB "\",\"raw\":{\"conversation\":\"x\"}}");
    CU_ASSERT_EQUAL(count_events(m, "message_reaction") + count_events(m, "message_edit"), 2);

    /* receipts: own messages only, every id of the list, once per status and reader */
    const char *rc = "{\"tag\":\"receipt\",\"attrs\":{\"from\":{\"jid\":\"6281111111111:2@s.whatsapp.net\"},\"id\":"
                     "\"MINE\",\"t\":\"1735118500\",\"type\":\"read\"},\"content\":[{\"tag\":\"list\",\"content\":["
                     "{\"tag\":\"item\",\"attrs\":{\"id\":\"OLD\"}},{\"tag\":\"item\",\"attrs\":{\"id\":\"BOBS\"}}]}]}";
    CU_ASSERT_EQUAL(miaw_mock_deliver(m, "i1", rc), 1);
    CU_ASSERT_EQUAL(count_events(m, "message_ack"), 2); /* MINE and OLD; BOBS is not ours */
    const json_t *a = event(m, "message_ack");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(a, "data.messageId"), "OLD");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(a, "data.status"), "read");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(a, "data.from"), BOB);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(a, "data.chat"), BOB);
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(a, "data.timestamp")), 1735118500);
    miaw_mock_deliver(m, "i1", rc); /* again: nothing new */
    miaw_mock_deliver(m, "i1", "{\"tag\":\"receipt\",\"attrs\":{\"from\":{\"jid\":\"" BOB "\"},\"id\":\"MINE\"}}");
    CU_ASSERT_EQUAL(count_events(m, "message_ack"), 2); /* a delivery after read is old news */
    miaw_mock_deliver(m, "i1", "{\"tag\":\"receipt\",\"attrs\":{\"from\":{\"jid\":\"" BOB "\"},\"id\":\"MINE\","
                               "\"type\":\"retry\"}}");
    miaw_mock_deliver(m, "i1", "{\"tag\":\"receipt\",\"attrs\":{\"from\":{\"jid\":\"" BOB "\"},\"id\":\"MINE\","
                               "\"type\":\"played\"}}");
    CU_ASSERT_EQUAL(count_events(m, "message_ack"), 3);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(event(m, "message_ack"), "data.status"), "played");
    /* in a group the reader is the participant */
    char j[256];
    snprintf(j, sizeof j, "{\"chat\":\"%s\",\"fromMe\":true,\"timestamp\":1,\"type\":\"text\",\"status\":\"sent\"}", GROUP);
    miaw_mock_put_message(m, "i1", "G1", j);
    miaw_mock_deliver(m, "i1", "{\"tag\":\"receipt\",\"attrs\":{\"from\":{\"jid\":\"" GROUP "\"},\"participant\":"
                               "{\"jid\":\"123456:4@lid\"},\"id\":\"G1\"}}");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(event(m, "message_ack"), "data.from"), "123456@lid");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(event(m, "message_ack"), "data.status"), "delivery");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(event(m, "message_ack"), "data.chat"), GROUP);
    teardown(m);
}

MIAW_TESTS("plugin_messages_actions", MIAW_T(test_phone_digits), MIAW_T(test_vcard), MIAW_T(test_emoji),
           MIAW_T(test_forward), MIAW_T(test_mentions_receipts_jids), MIAW_T(test_action_events),
           MIAW_T(test_routes_listed), MIAW_T(test_edit), MIAW_T(test_delete_react),
           MIAW_T(test_forward_location_contact), MIAW_T(test_events))
