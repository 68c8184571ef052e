/* core/admin/xmlrpc.c - XML-RPC encoder/decoder for the supervisord client. The decoder
 * is a small recursive-descent reader for exactly the XML that XML-RPC uses (elements,
 * text, the five named entities and numeric character references); anything else is
 * reported as malformed, never guessed at. */
#include "admin/xmlrpc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XR_MAX_DEPTH 64

/* ------------------------------------------------------------------ encoder */

static int buf_add(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t nc = *cap ? *cap : 256;
        while (nc < *len + n + 1) nc *= 2;
        char *nb = realloc(*buf, nc);
        if (!nb) return -1;
        *buf = nb;
        *cap = nc;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = 0;
    return 0;
}
#define ADD(s) buf_add(buf, len, cap, (s), strlen(s))

static int add_escaped(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        const char *rep = NULL;
        switch (s[i]) {
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '&': rep = "&amp;"; break;
        case '"': rep = "&quot;"; break;
        default: break;
        }
        if (!rep) continue;
        if (buf_add(buf, len, cap, s + start, i - start) || ADD(rep)) return -1;
        start = i + 1;
    }
    return buf_add(buf, len, cap, s + start, n - start);
}

int miaw_xmlrpc_encode_value(char **buf, size_t *len, size_t *cap, const json_t *v)
{
    char num[64];
    if (!v) return -1;
    if (ADD("<value>")) return -1;
    switch (json_typeof(v)) {
    case JSON_STRING:
        if (ADD("<string>") || add_escaped(buf, len, cap, json_string_value(v), json_string_length(v)) ||
            ADD("</string>"))
            return -1;
        break;
    case JSON_INTEGER: {
        json_int_t i = json_integer_value(v);
        const char *tag = (i >= INT32_MIN && i <= INT32_MAX) ? "int" : "i8";
        snprintf(num, sizeof num, "<%s>%" JSON_INTEGER_FORMAT "</%s>", tag, i, tag);
        if (ADD(num)) return -1;
        break;
    }
    case JSON_REAL:
        snprintf(num, sizeof num, "<double>%.17g</double>", json_real_value(v));
        if (ADD(num)) return -1;
        break;
    case JSON_TRUE:
        if (ADD("<boolean>1</boolean>")) return -1;
        break;
    case JSON_FALSE:
        if (ADD("<boolean>0</boolean>")) return -1;
        break;
    case JSON_NULL:
        if (ADD("<nil/>")) return -1;
        break;
    case JSON_ARRAY: {
        if (ADD("<array><data>")) return -1;
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) if (miaw_xmlrpc_encode_value(buf, len, cap, e)) return -1;
        if (ADD("</data></array>")) return -1;
        break;
    }
    case JSON_OBJECT: {
        if (ADD("<struct>")) return -1;
        const char *k;
        json_t *e;
        json_object_foreach((json_t *)v, k, e) {
            if (ADD("<member><name>") || add_escaped(buf, len, cap, k, strlen(k)) || ADD("</name>") ||
                miaw_xmlrpc_encode_value(buf, len, cap, e) || ADD("</member>"))
                return -1;
        }
        if (ADD("</struct>")) return -1;
        break;
    }
    default:
        return -1;
    }
    return ADD("</value>");
}

char *miaw_xmlrpc_encode_call(const char *method, const json_t *params)
{
    char *b = NULL;
    size_t l = 0, c = 0;
    char **buf = &b;
    size_t *len = &l, *cap = &c;
    if (!method || (params && !json_is_array(params))) return NULL;
    if (ADD("<?xml version=\"1.0\"?>\n<methodCall><methodName>") ||
        add_escaped(buf, len, cap, method, strlen(method)) || ADD("</methodName><params>"))
        goto fail;
    if (params) {
        size_t i;
        json_t *e;
        json_array_foreach(params, i, e) {
            if (ADD("<param>") || miaw_xmlrpc_encode_value(buf, len, cap, e) || ADD("</param>"))
                goto fail;
        }
    }
    if (ADD("</params></methodCall>\n")) goto fail;
    return b;
fail:
    free(b);
    return NULL;
}
#undef ADD

/* ------------------------------------------------------------------ decoder */

typedef struct {
    const char *p, *end;
    char *err;
    size_t errlen;
} xr_in;

enum { T_OPEN, T_CLOSE, T_EMPTY };
typedef struct {
    int kind;
    char name[32];
} xr_tag;

static int fail(xr_in *in, const char *msg)
{
    if (in->err && in->errlen && !in->err[0]) snprintf(in->err, in->errlen, "%s", msg);
    return -1;
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* skips whitespace, processing instructions and comments */
static void skip_misc(xr_in *in)
{
    for (;;) {
        while (in->p < in->end && is_ws(*in->p)) in->p++;
        size_t left = (size_t)(in->end - in->p);
        if (left >= 2 && in->p[0] == '<' && in->p[1] == '?') {
            const char *q = memmem(in->p, left, "?>", 2);
            in->p = q ? q + 2 : in->end;
        } else if (left >= 4 && !memcmp(in->p, "<!--", 4)) {
            const char *q = memmem(in->p, left, "-->", 3);
            in->p = q ? q + 3 : in->end;
        } else {
            return;
        }
    }
}

/* reads one tag at the cursor (which must be '<'); attributes are skipped */
static int read_tag(xr_in *in, xr_tag *t)
{
    if (in->p >= in->end || *in->p != '<') return fail(in, "expected a tag");
    in->p++;
    t->kind = T_OPEN;
    if (in->p < in->end && *in->p == '/') {
        t->kind = T_CLOSE;
        in->p++;
    }
    size_t n = 0;
    while (in->p < in->end && !is_ws(*in->p) && *in->p != '>' && *in->p != '/') {
        if (n + 1 >= sizeof t->name) return fail(in, "tag name too long");
        t->name[n++] = *in->p++;
    }
    t->name[n] = 0;
    if (!n) return fail(in, "empty tag name");
    while (in->p < in->end && *in->p != '>') {
        if (*in->p == '/' && in->p + 1 < in->end && in->p[1] == '>' && t->kind == T_OPEN) t->kind = T_EMPTY;
        in->p++;
    }
    if (in->p >= in->end) return fail(in, "unterminated tag");
    in->p++;
    return 0;
}

static int expect_tag(xr_in *in, int kind, const char *name)
{
    xr_tag t;
    skip_misc(in);
    if (read_tag(in, &t)) return -1;
    if (t.kind != kind || strcmp(t.name, name)) {
        char m[96];
        snprintf(m, sizeof m, "expected <%s%s>, got <%s%s>", kind == T_CLOSE ? "/" : "", name,
                 t.kind == T_CLOSE ? "/" : "", t.name);
        return fail(in, m);
    }
    return 0;
}

static int peek_tag(xr_in *in, xr_tag *t)
{
    const char *save = in->p;
    skip_misc(in);
    int rc = read_tag(in, t);
    in->p = save;
    return rc;
}

static int put_utf8(char *o, unsigned long cp)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* reads character data up to the next '<', decoding entities; *out malloc'd */
static int read_text(xr_in *in, char **out, size_t *outlen)
{
    const char *s = in->p;
    while (in->p < in->end && *in->p != '<') in->p++;
    size_t n = (size_t)(in->p - s);
    char *o = malloc(n + 1), *w = o;
    if (!o) return fail(in, "out of memory");
    for (size_t i = 0; i < n;) {
        if (s[i] != '&') { *w++ = s[i++]; continue; }
        const char *semi = memchr(s + i, ';', n - i);
        if (!semi || semi - (s + i) > 12) { free(o); return fail(in, "bad entity"); }
        size_t el = (size_t)(semi - (s + i)) + 1;
        const char *e = s + i;
        if (el == 4 && !memcmp(e, "&lt;", 4)) *w++ = '<';
        else if (el == 4 && !memcmp(e, "&gt;", 4)) *w++ = '>';
        else if (el == 5 && !memcmp(e, "&amp;", 5)) *w++ = '&';
        else if (el == 6 && !memcmp(e, "&quot;", 6)) *w++ = '"';
        else if (el == 6 && !memcmp(e, "&apos;", 6)) *w++ = '\'';
        else if (el > 3 && e[1] == '#') {
            char num[16];
            int hex = (e[2] == 'x' || e[2] == 'X');
            size_t dl = el - 3 - (size_t)hex;
            if (dl == 0 || dl >= sizeof num) { free(o); return fail(in, "bad character reference"); }
            memcpy(num, e + 2 + hex, dl);
            num[dl] = 0;
            char *endp;
            errno = 0;
            unsigned long cp = strtoul(num, &endp, hex ? 16 : 10);
            if (*endp || errno || cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
                free(o);
                return fail(in, "bad character reference");
            }
            /* a reference expands to at most 4 bytes and is at least 4 bytes long */
            w += put_utf8(w, cp);
        } else {
            free(o);
            return fail(in, "unknown entity");
        }
        i += el;
    }
    *w = 0;
    *out = o;
    if (outlen) *outlen = (size_t)(w - o);
    return 0;
}

static int only_ws(const char *s)
{
    for (; *s; s++) if (!is_ws(*s)) return 0;
    return 1;
}

static json_t *parse_value(xr_in *in, int depth);

/* after <tag>: reads text then </tag>; handles <tag/> (empty text) via empty flag */
static int scalar_text(xr_in *in, const xr_tag *open, char **txt, size_t *tl)
{
    if (open->kind == T_EMPTY) {
        *txt = strdup("");
        if (!*txt) return fail(in, "out of memory");
        *tl = 0;
        return 0;
    }
    if (read_text(in, txt, tl)) return -1;
    if (expect_tag(in, T_CLOSE, open->name)) { free(*txt); *txt = NULL; return -1; }
    return 0;
}

static json_t *parse_typed(xr_in *in, const xr_tag *t, int depth)
{
    char *txt = NULL;
    size_t tl = 0;
    json_t *v = NULL;
    if (!strcmp(t->name, "array")) {
        if (t->kind == T_EMPTY) return json_array();
        xr_tag d;
        skip_misc(in);
        if (read_tag(in, &d) || strcmp(d.name, "data") || d.kind == T_CLOSE) { fail(in, "expected <data>"); return NULL; }
        json_t *arr = json_array();
        if (d.kind == T_OPEN) {
            for (;;) {
                xr_tag n;
                if (peek_tag(in, &n)) { json_decref(arr); return NULL; }
                if (n.kind == T_CLOSE && !strcmp(n.name, "data")) break;
                if (expect_tag(in, T_OPEN, "value")) { json_decref(arr); return NULL; }
                json_t *e = parse_value(in, depth + 1);
                if (!e) { json_decref(arr); return NULL; }
                json_array_append_new(arr, e);
            }
            if (expect_tag(in, T_CLOSE, "data")) { json_decref(arr); return NULL; }
        }
        if (expect_tag(in, T_CLOSE, "array")) { json_decref(arr); return NULL; }
        return arr;
    }
    if (!strcmp(t->name, "struct")) {
        json_t *obj = json_object();
        if (t->kind == T_EMPTY) return obj;
        for (;;) {
            xr_tag n;
            if (peek_tag(in, &n)) goto sfail;
            if (n.kind == T_CLOSE && !strcmp(n.name, "struct")) break;
            if (expect_tag(in, T_OPEN, "member") || expect_tag(in, T_OPEN, "name")) goto sfail;
            char *key = NULL;
            if (read_text(in, &key, NULL)) goto sfail;
            if (expect_tag(in, T_CLOSE, "name") || expect_tag(in, T_OPEN, "value")) { free(key); goto sfail; }
            json_t *e = parse_value(in, depth + 1);
            if (!e) { free(key); goto sfail; }
            json_object_set_new(obj, key, e);
            free(key);
            if (expect_tag(in, T_CLOSE, "member")) goto sfail;
        }
        if (expect_tag(in, T_CLOSE, "struct")) goto sfail;
        return obj;
    sfail:
        json_decref(obj);
        return NULL;
    }
    if (!strcmp(t->name, "nil")) {
        if (t->kind == T_OPEN && expect_tag(in, T_CLOSE, "nil")) return NULL;
        return json_null();
    }
    if (scalar_text(in, t, &txt, &tl)) return NULL;
    if (!strcmp(t->name, "string") || !strcmp(t->name, "dateTime.iso8601") || !strcmp(t->name, "base64")) {
        v = json_stringn(txt, tl);
        if (!v) fail(in, "string is not valid UTF-8");
    } else if (!strcmp(t->name, "int") || !strcmp(t->name, "i4") || !strcmp(t->name, "i8")) {
        char *endp;
        errno = 0;
        long long n = strtoll(txt, &endp, 10);
        while (*endp && is_ws(*endp)) endp++;
        if (errno || endp == txt || *endp) fail(in, "bad integer");
        else v = json_integer(n);
    } else if (!strcmp(t->name, "boolean")) {
        const char *s = txt;
        while (is_ws(*s)) s++;
        if (s[0] == '1' && only_ws(s + 1)) v = json_true();
        else if (s[0] == '0' && only_ws(s + 1)) v = json_false();
        else fail(in, "bad boolean");
    } else if (!strcmp(t->name, "double")) {
        char *endp;
        double d = strtod(txt, &endp);
        while (*endp && is_ws(*endp)) endp++;
        if (endp == txt || *endp) fail(in, "bad double");
        else v = json_real(d);
    } else {
        char m[64];
        snprintf(m, sizeof m, "unknown value type <%s>", t->name);
        fail(in, m);
    }
    free(txt);
    return v;
}

/* called after <value> was consumed; consumes through </value> */
static json_t *parse_value(xr_in *in, int depth)
{
    if (depth > XR_MAX_DEPTH) { fail(in, "nesting too deep"); return NULL; }
    char *txt = NULL;
    size_t tl = 0;
    if (read_text(in, &txt, &tl)) return NULL;
    xr_tag t;
    if (read_tag(in, &t)) { free(txt); return NULL; }
    if (t.kind == T_CLOSE && !strcmp(t.name, "value")) { /* untyped: a string */
        json_t *v = json_stringn(txt, tl);
        free(txt);
        if (!v) fail(in, "string is not valid UTF-8");
        return v;
    }
    int blank = only_ws(txt);
    free(txt);
    if (!blank || t.kind == T_CLOSE) { fail(in, "text mixed with a typed value"); return NULL; }
    json_t *v = parse_typed(in, &t, depth);
    if (!v) return NULL;
    if (expect_tag(in, T_CLOSE, "value")) { json_decref(v); return NULL; }
    return v;
}

int miaw_xmlrpc_decode_response(const char *xml, size_t len, json_t **result,
                                int *fault_code, char **fault_string, char *err, size_t errlen)
{
    xr_in in = {xml, xml + len, err, errlen};
    if (err && errlen) err[0] = 0;
    *result = NULL;
    if (!xml) { fail(&in, "no document"); return MIAW_XMLRPC_MALFORMED; }
    if (expect_tag(&in, T_OPEN, "methodResponse")) return MIAW_XMLRPC_MALFORMED;
    xr_tag t;
    skip_misc(&in);
    if (read_tag(&in, &t)) return MIAW_XMLRPC_MALFORMED;
    if (t.kind == T_OPEN && !strcmp(t.name, "params")) {
        if (expect_tag(&in, T_OPEN, "param") || expect_tag(&in, T_OPEN, "value")) return MIAW_XMLRPC_MALFORMED;
        json_t *v = parse_value(&in, 0);
        if (!v) return MIAW_XMLRPC_MALFORMED;
        if (expect_tag(&in, T_CLOSE, "param") || expect_tag(&in, T_CLOSE, "params") ||
            expect_tag(&in, T_CLOSE, "methodResponse")) {
            json_decref(v);
            return MIAW_XMLRPC_MALFORMED;
        }
        *result = v;
        return MIAW_XMLRPC_OK;
    }
    if (t.kind == T_OPEN && !strcmp(t.name, "fault")) {
        if (expect_tag(&in, T_OPEN, "value")) return MIAW_XMLRPC_MALFORMED;
        json_t *v = parse_value(&in, 0);
        if (!v) return MIAW_XMLRPC_MALFORMED;
        json_t *code = json_object_get(v, "faultCode"), *msg = json_object_get(v, "faultString");
        if (!json_is_integer(code) || expect_tag(&in, T_CLOSE, "fault") ||
            expect_tag(&in, T_CLOSE, "methodResponse")) {
            json_decref(v);
            fail(&in, "fault without an integer faultCode");
            return MIAW_XMLRPC_MALFORMED;
        }
        if (fault_code) *fault_code = (int)json_integer_value(code);
        if (fault_string) *fault_string = strdup(json_is_string(msg) ? json_string_value(msg) : "");
        json_decref(v);
        return MIAW_XMLRPC_FAULT;
    }
    fail(&in, "expected <params> or <fault>");
    return MIAW_XMLRPC_MALFORMED;
}
