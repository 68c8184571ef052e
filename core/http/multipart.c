/* core/http/multipart.c - multipart/form-data (see multipart.h): a parser over the buffered
 * body that never copies part contents, the form of a request (text fields as JSON,
 * file parts spooled to 0600 temporary files), schema-directed coercion of text fields,
 * and the temporary files under <data_dir>/tmp. */
#include "http/multipart.h"

#include "base/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define NAME_MAX_LEN 1024 /* field names and filenames */

/* ------------------------------------------------------------ header values */
typedef struct { const char *p, *end; } cur;

static void skip_ows(cur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t')) c->p++;
}

static int is_tchar(int ch) { return ch > 0x20 && ch < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", ch); }

/* a token, lowercased, into out; 0 or -1 (empty or too long) */
static int read_token(cur *c, char *out, size_t cap)
{
    size_t n = 0;
    while (c->p < c->end && is_tchar((unsigned char)*c->p)) {
        if (n + 1 >= cap) return -1;
        out[n++] = (char)tolower((unsigned char)*c->p++);
    }
    out[n] = 0;
    return n ? 0 : -1;
}

/* a parameter value: a quoted string (\" and \\ unescaped, other backslashes kept, as
 * browsers send Windows paths) or a run of token characters and UTF-8 bytes */
static int read_value(cur *c, char *out, size_t cap, size_t *outlen)
{
    size_t n = 0;
    if (c->p < c->end && *c->p == '"') {
        c->p++;
        for (;;) {
            if (c->p >= c->end) return -1;
            unsigned char ch = (unsigned char)*c->p++;
            if (ch == '"') break;
            if (ch == '\\' && c->p < c->end && (*c->p == '"' || *c->p == '\\')) ch = (unsigned char)*c->p++;
            else if ((ch < 0x20 && ch != '\t') || ch == 0x7f) return -1;
            if (n + 1 >= cap) return -1;
            out[n++] = (char)ch;
        }
    } else {
        while (c->p < c->end && (is_tchar((unsigned char)*c->p) || (unsigned char)*c->p >= 0x80)) {
            if (n + 1 >= cap) return -1;
            out[n++] = *c->p++;
        }
        if (!n) return -1;
    }
    out[n] = 0;
    *outlen = n;
    return 0;
}

typedef int (*param_fn)(void *ud, const char *name, const char *value, size_t vlen);

/* "main; a=b; c="d"": the main value (a token or type/subtype, lowercased) into main,
 * each parameter to fn. 0 or -1 */
static int parse_params(const char *v, size_t len, char *main, size_t maincap, param_fn fn, void *ud)
{
    cur c = {v, v + len};
    skip_ows(&c);
    size_t n = 0;
    while (c.p < c.end && (is_tchar((unsigned char)*c.p) || *c.p == '/')) {
        if (n + 1 >= maincap) return -1;
        main[n++] = (char)tolower((unsigned char)*c.p++);
    }
    main[n] = 0;
    if (!n) return -1;
    char name[64];
    char *value = malloc(NAME_MAX_LEN + 1);
    if (!value) return -1;
    int rc = 0;
    for (;;) {
        skip_ows(&c);
        if (c.p >= c.end) break;
        if (*c.p++ != ';') { rc = -1; break; }
        skip_ows(&c);
        if (c.p >= c.end) break; /* a trailing ';' */
        size_t vl;
        if (read_token(&c, name, sizeof name) != 0) { rc = -1; break; }
        skip_ows(&c);
        if (c.p >= c.end || *c.p++ != '=') { rc = -1; break; }
        skip_ows(&c);
        if (read_value(&c, value, NAME_MAX_LEN + 1, &vl) != 0 || (fn && fn(ud, name, value, vl) != 0)) { rc = -1; break; }
    }
    free(value);
    return rc;
}

int miaw_multipart_is_form(const char *ct)
{
    if (!ct) return 0;
    while (*ct == ' ' || *ct == '\t') ct++;
    return strncasecmp(ct, "multipart/form-data", 19) == 0 &&
           (ct[19] == 0 || ct[19] == ';' || ct[19] == ' ' || ct[19] == '\t');
}

typedef struct { char *out; size_t cap; int found, bad; } bctx;

static int on_ct_param(void *ud, const char *name, const char *value, size_t vlen)
{
    bctx *b = ud;
    if (strcmp(name, "boundary") != 0) return 0;
    if (b->found || vlen < 1 || vlen > 70 || vlen >= b->cap || value[vlen - 1] == ' ') return b->bad = 1, -1;
    for (size_t i = 0; i < vlen; i++)
        if ((unsigned char)value[i] < 0x20 || (unsigned char)value[i] >= 0x7f) return b->bad = 1, -1;
    memcpy(b->out, value, vlen + 1);
    b->found = 1;
    return 0;
}

int miaw_multipart_boundary(const char *ct, char *out, size_t cap, char *err, size_t errlen)
{
    char main[128];
    bctx b = {out, cap, 0, 0};
    if (!ct || parse_params(ct, strlen(ct), main, sizeof main, on_ct_param, &b) != 0 || b.bad)
        return snprintf(err, errlen, "the Content-Type's boundary is missing or not 1 to 70 characters"), -1;
    if (strcmp(main, "multipart/form-data") != 0) return snprintf(err, errlen, "not multipart/form-data"), -1;
    if (!b.found) return snprintf(err, errlen, "the Content-Type has no boundary parameter"), -1;
    return 0;
}

/* ------------------------------------------------------------ parts */
static int utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *e = p + n;
    while (p < e) {
        unsigned c = *p++;
        if (c < 0x80) {
            if (!c) return 0;
            continue;
        }
        int k = c >= 0xf0 && c <= 0xf4 ? 3 : c >= 0xe0 ? 2 : c >= 0xc2 && c < 0xe0 ? 1 : -1;
        if (k < 0 || c > 0xf4 || e - p < k) return 0;
        unsigned cp = c & (0x3f >> k);
        for (int i = 0; i < k; i++) {
            if ((p[i] & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (p[i] & 0x3f);
        }
        if ((k == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return 0;
        p += k;
    }
    return 1;
}

static int hexv(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

typedef struct {
    char *name, *filename, *filename_ext; /* each NAME_MAX_LEN + 1 bytes */
    int has_name, has_filename, has_ext, seen_ext;
} dispo;

static int on_cd_param(void *ud, const char *name, const char *value, size_t vlen)
{
    dispo *d = ud;
    if (!strcmp(name, "name")) {
        if (d->has_name) return -1;
        memcpy(d->name, value, vlen + 1);
        d->has_name = 1;
    } else if (!strcmp(name, "filename")) {
        if (d->has_filename) return -1;
        memcpy(d->filename, value, vlen + 1);
        d->has_filename = 1;
    } else if (!strcmp(name, "filename*")) { /* RFC 8187: UTF-8'lang'pct-encoded; other charsets ignored */
        if (d->seen_ext) return -1;
        d->seen_ext = 1;
        const char *q1 = memchr(value, '\'', vlen), *q2 = q1 ? memchr(q1 + 1, '\'', vlen - (size_t)(q1 + 1 - value)) : NULL;
        if (!q2 || (size_t)(q1 - value) != 5 || strncasecmp(value, "utf-8", 5) != 0) return 0;
        size_t o = 0;
        for (const char *s = q2 + 1; s < value + vlen; s++) {
            if (*s == '%') {
                if (s + 2 >= value + vlen || hexv(s[1]) < 0 || hexv(s[2]) < 0) return 0; /* ignored: has_ext stays 0 */
                d->filename_ext[o++] = (char)(hexv(s[1]) * 16 + hexv(s[2]));
                s += 2;
            } else d->filename_ext[o++] = *s;
        }
        d->filename_ext[o] = 0;
        d->has_ext = utf8_valid(d->filename_ext, o);
    }
    return 0;
}

static int fail(char *err, size_t errlen, const char *msg) { return snprintf(err, errlen, "%s", msg), -1; }

/* the part's header section [h, h + len): Content-Disposition and Content-Type */
static int part_headers(const char *h, size_t len, dispo *d, char *ctype, size_t ctcap, int *has_ct, char *err,
                        size_t errlen)
{
    int has_cd = 0;
    *has_ct = 0;
    const char *p = h, *end = h + len;
    while (p < end) {
        const char *eol = memchr(p, '\r', (size_t)(end - p));
        if (!eol) eol = end;
        else if (eol + 1 >= end || eol[1] != '\n') return fail(err, errlen, "a part header line does not end with CRLF");
        if (*p == ' ' || *p == '\t') return fail(err, errlen, "folded part header lines are not accepted");
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (!colon || colon == p) return fail(err, errlen, "a part header line has no name");
        for (const char *c = p; c < colon; c++)
            if (!is_tchar((unsigned char)*c)) return fail(err, errlen, "a part header name is not a token");
        for (const char *c = colon + 1; c < eol; c++)
            if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
                return fail(err, errlen, "a part header has control characters");
        const char *v = colon + 1;
        size_t nl = (size_t)(colon - p), vl = (size_t)(eol - v);
        if (nl == 19 && strncasecmp(p, "content-disposition", 19) == 0) {
            char main[32];
            if (has_cd) return fail(err, errlen, "a part has two Content-Disposition headers");
            if (parse_params(v, vl, main, sizeof main, on_cd_param, d) != 0)
                return fail(err, errlen, "a part's Content-Disposition cannot be parsed");
            if (strcmp(main, "form-data") != 0) return fail(err, errlen, "a part's Content-Disposition is not form-data");
            has_cd = 1;
        } else if (nl == 12 && strncasecmp(p, "content-type", 12) == 0) {
            while (vl && (*v == ' ' || *v == '\t')) v++, vl--;
            while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t')) vl--;
            if (*has_ct || !vl || vl >= ctcap) return fail(err, errlen, "a part's Content-Type is missing, repeated or too long");
            memcpy(ctype, v, vl);
            ctype[vl] = 0;
            *has_ct = 1;
        }
        p = eol + 2;
    }
    if (!has_cd || !d->has_name) return fail(err, errlen, "a part has no Content-Disposition: form-data with a name");
    if (!d->name[0] || !utf8_valid(d->name, strlen(d->name)))
        return fail(err, errlen, "a part's name is empty or not UTF-8");
    return 0;
}

/* after a dash-boundary at p: "--" ends the body (1), else transport padding and CRLF (0,
 * *next = the part's start), else malformed (-1) */
static int after_delim(const char *p, const char *end, const char **next)
{
    if (end - p >= 2 && p[0] == '-' && p[1] == '-') return 1;
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    if (end - p < 2 || p[0] != '\r' || p[1] != '\n') return -1;
    *next = p + 2;
    return 0;
}

int miaw_multipart_parse(const char *body, size_t len, const char *boundary, miaw_mp_part_fn on_part, void *ud,
                         char *err, size_t errlen)
{
    size_t bl = strlen(boundary);
    char delim[80]; /* CRLF "--" boundary */
    if (bl < 1 || bl > 70) return fail(err, errlen, "bad boundary");
    snprintf(delim, sizeof delim, "\r\n--%s", boundary);
    size_t dl = bl + 4;
    const char *end = body + len, *p;
    if (len >= bl + 2 && memcmp(body, delim + 2, bl + 2) == 0) p = body + bl + 2;
    else {
        const char *d = len ? memmem(body, len, delim, dl) : NULL;
        if (!d) return fail(err, errlen, "no boundary delimiter in the body");
        p = d + dl;
    }
    const char *part;
    int st = after_delim(p, end, &part);
    if (st < 0) return fail(err, errlen, "a boundary delimiter line is malformed");
    dispo d = {0};
    char ctype[256];
    char *names = malloc(3 * (NAME_MAX_LEN + 1));
    if (!names) return fail(err, errlen, "out of memory");
    d.name = names;
    d.filename = names + NAME_MAX_LEN + 1;
    d.filename_ext = names + 2 * (NAME_MAX_LEN + 1);
    int rc = 0;
    size_t nparts = 0;
    while (st == 0) {
        if (++nparts > MIAW_MP_MAX_PARTS) {
            rc = fail(err, errlen, "too many parts");
            break;
        }
        const char *hend, *data;
        if (end - part >= 2 && part[0] == '\r' && part[1] == '\n') hend = part, data = part + 2; /* no headers */
        else {
            size_t room = (size_t)(end - part);
            if (room > MIAW_MP_MAX_HEADER + 4) room = MIAW_MP_MAX_HEADER + 4;
            hend = room >= 4 ? memmem(part, room, "\r\n\r\n", 4) : NULL;
            if (!hend) {
                rc = fail(err, errlen, "a part's header section is unterminated or too long");
                break;
            }
            data = hend + 4;
        }
        const char *dend = memmem(data, (size_t)(end - data), delim, dl);
        if (!dend) {
            rc = fail(err, errlen, "a part is not terminated by a boundary delimiter");
            break;
        }
        d.has_name = d.has_filename = d.has_ext = d.seen_ext = 0;
        int has_ct;
        if (part_headers(part, (size_t)(hend - part), &d, ctype, sizeof ctype, &has_ct, err, errlen) != 0) {
            rc = -1;
            break;
        }
        miaw_mp_part mp = {.name = d.name, .filename = d.has_ext ? d.filename_ext : d.has_filename ? d.filename : NULL,
                           .content_type = has_ct ? ctype : NULL, .data = data, .len = (size_t)(dend - data)};
        if ((rc = on_part(ud, &mp, err, errlen)) != 0) break;
        st = after_delim(dend + dl, end, &part);
        if (st < 0) rc = fail(err, errlen, "a boundary delimiter line is malformed");
    }
    free(names);
    return rc;
}

/* ------------------------------------------------------------ forms */
typedef struct {
    miaw_form *f;
    const char *data_dir;
    char *field;
    size_t fieldlen;
} fctx;

static int dup_name(const miaw_form *f, const char *name)
{
    return json_object_get(f->fields, name) || miaw_form_file_get(f, name);
}

static int store(const char *data_dir, const char *data, size_t len, char *path, size_t cap)
{
    int fd = miaw_tmpfile_open(data_dir, "upload", path, cap);
    if (fd < 0) return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    int e = off == len ? 0 : errno ? errno : EIO;
    if (close(fd) != 0 && !e) e = errno;
    if (e) {
        unlink(path);
        errno = e;
        return -1;
    }
    return 0;
}

static int on_form_part(void *ud, const miaw_mp_part *p, char *err, size_t errlen)
{
    fctx *c = ud;
    miaw_form *f = c->f;
    if (p->filename && !p->filename[0] && !p->len) return 0; /* an empty file input */
    if (dup_name(f, p->name)) {
        snprintf(c->field, c->fieldlen, "%s", p->name);
        return snprintf(err, errlen, "the form field '%s' appears more than once", p->name), MIAW_FORM_MALFORMED;
    }
    if (!p->filename) {
        json_t *s = json_stringn(p->data, p->len);
        if (!s) {
            snprintf(c->field, c->fieldlen, "%s", p->name);
            return snprintf(err, errlen, "the form field '%s' is not UTF-8 text", p->name), MIAW_FORM_MALFORMED;
        }
        json_object_set_new(f->fields, p->name, s);
        return 0;
    }
    if (f->nfiles >= MIAW_MP_MAX_FILES) {
        snprintf(c->field, c->fieldlen, "%s", p->name);
        return snprintf(err, errlen, "more than %d files in one request", MIAW_MP_MAX_FILES), MIAW_FORM_MALFORMED;
    }
    miaw_form_file *v = realloc(f->files, (f->nfiles + 1) * sizeof *v);
    if (!v) return snprintf(err, errlen, "out of memory"), MIAW_FORM_STORE;
    f->files = v;
    miaw_form_file *ff = &f->files[f->nfiles];
    memset(ff, 0, sizeof *ff);
    char path[4096] = "";
    if (c->data_dir && store(c->data_dir, p->data, p->len, path, sizeof path) != 0) {
        int e = errno;
        snprintf(c->field, c->fieldlen, "%s", p->name);
        return snprintf(err, errlen, "cannot store the file of '%s' (%s)", p->name, strerror(e)), MIAW_FORM_STORE;
    }
    ff->name = strdup(p->name);
    ff->path = c->data_dir ? strdup(path) : NULL;
    ff->filename = p->filename[0] ? strdup(p->filename) : NULL;
    ff->content_type = p->content_type ? strdup(p->content_type) : NULL;
    ff->size = p->len;
    f->nfiles++;
    if (!ff->name || (c->data_dir && !ff->path)) return snprintf(err, errlen, "out of memory"), MIAW_FORM_STORE;
    return 0;
}

int miaw_form_parse(const char *ct, const char *body, size_t len, const char *data_dir, miaw_form *form, char *field,
                    size_t fieldlen, char *err, size_t errlen)
{
    char boundary[80];
    field[0] = 0;
    memset(form, 0, sizeof *form);
    if (miaw_multipart_boundary(ct, boundary, sizeof boundary, err, errlen) != 0) return MIAW_FORM_MALFORMED;
    if (!(form->fields = json_object())) return snprintf(err, errlen, "out of memory"), MIAW_FORM_STORE;
    fctx c = {form, data_dir, field, fieldlen};
    int rc = miaw_multipart_parse(body, len, boundary, on_form_part, &c, err, errlen);
    if (rc != 0) {
        miaw_form_free(form);
        return rc == MIAW_FORM_STORE ? MIAW_FORM_STORE : MIAW_FORM_MALFORMED;
    }
    return 0;
}

static const miaw_field *prop_find(const miaw_field *props, const char *name)
{
    for (const miaw_field *f = props; f && f->name; f++)
        if (!strcmp(f->name, name)) return f;
    return NULL;
}

void miaw_form_coerce(json_t *fields, const miaw_field *props)
{
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(fields, tmp, k, v)
    {
        const miaw_field *f = prop_find(props, k);
        if (!f || !json_is_string(v) || f->type == MIAW_T_STRING || f->type == MIAW_T_ANY) continue;
        json_t *j = json_loads(json_string_value(v), JSON_DECODE_ANY, NULL);
        int ok = j && ((f->type == MIAW_T_INTEGER && json_is_integer(j)) ||
                       (f->type == MIAW_T_NUMBER && json_is_number(j)) ||
                       (f->type == MIAW_T_BOOLEAN && json_is_boolean(j)) ||
                       (f->type == MIAW_T_OBJECT && json_is_object(j)) || (f->type == MIAW_T_ARRAY && json_is_array(j)) ||
                       ((f->flags & MIAW_F_NULLABLE) && json_is_null(j)));
        if (ok) json_object_set_new(fields, k, j);
        else json_decref(j);
    }
}

const miaw_form_file *miaw_form_file_get(const miaw_form *f, const char *name)
{
    for (size_t i = 0; f && name && i < f->nfiles; i++)
        if (f->files[i].name && !strcmp(f->files[i].name, name)) return &f->files[i];
    return NULL;
}

void miaw_form_free(miaw_form *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->nfiles; i++) {
        if (f->files[i].path) unlink(f->files[i].path);
        free(f->files[i].name);
        free(f->files[i].path);
        free(f->files[i].filename);
        free(f->files[i].content_type);
    }
    free(f->files);
    json_decref(f->fields);
    memset(f, 0, sizeof *f);
}

/* ------------------------------------------------------------ temporary files */
int miaw_tmpfile_open(const char *data_dir, const char *prefix, char *path, size_t cap)
{
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s/tmp", data_dir) >= (int)sizeof dir) return -ENAMETOOLONG;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        int e = errno;
        if (miaw_mkdir_p(dir, 0700) != 0) return -e;
    }
    for (int tries = 0; tries < 4; tries++) {
        char rnd[25];
        if (miaw_random_hex(rnd, 12) != 0) return -EIO;
        if (snprintf(path, cap, "%s/%s-%s", dir, prefix, rnd) >= (int)cap) return -ENAMETOOLONG;
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) return fd;
        if (errno != EEXIST) return -errno;
    }
    return -EEXIST;
}
