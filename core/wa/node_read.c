/* core/wa/node_read.c - reading a node tree: attribute lookups (string, JID, number),
 * child iteration and paths, content access, and structural equality. Owns nothing: every
 * pointer it returns belongs to the tree (see node.h). */
#include <miaw/status.h>
#include <stdarg.h>
#include <string.h>

#include "node.h"

const miaw_attr *miaw_node_attr_get(const miaw_node *n, const char *key)
{
    if (!n || !key) return NULL;
    for (uint32_t i = 0; i < n->nattrs; i++)
        if (!strcmp(n->attrs[i].key, key)) return &n->attrs[i];
    return NULL;
}

const char *miaw_node_attrn(const miaw_node *n, const char *key, size_t *len)
{
    const miaw_attr *a = miaw_node_attr_get(n, key);
    if (!a) return NULL;
    if (len) *len = a->len;
    return a->str;
}

const char *miaw_node_attr(const miaw_node *n, const char *key)
{
    return miaw_node_attrn(n, key, NULL);
}

int miaw_node_attr_jid(const miaw_node *n, const char *key, miaw_jid *out)
{
    const miaw_attr *a = miaw_node_attr_get(n, key);
    if (!a) return MIAW_E_NOTFOUND;
    if (a->jid) {
        *out = *a->jid;
        return 0;
    }
    return miaw_jid_parsen(out, a->str, a->len) ? MIAW_E_INVAL : 0;
}

int miaw_node_attr_u64(const miaw_node *n, const char *key, uint64_t *out)
{
    const miaw_attr *a = miaw_node_attr_get(n, key);
    if (!a) return MIAW_E_NOTFOUND;
    if (a->jid || a->len == 0 || a->len > 20) return MIAW_E_INVAL;
    uint64_t v = 0;
    for (uint32_t i = 0; i < a->len; i++) {
        unsigned d = (unsigned)(a->str[i] - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10) return MIAW_E_INVAL;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int miaw_node_attr_is(const miaw_node *n, const char *key, const char *value)
{
    size_t len;
    const char *v = miaw_node_attrn(n, key, &len);
    return v && value && strlen(value) == len && !memcmp(v, value, len);
}

uint32_t miaw_node_count(const miaw_node *n)
{
    return n && n->content_type == MIAW_CONTENT_LIST ? n->nchildren : 0;
}

miaw_node *miaw_node_child_at(const miaw_node *n, uint32_t i)
{
    return i < miaw_node_count(n) ? n->children[i] : NULL;
}

miaw_node *miaw_node_next(const miaw_node *n, const miaw_node *after, const char *tag)
{
    uint32_t cnt = miaw_node_count(n), i = 0;
    if (after) {
        while (i < cnt && n->children[i] != after) i++;
        i++;
    }
    for (; i < cnt; i++)
        if (!tag || !strcmp(n->children[i]->tag, tag)) return n->children[i];
    return NULL;
}

miaw_node *miaw_node_child(const miaw_node *n, const char *tag)
{
    return miaw_node_next(n, NULL, tag);
}

miaw_node *miaw_node_path(const miaw_node *n, ...)
{
    va_list ap;
    va_start(ap, n);
    const char *t;
    miaw_node *cur = (miaw_node *)n;
    while (cur && (t = va_arg(ap, const char *))) cur = miaw_node_child(cur, t);
    va_end(ap);
    return cur;
}

const uint8_t *miaw_node_bytes(const miaw_node *n, size_t *len)
{
    if (!n || (n->content_type != MIAW_CONTENT_BYTES && n->content_type != MIAW_CONTENT_STRING))
        return NULL;
    if (len) *len = n->data_len;
    return n->data;
}

static int attr_equal(const miaw_attr *a, const miaw_attr *b)
{
    if (!!a->jid != !!b->jid) return 0;
    if (a->jid) return miaw_jid_equal(a->jid, b->jid);
    return a->len == b->len && !memcmp(a->str, b->str, a->len);
}

static int attr_same(const miaw_attr *a, const miaw_attr *b)
{
    return !strcmp(a->key, b->key) && attr_equal(a, b);
}

/* Same attribute multisets (same counts; duplicates of a key are possible on the wire). */
static int attrs_equal(const miaw_node *a, const miaw_node *b)
{
    uint32_t i = 0;
    while (i < a->nattrs && attr_same(&a->attrs[i], &b->attrs[i])) i++; /* same order: fast */
    for (uint32_t k = i; k < a->nattrs; k++) {
        uint32_t ca = 0, cb = 0;
        for (uint32_t m = i; m < a->nattrs; m++) {
            ca += (uint32_t)attr_same(&a->attrs[k], &a->attrs[m]);
            cb += (uint32_t)attr_same(&a->attrs[k], &b->attrs[m]);
        }
        if (ca != cb) return 0;
    }
    return 1;
}

int miaw_node_equal(const miaw_node *a, const miaw_node *b)
{
    if (!a || !b) return a == b;
    if (strcmp(a->tag, b->tag) || a->nattrs != b->nattrs || a->content_type != b->content_type)
        return 0;
    if (!attrs_equal(a, b)) return 0;
    switch (a->content_type) {
    case MIAW_CONTENT_LIST:
        if (a->nchildren != b->nchildren) return 0;
        for (uint32_t i = 0; i < a->nchildren; i++)
            if (!miaw_node_equal(a->children[i], b->children[i])) return 0;
        return 1;
    case MIAW_CONTENT_JID:
        return miaw_jid_equal(a->jid, b->jid);
    case MIAW_CONTENT_BYTES:
    case MIAW_CONTENT_STRING:
        return a->data_len == b->data_len && !memcmp(a->data, b->data, a->data_len);
    default:
        return 1;
    }
}

