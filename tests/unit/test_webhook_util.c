/* tests/unit/test_webhook_util.c - webhook helpers and outbox store: the body serializer
 * against JSON.stringify(JSON.parse(x)) outputs computed by Node, the HMAC signature
 * against a Node-computed vector, event ids, the retry schedule, URL checks, and the
 * outbox store's lifecycle (insert, lane head, attempts, dead letter, replay, purge). */
#include "harness.h"

#include "base/util.h"
#include "webhooks/webhook_json.h"
#include "webhooks/webhook_store.h"
#include "webhooks/webhook_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* {input, what Node's JSON.stringify(JSON.parse(input)) prints} - generated with node 20 */
static const char *CASES[][2] = {
    {"{\"b\":1,\"a\":2,\"10\":3,\"2\":4,\"01\":5,\"-1\":6,\"4294967294\":7,\"4294967295\":8}",
     "{\"2\":4,\"10\":3,\"4294967294\":7,\"b\":1,\"a\":2,\"01\":5,\"-1\":6,\"4294967295\":8}"},
    {"[0.1,1.5,-0.0,1e21,1e-7,123456789012345680000,0.000001,1.0,2.5e-5,100,1e300,-3.14159,5e-324,0.30000000000000004,1e-6,1.7976931348623157e308]",
     "[0.1,1.5,0,1e+21,1e-7,123456789012345680000,0.000001,1,0.000025,100,1e+300,-3.14159,5e-324,0.30000000000000004,0.000001,1.7976931348623157e+308]"},
    {"{\"s\":\"quote\\\" back\\\\ nl\\n tab\\t cr\\r bs\\b ff\\f ctl\\u0001\\u001f del\\u007f slash/ uni\\u00e9\\u4e2d\\ud83d\\ude00 ls\\u2028\"}",
     "{\"s\":\"quote\\\" back\\\\ nl\\n tab\\t cr\\r bs\\b ff\\f ctl\\u0001\\u001f del\177 slash/ uni\303\251\344\270\255\360\237\230\200 ls\342\200\250\"}"},
    {"{\"n\":null,\"t\":true,\"f\":false,\"e\":{},\"a\":[],\"x\":[{\"z\":1,\"y\":[1,\"2\",{\"0\":0,\"k\":\"v\"}]}]}",
     "{\"n\":null,\"t\":true,\"f\":false,\"e\":{},\"a\":[],\"x\":[{\"z\":1,\"y\":[1,\"2\",{\"0\":0,\"k\":\"v\"}]}]}"},
    {"{\"big\":9007199254740993,\"neg\":-9007199254740993,\"max\":9007199254740992,\"i\":-42}",
     "{\"big\":9007199254740992,\"neg\":-9007199254740992,\"max\":9007199254740992,\"i\":-42}"},
    {"{\"__proto__\":1,\"constructor\":2}",
     "{\"__proto__\":1,\"constructor\":2}"},
};

static void test_json_matches_node(void)
{
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        json_error_t je;
        json_t *v = json_loads(CASES[i][0], JSON_DECODE_ANY, &je);
        if (!v) v = json_loads(CASES[i][0], JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &je);
        CU_ASSERT_PTR_NOT_NULL_FATAL(v);
        size_t len = 0;
        char *out = miaw_wh_json_dumps(v, &len);
        CU_ASSERT_PTR_NOT_NULL_FATAL(out);
        CU_ASSERT_EQUAL(len, strlen(CASES[i][1]));
        if (strcmp(out, CASES[i][1]) != 0) fprintf(stderr, "\ncase %zu:\n got  %s\n want %s\n", i, out, CASES[i][1]);
        CU_ASSERT_STRING_EQUAL(out, CASES[i][1]);
        free(out);
        json_decref(v);
    }
}

static void test_json_embedded_nul_and_numbers(void)
{
    json_t *v = json_pack("{s:s#,s:f,s:f,s:f}", "k", "a\0b", (int)3, "x", 1e-7, "y", 123.0, "z", -1.5e-10);
    char *out = miaw_wh_json_dumps(v, NULL);
    CU_ASSERT_STRING_EQUAL(out, "{\"k\":\"a\\u0000b\",\"x\":1e-7,\"y\":123,\"z\":-1.5e-10}");
    free(out);
    json_decref(v);
    char num[40];
    miaw_wh_js_number(num, sizeof num, 1e21);
    CU_ASSERT_STRING_EQUAL(num, "1e+21");
    miaw_wh_js_number(num, sizeof num, 999999999999999900000.0);
    CU_ASSERT_STRING_EQUAL(num, "999999999999999900000");
    miaw_wh_js_number(num, sizeof num, 0.1 + 0.2);
    CU_ASSERT_STRING_EQUAL(num, "0.30000000000000004");
}

static void test_signature_vector(void)
{
    char sig[72];
    const char *body = "{\"event\":\"message\"}";
    miaw_wh_sign(sig, "secret", "1735118400000", body, strlen(body));
    /* crypto.createHmac('sha256', 'secret' + '1735118400000').update(body).digest('hex') */
    CU_ASSERT_STRING_EQUAL(sig, "sha256=b04e09cff218130381bc24fb86d2695c540a876d0a340e5cd684a1c6b086a60c");
}

static void test_event_ids(void)
{
    char a[31], b[31], c[31];
    CU_ASSERT_EQUAL(miaw_wh_event_id(a, 1735118400000), 0);
    CU_ASSERT_EQUAL(miaw_wh_event_id(b, 1735118400000), 0);
    CU_ASSERT_EQUAL(miaw_wh_event_id(c, 1735118400001), 0);
    CU_ASSERT_EQUAL(strlen(a), 30);
    CU_ASSERT_EQUAL(strncmp(a, "evt_", 4), 0);
    CU_ASSERT_STRING_NOT_EQUAL(a, b);
    CU_ASSERT_EQUAL(strncmp(a, b, 14), 0); /* same ms: same time prefix */
    CU_ASSERT(strcmp(c, a) > 0 && strcmp(c, b) > 0); /* later ms sorts after */
    for (const char *p = a + 4; *p; p++) CU_ASSERT_PTR_NOT_NULL(strchr("0123456789ABCDEFGHJKMNPQRSTVWXYZ", *p));
}

static void test_retry_schedule(void)
{
    /* the spec's table with WEBHOOK_RETRY_DELAY_MS=60000 and no jitter (rnd = 0.5) */
    CU_ASSERT_EQUAL(miaw_wh_retry_delay(1, 60000, 0.5), 0);
    CU_ASSERT_EQUAL(miaw_wh_retry_delay(2, 60000, 0.5), 60000);
    CU_ASSERT_EQUAL(miaw_wh_retry_delay(3, 60000, 0.5), 300000);
    CU_ASSERT_EQUAL(miaw_wh_retry_delay(4, 60000, 0.5), 900000);
    CU_ASSERT_EQUAL(miaw_wh_retry_delay(5, 60000, 0.5), 3600000);
    CU_ASSERT_EQUAL(miaw_wh_retry_delay(9, 60000, 0.5), 3600000);
    /* jitter stays within +-10 % */
    CU_ASSERT_EQUAL(miaw_wh_retry_delay(2, 1000, 0.0), 900);
    CU_ASSERT(miaw_wh_retry_delay(2, 1000, 0.9999) <= 1100 && miaw_wh_retry_delay(2, 1000, 0.9999) > 1090);
    /* default WEBHOOK_MAX_RETRIES=6 is the "6+ give up" row: 5 attempts */
    CU_ASSERT_EQUAL(miaw_wh_max_attempts(6), 5);
    CU_ASSERT_EQUAL(miaw_wh_max_attempts(3), 2);
    CU_ASSERT_EQUAL(miaw_wh_max_attempts(1), 1);
}

static void test_urls(void)
{
    char k[300];
    CU_ASSERT(miaw_wh_url_valid("http://127.0.0.1:8080/hook"));
    CU_ASSERT(miaw_wh_url_valid("https://Example.com"));
    CU_ASSERT(miaw_wh_url_valid("http://[::1]:9000/x"));
    CU_ASSERT(!miaw_wh_url_valid("ftp://example.com/"));
    CU_ASSERT(!miaw_wh_url_valid("http://"));
    CU_ASSERT(!miaw_wh_url_valid("http:///path"));
    CU_ASSERT(!miaw_wh_url_valid("http://exa mple.com/"));
    CU_ASSERT(!miaw_wh_url_valid("http://example.com:99999/"));
    CU_ASSERT(!miaw_wh_url_valid("not a url"));
    CU_ASSERT_EQUAL(miaw_wh_url_hostkey("https://user:pw@Example.COM/x?y", k, sizeof k), 0);
    CU_ASSERT_STRING_EQUAL(k, "example.com:443");
    CU_ASSERT_EQUAL(miaw_wh_url_hostkey("http://127.0.0.1:8080", k, sizeof k), 0);
    CU_ASSERT_STRING_EQUAL(k, "127.0.0.1:8080");
    CU_ASSERT_EQUAL(miaw_wh_url_hostkey("http://[::1]/", k, sizeof k), 0);
    CU_ASSERT_STRING_EQUAL(k, "[::1]:80");
}

static void fill(miaw_wh_row *r, const char *inst, const char *url, int64_t seq)
{
    memset(r, 0, sizeof *r);
    miaw_wh_event_id(r->event_id, 1000 + seq);
    snprintf(r->instance, sizeof r->instance, "%s", inst);
    snprintf(r->event, sizeof r->event, "test");
    r->url = (char *)url;
    r->body = (char *)"{\"event\":\"test\"}";
    r->body_len = strlen(r->body);
    r->seq = seq;
    r->created_at = r->next_at = 1000 + seq;
}

static void test_store_lifecycle(void)
{
    sqlite3 *db;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(":memory:", &db), SQLITE_OK);
    miaw_wh_store *s = miaw_wh_store_open(db);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(miaw_wh_store_next_seq(s, "a"), 1);
    CU_ASSERT_EQUAL(miaw_wh_store_next_seq(s, "a"), 2);
    CU_ASSERT_EQUAL(miaw_wh_store_next_seq(s, "b"), 1);
    miaw_wh_row r1, r2, r3;
    fill(&r1, "a", "http://h/1", 1);
    fill(&r2, "a", "http://h/1", 2);
    fill(&r3, "b", "http://h/1", 1);
    CU_ASSERT_EQUAL(miaw_wh_store_insert(s, &r1), 0);
    CU_ASSERT_EQUAL(miaw_wh_store_insert(s, &r2), 0);
    CU_ASSERT_EQUAL(miaw_wh_store_insert(s, &r3), 0);
    CU_ASSERT_NOT_EQUAL(miaw_wh_store_insert(s, &r1), 0); /* same event + url twice */
    int64_t id = 0, at = 0;
    CU_ASSERT_EQUAL(miaw_wh_store_head(s, "a", "http://h/1", &id, &at), 1);
    CU_ASSERT_EQUAL(id, r1.id);
    CU_ASSERT_EQUAL(miaw_wh_store_head(s, "a", "http://h/2", &id, &at), 0);
    /* a failed attempt keeps the head, with the new due time */
    CU_ASSERT_EQUAL(miaw_wh_store_record(s, &r1, MIAW_WH_PENDING, 1, 5000, 500, "HTTP 500", 3, 1100), 0);
    CU_ASSERT_EQUAL(miaw_wh_store_head(s, "a", "http://h/1", &id, &at), 1);
    CU_ASSERT_EQUAL(id, r1.id);
    CU_ASSERT_EQUAL(at, 5000);
    /* dead letter: the next row becomes the head */
    CU_ASSERT_EQUAL(miaw_wh_store_record(s, &r1, MIAW_WH_FAILED, 2, 5000, 500, "HTTP 500", 3, 5100), 0);
    CU_ASSERT_EQUAL(miaw_wh_store_head(s, "a", "http://h/1", &id, &at), 1);
    CU_ASSERT_EQUAL(id, r2.id);
    CU_ASSERT_EQUAL(miaw_wh_store_record(s, &r2, MIAW_WH_DELIVERED, 1, 0, 200, NULL, 2, 5200), 0);
    CU_ASSERT_EQUAL(miaw_wh_store_head(s, "a", "http://h/1", &id, &at), 0);
    json_t *c = miaw_wh_store_counts(s, "a");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(c, "queueDepth")), 0);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(c, "delivered")), 1);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(c, "failed")), 1);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(c, "deadLetters")), 1);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(c, "lastError"), "message")), "HTTP 500");
    json_decref(c);
    json_t *items = json_array();
    miaw_wh_store_list(s, "a", MIAW_WH_FAILED, 0, 10, 1, items);
    CU_ASSERT_EQUAL(json_array_size(items), 1);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(items, 0), "eventId")), r1.event_id);
    CU_ASSERT_PTR_NOT_NULL(json_object_get(json_array_get(items, 0), "payload"));
    json_decref(items);
    /* replay: pending again, same id, fresh attempts; a second replay conflicts */
    CU_ASSERT_EQUAL(miaw_wh_store_retry(s, "a", r1.event_id, NULL, 6000), 1);
    CU_ASSERT_EQUAL(miaw_wh_store_retry(s, "a", r1.event_id, NULL, 6000), -2);
    CU_ASSERT_EQUAL(miaw_wh_store_retry(s, "a", "evt_nope", NULL, 6000), 0);
    CU_ASSERT_EQUAL(miaw_wh_store_retry(s, "b", r1.event_id, NULL, 6000), 0); /* other instance */
    miaw_wh_row back = {0};
    CU_ASSERT_EQUAL(miaw_wh_store_head(s, "a", "http://h/1", &id, &at), 1);
    CU_ASSERT_EQUAL(miaw_wh_store_load(s, id, &back), 1);
    CU_ASSERT_STRING_EQUAL(back.event_id, r1.event_id);
    CU_ASSERT_EQUAL(back.attempts, 0);
    CU_ASSERT_EQUAL(back.seq, 1);
    CU_ASSERT_STRING_EQUAL(back.body, "{\"event\":\"test\"}");
    miaw_wh_row_clear(&back);
    /* purge removes one instance only */
    CU_ASSERT_EQUAL(miaw_wh_store_purge(s, "a"), 0);
    CU_ASSERT_EQUAL(miaw_wh_store_head(s, "a", "http://h/1", &id, &at), 0);
    CU_ASSERT_EQUAL(miaw_wh_store_head(s, "b", "http://h/1", &id, &at), 1);
    CU_ASSERT_EQUAL(miaw_wh_store_next_seq(s, "a"), 1);
    miaw_wh_store_close(s);
    sqlite3_close(db);
}

MIAW_TESTS("webhook_util", MIAW_T(test_json_matches_node), MIAW_T(test_json_embedded_nul_and_numbers),
           MIAW_T(test_signature_vector), MIAW_T(test_event_ids), MIAW_T(test_retry_schedule), MIAW_T(test_urls),
           MIAW_T(test_store_lifecycle))
