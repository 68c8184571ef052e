/* tests/unit/test_plugin_contacts.c - the contacts plugin (build/plugins/contacts.so) on
 * the SDK's mock host, no server: the usync contact queries a batch check builds (chunks
 * of usync_chunk users, "+<digits>" contacts, the contact and lid protocols), answers
 * parsed back into input order (PN and LID, echo-only users, users the server left out),
 * invalid numbers flagged, the cache (and its TTL on the virtual clock), the rate limit
 * (429 RATE_LIMITED with a Retry-After header, refilled as time passes), IQ failures,
 * an aborted request (its IQs cancelled), the block list IQs (LID with pn_jid once
 * known), the picture query (404 -> NOT_FOUND) and known contacts from message events. */
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

#define CP "/instances/i1/contacts"

static miaw_mock *setup(const char *config)
{
    miaw_mock *m = miaw_mock_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    char err[512] = "";
    miaw_plugin *p = miaw_mock_load(m, miaw_test_plugin_path("contacts"), "contacts", config, err, sizeof err);
    if (!p) fprintf(stderr, "\nload %s: %s\n", miaw_test_plugin_path("contacts"), err);
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

static size_t n_iqs(miaw_mock *m) { return json_array_size(miaw_mock_iqs(m)); }
static const json_t *iq_node(miaw_mock *m, size_t i) { return json_object_get(json_array_get(miaw_mock_iqs(m), i), "node"); }
static const char *str(const json_t *j, const char *path)
{
    const char *s = miaw_mock_str(j, path);
    return s ? s : "(null)";
}

/* a usync answer with the given <user> nodes (JSON text of an array) */
static int answer_usync(miaw_mock *m, size_t i, const char *users)
{
    char buf[16384];
    snprintf(buf, sizeof buf,
             "{\"tag\":\"iq\",\"attrs\":{\"type\":\"result\"},\"content\":[{\"tag\":\"usync\",\"attrs\":{},"
             "\"content\":[{\"tag\":\"list\",\"attrs\":{},\"content\":%s}]}]}",
             users);
    return miaw_mock_complete_iq(m, i, MIAW_OK, buf, NULL);
}

#define USER_IN(pn, lid)                                                                                              \
    "{\"tag\":\"user\",\"attrs\":{\"jid\":{\"jid\":\"" pn "@s.whatsapp.net\"}},\"content\":[{\"tag\":\"contact\","     \
    "\"attrs\":{\"type\":\"in\"}},{\"tag\":\"lid\",\"attrs\":{\"val\":{\"jid\":\"" lid "@lid\"}}}]}"
#define USER_OUT(pn)                                                                                                  \
    "{\"tag\":\"user\",\"attrs\":{\"jid\":{\"jid\":\"" pn "@s.whatsapp.net\"}},\"content\":[{\"tag\":\"contact\","     \
    "\"attrs\":{\"type\":\"out\"}}]}"

static void test_batch_order_chunks_cache(void)
{
    miaw_mock *m = setup("{\"usync_chunk\":2}");
    miaw_mock_reply r = {0};
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", CP "/check-batch",
                                   "{\"phones\":[\"+1 555 000 0001\",\"12\",\"15550000002\",\"15550000003\","
                                   "\"15550000001\",\"x@g.us\"]}",
                                   &r),
                    0);
    CU_ASSERT_TRUE_FATAL(r.pending);
    /* three unique numbers, chunks of two: two usync queries */
    CU_ASSERT_EQUAL_FATAL(n_iqs(m), 2);
    const json_t *q = iq_node(m, 0);
    CU_ASSERT_STRING_EQUAL(str(q, "attrs.xmlns"), "usync");
    CU_ASSERT_STRING_EQUAL(str(q, "attrs.type"), "get");
    CU_ASSERT_STRING_EQUAL(str(q, "content[0].attrs.context"), "interactive");
    CU_ASSERT_STRING_EQUAL(str(q, "content[0].attrs.mode"), "query");
    CU_ASSERT_STRING_EQUAL(str(q, "content[0].content[0].content[0].tag"), "contact");
    CU_ASSERT_STRING_EQUAL(str(q, "content[0].content[0].content[1].tag"), "lid");
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_get(q, "content[0].content[1].content")), 2);
    CU_ASSERT_STRING_EQUAL(str(q, "content[0].content[1].content[0].content[0].content"), "+15550000001");
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_get(iq_node(m, 1), "content[0].content[1].content")), 1);
    /* the second chunk first; then the first, which leaves 0002 out (not on WhatsApp) */
    CU_ASSERT_EQUAL(answer_usync(m, 1, "[" USER_IN("15550000003", "81000000000003") "]"), MIAW_OK);
    CU_ASSERT_TRUE(r.pending);
    CU_ASSERT_EQUAL(answer_usync(m, 0, "[" USER_IN("15550000001", "81000000000001") "]"), MIAW_OK);
    CU_ASSERT_EQUAL_FATAL(r.status, 200);
    const json_t *d = json_object_get(r.json, "data");
    CU_ASSERT_EQUAL(json_array_size(json_object_get(d, "results")), 6);
    CU_ASSERT_STRING_EQUAL(str(d, "results[0].phone"), "+1 555 000 0001");
    CU_ASSERT_TRUE(json_is_true(miaw_mock_get(d, "results[0].exists")));
    CU_ASSERT_STRING_EQUAL(str(d, "results[0].jid"), "15550000001@s.whatsapp.net");
    CU_ASSERT_STRING_EQUAL(str(d, "results[0].lid"), "81000000000001@lid");
    CU_ASSERT_TRUE(json_is_false(miaw_mock_get(d, "results[1].valid")));
    CU_ASSERT_PTR_NOT_NULL(miaw_mock_str(d, "results[1].error"));
    CU_ASSERT_TRUE(json_is_false(miaw_mock_get(d, "results[2].exists")));
    CU_ASSERT_TRUE(json_is_null(miaw_mock_get(d, "results[2].jid")));
    CU_ASSERT_STRING_EQUAL(str(d, "results[3].lid"), "81000000000003@lid");
    CU_ASSERT_STRING_EQUAL(str(d, "results[4].jid"), "15550000001@s.whatsapp.net");
    CU_ASSERT_TRUE(json_is_false(miaw_mock_get(d, "results[5].valid")));
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(d, "summary.queries")), 2);
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(d, "summary.asked")), 3);
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(d, "summary.exists")), 3);
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(d, "summary.invalid")), 2);
    miaw_mock_reply_clear(&r);

    /* the cache answers without an IQ, until the TTL (3600 s) passes */
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", CP "/check", "{\"phone\":\"15550000003\"}", &r), 200);
    CU_ASSERT_TRUE(json_is_true(miaw_mock_get(r.json, "data.cached")));
    CU_ASSERT_TRUE(json_is_true(miaw_mock_get(r.json, "data.exists")));
    CU_ASSERT_PTR_NULL(miaw_mock_get(r.json, "data.valid")); /* single: no valid flag */
    CU_ASSERT_EQUAL(n_iqs(m), 2);
    miaw_mock_reply_clear(&r);
    miaw_mock_run_timers(m, 3601 * 1000);
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", CP "/check", "{\"phone\":\"15550000003\"}", &r), 0);
    CU_ASSERT_TRUE(r.pending);
    CU_ASSERT_EQUAL(n_iqs(m), 3);
    /* a LID-addressed answer (jid = LID, pn_jid = PN) */
    CU_ASSERT_EQUAL(answer_usync(m, 2, "[{\"tag\":\"user\",\"attrs\":{\"jid\":{\"jid\":\"81000000000003@lid\"},"
                                       "\"pn_jid\":{\"jid\":\"15550000003@s.whatsapp.net\"}},\"content\":[{\"tag\":"
                                       "\"contact\",\"attrs\":{\"type\":\"in\"}}]}]"),
                    MIAW_OK);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_STRING_EQUAL(str(r.json, "data.jid"), "15550000003@s.whatsapp.net");
    CU_ASSERT_STRING_EQUAL(str(r.json, "data.lid"), "81000000000003@lid");
    CU_ASSERT_TRUE(json_is_false(miaw_mock_get(r.json, "data.cached")));
    miaw_mock_reply_clear(&r);

    /* bad single input never reaches WhatsApp */
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", CP "/check", "{\"phone\":\"+0 12\"}", &r), 400);
    CU_ASSERT_STRING_EQUAL(str(r.json, "error.details.field"), "phone");
    CU_ASSERT_EQUAL(n_iqs(m), 3);
    miaw_mock_reply_clear(&r);
    teardown(m);
}

static void test_rate_limit(void)
{
    miaw_mock *m = setup("{\"rate_per_minute\":600,\"rate_burst\":500,\"usync_chunk\":500}");
    miaw_mock_reply r = {0};
    char body[16384];
    size_t o = (size_t)snprintf(body, sizeof body, "{\"phones\":[");
    for (int i = 0; i < 450; i++) o += (size_t)snprintf(body + o, sizeof body - o, "%s\"1666%07d\"", i ? "," : "", i);
    snprintf(body + o, sizeof body - o, "]}");
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", CP "/check-batch", body, &r), 0);
    CU_ASSERT_EQUAL_FATAL(n_iqs(m), 1);
    CU_ASSERT_EQUAL(answer_usync(m, 0, "[]"), MIAW_OK);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.json, "data.summary.exists")), 0);
    miaw_mock_reply_clear(&r);
    /* 50 left, 100 wanted: 50 more at 10/s = 5 s */
    o = (size_t)snprintf(body, sizeof body, "{\"phones\":[");
    for (int i = 0; i < 100; i++) o += (size_t)snprintf(body + o, sizeof body - o, "%s\"1777%07d\"", i ? "," : "", i);
    snprintf(body + o, sizeof body - o, "]}");
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", CP "/check-batch", body, &r), 429);
    CU_ASSERT_STRING_EQUAL(str(r.json, "error.code"), "RATE_LIMITED");
    CU_ASSERT_STRING_EQUAL(str(r.headers, "retry-after"), "5");
    CU_ASSERT_EQUAL(n_iqs(m), 1); /* nothing asked */
    miaw_mock_reply_clear(&r);
    miaw_mock_run_timers(m, 5000);
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", CP "/check-batch", body, &r), 0);
    CU_ASSERT_TRUE(r.pending);
    CU_ASSERT_EQUAL(n_iqs(m), 2);
    /* the client leaves: the IQ is cancelled, nothing answered */
    miaw_mock_abort(m, &r);
    CU_ASSERT_TRUE(r.aborted);
    CU_ASSERT_EQUAL(miaw_mock_complete_iq(m, 1, MIAW_OK, "{\"tag\":\"iq\"}", NULL), MIAW_E_GONE);
    miaw_mock_reply_clear(&r);
    /* an IQ timeout is a 504 */
    miaw_mock_run_timers(m, 10000);
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", CP "/check", "{\"phone\":\"15559990000\"}", &r), 0);
    CU_ASSERT_EQUAL(miaw_mock_complete_iq(m, 2, MIAW_E_TIMEOUT, NULL, "no answer"), MIAW_OK);
    CU_ASSERT_EQUAL(r.status, 504);
    miaw_mock_reply_clear(&r);
    teardown(m);
}

static void test_known_reloaded(void)
{
    miaw_mock *m = setup(NULL);
    CU_ASSERT_EQUAL(miaw_mock_kv_put(m, "contacts", "i1", "known",
                                     "{\"15550000002@s.whatsapp.net\":{\"jid\":\"15550000002@s.whatsapp.net\","
                                     "\"phone\":\"15550000002\",\"pushName\":\"Zed\",\"lastSeen\":1}}"),
                    MIAW_OK);
    miaw_mock_reply r = {0};
    CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", CP, NULL, &r), 200);
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.json, "data.total")), 1);
    CU_ASSERT_STRING_EQUAL(str(r.json, "data.contacts[0].pushName"), "Zed");
    CU_ASSERT_TRUE(json_is_null(miaw_mock_get(r.json, "data.contacts[0].name")));
    miaw_mock_reply_clear(&r);
    teardown(m);
}

static void test_config_refused(void)
{
    miaw_mock *m = miaw_mock_new();
    char err[512] = "";
    CU_ASSERT_PTR_NULL(miaw_mock_load(m, miaw_test_plugin_path("contacts"), "contacts", "{\"rate_burst\":10}", err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "rate_burst"));
    CU_ASSERT_PTR_NULL(miaw_mock_load(m, miaw_test_plugin_path("contacts"), "contacts", "{\"usync_chunk\":\"x\"}", err, sizeof err));
    miaw_mock_free(m);
}

static void test_blocklist_picture_known(void)
{
    miaw_mock *m = setup(NULL);
    miaw_mock_reply r = {0};
    /* learn a LID through a check, then block by phone number: jid = LID, pn_jid = PN */
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", CP "/check", "{\"phone\":\"15550000001\"}", &r), 0);
    CU_ASSERT_EQUAL(answer_usync(m, 0, "[" USER_IN("15550000001", "81000000000001") "]"), MIAW_OK);
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", CP "/15550000001/block", NULL, &r), 0);
    const json_t *q = iq_node(m, 1);
    CU_ASSERT_STRING_EQUAL(str(q, "attrs.xmlns"), "blocklist");
    CU_ASSERT_STRING_EQUAL(str(q, "attrs.type"), "set");
    CU_ASSERT_STRING_EQUAL(str(q, "content[0].attrs.action"), "block");
    CU_ASSERT_STRING_EQUAL(str(q, "content[0].attrs.jid.jid"), "81000000000001@lid");
    CU_ASSERT_STRING_EQUAL(str(q, "content[0].attrs.pn_jid.jid"), "15550000001@s.whatsapp.net");
    CU_ASSERT_EQUAL(miaw_mock_complete_iq(m, 1, MIAW_OK, "{\"tag\":\"iq\",\"attrs\":{\"type\":\"result\"}}", NULL), MIAW_OK);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_TRUE(json_is_true(miaw_mock_get(r.json, "data.blocked")));
    miaw_mock_reply_clear(&r);
    /* the list: a LID item with its phone number, a PN item */
    CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", CP "/blocklist", NULL, &r), 0);
    CU_ASSERT_EQUAL(miaw_mock_complete_iq(m, 2, MIAW_OK,
                                          "{\"tag\":\"iq\",\"content\":[{\"tag\":\"list\",\"content\":["
                                          "{\"tag\":\"item\",\"attrs\":{\"jid\":{\"jid\":\"81000000000001@lid\"},"
                                          "\"pn_jid\":{\"jid\":\"15550000001@s.whatsapp.net\"}}},"
                                          "{\"tag\":\"item\",\"attrs\":{\"jid\":{\"jid\":\"15550000002@s.whatsapp.net\"}}}]}]}",
                                          NULL),
                    MIAW_OK);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.json, "data.total")), 2);
    CU_ASSERT_STRING_EQUAL(str(r.json, "data.blocklist[0].jid"), "15550000001@s.whatsapp.net");
    CU_ASSERT_STRING_EQUAL(str(r.json, "data.blocklist[0].lid"), "81000000000001@lid");
    CU_ASSERT_STRING_EQUAL(str(r.json, "data.blocklist[1].phone"), "15550000002");
    miaw_mock_reply_clear(&r);
    /* picture: 404 from WhatsApp is NOT_FOUND; a result gives url and id */
    CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", CP "/15550000002/picture?type=preview", NULL, &r), 0);
    q = iq_node(m, 3);
    CU_ASSERT_STRING_EQUAL(str(q, "attrs.xmlns"), "w:profile:picture");
    CU_ASSERT_STRING_EQUAL(str(q, "attrs.target.jid"), "15550000002@s.whatsapp.net");
    CU_ASSERT_STRING_EQUAL(str(q, "content[0].attrs.type"), "preview");
    CU_ASSERT_EQUAL(miaw_mock_complete_iq(m, 3, MIAW_E_IO,
                                          "{\"tag\":\"iq\",\"attrs\":{\"type\":\"error\"},\"content\":[{\"tag\":"
                                          "\"error\",\"attrs\":{\"code\":\"404\",\"text\":\"item-not-found\"}}]}",
                                          "404 item-not-found"),
                    MIAW_OK);
    CU_ASSERT_EQUAL(r.status, 404);
    CU_ASSERT_STRING_EQUAL(str(r.json, "error.code"), "NOT_FOUND");
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", CP "/15550000002/picture", NULL, &r), 0);
    CU_ASSERT_EQUAL(miaw_mock_complete_iq(m, 4, MIAW_OK,
                                          "{\"tag\":\"iq\",\"content\":[{\"tag\":\"picture\",\"attrs\":{\"id\":\"7\","
                                          "\"url\":\"https://pps.example/7.jpg\",\"type\":\"image\"}}]}",
                                          NULL),
                    MIAW_OK);
    CU_ASSERT_STRING_EQUAL(str(r.json, "data.url"), "https://pps.example/7.jpg");
    CU_ASSERT_STRING_EQUAL(str(r.json, "data.id"), "7");
    miaw_mock_reply_clear(&r);
    /* known contacts from message events: own messages and nameless ones ignored */
    miaw_mock_emit(m, "message", "i1",
                   "{\"from\":\"15550000002@s.whatsapp.net\",\"senderPhone\":\"15550000002\",\"senderName\":\"Zed\","
                   "\"fromMe\":false}");
    miaw_mock_emit(m, "message", "i1", "{\"from\":\"15550000009@s.whatsapp.net\",\"senderName\":\"Me\",\"fromMe\":true}");
    miaw_mock_emit(m, "message", "i1", "{\"from\":\"15550000008@s.whatsapp.net\",\"fromMe\":false}");
    miaw_mock_emit(m, "message", "i1",
                   "{\"from\":\"81000000000005:2@lid\",\"senderPhone\":\"15550000005\",\"senderName\":\"Amy\","
                   "\"fromMe\":false}");
    CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", CP, NULL, &r), 200);
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.json, "data.total")), 2);
    CU_ASSERT_STRING_EQUAL(str(r.json, "data.contacts[0].pushName"), "Amy"); /* by name */
    CU_ASSERT_STRING_EQUAL(str(r.json, "data.contacts[0].jid"), "15550000005@s.whatsapp.net");
    CU_ASSERT_STRING_EQUAL(str(r.json, "data.contacts[1].pushName"), "Zed");
    miaw_mock_reply_clear(&r);
    /* kept in kv within 2 s, and read back by a fresh load of the plugin */
    CU_ASSERT_PTR_NULL(miaw_mock_kv(m, "contacts", "i1", "known"));
    miaw_mock_run_timers(m, 2000);
    const json_t *kv = miaw_mock_kv(m, "contacts", "i1", "known");
    CU_ASSERT_EQUAL(json_object_size(kv), 2);
    CU_ASSERT_STRING_EQUAL(str(json_object_get(kv, "15550000002@s.whatsapp.net"), "pushName"), "Zed");
    /* bad JIDs never reach WhatsApp */
    size_t before = n_iqs(m);
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", CP "/120363000000000001@g.us/block", NULL, &r), 400);
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", CP "/abc/picture", NULL, &r), 400);
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(n_iqs(m), before);
    teardown(m);
}

/* GET /contacts/{jid}: one usync (devices, lid, status, picture, business) and one
 * picture IQ; the business name comes out of the verified_name certificate */
static void test_info(void)
{
    miaw_mock *m = setup(NULL);
    miaw_mock_reply r = {0};
    CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", CP "/+1%20555%20000%200007", NULL, &r), 0);
    CU_ASSERT_EQUAL_FATAL(n_iqs(m), 2);
    const json_t *q = iq_node(m, 0);
    CU_ASSERT_STRING_EQUAL(str(q, "attrs.xmlns"), "usync");
    CU_ASSERT_STRING_EQUAL(str(q, "content[0].attrs.context"), "background");
    CU_ASSERT_STRING_EQUAL(str(q, "content[0].content[1].content[0].attrs.jid.jid"), "15550000007@s.whatsapp.net");
    CU_ASSERT_STRING_EQUAL(str(iq_node(m, 1), "attrs.target.jid"), "15550000007@s.whatsapp.net");
    CU_ASSERT_EQUAL(miaw_mock_complete_iq(m, 1, MIAW_OK,
                                          "{\"tag\":\"iq\",\"content\":[{\"tag\":\"picture\",\"attrs\":{\"id\":\"4\","
                                          "\"url\":\"https://pps.example/4.jpg\",\"type\":\"preview\"}}]}",
                                          NULL),
                    MIAW_OK);
    CU_ASSERT_TRUE(r.pending);
    CU_ASSERT_EQUAL(answer_usync(m, 0,
                                 "[{\"tag\":\"user\",\"attrs\":{\"jid\":{\"jid\":\"15550000007@s.whatsapp.net\"}},"
                                 "\"content\":[{\"tag\":\"devices\",\"content\":[{\"tag\":\"device-list\",\"content\":"
                                 "[{\"tag\":\"device\",\"attrs\":{\"id\":\"0\"}}]}]},{\"tag\":\"lid\",\"attrs\":{\"val\":"
                                 "{\"jid\":\"81000000000007@lid\"}}},{\"tag\":\"status\",\"attrs\":{\"t\":\"1735118400\"},"
                                 "\"content\":{\"b64\":\"SGkgw6k=\"}},{\"tag\":\"picture\",\"attrs\":{\"id\":\"4\"}},"
                                 "{\"tag\":\"business\",\"content\":[{\"tag\":\"verified_name\",\"attrs\":{\"v\":\"1\"},"
                                 "\"content\":{\"b64\":\"Cg4IARIEc21iOiIEQWNtZRICqrs=\"}}]}]}]"),
                    MIAW_OK);
    CU_ASSERT_EQUAL(r.status, 200);
    const json_t *d = json_object_get(r.json, "data");
    CU_ASSERT_STRING_EQUAL(str(d, "jid"), "15550000007@s.whatsapp.net");
    CU_ASSERT_STRING_EQUAL(str(d, "phone"), "15550000007");
    CU_ASSERT_STRING_EQUAL(str(d, "lid"), "81000000000007@lid");
    CU_ASSERT_TRUE(json_is_true(json_object_get(d, "exists")));
    CU_ASSERT_STRING_EQUAL(str(d, "about"), "Hi \xc3\xa9");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(d, "aboutSetAt")), 1735118400);
    CU_ASSERT_TRUE(json_is_true(json_object_get(d, "isBusiness")));
    CU_ASSERT_STRING_EQUAL(str(d, "verifiedName"), "Acme");
    CU_ASSERT_STRING_EQUAL(str(d, "picture.url"), "https://pps.example/4.jpg");
    miaw_mock_reply_clear(&r);
    /* a truncated certificate: no name, no crash */
    CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", CP "/15550000007", NULL, &r), 0);
    CU_ASSERT_EQUAL(miaw_mock_complete_iq(m, 3, MIAW_E_IO, "{\"tag\":\"iq\",\"content\":[{\"tag\":\"error\","
                                          "\"attrs\":{\"code\":\"401\"}}]}", "401 not-authorized"), MIAW_OK);
    CU_ASSERT_EQUAL(answer_usync(m, 2, "[{\"tag\":\"user\",\"content\":[{\"tag\":\"business\",\"content\":[{\"tag\":"
                                       "\"verified_name\",\"content\":{\"b64\":\"Cg4IARIE\"}}]}]}]"),
                    MIAW_OK);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_TRUE(json_is_null(miaw_mock_get(r.json, "data.verifiedName")));
    CU_ASSERT_TRUE(json_is_null(miaw_mock_get(r.json, "data.picture")));
    CU_ASSERT_TRUE(json_is_false(miaw_mock_get(r.json, "data.exists")));
    miaw_mock_reply_clear(&r);
    teardown(m);
}

MIAW_TESTS("plugin_contacts", MIAW_T(test_batch_order_chunks_cache), MIAW_T(test_rate_limit), MIAW_T(test_config_refused), MIAW_T(test_known_reloaded),
           MIAW_T(test_blocklist_picture_known), MIAW_T(test_info))
