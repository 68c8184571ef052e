/* core/http/jsonout.c - the answers' compact JSON encoder (see jsonout.h). jansson's own
 * encoder calls back per fragment and walks UTF-8 codepoint by codepoint; this one writes
 * straight into the caller's buffer and copies plain ASCII runs at once. Everything it
 * writes is byte for byte what json_dumpb(JSON_COMPACT | JSON_ENCODE_ANY) writes (escapes
 * \" \\ \b \f \n \r \t, other control bytes as \u00XX with upper-case hex, '/' as is, the
 * members of an object in their order); what it could get wrong (reals: jansson's own
 * number formatting; non-ASCII: jansson's UTF-8 validation) it leaves to jansson. Owns
 * nothing. */
#include "http/jsonout.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 32

typedef struct {
    char *p, *end;
    int fail;
} out_t;

static void put(out_t *o, const char *s, size_t n)
{
    if (o->fail || (size_t)(o->end - o->p) < n) {
        o->fail = 1;
        return;
    }
    memcpy(o->p, s, n);
    o->p += n;
}

static void put_c(out_t *o, char c)
{
    if (o->fail || o->p == o->end) {
        o->fail = 1;
        return;
    }
    *o->p++ = c;
}

/* 1: written as is; 0: escaped; -1: above 0x7f (jansson's) */
static int plain(unsigned char c) { return c >= 0x80 ? -1 : (c >= 0x20 && c != '"' && c != '\\'); }

static void put_string(out_t *o, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    put_c(o, '"');
    size_t i = 0;
    while (i < n && !o->fail) {
        size_t run = i;
        int k = 1;
        while (run < n && (k = plain((unsigned char)s[run])) == 1) run++;
        put(o, s + i, run - i);
        if (run == n) break;
        if (k < 0) {
            o->fail = 1;
            return;
        }
        unsigned char c = (unsigned char)s[run];
        char e[6] = {'\\', 0, '0', '0', 0, 0};
        size_t el = 2;
        switch (c) {
        case '"': e[1] = '"'; break;
        case '\\': e[1] = '\\'; break;
        case '\b': e[1] = 'b'; break;
        case '\f': e[1] = 'f'; break;
        case '\n': e[1] = 'n'; break;
        case '\r': e[1] = 'r'; break;
        case '\t': e[1] = 't'; break;
        default:
            e[1] = 'u';
            e[4] = hex[c >> 4];
            e[5] = hex[c & 15];
            el = 6;
        }
        put(o, e, el);
        i = run + 1;
    }
    put_c(o, '"');
}

static void put_value(out_t *o, const json_t *v, int depth)
{
    if (o->fail) return;
    if (depth > MAX_DEPTH) {
        o->fail = 1;
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        put_c(o, '{');
        int first = 1;
        for (void *it = json_object_iter((json_t *)v); it && !o->fail; it = json_object_iter_next((json_t *)v, it)) {
            if (!first) put_c(o, ',');
            first = 0;
            put_string(o, json_object_iter_key(it), json_object_iter_key_len(it));
            put_c(o, ':');
            put_value(o, json_object_iter_value(it), depth + 1);
        }
        put_c(o, '}');
        return;
    }
    case JSON_ARRAY: {
        put_c(o, '[');
        size_t n = json_array_size(v);
        for (size_t i = 0; i < n && !o->fail; i++) {
            if (i) put_c(o, ',');
            put_value(o, json_array_get(v, i), depth + 1);
        }
        put_c(o, ']');
        return;
    }
    case JSON_STRING:
        put_string(o, json_string_value(v), json_string_length(v));
        return;
    case JSON_INTEGER: {
        char b[24];
        int n = snprintf(b, sizeof b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        put(o, b, (size_t)n);
        return;
    }
    case JSON_TRUE: put(o, "true", 4); return;
    case JSON_FALSE: put(o, "false", 5); return;
    case JSON_NULL: put(o, "null", 4); return;
    default: o->fail = 1; /* a real */
    }
}

size_t miaw_json_compact(const json_t *doc, char *out, size_t cap)
{
    if (!doc) return 0;
    out_t o = {out, out + cap, 0};
    put_value(&o, doc, 0);
    return o.fail ? 0 : (size_t)(o.p - out);
}
