/* tests/fuzz/fuzz_multipart.c - libFuzzer target for core/http/multipart: what a client's
 * bytes can do to the multipart/form-data parser and the form built from it. The input is
 * "<Content-Type>\n<body>". With the parser's own boundary the parts it reports must lie
 * inside the body, never hold the delimiter, and carry a valid name; the form (nothing
 * written: data_dir NULL) must be JSON that dumps, coerce against a schema and validate
 * without crashing. Owns nothing across runs. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/multipart.h"
#include "http/schema.h"

typedef struct { const char *body; size_t len; const char *delim; size_t dl; int n; } check;

static int on_part(void *ud, const miaw_mp_part *p, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    check *c = ud;
    if (!p->name || !p->name[0]) abort();
    if (p->data < c->body || p->data + p->len > c->body + c->len) abort();
    if (p->len >= c->dl && memmem(p->data, p->len, c->delim, c->dl)) abort();
    if (p->content_type && strlen(p->content_type) > 255) abort();
    c->n++;
    return 0;
}

static const miaw_field ITEM = {.type = MIAW_T_STRING};
static const miaw_field PROPS[] = {
    {.name = "title", .type = MIAW_T_STRING, .flags = MIAW_F_REQUIRED | MIAW_F_HAS_MAX, .max = 20},
    {.name = "count", .type = MIAW_T_INTEGER, .flags = MIAW_F_HAS_MIN, .min = 1},
    {.name = "ratio", .type = MIAW_T_NUMBER},
    {.name = "flag", .type = MIAW_T_BOOLEAN, .flags = MIAW_F_NULLABLE},
    {.name = "tags", .type = MIAW_T_ARRAY, .items = &ITEM},
    {.name = "meta", .type = MIAW_T_OBJECT},
    {0},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *nl = memchr(data, '\n', size < 300 ? size : 300);
    if (!nl) return 0;
    size_t ctl = (size_t)(nl - (const char *)data);
    char ct[301];
    memcpy(ct, data, ctl);
    ct[ctl] = 0;
    const char *body = nl + 1;
    size_t len = size - ctl - 1;
    char boundary[80], err[256], field[256];
    if (miaw_multipart_boundary(ct, boundary, sizeof boundary, err, sizeof err) == 0) {
        size_t bl = strlen(boundary);
        if (bl < 1 || bl > 70) abort();
        char delim[80];
        snprintf(delim, sizeof delim, "\r\n--%s", boundary);
        check c = {body, len, delim, bl + 4, 0};
        int rc = miaw_multipart_parse(body, len, boundary, on_part, &c, err, sizeof err);
        if (rc != 0 && rc != -1) abort();
        if (c.n > MIAW_MP_MAX_PARTS) abort();
    }
    miaw_form f;
    int rc = miaw_form_parse(ct, body, len, NULL, &f, field, sizeof field, err, sizeof err);
    if (rc == 0) {
        if (f.nfiles > MIAW_MP_MAX_FILES) abort();
        for (size_t i = 0; i < f.nfiles; i++)
            if (!f.files[i].name || f.files[i].path) abort();
        miaw_form_coerce(f.fields, PROPS);
        char *s = json_dumps(f.fields, JSON_COMPACT);
        if (!s) abort(); /* every field must be valid UTF-8 */
        free(s);
        char msg[512];
        miaw_schema_validate(PROPS, 0, f.fields, field, sizeof field, msg, sizeof msg);
        miaw_form_free(&f);
    } else if (rc != MIAW_FORM_MALFORMED || f.fields || f.files) {
        abort();
    }
    return 0;
}
