/* tests/unit/test_plugin_messages.c - the messages plugin (build/plugins/messages.so) on
 * the SDK's mock host (miaw/mock_host.h), no server: POST /instances/{id}/messages/text
 * validation (schema and recipient errors with details.field), the WAProto JSON it hands
 * msg_send (conversation or extendedTextMessage with the quoted message's contextInfo,
 * a fresh 32-byte messageSecret, checked against the server's WAProto encoder), the
 * answers for each completion status, a send timeout, an aborted or timed-out request
 * (the send is cancelled: a later completion answers nothing), and msg_send's refusals;
 * the chat history routes: parameter validation (details.field), the query handed to
 * msg_list / chat_list, the host's answers and errors, pages and cursors, GET one message. */
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

#define TEXT_PATH "/instances/i1/messages/text"

/* the server's own WAProto check, so the plugin's JSON is what msg_send would accept */
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
    return m;
}

static void teardown(miaw_mock *m)
{
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_violations(m)), 0);
    miaw_mock_free(m);
}

/* decoded length of a standard base64 string, or -1 */
static long b64_len(const char *s)
{
    if (!s) return -1;
    size_t n = strlen(s), pad = 0;
    if (n % 4) return -1;
    while (pad < 2 && n > pad && s[n - 1 - pad] == '=') pad++;
    for (size_t i = 0; i < n - pad; i++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", s[i])) return -1;
    return (long)(n / 4 * 3 - pad);
}

static void expect_error(miaw_mock *m, const char *path, const char *body, int status, const char *code,
                         const char *field)
{
    miaw_mock_reply r = {0};
    int st = miaw_mock_call(m, "POST", path, body, &r);
    if (st != status || !r.json) fprintf(stderr, "\n%s -> %d %s\n", body, st, r.text ? r.text : "(pending)");
    CU_ASSERT_EQUAL(st, status);
    CU_ASSERT_FALSE(r.pending);
    CU_ASSERT_EQUAL(json_is_false(json_object_get(r.json, "success")), 1);
    CU_ASSERT_STRING_EQUAL(miaw_mock_reply_code(&r) ? miaw_mock_reply_code(&r) : "", code);
    const char *got = miaw_mock_str(r.json, "error.details.field");
    if (field) CU_ASSERT_STRING_EQUAL(got ? got : "(none)", field);
    CU_ASSERT_PTR_NOT_NULL(miaw_mock_str(r.json, "error.message"));
    miaw_mock_reply_clear(&r);
}

static void test_route_registered(void)
{
    miaw_mock *m = setup();
    json_t *routes = miaw_mock_routes(m);
    CU_ASSERT_TRUE(json_array_size(routes) >= 1); /* the text route first; feature files add theirs after it */
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(routes, "[0].method"), "POST");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(routes, "[0].path"), "/instances/{instanceId}/messages/text");
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(routes, "[0].flags")), MIAW_ROUTE_INSTANCE);
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(routes, "[0].timeoutMs")), 60000);
    json_decref(routes);
    teardown(m);
}

static void test_validation(void)
{
    miaw_mock *m = setup();
    expect_error(m, TEXT_PATH, "{\"text\":\"hi\"}", 400, "INVALID_REQUEST", "to");
    expect_error(m, TEXT_PATH, "{\"to\":\"\",\"text\":\"hi\"}", 400, "INVALID_REQUEST", "to");
    expect_error(m, TEXT_PATH, "{\"to\":12345678,\"text\":\"hi\"}", 400, "INVALID_REQUEST", "to");
    expect_error(m, TEXT_PATH, "{\"to\":\"6281234567890\"}", 400, "INVALID_REQUEST", "text");
    expect_error(m, TEXT_PATH, "{\"to\":\"6281234567890\",\"text\":\"\"}", 400, "INVALID_REQUEST", "text");
    expect_error(m, TEXT_PATH, "{\"to\":\"6281234567890\",\"text\":\"hi\",\"quotedMessageId\":5}", 400,
                 "INVALID_REQUEST", "quotedMessageId");
    expect_error(m, TEXT_PATH, "{\"to\":", 400, "INVALID_REQUEST", "body");
    expect_error(m, TEXT_PATH, "[1]", 400, "INVALID_REQUEST", NULL);
    char big[300];
    snprintf(big, sizeof big, "{\"to\":\"%0129d\",\"text\":\"hi\"}", 1);
    expect_error(m, TEXT_PATH, big, 400, "INVALID_REQUEST", "to");
    /* recipients the plugin itself refuses (jid_normalize) */
    const char *bad[] = {"abc", "0812345678", "1234", "123456789012345678901", "62812@example.com",
                         "62-812@s.whatsapp.net", "62812:3@s.whatsapp.net", "12@34@g.us"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"to\":\"%s\",\"text\":\"hi\"}", bad[i]);
        expect_error(m, TEXT_PATH, body, 400, "INVALID_REQUEST", "to");
    }
    /* the host's checks before the handler */
    expect_error(m, "/instances/nope/messages/text", "{\"to\":\"6281234567890\",\"text\":\"hi\"}", 404,
                 "INSTANCE_NOT_FOUND", NULL);
    /* (…/messages/{messageId} is the edit route, so an unknown word there is a message id) */
    expect_error(m, "/instances/i1/messages/text/x/y", "{}", 404, "NOT_FOUND", NULL);
    miaw_mock_reply r = {0};
    CU_ASSERT_EQUAL(miaw_mock_call(m, "PUT", TEXT_PATH, NULL, &r), 405);
    const char *allow = miaw_mock_str(r.json, "error.details.allow");
    CU_ASSERT_PTR_NOT_NULL(allow && strstr(allow, "POST") ? allow : NULL);
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_sends(m)), 0);
    teardown(m);
}

/* one plain send: the msg_send call and its completion */
static void test_plain_text(void)
{
    miaw_mock *m = setup();
    miaw_mock_reply r = {0};
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", "/api/v1" TEXT_PATH, "{\"to\":\"+62 812-3456-7890\",\"text\":\"Hello\"}", &r),
                    0);
    CU_ASSERT_TRUE(r.pending);
    const json_t *sends = miaw_mock_sends(m);
    CU_ASSERT_EQUAL_FATAL(json_array_size(sends), 1);
    const json_t *s = json_array_get(sends, 0);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "kind"), "msg_send");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "plugin"), "messages");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "instance"), "i1");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "to"), "+62 812-3456-7890");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "jid"), "6281234567890@s.whatsapp.net");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "state"), "pending");
    const json_t *msg = json_object_get(s, "message");
    CU_ASSERT_EQUAL(json_object_size(msg), 2);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(msg, "conversation"), "Hello");
    const char *secret = miaw_mock_str(msg, "messageContextInfo.messageSecret");
    CU_ASSERT_EQUAL(b64_len(secret), 32);
    CU_ASSERT_EQUAL(json_object_size(json_object_get(msg, "messageContextInfo")), 1);
    CU_ASSERT_PTR_NULL(json_object_get(s, "opts"));
    /* the check is real: it names a wrong key's path */
    char path[160] = "", e[256] = "";
    json_t *wrong = json_pack("{s:{s:s}}", "extendedTextMessage", "txt", "x");
    CU_ASSERT_EQUAL(waproto_check(wrong, path, sizeof path, e, sizeof e, NULL), MIAW_E_INVAL);
    CU_ASSERT_STRING_EQUAL(path, "extendedTextMessage.txt");
    json_decref(wrong);

    /* exactly once: the answer comes with the completion, not before */
    CU_ASSERT_EQUAL(miaw_mock_run_timers(m, 1000), 0);
    CU_ASSERT_TRUE(r.pending);
    CU_ASSERT_EQUAL(miaw_mock_complete_send(m, 0, MIAW_OK, "3EB0C4F1A2B3C4D5E6F7A8", 1735118400, NULL), MIAW_OK);
    CU_ASSERT_FALSE(r.pending);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_EQUAL(json_is_true(json_object_get(r.json, "success")), 1);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.messageId"), "3EB0C4F1A2B3C4D5E6F7A8");
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.json, "data.timestamp")), 1735118400000LL);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "state"), "done");
    CU_ASSERT_EQUAL(miaw_mock_complete_send(m, 0, MIAW_OK, NULL, 0, NULL), MIAW_E_STATE);
    CU_ASSERT_EQUAL(miaw_mock_complete_send(m, 1, MIAW_OK, NULL, 0, NULL), MIAW_E_NOTFOUND);
    miaw_mock_reply_clear(&r);

    /* a second message gets a fresh secret; the sent one is now stored for replies */
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", TEXT_PATH, "{\"to\":\"6281234567890@c.us\",\"text\":\"Again\"}", &r), 0);
    const json_t *s2 = json_array_get(miaw_mock_sends(m), 1);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s2, "jid"), "6281234567890@s.whatsapp.net");
    const char *secret2 = miaw_mock_str(s2, "message.messageContextInfo.messageSecret");
    CU_ASSERT_EQUAL(b64_len(secret2), 32);
    CU_ASSERT_STRING_NOT_EQUAL(secret, secret2);
    CU_ASSERT_EQUAL(miaw_mock_complete_send(m, 1, MIAW_OK, NULL, 0, NULL), MIAW_OK);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.messageId"), miaw_mock_str(s2, "id"));
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.json, "data.timestamp")), miaw_mock_now(m) / 1000 * 1000);
    miaw_mock_reply_clear(&r);
    teardown(m);
}

static void test_reply_to_stored(void)
{
    miaw_mock *m = setup();
    CU_ASSERT_EQUAL(miaw_mock_put_message(m, "i1", "QUOTED1",
                                          "{\"chat\":\"6281234567890@s.whatsapp.net\","
                                          "\"sender\":\"6289999999999@s.whatsapp.net\",\"fromMe\":false,"
                                          "\"timestamp\":1735118000,\"type\":\"text\",\"text\":\"original\","
                                          "\"message\":{\"conversation\":\"original\",\"messageContextInfo\":"
                                          "{\"messageSecret\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}}}"),
                    MIAW_OK);
    miaw_mock_reply r = {0};
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", TEXT_PATH,
                                   "{\"to\":\"6281234567890\",\"text\":\"my answer\",\"quotedMessageId\":\"QUOTED1\"}",
                                   &r),
                    0);
    CU_ASSERT_EQUAL_FATAL(json_array_size(miaw_mock_sends(m)), 1);
    const json_t *msg = miaw_mock_get(miaw_mock_sends(m), "[0].message");
    CU_ASSERT_PTR_NULL(json_object_get(msg, "conversation"));
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(msg, "extendedTextMessage.text"), "my answer");
    const json_t *ci = miaw_mock_get(msg, "extendedTextMessage.contextInfo");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(ci, "stanzaId"), "QUOTED1");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(ci, "participant"), "6289999999999@s.whatsapp.net");
    json_t *want = json_pack("{s:s}", "conversation", "original");
    CU_ASSERT_TRUE(json_equal(json_object_get(ci, "quotedMessage"), want));
    json_decref(want);
    CU_ASSERT_EQUAL(b64_len(miaw_mock_str(msg, "messageContextInfo.messageSecret")), 32);
    CU_ASSERT_EQUAL(miaw_mock_complete_send(m, 0, MIAW_OK, "3EB0REPLY", 1735118500, NULL), MIAW_OK);
    CU_ASSERT_EQUAL(r.status, 200);
    miaw_mock_reply_clear(&r);

    /* a sent message is stored, so it can be quoted in turn: no sender stored for our own
     * message, so participant = the recipient; quotedMessage = its message */
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", TEXT_PATH,
                                   "{\"to\":\"6281234567890\",\"text\":\"again\",\"quotedMessageId\":\"3EB0REPLY\"}",
                                   &r),
                    0);
    const json_t *ci2 = miaw_mock_get(miaw_mock_sends(m), "[1].message.extendedTextMessage.contextInfo");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(ci2, "stanzaId"), "3EB0REPLY");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(ci2, "participant"), "6281234567890@s.whatsapp.net");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(ci2, "quotedMessage.extendedTextMessage.text"), "my answer");
    CU_ASSERT_PTR_NULL(miaw_mock_get(ci2, "quotedMessage.messageContextInfo"));
    miaw_mock_reply_clear(&r); /* the pending answer now goes nowhere */
    teardown(m);
}

static void test_reply_to_unknown(void)
{
    miaw_mock *m = setup();
    miaw_mock_reply r = {0};
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", TEXT_PATH,
                                   "{\"to\":\"+44 7700 900123\",\"text\":\"re\",\"quotedMessageId\":\"NOPE\"}", &r),
                    0);
    const json_t *ci = miaw_mock_get(miaw_mock_sends(m), "[0].message.extendedTextMessage.contextInfo");
    CU_ASSERT_PTR_NOT_NULL_FATAL(ci);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(ci, "stanzaId"), "NOPE");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(ci, "participant"), "447700900123@s.whatsapp.net");
    CU_ASSERT_PTR_NULL(json_object_get(ci, "quotedMessage"));
    CU_ASSERT_EQUAL(miaw_mock_complete_send(m, 0, MIAW_OK, NULL, 0, NULL), MIAW_OK);
    CU_ASSERT_EQUAL(r.status, 200);
    miaw_mock_reply_clear(&r);

    /* a null quotedMessageId is a plain text */
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", TEXT_PATH,
                                   "{\"to\":\"120363025246125244@g.us\",\"text\":\"group\",\"quotedMessageId\":null}", &r),
                    0);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(miaw_mock_sends(m), "[1].message.conversation"), "group");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(miaw_mock_sends(m), "[1].jid"), "120363025246125244@g.us");
    miaw_mock_reply_clear(&r);
    teardown(m);
}

/* each completion status maps to reply_status's envelope */
static void test_completion_errors(void)
{
    static const struct {
        int st;
        int http;
        const char *code;
    } T[] = {
        {MIAW_E_STATE, 503, "INSTANCE_NOT_CONNECTED"},
        {MIAW_E_NOTFOUND, 404, "NOT_FOUND"},
        {MIAW_E_TIMEOUT, 504, "TIMEOUT"},
        {MIAW_E_IO, 500, "WHATSAPP_ERROR"},
        {MIAW_E_INTERNAL, 500, "INTERNAL_ERROR"},
    };
    miaw_mock *m = setup();
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++) {
        miaw_mock_reply r = {0};
        CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", TEXT_PATH, "{\"to\":\"6281234567890\",\"text\":\"x\"}", &r), 0);
        CU_ASSERT_EQUAL(miaw_mock_complete_send(m, i, T[i].st, NULL, 0, i == 0 ? "the connection closed" : NULL),
                        MIAW_OK);
        CU_ASSERT_EQUAL(r.status, T[i].http);
        CU_ASSERT_STRING_EQUAL(miaw_mock_reply_code(&r), T[i].code);
        if (i == 0) CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "error.message"), "the connection closed");
        CU_ASSERT_PTR_NULL(miaw_mock_get(r.json, "error.details"));
        miaw_mock_reply_clear(&r);
    }
    teardown(m);
}

/* the engine gives up after 45 s without an ack (before the route's 60 s) */
static void test_send_timeout(void)
{
    miaw_mock *m = setup();
    miaw_mock_reply r = {0};
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", TEXT_PATH, "{\"to\":\"6281234567890\",\"text\":\"x\"}", &r), 0);
    CU_ASSERT_EQUAL(miaw_mock_run_timers(m, 44999), 0);
    CU_ASSERT_TRUE(r.pending);
    CU_ASSERT_EQUAL(miaw_mock_run_timers(m, 1), 1);
    CU_ASSERT_EQUAL(r.status, 504);
    CU_ASSERT_STRING_EQUAL(miaw_mock_reply_code(&r), "TIMEOUT");
    CU_ASSERT_FALSE(r.aborted);
    miaw_mock_reply_clear(&r);
    teardown(m);
}

/* the client leaves, or the route times out: the send is cancelled, nothing answers later */
static void test_abort_cancels(void)
{
    miaw_mock *m = setup();
    miaw_mock_reply r = {0};
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", TEXT_PATH, "{\"to\":\"6281234567890\",\"text\":\"x\"}", &r), 0);
    CU_ASSERT_EQUAL(miaw_mock_abort(m, &r), MIAW_OK);
    CU_ASSERT_FALSE(r.pending);
    CU_ASSERT_TRUE(r.aborted);
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(miaw_mock_sends(m), "[0].state"), "cancelled");
    CU_ASSERT_EQUAL(miaw_mock_complete_send(m, 0, MIAW_OK, "3EB0LATE", 0, NULL), MIAW_E_GONE);
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_EQUAL(miaw_mock_abort(m, &r), MIAW_E_STATE);
    miaw_mock_reply_clear(&r);

    /* the route's own timeout (timeout_ms 60000 > the send's 45 s: forced here) */
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", TEXT_PATH, "{\"to\":\"6281234567890\",\"text\":\"y\"}", &r), 0);
    CU_ASSERT_EQUAL(miaw_mock_timeout(m, &r), MIAW_OK);
    CU_ASSERT_EQUAL(r.status, 504);
    CU_ASSERT_TRUE(r.aborted);
    CU_ASSERT_STRING_EQUAL(miaw_mock_reply_code(&r), "TIMEOUT");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(miaw_mock_sends(m), "[1].state"), "cancelled");
    CU_ASSERT_EQUAL(miaw_mock_complete_send(m, 1, MIAW_E_STATE, NULL, 0, NULL), MIAW_E_GONE);
    CU_ASSERT_EQUAL(miaw_mock_run_timers(m, 120000), 0); /* its deadline went with it */
    miaw_mock_reply_clear(&r);

    /* unloading with a request in flight: aborted first, then fini; nothing runs after */
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", TEXT_PATH, "{\"to\":\"6281234567890\",\"text\":\"z\"}", &r), 0);
    miaw_mock_unload(m, miaw_mock_plugin(m, "messages"));
    CU_ASSERT_TRUE(r.aborted);
    CU_ASSERT_EQUAL(miaw_mock_complete_send(m, 2, MIAW_OK, NULL, 0, NULL), MIAW_E_GONE);
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", TEXT_PATH, "{\"to\":\"6281234567890\",\"text\":\"z\"}", &r), 404);
    miaw_mock_reply_clear(&r);
    teardown(m);
}

/* msg_send refuses: the plugin answers reply_status's envelope at once, no send recorded */
static void test_send_refused(void)
{
    miaw_mock *m = setup();
    miaw_mock_reply r = {0};
    /* a known but disconnected instance */
    CU_ASSERT_EQUAL(miaw_mock_put_instance(m, "i2", "{\"status\":\"qr\"}"), MIAW_OK);
    CU_ASSERT_EQUAL(
        miaw_mock_call(m, "POST", "/instances/i2/messages/text", "{\"to\":\"6281234567890\",\"text\":\"x\"}", &r), 503);
    CU_ASSERT_STRING_EQUAL(miaw_mock_reply_code(&r), "INSTANCE_NOT_CONNECTED");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "error.message"), "instance 'i2' is not connected (status qr)");
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(miaw_mock_set_connected(m, "i2", 1), MIAW_OK);
    CU_ASSERT_EQUAL(
        miaw_mock_call(m, "POST", "/instances/i2/messages/text", "{\"to\":\"6281234567890\",\"text\":\"x\"}", &r), 0);
    miaw_mock_reply_clear(&r);

    /* the engine does not know the instance (the registry does) */
    CU_ASSERT_EQUAL(miaw_mock_refuse(m, "msg_send", MIAW_E_NOTFOUND, NULL, "instance 'i1' not found"), MIAW_OK);
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", TEXT_PATH, "{\"to\":\"6281234567890\",\"text\":\"x\"}", &r), 404);
    CU_ASSERT_STRING_EQUAL(miaw_mock_reply_code(&r), "NOT_FOUND");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "error.message"), "instance 'i1' not found");
    miaw_mock_reply_clear(&r);

    /* a field-level refusal keeps its field */
    CU_ASSERT_EQUAL(miaw_mock_refuse(m, "msg_send", MIAW_E_INVAL, "message.extendedTextMessage.text", "too long"),
                    MIAW_OK);
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", TEXT_PATH, "{\"to\":\"6281234567890\",\"text\":\"x\"}", &r), 400);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "error.details.field"), "message.extendedTextMessage.text");
    miaw_mock_reply_clear(&r);

    /* rate limited */
    CU_ASSERT_EQUAL(miaw_mock_refuse(m, "msg_send", MIAW_E_LIMIT, NULL, NULL), MIAW_OK);
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", TEXT_PATH, "{\"to\":\"6281234567890\",\"text\":\"x\"}", &r), 429);
    CU_ASSERT_STRING_EQUAL(miaw_mock_reply_code(&r), "RATE_LIMITED");
    miaw_mock_reply_clear(&r);

    CU_ASSERT_EQUAL(json_array_size(miaw_mock_sends(m)), 1); /* only the i2 send went out */
    teardown(m);
}

/* the plugin refuses to load on a 1.1 host (it needs msg_send) */
static void test_needs_abi_1_2(void)
{
    miaw_mock *m = miaw_mock_new();
    CU_ASSERT_EQUAL(miaw_mock_set_abi_minor(m, 1), MIAW_OK);
    char err[512] = "";
    CU_ASSERT_PTR_NULL(miaw_mock_load(m, miaw_test_plugin_path("messages"), "messages", NULL, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "needs plugin ABI minor 3")); /* 2 for msg_send, 3 since chat history */
    CU_ASSERT_PTR_NULL(miaw_mock_load(m, miaw_test_plugin_path("messages"), "other", NULL, err, sizeof err));
    miaw_mock_free(m);
}

/* ------------------------------------------------------------ chat history (history.c) */
static miaw_mock_reply get(miaw_mock *m, const char *path)
{
    miaw_mock_reply r = {0};
    miaw_mock_call(m, "GET", path, NULL, &r);
    return r;
}

static void expect_get_error(miaw_mock *m, const char *path, int status, const char *code, const char *field)
{
    miaw_mock_reply r = get(m, path);
    if (r.status != status) fprintf(stderr, "\nGET %s -> %d %s\n", path, r.status, r.text ? r.text : "");
    CU_ASSERT_EQUAL(r.status, status);
    CU_ASSERT_STRING_EQUAL(miaw_mock_reply_code(&r) ? miaw_mock_reply_code(&r) : "", code);
    const char *got = miaw_mock_str(r.json, "error.details.field");
    if (field) CU_ASSERT_STRING_EQUAL(got ? got : "(none)", field);
    miaw_mock_reply_clear(&r);
}

static void test_history_routes(void)
{
    miaw_mock *m = setup();
    json_t *routes = miaw_mock_routes(m);
    static const char *const want[] = {"/instances/{instanceId}/chats", "/instances/{instanceId}/chats/{jid}/messages",
                                       "/instances/{instanceId}/messages/{messageId}"};
    for (size_t w = 0; w < 3; w++) {
        int found = 0;
        size_t i;
        json_t *r;
        json_array_foreach(routes, i, r) if (!strcmp(json_string_value(json_object_get(r, "method")), "GET") &&
                                             !strcmp(json_string_value(json_object_get(r, "path")), want[w]))
        {
            found = 1;
            CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "flags")), MIAW_ROUTE_INSTANCE);
        }
        CU_ASSERT(found);
    }
    json_decref(routes);
    expect_get_error(m, "/instances/nope/chats", 404, "INSTANCE_NOT_FOUND", NULL);
    teardown(m);
}

static void test_history_validation(void)
{
    miaw_mock *m = setup();
    static const struct { const char *path, *field; } BAD[] = {
        {"/instances/i1/chats?limit=0", "limit"},
        {"/instances/i1/chats?limit=201", "limit"},
        {"/instances/i1/chats?limit=ten", "limit"},
        {"/instances/i1/chats?limit=-5", "limit"},
        {"/instances/i1/chats?limit=", "limit"},
        {"/instances/i1/chats?before=", "before"},
        {"/instances/i1/chats/15550001111/messages?limit=1.5", "limit"},
        {"/instances/i1/chats/15550001111/messages?fromMe=yes", "fromMe"},
        {"/instances/i1/chats/15550001111/messages?type=Image%21", "type"},
        {"/instances/i1/chats/15550001111/messages?type=", "type"},
        {"/instances/i1/chats/15550001111/messages?since=yesterday", "since"},
        {"/instances/i1/chats/15550001111/messages?until=-1", "until"},
        {"/instances/i1/chats/15550001111/messages?since=99999999999999999999", "since"},
        {"/instances/i1/chats/not-a-jid/messages", "jid"},
        {"/instances/i1/chats/12/messages", "jid"},
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++)
        expect_get_error(m, BAD[i].path, 400, "INVALID_REQUEST", BAD[i].field);
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_lists(m)), 0); /* none reached the host */
    teardown(m);
}

static void test_history_query_passed(void)
{
    miaw_mock *m = setup();
    CU_ASSERT_EQUAL(miaw_mock_script_list(m, "msg_list", "{\"messages\":[{\"id\":\"A\"}],\"next\":\"CUR\"}"), MIAW_OK);
    miaw_mock_reply r = get(m, "/instances/i1/chats/15550001111/messages?limit=5&before=abc&type=image&fromMe=true"
                               "&since=10&until=20&unknown=1");
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.messages[0].id"), "A");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.next"), "CUR");
    miaw_mock_reply_clear(&r);
    const json_t *call = json_array_get(miaw_mock_lists(m), 0);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(call, "service"), "msg_list");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(call, "instance"), "i1");
    json_t *want = json_pack("{s:s,s:i,s:s,s:s,s:b,s:i,s:i}", "chat", "15550001111@s.whatsapp.net", "limit", 5,
                             "before", "abc", "type", "image", "fromMe", 1, "since", 10, "until", 20);
    CU_ASSERT(json_equal(json_object_get(call, "query"), want));
    json_decref(want);
    /* a group JID and fromMe=0; chats: limit and before only */
    r = get(m, "/instances/i1/chats/120363000000000001@g.us/messages?fromMe=0");
    CU_ASSERT_EQUAL(r.status, 200);
    miaw_mock_reply_clear(&r);
    call = json_array_get(miaw_mock_lists(m), 1);
    want = json_pack("{s:s,s:b}", "chat", "120363000000000001@g.us", "fromMe", 0);
    CU_ASSERT(json_equal(json_object_get(call, "query"), want));
    json_decref(want);
    miaw_mock_script_list(m, "chat_list", "{\"chats\":[],\"next\":null}");
    r = get(m, "/instances/i1/chats?limit=200&before=xyz&type=text"); /* type: not a chats parameter, ignored */
    CU_ASSERT_EQUAL(r.status, 200);
    miaw_mock_reply_clear(&r);
    call = json_array_get(miaw_mock_lists(m), 2);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(call, "service"), "chat_list");
    want = json_pack("{s:i,s:s}", "limit", 200, "before", "xyz");
    CU_ASSERT(json_equal(json_object_get(call, "query"), want));
    json_decref(want);
    teardown(m);
}

static void test_history_host_errors(void)
{
    miaw_mock *m = setup();
    miaw_mock_script_list(m, "msg_list", "{\"error\":\"before: not a cursor\",\"field\":\"before\"}");
    expect_get_error(m, "/instances/i1/chats/15550001111/messages?before=zzz", 400, "INVALID_REQUEST", "before");
    miaw_mock_script_list(m, "chat_list", "{\"error\":\"storage error\",\"internal\":true}");
    expect_get_error(m, "/instances/i1/chats", 500, "INTERNAL_ERROR", NULL);
    miaw_mock_script_list(m, "chat_list", "null");
    expect_get_error(m, "/instances/i1/chats", 404, "NOT_FOUND", NULL);
    /* the mock's own answers check the cursor like the server */
    expect_get_error(m, "/instances/i1/chats?before=zzz", 400, "INVALID_REQUEST", "before");
    teardown(m);
}

static void test_history_pages(void)
{
    miaw_mock *m = setup();
    char id[16], json[256];
    for (int i = 0; i < 5; i++) { /* chat A: m0..m4 (m4 newest), chat B: g0 */
        snprintf(id, sizeof id, "m%d", i);
        snprintf(json, sizeof json,
                 "{\"chat\":\"15550001111@s.whatsapp.net\",\"fromMe\":%s,\"timestamp\":%d,\"type\":\"%s\","
                 "\"status\":\"%s\",\"text\":\"t%d\"}",
                 i % 2 ? "true" : "false", 1000 + i, i == 2 ? "image" : "text", i % 2 ? "sent" : "received", i);
        CU_ASSERT_EQUAL(miaw_mock_put_message(m, "i1", id, json), MIAW_OK);
    }
    miaw_mock_put_message(m, "i1", "g0",
                          "{\"chat\":\"120363000000000001@g.us\",\"fromMe\":false,\"timestamp\":999,\"type\":\"text\","
                          "\"status\":\"read\"}");
    /* a chat's messages one by one, newest first, with the cursor */
    const char *order[] = {"m4", "m3", "m2", "m1", "m0"};
    char path[256] = "/instances/i1/chats/15550001111/messages?limit=2";
    int k = 0;
    for (int page = 0; page < 3; page++) {
        miaw_mock_reply r = get(m, path);
        CU_ASSERT_EQUAL_FATAL(r.status, 200);
        const json_t *msgs = miaw_mock_get(r.json, "data.messages");
        for (size_t i = 0; i < json_array_size(msgs); i++, k++)
            CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(msgs, i), "id")), order[k]);
        const char *next = miaw_mock_str(r.json, "data.next");
        CU_ASSERT_EQUAL(next != NULL, page < 2);
        snprintf(path, sizeof path, "/instances/i1/chats/15550001111/messages?limit=2&before=%s", next ? next : "");
        miaw_mock_reply_clear(&r);
    }
    CU_ASSERT_EQUAL(k, 5);
    miaw_mock_reply r = get(m, "/instances/i1/chats/15550001111/messages?type=image");
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_get(r.json, "data.messages")), 1);
    miaw_mock_reply_clear(&r);
    r = get(m, "/instances/i1/chats/15550001111/messages?fromMe=true&since=1002");
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_get(r.json, "data.messages")), 1);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.messages[0].id"), "m3");
    miaw_mock_reply_clear(&r);
    /* chats: most recent first, counts, last message */
    r = get(m, "/instances/i1/chats");
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.chats[0].jid"), "15550001111@s.whatsapp.net");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.chats[0].lastMessage.id"), "m4");
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.json, "data.chats[0].messageCount")), 5);
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.json, "data.chats[0].unreadCount")), 3);
    CU_ASSERT(json_is_false(miaw_mock_get(r.json, "data.chats[0].isGroup")));
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.chats[1].jid"), "120363000000000001@g.us");
    CU_ASSERT(json_is_true(miaw_mock_get(r.json, "data.chats[1].isGroup")));
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.json, "data.chats[1].unreadCount")), 0);
    CU_ASSERT(json_is_null(miaw_mock_get(r.json, "data.next")));
    miaw_mock_reply_clear(&r);
    teardown(m);
}

static void test_get_message(void)
{
    miaw_mock *m = setup();
    miaw_mock_put_message(m, "i1", "3EB0AA", "{\"chat\":\"15550001111@s.whatsapp.net\",\"fromMe\":false,"
                                             "\"timestamp\":1735118400,\"type\":\"text\",\"text\":\"hi\","
                                             "\"message\":{\"conversation\":\"hi\"}}");
    miaw_mock_reply r = get(m, "/instances/i1/messages/3EB0AA");
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.id"), "3EB0AA");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.message.conversation"), "hi");
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.json, "data.timestamp")), 1735118400);
    miaw_mock_reply_clear(&r);
    expect_get_error(m, "/instances/i1/messages/3EB0BB", 404, "NOT_FOUND", "messageId");
    teardown(m);
}

/* the plugin needs the 1.3 history services */
static void test_needs_abi_1_3(void)
{
    miaw_mock *m = miaw_mock_new();
    CU_ASSERT_EQUAL(miaw_mock_set_abi_minor(m, 2), MIAW_OK);
    char err[512] = "";
    CU_ASSERT_PTR_NULL(miaw_mock_load(m, miaw_test_plugin_path("messages"), "messages", NULL, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "needs plugin ABI minor 3"));
    miaw_mock_free(m);
}

MIAW_TESTS("plugin_messages", MIAW_T(test_route_registered), MIAW_T(test_validation), MIAW_T(test_plain_text),
           MIAW_T(test_reply_to_stored), MIAW_T(test_reply_to_unknown), MIAW_T(test_completion_errors),
           MIAW_T(test_send_timeout), MIAW_T(test_abort_cancels), MIAW_T(test_send_refused),
           MIAW_T(test_needs_abi_1_2), MIAW_T(test_history_routes), MIAW_T(test_history_validation),
           MIAW_T(test_history_query_passed), MIAW_T(test_history_host_errors), MIAW_T(test_history_pages),
           MIAW_T(test_get_message), MIAW_T(test_needs_abi_1_3))
