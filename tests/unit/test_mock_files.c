/* tests/unit/test_mock_files.c - the mock host's ABI 1.3 file functions (miaw/mock_host.h)
 * with a probe plugin compiled into this test: multipart calls (text fields coerced and
 * checked by the schema, duplicates and bad UTF-8 named, 413/415, files handed out by
 * req_upload and removed when the request is answered or aborted), reply_file captured
 * (whole, ranges, 416, unlink, refusals), fetch recorded and completed (ok with a file the
 * plugin owns, errors with the host's texts, max_bytes, the virtual clock's timeout,
 * cancel and unload), refusals, and a host offered as 1.2 hiding the three. */
#include "harness.h"

#include <jansson.h>
#include <miaw/mock_host.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ================================================================ the probe plugin */
static const miaw_host_api *API;
static miaw_plugin *SELF;
static int g_fetch_cbs, g_aborts;
static char g_upload_path[4096];

typedef struct job {
    miaw_req *req;
    miaw_id h;
} job;

static int h_upload(miaw_req *req, void *ud)
{
    (void)ud;
    miaw_upload u = {.struct_size = sizeof u};
    json_t *files = json_object();
    if (API->req_upload(req, "file", &u) == MIAW_OK) {
        snprintf(g_upload_path, sizeof g_upload_path, "%s", u.path);
        FILE *f = fopen(u.path, "rb");
        char buf[64] = "";
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f) fclose(f);
        struct stat st;
        stat(u.path, &st);
        json_object_set_new(files, "file", json_pack("{s:s#,s:s?,s:s?,s:I,s:i}", "text", buf, (int)n, "filename",
                                                     u.filename, "contentType", u.content_type, "size",
                                                     (json_int_t)u.size, "mode", (int)(st.st_mode & 0777)));
    }
    miaw_upload none = {.struct_size = sizeof none};
    json_object_set_new(files, "missing", json_integer(API->req_upload(req, "nope", &none)));
    if (API->req_query(req, "async")) { /* answer later: the files stay until then */
        API->req_suspend(req, NULL, NULL);
        json_decref(files);
        return MIAW_ASYNC;
    }
    return API->reply_json(req, 200, json_pack("{s:O?,s:o}", "body", API->req_body(req), "files", files)), MIAW_OK;
}

static int h_serve(miaw_req *req, void *ud)
{
    (void)ud;
    const char *path = API->req_query(req, "path"), *flags = API->req_query(req, "flags");
    int rc = API->reply_file(req, 200, path, API->req_query(req, "type"), API->req_query(req, "name"),
                             flags ? (uint32_t)strtoul(flags, NULL, 0) : 0);
    if (rc != MIAW_OK) API->reply_status(req, rc, NULL, "reply_file: %d", rc);
    return MIAW_OK;
}

static void on_fetched(int status, const char *path, const char *ct, uint64_t size, const char *detail, void *ud)
{
    job *j = ud;
    g_fetch_cbs++;
    json_t *a = json_pack("{s:i,s:s?,s:I,s:s?}", "status", status, "contentType", ct, "size", (json_int_t)size,
                          "detail", detail);
    if (path) {
        char *txt = NULL;
        size_t n = 0;
        FILE *f = fopen(path, "rb");
        if (f) {
            txt = calloc(1, 256);
            n = fread(txt, 1, 255, f);
            fclose(f);
        }
        struct stat st;
        stat(path, &st);
        json_object_set_new(a, "text", json_stringn(txt ? txt : "", n));
        json_object_set_new(a, "mode", json_integer(st.st_mode & 0777));
        free(txt);
        unlink(path); /* the file is the plugin's */
    }
    API->reply_json(j->req, 200, a);
    free(j);
}

static void on_fetch_abort(miaw_req *req, int reason, void *ud)
{
    (void)req, (void)reason;
    job *j = ud;
    g_aborts++;
    API->cancel(SELF, j->h);
    free(j);
}

static int h_fetch(miaw_req *req, void *ud)
{
    (void)ud;
    const json_t *b = API->req_body(req);
    miaw_fetch_opts o = {.struct_size = sizeof o, .max_bytes = (uint64_t)json_integer_value(json_object_get(b, "max"))};
    job *j = calloc(1, sizeof *j);
    j->req = req;
    char err[128];
    int rc = API->fetch(SELF, json_string_value(json_object_get(b, "url")), &o, on_fetched, j, &j->h, err, sizeof err);
    if (rc != MIAW_OK) {
        free(j);
        return API->reply_status(req, rc, "url", "%s", err), MIAW_OK;
    }
    API->req_suspend(req, on_fetch_abort, j);
    return MIAW_ASYNC;
}

static const miaw_field UPLOAD[] = {
    {.name = "title", .type = MIAW_T_STRING, .flags = MIAW_F_REQUIRED},
    {.name = "count", .type = MIAW_T_INTEGER, .flags = MIAW_F_HAS_MAX, .max = 10},
    {0},
};
static const miaw_field FETCH[] = {{.name = "url", .type = MIAW_T_STRING}, {.name = "max", .type = MIAW_T_INTEGER}, {0}};

static int files_init(miaw_plugin *self, const miaw_host_api *api, const json_t *config, void **state, char *err,
                      size_t errlen)
{
    (void)config;
    API = api;
    SELF = self;
    *state = NULL;
    if (!MIAW_HOST_HAS(api, fetch)) return snprintf(err, errlen, "needs 1.3"), MIAW_E_NOTSUP;
    const miaw_route routes[] = {
        {MIAW_ROUTE_INIT, .method = "POST", .path = "/up", .handler = h_upload, .flags = MIAW_ROUTE_MULTIPART,
         .body = UPLOAD, .body_max = 4096},
        {MIAW_ROUTE_INIT, .method = "POST", .path = "/json-only", .handler = h_upload, .body = UPLOAD},
        {MIAW_ROUTE_INIT, .method = "GET", .path = "/serve", .handler = h_serve},
        {MIAW_ROUTE_INIT, .method = "POST", .path = "/fetch", .handler = h_fetch, .body = FETCH},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (api->route_add(self, &routes[i], err, errlen) != MIAW_OK) return MIAW_E_INVAL;
    return MIAW_OK;
}
static void files_fini(void *state) { (void)state; }
static const miaw_plugin_desc DESC = {MIAW_PLUGIN_DESC_INIT, .abi_minor_required = 3, .name = "files",
                                      .version = "1", .init = files_init, .fini = files_fini};

static miaw_mock *setup(void)
{
    miaw_mock *m = miaw_mock_new();
    char err[256] = "";
    miaw_plugin *p = miaw_mock_load_desc(m, &DESC, NULL, err, sizeof err);
    if (!p) fprintf(stderr, "\nload: %s\n", err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    g_fetch_cbs = g_aborts = 0;
    return m;
}

/* ================================================================ tests */
static void test_multipart_calls(void)
{
    miaw_mock *m = setup();
    static const char bytes[] = "PNG\0data";
    miaw_mock_part parts[] = {
        {.name = "title", .value = "hi"},
        {.name = "count", .value = "7"},
        {.name = "file", .data = bytes, .len = sizeof bytes - 1, .filename = "na\xc3\xafve.png", .content_type = "image/png"},
        {.name = "empty", .filename = ""}, /* an empty file input: skipped */
    };
    miaw_mock_reply r = {0};
    CU_ASSERT_EQUAL(miaw_mock_call_multipart(m, "POST", "/up", NULL, parts, 4, &r), 200);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.body.title"), "hi");
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.json, "data.body.count")), 7); /* coerced */
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.json, "data.files.file.size")), 8);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.files.file.filename"), "na\xc3\xafve.png");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.files.file.contentType"), "image/png");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.files.file.text"), "PNG");
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.json, "data.files.file.mode")), 0600);
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.json, "data.files.missing")), MIAW_E_NOTFOUND);
    CU_ASSERT_NOT_EQUAL(access(g_upload_path, F_OK), 0); /* removed with the answer */
    miaw_mock_reply_clear(&r);

    /* the schema names the field; duplicates and bad UTF-8 are named too */
    miaw_mock_part bad1[] = {{.name = "title", .value = "t"}, {.name = "count", .value = "11"}};
    CU_ASSERT_EQUAL(miaw_mock_call_multipart(m, "POST", "/up", NULL, bad1, 2, &r), 400);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "error.details.field"), "count");
    miaw_mock_reply_clear(&r);
    miaw_mock_part bad2[] = {{.name = "title", .value = "t"}, {.name = "title", .value = "u"}};
    CU_ASSERT_EQUAL(miaw_mock_call_multipart(m, "POST", "/up", NULL, bad2, 2, &r), 400);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "error.details.field"), "title");
    miaw_mock_reply_clear(&r);
    miaw_mock_part bad3[] = {{.name = "title", .value = "\xc3\x28"}};
    CU_ASSERT_EQUAL(miaw_mock_call_multipart(m, "POST", "/up", NULL, bad3, 1, &r), 400);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "error.details.field"), "title");
    miaw_mock_reply_clear(&r);
    /* too large, a route without the flag, a multipart body given as text */
    static char big[5000];
    memset(big, 'x', sizeof big);
    miaw_mock_part bad4[] = {{.name = "title", .value = "t"}, {.name = "file", .data = big, .len = sizeof big}};
    CU_ASSERT_EQUAL(miaw_mock_call_multipart(m, "POST", "/up", NULL, bad4, 2, &r), 413);
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(miaw_mock_call_multipart(m, "POST", "/json-only", NULL, parts, 1, &r), 415);
    miaw_mock_reply_clear(&r);
    const char *ct[] = {"Content-Type: multipart/form-data; boundary=b", NULL};
    CU_ASSERT_EQUAL(miaw_mock_call_h(m, "POST", "/up", ct, "--b--", &r), 400);
    miaw_mock_reply_clear(&r);
    /* JSON still works on a multipart route; 415 names both types */
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", "/up", "{\"title\":\"j\"}", &r), 200);
    miaw_mock_reply_clear(&r);
    const char *form[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    CU_ASSERT_EQUAL(miaw_mock_call_h(m, "POST", "/up", form, "title=x", &r), 415);
    CU_ASSERT_PTR_NOT_NULL(strstr(miaw_mock_str(r.json, "error.message"), "multipart"));
    miaw_mock_reply_clear(&r);
    /* files of a pending request stay until it ends; an abort removes them */
    CU_ASSERT_EQUAL(miaw_mock_call_multipart(m, "POST", "/up?async=1", NULL, parts, 3, &r), 0);
    CU_ASSERT_TRUE(r.pending);
    CU_ASSERT_EQUAL(access(g_upload_path, F_OK), 0);
    CU_ASSERT_EQUAL(miaw_mock_abort(m, &r), MIAW_OK);
    CU_ASSERT_NOT_EQUAL(access(g_upload_path, F_OK), 0);
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_violations(m)), 0);
    miaw_mock_free(m);
}

static void test_reply_file(void)
{
    miaw_mock *m = setup();
    char path[] = "/tmp/miaw-mock-files-XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_TRUE_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(write(fd, "0123456789", 10), 10);
    close(fd);
    char url[512];
    miaw_mock_reply r = {0};
    snprintf(url, sizeof url, "/serve?path=%s&type=text/plain&name=r%%C3%%A9sum%%C3%%A9.txt", path);
    CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", url, NULL, &r), 200);
    CU_ASSERT_PTR_NULL(r.json);
    CU_ASSERT_EQUAL(r.body_len, 10);
    CU_ASSERT_STRING_EQUAL(r.body, "0123456789");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.file, "contentType"), "text/plain");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.file, "disposition"),
                           "inline; filename=\"r_sum_.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt");
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.file, "size")), 10);
    miaw_mock_reply_clear(&r);
    snprintf(url, sizeof url, "/serve?path=%s", path);
    const char *rng[] = {"Range: bytes=-3", NULL};
    CU_ASSERT_EQUAL(miaw_mock_call_h(m, "GET", url, rng, NULL, &r), 206);
    CU_ASSERT_STRING_EQUAL(r.body, "789");
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.file, "range.from")), 7);
    miaw_mock_reply_clear(&r);
    const char *unsat[] = {"Range: bytes=10-", NULL};
    CU_ASSERT_EQUAL(miaw_mock_call_h(m, "GET", url, unsat, NULL, &r), 416);
    CU_ASSERT_STRING_EQUAL(miaw_mock_reply_code(&r), "INVALID_REQUEST");
    CU_ASSERT_PTR_NOT_NULL(r.file);
    miaw_mock_reply_clear(&r);
    const char *multi[] = {"Range: bytes=0-1,3-4", NULL};
    CU_ASSERT_EQUAL(miaw_mock_call_h(m, "GET", url, multi, NULL, &r), 200);
    CU_ASSERT_EQUAL(r.body_len, 10);
    miaw_mock_reply_clear(&r);
    /* refusals: nothing answered, the plugin answers another way */
    CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", "/serve?path=/nonexistent/x", NULL, &r), 404);
    miaw_mock_reply_clear(&r);
    snprintf(url, sizeof url, "/serve?path=%s&flags=0x80", path);
    CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", url, NULL, &r), 400);
    miaw_mock_reply_clear(&r);
    /* MIAW_FILE_F_UNLINK: captured, then gone */
    snprintf(url, sizeof url, "/serve?path=%s&flags=3", path);
    CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", url, NULL, &r), 200);
    CU_ASSERT_STRING_EQUAL(r.body, "0123456789");
    CU_ASSERT_PTR_NOT_NULL(strstr(miaw_mock_str(r.file, "disposition"), "attachment"));
    CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0);
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_violations(m)), 0);
    miaw_mock_free(m);
}

static void test_fetch(void)
{
    miaw_mock *m = setup();
    miaw_mock_reply r = {0};
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", "/fetch", "{\"url\":\"https://example.com/a.png\"}", &r), 0);
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_fetches(m)), 1);
    const json_t *rec = json_array_get(miaw_mock_fetches(m), 0);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(rec, "url"), "https://example.com/a.png");
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(rec, "maxBytes")), 100 << 20);
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(rec, "timeoutMs")), 60000);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(rec, "state"), "pending");
    CU_ASSERT_EQUAL(g_fetch_cbs, 0); /* never inside the call */
    CU_ASSERT_EQUAL(miaw_mock_complete_fetch(m, 0, MIAW_OK, "abc", 3, "image/png", NULL), MIAW_OK);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.json, "data.status")), MIAW_OK);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.text"), "abc");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.contentType"), "image/png");
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.json, "data.mode")), 0600);
    CU_ASSERT_EQUAL(miaw_mock_complete_fetch(m, 0, MIAW_OK, "x", 1, NULL, NULL), MIAW_E_STATE);
    miaw_mock_reply_clear(&r);
    /* errors with the host's texts; a body over max_bytes is MIAW_E_LIMIT */
    miaw_mock_call(m, "POST", "/fetch", "{\"url\":\"http://127.0.0.1/x\",\"max\":2}", &r);
    CU_ASSERT_EQUAL(miaw_mock_complete_fetch(m, 1, MIAW_OK, "abc", 3, NULL, NULL), MIAW_OK);
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.json, "data.status")), MIAW_E_LIMIT);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.detail"), "the body is larger than 2 bytes");
    miaw_mock_reply_clear(&r);
    miaw_mock_call(m, "POST", "/fetch", "{\"url\":\"http://127.0.0.1/y\"}", &r);
    CU_ASSERT_EQUAL(miaw_mock_complete_fetch(m, 2, MIAW_E_IO, NULL, 0, NULL, "HTTP 404"), MIAW_OK);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.detail"), "HTTP 404");
    miaw_mock_reply_clear(&r);
    /* the virtual clock's timeout (the route's own 30 s comes first unless the fetch is shorter) */
    miaw_mock_call(m, "POST", "/fetch", "{\"url\":\"http://127.0.0.1/z\"}", &r);
    miaw_mock_run_timers(m, 29000);
    CU_ASSERT_TRUE(r.pending);
    miaw_mock_run_timers(m, 2000); /* the request times out: on_abort cancels the fetch */
    CU_ASSERT_EQUAL(r.status, 504);
    CU_ASSERT_EQUAL(g_aborts, 1);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(json_array_get(miaw_mock_fetches(m), 3), "state"), "cancelled");
    CU_ASSERT_EQUAL(miaw_mock_complete_fetch(m, 3, MIAW_OK, "late", 4, NULL, NULL), MIAW_E_GONE);
    int before = g_fetch_cbs;
    miaw_mock_run_timers(m, 60000);
    CU_ASSERT_EQUAL(g_fetch_cbs, before); /* a cancelled fetch never calls back */
    miaw_mock_reply_clear(&r);
    /* schemes: refused in the call, not recorded */
    size_t n = json_array_size(miaw_mock_fetches(m));
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", "/fetch", "{\"url\":\"ftp://127.0.0.1/x\"}", &r), 400);
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", "/fetch", "{\"url\":\"http:///x\"}", &r), 400);
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_fetches(m)), n);
    /* a scripted refusal */
    CU_ASSERT_EQUAL(miaw_mock_refuse(m, "fetch", MIAW_E_NOMEM, NULL, "no room"), MIAW_OK);
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", "/fetch", "{\"url\":\"http://127.0.0.1/x\"}", &r), 500);
    miaw_mock_reply_clear(&r);
    /* unload with a fetch in flight: cancelled, no callback */
    miaw_mock_call(m, "POST", "/fetch", "{\"url\":\"http://127.0.0.1/w\"}", &r);
    size_t last = json_array_size(miaw_mock_fetches(m)) - 1;
    miaw_mock_unload(m, miaw_mock_plugin(m, "files"));
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(json_array_get(miaw_mock_fetches(m), last), "state"), "cancelled");
    CU_ASSERT_EQUAL(miaw_mock_complete_fetch(m, last, MIAW_OK, "x", 1, NULL, NULL), MIAW_E_GONE);
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_violations(m)), 0);
    miaw_mock_free(m);
}

static void test_older_host(void)
{
    miaw_mock *m = miaw_mock_new();
    CU_ASSERT_EQUAL(miaw_mock_set_abi_minor(m, 2), MIAW_OK);
    const miaw_host_api *api = miaw_mock_api(m);
    CU_ASSERT_FALSE(MIAW_HOST_HAS(api, req_upload));
    CU_ASSERT_FALSE(MIAW_HOST_HAS(api, fetch));
    CU_ASSERT_TRUE(MIAW_HOST_HAS(api, media_download));
    char err[256];
    CU_ASSERT_PTR_NULL(miaw_mock_load_desc(m, &DESC, NULL, err, sizeof err)); /* needs 1.3 */
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "minor 3"));
    CU_ASSERT_EQUAL(miaw_mock_set_abi_minor(m, 3), MIAW_OK);
    CU_ASSERT_TRUE(MIAW_HOST_HAS(miaw_mock_api(m), fetch));
    miaw_mock_free(m);
}

MIAW_TESTS("mock_files", MIAW_T(test_multipart_calls), MIAW_T(test_reply_file), MIAW_T(test_fetch),
           MIAW_T(test_older_host))
