/* tests/unit/test_core_router_schema.c - route matching (literal beats param, 404 vs
 * 405, percent-decoding, duplicates), schema validation messages and deep copies, the
 * event bus (ordering, re-entrancy queueing, ownership), config parsing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/config.h"
#include "bus/events.h"
#include "harness.h"
#include "http/router.h"
#include "http/schema.h"
#include "base/util.h"

static int dummy(miaw_req *r, void *u) { (void)r; (void)u; return 0; }

static void add(miaw_router *rt, const char *m, const char *p, int expect)
{
    char err[256];
    miaw_route r = {MIAW_ROUTE_INIT, .method = m, .path = p, .handler = dummy};
    CU_ASSERT_EQUAL(miaw_router_add(rt, &r, 0, NULL, err, sizeof err), expect);
}

static void test_router_match(void)
{
    miaw_router rt = {0};
    add(&rt, "GET", "/instances/{instanceId}/groups/{groupJid}", 0);
    add(&rt, "POST", "/instances/{instanceId}/groups/join/{code}", 0);
    add(&rt, "GET", "/instances/{instanceId}/groups/join", 0);
    add(&rt, "GET", "/instances/{x}/groups/{y}", MIAW_E_EXIST);
    add(&rt, "BREW", "/coffee", MIAW_E_INVAL);
    add(&rt, "GET", "no-slash", MIAW_E_INVAL);
    add(&rt, "GET", "/bad/{na-me}", MIAW_E_INVAL);
    miaw_route_match m;
    char allow[64];
    CU_ASSERT_EQUAL(miaw_router_match(&rt, "GET", "/instances/a%20b/groups/123%40g.us", 0, &m, allow, sizeof allow), 200);
    CU_ASSERT_STRING_EQUAL(m.values[0], "a b");
    CU_ASSERT_STRING_EQUAL(m.values[1], "123@g.us");
    CU_ASSERT_EQUAL(miaw_router_match(&rt, "GET", "/instances/a/groups/join", 0, &m, allow, sizeof allow), 200);
    CU_ASSERT_STRING_EQUAL(m.route->path, "/instances/{instanceId}/groups/join");
    CU_ASSERT_EQUAL(miaw_router_match(&rt, "POST", "/instances/a/groups/join/XYZ", 0, &m, allow, sizeof allow), 200);
    CU_ASSERT_STRING_EQUAL(m.values[1], "XYZ");
    CU_ASSERT_EQUAL(miaw_router_match(&rt, "DELETE", "/instances/a/groups/1", 0, &m, allow, sizeof allow), 405);
    CU_ASSERT_STRING_EQUAL(allow, "GET");
    CU_ASSERT_EQUAL(miaw_router_match(&rt, "GET", "/instances/a", 0, &m, allow, sizeof allow), 404);
    /* methods are compared as codes: only the five exact names match a route; anything
     * else (case, prefix, OPTIONS) finds the path's methods for 405 / Allow */
    add(&rt, "PUT", "/instances/{instanceId}/groups/{groupJid}", 0);
    add(&rt, "PATCH", "/instances/{instanceId}/groups/{groupJid}", 0);
    add(&rt, "DELETE", "/instances/{instanceId}/groups/{groupJid}", 0);
    CU_ASSERT_EQUAL(miaw_router_match(&rt, "PATCH", "/instances/a/groups/1", 0, &m, allow, sizeof allow), 200);
    CU_ASSERT_STRING_EQUAL(m.route->method, "PATCH");
    CU_ASSERT_STRING_EQUAL(allow, "");
    CU_ASSERT_EQUAL(miaw_router_match(&rt, "PUT", "/instances/a/groups/1", 0, &m, allow, sizeof allow), 200);
    CU_ASSERT_STRING_EQUAL(m.route->method, "PUT");
    CU_ASSERT_EQUAL(miaw_router_match(&rt, "DELETE", "/instances/a/groups/1", 0, &m, allow, sizeof allow), 200);
    CU_ASSERT_STRING_EQUAL(m.route->method, "DELETE");
    const char *odd[] = {"OPTIONS", "get", "GETS", "GE", "PUTS", "PA", "P", "POST", "DELETED", ""};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        CU_ASSERT_EQUAL(miaw_router_match(&rt, odd[i], "/instances/a/groups/1", 0, &m, allow, sizeof allow), 405);
        CU_ASSERT_STRING_EQUAL(allow, "GET, PUT, PATCH, DELETE");
    }
    CU_ASSERT_EQUAL(miaw_router_match(&rt, "OPTIONS", "/nowhere", 0, &m, allow, sizeof allow), 404);
    CU_ASSERT_EQUAL(miaw_router_match(&rt, "GET", "/instances/a/groups/1", 1, &m, allow, sizeof allow), 404);
    /* issue 16 item 5: decoded exactly once; NUL, an encoded '/' and dot segments are 400 */
    CU_ASSERT_EQUAL(miaw_router_match(&rt, "GET", "/instances/%00/groups/1", 0, &m, allow, sizeof allow), 400);
    CU_ASSERT_EQUAL(miaw_router_match(&rt, "GET", "/instances/victim%00ZZZ/groups/1", 0, &m, allow, sizeof allow), 400);
    CU_ASSERT_EQUAL(miaw_router_match(&rt, "GET", "/instances/%zz/groups/1", 0, &m, allow, sizeof allow), 400);
    CU_ASSERT_EQUAL(miaw_router_match(&rt, "GET", "/instances/a%2fb/groups/1", 0, &m, allow, sizeof allow), 400);
    CU_ASSERT_EQUAL(miaw_router_match(&rt, "GET", "/instances/a%2Fb/groups/1", 0, &m, allow, sizeof allow), 400);
    CU_ASSERT_EQUAL(miaw_router_match(&rt, "GET", "/instances/../groups/1", 0, &m, allow, sizeof allow), 400);
    CU_ASSERT_EQUAL(miaw_router_match(&rt, "GET", "/instances/%2e%2e/groups/1", 0, &m, allow, sizeof allow), 400);
    CU_ASSERT_EQUAL(miaw_router_match(&rt, "GET", "/instances/%c0%af/groups/1", 0, &m, allow, sizeof allow), 400);
    CU_ASSERT_EQUAL(miaw_router_match(&rt, "GET", "/instances/%ff/groups/1", 0, &m, allow, sizeof allow), 400);
    CU_ASSERT_EQUAL(miaw_router_match(&rt, "GET", "/instances/caf%c3%a9/groups/1", 0, &m, allow, sizeof allow), 200);
    CU_ASSERT_EQUAL(miaw_router_match(&rt, "GET", "/instances/%2561/groups/1", 0, &m, allow, sizeof allow), 200);
    CU_ASSERT_STRING_EQUAL(m.values[0], "%61");
    CU_ASSERT_EQUAL(miaw_router_match(&rt, "GET", "/instances/a%252fb/groups/1", 0, &m, allow, sizeof allow), 200);
    CU_ASSERT_STRING_EQUAL(m.values[0], "a%2fb");
    CU_ASSERT_EQUAL(miaw_router_match(&rt, "GET", "/inst%61nces/x/groups/1", 0, &m, allow, sizeof allow), 200);
    CU_ASSERT_EQUAL(miaw_router_match(&rt, "GET", "/instances/a/groups/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16", 0, &m,
                                      allow, sizeof allow), 404);
    miaw_router_free(&rt);
}

/* a segment's decoding, whatever path it takes (plain ASCII 8 bytes at a time, or the
 * byte loop for escapes and UTF-8): captured as the reference decoder says, every length
 * up to 40 with the special byte at every place */
static void test_router_decode_paths(void)
{
    miaw_router rt = {0};
    char err[256];
    miaw_route r = {MIAW_ROUTE_INIT, .method = "GET", .path = "/t/{p}", .handler = dummy};
    CU_ASSERT_EQUAL_FATAL(miaw_router_add(&rt, &r, 0, NULL, err, sizeof err), MIAW_OK);
    miaw_route lit = {MIAW_ROUTE_INIT, .method = "GET", .path = "/abcdefghijklmnopq/x", .handler = dummy};
    CU_ASSERT_EQUAL_FATAL(miaw_router_add(&rt, &lit, 0, NULL, err, sizeof err), MIAW_OK);
    static const struct { const char *raw, *dec; } SPECIAL[] = {
        {"%41", "A"}, {"%c3%a9", "\xc3\xa9"}, {"\xc3\xa9", "\xc3\xa9"}, {"%", NULL}, {"%zz", NULL}, {"%00", NULL},
        {"%2f", NULL}, {"\xff", NULL}, {"\xc3", NULL}, {"%e2%82%ac", "\xe2\x82\xac"}, {"~", "~"}};
    for (size_t k = 0; k < sizeof SPECIAL / sizeof SPECIAL[0]; k++)
        for (size_t len = 0; len <= 40; len++)
            for (size_t at = 0; at <= len; at++) {
                char path[128], want[128];
                size_t o = (size_t)snprintf(path, sizeof path, "/t/");
                size_t w = 0;
                for (size_t i = 0; i < len; i++) {
                    if (i == at) {
                        o += (size_t)snprintf(path + o, sizeof path - o, "%s", SPECIAL[k].raw);
                        if (SPECIAL[k].dec) w += (size_t)snprintf(want + w, sizeof want - w, "%s", SPECIAL[k].dec);
                    }
                    path[o++] = (char)('a' + i % 26);
                    want[w++] = (char)('a' + i % 26);
                }
                if (at == len) {
                    o += (size_t)snprintf(path + o, sizeof path - o, "%s", SPECIAL[k].raw);
                    if (SPECIAL[k].dec) w += (size_t)snprintf(want + w, sizeof want - w, "%s", SPECIAL[k].dec);
                }
                path[o] = 0;
                want[w] = 0;
                miaw_route_match m;
                int st = miaw_router_match(&rt, "GET", path, 0, &m, NULL, 0);
                if (!SPECIAL[k].dec) {
                    CU_ASSERT_EQUAL(st, 400);
                } else if (!want[0]) {
                    CU_ASSERT_EQUAL(st, 404); /* "/t/" is one segment */
                } else {
                    CU_ASSERT_EQUAL(st, 200);
                    if (st == 200) CU_ASSERT_STRING_EQUAL(m.values[0], want);
                }
            }
    /* a literal longer than a word, written plainly and with an escape: the same route */
    miaw_route_match m;
    CU_ASSERT_EQUAL(miaw_router_match(&rt, "GET", "/abcdefghijklmnopq/x", 0, &m, NULL, 0), 200);
    CU_ASSERT_STRING_EQUAL(m.route->path, "/abcdefghijklmnopq/x");
    CU_ASSERT_EQUAL(miaw_router_match(&rt, "GET", "/abcdefgh%69jklmnopq/x", 0, &m, NULL, 0), 200);
    CU_ASSERT_STRING_EQUAL(m.route->path, "/abcdefghijklmnopq/x");
    CU_ASSERT_EQUAL(miaw_router_match(&rt, "GET", "/abcdefghijklmnopr/x", 0, &m, NULL, 0), 404);
    miaw_router_free(&rt);
}

/* the index the matcher scans (router.c) answers as the plain list does, and follows every
 * change of the table: routes removed with their plugin, flags set later */
static void test_router_index(void)
{
    miaw_router rt = {0};
    char err[256];
    static const char *const P[][2] = {
        {"GET", "/instances"}, {"POST", "/instances"}, {"GET", "/instances/{instanceId}"},
        {"DELETE", "/instances/{instanceId}"}, {"GET", "/instances/{instanceId}/chats"},
        {"GET", "/instances/{instanceId}/chats/{chatId}"}, {"POST", "/instances/{instanceId}/messages/text"},
        {"POST", "/instances/{instanceId}/messages/image"}, {"GET", "/instances/{instanceId}/groups/{groupJid}"},
        {"GET", "/instances/{instanceId}/groups/join"}, {"GET", "/keys/{id}"}, {"GET", "/health"},
        {"PUT", "/instances/{instanceId}/webhook"}, {"GET", "/instances/{instanceId}/webhook"}};
    int owner_tag;
    struct miaw_plugin *owner = (struct miaw_plugin *)&owner_tag;
    for (size_t i = 0; i < sizeof P / sizeof P[0]; i++) {
        miaw_route r = {MIAW_ROUTE_INIT, .method = P[i][0], .path = P[i][1], .handler = dummy};
        CU_ASSERT_EQUAL(miaw_router_add(&rt, &r, 0, i % 3 == 2 ? owner : NULL, err, sizeof err), MIAW_OK);
    }
    miaw_route metrics = {MIAW_ROUTE_INIT, .method = "GET", .path = "/metrics", .handler = dummy};
    CU_ASSERT_EQUAL(miaw_router_add(&rt, &metrics, MIAW_ROUTE_ROOT, NULL, err, sizeof err), MIAW_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rt.idx);
    static const char *const Q[][2] = {
        {"GET", "/instances"}, {"PATCH", "/instances"}, {"GET", "/instances/a"}, {"DELETE", "/instances/a"},
        {"GET", "/instances/a/chats/b"}, {"POST", "/instances/a/messages/text"}, {"POST", "/instances/a/messages/video"},
        {"GET", "/instances/a/groups/join"}, {"GET", "/instances/a/groups/x"}, {"GET", "/keys/k"}, {"GET", "/health"},
        {"GET", "/metrics"}, {"GET", "/instances/a/webhook"}, {"POST", "/instances/a/webhook"}, {"GET", "/nothing"},
        {"GET", "/"}};
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < sizeof Q / sizeof Q[0]; i++)
            for (int root = 0; root < 2; root++) {
                miaw_route_match a, b;
                char aa[64], ab[64];
                int sa = miaw_router_match(&rt, Q[i][0], Q[i][1], root, &a, aa, sizeof aa);
                miaw_router_slot *idx = rt.idx;
                rt.idx = NULL; /* the list, as without the index */
                int sb = miaw_router_match(&rt, Q[i][0], Q[i][1], root, &b, ab, sizeof ab);
                rt.idx = idx;
                CU_ASSERT_EQUAL(sa, sb);
                if (sa == 200 && sb == 200) CU_ASSERT_PTR_EQUAL(a.route, b.route);
                if (sa == 405 && sb == 405) CU_ASSERT_STRING_EQUAL(aa, ab);
            }
        miaw_route_match m;
        char allow[64];
        if (pass == 0) {
            CU_ASSERT_EQUAL(miaw_router_match(&rt, "GET", "/instances/a", 0, &m, allow, sizeof allow), 200);
            CU_ASSERT_EQUAL(miaw_router_match(&rt, "GET", "/metrics", 1, &m, allow, sizeof allow), 200);
            CU_ASSERT_EQUAL(miaw_router_match(&rt, "PATCH", "/instances", 0, &m, allow, sizeof allow), 405);
            CU_ASSERT_STRING_EQUAL(allow, "GET, POST");
            CU_ASSERT_EQUAL(miaw_router_match(&rt, "GET", "/health", 0, &m, allow, sizeof allow), 200);
            /* the plugin's routes go (GET /instances/{instanceId} and /health among them),
             * /keys/{id} moves to the root */
            miaw_router_remove_owner(&rt, owner);
            CU_ASSERT_EQUAL(miaw_router_set_flags(&rt, "GET", "/keys/{id}", MIAW_ROUTE_ROOT), MIAW_OK);
            CU_ASSERT_PTR_NOT_NULL_FATAL(rt.idx);
        } else {
            CU_ASSERT_EQUAL(miaw_router_match(&rt, "GET", "/instances/a", 0, &m, allow, sizeof allow), 405);
            CU_ASSERT_STRING_EQUAL(allow, "DELETE");
            CU_ASSERT_EQUAL(miaw_router_match(&rt, "GET", "/health", 0, &m, allow, sizeof allow), 404);
            CU_ASSERT_EQUAL(miaw_router_match(&rt, "GET", "/keys/k", 0, &m, allow, sizeof allow), 404);
            CU_ASSERT_EQUAL(miaw_router_match(&rt, "GET", "/keys/k", 1, &m, allow, sizeof allow), 200);
            CU_ASSERT_STRING_EQUAL(m.values[0], "k");
        }
    }
    /* the index holds every route once, grouped by shape: a request looks at the routes of
     * its own number of segments only */
    CU_ASSERT_EQUAL(rt.start[MIAW_ROUTER_SHAPES], rt.count);
    for (size_t b = 0; b < MIAW_ROUTER_SHAPES; b++)
        for (uint32_t k = rt.start[b]; k < rt.start[b + 1]; k++) {
            uint32_t want = (uint32_t)(b % (MIAW_ROUTER_MAXSEG + 1)) | (b > MIAW_ROUTER_MAXSEG ? 0x100u : 0);
            CU_ASSERT_EQUAL(rt.idx[k].e->nseg | ((rt.idx[k].e->flags & MIAW_ROUTE_ROOT) ? 0x100u : 0), want);
            CU_ASSERT_EQUAL(rt.idx[k].e->nseg, want & 0xff);
        }
    /* a tie between two routes with as many literals goes to the first registered, with the
     * index as without it (routes of other shapes registered between them) */
    miaw_route t1 = {MIAW_ROUTE_INIT, .method = "GET", .path = "/tie/{a}", .handler = dummy};
    miaw_route t0 = {MIAW_ROUTE_INIT, .method = "GET", .path = "/x/y/z", .handler = dummy};
    miaw_route t2 = {MIAW_ROUTE_INIT, .method = "GET", .path = "/{b}/here", .handler = dummy};
    CU_ASSERT_EQUAL(miaw_router_add(&rt, &t1, 0, NULL, err, sizeof err), MIAW_OK);
    CU_ASSERT_EQUAL(miaw_router_add(&rt, &t0, 0, NULL, err, sizeof err), MIAW_OK);
    CU_ASSERT_EQUAL(miaw_router_add(&rt, &t2, 0, NULL, err, sizeof err), MIAW_OK);
    miaw_route_match m;
    CU_ASSERT_EQUAL_FATAL(miaw_router_match(&rt, "GET", "/tie/here", 0, &m, NULL, 0), 200);
    CU_ASSERT_STRING_EQUAL(m.route->path, "/tie/{a}");
    CU_ASSERT_EQUAL_FATAL(miaw_router_match(&rt, "GET", "/other/here", 0, &m, NULL, 0), 200);
    CU_ASSERT_STRING_EQUAL(m.route->path, "/{b}/here");
    CU_ASSERT_EQUAL(miaw_router_match(&rt, "GET", "/x/y/z", 0, &m, NULL, 0), 200);
    miaw_router_free(&rt);
    CU_ASSERT_PTR_NULL(rt.idx);
}

static const char *const KINDS[] = {"text", "image", NULL};
static const miaw_field INNER[] = {{.name = "lat", .type = MIAW_T_NUMBER, .flags = MIAW_F_REQUIRED | MIAW_F_HAS_MIN | MIAW_F_HAS_MAX, .min = -90, .max = 90}, {0}};
static const miaw_field BODY[] = {
    {.name = "to", .type = MIAW_T_STRING, .flags = MIAW_F_REQUIRED | MIAW_F_NONEMPTY, .pattern = "^[0-9]+$"},
    {.name = "kind", .type = MIAW_T_STRING, .enum_values = KINDS},
    {.name = "tags", .type = MIAW_T_ARRAY, .flags = MIAW_F_HAS_MAX, .max = 2, .items = &(const miaw_field){.name = "t", .type = MIAW_T_STRING}},
    {.name = "loc", .type = MIAW_T_OBJECT, .flags = MIAW_F_STRICT, .props = INNER},
    {.name = "note", .type = MIAW_T_STRING, .flags = MIAW_F_NULLABLE},
    {0},
};

static void expect_fail(const char *json, const char *field, const char *msg_part)
{
    json_t *b = json_loads(json, JSON_DECODE_ANY, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    char f[128], m[256];
    CU_ASSERT_EQUAL(miaw_schema_validate(BODY, 0, b, f, sizeof f, m, sizeof m), -1);
    CU_ASSERT_STRING_EQUAL(f, field);
    CU_ASSERT_PTR_NOT_NULL(strstr(m, msg_part));
    json_decref(b);
}

static void test_schema(void)
{
    char f[128], m[256];
    json_t *ok = json_loads("{\"to\":\"123\",\"kind\":\"image\",\"tags\":[\"a\"],\"loc\":{\"lat\":1.5},\"note\":null,\"extra\":1}", 0, NULL);
    CU_ASSERT_EQUAL(miaw_schema_validate(BODY, 0, ok, f, sizeof f, m, sizeof m), 0);
    CU_ASSERT_EQUAL(miaw_schema_validate(BODY, 1, ok, f, sizeof f, m, sizeof m), -1); /* strict root: extra */
    CU_ASSERT_STRING_EQUAL(f, "extra");
    json_decref(ok);
    expect_fail("{}", "to", "required");
    expect_fail("{\"to\":5}", "to", "type string");
    expect_fail("{\"to\":\"\"}", "to", "empty");
    expect_fail("{\"to\":\"12a\"}", "to", "pattern");
    expect_fail("{\"to\":\"1\",\"kind\":\"video\"}", "kind", "one of: text, image");
    expect_fail("{\"to\":\"1\",\"tags\":[\"a\",\"b\",\"c\"]}", "tags", "at most 2");
    expect_fail("{\"to\":\"1\",\"tags\":[\"a\",7]}", "tags[1]", "type string");
    expect_fail("{\"to\":\"1\",\"loc\":{\"lat\":91}}", "loc.lat", "<= 90");
    expect_fail("{\"to\":\"1\",\"loc\":{\"lat\":1,\"x\":2}}", "loc.x", "not a known field");
    expect_fail("{\"to\":null}", "to", "null");
    expect_fail("[1]", "", "JSON object");
    /* deep copy survives the original going away, and renders as JSON Schema */
    miaw_field *copy = miaw_schema_dup(BODY, sizeof(miaw_field));
    CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
    CU_ASSERT_PTR_NOT_EQUAL(copy[0].name, BODY[0].name);
    CU_ASSERT_STRING_EQUAL(copy[3].props[0].name, "lat");
    json_t *js = miaw_schema_openapi(copy);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(json_object_get(js, "required"), 0)), "to");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(json_object_get(js, "properties"), "tags"), "maxItems")), 2);
    json_decref(js);
    miaw_schema_free(copy);
    miaw_field bad[] = {{.name = "x", .type = MIAW_T_STRING, .flags = MIAW_F_HAS_MIN | MIAW_F_HAS_MAX, .min = 5, .max = 1}, {0}};
    CU_ASSERT_EQUAL(miaw_schema_check(bad, m, sizeof m), -1);
    miaw_field badre[] = {{.name = "x", .type = MIAW_T_STRING, .pattern = "(["}, {0}};
    CU_ASSERT_EQUAL(miaw_schema_check(badre, m, sizeof m), -1);
}

static char trace[256];
static miaw_bus *g_bus;
static void h1(const miaw_event *ev, void *ud)
{
    (void)ud;
    strcat(trace, ev->type);
    strcat(trace, ";");
    if (strcmp(ev->type, "a") == 0) miaw_bus_emit(g_bus, NULL, "b", "inst", NULL); /* queued, not recursive */
}
static void h2(const miaw_event *ev, void *ud)
{
    (void)ud;
    strcat(trace, "h2:");
    strcat(trace, ev->type);
    strcat(trace, ";");
}

static void test_bus(void)
{
    char err[128];
    g_bus = miaw_bus_new();
    CU_ASSERT_EQUAL(miaw_bus_declare(g_bus, NULL, "a", MIAW_EVENT_F_WEBHOOK, "", err, sizeof err), 0);
    CU_ASSERT_EQUAL(miaw_bus_declare(g_bus, NULL, "b", 0, "", err, sizeof err), 0);
    CU_ASSERT_EQUAL(miaw_bus_declare(g_bus, NULL, "a", 0, "", err, sizeof err), MIAW_E_EXIST);
    CU_ASSERT_EQUAL(miaw_bus_declare(g_bus, NULL, "Bad Name", 0, "", err, sizeof err), MIAW_E_INVAL);
    miaw_id s1, s2;
    miaw_bus_subscribe(g_bus, NULL, "*", h1, NULL, &s1);
    miaw_bus_subscribe(g_bus, NULL, "a*", h2, NULL, &s2);
    trace[0] = 0;
    CU_ASSERT_EQUAL(miaw_bus_emit(g_bus, NULL, "a", NULL, json_object()), 0);
    CU_ASSERT_STRING_EQUAL(trace, "a;h2:a;b;");
    CU_ASSERT_EQUAL(miaw_bus_emit(g_bus, NULL, "zzz", NULL, json_object()), MIAW_E_NOTFOUND);
    CU_ASSERT_EQUAL(miaw_bus_unsubscribe(g_bus, NULL, s2), 0);
    trace[0] = 0;
    miaw_bus_emit(g_bus, NULL, "b", NULL, NULL);
    CU_ASSERT_STRING_EQUAL(trace, "b;");
    CU_ASSERT_EQUAL(miaw_bus_emitted(g_bus), 3); /* a, b (queued), b */
    miaw_bus_free(g_bus);
}

static void test_config_file(void)
{
    char dir[] = "/tmp/miaw-cfg-XXXXXX", path[256], err[512];
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/c.yaml", dir);
    const char *yaml = "server:\n  port: 4001\n  cors_origin: '*'\nauth:\n  basic_auth: [a:b, c:d]\n"
                       "plugins:\n  enabled: messages, groups\n  config:\n    groups:\n      max: 5\n      names: [x, y]\n";
    CU_ASSERT_EQUAL(miaw_write_file_atomic(path, yaml, strlen(yaml), 0600), 0);
    unsetenv("API_PORT");
    miaw_config c;
    CU_ASSERT_EQUAL_FATAL(miaw_config_load(&c, path, err, sizeof err), 0);
    CU_ASSERT_EQUAL(c.port, 4001);
    CU_ASSERT_STRING_EQUAL(c.cors_origin, "*");
    CU_ASSERT_EQUAL(c.basic_auth.n, 2);
    CU_ASSERT_EQUAL(c.plugins_enabled.n, 2);
    CU_ASSERT_STRING_EQUAL(c.plugins_enabled.v[1], "groups");
    json_t *g = json_object_get(c.plugin_config, "groups");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(g, "max")), 5);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(g, "names")), 2);
    CU_ASSERT_EQUAL(miaw_config_validate(&c, err, sizeof err), 0);
    miaw_config_free(&c);
    setenv("API_PORT", "4555", 1);
    CU_ASSERT_EQUAL_FATAL(miaw_config_load(&c, path, err, sizeof err), 0);
    CU_ASSERT_EQUAL(c.port, 4555);
    CU_ASSERT_EQUAL(miaw_config_set_port(&c, "0", err, sizeof err), -1);
    CU_ASSERT_EQUAL(miaw_config_set_port(&c, "4556", err, sizeof err), 0);
    CU_ASSERT_EQUAL(c.port, 4556);
    miaw_config_free(&c);
    unsetenv("API_PORT");
    const char *bad = "server:\n  tls:\n    cert: /x\n";
    CU_ASSERT_EQUAL(miaw_write_file_atomic(path, bad, strlen(bad), 0600), 0);
    CU_ASSERT_EQUAL_FATAL(miaw_config_load(&c, path, err, sizeof err), 0);
    CU_ASSERT_EQUAL(miaw_config_validate(&c, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "cert and key"));
    miaw_config_free(&c);
    miaw_rm_rf(dir);
}

static void test_util(void)
{
    /* miaw_hex (4 bytes per word on little-endian machines) against printf, every byte value
     * at every place of every length up to 40 */
    {
        uint8_t in[40];
        char got[81], want[81];
        for (int v = 0; v < 256; v++)
            for (size_t n = 0; n <= sizeof in; n++) {
                for (size_t i = 0; i < n; i++) in[i] = (uint8_t)(v + (int)i * 37);
                miaw_hex(got, in, n);
                for (size_t i = 0; i < n; i++) snprintf(want + 2 * i, 3, "%02x", in[i]);
                want[2 * n] = 0;
                if (strcmp(got, want) != 0) {
                    CU_FAIL("miaw_hex differs from printf");
                    v = 256;
                    break;
                }
            }
    }
    CU_ASSERT_TRUE(miaw_ct_equal("abc", 3, "abc", 3));
    CU_ASSERT_FALSE(miaw_ct_equal("abc", 3, "abd", 3));
    CU_ASSERT_FALSE(miaw_ct_equal("abc", 3, "abcd", 4));
    CU_ASSERT_FALSE(miaw_ct_equal("", 0, "a", 1));
    char a[65], b[65];
    CU_ASSERT_EQUAL(miaw_random_hex(a, 32), 0);
    CU_ASSERT_EQUAL(miaw_random_hex(b, 32), 0);
    CU_ASSERT_EQUAL(strlen(a), 64);
    CU_ASSERT_STRING_NOT_EQUAL(a, b);
    char iso[40];
    miaw_iso8601(iso, sizeof iso, 1735120800123LL);
    CU_ASSERT_STRING_EQUAL(iso, "2024-12-25T10:00:00.123Z");
}

MIAW_TESTS("core", MIAW_T(test_router_match), MIAW_T(test_router_index), MIAW_T(test_router_decode_paths), MIAW_T(test_schema), MIAW_T(test_bus), MIAW_T(test_config_file),
           MIAW_T(test_util))
