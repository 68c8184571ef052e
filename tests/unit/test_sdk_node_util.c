/* tests/unit/test_sdk_node_util.c - the SDK's JSON node helpers (miaw/node_util.h):
 * attributes as strings or JIDs, children by tag, content bytes from a string or base64
 * (padding and URL-safe letters), text only when UTF-8, and base64 out and back. */
#include <miaw/node_util.h>
#include <string.h>

#include "harness.h"

static json_t *parse(const char *s)
{
    json_t *j = json_loads(s, 0, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    return j;
}

static void test_attr_child(void)
{
    json_t *n = parse("{\"tag\":\"iq\",\"attrs\":{\"id\":\"7\",\"from\":{\"jid\":\"1@s.whatsapp.net\"},\"n\":3},"
                      "\"content\":[{\"tag\":\"a\"},{\"tag\":\"b\",\"attrs\":{\"k\":\"v\"}},{\"tag\":\"b\"}]}");
    CU_ASSERT_STRING_EQUAL(miaw_jnode_attr(n, "id"), "7");
    CU_ASSERT_STRING_EQUAL(miaw_jnode_attr(n, "from"), "1@s.whatsapp.net");
    CU_ASSERT_PTR_NULL(miaw_jnode_attr(n, "n")); /* not a string */
    CU_ASSERT_PTR_NULL(miaw_jnode_attr(n, "missing"));
    CU_ASSERT_STRING_EQUAL(miaw_jnode_attr(miaw_jnode_child(n, "b"), "k"), "v"); /* the first b */
    CU_ASSERT_PTR_NULL(miaw_jnode_child(n, "c"));
    CU_ASSERT_PTR_NULL(miaw_jnode_child(miaw_jnode_child(n, "a"), "x")); /* no content */
    CU_ASSERT_PTR_NULL(miaw_jnode_attr(NULL, "id"));
    json_decref(n);
}

static void test_bytes_text_b64(void)
{
    size_t len;
    json_t *s = parse("{\"tag\":\"t\",\"content\":\"hello\"}");
    uint8_t *b = miaw_jnode_bytes(s, &len);
    CU_ASSERT_TRUE(b && len == 5 && !memcmp(b, "hello", 5));
    free(b);
    json_t *t = miaw_jnode_text(s);
    CU_ASSERT_STRING_EQUAL(json_string_value(t), "hello");
    json_decref(t);
    json_decref(s);
    /* "hi é" base64, and URL-safe letters without padding (0xfb 0xff -> "-_8") */
    s = parse("{\"tag\":\"t\",\"content\":{\"b64\":\"aGkgw6k=\"}}");
    t = miaw_jnode_text(s);
    CU_ASSERT_STRING_EQUAL(json_string_value(t), "hi \xc3\xa9");
    json_decref(t);
    json_decref(s);
    s = parse("{\"tag\":\"t\",\"content\":{\"b64\":\"-_8\"}}");
    b = miaw_jnode_bytes(s, &len);
    CU_ASSERT_TRUE(b && len == 2 && b[0] == 0xfb && b[1] == 0xff);
    free(b);
    CU_ASSERT_PTR_NULL(miaw_jnode_text(s)); /* not UTF-8 */
    json_decref(s);
    s = parse("{\"tag\":\"t\",\"content\":[]}");
    CU_ASSERT_PTR_NULL(miaw_jnode_bytes(s, &len));
    CU_ASSERT_EQUAL(len, 0);
    json_decref(s);
    /* out and back, every length mod 3 */
    const uint8_t raw[] = {0, 1, 2, 250, 251, 252, 253};
    for (size_t n = 0; n <= sizeof raw; n++) {
        json_t *enc = miaw_jnode_b64(raw, n);
        json_t *node = json_pack("{s:s,s:O}", "tag", "x", "content", enc);
        b = miaw_jnode_bytes(node, &len);
        CU_ASSERT_TRUE(b != NULL && len == n && !memcmp(b, raw, n));
        free(b);
        json_decref(node);
        json_decref(enc);
    }
    json_t *e = miaw_jnode_b64("abc", 3);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "b64")), "YWJj");
    json_decref(e);
}

MIAW_TESTS("sdk_node_util", MIAW_T(test_attr_child), MIAW_T(test_bytes_text_b64))
