/* tests/unit/test_plugin_presence.c - the presence plugin (build/plugins/presence.so) on
 * the SDK's mock host (miaw/mock_host.h), no server: the stanzas its routes send
 * (<presence> with and without the learned push name, <chatstate> composing / recording /
 * paused to users and groups, <presence type="subscribe">, <receipt type="read"> with the
 * earlier unread ids in <list>, one per sender in groups), the read marks kept in kv (no
 * receipt twice), bad input refused before anything is sent (bad presence, bad JIDs,
 * unknown or own message ids, a disconnected instance), and the `presence` events made of
 * incoming <presence> and <chatstate> stanzas (lastSeen, groups, own chat states and
 * malformed stanzas ignored), and the push name learned from <success display_name> and
 * the copies of own messages. */
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

#define IP "/instances/i1"
#define BOB "15550002222@s.whatsapp.net"
#define GJID "120363000000000001@g.us"

static miaw_mock *setup(void)
{
    miaw_mock *m = miaw_mock_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    char err[512] = "";
    miaw_plugin *p = miaw_mock_load(m, miaw_test_plugin_path("presence"), "presence", NULL, err, sizeof err);
    if (!p) fprintf(stderr, "\nload %s: %s\n", miaw_test_plugin_path("presence"), err);
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

static const char *str(const json_t *j, const char *path)
{
    const char *s = miaw_mock_str(j, path);
    return s ? s : "(null)";
}
static size_t n_stanzas(miaw_mock *m) { return json_array_size(miaw_mock_stanzas(m)); }
static const json_t *stanza(miaw_mock *m, size_t i)
{
    return json_object_get(json_array_get(miaw_mock_stanzas(m), i), "node");
}

/* call and return the HTTP status (reply cleared) */
static int call(miaw_mock *m, const char *method, const char *path, const char *body, json_t **data)
{
    miaw_mock_reply r = {0};
    int st = miaw_mock_call(m, method, path, body, &r);
    CU_ASSERT_EQUAL(st, r.status);
    if (data) *data = json_incref(json_object_get(r.json, st < 300 ? "data" : "error"));
    miaw_mock_reply_clear(&r);
    return st;
}

static void test_presence_route(void)
{
    miaw_mock *m = setup();
    json_t *d = NULL;
    CU_ASSERT_EQUAL(call(m, "POST", IP "/presence", "{\"presence\":\"available\"}", &d), 200);
    CU_ASSERT_STRING_EQUAL(str(d, "presence"), "available");
    CU_ASSERT_TRUE(json_is_null(json_object_get(d, "name")));
    json_decref(d);
    CU_ASSERT_EQUAL(n_stanzas(m), 1);
    CU_ASSERT_STRING_EQUAL(str(stanza(m, 0), "tag"), "presence");
    CU_ASSERT_STRING_EQUAL(str(stanza(m, 0), "attrs.type"), "available");
    CU_ASSERT_PTR_NULL(miaw_mock_get(stanza(m, 0), "attrs.name"));
    /* with a known push name: available carries it, unavailable does not */
    CU_ASSERT_EQUAL(miaw_mock_kv_put(m, "presence", "i1", "pushName", "{\"name\":\"Ada\"}"), MIAW_OK);
    CU_ASSERT_EQUAL(call(m, "POST", IP "/presence", "{\"presence\":\"available\"}", &d), 200);
    CU_ASSERT_STRING_EQUAL(str(d, "name"), "Ada");
    json_decref(d);
    CU_ASSERT_STRING_EQUAL(str(stanza(m, 1), "attrs.name"), "Ada");
    CU_ASSERT_EQUAL(call(m, "POST", IP "/presence", "{\"presence\":\"unavailable\"}", NULL), 200);
    CU_ASSERT_STRING_EQUAL(str(stanza(m, 2), "attrs.type"), "unavailable");
    CU_ASSERT_PTR_NULL(miaw_mock_get(stanza(m, 2), "attrs.name"));
    /* bad input: nothing sent */
    CU_ASSERT_EQUAL(call(m, "POST", IP "/presence", "{\"presence\":\"away\"}", &d), 400);
    CU_ASSERT_STRING_EQUAL(str(d, "details.field"), "presence");
    json_decref(d);
    CU_ASSERT_EQUAL(call(m, "POST", IP "/presence", "{}", NULL), 400);
    CU_ASSERT_EQUAL(call(m, "POST", IP "/presence", "{\"presence\":", NULL), 400);
    CU_ASSERT_EQUAL(call(m, "POST", "/instances/nope/presence", "{\"presence\":\"available\"}", &d), 404);
    CU_ASSERT_STRING_EQUAL(str(d, "code"), "INSTANCE_NOT_FOUND");
    json_decref(d);
    CU_ASSERT_EQUAL(n_stanzas(m), 3);
    /* not connected: 503 */
    CU_ASSERT_EQUAL(miaw_mock_set_connected(m, "i1", 0), MIAW_OK);
    CU_ASSERT_EQUAL(call(m, "POST", IP "/presence", "{\"presence\":\"available\"}", &d), 503);
    CU_ASSERT_STRING_EQUAL(str(d, "code"), "INSTANCE_NOT_CONNECTED");
    json_decref(d);
    teardown(m);
}

static void test_chatstates(void)
{
    miaw_mock *m = setup();
    json_t *d = NULL;
    CU_ASSERT_EQUAL(call(m, "POST", IP "/typing/+1%20555%20000-2222", NULL, &d), 200);
    CU_ASSERT_STRING_EQUAL(str(d, "to"), BOB);
    CU_ASSERT_STRING_EQUAL(str(d, "state"), "composing");
    json_decref(d);
    const json_t *n = stanza(m, 0);
    CU_ASSERT_STRING_EQUAL(str(n, "tag"), "chatstate");
    CU_ASSERT_STRING_EQUAL(str(n, "attrs.to.jid"), BOB);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(n, "content")), 1);
    CU_ASSERT_STRING_EQUAL(str(n, "content[0].tag"), "composing");
    CU_ASSERT_PTR_NULL(miaw_mock_get(n, "content[0].attrs.media"));
    CU_ASSERT_EQUAL(call(m, "POST", IP "/recording/" GJID, NULL, &d), 200);
    CU_ASSERT_STRING_EQUAL(str(d, "state"), "recording");
    json_decref(d);
    n = stanza(m, 1);
    CU_ASSERT_STRING_EQUAL(str(n, "attrs.to.jid"), GJID);
    CU_ASSERT_STRING_EQUAL(str(n, "content[0].tag"), "composing");
    CU_ASSERT_STRING_EQUAL(str(n, "content[0].attrs.media"), "audio");
    CU_ASSERT_EQUAL(call(m, "POST", IP "/stop-typing/" BOB, NULL, NULL), 200);
    CU_ASSERT_STRING_EQUAL(str(stanza(m, 2), "content[0].tag"), "paused");
    /* bad `to`: 400 naming it, nothing sent */
    const char *bad[] = {IP "/typing/abc", IP "/recording/12", IP "/stop-typing/x@y", IP "/typing/status@broadcast"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CU_ASSERT_EQUAL(call(m, "POST", bad[i], NULL, &d), 400);
        CU_ASSERT_STRING_EQUAL(str(d, "details.field"), "to");
        json_decref(d);
    }
    CU_ASSERT_EQUAL(n_stanzas(m), 3);
    teardown(m);
}

static void test_subscribe(void)
{
    miaw_mock *m = setup();
    json_t *d = NULL;
    CU_ASSERT_EQUAL(call(m, "POST", IP "/subscribe/15550002222", NULL, &d), 200);
    CU_ASSERT_STRING_EQUAL(str(d, "jid"), BOB);
    CU_ASSERT_TRUE(json_is_true(json_object_get(d, "subscribed")));
    json_decref(d);
    CU_ASSERT_STRING_EQUAL(str(stanza(m, 0), "tag"), "presence");
    CU_ASSERT_STRING_EQUAL(str(stanza(m, 0), "attrs.type"), "subscribe");
    CU_ASSERT_STRING_EQUAL(str(stanza(m, 0), "attrs.to.jid"), BOB);
    CU_ASSERT_EQUAL(call(m, "POST", IP "/subscribe/" GJID, NULL, &d), 400);
    CU_ASSERT_STRING_EQUAL(str(d, "details.field"), "jid");
    json_decref(d);
    CU_ASSERT_EQUAL(call(m, "POST", IP "/subscribe/nobody", NULL, NULL), 400);
    CU_ASSERT_EQUAL(n_stanzas(m), 1);
    teardown(m);
}

static void put(miaw_mock *m, const char *id, const char *chat, const char *sender, int from_me, long ts)
{
    char buf[512];
    snprintf(buf, sizeof buf,
             "{\"chat\":\"%s\",\"sender\":\"%s\",\"fromMe\":%s,\"timestamp\":%ld,\"type\":\"text\",\"status\":"
             "\"received\",\"text\":\"x\"}",
             chat, sender, from_me ? "true" : "false", ts);
    CU_ASSERT_EQUAL(miaw_mock_put_message(m, "i1", id, buf), MIAW_OK);
}

static void test_read(void)
{
    miaw_mock *m = setup();
    put(m, "A1", BOB, BOB, 0, 100);
    put(m, "MINE", BOB, "15550001111@s.whatsapp.net", 1, 100);
    put(m, "A2", BOB, BOB, 0, 100);
    put(m, "A3", BOB, BOB, 0, 101);
    put(m, "OTHER", "15550003333@s.whatsapp.net", "15550003333@s.whatsapp.net", 0, 99);
    json_t *d = NULL;
    CU_ASSERT_EQUAL(call(m, "POST", IP "/read/A2", NULL, &d), 200);
    CU_ASSERT_STRING_EQUAL(str(d, "chat"), BOB);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(d, "read")), 2);
    CU_ASSERT_STRING_EQUAL(str(d, "read[0]"), "A2");
    CU_ASSERT_STRING_EQUAL(str(d, "read[1]"), "A1");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(d, "receipts")), 1);
    json_decref(d);
    CU_ASSERT_EQUAL(n_stanzas(m), 1);
    const json_t *n = stanza(m, 0);
    CU_ASSERT_STRING_EQUAL(str(n, "tag"), "receipt");
    CU_ASSERT_STRING_EQUAL(str(n, "attrs.type"), "read");
    CU_ASSERT_STRING_EQUAL(str(n, "attrs.id"), "A2");
    CU_ASSERT_STRING_EQUAL(str(n, "attrs.to.jid"), BOB);
    CU_ASSERT_PTR_NULL(miaw_mock_get(n, "attrs.participant"));
    CU_ASSERT_PTR_NOT_NULL(miaw_mock_get(n, "attrs.t"));
    CU_ASSERT_STRING_EQUAL(str(n, "content[0].tag"), "list");
    CU_ASSERT_STRING_EQUAL(str(n, "content[0].content[0].attrs.id"), "A1");
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_get(n, "content[0].content")), 1);
    /* the mark: t 100 with both ids */
    const json_t *mark = miaw_mock_kv(m, "presence", "i1", "read:" BOB);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(mark, "t")), 100);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(mark, "ids")), 2);
    /* again, or older: nothing sent */
    CU_ASSERT_EQUAL(call(m, "POST", IP "/read/A1", NULL, &d), 200);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(d, "read")), 0);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(d, "receipts")), 0);
    json_decref(d);
    CU_ASSERT_EQUAL(call(m, "POST", IP "/read/A2", NULL, NULL), 200);
    CU_ASSERT_EQUAL(n_stanzas(m), 1);
    /* the newer one alone; no list */
    CU_ASSERT_EQUAL(call(m, "POST", IP "/read/A3", NULL, &d), 200);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(d, "read")), 1);
    json_decref(d);
    CU_ASSERT_EQUAL(n_stanzas(m), 2);
    CU_ASSERT_STRING_EQUAL(str(stanza(m, 1), "attrs.id"), "A3");
    CU_ASSERT_PTR_NULL(miaw_mock_get(stanza(m, 1), "content"));
    /* bad ids */
    CU_ASSERT_EQUAL(call(m, "POST", IP "/read/NOPE", NULL, &d), 404);
    CU_ASSERT_STRING_EQUAL(str(d, "code"), "NOT_FOUND");
    CU_ASSERT_STRING_EQUAL(str(d, "details.field"), "messageId");
    json_decref(d);
    char longid[200];
    snprintf(longid, sizeof longid, IP "/read/%0150d", 7);
    CU_ASSERT_EQUAL(call(m, "POST", longid, NULL, &d), 400);
    CU_ASSERT_STRING_EQUAL(str(d, "details.field"), "messageId");
    json_decref(d);
    CU_ASSERT_EQUAL(call(m, "POST", IP "/read/MINE", NULL, &d), 400);
    CU_ASSERT_STRING_EQUAL(str(d, "details.field"), "messageId");
    json_decref(d);
    CU_ASSERT_EQUAL(n_stanzas(m), 2);
    teardown(m);
}

static void test_read_group(void)
{
    miaw_mock *m = setup();
    put(m, "G1", GJID, "81000000000002@lid", 0, 200);
    put(m, "G2", GJID, "81000000000003@lid", 0, 201);
    put(m, "G3", GJID, "81000000000002@lid", 0, 202);
    json_t *d = NULL;
    CU_ASSERT_EQUAL(call(m, "POST", IP "/read/G3", NULL, &d), 200);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(d, "read")), 3);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(d, "receipts")), 2);
    json_decref(d);
    CU_ASSERT_EQUAL(n_stanzas(m), 2);
    int seen2 = 0, seen3 = 0;
    for (size_t i = 0; i < n_stanzas(m); i++) {
        const json_t *n = stanza(m, i);
        CU_ASSERT_STRING_EQUAL(str(n, "attrs.to.jid"), GJID);
        const char *p = str(n, "attrs.participant.jid");
        if (!strcmp(p, "81000000000002@lid")) {
            seen2 = 1;
            CU_ASSERT_STRING_EQUAL(str(n, "attrs.id"), "G3");
            CU_ASSERT_STRING_EQUAL(str(n, "content[0].content[0].attrs.id"), "G1");
        } else if (!strcmp(p, "81000000000003@lid")) {
            seen3 = 1;
            CU_ASSERT_STRING_EQUAL(str(n, "attrs.id"), "G2");
        }
    }
    CU_ASSERT_TRUE(seen2 && seen3);
    teardown(m);
}

static const json_t *last_event(miaw_mock *m)
{
    const json_t *ev = miaw_mock_events(m);
    return json_array_get(ev, json_array_size(ev) - 1);
}

static void test_events(void)
{
    miaw_mock *m = setup();
    CU_ASSERT_TRUE(miaw_mock_emit(m, "ready", "i1",
                                  "{\"instanceId\":\"i1\",\"jid\":\"15550001111:7@s.whatsapp.net\",\"lid\":"
                                  "\"81000000000001:7@lid\"}") >= 1);
    /* presence: available, then unavailable with last seen, then hidden */
    miaw_mock_deliver(m, "i1", "{\"tag\":\"presence\",\"attrs\":{\"from\":{\"jid\":\"" BOB "\"}}}");
    const json_t *e = last_event(m);
    CU_ASSERT_STRING_EQUAL(str(e, "type"), "presence");
    CU_ASSERT_STRING_EQUAL(str(e, "instanceId"), "i1");
    CU_ASSERT_STRING_EQUAL(str(e, "data.jid"), BOB);
    CU_ASSERT_STRING_EQUAL(str(e, "data.status"), "available");
    CU_ASSERT_EQUAL(json_object_size(json_object_get(e, "data")), 2);
    miaw_mock_deliver(m, "i1",
                      "{\"tag\":\"presence\",\"attrs\":{\"from\":{\"jid\":\"" BOB "\"},\"type\":\"unavailable\","
                      "\"last\":\"1735118400\"}}");
    e = last_event(m);
    CU_ASSERT_STRING_EQUAL(str(e, "data.status"), "unavailable");
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(e, "data.lastSeen")), 1735118400);
    miaw_mock_deliver(m, "i1",
                      "{\"tag\":\"presence\",\"attrs\":{\"from\":{\"jid\":\"" BOB "\"},\"type\":\"unavailable\","
                      "\"last\":\"deny\"}}");
    CU_ASSERT_PTR_NULL(miaw_mock_get(last_event(m), "data.lastSeen"));
    size_t before = json_array_size(miaw_mock_events(m));
    /* not presence changes, or malformed: no event */
    miaw_mock_deliver(m, "i1", "{\"tag\":\"presence\",\"attrs\":{\"from\":{\"jid\":\"" BOB "\"},\"type\":\"subscribe\"}}");
    miaw_mock_deliver(m, "i1", "{\"tag\":\"presence\",\"attrs\":{\"type\":\"available\"}}");
    miaw_mock_deliver(m, "i1", "{\"tag\":\"presence\",\"attrs\":{\"from\":{\"jid\":\"" GJID "\"},\"count\":\"3\"}}");
    miaw_mock_deliver(m, "i1", "{\"tag\":\"chatstate\",\"attrs\":{\"from\":{\"jid\":\"" BOB "\"}},\"content\":\"x\"}");
    miaw_mock_deliver(m, "i1", "{\"tag\":\"chatstate\",\"attrs\":{\"from\":{\"jid\":\"" BOB "\"}},\"content\":[{\"tag\":\"gone\"}]}");
    miaw_mock_deliver(m, "i1", "{\"tag\":\"chatstate\",\"content\":[{\"tag\":\"composing\"}]}");
    /* this account's own chat state (another of its devices): not reported */
    miaw_mock_deliver(m, "i1", "{\"tag\":\"chatstate\",\"attrs\":{\"from\":{\"jid\":\"" GJID "\"},\"participant\":{"
                               "\"jid\":\"81000000000001@lid\"}},\"content\":[{\"tag\":\"composing\"}]}");
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_events(m)), before);
    /* chat states */
    miaw_mock_deliver(m, "i1", "{\"tag\":\"chatstate\",\"attrs\":{\"from\":{\"jid\":\"" BOB "\"}},\"content\":[{\"tag\":"
                               "\"composing\"}]}");
    e = last_event(m);
    CU_ASSERT_STRING_EQUAL(str(e, "data.jid"), BOB);
    CU_ASSERT_STRING_EQUAL(str(e, "data.chat"), BOB);
    CU_ASSERT_STRING_EQUAL(str(e, "data.status"), "composing");
    miaw_mock_deliver(m, "i1", "{\"tag\":\"chatstate\",\"attrs\":{\"from\":{\"jid\":\"" BOB "\"}},\"content\":[{\"tag\":"
                               "\"composing\",\"attrs\":{\"media\":\"audio\"}}]}");
    CU_ASSERT_STRING_EQUAL(str(last_event(m), "data.status"), "recording");
    miaw_mock_deliver(m, "i1", "{\"tag\":\"chatstate\",\"attrs\":{\"from\":{\"jid\":\"" GJID "\"},\"participant\":{"
                               "\"jid\":\"81000000000002@lid\"}},\"content\":[{\"tag\":\"paused\"}]}");
    e = last_event(m);
    CU_ASSERT_STRING_EQUAL(str(e, "data.jid"), "81000000000002@lid");
    CU_ASSERT_STRING_EQUAL(str(e, "data.chat"), GJID);
    CU_ASSERT_STRING_EQUAL(str(e, "data.status"), "paused");
    teardown(m);
}

static void test_push_name_learned(void)
{
    miaw_mock *m = setup();
    /* a message not from this account: nothing learned */
    miaw_mock_emit(m, "message", "i1", "{\"id\":\"X0\",\"fromMe\":false,\"isGroup\":false,\"senderName\":\"Early\"}");
    CU_ASSERT_PTR_NULL(miaw_mock_kv(m, "presence", "i1", "pushName"));
    miaw_mock_emit(m, "ready", "i1", "{\"jid\":\"15550001111:7@s.whatsapp.net\",\"lid\":\"81000000000001:7@lid\"}");
    /* a contact's message: its notify is not ours */
    miaw_mock_emit(m, "message", "i1", "{\"id\":\"X1\",\"from\":\"" BOB "\",\"fromMe\":false,\"isGroup\":false,"
                                       "\"senderName\":\"Bob\"}");
    CU_ASSERT_PTR_NULL(miaw_mock_kv(m, "presence", "i1", "pushName"));
    /* a group message from ourselves: not taken either */
    miaw_mock_emit(m, "message", "i1", "{\"id\":\"X2\",\"chat\":\"" GJID "\",\"fromMe\":true,\"isGroup\":true,"
                                       "\"senderName\":\"G\"}");
    CU_ASSERT_PTR_NULL(miaw_mock_kv(m, "presence", "i1", "pushName"));
    /* the copy of our phone's message */
    miaw_mock_emit(m, "message", "i1", "{\"id\":\"X3\",\"chat\":\"" BOB "\",\"fromMe\":true,\"isGroup\":false,"
                                       "\"senderName\":\"Ada\"}");
    CU_ASSERT_STRING_EQUAL(str(miaw_mock_kv(m, "presence", "i1", "pushName"), "name"), "Ada");
    json_t *d = NULL;
    CU_ASSERT_EQUAL(call(m, "POST", IP "/presence", "{\"presence\":\"available\"}", &d), 200);
    CU_ASSERT_STRING_EQUAL(str(d, "name"), "Ada");
    json_decref(d);
    CU_ASSERT_STRING_EQUAL(str(stanza(m, 0), "attrs.name"), "Ada");
    /* a later copy with a new name */
    miaw_mock_emit(m, "message", "i1", "{\"id\":\"X4\",\"chat\":\"" BOB "\",\"fromMe\":true,\"isGroup\":false,"
                                       "\"senderName\":\"Ada L\"}");
    CU_ASSERT_STRING_EQUAL(str(miaw_mock_kv(m, "presence", "i1", "pushName"), "name"), "Ada L");
    /* the login answer's display_name; an empty one changes nothing */
    miaw_mock_deliver(m, "i1", "{\"tag\":\"success\",\"attrs\":{\"t\":\"1735118400\",\"display_name\":\"\"}}");
    CU_ASSERT_STRING_EQUAL(str(miaw_mock_kv(m, "presence", "i1", "pushName"), "name"), "Ada L");
    miaw_mock_deliver(m, "i1", "{\"tag\":\"success\",\"attrs\":{\"t\":\"1735118400\",\"display_name\":\"Ada S\"}}");
    CU_ASSERT_STRING_EQUAL(str(miaw_mock_kv(m, "presence", "i1", "pushName"), "name"), "Ada S");
    teardown(m);
}

static void test_openapi_and_events_declared(void)
{
    miaw_mock *m = setup();
    json_t *routes = miaw_mock_routes(m);
    char *s = json_dumps(routes, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "/instances/{instanceId}/presence"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "/instances/{instanceId}/typing/{to}"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "/instances/{instanceId}/recording/{to}"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "/instances/{instanceId}/stop-typing/{to}"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "/instances/{instanceId}/read/{messageId}"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "/instances/{instanceId}/subscribe/{jid}"));
    free(s);
    json_decref(routes);
    teardown(m);
}

MIAW_TESTS("plugin_presence", MIAW_T(test_presence_route), MIAW_T(test_chatstates), MIAW_T(test_subscribe),
           MIAW_T(test_read), MIAW_T(test_read_group), MIAW_T(test_events), MIAW_T(test_push_name_learned),
           MIAW_T(test_openapi_and_events_declared))
