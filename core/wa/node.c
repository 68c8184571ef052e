/* core/wa/node.c - the binary node tree (arena-backed), its building/reading API, the
 * encoder and the bounds-checked decoder (with zlib inflate of compressed frames). Owns
 * every tree's arena; a tree is freed whole from its root. Text form: nodetext.c. */
#include "node.h"

#include <miaw/plugin.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "tokens.h"

/* ------------------------------------------------------------------ arena */
typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} arena_block;

struct miaw_arena {
    arena_block *head;
    size_t next_cap;
};

#define ARENA_FIRST 1024
#define ARENA_MAX_BLOCK (64 * 1024)

static struct miaw_arena *arena_new(void)
{
    struct miaw_arena *a = calloc(1, sizeof *a);
    if (a) a->next_cap = ARENA_FIRST;
    return a;
}

static void arena_free(struct miaw_arena *a)
{
    if (!a) return;
    for (arena_block *b = a->head, *n; b; b = n) {
        n = b->next;
        free(b);
    }
    free(a);
}

static void *arena_alloc(struct miaw_arena *a, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    if (size == 0) size = 16;
    arena_block *h = a->head;
    if (h && h->cap - h->used >= size) {
        void *p = h->data + h->used;
        h->used += size;
        return p;
    }
    if (size > a->next_cap / 4 && h) { /* big: a block of its own, behind the head */
        arena_block *b = malloc(sizeof *b + size);
        if (!b) return NULL;
        b->cap = b->used = size;
        b->next = h->next;
        h->next = b;
        return b->data;
    }
    size_t cap = a->next_cap;
    while (cap < size) cap *= 2;
    arena_block *b = malloc(sizeof *b + cap);
    if (!b) return NULL;
    b->cap = cap;
    b->used = size;
    b->next = h;
    a->head = b;
    if (a->next_cap < ARENA_MAX_BLOCK) a->next_cap *= 2;
    return b->data;
}

static char *arena_strndup(struct miaw_arena *a, const void *s, size_t len)
{
    if (len > SIZE_MAX - 1) return NULL;
    char *p = arena_alloc(a, len + 1);
    if (!p) return NULL;
    if (len) memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

/* ------------------------------------------------------------------ building */
static miaw_node *node_alloc(struct miaw_arena *a, const char *tag, size_t taglen)
{
    miaw_node *n = arena_alloc(a, sizeof *n);
    if (!n) return NULL;
    memset(n, 0, sizeof *n);
    n->arena = a;
    n->tag = arena_strndup(a, tag, taglen);
    return n->tag ? n : NULL;
}

miaw_node *miaw_node_new(const char *tag)
{
    if (!tag || !*tag) return NULL;
    struct miaw_arena *a = arena_new();
    if (!a) return NULL;
    miaw_node *n = node_alloc(a, tag, strlen(tag));
    if (!n) arena_free(a);
    return n;
}

void miaw_node_free(miaw_node *root)
{
    if (root && !root->parent) arena_free(root->arena);
}

static int children_reserve(miaw_node *n, uint32_t want)
{
    if (want <= n->children_cap) return 0;
    uint32_t cap = n->children_cap ? n->children_cap * 2 : 4;
    while (cap < want) cap *= 2;
    miaw_node **c = arena_alloc(n->arena, (size_t)cap * sizeof *c);
    if (!c) return MIAW_E_NOMEM;
    if (n->nchildren) memcpy(c, n->children, n->nchildren * sizeof *c);
    n->children = c;
    n->children_cap = cap;
    return 0;
}

static void drop_content(miaw_node *n)
{
    n->content_type = MIAW_CONTENT_NONE;
    n->nchildren = 0;
    n->data = NULL;
    n->data_len = 0;
    n->jid = NULL;
}

static int append_child(miaw_node *parent, miaw_node *c)
{
    if (parent->content_type != MIAW_CONTENT_LIST) {
        drop_content(parent);
        parent->content_type = MIAW_CONTENT_LIST;
    }
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
        miaw_attr *na = arena_alloc(n->arena, cap * sizeof *na);
        if (!na) return NULL;
        if (n->nattrs) memcpy(na, n->attrs, n->nattrs * sizeof *na);
        n->attrs = na;
        n->attrs_cap = cap;
    }
    miaw_attr *a = &n->attrs[n->nattrs];
    a->key = arena_strndup(n->arena, key, klen);
    if (!a->key) return NULL;
    a->str = "";
    a->len = 0;
    a->jid = NULL;
    n->nattrs++;
    return a;
}

int miaw_node_set_attrn(miaw_node *n, const char *key, const char *value, size_t len)
{
    if (!n || !key || !*key || (!value && len) || len > UINT32_MAX) return MIAW_E_INVAL;
    char *v = arena_strndup(n->arena, value ? value : "", len);
    if (!v) return MIAW_E_NOMEM;
    miaw_attr *a = attr_slot(n, key, strlen(key));
    if (!a) return MIAW_E_NOMEM;
    a->str = v;
    a->len = (uint32_t)len;
    a->jid = NULL;
    return 0;
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

/* An arena copy of jid with its string form; NULL on failure. */
static miaw_jid *jid_copy(struct miaw_arena *a, const miaw_jid *jid, const char **str,
                          uint32_t *len)
{
    char buf[MIAW_JID_STR_MAX];
    int n = miaw_jid_format(jid, buf, sizeof buf);
    if (n < 0) return NULL;
    miaw_jid *j = arena_alloc(a, sizeof *j);
    char *s = arena_strndup(a, buf, (size_t)n);
    if (!j || !s) return NULL;
    *j = *jid;
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
    miaw_attr *a = attr_slot(n, key, strlen(key));
    if (!a) return MIAW_E_NOMEM;
    a->str = s;
    a->len = len;
    a->jid = j;
    return 0;
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
    char *p = arena_strndup(n->arena, data ? data : "", len);
    if (!p) return MIAW_E_NOMEM;
    drop_content(n);
    n->content_type = (uint8_t)type;
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
    drop_content(n);
    n->content_type = MIAW_CONTENT_JID;
    n->jid = j;
    n->data = (const uint8_t *)s;
    n->data_len = len;
    return 0;
}

void miaw_node_set_empty_list(miaw_node *n)
{
    if (!n) return;
    drop_content(n);
    n->content_type = MIAW_CONTENT_LIST;
}

void miaw_node_clear_content(miaw_node *n)
{
    if (n) drop_content(n);
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
        n->attrs = arena_alloc(a, src->nattrs * sizeof *n->attrs);
        if (!n->attrs) return NULL;
        n->attrs_cap = src->nattrs;
        for (uint32_t i = 0; i < src->nattrs; i++) {
            const miaw_attr *s = &src->attrs[i];
            miaw_attr *d = &n->attrs[i];
            d->key = arena_strndup(a, s->key, strlen(s->key));
            d->str = arena_strndup(a, s->str, s->len);
            d->len = s->len;
            d->jid = NULL;
            if (s->jid) {
                miaw_jid *j = arena_alloc(a, sizeof *j);
                if (!j) return NULL;
                *j = *s->jid;
                d->jid = j;
            }
            if (!d->key || !d->str) return NULL;
        }
        n->nattrs = src->nattrs;
    }
    n->content_type = src->content_type;
    switch (src->content_type) {
    case MIAW_CONTENT_LIST:
        if (src->nchildren) {
            n->children = arena_alloc(a, src->nchildren * sizeof *n->children);
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
    case MIAW_CONTENT_JID: {
        miaw_jid *j = arena_alloc(a, sizeof *j);
        if (!j) return NULL;
        *j = *src->jid;
        n->jid = j;
    }
        __attribute__((fallthrough)); /* copy its string form too */
    case MIAW_CONTENT_BYTES:
    case MIAW_CONTENT_STRING:
        n->data = (const uint8_t *)arena_strndup(a, src->data, src->data_len);
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
    struct miaw_arena *a = arena_new();
    if (!a) return NULL;
    miaw_node *n = copy_into(a, src, 0);
    if (!n) {
        arena_free(a);
        return NULL;
    }
    n->parent = NULL;
    return n;
}

/* ------------------------------------------------------------------ reading */
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

/* ------------------------------------------------------------------ encoder */
typedef struct {
    uint8_t *p;
    size_t len, cap;
    int err;
} wbuf;

static int wb_reserve(wbuf *b, size_t more)
{
    if (b->err) return -1;
    if (more > SIZE_MAX / 2 - b->len) {
        b->err = MIAW_E_NOMEM;
        return -1;
    }
    if (b->len + more <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more) cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p) {
        b->err = MIAW_E_NOMEM;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static inline void wb_byte(wbuf *b, unsigned v)
{
    if (b->len < b->cap || !wb_reserve(b, 1)) b->p[b->len++] = (uint8_t)v;
}

static void wb_put(wbuf *b, const void *d, size_t n)
{
    if (n == 0 || wb_reserve(b, n)) return;
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void write_byte_length(wbuf *b, size_t n)
{
    if (n >= ((size_t)1 << 20)) {
        if ((uint64_t)n > UINT32_MAX) {
            b->err = MIAW_E_INVAL;
            return;
        }
        wb_byte(b, MIAW_TAG_BINARY_32);
        wb_byte(b, (unsigned)(n >> 24) & 0xff);
        wb_byte(b, (unsigned)(n >> 16) & 0xff);
        wb_byte(b, (unsigned)(n >> 8) & 0xff);
        wb_byte(b, (unsigned)n & 0xff);
    } else if (n >= 256) {
        wb_byte(b, MIAW_TAG_BINARY_20);
        wb_byte(b, (unsigned)(n >> 16) & 0x0f);
        wb_byte(b, (unsigned)(n >> 8) & 0xff);
        wb_byte(b, (unsigned)n & 0xff);
    } else {
        wb_byte(b, MIAW_TAG_BINARY_8);
        wb_byte(b, (unsigned)n);
    }
}

static int nibble_of(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c == '-') return 10;
    if (c == '.') return 11;
    return -1;
}

static int hex_of(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Packed form of s when every char maps (1..127 chars); 0 if it does not apply. */
static int write_packed(wbuf *b, const char *s, size_t len, int tag, int (*map)(unsigned char))
{
    if (len == 0 || len > MIAW_NODE_PACKED_MAX) return 0;
    for (size_t i = 0; i < len; i++)
        if (map((unsigned char)s[i]) < 0) return 0;
    if (wb_reserve(b, 2 + (len + 1) / 2)) return 1;
    b->p[b->len++] = (uint8_t)tag;
    b->p[b->len++] = (uint8_t)(((len + 1) / 2) | ((len & 1) ? 0x80 : 0));
    size_t i = 0;
    for (; i + 1 < len; i += 2)
        b->p[b->len++] = (uint8_t)(map((unsigned char)s[i]) << 4 | map((unsigned char)s[i + 1]));
    if (len & 1) b->p[b->len++] = (uint8_t)(map((unsigned char)s[i]) << 4 | 0x0f);
    return 1;
}

static void write_string(wbuf *b, const char *s, size_t len)
{
    if (len == 0) {
        write_byte_length(b, 0);
        return;
    }
    int dict;
    unsigned idx;
    switch (miaw_token_lookup(s, len, &dict, &idx)) {
    case 1:
        wb_byte(b, idx);
        return;
    case 2:
        wb_byte(b, MIAW_TAG_DICTIONARY_0 + (unsigned)dict);
        wb_byte(b, idx);
        return;
    default:
        break;
    }
    if (write_packed(b, s, len, MIAW_TAG_NIBBLE_8, nibble_of)) return;
    if (write_packed(b, s, len, MIAW_TAG_HEX_8, hex_of)) return;
    write_byte_length(b, len);
    wb_put(b, s, len);
}

static void write_jid(wbuf *b, const miaw_jid *j)
{
    switch (j->kind) {
    case MIAW_JID_AD:
        wb_byte(b, MIAW_TAG_AD_JID);
        wb_byte(b, miaw_jid_domain(j));
        wb_byte(b, j->device & 0xff);
        write_string(b, j->user, strlen(j->user));
        break;
    case MIAW_JID_FB:
        wb_byte(b, MIAW_TAG_FB_JID);
        write_string(b, j->user, strlen(j->user));
        wb_byte(b, j->device >> 8);
        wb_byte(b, j->device & 0xff);
        write_string(b, j->server, strlen(j->server));
        break;
    case MIAW_JID_INTEROP:
        wb_byte(b, MIAW_TAG_INTEROP_JID);
        write_string(b, j->user, strlen(j->user));
        wb_byte(b, j->device >> 8);
        wb_byte(b, j->device & 0xff);
        wb_byte(b, j->integrator >> 8);
        wb_byte(b, j->integrator & 0xff);
        write_string(b, j->server, strlen(j->server));
        break;
    default:
        wb_byte(b, MIAW_TAG_JID_PAIR);
        if (j->user[0])
            write_string(b, j->user, strlen(j->user));
        else
            wb_byte(b, MIAW_TAG_LIST_EMPTY);
        write_string(b, j->server, strlen(j->server));
        break;
    }
}

static void write_list_start(wbuf *b, size_t n)
{
    if (n == 0) {
        wb_byte(b, MIAW_TAG_LIST_EMPTY);
    } else if (n < 256) {
        wb_byte(b, MIAW_TAG_LIST_8);
        wb_byte(b, (unsigned)n);
    } else if (n <= 0xffff) {
        wb_byte(b, MIAW_TAG_LIST_16);
        wb_byte(b, (unsigned)(n >> 8));
        wb_byte(b, (unsigned)n & 0xff);
    } else {
        b->err = MIAW_E_INVAL;
    }
}

static void write_node(wbuf *b, const miaw_node *n, int depth)
{
    if (b->err) return;
    if (depth > MIAW_NODE_MAX_DEPTH || !n->tag || !n->tag[0]) {
        b->err = MIAW_E_INVAL;
        return;
    }
    size_t size = 1 + 2 * (size_t)n->nattrs + (n->content_type != MIAW_CONTENT_NONE);
    write_list_start(b, size);
    write_string(b, n->tag, strlen(n->tag));
    for (uint32_t i = 0; i < n->nattrs; i++) {
        const miaw_attr *a = &n->attrs[i];
        write_string(b, a->key, strlen(a->key));
        if (a->jid)
            write_jid(b, a->jid);
        else
            write_string(b, a->str, a->len);
    }
    switch (n->content_type) {
    case MIAW_CONTENT_LIST:
        write_list_start(b, n->nchildren);
        for (uint32_t i = 0; i < n->nchildren && !b->err; i++)
            write_node(b, n->children[i], depth + 1);
        break;
    case MIAW_CONTENT_BYTES:
        write_byte_length(b, n->data_len);
        wb_put(b, n->data, n->data_len);
        break;
    case MIAW_CONTENT_STRING:
        write_string(b, (const char *)n->data, n->data_len);
        break;
    case MIAW_CONTENT_JID:
        write_jid(b, n->jid);
        break;
    default:
        break;
    }
}

static int encode(const miaw_node *n, int flag, uint8_t **out, size_t *out_len)
{
    if (!n || !out || !out_len) return MIAW_E_INVAL;
    wbuf b = {0};
    if (flag) wb_byte(&b, 0);
    write_node(&b, n, 0);
    if (b.err) {
        free(b.p);
        return b.err;
    }
    *out = b.p;
    *out_len = b.len;
    return 0;
}

int miaw_node_encode(const miaw_node *n, uint8_t **out, size_t *out_len)
{
    return encode(n, 1, out, out_len);
}

int miaw_node_encode_raw(const miaw_node *n, uint8_t **out, size_t *out_len)
{
    return encode(n, 0, out, out_len);
}

/* ------------------------------------------------------------------ decoder */
typedef struct {
    const uint8_t *p;
    size_t len, pos;
    struct miaw_arena *a;
    int err;
} rbuf;

/* A decoded string: s (NUL-terminated, arena or static) + len, or a JID. */
typedef struct {
    const char *s;
    size_t len;
    miaw_jid *jid;
} sval;

#define FAIL(r, code) do { if (!(r)->err) (r)->err = (code); return -1; } while (0)

static int rd_byte(rbuf *r, unsigned *v)
{
    if (r->pos >= r->len) FAIL(r, MIAW_E_INVAL);
    *v = r->p[r->pos++];
    return 0;
}

static int rd_int(rbuf *r, int n, size_t *v)
{
    if (r->len - r->pos < (size_t)n) FAIL(r, MIAW_E_INVAL);
    size_t x = 0;
    for (int i = 0; i < n; i++) x = (x << 8) | r->p[r->pos++];
    *v = x;
    return 0;
}

static int rd_raw(rbuf *r, size_t n, sval *out)
{
    if (r->len - r->pos < n) FAIL(r, MIAW_E_INVAL);
    char *s = arena_strndup(r->a, r->p + r->pos, n);
    if (!s) FAIL(r, MIAW_E_NOMEM);
    r->pos += n;
    out->s = s;
    out->len = n;
    out->jid = NULL;
    return 0;
}

static int rd_binary_len(rbuf *r, unsigned tag, size_t *n)
{
    size_t v;
    switch (tag) {
    case MIAW_TAG_BINARY_8:
        if (rd_int(r, 1, &v)) return -1;
        break;
    case MIAW_TAG_BINARY_20:
        if (rd_int(r, 3, &v)) return -1;
        v &= 0xfffff;
        break;
    default: /* BINARY_32 */
        if (rd_int(r, 4, &v)) return -1;
        break;
    }
    if (v > r->len - r->pos) FAIL(r, MIAW_E_INVAL); /* checked before allocating */
    *n = v;
    return 0;
}

static int rd_packed(rbuf *r, unsigned tag, sval *out)
{
    unsigned start;
    if (rd_byte(r, &start)) return -1;
    size_t nbytes = start & 0x7f;
    if (r->len - r->pos < nbytes) FAIL(r, MIAW_E_INVAL);
    char *s = arena_alloc(r->a, nbytes * 2 + 1);
    if (!s) FAIL(r, MIAW_E_NOMEM);
    size_t k = 0;
    for (size_t i = 0; i < nbytes; i++) {
        unsigned byte = r->p[r->pos++];
        for (int h = 1; h >= 0; h--) {
            unsigned v = (byte >> (4 * h)) & 0x0f;
            char c;
            if (tag == MIAW_TAG_HEX_8) {
                c = (char)(v < 10 ? '0' + v : 'A' + v - 10);
            } else if (v <= 9) {
                c = (char)('0' + v);
            } else if (v == 10) {
                c = '-';
            } else if (v == 11) {
                c = '.';
            } else if (v == 15) {
                c = '\0';
            } else {
                FAIL(r, MIAW_E_INVAL);
            }
            s[k++] = c;
        }
    }
    if ((start & 0x80) && k > 0) k--;
    s[k] = '\0';
    out->s = s;
    out->len = k;
    out->jid = NULL;
    return 0;
}

static int rd_string(rbuf *r, unsigned tag, int depth, sval *out);

/* A JID component into dst (cap bytes): any string form; no NUL inside. */
static int rd_jid_part(rbuf *r, char *dst, size_t cap, int depth, int allow_empty)
{
    unsigned tag;
    sval v;
    if (rd_byte(r, &tag) || rd_string(r, tag, depth + 1, &v)) return -1;
    if (v.len >= cap || memchr(v.s, '\0', v.len) || (!allow_empty && v.len == 0))
        FAIL(r, MIAW_E_INVAL);
    memcpy(dst, v.s, v.len + 1);
    return 0;
}

static int rd_jid(rbuf *r, unsigned tag, int depth, sval *out)
{
    if (depth > 4) FAIL(r, MIAW_E_INVAL); /* a JID inside a JID inside ... */
    miaw_jid *j = arena_alloc(r->a, sizeof *j);
    if (!j) FAIL(r, MIAW_E_NOMEM);
    memset(j, 0, sizeof *j);
    size_t v;
    unsigned dom, dev;
    switch (tag) {
    case MIAW_TAG_JID_PAIR:
        j->kind = MIAW_JID_PAIR;
        if (rd_jid_part(r, j->user, sizeof j->user, depth, 1) ||
            rd_jid_part(r, j->server, sizeof j->server, depth, 0))
            return -1;
        break;
    case MIAW_TAG_AD_JID:
        j->kind = MIAW_JID_AD;
        if (rd_byte(r, &dom) || rd_byte(r, &dev)) return -1;
        j->device = (uint16_t)dev;
        if (rd_jid_part(r, j->user, sizeof j->user, depth, 1)) return -1;
        switch (dom) {
        case MIAW_JID_DOMAIN_WA: strcpy(j->server, MIAW_SERVER_USER); break;
        case MIAW_JID_DOMAIN_LID: strcpy(j->server, MIAW_SERVER_LID); break;
        case MIAW_JID_DOMAIN_HOSTED: strcpy(j->server, MIAW_SERVER_HOSTED); break;
        case MIAW_JID_DOMAIN_HOSTED_LID: strcpy(j->server, MIAW_SERVER_HOSTED_LID); break;
        default:
            strcpy(j->server, MIAW_SERVER_USER);
            j->agent = (uint8_t)dom;
            break;
        }
        break;
    case MIAW_TAG_FB_JID:
        j->kind = MIAW_JID_FB;
        if (rd_jid_part(r, j->user, sizeof j->user, depth, 1) || rd_int(r, 2, &v)) return -1;
        j->device = (uint16_t)v;
        if (rd_jid_part(r, j->server, sizeof j->server, depth, 0)) return -1;
        break;
    default: /* INTEROP */
        j->kind = MIAW_JID_INTEROP;
        if (rd_jid_part(r, j->user, sizeof j->user, depth, 1) || rd_int(r, 2, &v)) return -1;
        j->device = (uint16_t)v;
        if (rd_int(r, 2, &v)) return -1;
        j->integrator = (uint16_t)v;
        if (rd_jid_part(r, j->server, sizeof j->server, depth, 0)) return -1;
        break;
    }
    char buf[MIAW_JID_STR_MAX];
    int n = miaw_jid_format(j, buf, sizeof buf);
    if (n < 0) FAIL(r, MIAW_E_INVAL);
    out->s = arena_strndup(r->a, buf, (size_t)n);
    if (!out->s) FAIL(r, MIAW_E_NOMEM);
    out->len = (size_t)n;
    out->jid = j;
    return 0;
}

static int rd_string(rbuf *r, unsigned tag, int depth, sval *out)
{
    if (tag >= 1 && tag < MIAW_TOKEN_SINGLE_COUNT) {
        out->s = miaw_token_single(tag);
        out->len = strlen(out->s);
        out->jid = NULL;
        return 0;
    }
    size_t n;
    unsigned idx;
    switch (tag) {
    case MIAW_TAG_LIST_EMPTY:
        out->s = "";
        out->len = 0;
        out->jid = NULL;
        return 0;
    case MIAW_TAG_DICTIONARY_0:
    case MIAW_TAG_DICTIONARY_0 + 1:
    case MIAW_TAG_DICTIONARY_0 + 2:
    case MIAW_TAG_DICTIONARY_0 + 3:
        if (rd_byte(r, &idx)) return -1;
        out->s = miaw_token_double(tag - MIAW_TAG_DICTIONARY_0, idx);
        if (!out->s) FAIL(r, MIAW_E_INVAL);
        out->len = strlen(out->s);
        out->jid = NULL;
        return 0;
    case MIAW_TAG_BINARY_8:
    case MIAW_TAG_BINARY_20:
    case MIAW_TAG_BINARY_32:
        if (rd_binary_len(r, tag, &n)) return -1;
        return rd_raw(r, n, out);
    case MIAW_TAG_HEX_8:
    case MIAW_TAG_NIBBLE_8:
        return rd_packed(r, tag, out);
    case MIAW_TAG_JID_PAIR:
    case MIAW_TAG_AD_JID:
    case MIAW_TAG_FB_JID:
    case MIAW_TAG_INTEROP_JID:
        return rd_jid(r, tag, depth, out);
    default:
        FAIL(r, MIAW_E_INVAL);
    }
}

static int rd_list_size(rbuf *r, unsigned tag, size_t *n)
{
    switch (tag) {
    case MIAW_TAG_LIST_EMPTY:
        *n = 0;
        return 0;
    case MIAW_TAG_LIST_8:
        return rd_int(r, 1, n);
    case MIAW_TAG_LIST_16:
        return rd_int(r, 2, n);
    default:
        FAIL(r, MIAW_E_INVAL);
    }
}

/* Plain string of a tag/key position (a JID there becomes its string form). */
static int rd_plain(rbuf *r, sval *v)
{
    unsigned tag;
    if (rd_byte(r, &tag) || rd_string(r, tag, 0, v)) return -1;
    v->jid = NULL;
    return 0;
}

static miaw_node *rd_node(rbuf *r, int depth)
{
    if (depth > MIAW_NODE_MAX_DEPTH) {
        if (!r->err) r->err = MIAW_E_INVAL;
        return NULL;
    }
    unsigned tag;
    size_t size;
    sval t;
    if (rd_byte(r, &tag) || rd_list_size(r, tag, &size)) return NULL;
    if (size == 0 || rd_plain(r, &t)) {
        if (!r->err) r->err = MIAW_E_INVAL;
        return NULL;
    }
    if (t.len == 0) {
        r->err = MIAW_E_INVAL;
        return NULL;
    }
    miaw_node *n = arena_alloc(r->a, sizeof *n);
    if (!n) {
        r->err = MIAW_E_NOMEM;
        return NULL;
    }
    memset(n, 0, sizeof *n);
    n->arena = r->a;
    n->tag = t.s;
    size_t nattrs = (size - 1) / 2;
    if (nattrs) {
        if (nattrs * 2 > r->len - r->pos) { /* each pair is at least two bytes */
            r->err = MIAW_E_INVAL;
            return NULL;
        }
        n->attrs = arena_alloc(r->a, nattrs * sizeof *n->attrs);
        if (!n->attrs) {
            r->err = MIAW_E_NOMEM;
            return NULL;
        }
        n->attrs_cap = (uint32_t)nattrs;
        for (size_t i = 0; i < nattrs; i++) {
            sval k, v;
            if (rd_plain(r, &k) || rd_byte(r, &tag) || rd_string(r, tag, 0, &v)) return NULL;
            if (v.len > UINT32_MAX) {
                r->err = MIAW_E_INVAL;
                return NULL;
            }
            miaw_attr *a = &n->attrs[i];
            a->key = k.s;
            a->str = v.s;
            a->len = (uint32_t)v.len;
            a->jid = v.jid;
        }
        n->nattrs = (uint32_t)nattrs;
    }
    if (size % 2 == 1) return n;
    if (rd_byte(r, &tag)) return NULL;
    if (tag == MIAW_TAG_LIST_EMPTY || tag == MIAW_TAG_LIST_8 || tag == MIAW_TAG_LIST_16) {
        size_t cnt;
        if (rd_list_size(r, tag, &cnt)) return NULL;
        n->content_type = MIAW_CONTENT_LIST;
        if (cnt) {
            if (cnt * 2 > r->len - r->pos) { /* a node is at least two bytes */
                r->err = MIAW_E_INVAL;
                return NULL;
            }
            n->children = arena_alloc(r->a, cnt * sizeof *n->children);
            if (!n->children) {
                r->err = MIAW_E_NOMEM;
                return NULL;
            }
            n->children_cap = (uint32_t)cnt;
            for (size_t i = 0; i < cnt; i++) {
                miaw_node *c = rd_node(r, depth + 1);
                if (!c) return NULL;
                c->parent = n;
                n->children[i] = c;
            }
            n->nchildren = (uint32_t)cnt;
        }
        return n;
    }
    sval v;
    if (tag == MIAW_TAG_BINARY_8 || tag == MIAW_TAG_BINARY_20 || tag == MIAW_TAG_BINARY_32) {
        size_t len;
        if (rd_binary_len(r, tag, &len) || rd_raw(r, len, &v)) return NULL;
        n->content_type = MIAW_CONTENT_BYTES;
    } else {
        if (rd_string(r, tag, 0, &v)) return NULL;
        n->content_type = v.jid ? MIAW_CONTENT_JID : MIAW_CONTENT_STRING;
        n->jid = v.jid;
    }
    n->data = (const uint8_t *)v.s;
    n->data_len = v.len;
    return n;
}

int miaw_node_decode_raw(const uint8_t *buf, size_t len, miaw_node **out)
{
    if (!out || (!buf && len)) return MIAW_E_INVAL;
    *out = NULL;
    rbuf r = {.p = buf, .len = len, .a = arena_new()};
    if (!r.a) return MIAW_E_NOMEM;
    miaw_node *n = rd_node(&r, 0);
    if (n && r.pos != r.len) r.err = MIAW_E_INVAL; /* trailing bytes */
    if (!n || r.err) {
        arena_free(r.a);
        return r.err ? r.err : MIAW_E_INVAL;
    }
    *out = n;
    return 0;
}

static int inflate_all(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit(&zs) != Z_OK) return MIAW_E_NOMEM;
    size_t cap = len * 4 < 4096 ? 4096 : len * 4, used = 0;
    if (cap > MIAW_NODE_MAX_INFLATE) cap = MIAW_NODE_MAX_INFLATE;
    uint8_t *buf = malloc(cap);
    int rc = MIAW_E_NOMEM;
    if (!buf) goto done;
    zs.next_in = (Bytef *)in;
    for (size_t fed = 0;;) {
        if (zs.avail_in == 0 && fed < len) { /* feed in chunks: avail_in is a uInt */
            size_t chunk = len - fed > (1u << 30) ? (1u << 30) : len - fed;
            zs.next_in = (Bytef *)in + fed;
            zs.avail_in = (uInt)chunk;
            fed += chunk;
        }
        if (used == cap) {
            if (cap >= MIAW_NODE_MAX_INFLATE) {
                rc = MIAW_E_LIMIT;
                goto done;
            }
            cap = cap * 2 > MIAW_NODE_MAX_INFLATE ? MIAW_NODE_MAX_INFLATE : cap * 2;
            uint8_t *nb = realloc(buf, cap);
            if (!nb) goto done;
            buf = nb;
        }
        zs.next_out = buf + used;
        zs.avail_out = (uInt)(cap - used);
        int zr = inflate(&zs, Z_NO_FLUSH);
        used = cap - zs.avail_out;
        if (zr == Z_STREAM_END) {
            if (zs.avail_in != 0 || fed != len) { /* bytes after the zlib stream */
                rc = MIAW_E_INVAL;
                goto done;
            }
            *out = buf;
            *out_len = used;
            buf = NULL;
            rc = 0;
            goto done;
        }
        if (zr == Z_BUF_ERROR && zs.avail_in == 0 && fed == len && used < cap) {
            rc = MIAW_E_INVAL; /* truncated stream */
            goto done;
        }
        if (zr != Z_OK && zr != Z_BUF_ERROR) {
            rc = zr == Z_MEM_ERROR ? MIAW_E_NOMEM : MIAW_E_INVAL;
            goto done;
        }
    }
done:
    inflateEnd(&zs);
    free(buf);
    return rc;
}

int miaw_node_decode(const uint8_t *buf, size_t len, miaw_node **out)
{
    if (!out) return MIAW_E_INVAL;
    *out = NULL;
    if (!buf || len < 1) return MIAW_E_INVAL;
    if (!(buf[0] & MIAW_NODE_FLAG_COMPRESSED)) return miaw_node_decode_raw(buf + 1, len - 1, out);
    uint8_t *plain;
    size_t plen;
    int rc = inflate_all(buf + 1, len - 1, &plain, &plen);
    if (rc) return rc;
    rc = miaw_node_decode_raw(plain, plen, out);
    free(plain);
    return rc;
}
