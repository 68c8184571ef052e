/* core/wa/node.c - the node tree: its arena (see node_int.h) and the building API (new,
 * add, attributes, content, copy, clone, free). Owns every tree's arena; a tree is freed
 * whole from its root. Reading: node_read.c; wire form: node_encode.c and node_decode.c;
 * text form: nodetext.c. */
#include <miaw/status.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node.h"
#include "node_int.h"

/* ------------------------------------------------------------------ arena */
#define ARENA_FIRST 1024
#define ARENA_MAX_BLOCK (64 * 1024)

struct miaw_arena *miaw_arena_new(void)
{
    struct miaw_arena *a = calloc(1, sizeof *a);
    if (a) a->next_cap = ARENA_FIRST;
    return a;
}

void miaw_arena_free(struct miaw_arena *a)
{
    if (!a) return;
    for (miaw_arena_block *b = a->head, *n; b; b = n) {
        n = b->next;
        free(b);
    }
    free(a);
}

void *miaw_arena_alloc_block(struct miaw_arena *a, size_t size)
{
    miaw_arena_block *h = a->head;
    if (size > a->next_cap / 4 && h) { /* big: a block of its own, behind the head */
        miaw_arena_block *b = malloc(sizeof *b + size);
        if (!b) return NULL;
        b->cap = b->used = size;
        b->next = h->next;
        h->next = b;
        return b->data;
    }
    size_t cap = a->next_cap;
    while (cap < size) cap *= 2;
    miaw_arena_block *b = malloc(sizeof *b + cap);
    if (!b) return NULL;
    b->cap = cap;
    b->used = size;
    b->next = h;
    a->head = b;
    if (a->next_cap < ARENA_MAX_BLOCK) a->next_cap *= 2;
    return b->data;
}

char *miaw_arena_strndup(struct miaw_arena *a, const void *s, size_t len)
{
    if (len > SIZE_MAX - 1) return NULL;
    char *p = miaw_arena_alloc(a, len + 1);
    if (!p) return NULL;
    if (len) memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

/* ------------------------------------------------------------------ building */
static miaw_node *node_alloc(struct miaw_arena *a, const char *tag, size_t taglen)
{
    miaw_node *n = miaw_arena_alloc(a, sizeof *n);
    if (!n) return NULL;
    memset(n, 0, sizeof *n);
    n->arena = a;
    n->tag = miaw_arena_strndup(a, tag, taglen);
    return n->tag ? n : NULL;
}

miaw_node *miaw_node_new(const char *tag)
{
    if (!tag || !*tag) return NULL;
    struct miaw_arena *a = miaw_arena_new();
    if (!a) return NULL;
    miaw_node *n = node_alloc(a, tag, strlen(tag));
    if (!n) miaw_arena_free(a);
    return n;
}

void miaw_node_free(miaw_node *root)
{
    if (root && !root->parent) miaw_arena_free(root->arena);
}

static int children_reserve(miaw_node *n, uint32_t want)
{
    if (want <= n->children_cap) return 0;
    uint32_t cap = n->children_cap ? n->children_cap * 2 : 4;
    while (cap < want) cap *= 2;
    miaw_node **c = miaw_arena_alloc(n->arena, (size_t)cap * sizeof *c);
    if (!c) return MIAW_E_NOMEM;
    if (n->nchildren) memcpy(c, n->children, n->nchildren * sizeof *c);
    n->children = c;
    n->children_cap = cap;
    return 0;
}

/* Drop n's content (children stay in the arena) and make it of the given type. */
static void reset_content(miaw_node *n, int type)
{
    n->content_type = (uint8_t)type;
    n->nchildren = 0;
    n->data = NULL;
    n->data_len = 0;
    n->jid = NULL;
}

static int append_child(miaw_node *parent, miaw_node *c)
{
    if (parent->content_type != MIAW_CONTENT_LIST) reset_content(parent, MIAW_CONTENT_LIST);
    if (parent->nchildren >= 0xffff) return MIAW_E_LIMIT;
    if (children_reserve(parent, parent->nchildren + 1)) return MIAW_E_NOMEM;
    parent->children[parent->nchildren++] = c;
    c->parent = parent;
    return 0;
}

miaw_node *miaw_node_add(miaw_node *parent, const char *tag)
{
    if (!parent || !tag || !*tag) return NULL;
    miaw_node *c = node_alloc(parent->arena, tag, strlen(tag));
    if (!c || append_child(parent, c)) return NULL;
    return c;
}

static miaw_attr *attr_slot(miaw_node *n, const char *key, size_t klen)
{
    for (uint32_t i = 0; i < n->nattrs; i++)
        if (strlen(n->attrs[i].key) == klen && !memcmp(n->attrs[i].key, key, klen))
            return &n->attrs[i];
    if (n->nattrs >= 0x7ffe) return NULL;
    if (n->nattrs == n->attrs_cap) {
        uint32_t cap = n->attrs_cap ? n->attrs_cap * 2 : 4;
        miaw_attr *na = miaw_arena_alloc(n->arena, cap * sizeof *na);
        if (!na) return NULL;
        if (n->nattrs) memcpy(na, n->attrs, n->nattrs * sizeof *na);
        n->attrs = na;
        n->attrs_cap = cap;
    }
    miaw_attr *a = &n->attrs[n->nattrs];
    a->key = miaw_arena_strndup(n->arena, key, klen);
    if (!a->key) return NULL;
    a->str = "";
    a->len = 0;
    a->jid = NULL;
    n->nattrs++;
    return a;
}

/* Set key (replacing or appending) to a value already in n's arena. */
static int attr_put(miaw_node *n, const char *key, const char *str, uint32_t len,
                    const miaw_jid *jid)
{
    miaw_attr *a = attr_slot(n, key, strlen(key));
    if (!a) return MIAW_E_NOMEM;
    a->str = str;
    a->len = len;
    a->jid = jid;
    return 0;
}

int miaw_node_set_attrn(miaw_node *n, const char *key, const char *value, size_t len)
{
    if (!n || !key || !*key || (!value && len) || len > UINT32_MAX) return MIAW_E_INVAL;
    char *v = miaw_arena_strndup(n->arena, value ? value : "", len);
    if (!v) return MIAW_E_NOMEM;
    return attr_put(n, key, v, (uint32_t)len, NULL);
}

int miaw_node_set_attr(miaw_node *n, const char *key, const char *value)
{
    if (!value) return MIAW_E_INVAL;
    return miaw_node_set_attrn(n, key, value, strlen(value));
}

int miaw_node_set_attrf(miaw_node *n, const char *key, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (len < 0) return MIAW_E_INVAL;
    if ((size_t)len < sizeof buf) return miaw_node_set_attrn(n, key, buf, (size_t)len);
    char *big = malloc((size_t)len + 1);
    if (!big) return MIAW_E_NOMEM;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)len + 1, fmt, ap);
    va_end(ap);
    int rc = miaw_node_set_attrn(n, key, big, (size_t)len);
    free(big);
    return rc;
}

/* An arena copy of jid, or NULL. */
static miaw_jid *jid_dup(struct miaw_arena *a, const miaw_jid *jid)
{
    miaw_jid *j = miaw_arena_alloc(a, sizeof *j);
    if (j) *j = *jid;
    return j;
}

/* An arena copy of jid with its string form; NULL on failure. */
static miaw_jid *jid_copy(struct miaw_arena *a, const miaw_jid *jid, const char **str,
                          uint32_t *len)
{
    char buf[MIAW_JID_STR_MAX];
    int n = miaw_jid_format(jid, buf, sizeof buf);
    if (n < 0) return NULL;
    miaw_jid *j = jid_dup(a, jid);
    char *s = miaw_arena_strndup(a, buf, (size_t)n);
    if (!j || !s) return NULL;
    *str = s;
    *len = (uint32_t)n;
    return j;
}

static int jid_valid(const miaw_jid *j)
{
    return j && j->kind <= MIAW_JID_INTEROP && memchr(j->user, '\0', sizeof j->user) &&
           memchr(j->server, '\0', sizeof j->server) && j->server[0] &&
           (j->kind != MIAW_JID_AD || j->device <= 255);
}

int miaw_node_set_jid(miaw_node *n, const char *key, const miaw_jid *jid)
{
    if (!n || !key || !*key || !jid_valid(jid)) return MIAW_E_INVAL;
    const char *s;
    uint32_t len;
    miaw_jid *j = jid_copy(n->arena, jid, &s, &len);
    if (!j) return MIAW_E_NOMEM;
    return attr_put(n, key, s, len, j);
}

int miaw_node_set_jid_str(miaw_node *n, const char *key, const char *jid_str)
{
    miaw_jid j;
    if (miaw_jid_parse(&j, jid_str)) return MIAW_E_INVAL;
    return miaw_node_set_jid(n, key, &j);
}

int miaw_node_del_attr(miaw_node *n, const char *key)
{
    if (!n || !key) return MIAW_E_INVAL;
    for (uint32_t i = 0; i < n->nattrs; i++) {
        if (!strcmp(n->attrs[i].key, key)) {
            memmove(&n->attrs[i], &n->attrs[i + 1], (n->nattrs - i - 1) * sizeof *n->attrs);
            n->nattrs--;
            return 0;
        }
    }
    return MIAW_E_NOTFOUND;
}

static int set_data(miaw_node *n, int type, const void *data, size_t len)
{
    if (!n || (!data && len)) return MIAW_E_INVAL;
    char *p = miaw_arena_strndup(n->arena, data ? data : "", len);
    if (!p) return MIAW_E_NOMEM;
    reset_content(n, type);
    n->data = (const uint8_t *)p;
    n->data_len = len;
    return 0;
}

int miaw_node_set_bytes(miaw_node *n, const void *data, size_t len)
{
    return set_data(n, MIAW_CONTENT_BYTES, data, len);
}

int miaw_node_set_stringn(miaw_node *n, const char *s, size_t len)
{
    return set_data(n, MIAW_CONTENT_STRING, s, len);
}

int miaw_node_set_string(miaw_node *n, const char *s)
{
    if (!s) return MIAW_E_INVAL;
    return set_data(n, MIAW_CONTENT_STRING, s, strlen(s));
}

int miaw_node_set_content_jid(miaw_node *n, const miaw_jid *jid)
{
    if (!n || !jid_valid(jid)) return MIAW_E_INVAL;
    const char *s;
    uint32_t len;
    miaw_jid *j = jid_copy(n->arena, jid, &s, &len);
    if (!j) return MIAW_E_NOMEM;
    reset_content(n, MIAW_CONTENT_JID);
    n->jid = j;
    n->data = (const uint8_t *)s;
    n->data_len = len;
    return 0;
}

void miaw_node_set_empty_list(miaw_node *n)
{
    if (n) reset_content(n, MIAW_CONTENT_LIST);
}

void miaw_node_clear_content(miaw_node *n)
{
    if (n) reset_content(n, MIAW_CONTENT_NONE);
}

int miaw_node_remove_child(miaw_node *n, uint32_t i)
{
    if (!n || n->content_type != MIAW_CONTENT_LIST || i >= n->nchildren) return MIAW_E_NOTFOUND;
    n->children[i]->parent = NULL; /* detached; still freed with the arena */
    memmove(&n->children[i], &n->children[i + 1], (n->nchildren - i - 1) * sizeof *n->children);
    n->nchildren--;
    return 0;
}

/* Attribute pairs from a va_list (key, value, ..., NULL); "JID:" prefix = JID value. */
static int set_attrs_va(miaw_node *n, va_list ap)
{
    const char *k;
    while ((k = va_arg(ap, const char *))) {
        const char *v = va_arg(ap, const char *);
        if (!v) return MIAW_E_INVAL;
        int rc = strncmp(v, "JID:", 4) ? miaw_node_set_attr(n, k, v)
                                       : miaw_node_set_jid_str(n, k, v + 4);
        if (rc) return rc;
    }
    return 0;
}

miaw_node *miaw_node_newv(const char *tag, ...)
{
    miaw_node *n = miaw_node_new(tag);
    if (!n) return NULL;
    va_list ap;
    va_start(ap, tag);
    int rc = set_attrs_va(n, ap);
    va_end(ap);
    if (rc) {
        miaw_node_free(n);
        return NULL;
    }
    return n;
}

miaw_node *miaw_node_addv(miaw_node *parent, const char *tag, ...)
{
    miaw_node *n = miaw_node_add(parent, tag);
    if (!n) return NULL;
    va_list ap;
    va_start(ap, tag);
    int rc = set_attrs_va(n, ap);
    va_end(ap);
    if (rc) {
        miaw_node_remove_child(parent, parent->nchildren - 1);
        return NULL;
    }
    return n;
}

/* Deep copy of src into arena a (depth-limited like the decoder). */
static miaw_node *copy_into(struct miaw_arena *a, const miaw_node *src, int depth)
{
    if (depth > MIAW_NODE_MAX_DEPTH) return NULL;
    miaw_node *n = node_alloc(a, src->tag, strlen(src->tag));
    if (!n) return NULL;
    if (src->nattrs) {
        n->attrs = miaw_arena_alloc(a, src->nattrs * sizeof *n->attrs);
        if (!n->attrs) return NULL;
        n->attrs_cap = src->nattrs;
        for (uint32_t i = 0; i < src->nattrs; i++) {
            const miaw_attr *s = &src->attrs[i];
            miaw_attr *d = &n->attrs[i];
            d->key = miaw_arena_strndup(a, s->key, strlen(s->key));
            d->str = miaw_arena_strndup(a, s->str, s->len);
            d->len = s->len;
            d->jid = s->jid ? jid_dup(a, s->jid) : NULL;
            if (!d->key || !d->str || (s->jid && !d->jid)) return NULL;
        }
        n->nattrs = src->nattrs;
    }
    n->content_type = src->content_type;
    switch (src->content_type) {
    case MIAW_CONTENT_LIST:
        if (src->nchildren) {
            n->children = miaw_arena_alloc(a, src->nchildren * sizeof *n->children);
            if (!n->children) return NULL;
            n->children_cap = src->nchildren;
            for (uint32_t i = 0; i < src->nchildren; i++) {
                miaw_node *c = copy_into(a, src->children[i], depth + 1);
                if (!c) return NULL;
                c->parent = n;
                n->children[i] = c;
            }
            n->nchildren = src->nchildren;
        }
        break;
    case MIAW_CONTENT_JID:
        n->jid = jid_dup(a, src->jid);
        if (!n->jid) return NULL;
        __attribute__((fallthrough)); /* copy its string form too */
    case MIAW_CONTENT_BYTES:
    case MIAW_CONTENT_STRING:
        n->data = (const uint8_t *)miaw_arena_strndup(a, src->data, src->data_len);
        if (!n->data) return NULL;
        n->data_len = src->data_len;
        break;
    default:
        break;
    }
    return n;
}

miaw_node *miaw_node_add_copy(miaw_node *parent, const miaw_node *src)
{
    if (!parent || !src) return NULL;
    miaw_node *c = copy_into(parent->arena, src, 0);
    if (!c || append_child(parent, c)) return NULL;
    return c;
}

miaw_node *miaw_node_clone(const miaw_node *src)
{
    if (!src) return NULL;
    struct miaw_arena *a = miaw_arena_new();
    if (!a) return NULL;
    miaw_node *n = copy_into(a, src, 0);
    if (!n) {
        miaw_arena_free(a);
        return NULL;
    }
    n->parent = NULL;
    return n;
}

