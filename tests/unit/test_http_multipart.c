/* tests/unit/test_http_multipart.c - multipart/form-data (core/http/multipart.h): the
 * boundary parameter, the parser on bodies as curl and browsers send them (preamble,
 * epilogue, transport padding, boundary look-alikes inside binary content, filename*,
 * quoted-string escapes, no per-part headers besides the disposition), a table of malformed
 * bodies, the limits, the form of a request (text fields as JSON, files spooled 0600 and
 * removed by miaw_form_free, duplicate names and bad UTF-8 named), schema-directed
 * coercion, and temporary files. */
#include "harness.h"

#include "base/util.h"
#include "http/multipart.h"
#include "http/schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */
typedef struct {
    int n;
    char name[8][64], filename[8][64], ctype[8][64];
    int has_filename[8], has_ctype[8];
    char data[8][256];
    size_t len[8];
} seen;

static int collect(void *ud, const miaw_mp_part *p, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    seen *s = ud;
    if (s->n >= 8) return 0;
    int i = s->n++;
    snprintf(s->name[i], sizeof s->name[i], "%s", p->name);
    s->has_filename[i] = p->filename != NULL;
    snprintf(s->filename[i], sizeof s->filename[i], "%s", p->filename ? p->filename : "");
    s->has_ctype[i] = p->content_type != NULL;
    snprintf(s->ctype[i], sizeof s->ctype[i], "%s", p->content_type ? p->content_type : "");
    s->len[i] = p->len;
    memcpy(s->data[i], p->data, p->len < sizeof s->data[i] ? p->len : sizeof s->data[i]);
    return 0;
}

static int parse(const char *body, size_t len, const char *boundary, seen *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    return miaw_multipart_parse(body, len, boundary, collect, s, err, errlen);
}

static char *mkdata_dir(void)
{
    char tmpl[] = "/tmp/miaw-mp-XXXXXX";
    char *d = mkdtemp(tmpl);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    return strdup(d);
}

/* ------------------------------------------------------------ boundary */
static void test_boundary(void)
{
    char b[80], err[128];
    CU_ASSERT_EQUAL(miaw_multipart_boundary("multipart/form-data; boundary=abc123", b, sizeof b, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(b, "abc123");
    CU_ASSERT_EQUAL(miaw_multipart_boundary("Multipart/Form-Data;charset=utf-8;BOUNDARY=\"a b:c\"", b, sizeof b, err,
                                            sizeof err),
                    0);
    CU_ASSERT_STRING_EQUAL(b, "a b:c");
    CU_ASSERT_EQUAL(miaw_multipart_boundary("multipart/form-data; boundary=----WebKitFormBoundaryx9", b, sizeof b, err,
                                            sizeof err),
                    0);
    CU_ASSERT_STRING_EQUAL(b, "----WebKitFormBoundaryx9");
    char long71[160] = "multipart/form-data; boundary=";
    memset(long71 + strlen(long71), 'x', 71);
    CU_ASSERT_EQUAL(miaw_multipart_boundary(long71, b, sizeof b, err, sizeof err), -1);
    long71[strlen(long71) - 1] = 0; /* 70 is the most RFC 2046 allows */
    CU_ASSERT_EQUAL(miaw_multipart_boundary(long71, b, sizeof b, err, sizeof err), 0);
    CU_ASSERT_EQUAL(miaw_multipart_boundary("multipart/form-data", b, sizeof b, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "boundary"));
    CU_ASSERT_EQUAL(miaw_multipart_boundary("multipart/form-data; boundary=", b, sizeof b, err, sizeof err), -1);
    CU_ASSERT_EQUAL(miaw_multipart_boundary("multipart/form-data; boundary=\"\"", b, sizeof b, err, sizeof err), -1);
    CU_ASSERT_EQUAL(miaw_multipart_boundary("multipart/form-data; boundary=\"unterminated", b, sizeof b, err, sizeof err), -1);
    CU_ASSERT_EQUAL(miaw_multipart_boundary("multipart/form-data; boundary=a; boundary=b", b, sizeof b, err, sizeof err), -1);
    CU_ASSERT_EQUAL(miaw_multipart_boundary("multipart/mixed; boundary=a", b, sizeof b, err, sizeof err), -1);
    CU_ASSERT_EQUAL(miaw_multipart_boundary(NULL, b, sizeof b, err, sizeof err), -1);

    CU_ASSERT_TRUE(miaw_multipart_is_form("multipart/form-data; boundary=x"));
    CU_ASSERT_TRUE(miaw_multipart_is_form("  MULTIPART/FORM-DATA"));
    CU_ASSERT_FALSE(miaw_multipart_is_form("multipart/form-datax"));
    CU_ASSERT_FALSE(miaw_multipart_is_form("application/json"));
    CU_ASSERT_FALSE(miaw_multipart_is_form(NULL));
}

/* ------------------------------------------------------------ parser */
static void test_parse_curl_body(void)
{
    /* a preamble, text parts, a file part whose bytes hold CRLFs, "--", and a prefix of the
     * delimiter, then an epilogue */
    static const char body[] =
        "This is the preamble.\r\n"
        "--XyZ\r\n"
        "Content-Disposition: form-data; name=\"title\"\r\n"
        "\r\n"
        "hello\r\n"
        "--XyZ   \r\n" /* transport padding */
        "content-disposition: form-data; name=count\r\n"
        "\r\n"
        "3\r\n"
        "--XyZ\r\n"
        "Content-Disposition: form-data; name=\"file\"; filename=\"a \\\"q\\\".bin\"\r\n"
        "Content-Type:  application/octet-stream \r\n"
        "X-Other: ignored\r\n"
        "\r\n"
        "\r\n--Xy\r\n--\r\nXyZ\0bin\r\n"
        "--XyZ--\r\n"
        "epilogue --XyZ garbage";
    seen s;
    char err[128];
    CU_ASSERT_EQUAL_FATAL(parse(body, sizeof body - 1, "XyZ", &s, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(s.n, 3);
    CU_ASSERT_STRING_EQUAL(s.name[0], "title");
    CU_ASSERT_FALSE(s.has_filename[0]);
    CU_ASSERT_FALSE(s.has_ctype[0]);
    CU_ASSERT_EQUAL(s.len[0], 5);
    CU_ASSERT_EQUAL(memcmp(s.data[0], "hello", 5), 0);
    CU_ASSERT_STRING_EQUAL(s.name[1], "count");
    CU_ASSERT_EQUAL(s.len[1], 1);
    CU_ASSERT_STRING_EQUAL(s.name[2], "file");
    CU_ASSERT_TRUE(s.has_filename[2]);
    CU_ASSERT_STRING_EQUAL(s.filename[2], "a \"q\".bin");
    CU_ASSERT_STRING_EQUAL(s.ctype[2], "application/octet-stream");
    static const char want[] = "\r\n--Xy\r\n--\r\nXyZ\0bin";
    CU_ASSERT_EQUAL(s.len[2], sizeof want - 1);
    CU_ASSERT_EQUAL(memcmp(s.data[2], want, sizeof want - 1), 0);
}

static void test_parse_filenames(void)
{
    static const char body[] =
        "--b\r\n"
        "Content-Disposition: form-data; name=\"u\"; filename=\"fallback.txt\"; filename*=UTF-8''na%C3%AFve%20%E2%82%AC.txt\r\n"
        "\r\n"
        "x\r\n"
        "--b\r\n"
        "Content-Disposition: form-data; name=\"w\"; filename=\"C:\\dir\\file.txt\"\r\n"
        "\r\n"
        "\r\n" /* an empty file */
        "--b\r\n"
        "Content-Disposition: form-data; name=\"l\"; filename*=iso-8859-1''caf%E9.txt; filename=\"latin.txt\"\r\n"
        "\r\n"
        "y\r\n"
        "--b\r\n"
        "Content-Disposition: form-data; name=\"e\"; filename=\"\"\r\n"
        "\r\n"
        "\r\n"
        "--b--";
    seen s;
    char err[128];
    CU_ASSERT_EQUAL_FATAL(parse(body, sizeof body - 1, "b", &s, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(s.n, 4);
    CU_ASSERT_STRING_EQUAL(s.filename[0], "na\xc3\xafve \xe2\x82\xac.txt"); /* filename* wins */
    CU_ASSERT_STRING_EQUAL(s.filename[1], "C:\\dir\\file.txt");            /* other backslashes are kept */
    CU_ASSERT_EQUAL(s.len[1], 0);
    CU_ASSERT_STRING_EQUAL(s.filename[2], "latin.txt");                    /* only UTF-8 filename* is read */
    CU_ASSERT_TRUE(s.has_filename[3]);
    CU_ASSERT_STRING_EQUAL(s.filename[3], "");
}

static void test_parse_edges(void)
{
    seen s;
    char err[128];
    /* no preamble, no epilogue, no CRLF after the close delimiter */
    static const char a[] = "--b\r\nContent-Disposition: form-data; name=x\r\n\r\n1\r\n--b--";
    CU_ASSERT_EQUAL(parse(a, sizeof a - 1, "b", &s, err, sizeof err), 0);
    CU_ASSERT_EQUAL(s.n, 1);
    /* an empty multipart body (only the close delimiter) has no parts */
    CU_ASSERT_EQUAL(parse("--b--\r\n", 7, "b", &s, err, sizeof err), 0);
    CU_ASSERT_EQUAL(s.n, 0);
    /* empty value */
    static const char c[] = "--b\r\nContent-Disposition: form-data; name=x\r\n\r\n\r\n--b--";
    CU_ASSERT_EQUAL(parse(c, sizeof c - 1, "b", &s, err, sizeof err), 0);
    CU_ASSERT_EQUAL(s.len[0], 0);
    /* a boundary that is a prefix of a line in the content is not a delimiter */
    static const char d[] = "--b\r\nContent-Disposition: form-data; name=x\r\n\r\n--bb\r\nx--b\r\n--b--";
    CU_ASSERT_EQUAL(parse(d, sizeof d - 1, "b", &s, err, sizeof err), 0);
    CU_ASSERT_EQUAL(s.len[0], 10);
}

static void test_parse_malformed(void)
{
    static const struct { const char *body, *why; } BAD[] = {
        {"", "no boundary delimiter"},
        {"just text", "no boundary delimiter"},
        {"--b\r\nContent-Disposition: form-data; name=x\r\n\r\nunterminated", "not terminated"},
        {"--b\r\nContent-Disposition: form-data; name=x\r\n\r\nv\r\n--b", "delimiter line"},
        {"--b\r\nContent-Disposition: form-data; name=x\r\n\r\nv\r\n--bx\r\n--b--", "delimiter line"},
        {"--bjunk\r\n\r\n--b--", "delimiter line"},
        {"--b\r\n\r\nv\r\n--b--", "no Content-Disposition"},
        {"--b\r\nContent-Type: text/plain\r\n\r\nv\r\n--b--", "no Content-Disposition"},
        {"--b\r\nContent-Disposition: attachment; name=x\r\n\r\nv\r\n--b--", "not form-data"},
        {"--b\r\nContent-Disposition: form-data\r\n\r\nv\r\n--b--", "with a name"},
        {"--b\r\nContent-Disposition: form-data; name=\"\"\r\n\r\nv\r\n--b--", "empty"},
        {"--b\r\nContent-Disposition: form-data; name=\"x\r\n\r\nv\r\n--b--", "cannot be parsed"},
        {"--b\r\nContent-Disposition: form-data; name=x; name=y\r\n\r\nv\r\n--b--", "cannot be parsed"},
        {"--b\r\nContent-Disposition: form-data; name\r\n\r\nv\r\n--b--", "cannot be parsed"},
        /* filename* twice (the fuzzer's find: a second, broken one left the first unterminated) */
        {"--b\r\nContent-Disposition: form-data; name=x; filename*=UTF-8''abc; filename*=UTF-8''%zz\r\n\r\nv\r\n--b--",
         "cannot be parsed"},
        {"--b\r\nContent-Disposition: form-data;\r\n name=x\r\n\r\nv\r\n--b--", "folded"},
        {"--b\r\nContent-Disposition: form-data; name=x\r\nContent-Disposition: form-data; name=y\r\n\r\nv\r\n--b--", "two"},
        {"--b\r\nContent-Disposition: form-data; name=x\nX: y\r\n\r\nv\r\n--b--", "control characters"},
        {"--b\r\nContent-Disposition: form-data; name=x\r\nBad Header: y\r\n\r\nv\r\n--b--", "not a token"},
        {"--b\r\nContent-Disposition: form-data; name=x\r\nContent-Type:\r\n\r\nv\r\n--b--", "Content-Type"},
        {"--b\r\nContent-Disposition: form-data; name=\"\xff\"\r\n\r\nv\r\n--b--", "UTF-8"},
        {"--b\r\nContent-Disposition: form-data; name=x", "unterminated"},
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        seen s;
        char err[128] = "";
        int rc = parse(BAD[i].body, strlen(BAD[i].body), "b", &s, err, sizeof err);
        if (rc != -1 || !strstr(err, BAD[i].why)) fprintf(stderr, "\ncase %zu: rc %d err '%s' (want '%s')\n", i, rc, err, BAD[i].why);
        CU_ASSERT_EQUAL(rc, -1);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, BAD[i].why));
    }
}

static void test_parse_limits(void)
{
    seen s;
    char err[128];
    /* a header section over MIAW_MP_MAX_HEADER */
    size_t n = MIAW_MP_MAX_HEADER + 200;
    char *big = malloc(n + 100);
    int o = sprintf(big, "--b\r\nContent-Disposition: form-data; name=x\r\nX-Pad: ");
    memset(big + o, 'a', n);
    o += (int)n;
    o += sprintf(big + o, "\r\n\r\nv\r\n--b--");
    CU_ASSERT_EQUAL(parse(big, (size_t)o, "b", &s, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "too long"));
    free(big);
    /* more than MIAW_MP_MAX_PARTS parts */
    miaw_buf b = {0};
    for (int i = 0; i <= MIAW_MP_MAX_PARTS; i++) miaw_buf_printf(&b, "--b\r\nContent-Disposition: form-data; name=f%d\r\n\r\nv\r\n", i);
    miaw_buf_printf(&b, "--b--");
    CU_ASSERT_EQUAL(parse(b.data, b.len, "b", &s, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "too many parts"));
    miaw_buf_free(&b);
    /* a callback's non-zero return stops the parse and is returned */
}

static int stop_at_second(void *ud, const miaw_mp_part *p, char *err, size_t errlen)
{
    (void)p;
    int *n = ud;
    if (++*n == 2) return snprintf(err, errlen, "stop"), 7;
    return 0;
}

static void test_parse_callback_stops(void)
{
    static const char body[] = "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n"
                               "--b\r\nContent-Disposition: form-data; name=b\r\n\r\n2\r\n"
                               "--b\r\nContent-Disposition: form-data; name=c\r\n\r\n3\r\n--b--";
    int n = 0;
    char err[32];
    CU_ASSERT_EQUAL(miaw_multipart_parse(body, sizeof body - 1, "b", stop_at_second, &n, err, sizeof err), 7);
    CU_ASSERT_EQUAL(n, 2);
}

/* ------------------------------------------------------------ forms */
#define CT "multipart/form-data; boundary=zz"

static void test_form_fields_and_files(void)
{
    char *dir = mkdata_dir();
    static const char body[] =
        "--zz\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nh\xc3\xa9llo\r\n"
        "--zz\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"r\xc3\xa9sum\xc3\xa9.pdf\"\r\n"
        "Content-Type: application/pdf\r\n\r\n%PDF\0\x01\xff\r\n"
        "--zz\r\nContent-Disposition: form-data; name=\"empty\"; filename=\"\"\r\nContent-Type: application/octet-stream\r\n\r\n\r\n"
        "--zz\r\nContent-Disposition: form-data; name=\"raw\"; filename=\"x\"\r\n\r\n\r\n"
        "--zz--\r\n";
    miaw_form f;
    char field[64], err[256];
    CU_ASSERT_EQUAL_FATAL(miaw_form_parse(CT, body, sizeof body - 1, dir, &f, field, sizeof field, err, sizeof err), 0);
    CU_ASSERT_EQUAL(json_object_size(f.fields), 1);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(f.fields, "title")), "h\xc3\xa9llo");
    CU_ASSERT_EQUAL_FATAL(f.nfiles, 2); /* the empty file input is skipped; an empty named file is not */
    const miaw_form_file *d = miaw_form_file_get(&f, "doc");
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT_STRING_EQUAL(d->filename, "r\xc3\xa9sum\xc3\xa9.pdf");
    CU_ASSERT_STRING_EQUAL(d->content_type, "application/pdf");
    CU_ASSERT_EQUAL(d->size, 7);
    CU_ASSERT_PTR_NULL(miaw_form_file_get(&f, "empty"));
    CU_ASSERT_PTR_NULL(miaw_form_file_get(&f, "title"));
    const miaw_form_file *r = miaw_form_file_get(&f, "raw");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(r->size, 0);
    CU_ASSERT_PTR_NULL(r->content_type);
    /* the bytes, in a 0600 file under <data_dir>/tmp (0700) */
    char *bytes = NULL;
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(miaw_read_file(d->path, &bytes, &len), 0);
    CU_ASSERT_EQUAL(len, 7);
    CU_ASSERT_EQUAL(memcmp(bytes, "%PDF\0\x01\xff", 7), 0);
    free(bytes);
    struct stat st;
    CU_ASSERT_EQUAL(stat(d->path, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    char tdir[512];
    snprintf(tdir, sizeof tdir, "%s/tmp", dir);
    CU_ASSERT_EQUAL(stat(tdir, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0700);
    CU_ASSERT_EQUAL(strncmp(d->path, tdir, strlen(tdir)), 0);
    char keep[4096];
    snprintf(keep, sizeof keep, "%s", d->path);
    miaw_form_free(&f);
    CU_ASSERT_NOT_EQUAL(access(keep, F_OK), 0); /* removed */
    CU_ASSERT_EQUAL(f.nfiles, 0);
    miaw_rm_rf(dir);
    free(dir);
}

static size_t count_files(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls -A %s/tmp 2>/dev/null | wc -l", dir);
    FILE *p = popen(cmd, "r");
    size_t n = 0;
    if (p && fscanf(p, "%zu", &n) != 1) n = 999;
    if (p) pclose(p);
    return n;
}

static void test_form_errors_name_the_field(void)
{
    char *dir = mkdata_dir();
    static const struct { const char *body, *field, *why; } BAD[] = {
        {"--zz\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--zz\r\nContent-Disposition: form-data; name=a\r\n\r\n2\r\n--zz--",
         "a", "more than once"},
        {"--zz\r\nContent-Disposition: form-data; name=f; filename=x\r\n\r\n1\r\n--zz\r\nContent-Disposition: form-data; name=f\r\n\r\n2\r\n--zz--",
         "f", "more than once"},
        {"--zz\r\nContent-Disposition: form-data; name=f; filename=x\r\n\r\n1\r\n--zz\r\nContent-Disposition: form-data; name=t\r\n\r\n\xc3\x28\r\n--zz--",
         "t", "UTF-8"},
        {"--zz\r\nContent-Disposition: form-data; name=f; filename=x\r\n\r\n1\r\n--zz\r\nContent-Disposition: form-data\r\n\r\n2\r\n--zz--",
         "", "name"},
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        miaw_form f;
        char field[64] = "?", err[256] = "";
        int rc = miaw_form_parse(CT, BAD[i].body, strlen(BAD[i].body), dir, &f, field, sizeof field, err, sizeof err);
        CU_ASSERT_EQUAL(rc, MIAW_FORM_MALFORMED);
        CU_ASSERT_STRING_EQUAL(field, BAD[i].field);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, BAD[i].why));
        CU_ASSERT_PTR_NULL(f.fields);
        CU_ASSERT_EQUAL(count_files(dir), 0); /* files written before the fault are removed */
    }
    /* a Content-Type without boundary */
    miaw_form f;
    char field[64], err[256];
    CU_ASSERT_EQUAL(miaw_form_parse("multipart/form-data", "--zz--", 6, dir, &f, field, sizeof field, err, sizeof err),
                    MIAW_FORM_MALFORMED);
    /* more than MIAW_MP_MAX_FILES files */
    miaw_buf b = {0};
    for (int i = 0; i <= MIAW_MP_MAX_FILES; i++)
        miaw_buf_printf(&b, "--zz\r\nContent-Disposition: form-data; name=f%d; filename=x\r\n\r\nv\r\n", i);
    miaw_buf_printf(&b, "--zz--");
    CU_ASSERT_EQUAL(miaw_form_parse(CT, b.data, b.len, dir, &f, field, sizeof field, err, sizeof err), MIAW_FORM_MALFORMED);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "files"));
    CU_ASSERT_EQUAL(count_files(dir), 0);
    miaw_buf_free(&b);
    /* a data dir that cannot hold files: a storage error, not the client's */
    static const char one[] = "--zz\r\nContent-Disposition: form-data; name=f; filename=x\r\n\r\nv\r\n--zz--";
    CU_ASSERT_EQUAL(miaw_form_parse(CT, one, sizeof one - 1, "/proc/nonexistent/x", &f, field, sizeof field, err,
                                    sizeof err),
                    MIAW_FORM_STORE);
    CU_ASSERT_STRING_EQUAL(field, "f");
    /* without a data dir (the fuzzer's way) nothing is written */
    CU_ASSERT_EQUAL(miaw_form_parse(CT, one, sizeof one - 1, NULL, &f, field, sizeof field, err, sizeof err), 0);
    CU_ASSERT_EQUAL(f.nfiles, 1);
    CU_ASSERT_PTR_NULL(f.files[0].path);
    miaw_form_free(&f);
    miaw_rm_rf(dir);
    free(dir);
}

static void test_form_coerce(void)
{
    static const miaw_field PROPS[] = {
        {.name = "n", .type = MIAW_T_INTEGER},      {.name = "x", .type = MIAW_T_NUMBER},
        {.name = "b", .type = MIAW_T_BOOLEAN},      {.name = "o", .type = MIAW_T_OBJECT},
        {.name = "a", .type = MIAW_T_ARRAY},        {.name = "s", .type = MIAW_T_STRING},
        {.name = "z", .type = MIAW_T_INTEGER, .flags = MIAW_F_NULLABLE},
        {.name = "bad", .type = MIAW_T_INTEGER, .flags = MIAW_F_REQUIRED}, {0},
    };
    json_t *f = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "n", "42", "x", "2.5", "b", "true", "o", "{\"k\":1}",
                          "a", "[1,2]", "s", "7", "z", "null", "bad", "4x", "other", "1");
    miaw_form_coerce(f, PROPS);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(f, "n")), 42);
    CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(f, "x")), 2.5, 1e-9);
    CU_ASSERT_TRUE(json_is_true(json_object_get(f, "b")));
    CU_ASSERT_TRUE(json_is_object(json_object_get(f, "o")));
    CU_ASSERT_EQUAL(json_array_size(json_object_get(f, "a")), 2);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(f, "s")), "7");   /* strings stay strings */
    CU_ASSERT_TRUE(json_is_null(json_object_get(f, "z")));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(f, "bad")), "4x"); /* left for the schema to name */
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(f, "other")), "1");
    char field[64], msg[256];
    CU_ASSERT_EQUAL(miaw_schema_validate(PROPS, 0, f, field, sizeof field, msg, sizeof msg), -1);
    CU_ASSERT_STRING_EQUAL(field, "bad");
    json_decref(f);
    /* a wrong JSON type stays a string too: "1.5" for an integer */
    f = json_pack("{s:s,s:s}", "n", "1.5", "b", "yes");
    miaw_form_coerce(f, PROPS);
    CU_ASSERT_TRUE(json_is_string(json_object_get(f, "n")));
    CU_ASSERT_TRUE(json_is_string(json_object_get(f, "b")));
    json_decref(f);
}

static void test_tmpfile(void)
{
    char *dir = mkdata_dir();
    char a[512], b[512];
    int fa = miaw_tmpfile_open(dir, "upload", a, sizeof a);
    int fb = miaw_tmpfile_open(dir, "upload", b, sizeof b);
    CU_ASSERT_TRUE_FATAL(fa >= 0 && fb >= 0);
    CU_ASSERT_STRING_NOT_EQUAL(a, b);
    CU_ASSERT_PTR_NOT_NULL(strstr(a, "/tmp/upload-"));
    struct stat st;
    CU_ASSERT_EQUAL(fstat(fa, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    close(fa);
    close(fb);
    char small[8];
    CU_ASSERT_TRUE(miaw_tmpfile_open(dir, "upload", small, sizeof small) < 0);
    miaw_rm_rf(dir);
    /* a data dir that does not exist yet is created */
    CU_ASSERT_TRUE_FATAL((fa = miaw_tmpfile_open(dir, "fetch", a, sizeof a)) >= 0);
    close(fa);
    miaw_rm_rf(dir);
    free(dir);
}

MIAW_TESTS("http_multipart", MIAW_T(test_boundary), MIAW_T(test_parse_curl_body), MIAW_T(test_parse_filenames),
           MIAW_T(test_parse_edges), MIAW_T(test_parse_malformed), MIAW_T(test_parse_limits),
           MIAW_T(test_parse_callback_stops), MIAW_T(test_form_fields_and_files), MIAW_T(test_form_errors_name_the_field),
           MIAW_T(test_form_coerce), MIAW_T(test_tmpfile))
