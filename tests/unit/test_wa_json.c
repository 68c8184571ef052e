/* tests/unit/test_wa_json.c - the JSON codecs of core/wa: binary nodes <-> JSON
 * (node_json: every content kind, JID attributes, input forms, errors with their JSON
 * path, depth and size limits, trees decoded from odd wire bytes) and protobufs <-> JSON
 * (proto_json: nested messages, 64-bit integers as strings beyond 2^53, bytes, enums by
 * name and number, repeated fields, floats, unknown keys and type errors with paths,
 * real wire bytes, depth limits, type names). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "harness.h"
#include "miaw/status.h"
#include "wa/jid.h"
#include "wa/node.h"
#include "wa/node_json.h"
#include "wa/proto_json.h"
#include "wa_client_payload.pb-c.h"
#include "wa_handshake.pb-c.h"
#include "wa_message.pb-c.h"

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (!j) fprintf(stderr, "test JSON does not parse: %s: %s\n", e.text, text);
    return j;
}

static char *dump(const json_t *j)
{
    return json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
}

/* dump(j) equals want; prints both when not */
static int dumps_as(const json_t *j, const char *want)
{
    char *s = dump(j);
    int ok = s && !strcmp(s, want);
    if (!ok) fprintf(stderr, "\n got: %s\nwant: %s\n", s ? s : "(null)", want);
    free(s);
    return ok;
}

/* ================================================================== nodes */

/* from_json(text) must fail with exactly want_err */
static void node_err(const char *text, const char *want_err)
{
    json_t *j = parse(text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    char err[256] = "unchanged";
    miaw_node *n = (miaw_node *)&err; /* must be reset to NULL */
    int rc = miaw_node_from_json(j, &n, err, sizeof err);
    CU_ASSERT_EQUAL(rc, MIAW_E_INVAL);
    CU_ASSERT_PTR_NULL(n);
    CU_ASSERT_STRING_EQUAL(err, want_err);
    if (strcmp(err, want_err)) fprintf(stderr, "\n input: %s\n   got: %s\n  want: %s\n", text, err, want_err);
    json_decref(j);
}

/* from_json(text) must succeed; the tree is returned */
static miaw_node *node_ok(const char *text)
{
    json_t *j = parse(text);
    if (!j) return NULL;
    char err[256] = "";
    miaw_node *n = NULL;
    int rc = miaw_node_from_json(j, &n, err, sizeof err);
    if (rc) fprintf(stderr, "\n input: %s\n error: %s\n", text, err);
    json_decref(j);
    return rc ? NULL : n;
}

/* n -> JSON -> node must be equal to n, and the JSON must dump */
static void node_roundtrip(const miaw_node *n)
{
    json_t *j = miaw_node_to_json(n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    char *s = dump(j);
    CU_ASSERT_PTR_NOT_NULL(s);
    free(s);
    char err[256] = "";
    miaw_node *back = NULL;
    CU_ASSERT_EQUAL(miaw_node_from_json(j, &back, err, sizeof err), MIAW_OK);
    CU_ASSERT(miaw_node_equal(n, back));
    if (*err) fprintf(stderr, "\n round trip: %s\n", err);
    miaw_node_free(back);
    json_decref(j);
}

static void test_node_every_content_kind(void)
{
    miaw_node *iq = miaw_node_newv("iq", "id", "abc", "type", "get", "to", "JID:@s.whatsapp.net", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(iq);
    miaw_node_add(iq, "ping");                                      /* no content */
    CU_ASSERT_EQUAL(miaw_node_set_string(miaw_node_add(iq, "s"), "héllo"), 0); /* string */
    static const uint8_t raw[] = {0x00, 0x01, 0xfb, 0xff, 0xfe};
    CU_ASSERT_EQUAL(miaw_node_set_bytes(miaw_node_add(iq, "b"), raw, sizeof raw), 0); /* bytes */
    miaw_jid jid;
    CU_ASSERT_EQUAL_FATAL(miaw_jid_parse(&jid, "15551234567:3@s.whatsapp.net"), 0);
    CU_ASSERT_EQUAL(miaw_node_set_content_jid(miaw_node_add(iq, "j"), &jid), 0); /* JID */
    miaw_node_set_empty_list(miaw_node_add(iq, "empty"));                        /* [] */
    miaw_node *e = miaw_node_addv(iq, "e", "participant", "JID:123456789012345:2@lid", "n", "7", NULL);
    miaw_node_add(e, "f");
    CU_ASSERT_EQUAL(miaw_node_set_bytes(miaw_node_add(iq, "zero"), "", 0), 0); /* empty bytes */

    json_t *j = miaw_node_to_json(iq);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT(dumps_as(j, "{\"tag\":\"iq\",\"attrs\":{\"id\":\"abc\",\"type\":\"get\",\"to\":{\"jid\":\"s.whatsapp.net\"}},"
                          "\"content\":[{\"tag\":\"ping\",\"attrs\":{}},"
                          "{\"tag\":\"s\",\"attrs\":{},\"content\":\"h\\u00E9llo\"},"
                          "{\"tag\":\"b\",\"attrs\":{},\"content\":{\"b64\":\"AAH7//4=\"}},"
                          "{\"tag\":\"j\",\"attrs\":{},\"content\":{\"jid\":\"15551234567:3@s.whatsapp.net\"}},"
                          "{\"tag\":\"empty\",\"attrs\":{},\"content\":[]},"
                          "{\"tag\":\"e\",\"attrs\":{\"participant\":{\"jid\":\"123456789012345:2@lid\"},\"n\":\"7\"},"
                          "\"content\":[{\"tag\":\"f\",\"attrs\":{}}]},"
                          "{\"tag\":\"zero\",\"attrs\":{},\"content\":{\"b64\":\"\"}}]}"));
    /* back to a node: equal, content types included */
    char err[256] = "";
    miaw_node *back = NULL;
    CU_ASSERT_EQUAL_FATAL(miaw_node_from_json(j, &back, err, sizeof err), MIAW_OK);
    CU_ASSERT_STRING_EQUAL(err, "");
    CU_ASSERT(miaw_node_equal(iq, back));
    CU_ASSERT_PTR_NOT_NULL(miaw_node_attr_get(back, "to")->jid);
    CU_ASSERT_PTR_NULL(miaw_node_attr_get(back, "id")->jid);
    CU_ASSERT_EQUAL(miaw_node_child(back, "ping")->content_type, MIAW_CONTENT_NONE);
    CU_ASSERT_EQUAL(miaw_node_child(back, "s")->content_type, MIAW_CONTENT_STRING);
    CU_ASSERT_EQUAL(miaw_node_child(back, "b")->content_type, MIAW_CONTENT_BYTES);
    CU_ASSERT_EQUAL(miaw_node_child(back, "j")->content_type, MIAW_CONTENT_JID);
    CU_ASSERT_EQUAL(miaw_node_child(back, "empty")->content_type, MIAW_CONTENT_LIST);
    CU_ASSERT_EQUAL(miaw_node_count(miaw_node_child(back, "empty")), 0);
    CU_ASSERT(miaw_jid_equal(miaw_node_child(back, "j")->jid, &jid));
    miaw_node_free(back);
    json_decref(j);

    /* through the wire and back: decode -> JSON -> node equals the decoded tree */
    uint8_t *enc = NULL;
    size_t elen = 0;
    CU_ASSERT_EQUAL_FATAL(miaw_node_encode(iq, &enc, &elen), 0);
    miaw_node *d = NULL;
    CU_ASSERT_EQUAL_FATAL(miaw_node_decode(enc, elen, &d), 0);
    node_roundtrip(d);
    miaw_node_free(d);
    free(enc);
    miaw_node_free(iq);
}

static void test_node_input_forms(void)
{
    miaw_node *n = node_ok("{\"tag\":\"iq\",\"attrs\":{\"n\":42,\"neg\":-7,\"t\":true,\"f\":false,"
                           "\"srv\":{\"jid\":\"s.whatsapp.net\"},\"g\":{\"jid\":\"120363001234567890@g.us\"},"
                           "\"raw\":{\"b64\":\"/w\"}},\"content\":{\"b64\":\"-_8\"}}");
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    CU_ASSERT(miaw_node_attr_is(n, "n", "42"));
    CU_ASSERT(miaw_node_attr_is(n, "neg", "-7"));
    CU_ASSERT(miaw_node_attr_is(n, "t", "true"));
    CU_ASSERT(miaw_node_attr_is(n, "f", "false"));
    const miaw_attr *srv = miaw_node_attr_get(n, "srv");
    CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
    CU_ASSERT_PTR_NOT_NULL_FATAL(srv->jid);
    CU_ASSERT_STRING_EQUAL(srv->jid->server, "s.whatsapp.net");
    CU_ASSERT_STRING_EQUAL(srv->jid->user, "");
    CU_ASSERT_STRING_EQUAL(srv->str, "@s.whatsapp.net");
    CU_ASSERT_STRING_EQUAL(miaw_node_attr_get(n, "g")->jid->server, "g.us");
    size_t len;
    const char *raw = miaw_node_attrn(n, "raw", &len);
    CU_ASSERT(len == 1 && (uint8_t)raw[0] == 0xff);
    CU_ASSERT_EQUAL(n->content_type, MIAW_CONTENT_BYTES);
    CU_ASSERT(n->data_len == 2 && n->data[0] == 0xfb && n->data[1] == 0xff);
    /* a value that is not UTF-8 comes back as {"b64"} and round-trips */
    json_t *j = miaw_node_to_json(n);
    CU_ASSERT(dumps_as(json_object_get(json_object_get(j, "attrs"), "raw"), "{\"b64\":\"/w==\"}"));
    CU_ASSERT(dumps_as(json_object_get(json_object_get(j, "attrs"), "srv"), "{\"jid\":\"s.whatsapp.net\"}"));
    json_decref(j);
    node_roundtrip(n);
    miaw_node_free(n);

    /* attrs absent, content null, embedded NUL in a value and in string content */
    n = node_ok("{\"tag\":\"x\",\"content\":null}");
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    CU_ASSERT_EQUAL(n->nattrs, 0);
    CU_ASSERT_EQUAL(n->content_type, MIAW_CONTENT_NONE);
    j = miaw_node_to_json(n);
    CU_ASSERT(dumps_as(j, "{\"tag\":\"x\",\"attrs\":{}}"));
    json_decref(j);
    miaw_node_free(n);
    n = node_ok("{\"tag\":\"x\",\"attrs\":{\"k\":\"a\\u0000b\"},\"content\":\"c\\u0000d\"}");
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    raw = miaw_node_attrn(n, "k", &len);
    CU_ASSERT(len == 3 && !memcmp(raw, "a\0b", 3));
    CU_ASSERT(n->content_type == MIAW_CONTENT_STRING && n->data_len == 3);
    node_roundtrip(n);
    miaw_node_free(n);

    /* JID forms: AD with agent, FB, interop */
    n = node_ok("{\"tag\":\"x\",\"attrs\":{\"a\":{\"jid\":\"1555_2:7@s.whatsapp.net\"},\"b\":{\"jid\":\"99:3@msgr\"},"
                "\"c\":{\"jid\":\"5-42:1@interop\"},\"d\":{\"jid\":\"1:0@hosted\"}}}");
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    CU_ASSERT_EQUAL(miaw_node_attr_get(n, "a")->jid->agent, 2);
    CU_ASSERT_EQUAL(miaw_node_attr_get(n, "b")->jid->kind, MIAW_JID_FB);
    CU_ASSERT_EQUAL(miaw_node_attr_get(n, "c")->jid->integrator, 5);
    uint8_t *enc = NULL;
    size_t elen = 0;
    CU_ASSERT_EQUAL_FATAL(miaw_node_encode(n, &enc, &elen), 0);
    miaw_node *d = NULL;
    CU_ASSERT_EQUAL_FATAL(miaw_node_decode(enc, elen, &d), 0);
    CU_ASSERT(miaw_node_equal(n, d));
    node_roundtrip(d);
    free(enc);
    miaw_node_free(d);
    miaw_node_free(n);
}

static void test_node_errors(void)
{
    node_err("{\"attrs\":{}}", "tag: missing");
    node_err("{\"tag\":\"\"}", "tag: empty");
    node_err("{\"tag\":5}", "tag: expected a string");
    node_err("{\"tag\":\"a\\u0000b\"}", "tag: contains a NUL character");
    node_err("[]", "(root): expected a node object");
    node_err("\"iq\"", "(root): expected a node object");
    node_err("{\"tag\":\"iq\",\"content\":[{\"tag\":\"a\"},{\"tag\":\"b\"},"
             "{\"tag\":\"c\",\"attrs\":{\"to\":{\"jid\":\"a@b@c\"}}}]}",
             "content[2].attrs.to: not a valid JID");
    node_err("{\"tag\":\"iq\",\"content\":[{\"tag\":\"a\",\"content\":[{\"tag\":\"b\",\"attrs\":{\"to\":{\"jid\":"
             "\"1:300@s.whatsapp.net\"}}}]}]}",
             "content[0].content[0].attrs.to: not a valid JID");
    node_err("{\"tag\":\"iq\",\"attrs\":{\"x\":1.5}}",
             "attrs.x: expected a string, an integer, a boolean, {\"jid\": ...} or {\"b64\": ...}");
    node_err("{\"tag\":\"iq\",\"attrs\":{\"x\":null}}",
             "attrs.x: expected a string, an integer, a boolean, {\"jid\": ...} or {\"b64\": ...}");
    node_err("{\"tag\":\"iq\",\"attrs\":{\"x\":{\"jid\":\"a@b\",\"b64\":\"\"}}}",
             "attrs.x: expected a string, an integer, a boolean, {\"jid\": ...} or {\"b64\": ...}");
    node_err("{\"tag\":\"iq\",\"attrs\":{\"x\":{\"jid\":5}}}", "attrs.x.jid: expected a JID string");
    node_err("{\"tag\":\"iq\",\"attrs\":{\"x\":{\"b64\":\"a\"}}}", "attrs.x: not valid base64");
    node_err("{\"tag\":\"iq\",\"attrs\":{\"\":\"v\"}}", "attrs: an attribute key is empty");
    node_err("{\"tag\":\"iq\",\"attrs\":[]}", "attrs: expected an object");
    node_err("{\"tag\":\"iq\",\"content\":{\"b64\":\"a\"}}", "content: not valid base64");
    node_err("{\"tag\":\"iq\",\"content\":{\"b64\":\"ab=c\"}}", "content: not valid base64");
    node_err("{\"tag\":\"iq\",\"content\":{\"b64\":\"abc==\"}}", "content: not valid base64");
    node_err("{\"tag\":\"iq\",\"content\":{\"b64\":\"ab c\"}}", "content: not valid base64");
    node_err("{\"tag\":\"iq\",\"content\":{\"b64\":7}}", "content.b64: expected a base64 string");
    node_err("{\"tag\":\"iq\",\"content\":{\"jid\":\"a:b@s.whatsapp.net\"}}", "content: not a valid JID");
    node_err("{\"tag\":\"iq\",\"content\":5}",
             "content: expected a string, an array of nodes, {\"b64\": ...} or {\"jid\": ...}");
    node_err("{\"tag\":\"iq\",\"content\":{}}",
             "content: expected a string, an array of nodes, {\"b64\": ...} or {\"jid\": ...}");
    node_err("{\"tag\":\"iq\",\"contents\":[]}", "contents: unknown key (a node has tag, attrs and content)");
    node_err("{\"tag\":\"iq\",\"content\":[{\"tag\":\"a\",\"content\":[5]}]}",
             "content[0].content[0]: expected a node object");
    node_err("{\"tag\":\"iq\",\"content\":[{\"tag\":\"a\"},{\"atg\":\"b\"}]}",
             "content[1].atg: unknown key (a node has tag, attrs and content)");
    /* no err buffer: still refused */
    json_t *j = parse("{\"tag\":1}");
    miaw_node *n = NULL;
    CU_ASSERT_EQUAL(miaw_node_from_json(j, &n, NULL, 0), MIAW_E_INVAL);
    CU_ASSERT_PTR_NULL(n);
    /* a short err buffer is cut, NUL-terminated */
    char small[8];
    CU_ASSERT_EQUAL(miaw_node_from_json(j, &n, small, sizeof small), MIAW_E_INVAL);
    CU_ASSERT_STRING_EQUAL(small, "tag: ex");
    json_decref(j);
    CU_ASSERT_EQUAL(miaw_node_from_json(NULL, &n, NULL, 0), MIAW_E_INVAL);
    CU_ASSERT_PTR_NULL(miaw_node_to_json(NULL));
}

/* {"tag":"n","content":[{"tag":"n","content":[...]}]} with `levels` nodes below the root */
static json_t *nested(int levels)
{
    json_t *leaf = json_pack("{s:s}", "tag", "leaf");
    for (int i = 0; i < levels; i++) leaf = json_pack("{s:s,s:[o]}", "tag", "n", "content", leaf);
    return leaf;
}

static void test_node_limits(void)
{
    char err[1024];
    miaw_node *n = NULL;
    json_t *j = nested(MIAW_NODE_JSON_MAX_DEPTH); /* deepest node at depth 32: fine */
    CU_ASSERT_EQUAL(miaw_node_from_json(j, &n, err, sizeof err), MIAW_OK);
    uint8_t *enc = NULL;
    size_t elen;
    CU_ASSERT_EQUAL(miaw_node_encode(n, &enc, &elen), 0);
    free(enc);
    miaw_node_free(n);
    json_decref(j);
    j = nested(MIAW_NODE_JSON_MAX_DEPTH + 1);
    CU_ASSERT_EQUAL(miaw_node_from_json(j, &n, err, sizeof err), MIAW_E_INVAL);
    CU_ASSERT_PTR_NULL(n);
    char want[1024] = "";
    for (int i = 0; i < MIAW_NODE_JSON_MAX_DEPTH + 1; i++) strcat(want, i ? ".content[0]" : "content[0]");
    strcat(want, ": nodes nested deeper than 32 levels");
    CU_ASSERT_STRING_EQUAL(err, want);
    json_decref(j);
    j = nested(5000); /* far too deep: refused without recursing through it all */
    CU_ASSERT_EQUAL(miaw_node_from_json(j, &n, err, sizeof err), MIAW_E_INVAL);
    json_decref(j);

    /* children */
    json_t *kids = json_array();
    for (int i = 0; i < MIAW_NODE_JSON_MAX_CHILDREN; i++) json_array_append_new(kids, json_pack("{s:s}", "tag", "c"));
    j = json_pack("{s:s,s:O}", "tag", "list", "content", kids);
    CU_ASSERT_EQUAL(miaw_node_from_json(j, &n, err, sizeof err), MIAW_OK);
    CU_ASSERT_EQUAL(miaw_node_count(n), MIAW_NODE_JSON_MAX_CHILDREN);
    CU_ASSERT_EQUAL(miaw_node_encode(n, &enc, &elen), 0);
    free(enc);
    miaw_node_free(n);
    json_decref(j);
    json_array_append_new(kids, json_pack("{s:s}", "tag", "c"));
    j = json_pack("{s:s,s:[{s:s,s:O}]}", "tag", "root", "content", "tag", "list", "content", kids);
    CU_ASSERT_EQUAL(miaw_node_from_json(j, &n, err, sizeof err), MIAW_E_INVAL);
    CU_ASSERT_STRING_EQUAL(err, "content[0].content: more than 4096 children");
    json_decref(j);
    json_decref(kids);

    /* attributes */
    json_t *attrs = json_object();
    char key[16];
    for (int i = 0; i < MIAW_NODE_JSON_MAX_ATTRS; i++) {
        snprintf(key, sizeof key, "k%d", i);
        json_object_set_new(attrs, key, json_string("v"));
    }
    j = json_pack("{s:s,s:O}", "tag", "a", "attrs", attrs);
    CU_ASSERT_EQUAL(miaw_node_from_json(j, &n, err, sizeof err), MIAW_OK);
    CU_ASSERT_EQUAL(n->nattrs, MIAW_NODE_JSON_MAX_ATTRS);
    CU_ASSERT_EQUAL(miaw_node_encode(n, &enc, &elen), 0);
    free(enc);
    miaw_node_free(n);
    json_decref(j);
    json_object_set_new(attrs, "one-more", json_string("v"));
    j = json_pack("{s:s,s:O}", "tag", "a", "attrs", attrs);
    CU_ASSERT_EQUAL(miaw_node_from_json(j, &n, err, sizeof err), MIAW_E_INVAL);
    CU_ASSERT_STRING_EQUAL(err, "attrs: more than 4096 attributes");
    json_decref(j);
    json_decref(attrs);

    /* keys with NULs (jansson allows them) are refused */
    j = json_object();
    json_object_set_new(j, "tag", json_string("a"));
    json_t *a = json_object();
    json_object_setn_new(a, "k\0x", 3, json_string("v"));
    json_object_set_new(j, "attrs", a);
    CU_ASSERT_EQUAL(miaw_node_from_json(j, &n, err, sizeof err), MIAW_E_INVAL);
    CU_ASSERT_STRING_EQUAL(err, "attrs: an attribute key contains a NUL character");
    json_object_del(j, "attrs");
    json_object_setn_new(j, "tag\0", 4, json_string("b"));
    CU_ASSERT_EQUAL(miaw_node_from_json(j, &n, err, sizeof err), MIAW_E_INVAL);
    CU_ASSERT_STRING_EQUAL(err, "tag: unknown key (a node has tag, attrs and content)");
    json_decref(j);
}

/* Trees decoded from wire bytes that JSON cannot hold as they are still give valid JSON. */
static void test_node_odd_wire(void)
{
    /* <x k=BINARY(ff 41)>BINARY(80)</x>: the tag "x" is a raw string too */
    static const uint8_t frame[] = {0x00, 0xf8, 0x04, 0xfc, 0x01, 'x', 0xfc, 0x01, 'k',
                                    0xfc, 0x02, 0xff, 0x41, 0xfc, 0x01, 0x80};
    miaw_node *d = NULL;
    CU_ASSERT_EQUAL_FATAL(miaw_node_decode(frame, sizeof frame, &d), 0);
    json_t *j = miaw_node_to_json(d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT(dumps_as(j, "{\"tag\":\"x\",\"attrs\":{\"k\":{\"b64\":\"/0E=\"}},\"content\":{\"b64\":\"gA==\"}}"));
    json_decref(j);
    node_roundtrip(d);
    miaw_node_free(d);

    /* a tag that is not UTF-8 is repaired (U+FFFD), never invalid JSON */
    static const uint8_t frame2[] = {0x00, 0xf8, 0x01, 0xfc, 0x02, 'a', 0xc3};
    CU_ASSERT_EQUAL_FATAL(miaw_node_decode(frame2, sizeof frame2, &d), 0);
    j = miaw_node_to_json(d);
    CU_ASSERT(dumps_as(j, "{\"tag\":\"a\\uFFFD\",\"attrs\":{}}"));
    json_decref(j);
    miaw_node_free(d);

    /* a string content built in code that is not UTF-8 is written as bytes */
    miaw_node *n = miaw_node_new("s");
    miaw_node_set_stringn(n, "\xc0\xaf", 2);
    j = miaw_node_to_json(n);
    CU_ASSERT(dumps_as(j, "{\"tag\":\"s\",\"attrs\":{},\"content\":{\"b64\":\"wK8=\"}}"));
    json_decref(j);
    miaw_node_free(n);
}

/* ================================================================== protobufs */

static ProtobufCMessage *pb_ok(const ProtobufCMessageDescriptor *d, const char *text)
{
    json_t *j = parse(text);
    if (!j) return NULL;
    char err[256] = "";
    ProtobufCMessage *m = NULL;
    int rc = miaw_pb_from_json(d, j, &m, err, sizeof err);
    if (rc) fprintf(stderr, "\n input: %s\n error: %s\n", text, err);
    json_decref(j);
    return m;
}

static void pb_err(const ProtobufCMessageDescriptor *d, const char *text, const char *want_err)
{
    json_t *j = parse(text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    char err[256] = "unchanged";
    ProtobufCMessage *m = (ProtobufCMessage *)&err;
    CU_ASSERT_EQUAL(miaw_pb_from_json(d, j, &m, err, sizeof err), MIAW_E_INVAL);
    CU_ASSERT_PTR_NULL(m);
    CU_ASSERT_STRING_EQUAL(err, want_err);
    if (strcmp(err, want_err)) fprintf(stderr, "\n input: %s\n   got: %s\n  want: %s\n", text, err, want_err);
    uint8_t *out = (uint8_t *)&err;
    size_t olen = 1;
    CU_ASSERT_EQUAL(miaw_pb_json_encode(d, j, &out, &olen, NULL, 0), MIAW_E_INVAL);
    CU_ASSERT(out == NULL && olen == 0);
    json_decref(j);
}

/* text -> message -> JSON must equal canonical (text itself when NULL), and the bytes of
 * json_encode must decode back to the same JSON */
static void pb_roundtrip(const ProtobufCMessageDescriptor *d, const char *text, const char *canonical)
{
    ProtobufCMessage *m = pb_ok(d, text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    json_t *j = miaw_pb_to_json(m);
    json_t *want = parse(canonical ? canonical : text);
    CU_ASSERT(json_equal(j, want));
    if (!json_equal(j, want)) {
        char *s = dump(j);
        fprintf(stderr, "\n got: %s\nwant: %s\n", s, canonical ? canonical : text);
        free(s);
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[256];
    CU_ASSERT_EQUAL(miaw_pb_json_encode(d, j, &buf, &len, err, sizeof err), MIAW_OK);
    CU_ASSERT_EQUAL(len, protobuf_c_message_get_packed_size(m));
    json_t *back = miaw_pb_json_decode(d, buf, len);
    CU_ASSERT(json_equal(back, want));
    free(buf);
    json_decref(back);
    json_decref(want);
    json_decref(j);
    protobuf_c_message_free_unpacked(m, NULL);
}

static const ProtobufCMessageDescriptor *MSG = &miaw__wa__message__descriptor;

static void test_pb_reply_with_quote(void)
{
    const char *text =
        "{\"extendedTextMessage\":{\"text\":\"reply https://example.com\",\"matchedText\":\"https://example.com\","
        "\"textArgb\":4294967295,\"font\":6,\"contextInfo\":{\"stanzaId\":\"ABCDEF\","
        "\"participant\":\"15550001111@s.whatsapp.net\",\"quotedMessage\":{\"conversation\":\"the original\"},"
        "\"mentionedJid\":[\"15550001111@s.whatsapp.net\",\"123456789012345@lid\"],\"isForwarded\":true,"
        "\"forwardingScore\":2,\"expiration\":604800,\"ephemeralSettingTimestamp\":\"1700000000\"}},"
        "\"messageContextInfo\":{\"messageSecret\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\","
        "\"deviceListMetadataVersion\":2,\"deviceListMetadata\":{\"senderTimestamp\":\"1700000000\","
        "\"senderKeyIndexes\":[1,2,4294967295],\"senderKeyHash\":\"qrvM3e7/\"}}}";
    ProtobufCMessage *pm = pb_ok(MSG, text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pm);
    Miaw__Wa__Message *m = (Miaw__Wa__Message *)pm;
    CU_ASSERT_PTR_NOT_NULL_FATAL(m->extendedtextmessage);
    Miaw__Wa__ContextInfo *ci = m->extendedtextmessage->contextinfo;
    CU_ASSERT_PTR_NOT_NULL_FATAL(ci);
    CU_ASSERT_STRING_EQUAL(ci->stanzaid, "ABCDEF");
    CU_ASSERT_PTR_NOT_NULL_FATAL(ci->quotedmessage);
    CU_ASSERT_STRING_EQUAL(ci->quotedmessage->conversation, "the original");
    CU_ASSERT_EQUAL(ci->n_mentionedjid, 2);
    CU_ASSERT_STRING_EQUAL(ci->mentionedjid[1], "123456789012345@lid");
    CU_ASSERT(ci->has_isforwarded && ci->isforwarded);
    CU_ASSERT(ci->has_ephemeralsettingtimestamp && ci->ephemeralsettingtimestamp == 1700000000);
    CU_ASSERT(m->extendedtextmessage->has_textargb && m->extendedtextmessage->textargb == 4294967295u);
    CU_ASSERT_EQUAL(m->extendedtextmessage->font, MIAW__WA__MESSAGE__EXTENDED_TEXT_MESSAGE__FONT_TYPE__SYSTEM_BOLD);
    CU_ASSERT(!m->extendedtextmessage->has_previewtype);
    CU_ASSERT_EQUAL(m->messagecontextinfo->messagesecret.len, 32);
    CU_ASSERT_EQUAL(m->messagecontextinfo->messagesecret.data[31], 31);
    CU_ASSERT_EQUAL(m->messagecontextinfo->devicelistmetadata->n_senderkeyindexes, 3);
    CU_ASSERT_EQUAL(m->messagecontextinfo->devicelistmetadata->senderkeyindexes[2], 4294967295u);
    CU_ASSERT_PTR_NULL(m->conversation);
    protobuf_c_message_free_unpacked(pm, NULL);
    pb_roundtrip(MSG, text, NULL);
    /* null = not set */
    pb_roundtrip(MSG, "{\"conversation\":null,\"extendedTextMessage\":{\"text\":\"x\",\"contextInfo\":null}}",
                 "{\"extendedTextMessage\":{\"text\":\"x\"}}");
}

static void test_pb_int64_strings(void)
{
    /* > 2^53 both ways, the extremes of every 64-bit kind */
    pb_roundtrip(MSG, "{\"imageMessage\":{\"fileLength\":\"18446744073709551615\",\"mediaKeyTimestamp\":"
                      "\"-9223372036854775808\"},\"extendedTextMessage\":{\"mediaKeyTimestamp\":\"9223372036854775807\"},"
                      "\"reactionMessage\":{\"senderTimestampMs\":\"9007199254740993\"}}",
                 NULL);
    ProtobufCMessage *pm = pb_ok(MSG, "{\"imageMessage\":{\"fileLength\":\"9007199254740993\"}}");
    CU_ASSERT_PTR_NOT_NULL_FATAL(pm);
    CU_ASSERT_EQUAL(((Miaw__Wa__Message *)pm)->imagemessage->filelength, 9007199254740993ull);
    protobuf_c_message_free_unpacked(pm, NULL);
    /* JSON integers are taken and written back as strings */
    pb_roundtrip(MSG, "{\"imageMessage\":{\"fileLength\":123456,\"mediaKeyTimestamp\":-5}}",
                 "{\"imageMessage\":{\"fileLength\":\"123456\",\"mediaKeyTimestamp\":\"-5\"}}");
    pb_roundtrip(MSG, "{\"imageMessage\":{\"fileLength\":\"0\"}}", NULL);
    pb_err(MSG, "{\"imageMessage\":{\"fileLength\":\"18446744073709551616\"}}",
           "imageMessage.fileLength: expected an unsigned 64-bit integer (a decimal string or a JSON integer)");
    pb_err(MSG, "{\"imageMessage\":{\"fileLength\":\"-1\"}}",
           "imageMessage.fileLength: expected an unsigned 64-bit integer (a decimal string or a JSON integer)");
    pb_err(MSG, "{\"imageMessage\":{\"fileLength\":-1}}",
           "imageMessage.fileLength: expected an unsigned 64-bit integer (a decimal string or a JSON integer)");
    pb_err(MSG, "{\"imageMessage\":{\"fileLength\":\"12a\"}}",
           "imageMessage.fileLength: expected an unsigned 64-bit integer (a decimal string or a JSON integer)");
    pb_err(MSG, "{\"imageMessage\":{\"fileLength\":\"\"}}",
           "imageMessage.fileLength: expected an unsigned 64-bit integer (a decimal string or a JSON integer)");
    pb_err(MSG, "{\"imageMessage\":{\"fileLength\":1.5}}",
           "imageMessage.fileLength: expected an unsigned 64-bit integer (a decimal string or a JSON integer)");
    pb_err(MSG, "{\"imageMessage\":{\"mediaKeyTimestamp\":\"9223372036854775808\"}}",
           "imageMessage.mediaKeyTimestamp: expected a 64-bit integer (a decimal string or a JSON integer)");
    pb_err(MSG, "{\"imageMessage\":{\"mediaKeyTimestamp\":\"-9223372036854775809\"}}",
           "imageMessage.mediaKeyTimestamp: expected a 64-bit integer (a decimal string or a JSON integer)");
    pb_err(MSG, "{\"imageMessage\":{\"mediaKeyTimestamp\":\" 1\"}}",
           "imageMessage.mediaKeyTimestamp: expected a 64-bit integer (a decimal string or a JSON integer)");
}

static void test_pb_bytes(void)
{
    /* padding optional and URL-safe digits on input; standard with padding on output */
    pb_roundtrip(MSG, "{\"senderKeyDistributionMessage\":{\"axolotlSenderKeyDistributionMessage\":\"-_8\"}}",
                 "{\"senderKeyDistributionMessage\":{\"axolotlSenderKeyDistributionMessage\":\"+/8=\"}}");
    pb_roundtrip(MSG, "{\"senderKeyDistributionMessage\":{\"axolotlSenderKeyDistributionMessage\":\"YQ\"}}",
                 "{\"senderKeyDistributionMessage\":{\"axolotlSenderKeyDistributionMessage\":\"YQ==\"}}");
    pb_roundtrip(MSG, "{\"senderKeyDistributionMessage\":{\"axolotlSenderKeyDistributionMessage\":\"\"}}", NULL);
    ProtobufCMessage *pm = pb_ok(MSG, "{\"senderKeyDistributionMessage\":{\"axolotlSenderKeyDistributionMessage\":"
                                      "\"AP8Q\"}}");
    CU_ASSERT_PTR_NOT_NULL_FATAL(pm);
    ProtobufCBinaryData *b = &((Miaw__Wa__Message *)pm)->senderkeydistributionmessage->axolotlsenderkeydistributionmessage;
    CU_ASSERT(b->len == 3 && b->data[0] == 0 && b->data[1] == 0xff && b->data[2] == 0x10);
    protobuf_c_message_free_unpacked(pm, NULL);
    pb_err(MSG, "{\"senderKeyDistributionMessage\":{\"axolotlSenderKeyDistributionMessage\":\"abcde\"}}",
           "senderKeyDistributionMessage.axolotlSenderKeyDistributionMessage: not valid base64");
    pb_err(MSG, "{\"senderKeyDistributionMessage\":{\"axolotlSenderKeyDistributionMessage\":\"ab!c\"}}",
           "senderKeyDistributionMessage.axolotlSenderKeyDistributionMessage: not valid base64");
    pb_err(MSG, "{\"senderKeyDistributionMessage\":{\"axolotlSenderKeyDistributionMessage\":[1,2]}}",
           "senderKeyDistributionMessage.axolotlSenderKeyDistributionMessage: expected a base64 string");
}

static void test_pb_enums_repeated_floats(void)
{
    /* enums by name and number; unknown numbers are kept */
    pb_roundtrip(MSG, "{\"protocolMessage\":{\"type\":\"MESSAGE_EDIT\",\"key\":{\"id\":\"X\",\"fromMe\":true}}}",
                 "{\"protocolMessage\":{\"type\":14,\"key\":{\"id\":\"X\",\"fromMe\":true}}}");
    pb_roundtrip(MSG, "{\"protocolMessage\":{\"type\":0}}", NULL);
    pb_roundtrip(MSG, "{\"protocolMessage\":{\"type\":999}}", NULL);
    pb_roundtrip(MSG, "{\"extendedTextMessage\":{\"font\":\"SYSTEM_BOLD\",\"previewType\":\"IMAGE\"}}",
                 "{\"extendedTextMessage\":{\"font\":6,\"previewType\":5}}");
    pb_err(MSG, "{\"protocolMessage\":{\"type\":\"EDIT\"}}",
           "protocolMessage.type: \"EDIT\" is not a value of enum miaw.wa.Message.ProtocolMessage.Type");
    pb_err(MSG, "{\"protocolMessage\":{\"type\":true}}",
           "protocolMessage.type: expected an enum number or value name (miaw.wa.Message.ProtocolMessage.Type)");
    /* repeated scalars, strings, messages */
    pb_roundtrip(MSG, "{\"protocolMessage\":{\"type\":6,\"appStateSyncKeyShare\":{\"keys\":["
                      "{\"keyId\":{\"keyId\":\"AQIDBAUG\"},\"keyData\":{\"keyData\":\"AAAA\",\"fingerprint\":{"
                      "\"rawId\":1,\"currentIndex\":2,\"deviceIndexes\":[0,1,2]},\"timestamp\":\"1700000000000\"}},"
                      "{\"keyId\":{\"keyId\":\"BwgJCgsM\"}}]}}}",
                 NULL);
    pb_roundtrip(MSG, "{\"extendedTextMessage\":{\"contextInfo\":{\"mentionedJid\":[]}}}",
                 "{\"extendedTextMessage\":{\"contextInfo\":{}}}");
    /* floats and doubles, exact; NaN and infinities as strings */
    pb_roundtrip(MSG, "{\"locationMessage\":{\"degreesLatitude\":-23.5505199,\"degreesLongitude\":-46.6333094,"
                      "\"speedInMps\":1.5,\"accuracyInMeters\":10}}",
                 NULL);
    pb_roundtrip(MSG, "{\"locationMessage\":{\"degreesLatitude\":\"NaN\",\"degreesLongitude\":\"-Infinity\","
                      "\"speedInMps\":\"Infinity\"}}",
                 NULL);
    pb_roundtrip(MSG, "{\"locationMessage\":{\"degreesLatitude\":3}}", "{\"locationMessage\":{\"degreesLatitude\":3.0}}");
    pb_err(MSG, "{\"locationMessage\":{\"speedInMps\":1e300}}", "locationMessage.speedInMps: out of range for a float");
    pb_err(MSG, "{\"locationMessage\":{\"degreesLatitude\":\"1.5\"}}", "locationMessage.degreesLatitude: expected a number");
    /* sfixed32 / int32 negatives */
    pb_roundtrip(&miaw__wa__client_payload__descriptor, "{\"sessionId\":-5,\"shards\":[1,-2,300],\"passive\":true}",
                 NULL);
    pb_err(&miaw__wa__client_payload__descriptor, "{\"shards\":[1,2147483648]}",
           "shards[1]: expected a 32-bit integer");
}

static void test_pb_errors(void)
{
    pb_err(MSG, "{\"extendedTextMessage\":{\"contextInfo\":{\"stanzaIdd\":\"x\"}}}",
           "extendedTextMessage.contextInfo.stanzaIdd: unknown field");
    pb_err(MSG, "{\"conversations\":\"x\"}", "conversations: unknown field");
    pb_err(MSG, "{\"imageMessage\":{\"width\":-1}}", "imageMessage.width: expected an unsigned 32-bit integer");
    pb_err(MSG, "{\"imageMessage\":{\"width\":4294967296}}", "imageMessage.width: expected an unsigned 32-bit integer");
    pb_err(MSG, "{\"imageMessage\":{\"width\":\"5\"}}", "imageMessage.width: expected an unsigned 32-bit integer");
    pb_err(MSG, "{\"imageMessage\":{\"width\":5.5}}", "imageMessage.width: expected an unsigned 32-bit integer");
    pb_err(MSG, "{\"imageMessage\":{\"viewOnce\":1}}", "imageMessage.viewOnce: expected true or false");
    pb_err(MSG, "{\"conversation\":5}", "conversation: expected a string");
    pb_err(MSG, "{\"conversation\":\"a\\u0000b\"}", "conversation: contains a NUL character");
    pb_err(MSG, "{\"imageMessage\":\"x\"}", "imageMessage: expected an object (miaw.wa.Message.ImageMessage)");
    pb_err(MSG, "{\"extendedTextMessage\":{\"contextInfo\":{\"mentionedJid\":\"a@b\"}}}",
           "extendedTextMessage.contextInfo.mentionedJid: expected an array");
    pb_err(MSG, "{\"extendedTextMessage\":{\"contextInfo\":{\"mentionedJid\":[\"a@b\",7]}}}",
           "extendedTextMessage.contextInfo.mentionedJid[1]: expected a string");
    pb_err(MSG, "{\"extendedTextMessage\":{\"contextInfo\":{\"mentionedJid\":[\"a@b\",null]}}}",
           "extendedTextMessage.contextInfo.mentionedJid[1]: null in an array");
    pb_err(MSG, "{\"protocolMessage\":{\"appStateSyncKeyShare\":{\"keys\":[{},{\"keyId\":{\"keyid\":\"\"}}]}}}",
           "protocolMessage.appStateSyncKeyShare.keys[1].keyId.keyid: unknown field");
    pb_err(MSG, "[]", "(root): expected an object (miaw.wa.Message)");
    /* nesting: 16 FutureProofMessage wrappers put the innermost Message at depth 32 */
    char text[1024] = "", tail[64] = "";
    for (int i = 0; i < 16; i++) {
        strcat(text, "{\"ephemeralMessage\":{\"message\":");
        strcat(tail, "}}");
    }
    char ok[2048];
    snprintf(ok, sizeof ok, "%s{\"conversation\":\"deep\"}%s", text, tail);
    pb_roundtrip(MSG, ok, NULL);
    char deep[2048];
    snprintf(deep, sizeof deep, "%s{\"ephemeralMessage\":{\"message\":{}}}%s", text, tail);
    json_t *j = parse(deep);
    char err[1024];
    ProtobufCMessage *m = NULL;
    CU_ASSERT_EQUAL(miaw_pb_from_json(MSG, j, &m, err, sizeof err), MIAW_E_INVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, ": messages nested deeper than 32 levels"));
    CU_ASSERT_EQUAL(strncmp(err, "ephemeralMessage.message.ephemeralMessage.", 42), 0);
    json_decref(j);
    /* bad arguments */
    CU_ASSERT_EQUAL(miaw_pb_from_json(NULL, NULL, &m, err, sizeof err), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(miaw_pb_from_json(MSG, NULL, &m, err, sizeof err), MIAW_E_INVAL);
    CU_ASSERT_STRING_EQUAL(err, "(root): expected an object (miaw.wa.Message)");
    CU_ASSERT_PTR_NULL(miaw_pb_to_json(NULL));
}

static size_t put_varint(uint8_t *p, size_t v)
{
    size_t n = 0;
    do {
        p[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return n;
}

/* Message{ephemeralMessage{message{...}}} `wraps` times around Message{conversation:"x"} */
static size_t nested_wire(uint8_t *buf, size_t cap, int wraps)
{
    uint8_t a[4096], b[4096];
    size_t n = 3;
    memcpy(a, "\x0a\x01x", 3);
    for (int i = 0; i < wraps && n + 16 < cap; i++) {
        size_t k = 0;
        b[k++] = 0x0a; /* FutureProofMessage.message = 1 */
        k += put_varint(b + k, n);
        memcpy(b + k, a, n);
        k += n;
        n = 0;
        a[n++] = 0xc2; /* Message.ephemeralMessage = 40, length-delimited */
        a[n++] = 0x02;
        n += put_varint(a + n, k);
        memcpy(a + n, b, k);
        n += k;
    }
    memcpy(buf, a, n);
    return n;
}

static void test_pb_wire(void)
{
    /* Message{extendedTextMessage{text:"yo", contextInfo{stanzaId:"S1",
     * quotedMessage{conversation:"q"}}}} plus an unknown field 1000 (varint 5) */
    static const uint8_t wire[] = {0x32, 0x10, 0x0a, 0x02, 'y',  'o',  0x8a, 0x01, 0x09, 0x0a, 0x02, 'S',
                                   '1',  0x1a, 0x03, 0x0a, 0x01, 'q',  0xc0, 0x3e, 0x05};
    json_t *j = miaw_pb_json_decode(MSG, wire, sizeof wire);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT(dumps_as(j, "{\"extendedTextMessage\":{\"text\":\"yo\",\"contextInfo\":{\"stanzaId\":\"S1\","
                          "\"quotedMessage\":{\"conversation\":\"q\"}}}}"));
    /* back to bytes: the same, without the unknown field */
    uint8_t *out = NULL;
    size_t olen = 0;
    CU_ASSERT_EQUAL(miaw_pb_json_encode(MSG, j, &out, &olen, NULL, 0), MIAW_OK);
    CU_ASSERT(olen == sizeof wire - 3 && !memcmp(out, wire, olen));
    free(out);
    json_decref(j);
    /* truncated, or another type's garbage */
    for (size_t cut = 1; cut < sizeof wire - 3; cut++) CU_ASSERT_PTR_NULL(miaw_pb_json_decode(MSG, wire, cut));
    CU_ASSERT_PTR_NULL(miaw_pb_json_decode(&miaw__wa__handshake_message__descriptor, (const uint8_t *)"\x12\xff", 2));
    /* empty input = the empty message */
    j = miaw_pb_json_decode(MSG, NULL, 0);
    CU_ASSERT(dumps_as(j, "{}"));
    json_decref(j);
    /* a string that is not UTF-8 is repaired */
    j = miaw_pb_json_decode(MSG, (const uint8_t *)"\x0a\x03\x61\xff\x62", 5);
    CU_ASSERT(dumps_as(j, "{\"conversation\":\"a\\uFFFDb\"}"));
    json_decref(j);

    /* depth: 16 wrappers (innermost Message at depth 32) decode, 17 do not */
    uint8_t buf[4096];
    size_t n = nested_wire(buf, sizeof buf, 16);
    j = miaw_pb_json_decode(MSG, buf, n);
    CU_ASSERT_PTR_NOT_NULL(j);
    json_decref(j);
    n = nested_wire(buf, sizeof buf, 17);
    CU_ASSERT_PTR_NULL(miaw_pb_json_decode(MSG, buf, n));
    CU_ASSERT_PTR_NULL(miaw_pb_unpack(MSG, buf, n));
    /* ...and a message built deeper than that does not convert either */
    ProtobufCMessage *raw = protobuf_c_message_unpack(MSG, NULL, n, buf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
    CU_ASSERT_PTR_NULL(miaw_pb_to_json(raw));
    protobuf_c_message_free_unpacked(raw, NULL);
    n = nested_wire(buf, sizeof buf, 400);
    CU_ASSERT_PTR_NULL(miaw_pb_unpack(MSG, buf, n));
}

static void test_pb_types(void)
{
    CU_ASSERT_PTR_EQUAL(miaw_pb_type("Message"), &miaw__wa__message__descriptor);
    CU_ASSERT_PTR_EQUAL(miaw_pb_type("miaw.wa.Message"), &miaw__wa__message__descriptor);
    CU_ASSERT_PTR_EQUAL(miaw_pb_type("MessageKey"), &miaw__wa__message_key__descriptor);
    CU_ASSERT_PTR_EQUAL(miaw_pb_type("ClientPayload"), &miaw__wa__client_payload__descriptor);
    CU_ASSERT_PTR_EQUAL(miaw_pb_type("Message.ExtendedTextMessage"),
                        &miaw__wa__message__extended_text_message__descriptor);
    const ProtobufCMessageDescriptor *poll = miaw_pb_type("Message.PollCreationMessage");
    CU_ASSERT_PTR_NOT_NULL_FATAL(poll);
    CU_ASSERT_STRING_EQUAL(poll->name, "miaw.wa.Message.PollCreationMessage");
    CU_ASSERT_PTR_NOT_NULL(miaw_pb_type("CertChain.NoiseCertificate.Details"));
    CU_ASSERT_PTR_NOT_NULL(miaw_pb_type("ClientPayload.UserAgent"));
    CU_ASSERT_PTR_NULL(miaw_pb_type("Nope"));
    CU_ASSERT_PTR_NULL(miaw_pb_type("Message.Nope"));
    CU_ASSERT_PTR_NULL(miaw_pb_type("ExtendedTextMessage"));
    CU_ASSERT_PTR_NULL(miaw_pb_type(""));
    CU_ASSERT_PTR_NULL(miaw_pb_type(NULL));
    size_t i = 0;
    const char *s;
    for (; (s = miaw_pb_type_name(i)); i++) CU_ASSERT_PTR_NOT_NULL(miaw_pb_type(s));
    CU_ASSERT(i >= 15);
    CU_ASSERT_STRING_EQUAL(miaw_pb_type_name(0), "HandshakeMessage");
    /* a nested type found by name converts like any other */
    pb_roundtrip(poll, "{\"name\":\"poll?\",\"options\":[{\"optionName\":\"a\"},{\"optionName\":\"b\"}],"
                       "\"selectableOptionsCount\":1}",
                 NULL);
}

MIAW_TESTS("wa_json", MIAW_T(test_node_every_content_kind), MIAW_T(test_node_input_forms), MIAW_T(test_node_errors),
           MIAW_T(test_node_limits), MIAW_T(test_node_odd_wire), MIAW_T(test_pb_reply_with_quote),
           MIAW_T(test_pb_int64_strings), MIAW_T(test_pb_bytes), MIAW_T(test_pb_enums_repeated_floats),
           MIAW_T(test_pb_errors), MIAW_T(test_pb_wire), MIAW_T(test_pb_types))
