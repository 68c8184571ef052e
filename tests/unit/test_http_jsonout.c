/* tests/unit/test_http_jsonout.c - core/http/jsonout.c writes exactly what jansson's
 * json_dumpb(JSON_COMPACT | JSON_ENCODE_ANY) writes: fixed documents with every escape,
 * embedded NULs, integer limits and nesting, then thousands of random documents; it
 * declines (0) reals, non-ASCII strings, deep nesting and a buffer too small. */
#include "harness.h"

#include "http/jsonout.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1 when the encoder declines or writes jansson's bytes; *declined set when it declined */
static int same_as_jansson(const json_t *doc, int *declined)
{
    char a[8192], b[8192];
    size_t na = miaw_json_compact(doc, a, sizeof a);
    size_t nb = json_dumpb(doc, b, sizeof b, JSON_COMPACT | JSON_ENCODE_ANY);
    *declined = na == 0;
    if (!na) return 1;
    if (na != nb || memcmp(a, b, na) != 0) {
        fprintf(stderr, "differs:\n  ours:    %.*s\n  jansson: %.*s\n", (int)na, a, (int)nb, b);
        return 0;
    }
    return 1;
}

static void expect_same(json_t *doc)
{
    int declined = 1;
    CU_ASSERT(same_as_jansson(doc, &declined));
    CU_ASSERT_FALSE(declined);
    json_decref(doc);
}

static void expect_declined(json_t *doc)
{
    char out[4096];
    CU_ASSERT_EQUAL(miaw_json_compact(doc, out, sizeof out), 0);
    json_decref(doc);
}

static void test_fixed(void)
{
    expect_same(json_pack("{s:b,s:o}", "success", 1, "data",
                          json_pack("{s:s,s:s,s:n,s:[],s:b,s:s}", "instanceId", "bench", "status", "disconnected",
                                    "webhookUrl", "webhookEvents", "webhookEnabled", 1, "createdAt",
                                    "2026-12-03T10:21:50.249Z")));
    expect_same(json_string("quote \" backslash \\ slash / bs \b ff \f nl \n cr \r tab \t bell \a esc \x1b us \x1f del \x7f"));
    expect_same(json_stringn("nul\0inside", 10));
    expect_same(json_integer(0));
    expect_same(json_integer(INT64_MAX));
    expect_same(json_integer(INT64_MIN));
    expect_same(json_true());
    expect_same(json_false());
    expect_same(json_null());
    expect_same(json_object());
    expect_same(json_array());
    expect_same(json_string(""));
    expect_same(json_pack("[[[],{}],{s:{s:[i,i]}}]", "a\"b", "c\n", 1, -2));
    json_t *o = json_object();
    json_object_setn_new(o, "k\0ey", 4, json_string("v")); /* a key with a NUL */
    json_object_set_new(o, "z", json_integer(1));
    json_object_set_new(o, "a", json_integer(2)); /* members in their order, not sorted */
    expect_same(o);
}

static void test_declined(void)
{
    expect_declined(json_real(1.5));
    expect_declined(json_pack("{s:f}", "x", 0.1));
    expect_declined(json_string("caf\xc3\xa9"));
    json_t *k = json_object();
    json_object_set_new(k, "caf\xc3\xa9", json_null()); /* non-ASCII key */
    expect_declined(k);
    json_t *deep = json_array();
    for (int i = 0; i < 40; i++) deep = json_pack("[o]", deep);
    expect_declined(deep);
    /* too small a buffer, at every length short of the whole */
    json_t *doc = json_pack("{s:s,s:[i,i]}", "a", "b\nc", "d", 1, 2);
    char full[256], part[256];
    size_t n = miaw_json_compact(doc, full, sizeof full);
    CU_ASSERT(n > 0);
    for (size_t cap = 0; cap < n; cap++) CU_ASSERT_EQUAL(miaw_json_compact(doc, part, cap), 0);
    CU_ASSERT_EQUAL(miaw_json_compact(doc, part, n), n);
    CU_ASSERT_EQUAL(memcmp(full, part, n), 0);
    json_decref(doc);
    CU_ASSERT_EQUAL(miaw_json_compact(NULL, part, sizeof part), 0);
}

static unsigned rng = 12345;
static uint32_t next(void) { return miaw_test_rand(&rng); }

static json_t *random_string(void)
{
    char s[40];
    size_t n = next() % sizeof s;
    for (size_t i = 0; i < n; i++) {
        uint32_t r = next() % 10;
        s[i] = r < 6 ? (char)(0x20 + next() % 0x5f) : r < 9 ? (char)(next() % 0x20) : "\"\\/"[next() % 3];
    }
    return json_stringn(s, n);
}

static json_t *random_value(int depth)
{
    switch (next() % (depth < 4 ? 8 : 5)) {
    case 0: return random_string();
    case 1: return json_integer((json_int_t)((int64_t)((uint64_t)next() << 32 | next())));
    case 2: return json_boolean(next() & 1);
    case 3: return json_null();
    case 4: return json_integer((json_int_t)(next() % 1000));
    case 5: {
        json_t *a = json_array();
        for (uint32_t i = next() % 5; i > 0; i--) json_array_append_new(a, random_value(depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (uint32_t i = next() % 5; i > 0; i--) {
            json_t *k = random_string();
            json_object_setn_new(o, json_string_value(k), json_string_length(k), random_value(depth + 1));
            json_decref(k);
        }
        return o;
    }
    }
}

static void test_random(void)
{
    int ok = 1, declined_n = 0;
    for (int i = 0; i < 5000; i++) {
        json_t *doc = random_value(0);
        int declined = 0;
        ok &= same_as_jansson(doc, &declined);
        declined_n += declined;
        json_decref(doc);
    }
    CU_ASSERT(ok);
    CU_ASSERT_EQUAL(declined_n, 0); /* nothing in them is left to jansson */
}

MIAW_TESTS("http_jsonout", MIAW_T(test_fixed), MIAW_T(test_declined), MIAW_T(test_random))
