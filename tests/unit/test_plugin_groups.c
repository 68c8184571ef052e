/* tests/unit/test_plugin_groups.c - the groups plugin (build/plugins/groups.so) on the
 * SDK's mock host (miaw/mock_host.h), no server: the w:g2 IQs the routes build (create,
 * query, participant operations, the PATCH chain, leave, invite get/info/join, join
 * requests), the parsing of the replies (the <group> metadata node with JID attributes,
 * LIDs beside phone numbers, base64 bodies, settings; per-participant results with
 * error codes and add_request invites), the mapping of IQ error codes to HTTP errors
 * (401 -> 403 NOT_GROUP_ADMIN, 403/404 -> 404, 406/410 of an invite code -> 400, ...),
 * bad group JIDs and codes refused before any IQ, an aborted request (its IQ cancelled),
 * and the events made of w:gp2 notifications (group_update, group_participants with
 * leave/join/request, group_join for this account). */
#include "harness.h"
#include "plugin_path.h"

#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <miaw/mock_host.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GJID "120363000000000001@g.us"
#define GP "/instances/i1/groups"

static miaw_mock *setup(void)
{
    miaw_mock *m = miaw_mock_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    char err[512] = "";
    miaw_plugin *p = miaw_mock_load(m, miaw_test_plugin_path("groups"), "groups", NULL, err, sizeof err);
    if (!p) fprintf(stderr, "\nload %s: %s\n", miaw_test_plugin_path("groups"), err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(miaw_mock_put_instance(m, "i1", NULL), MIAW_OK);
    return m;
}

static void teardown(miaw_mock *m)
{
    const json_t *v = miaw_mock_violations(m);
    if (json_array_size(v)) {
        char *s = json_dumps(v, 0);
        fprintf(stderr, "\nviolations: %s\n", s);
        free(s);
    }
    CU_ASSERT_EQUAL(json_array_size(v), 0);
    miaw_mock_free(m);
}

/* the last IQ's node */
static const json_t *last_iq(miaw_mock *m)
{
    const json_t *iqs = miaw_mock_iqs(m);
    return json_object_get(json_array_get(iqs, json_array_size(iqs) - 1), "node");
}
static size_t n_iqs(miaw_mock *m) { return json_array_size(miaw_mock_iqs(m)); }

static const char *str(const json_t *j, const char *path)
{
    const char *s = miaw_mock_str(j, path);
    return s ? s : "(null)";
}

/* the last IQ answered with a result carrying content (JSON array text) */
static int answer(miaw_mock *m, const char *content)
{
    char buf[8192];
    snprintf(buf, sizeof buf, "{\"tag\":\"iq\",\"attrs\":{\"type\":\"result\"},\"content\":%s}", content ? content : "[]");
    return miaw_mock_complete_iq(m, n_iqs(m) - 1, MIAW_OK, buf, NULL);
}

static int answer_error(miaw_mock *m, int code, const char *text)
{
    char buf[512];
    snprintf(buf, sizeof buf,
             "{\"tag\":\"iq\",\"attrs\":{\"type\":\"error\"},\"content\":[{\"tag\":\"error\",\"attrs\":"
             "{\"code\":\"%d\",\"text\":\"%s\"}}]}",
             code, text);
    return miaw_mock_complete_iq(m, n_iqs(m) - 1, MIAW_E_IO, buf, NULL);
}

/* a <group> node as WhatsApp sends it: LID-addressed, bytes as base64 */
#define GROUP_NODE                                                                                                    \
    "{\"tag\":\"group\",\"attrs\":{\"id\":\"120363000000000001\",\"subject\":\"Team\",\"s_t\":\"1735118400\","      \
    "\"s_o\":{\"jid\":\"81000000000001@lid\"},\"s_o_pn\":{\"jid\":\"15550001111@s.whatsapp.net\"},"                  \
    "\"creation\":\"1735118000\",\"creator\":{\"jid\":\"81000000000001@lid\"},"                                       \
    "\"creator_pn\":{\"jid\":\"15550001111@s.whatsapp.net\"},\"size\":\"2\",\"addressing_mode\":\"lid\"},"             \
    "\"content\":["                                                                                                   \
    "{\"tag\":\"participant\",\"attrs\":{\"jid\":{\"jid\":\"81000000000001@lid\"},\"type\":\"superadmin\","           \
    "\"phone_number\":{\"jid\":\"15550001111@s.whatsapp.net\"}}},"                                                    \
    "{\"tag\":\"participant\",\"attrs\":{\"jid\":{\"jid\":\"81000000000002@lid\"},"                                   \
    "\"phone_number\":{\"jid\":\"15550002222@s.whatsapp.net\"}}},"                                                    \
    "{\"tag\":\"description\",\"attrs\":{\"id\":\"D1\",\"t\":\"1735118500\"},\"content\":[{\"tag\":\"body\","        \
    "\"content\":{\"b64\":\"aMOpbGxv\"}}]},"                                                                         \
    "{\"tag\":\"announcement\",\"attrs\":{}},{\"tag\":\"locked\",\"attrs\":{}},"                                     \
    "{\"tag\":\"ephemeral\",\"attrs\":{\"expiration\":\"604800\"}},"                                                  \
    "{\"tag\":\"member_add_mode\",\"attrs\":{},\"content\":{\"b64\":\"YWRtaW5fYWRk\"}},"                               \
    "{\"tag\":\"membership_approval_mode\",\"attrs\":{},\"content\":[{\"tag\":\"group_join\",\"attrs\":{\"state\":"   \
    "\"on\"}}]}]}"

static void test_metadata_parsing(void)
{
    miaw_mock *m = setup();
    miaw_mock_reply r = {0};
    CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", GP "/" GJID, NULL, &r), 0);
    CU_ASSERT_TRUE(r.pending);
    const json_t *iq = last_iq(m);
    CU_ASSERT_STRING_EQUAL(str(iq, "attrs.xmlns"), "w:g2");
    CU_ASSERT_STRING_EQUAL(str(iq, "attrs.type"), "get");
    CU_ASSERT_STRING_EQUAL(str(iq, "attrs.to.jid"), GJID);
    CU_ASSERT_STRING_EQUAL(str(iq, "content[0].tag"), "query");
    CU_ASSERT_STRING_EQUAL(str(iq, "content[0].attrs.request"), "interactive");
    CU_ASSERT_EQUAL(answer(m, "[" GROUP_NODE "]"), MIAW_OK);
    CU_ASSERT_EQUAL(r.status, 200);
    const json_t *d = json_object_get(r.json, "data");
    CU_ASSERT_STRING_EQUAL(str(d, "jid"), GJID);
    CU_ASSERT_STRING_EQUAL(str(d, "subject"), "Team");
    CU_ASSERT_STRING_EQUAL(str(d, "owner"), "15550001111@s.whatsapp.net");
    CU_ASSERT_STRING_EQUAL(str(d, "ownerLid"), "81000000000001@lid");
    CU_ASSERT_STRING_EQUAL(str(d, "subjectOwner"), "15550001111@s.whatsapp.net");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(d, "creation")), 1735118000);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(d, "subjectTime")), 1735118400);
    CU_ASSERT_STRING_EQUAL(str(d, "addressingMode"), "lid");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(d, "size")), 2);
    CU_ASSERT_STRING_EQUAL(str(d, "participants[0].jid"), "15550001111@s.whatsapp.net");
    CU_ASSERT_STRING_EQUAL(str(d, "participants[0].phone"), "15550001111");
    CU_ASSERT_STRING_EQUAL(str(d, "participants[0].lid"), "81000000000001@lid");
    CU_ASSERT_STRING_EQUAL(str(d, "participants[0].admin"), "superadmin");
    CU_ASSERT_TRUE(json_is_null(miaw_mock_get(d, "participants[1].admin")));
    CU_ASSERT_STRING_EQUAL(str(d, "description"), "h\xc3\xa9llo"); /* base64 bytes, UTF-8 */
    CU_ASSERT_STRING_EQUAL(str(d, "descriptionId"), "D1");
    CU_ASSERT_TRUE(json_is_true(json_object_get(d, "announce")));
    CU_ASSERT_TRUE(json_is_true(json_object_get(d, "locked")));
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(d, "ephemeral")), 604800);
    CU_ASSERT_STRING_EQUAL(str(d, "memberAddMode"), "admin_add");
    CU_ASSERT_TRUE(json_is_true(json_object_get(d, "approvalMode")));
    miaw_mock_reply_clear(&r);

    /* a bare group: defaults */
    CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", GP "/120363000000000001", NULL, &r), 0);
    CU_ASSERT_STRING_EQUAL(str(last_iq(m), "attrs.to.jid"), GJID); /* a bare id becomes a group JID */
    answer(m, "[{\"tag\":\"group\",\"attrs\":{\"id\":\"120363000000000001\",\"subject\":\"x\"}}]");
    d = json_object_get(r.json, "data");
    CU_ASSERT_TRUE(json_is_null(json_object_get(d, "description")));
    CU_ASSERT_TRUE(json_is_false(json_object_get(d, "announce")));
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(d, "ephemeral")), 0);
    CU_ASSERT_STRING_EQUAL(str(d, "memberAddMode"), "all_member_add");
    CU_ASSERT_TRUE(json_is_false(json_object_get(d, "approvalMode")));
    CU_ASSERT_STRING_EQUAL(str(d, "addressingMode"), "pn");
    miaw_mock_reply_clear(&r);

    /* a result without <group> is WhatsApp's fault */
    miaw_mock_call(m, "GET", GP "/" GJID, NULL, &r);
    answer(m, "[]");
    CU_ASSERT_EQUAL(r.status, 500);
    CU_ASSERT_STRING_EQUAL(miaw_mock_reply_code(&r), "WHATSAPP_ERROR");
    miaw_mock_reply_clear(&r);
    teardown(m);
}

static void expect(miaw_mock_reply *r, int status, const char *code, const char *field)
{
    if (r->status != status) fprintf(stderr, "\n-> %d %s\n", r->status, r->text ? r->text : "(pending)");
    CU_ASSERT_EQUAL(r->status, status);
    const char *c = miaw_mock_reply_code(r);
    CU_ASSERT_STRING_EQUAL(c ? c : "(none)", code);
    if (field) CU_ASSERT_STRING_EQUAL(str(r->json, "error.details.field"), field);
    miaw_mock_reply_clear(r);
}

static void test_error_mapping(void)
{
    miaw_mock *m = setup();
    static const struct { int wa; const char *text; int http; const char *code; } GROUP[] = {
        {400, "bad-request", 400, "INVALID_REQUEST"}, {401, "not-authorized", 403, "NOT_GROUP_ADMIN"},
        {403, "forbidden", 404, "NOT_FOUND"},          {404, "item-not-found", 404, "NOT_FOUND"},
        {406, "not-acceptable", 409, "CONFLICT"},      {409, "conflict", 409, "CONFLICT"},
        {410, "gone", 404, "NOT_FOUND"},               {429, "rate-overlimit", 429, "RATE_LIMITED"},
        {500, "internal-server-error", 500, "WHATSAPP_ERROR"}, {503, "service-unavailable", 500, "WHATSAPP_ERROR"},
    };
    miaw_mock_reply r = {0};
    for (size_t i = 0; i < sizeof GROUP / sizeof GROUP[0]; i++) {
        miaw_mock_call(m, "PATCH", GP "/" GJID, "{\"announce\":true}", &r);
        answer_error(m, GROUP[i].wa, GROUP[i].text);
        expect(&r, GROUP[i].http, GROUP[i].code, NULL);
    }
    /* the invite-code context: an invalid or revoked code is the client's mistake */
    static const struct { int wa; int http; const char *code; const char *field; } INVITE[] = {
        {406, 400, "INVALID_REQUEST", "inviteCode"}, {410, 400, "INVALID_REQUEST", "inviteCode"},
        {404, 404, "NOT_FOUND", NULL},               {401, 403, "NOT_GROUP_ADMIN", NULL},
    };
    for (size_t i = 0; i < sizeof INVITE / sizeof INVITE[0]; i++) {
        miaw_mock_call(m, "GET", GP "/invite/AbCdEfGhIjKlMnOpQrStUv", NULL, &r);
        CU_ASSERT_STRING_EQUAL(str(last_iq(m), "attrs.to.jid"), "@g.us");
        CU_ASSERT_STRING_EQUAL(str(last_iq(m), "content[0].attrs.code"), "AbCdEfGhIjKlMnOpQrStUv");
        answer_error(m, INVITE[i].wa, "x");
        expect(&r, INVITE[i].http, INVITE[i].code, INVITE[i].field);
    }
    miaw_mock_call(m, "GET", GP "/invite/AbCdEfGhIjKlMnOpQrStUv", NULL, &r);
    answer_error(m, 410, "gone");
    CU_ASSERT_PTR_NOT_NULL(strstr(str(r.json, "error.message"), "revoked"));
    miaw_mock_reply_clear(&r);
    /* engine-level failures */
    miaw_mock_call(m, "GET", GP "/" GJID, NULL, &r);
    miaw_mock_complete_iq(m, n_iqs(m) - 1, MIAW_E_TIMEOUT, NULL, NULL);
    expect(&r, 504, "TIMEOUT", NULL);
    miaw_mock_call(m, "GET", GP "/" GJID, NULL, &r);
    miaw_mock_complete_iq(m, n_iqs(m) - 1, MIAW_E_STATE, NULL, NULL);
    expect(&r, 503, "INSTANCE_NOT_CONNECTED", NULL);
    miaw_mock_refuse(m, "iq", MIAW_E_STATE, NULL, "not connected");
    CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", GP, NULL, &r), 503);
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(miaw_mock_set_connected(m, "i1", 0), MIAW_OK);
    CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", GP "/" GJID, NULL, &r), 503);
    miaw_mock_reply_clear(&r);
    teardown(m);
}

static void test_bad_input(void)
{
    miaw_mock *m = setup();
    miaw_mock_reply r = {0};
    const char *bad[] = {"abc", "15550001111@s.whatsapp.net", "12@g.us@g.us", "@g.us", "1234@lid"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, GP "/%s", bad[i]);
        miaw_mock_call(m, "GET", path, NULL, &r);
        expect(&r, 400, "INVALID_REQUEST", "groupJid");
    }
    miaw_mock_call(m, "GET", GP "/invite/no", NULL, &r);
    expect(&r, 400, "INVALID_REQUEST", "inviteCode");
    miaw_mock_call(m, "POST", GP "/join/a-b-c-d-e-f-g", NULL, &r);
    expect(&r, 400, "INVALID_REQUEST", "inviteCode");
    miaw_mock_call(m, "POST", GP, "{\"subject\":\"x\",\"participants\":[\"15550001111\",\"nope\"]}", &r);
    expect(&r, 400, "INVALID_REQUEST", "participants[1]");
    miaw_mock_call(m, "POST", GP, "{\"subject\":\"x\",\"participants\":[\"" GJID "\"]}", &r);
    expect(&r, 400, "INVALID_REQUEST", "participants[0]");
    miaw_mock_call(m, "POST", GP, "{\"participants\":[]}", &r);
    expect(&r, 400, "INVALID_REQUEST", "subject");
    miaw_mock_call(m, "PATCH", GP "/" GJID, "{}", &r);
    expect(&r, 400, "INVALID_REQUEST", "body");
    miaw_mock_call(m, "PATCH", GP "/" GJID, "{\"memberAddMode\":\"everyone\"}", &r);
    expect(&r, 400, "INVALID_REQUEST", "memberAddMode");
    miaw_mock_call(m, "DELETE", GP "/" GJID "/admins", "{\"participants\":[]}", &r);
    expect(&r, 400, "INVALID_REQUEST", "participants");
    miaw_mock_call(m, "GET", "/instances/nope/groups", NULL, &r);
    expect(&r, 404, "INSTANCE_NOT_FOUND", NULL);
    CU_ASSERT_EQUAL(n_iqs(m), 0); /* nothing reached WhatsApp */
    teardown(m);
}

static void test_create_and_participants(void)
{
    miaw_mock *m = setup();
    miaw_mock_reply r = {0};
    miaw_mock_call(m, "POST", GP, "{\"subject\":\"Team\",\"participants\":[\"+1 555 000 2222\",\"15550003333\",\"15550004444\"],\"description\":\"hi\"}", &r);
    const json_t *iq = last_iq(m);
    CU_ASSERT_STRING_EQUAL(str(iq, "attrs.type"), "set");
    CU_ASSERT_STRING_EQUAL(str(iq, "attrs.to.jid"), "@g.us");
    CU_ASSERT_STRING_EQUAL(str(iq, "content[0].tag"), "create");
    CU_ASSERT_STRING_EQUAL(str(iq, "content[0].attrs.subject"), "Team");
    CU_ASSERT_STRING_EQUAL(str(iq, "content[0].content[0].attrs.jid.jid"), "15550002222@s.whatsapp.net");
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_get(iq, "content[0].content")), 3);
    /* 2222 added (by LID, phone_number beside), 3333 refused for privacy with an invite, 4444 absent */
    answer(m, "[{\"tag\":\"group\",\"attrs\":{\"id\":\"120363000000000001\",\"subject\":\"Team\",\"creator\":{\"jid\":"
              "\"15550001111@s.whatsapp.net\"}},\"content\":[{\"tag\":\"participant\",\"attrs\":{\"jid\":{\"jid\":"
              "\"15550001111@s.whatsapp.net\"},\"type\":\"superadmin\"}},{\"tag\":\"participant\",\"attrs\":{\"jid\":"
              "{\"jid\":\"81000000000002@lid\"},\"phone_number\":{\"jid\":\"15550002222@s.whatsapp.net\"}}},"
              "{\"tag\":\"participant\",\"attrs\":{\"jid\":{\"jid\":\"15550003333@s.whatsapp.net\"},\"error\":\"403\"},"
              "\"content\":[{\"tag\":\"add_request\",\"attrs\":{\"code\":\"INV1\",\"expiration\":\"1735200000\"}}]}]}]");
    CU_ASSERT_TRUE(r.pending); /* the description comes next */
    iq = last_iq(m);
    CU_ASSERT_STRING_EQUAL(str(iq, "attrs.to.jid"), GJID);
    CU_ASSERT_STRING_EQUAL(str(iq, "content[0].tag"), "description");
    CU_ASSERT_EQUAL(strlen(str(iq, "content[0].attrs.id")), 16);
    CU_ASSERT_STRING_EQUAL(str(iq, "content[0].content[0].tag"), "body");
    CU_ASSERT_STRING_EQUAL(str(iq, "content[0].content[0].content"), "hi");
    answer(m, NULL);
    CU_ASSERT_EQUAL(r.status, 201);
    const json_t *d = json_object_get(r.json, "data");
    CU_ASSERT_STRING_EQUAL(str(d, "description"), "hi");
    CU_ASSERT_EQUAL(json_array_size(json_object_get(d, "participants")), 2); /* the refused one is not a member */
    CU_ASSERT_STRING_EQUAL(str(d, "results[0].status"), "ok");
    CU_ASSERT_STRING_EQUAL(str(d, "results[0].phone"), "15550002222");
    CU_ASSERT_STRING_EQUAL(str(d, "results[1].status"), "invite_sent");
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(d, "results[1].code")), 403);
    CU_ASSERT_STRING_EQUAL(str(d, "results[1].inviteCode"), "INV1");
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(d, "results[1].inviteExpiration")), 1735200000);
    CU_ASSERT_STRING_EQUAL(str(d, "results[2].status"), "not_on_whatsapp");
    miaw_mock_reply_clear(&r);

    /* promote: per participant */
    miaw_mock_call(m, "POST", GP "/" GJID "/admins", "{\"participants\":[\"15550002222\",\"81000000000009@lid\"]}", &r);
    iq = last_iq(m);
    CU_ASSERT_STRING_EQUAL(str(iq, "content[0].tag"), "promote");
    CU_ASSERT_STRING_EQUAL(str(iq, "content[0].content[1].attrs.jid.jid"), "81000000000009@lid");
    answer(m, "[{\"tag\":\"promote\",\"content\":[{\"tag\":\"participant\",\"attrs\":{\"jid\":{\"jid\":"
              "\"15550002222@s.whatsapp.net\"}}},{\"tag\":\"participant\",\"attrs\":{\"jid\":{\"jid\":"
              "\"81000000000009@lid\"},\"error\":\"404\"}}]}]");
    CU_ASSERT_EQUAL(r.status, 200);
    d = json_object_get(r.json, "data");
    CU_ASSERT_STRING_EQUAL(str(d, "action"), "promote");
    CU_ASSERT_STRING_EQUAL(str(d, "groupJid"), GJID);
    CU_ASSERT_STRING_EQUAL(str(d, "participants[0].status"), "ok");
    CU_ASSERT_STRING_EQUAL(str(d, "participants[1].status"), "not_a_member");
    CU_ASSERT_TRUE(json_is_null(miaw_mock_get(d, "participants[1].phone")));
    miaw_mock_reply_clear(&r);
    /* add: already in, recently left */
    miaw_mock_call(m, "POST", GP "/" GJID "/participants", "{\"participants\":[\"15550002222\",\"15550005555\"]}", &r);
    answer(m, "[{\"tag\":\"add\",\"content\":[{\"tag\":\"participant\",\"attrs\":{\"jid\":{\"jid\":"
              "\"15550002222@s.whatsapp.net\"},\"error\":\"409\"}},{\"tag\":\"participant\",\"attrs\":{\"jid\":{\"jid\":"
              "\"15550005555@s.whatsapp.net\"},\"error\":\"408\"}}]}]");
    d = json_object_get(r.json, "data");
    CU_ASSERT_STRING_EQUAL(str(d, "participants[0].status"), "already_member");
    CU_ASSERT_STRING_EQUAL(str(d, "participants[1].status"), "recently_left");
    miaw_mock_reply_clear(&r);
    teardown(m);
}

static void test_patch_chain(void)
{
    miaw_mock *m = setup();
    miaw_mock_reply r = {0};
    miaw_mock_call(m, "PATCH", GP "/" GJID,
                   "{\"subject\":\"New\",\"description\":null,\"ephemeral\":0,\"locked\":false,\"approvalMode\":true}", &r);
    CU_ASSERT_STRING_EQUAL(str(last_iq(m), "content[0].tag"), "query"); /* the description's id first */
    answer(m, "[" GROUP_NODE "]");
    const char *want[] = {"subject", "description", "unlocked", "not_ephemeral", "membership_approval_mode", "query"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const json_t *iq = last_iq(m);
        CU_ASSERT_STRING_EQUAL(str(iq, "content[0].tag"), want[i]);
        if (i == 0) CU_ASSERT_STRING_EQUAL(str(iq, "content[0].content"), "New");
        if (i == 1) {
            CU_ASSERT_STRING_EQUAL(str(iq, "content[0].attrs.prev"), "D1");
            CU_ASSERT_STRING_EQUAL(str(iq, "content[0].attrs.delete"), "true");
        }
        if (i == 4) CU_ASSERT_STRING_EQUAL(str(iq, "content[0].content[0].attrs.state"), "on");
        CU_ASSERT_STRING_EQUAL(str(iq, "attrs.type"), i == 5 ? "get" : "set");
        answer(m, i == 5 ? "[" GROUP_NODE "]" : NULL);
    }
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_STRING_EQUAL(str(r.json, "data.subject"), "Team"); /* what WhatsApp answered last */
    miaw_mock_reply_clear(&r);

    /* the second change refused: 403 naming it */
    miaw_mock_call(m, "PATCH", GP "/" GJID, "{\"subject\":\"New\",\"announce\":true,\"ephemeral\":86400}", &r);
    answer(m, "[" GROUP_NODE "]");
    answer(m, NULL);
    CU_ASSERT_STRING_EQUAL(str(last_iq(m), "content[0].tag"), "announcement");
    answer_error(m, 401, "not-authorized");
    CU_ASSERT_EQUAL(r.status, 403);
    CU_ASSERT_STRING_EQUAL(miaw_mock_reply_code(&r), "NOT_GROUP_ADMIN");
    CU_ASSERT_PTR_NOT_NULL(strstr(str(r.json, "error.message"), "announce"));
    CU_ASSERT_PTR_NOT_NULL(strstr(str(r.json, "error.message"), "applied"));
    miaw_mock_reply_clear(&r);
    /* ephemeral on, member add mode */
    miaw_mock_call(m, "PATCH", GP "/" GJID, "{\"ephemeral\":86400,\"memberAddMode\":\"admin_add\"}", &r);
    answer(m, "[" GROUP_NODE "]");
    CU_ASSERT_STRING_EQUAL(str(last_iq(m), "content[0].attrs.expiration"), "86400");
    answer(m, NULL);
    CU_ASSERT_STRING_EQUAL(str(last_iq(m), "content[0].tag"), "member_add_mode");
    CU_ASSERT_STRING_EQUAL(str(last_iq(m), "content[0].content"), "admin_add");
    miaw_mock_reply_clear(&r); /* answers nowhere now */
    teardown(m);
}

static void test_leave_invite_join_requests(void)
{
    miaw_mock *m = setup();
    miaw_mock_reply r = {0};
    /* leave: membership first, then <leave><group id/></leave> to @g.us */
    miaw_mock_call(m, "DELETE", GP "/" GJID, NULL, &r);
    answer(m, "[" GROUP_NODE "]");
    const json_t *iq = last_iq(m);
    CU_ASSERT_STRING_EQUAL(str(iq, "attrs.to.jid"), "@g.us");
    CU_ASSERT_STRING_EQUAL(str(iq, "content[0].tag"), "leave");
    CU_ASSERT_STRING_EQUAL(str(iq, "content[0].content[0].attrs.id.jid"), GJID);
    answer(m, NULL);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_TRUE(json_is_true(miaw_mock_get(r.json, "data.left")));
    miaw_mock_reply_clear(&r);
    miaw_mock_call(m, "DELETE", GP "/" GJID, NULL, &r);
    answer_error(m, 403, "forbidden");
    expect(&r, 404, "NOT_FOUND", NULL);
    /* invite link get / revoke */
    miaw_mock_call(m, "POST", GP "/" GJID "/revoke-invite", NULL, &r);
    CU_ASSERT_STRING_EQUAL(str(last_iq(m), "attrs.type"), "set");
    CU_ASSERT_STRING_EQUAL(str(last_iq(m), "content[0].tag"), "invite");
    answer(m, "[{\"tag\":\"invite\",\"attrs\":{\"code\":\"NewCode123\"}}]");
    CU_ASSERT_STRING_EQUAL(str(r.json, "data.inviteLink"), "https://chat.whatsapp.com/NewCode123");
    miaw_mock_reply_clear(&r);
    /* join by code: info first (not a member: the account's JIDs come from `ready`), then the join */
    CU_ASSERT_TRUE(miaw_mock_emit(m, "ready", "i1", "{\"jid\":\"15550009999@s.whatsapp.net\",\"lid\":\"81000000000099@lid\"}") >= 1);
    /* a stale join mark (its notification never came) is pruned by the next join */
    CU_ASSERT_EQUAL(miaw_mock_kv_put(m, "groups", "i1", "joins", "{\"stale@g.us\":-100000000}"), MIAW_OK);
    miaw_mock_call(m, "POST", GP "/join/AbCdEfGhIjKl", NULL, &r);
    CU_ASSERT_STRING_EQUAL(str(last_iq(m), "attrs.type"), "get");
    answer(m, "[" GROUP_NODE "]");
    CU_ASSERT_STRING_EQUAL(str(last_iq(m), "attrs.type"), "set");
    answer(m, "[{\"tag\":\"group\",\"attrs\":{\"jid\":{\"jid\":\"" GJID "\"}}}]");
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_TRUE(json_is_false(miaw_mock_get(r.json, "data.pending")));
    const json_t *evs = miaw_mock_events(m);
    CU_ASSERT_STRING_EQUAL(str(evs, "[0].type"), "group_join");
    CU_ASSERT_STRING_EQUAL(str(evs, "[0].data.reason"), "invite");
    miaw_mock_reply_clear(&r);
    const json_t *marks = miaw_mock_kv(m, "groups", "i1", "joins");
    CU_ASSERT_PTR_NOT_NULL(json_object_get(marks, GJID));
    CU_ASSERT_PTR_NULL(json_object_get(marks, "stale@g.us"));
    /* the same join notified afterwards is not a second group_join */
    miaw_mock_deliver(m, "i1",
                      "{\"tag\":\"notification\",\"attrs\":{\"type\":\"w:gp2\",\"from\":{\"jid\":\"" GJID "\"},"
                      "\"participant\":{\"jid\":\"81000000000099@lid\"}},\"content\":[{\"tag\":\"add\",\"attrs\":"
                      "{\"reason\":\"invite\"},\"content\":[{\"tag\":\"participant\",\"attrs\":{\"jid\":{\"jid\":"
                      "\"81000000000099@lid\"}}}]}]}");
    evs = miaw_mock_events(m);
    CU_ASSERT_EQUAL(json_array_size(evs), 2);
    CU_ASSERT_STRING_EQUAL(str(evs, "[1].type"), "group_participants");
    CU_ASSERT_STRING_EQUAL(str(evs, "[1].data.action"), "join");
    CU_ASSERT_PTR_NULL(miaw_mock_kv(m, "groups", "i1", "joins")); /* the mark is gone with its use */
    /* already a member: 409 without joining */
    size_t before = n_iqs(m);
    miaw_mock_call(m, "POST", GP "/join/AbCdEfGhIjKl", NULL, &r);
    answer(m, "[{\"tag\":\"group\",\"attrs\":{\"id\":\"120363000000000001\"},\"content\":[{\"tag\":\"participant\","
              "\"attrs\":{\"jid\":{\"jid\":\"81000000000099@lid\"}}}]}]");
    expect(&r, 409, "CONFLICT", NULL);
    CU_ASSERT_EQUAL(n_iqs(m), before + 1);
    /* a pending join (approval mode) */
    miaw_mock_call(m, "POST", GP "/join/AbCdEfGhIjKl", NULL, &r);
    answer(m, "[" GROUP_NODE "]");
    answer(m, "[{\"tag\":\"membership_approval_request\",\"attrs\":{\"jid\":{\"jid\":\"" GJID "\"}}}]");
    CU_ASSERT_TRUE(json_is_true(miaw_mock_get(r.json, "data.pending")));
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_events(m)), 2); /* not joined yet */
    miaw_mock_reply_clear(&r);
    /* join requests: list, approve */
    miaw_mock_call(m, "GET", GP "/" GJID "/requests", NULL, &r);
    CU_ASSERT_STRING_EQUAL(str(last_iq(m), "content[0].tag"), "membership_approval_requests");
    answer(m, "[{\"tag\":\"membership_approval_requests\",\"content\":[{\"tag\":\"membership_approval_request\","
              "\"attrs\":{\"jid\":{\"jid\":\"81000000000007@lid\"},\"phone_number\":{\"jid\":\"15550007777@s.whatsapp.net\"},"
              "\"t\":\"1735118600\",\"request_method\":\"invite_link\"}}]}]");
    CU_ASSERT_STRING_EQUAL(str(r.json, "data.requests[0].jid"), "15550007777@s.whatsapp.net");
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.json, "data.requests[0].requestTime")), 1735118600);
    CU_ASSERT_STRING_EQUAL(str(r.json, "data.requests[0].method"), "invite_link");
    miaw_mock_reply_clear(&r);
    miaw_mock_call(m, "POST", GP "/" GJID "/requests/reject", "{\"participants\":[\"15550007777\",\"15550008888\"]}", &r);
    iq = last_iq(m);
    CU_ASSERT_STRING_EQUAL(str(iq, "content[0].tag"), "membership_requests_action");
    CU_ASSERT_STRING_EQUAL(str(iq, "content[0].content[0].tag"), "reject");
    CU_ASSERT_STRING_EQUAL(str(iq, "content[0].content[0].content[1].attrs.jid.jid"), "15550008888@s.whatsapp.net");
    answer(m, "[{\"tag\":\"membership_requests_action\",\"content\":[{\"tag\":\"reject\",\"content\":["
              "{\"tag\":\"participant\",\"attrs\":{\"jid\":{\"jid\":\"15550007777@s.whatsapp.net\"}}},"
              "{\"tag\":\"participant\",\"attrs\":{\"jid\":{\"jid\":\"15550008888@s.whatsapp.net\"},\"error\":\"404\"}}]}]}]");
    CU_ASSERT_STRING_EQUAL(str(r.json, "data.participants[0].status"), "ok");
    CU_ASSERT_STRING_EQUAL(str(r.json, "data.participants[1].status"), "no_request");
    miaw_mock_reply_clear(&r);
    teardown(m);
}

static void test_abort_cancels(void)
{
    miaw_mock *m = setup();
    miaw_mock_reply r = {0};
    miaw_mock_call(m, "GET", GP, NULL, &r);
    CU_ASSERT_STRING_EQUAL(str(last_iq(m), "content[0].tag"), "participating");
    CU_ASSERT_EQUAL(miaw_mock_abort(m, &r), MIAW_OK);
    CU_ASSERT_EQUAL(answer(m, "[{\"tag\":\"groups\",\"content\":[]}]"), MIAW_E_GONE);
    miaw_mock_reply_clear(&r);
    /* list */
    miaw_mock_call(m, "GET", GP, NULL, &r);
    answer(m, "[{\"tag\":\"groups\",\"content\":[" GROUP_NODE "," GROUP_NODE "]}]");
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_get(r.json, "data.groups")), 2);
    miaw_mock_reply_clear(&r);
    /* the route's timeout: 504 and the IQ cancelled */
    miaw_mock_call(m, "GET", GP "/" GJID, NULL, &r);
    CU_ASSERT_EQUAL(miaw_mock_timeout(m, &r), MIAW_OK);
    CU_ASSERT_EQUAL(r.status, 504);
    CU_ASSERT_EQUAL(answer(m, "[" GROUP_NODE "]"), MIAW_E_GONE);
    miaw_mock_reply_clear(&r);
    teardown(m);
}

#define NOTE(CHILD)                                                                                                   \
    "{\"tag\":\"notification\",\"attrs\":{\"type\":\"w:gp2\",\"id\":\"N1\",\"t\":\"1735119000\",\"from\":{\"jid\":"   \
    "\"" GJID "\"},\"participant\":{\"jid\":\"81000000000001@lid\"},\"participant_pn\":{\"jid\":"                   \
    "\"15550001111@s.whatsapp.net\"},\"addressing_mode\":\"lid\"},\"content\":[" CHILD "]}"
#define PART(LID, PN) "{\"tag\":\"participant\",\"attrs\":{\"jid\":{\"jid\":\"" LID "\"},\"phone_number\":{\"jid\":\"" PN "\"}}}"

static const json_t *event_at(miaw_mock *m, size_t i) { return json_array_get(miaw_mock_events(m), i); }

static void test_events(void)
{
    miaw_mock *m = setup();
    miaw_mock_emit(m, "ready", "i1", "{\"jid\":\"15550009999:3@s.whatsapp.net\",\"lid\":\"81000000000099:3@lid\"}");
    CU_ASSERT_EQUAL(miaw_mock_deliver(m, "i1", NOTE("{\"tag\":\"subject\",\"attrs\":{\"subject\":\"Renamed\",\"s_t\":\"1\"}}")), 1);
    const json_t *e = event_at(m, 0);
    CU_ASSERT_STRING_EQUAL(str(e, "type"), "group_update");
    CU_ASSERT_STRING_EQUAL(str(e, "instanceId"), "i1");
    CU_ASSERT_STRING_EQUAL(str(e, "data.groupJid"), GJID);
    CU_ASSERT_STRING_EQUAL(str(e, "data.subject"), "Renamed");
    CU_ASSERT_STRING_EQUAL(str(e, "data.actor"), "15550001111@s.whatsapp.net");
    CU_ASSERT_STRING_EQUAL(str(e, "data.actorLid"), "81000000000001@lid");
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(e, "data.timestamp")), 1735119000);
    /* settings */
    miaw_mock_deliver(m, "i1", NOTE("{\"tag\":\"description\",\"attrs\":{\"id\":\"D2\"},\"content\":[{\"tag\":\"body\",\"content\":{\"b64\":\"bmV3\"}}]}"));
    CU_ASSERT_STRING_EQUAL(str(event_at(m, 1), "data.description"), "new");
    miaw_mock_deliver(m, "i1", NOTE("{\"tag\":\"description\",\"attrs\":{\"id\":\"D3\"},\"content\":[{\"tag\":\"delete\"}]}"));
    CU_ASSERT_TRUE(json_is_null(miaw_mock_get(event_at(m, 2), "data.description")));
    miaw_mock_deliver(m, "i1", NOTE("{\"tag\":\"not_announcement\"}"));
    CU_ASSERT_TRUE(json_is_false(miaw_mock_get(event_at(m, 3), "data.announce")));
    miaw_mock_deliver(m, "i1", NOTE("{\"tag\":\"locked\"}"));
    CU_ASSERT_TRUE(json_is_true(miaw_mock_get(event_at(m, 4), "data.locked")));
    miaw_mock_deliver(m, "i1", NOTE("{\"tag\":\"ephemeral\",\"attrs\":{\"expiration\":\"86400\"}}"));
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(event_at(m, 5), "data.ephemeral")), 86400);
    miaw_mock_deliver(m, "i1", NOTE("{\"tag\":\"member_add_mode\",\"content\":{\"b64\":\"YWRtaW5fYWRk\"}}"));
    CU_ASSERT_STRING_EQUAL(str(event_at(m, 6), "data.memberAddMode"), "admin_add");
    miaw_mock_deliver(m, "i1", NOTE("{\"tag\":\"membership_approval_mode\",\"content\":[{\"tag\":\"group_join\",\"attrs\":{\"state\":\"off\"}}]}"));
    CU_ASSERT_TRUE(json_is_false(miaw_mock_get(event_at(m, 7), "data.approvalMode")));
    miaw_mock_deliver(m, "i1", NOTE("{\"tag\":\"invite\",\"attrs\":{\"code\":\"C0DE1234\"}}"));
    CU_ASSERT_STRING_EQUAL(str(event_at(m, 8), "data.inviteCode"), "C0DE1234");
    /* participants: remove of another, remove of the actor = leave, promote */
    miaw_mock_deliver(m, "i1", NOTE("{\"tag\":\"remove\",\"content\":[" PART("81000000000002@lid", "15550002222@s.whatsapp.net") "]}"));
    e = event_at(m, 9);
    CU_ASSERT_STRING_EQUAL(str(e, "type"), "group_participants");
    CU_ASSERT_STRING_EQUAL(str(e, "data.action"), "remove");
    CU_ASSERT_STRING_EQUAL(str(e, "data.participants[0].phone"), "15550002222");
    CU_ASSERT_STRING_EQUAL(str(e, "data.participants[0].lid"), "81000000000002@lid");
    miaw_mock_deliver(m, "i1", NOTE("{\"tag\":\"remove\",\"content\":[" PART("81000000000001@lid", "15550001111@s.whatsapp.net") "]}"));
    CU_ASSERT_STRING_EQUAL(str(event_at(m, 10), "data.action"), "leave");
    miaw_mock_deliver(m, "i1", NOTE("{\"tag\":\"promote\",\"content\":[" PART("81000000000002@lid", "15550002222@s.whatsapp.net") "]}"));
    CU_ASSERT_STRING_EQUAL(str(event_at(m, 11), "data.action"), "promote");
    /* this account added: group_participants, then group_join "added" */
    miaw_mock_deliver(m, "i1", NOTE("{\"tag\":\"add\",\"content\":[" PART("81000000000099@lid", "15550009999@s.whatsapp.net") "]}"));
    CU_ASSERT_STRING_EQUAL(str(event_at(m, 12), "data.action"), "add");
    e = event_at(m, 13);
    CU_ASSERT_STRING_EQUAL(str(e, "type"), "group_join");
    CU_ASSERT_STRING_EQUAL(str(e, "data.reason"), "added");
    CU_ASSERT_STRING_EQUAL(str(e, "data.actor"), "15550001111@s.whatsapp.net");
    /* someone else added: no group_join */
    miaw_mock_deliver(m, "i1", NOTE("{\"tag\":\"add\",\"content\":[" PART("81000000000003@lid", "15550003333@s.whatsapp.net") "]}"));
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_events(m)), 15);
    /* a join request (the requester in attrs), a rejection */
    miaw_mock_deliver(m, "i1", NOTE("{\"tag\":\"created_membership_requests\",\"attrs\":{\"participant\":{\"jid\":\"81000000000004@lid\"},"
                                    "\"participant_pn\":{\"jid\":\"15550004444@s.whatsapp.net\"},\"request_method\":\"invite_link\"}}"));
    CU_ASSERT_STRING_EQUAL(str(event_at(m, 15), "data.action"), "request");
    CU_ASSERT_STRING_EQUAL(str(event_at(m, 15), "data.participants[0].phone"), "15550004444");
    miaw_mock_deliver(m, "i1", NOTE("{\"tag\":\"revoked_membership_requests\",\"content\":[" PART("81000000000004@lid", "15550004444@s.whatsapp.net") "]}"));
    CU_ASSERT_STRING_EQUAL(str(event_at(m, 16), "data.action"), "reject");
    /* the group created with this account in it */
    miaw_mock_deliver(m, "i1", NOTE("{\"tag\":\"create\",\"attrs\":{\"reason\":\"create\"},\"content\":[" GROUP_NODE "]}"));
    e = event_at(m, 17);
    CU_ASSERT_STRING_EQUAL(str(e, "type"), "group_join");
    CU_ASSERT_STRING_EQUAL(str(e, "data.reason"), "create");
    CU_ASSERT_STRING_EQUAL(str(e, "data.group.subject"), "Team");
    /* unknown children, other notifications, garbage: nothing */
    miaw_mock_deliver(m, "i1", NOTE("{\"tag\":\"something_new\"}"));
    miaw_mock_deliver(m, "i1", "{\"tag\":\"notification\",\"attrs\":{\"type\":\"w:gp2\"}}");
    miaw_mock_deliver(m, "i1", "{\"tag\":\"notification\",\"attrs\":{\"type\":\"w:gp2\",\"from\":{\"jid\":\"" GJID "\"}},\"content\":\"x\"}");
    CU_ASSERT_EQUAL(miaw_mock_deliver(m, "i1", "{\"tag\":\"notification\",\"attrs\":{\"type\":\"devices\"}}"), 0);
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_events(m)), 18);
    teardown(m);
}

static void test_declared(void)
{
    miaw_mock *m = setup();
    json_t *routes = miaw_mock_routes(m);
    CU_ASSERT_EQUAL(json_array_size(routes), 18); /* 16 + the group picture's POST and DELETE */
    size_t i;
    json_t *r;
    json_array_foreach(routes, i, r) {
        json_int_t flags = json_integer_value(json_object_get(r, "flags"));
        const char *path = json_string_value(json_object_get(r, "path"));
        const char *method = json_string_value(json_object_get(r, "method"));
        int upload = path && method && strstr(path, "/picture") && !strcmp(method, "POST");
        CU_ASSERT_EQUAL(flags, upload ? (MIAW_ROUTE_INSTANCE | MIAW_ROUTE_MULTIPART) : MIAW_ROUTE_INSTANCE);
    }
    json_decref(routes);
    /* events are declared: emitting an undeclared one would fail, so delivering works */
    CU_ASSERT_EQUAL(miaw_mock_deliver(m, "i1", NOTE("{\"tag\":\"locked\"}")), 1);
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_events(m)), 1);
    teardown(m);
}

MIAW_TESTS("plugin_groups", MIAW_T(test_metadata_parsing), MIAW_T(test_error_mapping), MIAW_T(test_bad_input),
           MIAW_T(test_create_and_participants), MIAW_T(test_patch_chain), MIAW_T(test_leave_invite_join_requests),
           MIAW_T(test_abort_cancels), MIAW_T(test_events), MIAW_T(test_declared))
