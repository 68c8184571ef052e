/* tests/unit/test_admin_xmlrpc.c - the XML-RPC codec used for supervisord: encoding of
 * every supported type, decoding of real supervisord replies (values and faults),
 * entities, and rejection of malformed or hostile documents. */
#include <stdlib.h>
#include <string.h>

#include "admin/xmlrpc.h"
#include "harness.h"

static json_t *decode_ok(const char *xml)
{
    json_t *v = NULL;
    char *fs = NULL, err[128];
    int fc = 0;
    int rc = miaw_xmlrpc_decode_response(xml, strlen(xml), &v, &fc, &fs, err, sizeof err);
    CU_ASSERT_EQUAL(rc, MIAW_XMLRPC_OK);
    free(fs);
    return v;
}

static void encode_call_types(void)
{
    json_t *p = json_pack("[s,b,b,i,I,f,n,[i,s],{s:s}]", "a<&>\"b", 1, 0, 42, (json_int_t)5000000000LL, 1.5, 7, "x",
                          "k", "v");
    char *x = miaw_xmlrpc_encode_call("supervisor.startProcess", p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    CU_ASSERT_PTR_NOT_NULL(strstr(x, "<methodName>supervisor.startProcess</methodName>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(x, "<value><string>a&lt;&amp;&gt;&quot;b</string></value>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(x, "<boolean>1</boolean>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(x, "<boolean>0</boolean>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(x, "<int>42</int>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(x, "<i8>5000000000</i8>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(x, "<double>1.5</double>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(x, "<nil/>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(x, "<array><data><value><int>7</int></value><value><string>x</string></value></data></array>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(x, "<struct><member><name>k</name><value><string>v</string></value></member></struct>"));
    free(x);
    json_decref(p);
    x = miaw_xmlrpc_encode_call("supervisor.getState", NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(x, "<params></params>"));
    free(x);
    p = json_pack("{}");
    CU_ASSERT_PTR_NULL(miaw_xmlrpc_encode_call("m", p)); /* params must be an array */
    json_decref(p);
}

/* encode a value and decode it back inside a methodResponse */
static void roundtrip(void)
{
    json_t *v = json_pack("{s:[i,b,s,{s:n}],s:s,s:f}", "list", -3, 1, "ü & <x>", "z", "empty", "", "d", -0.25);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    const char *head = "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n";
    CU_ASSERT_EQUAL(miaw_xmlrpc_encode_value(&buf, &len, &cap, v), 0);
    size_t n = strlen(head) + len + 64;
    char *doc = malloc(n);
    snprintf(doc, n, "%s%s</param>\n</params>\n</methodResponse>\n", head, buf);
    json_t *back = decode_ok(doc);
    CU_ASSERT_TRUE(json_equal(v, back));
    json_decref(back);
    json_decref(v);
    free(buf);
    free(doc);
}

/* a getProcessInfo reply as supervisord 4.2 writes it (Python's xmlrpc.client) */
static void decode_supervisord_reply(void)
{
    const char *xml =
        "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><struct>\n"
        "<member>\n<name>name</name>\n<value><string>miaw_3001</string></value>\n</member>\n"
        "<member>\n<name>statename</name>\n<value><string>RUNNING</string></value>\n</member>\n"
        "<member>\n<name>pid</name>\n<value><int>12345</int></value>\n</member>\n"
        "<member>\n<name>start</name>\n<value><i4>1700000000</i4></value>\n</member>\n"
        "<member>\n<name>description</name>\n<value><string>pid 12345, uptime 0:00:05</string></value>\n</member>\n"
        "<member>\n<name>spawnerr</name>\n<value><string></string></value>\n</member>\n"
        "<member>\n<name>logfile</name>\n<value>/var/log/a&amp;b.log</value>\n</member>\n"
        "<member>\n<name>ok</name>\n<value><boolean>1</boolean></value>\n</member>\n"
        "<member>\n<name>nothing</name>\n<value><nil/></value>\n</member>\n"
        "<member>\n<name>list</name>\n<value><array><data>\n</data></array></value>\n</member>\n"
        "</struct></value>\n</param>\n</params>\n</methodResponse>\n";
    json_t *v = decode_ok(xml);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(v, "name")), "miaw_3001");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(v, "pid")), 12345);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(v, "start")), 1700000000);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(v, "spawnerr")), "");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(v, "logfile")), "/var/log/a&b.log");
    CU_ASSERT_TRUE(json_is_true(json_object_get(v, "ok")));
    CU_ASSERT_TRUE(json_is_null(json_object_get(v, "nothing")));
    CU_ASSERT_EQUAL(json_array_size(json_object_get(v, "list")), 0);
    json_decref(v);
    /* reloadConfig: [[added, changed, removed]] */
    v = decode_ok("<methodResponse><params><param><value><array><data><value><array><data>"
                  "<value><array><data><value><string>miaw_3001</string></value></data></array></value>"
                  "<value><array><data/></array></value><value><array/></value>"
                  "</data></array></value></data></array></value></param></params></methodResponse>");
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(json_array_get(json_array_get(v, 0), 0), 0)), "miaw_3001");
    CU_ASSERT_EQUAL(json_array_size(json_array_get(json_array_get(v, 0), 1)), 0);
    json_decref(v);
    v = decode_ok("<methodResponse><params><param><value><string>&#72;&#x69;&#x20AC;</string></value></param></params></methodResponse>");
    CU_ASSERT_STRING_EQUAL(json_string_value(v), "Hi\xe2\x82\xac");
    json_decref(v);
}

static void decode_fault(void)
{
    const char *xml = "<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value><struct>\n"
                      "<member>\n<name>faultCode</name>\n<value><int>10</int></value>\n</member>\n"
                      "<member>\n<name>faultString</name>\n<value><string>BAD_NAME: miaw_9</string></value>\n</member>\n"
                      "</struct></value>\n</fault>\n</methodResponse>\n";
    json_t *v = NULL;
    char *fs = NULL;
    int fc = 0;
    CU_ASSERT_EQUAL(miaw_xmlrpc_decode_response(xml, strlen(xml), &v, &fc, &fs, NULL, 0), MIAW_XMLRPC_FAULT);
    CU_ASSERT_PTR_NULL(v);
    CU_ASSERT_EQUAL(fc, 10);
    CU_ASSERT_STRING_EQUAL(fs, "BAD_NAME: miaw_9");
    free(fs);
}

static void reject_malformed(void)
{
    static const char *bad[] = {
        "",
        "<html>nope</html>",
        "<methodResponse><params><param><value><int>12x</int></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><boolean>2</boolean></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><string>a</value></param></params></methodResponse>",
        "<methodResponse><params><param><value><string>&bogus;</string></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><string>&#0;</string></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><wat>1</wat></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><struct><member><name>a</name></member></struct></value></param></params></methodResponse>",
        "<methodResponse><fault><value><struct></struct></value></fault></methodResponse>",
        "<methodResponse><params><param><value><string>unterminated",
        "<methodResponse><params><param><value>x<int>1</int></value></param></params></methodResponse>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *v = NULL;
        char *fs = NULL, err[128] = "";
        int fc = 0;
        int rc = miaw_xmlrpc_decode_response(bad[i], strlen(bad[i]), &v, &fc, &fs, err, sizeof err);
        CU_ASSERT_EQUAL(rc, MIAW_XMLRPC_MALFORMED);
        CU_ASSERT_PTR_NULL(v);
        CU_ASSERT_PTR_NULL(fs);
        CU_ASSERT_TRUE(err[0] != 0);
    }
    /* not NUL-terminated: the decoder must stay inside len */
    const char *full = "<methodResponse><params><param><value><int>7</int></value></param></params></methodResponse>";
    json_t *v = NULL;
    CU_ASSERT_EQUAL(miaw_xmlrpc_decode_response(full, strlen(full) - 5, &v, NULL, NULL, NULL, 0), MIAW_XMLRPC_MALFORMED);
}

static void reject_deep_nesting(void)
{
    size_t depth = 200, n = depth * 50 + 200;
    char *x = malloc(n), *w = x;
    w += sprintf(w, "<methodResponse><params><param><value>");
    for (size_t i = 0; i < depth; i++) w += sprintf(w, "<array><data><value>");
    w += sprintf(w, "<int>1</int>");
    for (size_t i = 0; i < depth; i++) w += sprintf(w, "</value></data></array>");
    sprintf(w, "</value></param></params></methodResponse>");
    json_t *v = NULL;
    CU_ASSERT_EQUAL(miaw_xmlrpc_decode_response(x, strlen(x), &v, NULL, NULL, NULL, 0), MIAW_XMLRPC_MALFORMED);
    free(x);
}

MIAW_TESTS("admin_xmlrpc", MIAW_T(encode_call_types), MIAW_T(roundtrip), MIAW_T(decode_supervisord_reply),
           MIAW_T(decode_fault), MIAW_T(reject_malformed), MIAW_T(reject_deep_nesting))
