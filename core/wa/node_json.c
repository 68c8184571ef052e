/* core/wa/node_json.c - binary XML nodes <-> JSON ({"tag","attrs","content"}, see
 * node_json.h): the validating reader with JSON-path errors and the writer (base64 for
 * bytes, {"jid"} for JIDs, UTF-8 repair for odd wire strings). Owns only the scratch
 * buffers of one call; results belong to the caller. */
#include "node_json.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "miaw/status.h"

/* ------------------------------------------------------------------ UTF-8 */

/* Length of the well-formed UTF-8 sequence at s (n bytes left), 0 when it is not one
 * (overlong forms, surrogates and code points past U+10FFFF are not). */
static size_t utf8_seq(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) return 0;
    if (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) return 0;
    return len;
}

static int utf8_valid(const uint8_t *s, size_t n)
{
    for (size_t i = 0, k; i < n; i += k)
        if (!(k = utf8_seq(s + i, n - i))) return 0;
    return 1;
}

/* A JSON string of s[0..n), each byte of a malformed sequence replaced by U+FFFD. */
static json_t *str_lossy(const char *s, size_t n)
{
    const uint8_t *u = (const uint8_t *)s;
    if (utf8_valid(u, n)) return json_stringn_nocheck(s, n);
    if (n > (SIZE_MAX - 1) / 3) return NULL;
    char *b = malloc(3 * n + 1), *p = b;
    if (!b) return NULL;
    for (size_t i = 0, k; i < n; i += k) {
        k = utf8_seq(u + i, n - i);
        if (k) {
            memcpy(p, u + i, k);
            p += k;
        } else {
            memcpy(p, "\xef\xbf\xbd", 3);
            p += 3;
            k = 1;
        }
    }
    json_t *j = json_stringn_nocheck(b, (size_t)(p - b));
    free(b);
    return j;
}

/* ------------------------------------------------------------------ base64 */

static json_t *b64_json(const uint8_t *d, size_t n)
{
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (n > SIZE_MAX / 2) return NULL;
    char *o = malloc((n + 2) / 3 * 4 + 1), *p = o;
    if (!o) return NULL;
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];
        *p++ = A[v >> 18];
        *p++ = A[v >> 12 & 63];
        *p++ = A[v >> 6 & 63];
        *p++ = A[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0);
        *p++ = A[v >> 18];
        *p++ = A[v >> 12 & 63];
        *p++ = i + 1 < n ? A[v >> 6 & 63] : '=';
        *p++ = '=';
    }
    json_t *j = json_stringn_nocheck(o, (size_t)(p - o));
    free(o);
    return j;
}

static int b64_digit(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

/* Decode base64 (standard or URL-safe digits, padding optional but correct when given).
 * 0 with *out malloc'd (never NULL) and *out_len set; MIAW_E_INVAL or MIAW_E_NOMEM. */
static int b64_decode(const char *s, size_t n, uint8_t **out, size_t *out_len)
{
    size_t pad = 0;
    while (n > 0 && s[n - 1] == '=' && pad < 2) {
        n--;
        pad++;
    }
    if (n % 4 == 1 || (pad && (n % 4 == 0 || n % 4 + pad != 4))) return MIAW_E_INVAL;
    size_t olen = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    uint8_t *b = malloc(olen ? olen : 1), *p = b;
    if (!b) return MIAW_E_NOMEM;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_digit((unsigned char)s[i]);
        if (v < 0) {
            free(b);
            return MIAW_E_INVAL;
        }
        acc = (acc << 6 | (uint32_t)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            *p++ = (uint8_t)(acc >> bits);
        }
    }
    *out = b;
    *out_len = (size_t)(p - b);
    return MIAW_OK;
}

/* ------------------------------------------------------------------ node -> JSON */

/* a server-only JID ("@s.whatsapp.net" in miaw_jid_format's form) is written bare, as
 * WhatsApp names servers and as the input side accepts it */
static json_t *jid_json(const char *s, size_t n)
{
    if (n > 1 && s[0] == '@') s++, n--;
    json_t *o = json_object(), *v = str_lossy(s, n);
    if (!o || !v || json_object_set_new_nocheck(o, "jid", v)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *b64_obj(const uint8_t *d, size_t n)
{
    json_t *o = json_object(), *v = b64_json(d, n);
    if (!o || !v || json_object_set_new_nocheck(o, "b64", v)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Set o[key] = v (stolen); the key repaired to UTF-8. -1 on failure (v released). */
static int set_lossy(json_t *o, const char *key, json_t *v)
{
    if (!v) return -1;
    size_t kl = strlen(key);
    if (utf8_valid((const uint8_t *)key, kl)) return json_object_set_new_nocheck(o, key, v);
    json_t *k = str_lossy(key, kl);
    int rc = k ? json_object_set_new_nocheck(o, json_string_value(k), v) : (json_decref(v), -1);
    json_decref(k);
    return rc;
}

json_t *miaw_node_to_json(const miaw_node *n)
{
    if (!n) return NULL;
    json_t *o = json_object(), *attrs = json_object();
    if (!o || !attrs || set_lossy(o, "tag", str_lossy(n->tag, strlen(n->tag))) ||
        json_object_set_nocheck(o, "attrs", attrs))
        goto fail;
    for (uint32_t i = 0; i < n->nattrs; i++) {
        const miaw_attr *a = &n->attrs[i];
        json_t *v;
        if (a->jid)
            v = jid_json(a->str, a->len);
        else if (utf8_valid((const uint8_t *)a->str, a->len))
            v = json_stringn_nocheck(a->str, a->len);
        else
            v = b64_obj((const uint8_t *)a->str, a->len);
        if (set_lossy(attrs, a->key, v)) goto fail;
    }
    json_t *c = NULL;
    switch (n->content_type) {
    case MIAW_CONTENT_LIST:
        if (!(c = json_array())) goto fail;
        for (uint32_t i = 0; i < n->nchildren; i++) {
            if (json_array_append_new(c, miaw_node_to_json(n->children[i]))) {
                json_decref(c);
                goto fail;
            }
        }
        break;
    case MIAW_CONTENT_BYTES:
        c = b64_obj(n->data, n->data_len);
        break;
    case MIAW_CONTENT_STRING:
        if (utf8_valid(n->data, n->data_len))
            c = json_stringn_nocheck((const char *)n->data, n->data_len);
        else
            c = b64_obj(n->data, n->data_len);
        break;
    case MIAW_CONTENT_JID:
        c = jid_json((const char *)n->data, n->data_len);
        break;
    default:
        break;
    }
    if (n->content_type != MIAW_CONTENT_NONE && (!c || json_object_set_new_nocheck(o, "content", c)))
        goto fail;
    json_decref(attrs);
    return o;
fail:
    json_decref(attrs);
    json_decref(o);
    return NULL;
}

/* ------------------------------------------------------------------ JSON -> node */

typedef struct {
    char *err;
    size_t errlen;
    size_t len;     /* of path */
    char path[512]; /* JSON path of the value being read ("" = the root) */
} jctx;

/* Append a path segment: ".key" ("key" at the root) or "[i]". Returns the old length
 * for path_pop. A path too long for the buffer is cut (the message stays readable). */
static size_t path_push(jctx *c, const char *key, long idx)
{
    size_t old = c->len;
    int w;
    if (key)
        w = snprintf(c->path + c->len, sizeof c->path - c->len, "%s%s", c->len ? "." : "", key);
    else
        w = snprintf(c->path + c->len, sizeof c->path - c->len, "[%ld]", idx);
    if (w > 0) c->len += (size_t)w;
    if (c->len >= sizeof c->path) c->len = sizeof c->path - 1;
    return old;
}

static void path_pop(jctx *c, size_t old)
{
    c->len = old;
    c->path[old] = '\0';
}

__attribute__((format(printf, 2, 3))) static int fail(jctx *c, const char *fmt, ...)
{
    if (c->err && c->errlen) {
        int w = snprintf(c->err, c->errlen, "%s: ", c->len ? c->path : "(root)");
        if (w >= 0 && (size_t)w < c->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(c->err + w, c->errlen - (size_t)w, fmt, ap);
            va_end(ap);
        }
    }
    return MIAW_E_INVAL;
}

/* A fault under key (a child of the current path). */
__attribute__((format(printf, 3, 4))) static int fail_at(jctx *c, const char *key, const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t old = path_push(c, key, 0);
    int rc = fail(c, "%s", msg);
    path_pop(c, old);
    return rc;
}

/* A node-building call failed: memory, or (should not happen) a value it refused. */
static int build_rc(jctx *c, int rc, const char *what)
{
    if (rc == MIAW_E_NOMEM) {
        if (c->err && c->errlen) snprintf(c->err, c->errlen, "out of memory");
        return MIAW_E_NOMEM;
    }
    return fail(c, "%s refused", what);
}

/* json_object_foreach for a const object, with each key's length (keys may hold NULs) */
#define JSON_FOREACH_CONST(obj, key, klen, val)                                             \
    for (void *it_ = json_object_iter((json_t *)(obj));                                     \
         it_ && ((key) = json_object_iter_key(it_), (klen) = json_object_iter_key_len(it_), \
                (val) = json_object_iter_value(it_), 1);                                    \
         it_ = json_object_iter_next((json_t *)(obj), it_))

/* A JID string: miaw_jid_parse's form, or a bare server ("s.whatsapp.net", as whatsmeow
 * writes server JIDs) meaning "@s.whatsapp.net". 0 or MIAW_E_INVAL. */
static int parse_jid(const json_t *v, miaw_jid *j)
{
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (!n || memchr(s, '@', n)) return miaw_jid_parsen(j, s, n);
    char buf[MIAW_JID_SERVER_MAX + 2];
    if (n > MIAW_JID_SERVER_MAX) return MIAW_E_INVAL;
    buf[0] = '@';
    memcpy(buf + 1, s, n);
    return miaw_jid_parsen(j, buf, n + 1);
}

static int set_attr(jctx *c, miaw_node *n, const char *key, const json_t *v)
{
    char num[32];
    int rc;
    if (json_is_string(v)) {
        if (json_string_length(v) > UINT32_MAX) return fail(c, "too long");
        rc = miaw_node_set_attrn(n, key, json_string_value(v), json_string_length(v));
    } else if (json_is_integer(v)) {
        int w = snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        rc = miaw_node_set_attrn(n, key, num, (size_t)w);
    } else if (json_is_boolean(v)) {
        rc = miaw_node_set_attr(n, key, json_is_true(v) ? "true" : "false");
    } else if (json_is_object(v) && json_object_size(v) == 1 && json_object_get(v, "jid")) {
        const json_t *s = json_object_get(v, "jid");
        miaw_jid jid;
        if (!json_is_string(s)) return fail_at(c, "jid", "expected a JID string");
        if (parse_jid(s, &jid)) return fail(c, "not a valid JID");
        rc = miaw_node_set_jid(n, key, &jid);
    } else if (json_is_object(v) && json_object_size(v) == 1 && json_object_get(v, "b64")) {
        const json_t *s = json_object_get(v, "b64");
        uint8_t *b;
        size_t bl;
        if (!json_is_string(s)) return fail_at(c, "b64", "expected a base64 string");
        rc = b64_decode(json_string_value(s), json_string_length(s), &b, &bl);
        if (rc == MIAW_E_INVAL) return fail(c, "not valid base64");
        if (rc) return build_rc(c, rc, "value");
        if (bl > UINT32_MAX) {
            free(b);
            return fail_at(c, "b64", "too long");
        }
        rc = miaw_node_set_attrn(n, key, (const char *)b, bl);
        free(b);
    } else {
        return fail(c, "expected a string, an integer, a boolean, {\"jid\": ...} or {\"b64\": ...}");
    }
    return rc ? build_rc(c, rc, "attribute") : MIAW_OK;
}

static int read_attrs(jctx *c, miaw_node *n, const json_t *attrs)
{
    if (!attrs || json_is_null(attrs)) return MIAW_OK;
    size_t old = path_push(c, "attrs", 0);
    int rc = MIAW_OK;
    if (!json_is_object(attrs)) {
        rc = fail(c, "expected an object");
    } else if (json_object_size(attrs) > MIAW_NODE_JSON_MAX_ATTRS) {
        rc = fail(c, "more than %d attributes", MIAW_NODE_JSON_MAX_ATTRS);
    } else {
        const char *key;
        size_t klen;
        const json_t *v;
        JSON_FOREACH_CONST(attrs, key, klen, v)
        {
            if (!klen) {
                rc = fail(c, "an attribute key is empty");
                break;
            }
            if (strlen(key) != klen) {
                rc = fail(c, "an attribute key contains a NUL character");
                break;
            }
            size_t k = path_push(c, key, 0);
            rc = set_attr(c, n, key, v);
            path_pop(c, k);
            if (rc) break;
        }
    }
    path_pop(c, old);
    return rc;
}

static int build(jctx *c, const json_t *j, miaw_node *parent, int depth, miaw_node **out);

static int read_content(jctx *c, miaw_node *n, const json_t *v, int depth)
{
    if (!v || json_is_null(v)) return MIAW_OK;
    size_t old = path_push(c, "content", 0);
    int rc;
    if (json_is_string(v)) {
        if (json_string_length(v) > UINT32_MAX)
            rc = fail(c, "too long");
        else if ((rc = miaw_node_set_stringn(n, json_string_value(v), json_string_length(v))))
            rc = build_rc(c, rc, "string");
    } else if (json_is_array(v)) {
        size_t cnt = json_array_size(v);
        rc = MIAW_OK;
        if (cnt > MIAW_NODE_JSON_MAX_CHILDREN) {
            rc = fail(c, "more than %d children", MIAW_NODE_JSON_MAX_CHILDREN);
        } else {
            miaw_node_set_empty_list(n);
            for (size_t i = 0; i < cnt && !rc; i++) {
                size_t k = path_push(c, NULL, (long)i);
                miaw_node *child;
                rc = build(c, json_array_get(v, i), n, depth + 1, &child);
                path_pop(c, k);
            }
        }
    } else if (json_is_object(v) && json_object_size(v) == 1 && json_object_get(v, "b64")) {
        const json_t *s = json_object_get(v, "b64");
        uint8_t *b;
        size_t bl;
        if (!json_is_string(s)) {
            rc = fail_at(c, "b64", "expected a base64 string");
        } else if ((rc = b64_decode(json_string_value(s), json_string_length(s), &b, &bl))) {
            rc = rc == MIAW_E_INVAL ? fail(c, "not valid base64") : build_rc(c, rc, "bytes");
        } else {
            rc = bl > UINT32_MAX ? fail_at(c, "b64", "too long") : miaw_node_set_bytes(n, b, bl);
            if (rc == MIAW_E_NOMEM) rc = build_rc(c, rc, "bytes");
            free(b);
        }
    } else if (json_is_object(v) && json_object_size(v) == 1 && json_object_get(v, "jid")) {
        const json_t *s = json_object_get(v, "jid");
        miaw_jid jid;
        if (!json_is_string(s))
            rc = fail_at(c, "jid", "expected a JID string");
        else if (parse_jid(s, &jid))
            rc = fail(c, "not a valid JID");
        else if ((rc = miaw_node_set_content_jid(n, &jid)))
            rc = build_rc(c, rc, "JID");
    } else {
        rc = fail(c, "expected a string, an array of nodes, {\"b64\": ...} or {\"jid\": ...}");
    }
    path_pop(c, old);
    return rc;
}

/* Read node j; a new root when parent is NULL (*out set as soon as it exists, so the
 * caller frees it on failure), else a new last child of parent. */
static int build(jctx *c, const json_t *j, miaw_node *parent, int depth, miaw_node **out)
{
    if (!json_is_object(j)) return fail(c, "expected a node object");
    if (depth > MIAW_NODE_JSON_MAX_DEPTH)
        return fail(c, "nodes nested deeper than %d levels", MIAW_NODE_JSON_MAX_DEPTH);
    const char *key;
    size_t klen;
    const json_t *v;
    JSON_FOREACH_CONST(j, key, klen, v)
    {
        (void)v;
        if (strlen(key) != klen ||
            (strcmp(key, "tag") && strcmp(key, "attrs") && strcmp(key, "content")))
            return fail_at(c, key, "unknown key (a node has tag, attrs and content)");
    }
    const json_t *tag = json_object_get(j, "tag");
    if (!tag) return fail_at(c, "tag", "missing");
    if (!json_is_string(tag)) return fail_at(c, "tag", "expected a string");
    const char *t = json_string_value(tag);
    if (!json_string_length(tag)) return fail_at(c, "tag", "empty");
    if (strlen(t) != json_string_length(tag)) return fail_at(c, "tag", "contains a NUL character");
    miaw_node *n = parent ? miaw_node_add(parent, t) : miaw_node_new(t);
    if (!n) return build_rc(c, MIAW_E_NOMEM, "node");
    *out = n;
    const json_t *attrs = json_object_get(j, "attrs");
    int rc = read_attrs(c, n, attrs);
    if (!rc) rc = read_content(c, n, json_object_get(j, "content"), depth);
    return rc;
}

int miaw_node_from_json(const json_t *j, miaw_node **out, char *err, size_t errlen)
{
    jctx c = {.err = err, .errlen = errlen};
    if (err && errlen) err[0] = '\0';
    if (!out) return MIAW_E_INVAL;
    *out = NULL;
    miaw_node *root = NULL;
    int rc = build(&c, j, NULL, 0, &root);
    if (rc) {
        miaw_node_free(root);
        return rc;
    }
    *out = root;
    return MIAW_OK;
}
