/* core/wa/node_decode.c - the bounds-checked binary node decoder (never reads outside its
 * input; depth and size limits) and the zlib inflate of compressed frames. Owns the arena
 * of a tree being decoded until it is handed to the caller as a root. */
#include <miaw/status.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "node.h"
#include "node_int.h"
#include "tokens.h"

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

static void sval_set(sval *out, const char *s, size_t len)
{
    out->s = s;
    out->len = len;
    out->jid = NULL;
}

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
    char *s = miaw_arena_strndup(r->a, r->p + r->pos, n);
    if (!s) FAIL(r, MIAW_E_NOMEM);
    r->pos += n;
    sval_set(out, s, n);
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
    char *s = miaw_arena_alloc(r->a, nbytes * 2 + 1);
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
    sval_set(out, s, k);
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
    miaw_jid *j = miaw_arena_alloc(r->a, sizeof *j);
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
    default: /* FB, or INTEROP: FB's fields plus the integrator */
        j->kind = tag == MIAW_TAG_FB_JID ? MIAW_JID_FB : MIAW_JID_INTEROP;
        if (rd_jid_part(r, j->user, sizeof j->user, depth, 1) || rd_int(r, 2, &v)) return -1;
        j->device = (uint16_t)v;
        if (j->kind == MIAW_JID_INTEROP) {
            if (rd_int(r, 2, &v)) return -1;
            j->integrator = (uint16_t)v;
        }
        if (rd_jid_part(r, j->server, sizeof j->server, depth, 0)) return -1;
        break;
    }
    char buf[MIAW_JID_STR_MAX];
    int n = miaw_jid_format(j, buf, sizeof buf);
    if (n < 0) FAIL(r, MIAW_E_INVAL);
    out->s = miaw_arena_strndup(r->a, buf, (size_t)n);
    if (!out->s) FAIL(r, MIAW_E_NOMEM);
    out->len = (size_t)n;
    out->jid = j;
    return 0;
}

static int rd_string(rbuf *r, unsigned tag, int depth, sval *out)
{
    if (tag >= 1 && tag < MIAW_TOKEN_SINGLE_COUNT) {
        const char *tok = miaw_token_single(tag);
        sval_set(out, tok, strlen(tok));
        return 0;
    }
    size_t n;
    unsigned idx;
    switch (tag) {
    case MIAW_TAG_LIST_EMPTY:
        sval_set(out, "", 0);
        return 0;
    case MIAW_TAG_DICTIONARY_0:
    case MIAW_TAG_DICTIONARY_0 + 1:
    case MIAW_TAG_DICTIONARY_0 + 2:
    case MIAW_TAG_DICTIONARY_0 + 3: {
        if (rd_byte(r, &idx)) return -1;
        const char *tok = miaw_token_double(tag - MIAW_TAG_DICTIONARY_0, idx);
        if (!tok) FAIL(r, MIAW_E_INVAL);
        sval_set(out, tok, strlen(tok));
        return 0;
    }
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

/* FAIL for the functions that return a node (or an array) instead of -1. */
static void *rd_fail(rbuf *r, int code)
{
    if (!r->err) r->err = code;
    return NULL;
}

/* An arena array of count entries of size bytes each, once the input has room for them
 * (each entry takes at least two bytes on the wire); NULL with r->err set otherwise. */
static void *rd_array(rbuf *r, size_t count, size_t size)
{
    if (count * 2 > r->len - r->pos) return rd_fail(r, MIAW_E_INVAL);
    void *p = miaw_arena_alloc(r->a, count * size);
    return p ? p : rd_fail(r, MIAW_E_NOMEM);
}

static miaw_node *rd_node(rbuf *r, int depth)
{
    if (depth > MIAW_NODE_MAX_DEPTH) return rd_fail(r, MIAW_E_INVAL);
    unsigned tag;
    size_t size;
    sval t;
    if (rd_byte(r, &tag) || rd_list_size(r, tag, &size)) return NULL;
    if (size == 0 || rd_plain(r, &t) || t.len == 0) return rd_fail(r, MIAW_E_INVAL);
    miaw_node *n = miaw_arena_alloc(r->a, sizeof *n);
    if (!n) return rd_fail(r, MIAW_E_NOMEM);
    memset(n, 0, sizeof *n);
    n->arena = r->a;
    n->tag = t.s;
    size_t nattrs = (size - 1) / 2;
    if (nattrs) {
        n->attrs = rd_array(r, nattrs, sizeof *n->attrs);
        if (!n->attrs) return NULL;
        n->attrs_cap = (uint32_t)nattrs;
        for (size_t i = 0; i < nattrs; i++) {
            sval k, v;
            if (rd_plain(r, &k) || rd_byte(r, &tag) || rd_string(r, tag, 0, &v)) return NULL;
            if (v.len > UINT32_MAX) return rd_fail(r, MIAW_E_INVAL);
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
            n->children = rd_array(r, cnt, sizeof *n->children);
            if (!n->children) return NULL;
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
    rbuf r = {.p = buf, .len = len, .a = miaw_arena_new()};
    if (!r.a) return MIAW_E_NOMEM;
    miaw_node *n = rd_node(&r, 0);
    if (n && r.pos != r.len) r.err = MIAW_E_INVAL; /* trailing bytes */
    if (!n || r.err) {
        miaw_arena_free(r.a);
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
