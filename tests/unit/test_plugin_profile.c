/* tests/unit/test_plugin_profile.c - the profile plugin: its picture maker
 * (plugins/profile/image.c, compiled in) on the JPEG and PNG fixtures (640x640 and 96x96
 * baseline JPEGs out, the centred square kept, garbage and truncated files refused), and
 * build/plugins/profile.so on the SDK's mock host: the status IQ (text as bytes), the
 * presence name stanza (sent again at the next ready event), GET /profile (the own JID from
 * the ready event; usync status and picture IQs), a picture set from base64 (the worker
 * thread's two JPEGs in one w:profile:picture set IQ) and removed. */
#include "harness.h"
#include "plugin_path.h"

#include <jansson.h>
#include <jpeglib.h>
#include <libgen.h>
#include <limits.h>
#include <miaw/mock_host.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "plugins/profile/profile.h"

#define PP "/instances/i1/profile"

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n);
    *len = b ? fread(b, 1, (size_t)n, f) : 0;
    fclose(f);
    return b;
}

/* width and height of a JPEG by libjpeg, and the average colour of its centre pixel row */
static int jpeg_dims(const uint8_t *b, size_t n, unsigned *w, unsigned *h)
{
    struct jpeg_decompress_struct d;
    struct jpeg_error_mgr e;
    d.err = jpeg_std_error(&e);
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, (unsigned char *)b, (unsigned long)n);
    int ok = jpeg_read_header(&d, TRUE) == JPEG_HEADER_OK;
    *w = d.image_width;
    *h = d.image_height;
    jpeg_destroy_decompress(&d);
    return ok ? 0 : -1;
}

static void test_picture_maker(void)
{
    const char *files[] = {"tests/integration/fixtures/media/img.jpg", "tests/integration/fixtures/media/img.png"};
    const unsigned sw[] = {320, 200}, sh[] = {240, 150};
    for (int i = 0; i < 2; i++) {
        size_t n;
        uint8_t *in = read_all(files[i], &n);
        CU_ASSERT_PTR_NOT_NULL_FATAL(in);
        pf_picture p;
        char err[256] = "";
        CU_ASSERT_EQUAL(pf_picture_make(in, n, &p, err, sizeof err), 0);
        if (err[0]) fprintf(stderr, "\n%s: %s\n", files[i], err);
        CU_ASSERT_EQUAL(p.src_w, sw[i]);
        CU_ASSERT_EQUAL(p.src_h, sh[i]);
        unsigned w = 0, h = 0;
        CU_ASSERT_EQUAL(jpeg_dims(p.image, p.image_len, &w, &h), 0);
        CU_ASSERT_EQUAL(w, 640);
        CU_ASSERT_EQUAL(h, 640);
        CU_ASSERT_EQUAL(jpeg_dims(p.preview, p.preview_len, &w, &h), 0);
        CU_ASSERT_EQUAL(w, 96);
        CU_ASSERT_EQUAL(h, 96);
        CU_ASSERT_TRUE(p.preview_len < p.image_len);
        pf_picture_free(&p);
        /* truncated: refused with a reason, nothing kept */
        CU_ASSERT_EQUAL(pf_picture_make(in, n / 3, &p, err, sizeof err), -1);
        CU_ASSERT_PTR_NULL(p.image);
        CU_ASSERT_TRUE(strlen(err) > 0);
        free(in);
    }
    pf_picture p;
    char err[256];
    CU_ASSERT_EQUAL(pf_picture_make((const uint8_t *)"GIF89a....", 10, &p, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "JPEG or PNG"));
    CU_ASSERT_EQUAL(pf_picture_make((const uint8_t *)"", 0, &p, err, sizeof err), -1);
}

static const char *str(const json_t *j, const char *path)
{
    const char *s = miaw_mock_str(j, path);
    return s ? s : "(null)";
}
static size_t n_iqs(miaw_mock *m) { return json_array_size(miaw_mock_iqs(m)); }
static const json_t *iq_node(miaw_mock *m, size_t i) { return json_object_get(json_array_get(miaw_mock_iqs(m), i), "node"); }

static void test_routes(void)
{
    miaw_mock *m = miaw_mock_new();
    char err[512] = "";
    CU_ASSERT_PTR_NOT_NULL_FATAL(miaw_mock_load(m, miaw_test_plugin_path("profile"), "profile", NULL, err, sizeof err));
    CU_ASSERT_EQUAL(miaw_mock_put_instance(m, "i1", NULL), MIAW_OK);
    miaw_mock_reply r = {0};

    /* no ready event yet: the own JID is unknown */
    CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", PP, NULL, &r), 503);
    miaw_mock_reply_clear(&r);

    /* about text: the status IQ carries the text as bytes */
    CU_ASSERT_EQUAL(miaw_mock_call(m, "PATCH", PP "/status", "{\"status\":\"hi \\u00e9\"}", &r), 0);
    const json_t *q = iq_node(m, 0);
    CU_ASSERT_STRING_EQUAL(str(q, "attrs.xmlns"), "status");
    CU_ASSERT_STRING_EQUAL(str(q, "attrs.type"), "set");
    CU_ASSERT_STRING_EQUAL(str(q, "content[0].tag"), "status");
    CU_ASSERT_STRING_EQUAL(str(q, "content[0].content.b64"), "aGkgw6k=");
    CU_ASSERT_EQUAL(miaw_mock_complete_iq(m, 0, MIAW_OK, "{\"tag\":\"iq\"}", NULL), MIAW_OK);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_STRING_EQUAL(str(r.json, "data.status"), "hi \xc3\xa9");
    miaw_mock_reply_clear(&r);
    char long_status[400];
    snprintf(long_status, sizeof long_status, "{\"status\":\"%0140d\"}", 0);
    CU_ASSERT_EQUAL(miaw_mock_call(m, "PATCH", PP "/status", long_status, &r), 400);
    miaw_mock_reply_clear(&r);

    /* the push name: a presence stanza now, again at the next ready */
    /* ... and the account-wide setting through app-state: the answer waits for the server */
    CU_ASSERT_EQUAL(miaw_mock_call(m, "PATCH", PP "/name", "{\"name\":\"Bot\"}", &r), 0);
    const json_t *asc = miaw_mock_appstate_calls(m);
    CU_ASSERT_EQUAL_FATAL(json_array_size(asc), 1);
    CU_ASSERT_STRING_EQUAL(str(json_array_get(asc, 0), "patch.collection"), "critical_block");
    CU_ASSERT_STRING_EQUAL(str(json_array_get(asc, 0), "patch.mutations[0].index[0]"), "setting_pushName");
    CU_ASSERT_STRING_EQUAL(str(json_array_get(asc, 0), "patch.mutations[0].value.pushNameSetting.name"), "Bot");
    CU_ASSERT_EQUAL(miaw_mock_complete_appstate(m, 0, MIAW_OK, NULL), MIAW_OK);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_STRING_EQUAL(str(r.json, "data.appState.collection"), "critical_block");
    miaw_mock_reply_clear(&r);
    /* the phone renames the account: the profile follows */
    CU_ASSERT_EQUAL(miaw_mock_appstate_deliver(m, "i1", "{\"collection\":\"critical_block\",\"operation\":\"set\","
                                               "\"index\":[\"setting_pushName\"],\"value\":{\"pushNameSetting\":"
                                               "{\"name\":\"Phone\"}},\"timestamp\":1,\"version\":2}"), 1);
    CU_ASSERT_STRING_EQUAL(json_string_value(miaw_mock_kv(m, "profile", "i1", "pushName")), "Phone");
    CU_ASSERT_EQUAL(miaw_mock_call(m, "PATCH", PP "/name", "{\"name\":\"a\\u0007b\"}", &r), 400);
    miaw_mock_reply_clear(&r);
    const json_t *sts = miaw_mock_stanzas(m);
    CU_ASSERT_EQUAL(json_array_size(sts), 1);
    CU_ASSERT_STRING_EQUAL(str(json_array_get(sts, 0), "node.tag"), "presence");
    CU_ASSERT_STRING_EQUAL(str(json_array_get(sts, 0), "node.attrs.name"), "Bot");
    miaw_mock_emit(m, "ready", "i1", "{\"jid\":\"15550000001:3@s.whatsapp.net\",\"lid\":\"81000000000001:3@lid\"}");
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_stanzas(m)), 2);

    /* GET /profile: usync status + picture of the own user JID */
    CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", PP, NULL, &r), 0);
    CU_ASSERT_EQUAL_FATAL(n_iqs(m), 3);
    CU_ASSERT_STRING_EQUAL(str(iq_node(m, 1), "content[0].content[1].content[0].attrs.jid.jid"),
                           "15550000001@s.whatsapp.net");
    CU_ASSERT_STRING_EQUAL(str(iq_node(m, 2), "attrs.target.jid"), "15550000001@s.whatsapp.net");
    CU_ASSERT_EQUAL(miaw_mock_complete_iq(m, 2, MIAW_E_IO,
                                          "{\"tag\":\"iq\",\"content\":[{\"tag\":\"error\",\"attrs\":{\"code\":\"404\"}}]}",
                                          "404 item-not-found"),
                    MIAW_OK);
    CU_ASSERT_TRUE(r.pending);
    CU_ASSERT_EQUAL(miaw_mock_complete_iq(m, 1, MIAW_OK,
                                          "{\"tag\":\"iq\",\"content\":[{\"tag\":\"usync\",\"content\":[{\"tag\":"
                                          "\"list\",\"content\":[{\"tag\":\"user\",\"content\":[{\"tag\":\"status\","
                                          "\"attrs\":{\"t\":\"1735118400\"},\"content\":{\"b64\":\"aGkgw6k=\"}}]}]}]}]}",
                                          NULL),
                    MIAW_OK);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_STRING_EQUAL(str(r.json, "data.jid"), "15550000001@s.whatsapp.net");
    CU_ASSERT_STRING_EQUAL(str(r.json, "data.lid"), "81000000000001@lid");
    CU_ASSERT_STRING_EQUAL(str(r.json, "data.name"), "Phone") /* renamed on the phone (app-state) */;
    CU_ASSERT_STRING_EQUAL(str(r.json, "data.about"), "hi \xc3\xa9");
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.json, "data.aboutSetAt")), 1735118400);
    CU_ASSERT_TRUE(json_is_null(miaw_mock_get(r.json, "data.picture")));
    miaw_mock_reply_clear(&r);

    /* a picture from base64: the worker's two JPEGs in one set IQ */
    size_t n;
    uint8_t *jpg = read_all("tests/integration/fixtures/media/img.jpg", &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(jpg);
    json_t *b64 = NULL;
    {
        static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        char *s = malloc(4 * ((n + 2) / 3) + 1);
        size_t o = 0;
        for (size_t i = 0; i < n; i += 3) {
            uint32_t v = (uint32_t)jpg[i] << 16 | (i + 1 < n ? (uint32_t)jpg[i + 1] << 8 : 0) | (i + 2 < n ? jpg[i + 2] : 0);
            s[o++] = A[v >> 18 & 63];
            s[o++] = A[v >> 12 & 63];
            s[o++] = i + 1 < n ? A[v >> 6 & 63] : '=';
            s[o++] = i + 2 < n ? A[v & 63] : '=';
        }
        s[o] = 0;
        b64 = json_pack("{s:s}", "image", s);
        free(s);
    }
    char *body = json_dumps(b64, 0);
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", PP "/picture", body, &r), 0);
    free(body);
    json_decref(b64);
    free(jpg);
    for (int i = 0; i < 2000 && n_iqs(m) < 4; i++) { /* the worker thread runs in real time */
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
        miaw_mock_run_timers(m, 5);
    }
    CU_ASSERT_EQUAL_FATAL(n_iqs(m), 4);
    q = iq_node(m, 3);
    CU_ASSERT_STRING_EQUAL(str(q, "attrs.xmlns"), "w:profile:picture");
    CU_ASSERT_STRING_EQUAL(str(q, "attrs.type"), "set");
    CU_ASSERT_STRING_EQUAL(str(q, "content[0].attrs.type"), "image");
    CU_ASSERT_STRING_EQUAL(str(q, "content[1].attrs.type"), "preview");
    CU_ASSERT_PTR_NOT_NULL(miaw_mock_str(q, "content[0].content.b64"));
    CU_ASSERT_EQUAL(miaw_mock_complete_iq(m, 3, MIAW_OK,
                                          "{\"tag\":\"iq\",\"content\":[{\"tag\":\"picture\",\"attrs\":{\"id\":\"9\"}}]}",
                                          NULL),
                    MIAW_OK);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_STRING_EQUAL(str(r.json, "data.id"), "9");
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.json, "data.size")), 640);
    miaw_mock_reply_clear(&r);
    /* not an image: 400 image, no IQ */
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", PP "/picture", "{\"image\":\"aGVsbG8gd29ybGQ=\"}", &r), 0);
    for (int i = 0; i < 2000 && !r.status; i++) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
        miaw_mock_run_timers(m, 5);
    }
    CU_ASSERT_EQUAL(r.status, 400);
    CU_ASSERT_STRING_EQUAL(str(r.json, "error.details.field"), "image");
    CU_ASSERT_EQUAL(n_iqs(m), 4);
    miaw_mock_reply_clear(&r);
    /* removed: the set IQ without a picture */
    CU_ASSERT_EQUAL(miaw_mock_call(m, "DELETE", PP "/picture", NULL, &r), 0);
    CU_ASSERT_PTR_NULL(miaw_mock_get(iq_node(m, 4), "content[0]"));
    CU_ASSERT_EQUAL(miaw_mock_complete_iq(m, 4, MIAW_OK, "{\"tag\":\"iq\"}", NULL), MIAW_OK);
    CU_ASSERT_TRUE(json_is_true(miaw_mock_get(r.json, "data.removed")));
    miaw_mock_reply_clear(&r);

    CU_ASSERT_EQUAL(json_array_size(miaw_mock_violations(m)), 0);
    miaw_mock_free(m);
}

MIAW_TESTS("plugin_profile", MIAW_T(test_picture_maker), MIAW_T(test_routes))
