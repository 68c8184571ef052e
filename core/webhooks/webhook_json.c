/* core/webhooks/webhook_json.c - JS-compatible JSON serializer for webhook bodies (see
 * webhook_json.h). JS objects list integer-like keys ("0".."4294967294") first in
 * ascending order, then the other keys in insertion order; numbers are IEEE doubles
 * printed shortest-round-trip; strings escape only '"', '\\' and control characters. */
#include "webhooks/webhook_json.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void miaw_wh_js_number(char *out, size_t cap, double d)
{
    if (isnan(d) || isinf(d)) {
        snprintf(out, cap, "null");
        return;
    }
    if (d == 0) {
        snprintf(out, cap, "0");
        return;
    }
    char tmp[40];
    int p;
    for (p = 1; p <= 17; p++) {
        snprintf(tmp, sizeof tmp, "%.*e", p - 1, d);
        if (strtod(tmp, NULL) == d) break;
    }
    /* tmp = [-]d[.ddd]e[+-]XX */
    const char *s = tmp;
    int neg = 0;
    if (*s == '-') {
        neg = 1;
        s++;
    }
    char digits[24];
    int k = 0;
    const char *e = strchr(s, 'e');
    for (const char *c = s; c < e; c++)
        if (*c != '.') digits[k++] = *c;
    while (k > 1 && digits[k - 1] == '0') k--;
    digits[k] = 0;
    int n = atoi(e + 1) + 1; /* value = 0.digits x 10^n */
    char *o = out;
    size_t left = cap;
#define PUT(...)                                         \
    do {                                                 \
        int w_ = snprintf(o, left, __VA_ARGS__);         \
        if (w_ < 0 || (size_t)w_ >= left) return;        \
        o += w_;                                         \
        left -= (size_t)w_;                              \
    } while (0)
    if (neg) PUT("-");
    if (k <= n && n <= 21) {
        PUT("%s", digits);
        for (int i = 0; i < n - k; i++) PUT("0");
    } else if (0 < n && n <= 21) {
        PUT("%.*s.%s", n, digits, digits + n);
    } else if (-6 < n && n <= 0) {
        PUT("0.");
        for (int i = 0; i < -n; i++) PUT("0");
        PUT("%s", digits);
    } else {
        int x = n - 1;
        if (k == 1) PUT("%ce%c%d", digits[0], x < 0 ? '-' : '+', abs(x));
        else PUT("%c.%se%c%d", digits[0], digits + 1, x < 0 ? '-' : '+', abs(x));
    }
#undef PUT
}

static int put_string(miaw_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (miaw_buf_append(b, "\"", 1)) return -1;
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            if (c < 0x20) {
                u[0] = '\\', u[1] = 'u', u[2] = '0', u[3] = '0', u[4] = hex[c >> 4], u[5] = hex[c & 15], u[6] = 0;
                esc = u;
            }
        }
        if (!esc) continue;
        if (miaw_buf_append(b, s + run, i - run) || miaw_buf_append(b, esc, strlen(esc))) return -1;
        run = i + 1;
    }
    if (miaw_buf_append(b, s + run, n - run)) return -1;
    return miaw_buf_append(b, "\"", 1);
}

/* canonical array index: "0" or [1-9][0-9]* up to 2^32-2 */
static int index_key(const char *k, size_t n, uint64_t *out)
{
    if (n == 0 || n > 10 || (n > 1 && k[0] == '0')) return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (k[i] < '0' || k[i] > '9') return 0;
        v = v * 10 + (uint64_t)(k[i] - '0');
    }
    if (v > 4294967294ull) return 0;
    *out = v;
    return 1;
}

struct okey { const char *k; size_t n; uint64_t idx; json_t *v; };

static int cmp_idx(const void *a, const void *b)
{
    uint64_t x = ((const struct okey *)a)->idx, y = ((const struct okey *)b)->idx;
    return x < y ? -1 : x > y;
}

static int put_value(miaw_buf *b, const json_t *v, int depth);

static int put_object(miaw_buf *b, const json_t *o, int depth)
{
    size_t n = json_object_size(o), ni = 0, i = 0;
    struct okey *keys = n ? malloc(n * sizeof *keys) : NULL;
    if (n && !keys) return -1;
    /* two passes: index keys (sorted), then the rest in insertion order */
    void *it = json_object_iter((json_t *)o);
    for (; it; it = json_object_iter_next((json_t *)o, it)) {
        struct okey k = {json_object_iter_key(it), json_object_iter_key_len(it), 0, json_object_iter_value(it)};
        if (index_key(k.k, k.n, &k.idx)) keys[ni++] = k;
    }
    if (ni > 1) qsort(keys, ni, sizeof *keys, cmp_idx);
    i = ni;
    for (it = json_object_iter((json_t *)o); it; it = json_object_iter_next((json_t *)o, it)) {
        struct okey k = {json_object_iter_key(it), json_object_iter_key_len(it), 0, json_object_iter_value(it)};
        if (!index_key(k.k, k.n, &k.idx)) keys[i++] = k;
    }
    int rc = miaw_buf_append(b, "{", 1);
    for (i = 0; i < n && !rc; i++) {
        if (i) rc = miaw_buf_append(b, ",", 1);
        if (!rc) rc = put_string(b, keys[i].k, keys[i].n);
        if (!rc) rc = miaw_buf_append(b, ":", 1);
        if (!rc) rc = put_value(b, keys[i].v, depth + 1);
    }
    free(keys);
    return rc ? rc : miaw_buf_append(b, "}", 1);
}

static int put_value(miaw_buf *b, const json_t *v, int depth)
{
    char num[40];
    if (depth > 4096) return -1;
    switch (json_typeof(v)) {
    case JSON_OBJECT: return put_object(b, v, depth);
    case JSON_ARRAY: {
        if (miaw_buf_append(b, "[", 1)) return -1;
        for (size_t i = 0; i < json_array_size(v); i++)
            if ((i && miaw_buf_append(b, ",", 1)) || put_value(b, json_array_get(v, i), depth + 1)) return -1;
        return miaw_buf_append(b, "]", 1);
    }
    case JSON_STRING: return put_string(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER: {
        json_int_t x = json_integer_value(v);
        /* beyond 2^53 a JS consumer sees the nearest double: print that */
        if (x > 9007199254740992LL || x < -9007199254740992LL) miaw_wh_js_number(num, sizeof num, (double)x);
        else snprintf(num, sizeof num, "%lld", (long long)x);
        return miaw_buf_append(b, num, strlen(num));
    }
    case JSON_REAL:
        miaw_wh_js_number(num, sizeof num, json_real_value(v));
        return miaw_buf_append(b, num, strlen(num));
    case JSON_TRUE: return miaw_buf_append(b, "true", 4);
    case JSON_FALSE: return miaw_buf_append(b, "false", 5);
    default: return miaw_buf_append(b, "null", 4);
    }
}

int miaw_wh_json_append(miaw_buf *b, const json_t *v) { return v ? put_value(b, v, 0) : miaw_buf_append(b, "null", 4); }

char *miaw_wh_json_dumps(const json_t *v, size_t *len)
{
    miaw_buf b = {0};
    if (miaw_wh_json_append(&b, v) || miaw_buf_append(&b, "", 1)) {
        miaw_buf_free(&b);
        return NULL;
    }
    if (len) *len = b.len - 1;
    return b.data;
}
