/* tests/unit/test_mock_appstate.c - the mock host's app-state services (ABI 1.4,
 * sdk/mock/mock_host.c): appstate_push checked as the server checks it (collection,
 * mutations, operation, index, value; unknown / disconnected instances), recorded, and
 * completed by the test (version per instance and collection, errors, cancel: no
 * callback); subscriptions filtered by collection, unsubscribe and unload; appstate_sync
 * recorded; appstate_state with the versions so far. */
#include <miaw/mock_host.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static miaw_plugin *SELF;
static const miaw_host_api *API;
static int g_all, g_high, g_cb, g_status;
static json_t *g_result;

static void on_mut(const char *inst, const json_t *m, void *ud)
{
    CU_ASSERT_STRING_EQUAL(inst, "i1");
    CU_ASSERT_PTR_NOT_NULL(json_object_get(m, "index"));
    if (ud) g_high++;
    else g_all++;
}

static void on_push(int status, const json_t *result, const char *detail, void *ud)
{
    (void)detail;
    (void)ud;
    g_cb++;
    g_status = status;
    json_decref(g_result);
    g_result = result ? json_deep_copy(result) : NULL;
}

static miaw_id g_sub_high;

static int init(miaw_plugin *self, const miaw_host_api *api, const json_t *config, void **state, char *err,
                size_t errlen)
{
    (void)config, (void)err, (void)errlen;
    SELF = self;
    API = api;
    *state = NULL;
    if (!MIAW_HOST_HAS(api, appstate_state)) return MIAW_E_NOTSUP;
    if (api->appstate_subscribe(self, "regular_hi", on_mut, NULL, NULL) != MIAW_E_INVAL) return MIAW_E_INVAL;
    if (api->appstate_subscribe(self, NULL, on_mut, NULL, NULL)) return MIAW_E_INVAL;
    return api->appstate_subscribe(self, "regular_high", on_mut, "high", &g_sub_high);
}

static void fini(void *state) { (void)state; }

static const miaw_plugin_desc DESC = {MIAW_PLUGIN_DESC_INIT, .abi_minor_required = 4, .name = "asmock",
                                      .version = "1.0", .init = init, .fini = fini};

static json_t *patch(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    return j;
}

static void t_push(void)
{
    miaw_mock *m = miaw_mock_new();
    char err[256];
    CU_ASSERT_PTR_NOT_NULL_FATAL(miaw_mock_load_desc(m, &DESC, NULL, err, sizeof err));
    CU_ASSERT_EQUAL(miaw_mock_put_instance(m, "i1", NULL), MIAW_OK);
    CU_ASSERT_EQUAL(miaw_mock_put_instance(m, "off", "{\"status\":\"disconnected\"}"), MIAW_OK);
    const char *field = NULL;
    miaw_id h = 0;
    json_t *good = patch("{\"collection\":\"critical_block\",\"mutations\":[{\"operation\":\"set\","
                         "\"index\":[\"setting_pushName\"],\"value\":{\"pushNameSetting\":{\"name\":\"A\"}},\"version\":1}]}");
    json_t *badc = patch("{\"collection\":\"x\",\"mutations\":[]}");
    json_t *badm = patch("{\"collection\":\"regular\",\"mutations\":[{\"operation\":\"upsert\",\"index\":[\"a\"],\"value\":{}}]}");
    json_t *badi = patch("{\"collection\":\"regular\",\"mutations\":[{\"operation\":\"set\",\"index\":[],\"value\":{}}]}");
    CU_ASSERT_EQUAL(API->appstate_push(SELF, "i1", badc, on_push, NULL, &h, &field, err, sizeof err), MIAW_E_INVAL);
    CU_ASSERT_STRING_EQUAL(field, "collection");
    CU_ASSERT_EQUAL(API->appstate_push(SELF, "i1", badm, on_push, NULL, &h, &field, err, sizeof err), MIAW_E_INVAL);
    CU_ASSERT_STRING_EQUAL(field, "mutations");
    CU_ASSERT_EQUAL(API->appstate_push(SELF, "i1", badi, on_push, NULL, &h, &field, err, sizeof err), MIAW_E_INVAL);
    CU_ASSERT(strstr(err, "index") != NULL);
    CU_ASSERT_EQUAL(API->appstate_push(SELF, "nope", good, on_push, NULL, &h, &field, err, sizeof err), MIAW_E_NOTFOUND);
    CU_ASSERT_EQUAL(API->appstate_push(SELF, "off", good, on_push, NULL, &h, &field, err, sizeof err), MIAW_E_STATE);
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_appstate_calls(m)), 0);
    /* two pushes: one completes, one is cancelled */
    CU_ASSERT_EQUAL(API->appstate_push(SELF, "i1", good, on_push, NULL, &h, &field, err, sizeof err), MIAW_OK);
    CU_ASSERT_EQUAL(g_cb, 0); /* never inside the call */
    miaw_id h2 = 0;
    CU_ASSERT_EQUAL(API->appstate_push(SELF, "i1", good, on_push, NULL, &h2, &field, err, sizeof err), MIAW_OK);
    API->cancel(SELF, h2);
    const json_t *rec = json_array_get(miaw_mock_appstate_calls(m), 0);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(rec, "kind")), "appstate_push");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(rec, "patch"), "collection")),
                           "critical_block");
    CU_ASSERT_EQUAL(miaw_mock_complete_appstate(m, 0, MIAW_OK, NULL), MIAW_OK);
    CU_ASSERT_EQUAL(g_cb, 1);
    CU_ASSERT_EQUAL(g_status, MIAW_OK);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(g_result, "version")), 1);
    CU_ASSERT_EQUAL(miaw_mock_complete_appstate(m, 0, MIAW_OK, NULL), MIAW_E_STATE); /* done already */
    CU_ASSERT_EQUAL(miaw_mock_complete_appstate(m, 1, MIAW_OK, NULL), MIAW_E_GONE);  /* cancelled */
    CU_ASSERT_EQUAL(miaw_mock_complete_appstate(m, 2, MIAW_OK, NULL), MIAW_E_NOTFOUND);
    CU_ASSERT_EQUAL(g_cb, 1);
    /* an error completion */
    CU_ASSERT_EQUAL(API->appstate_push(SELF, "i1", good, on_push, NULL, &h, &field, err, sizeof err), MIAW_OK);
    CU_ASSERT_EQUAL(miaw_mock_complete_appstate(m, 2, MIAW_E_IO, "refused"), MIAW_OK);
    CU_ASSERT_EQUAL(g_status, MIAW_E_IO);
    CU_ASSERT_PTR_NULL(g_result);
    /* state: one version so far */
    json_t *st = API->appstate_state(SELF, "i1");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(json_object_get(st, "collections"),
                                                                       "critical_block"), "version")), 1);
    json_decref(st);
    CU_ASSERT_PTR_NULL(API->appstate_state(SELF, "nope"));
    /* sync */
    CU_ASSERT_EQUAL(API->appstate_sync(SELF, "i1", "regular", 1, err, sizeof err), MIAW_OK);
    CU_ASSERT_EQUAL(API->appstate_sync(SELF, "i1", "bogus", 0, err, sizeof err), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_appstate_calls(m)), 4);
    json_decref(good);
    json_decref(badc);
    json_decref(badm);
    json_decref(badi);
    json_decref(g_result);
    g_result = NULL;
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_violations(m)), 0);
    miaw_mock_free(m);
}

static void t_subscriptions(void)
{
    miaw_mock *m = miaw_mock_new();
    char err[256];
    g_all = g_high = 0;
    miaw_plugin *p = miaw_mock_load_desc(m, &DESC, NULL, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    const char *hi = "{\"collection\":\"regular_high\",\"operation\":\"set\",\"index\":[\"mute\",\"1@s.whatsapp.net\"],"
                     "\"value\":{\"muteAction\":{\"muted\":true}},\"timestamp\":1,\"version\":3}";
    const char *lo = "{\"collection\":\"regular_low\",\"operation\":\"set\",\"index\":[\"pin_v1\",\"1@s.whatsapp.net\"],"
                     "\"value\":{}}";
    CU_ASSERT_EQUAL(miaw_mock_appstate_deliver(m, "i1", hi), 2);
    CU_ASSERT_EQUAL(miaw_mock_appstate_deliver(m, "i1", lo), 1);
    CU_ASSERT_EQUAL(g_all, 2);
    CU_ASSERT_EQUAL(g_high, 1);
    CU_ASSERT_EQUAL(miaw_mock_appstate_deliver(m, "i1", "{\"collection\":\"nope\",\"index\":[]}"), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(miaw_mock_appstate_deliver(m, "i1", "not json"), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(API->appstate_unsubscribe(SELF, g_sub_high), MIAW_OK);
    CU_ASSERT_EQUAL(API->appstate_unsubscribe(SELF, g_sub_high), MIAW_E_NOTFOUND);
    CU_ASSERT_EQUAL(miaw_mock_appstate_deliver(m, "i1", hi), 1);
    miaw_mock_unload(m, p);
    CU_ASSERT_EQUAL(miaw_mock_appstate_deliver(m, "i1", hi), 0);
    miaw_mock_free(m);
}

static void t_older_host(void)
{
    miaw_mock *m = miaw_mock_new();
    char err[256];
    CU_ASSERT_EQUAL(miaw_mock_set_abi_minor(m, 3), MIAW_OK);
    CU_ASSERT_FALSE(MIAW_HOST_HAS(miaw_mock_api(m), appstate_push));
    CU_ASSERT_TRUE(MIAW_HOST_HAS(miaw_mock_api(m), fetch));
    CU_ASSERT_PTR_NULL(miaw_mock_load_desc(m, &DESC, NULL, err, sizeof err)); /* needs 1.4 */
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "minor 4"));
    CU_ASSERT_EQUAL(miaw_mock_set_abi_minor(m, 4), MIAW_OK);
    CU_ASSERT_TRUE(MIAW_HOST_HAS(miaw_mock_api(m), appstate_state));
    miaw_mock_free(m);
}

MIAW_TESTS("mock_appstate", MIAW_T(t_push), MIAW_T(t_subscriptions), MIAW_T(t_older_host))
