/* tests/unit/test_mock_reply_header.c - reply_header (the headers of a plugin's answer,
 * e.g. Retry-After) on the SDK's mock host: headers reach the reply lowercased, the
 * server-owned names, bad names and values, and a 17th header are refused, and a call
 * after the answer is a violation that answers MIAW_E_GONE. The server's own copy of the
 * checks (core/http/http.c) is exercised end to end by tests/integration/contacts.test.mjs. */
#include "harness.h"

#include <jansson.h>
#include <miaw/mock_host.h>
#include <stdio.h>
#include <string.h>

static const miaw_host_api *API;
static int g_rc[8];

static int h_hdr(miaw_req *req, void *ud)
{
    (void)ud;
    int i = 0;
    g_rc[i++] = API->reply_header(req, "Retry-After", "30");
    g_rc[i++] = API->reply_header(req, "Content-Type", "text/plain"); /* the server's */
    g_rc[i++] = API->reply_header(req, "bad name", "x");
    g_rc[i++] = API->reply_header(req, "X-Ok", "line\r\nInjected: 1");
    g_rc[i++] = API->reply_header(req, "", "x");
    char name[16];
    int refused = 0;
    for (int k = 0; k < 16; k++) { /* 1 so far; 15 more fit */
        snprintf(name, sizeof name, "x-h%d", k);
        refused += API->reply_header(req, name, "v") != MIAW_OK;
    }
    g_rc[i++] = refused;
    API->reply_error(req, 429, "RATE_LIMITED", "slow down");
    g_rc[i++] = API->reply_header(req, "X-Late", "1");
    return MIAW_OK;
}

static int hdr_init(miaw_plugin *self, const miaw_host_api *api, const json_t *config, void **state, char *err,
                    size_t errlen)
{
    (void)config;
    API = api;
    *state = NULL;
    if (!MIAW_HOST_HAS(api, reply_header)) return snprintf(err, errlen, "no reply_header"), MIAW_E_NOTSUP;
    miaw_route r = {MIAW_ROUTE_INIT, .method = "GET", .path = "/hdr", .handler = h_hdr};
    return api->route_add(self, &r, err, errlen);
}
static void hdr_fini(void *state) { (void)state; }
static const miaw_plugin_desc DESC = {MIAW_PLUGIN_DESC_INIT, .abi_minor_required = 3, .name = "hdr", .version = "1",
                                      .init = hdr_init, .fini = hdr_fini};

static void test_reply_header(void)
{
    miaw_mock *m = miaw_mock_new();
    char err[256] = "";
    CU_ASSERT_PTR_NOT_NULL_FATAL(miaw_mock_load_desc(m, &DESC, NULL, err, sizeof err));
    miaw_mock_reply r = {0};
    CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", "/hdr", NULL, &r), 429);
    CU_ASSERT_EQUAL(g_rc[0], MIAW_OK);
    CU_ASSERT_EQUAL(g_rc[1], MIAW_E_INVAL);
    CU_ASSERT_EQUAL(g_rc[2], MIAW_E_INVAL);
    CU_ASSERT_EQUAL(g_rc[3], MIAW_E_INVAL);
    CU_ASSERT_EQUAL(g_rc[4], MIAW_E_INVAL);
    CU_ASSERT_EQUAL(g_rc[5], 1); /* the 17th */
    CU_ASSERT_EQUAL(g_rc[6], MIAW_E_GONE);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.headers, "retry-after"), "30");
    CU_ASSERT_EQUAL(json_object_size(r.headers), 16);
    CU_ASSERT_PTR_NULL(json_object_get(r.headers, "content-type"));
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_violations(m)), 1); /* the call after the answer */
    miaw_mock_reply_clear(&r);
    miaw_mock_free(m);
}

MIAW_TESTS("mock_reply_header", MIAW_T(test_reply_header))
