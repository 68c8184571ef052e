/* miaw/node_util.h - reading and making the JSON nodes the host hands plugins and takes
 * from them (IQ replies, subscribed stanzas, stanza_send; the shape is in sdk/README.md,
 * "JSON nodes": {"tag", "attrs": {name: string | {"jid": ...}}, "content": string |
 * {"b64": ...} | [children]}). Header-only (static inline, jansson and libc only), so
 * plugins need no extra library and the host's ABI is not involved.
 *
 * Ownership: strings and nodes returned as const are borrowed from the node (valid while
 * it is); miaw_jnode_bytes returns a malloc'd buffer (free it); miaw_jnode_text and
 * miaw_jnode_b64 return new references. */
#ifndef MIAW_NODE_UTIL_H
#define MIAW_NODE_UTIL_H
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* An attribute's text: a plain string, or the "jid" of a JID attribute. NULL when absent. */
static inline const char *miaw_jnode_attr(const json_t *node, const char *key)
{
    const json_t *v = json_object_get(json_object_get(node, "attrs"), key);
    if (json_is_object(v)) v = json_object_get(v, "jid");
    return json_string_value(v);
}

/* The first child with this tag, or NULL (also when the content is not a list). */
static inline const json_t *miaw_jnode_child(const json_t *node, const char *tag)
{
    const json_t *c = json_object_get(node, "content");
    size_t i;
    const json_t *k;
    if (!json_is_array(c)) return NULL;
    json_array_foreach(c, i, k) {
        const char *t = json_string_value(json_object_get(k, "tag"));
        if (t && !strcmp(t, tag)) return k;
    }
    return NULL;
}

static inline int miaw__b64v(int ch)
{
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == '+' || ch == '-') return 62;
    if (ch == '/' || ch == '_') return 63;
    return -1;
}

/* The content's bytes (a string as it is, {"b64"} decoded; padding and stray characters
 * skipped), malloc'd with a NUL after them; NULL when the content is neither (or no
 * memory). *len gets the length. */
static inline uint8_t *miaw_jnode_bytes(const json_t *node, size_t *len)
{
    const json_t *c = json_object_get(node, "content");
    *len = 0;
    if (json_is_string(c)) {
        size_t n = json_string_length(c);
        uint8_t *b = (uint8_t *)malloc(n + 1);
        if (!b) return NULL;
        memcpy(b, json_string_value(c), n);
        b[n] = 0;
        *len = n;
        return b;
    }
    const char *s = json_string_value(json_object_get(c, "b64"));
    if (!s) return NULL;
    size_t n = strlen(s), o = 0;
    uint8_t *out = (uint8_t *)malloc(n * 3 / 4 + 4);
    if (!out) return NULL;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = miaw__b64v((unsigned char)s[i]);
        if (v < 0) continue;
        acc = acc << 6 | (unsigned)v;
        if ((bits += 6) >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits & 0xff);
        }
    }
    out[o] = 0;
    *len = o;
    return out;
}

/* The content as a JSON string (new reference), or NULL when there is none or the bytes
 * are not UTF-8. */
static inline json_t *miaw_jnode_text(const json_t *node)
{
    size_t n;
    uint8_t *b = miaw_jnode_bytes(node, &n);
    if (!b) return NULL;
    json_t *r = json_stringn((const char *)b, n);
    free(b);
    return r;
}

/* {"b64": base64 of the bytes}: binary content for a node a plugin sends (new reference). */
static inline json_t *miaw_jnode_b64(const void *data, size_t n)
{
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const uint8_t *b = (const uint8_t *)data;
    char *s = (char *)malloc(4 * ((n + 2) / 3) + 1);
    if (!s) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)b[i] << 16 | (i + 1 < n ? (uint32_t)b[i + 1] << 8 : 0) | (i + 2 < n ? b[i + 2] : 0);
        s[o++] = A[v >> 18 & 63];
        s[o++] = A[v >> 12 & 63];
        s[o++] = i + 1 < n ? A[v >> 6 & 63] : '=';
        s[o++] = i + 2 < n ? A[v & 63] : '=';
    }
    s[o] = 0;
    json_t *r = json_pack("{s:s}", "b64", s);
    free(s);
    return r;
}
#endif
