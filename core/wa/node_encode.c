/* core/wa/node_encode.c - the binary node encoder: token dictionaries, packed nibble/hex
 * strings, JIDs, byte lengths and list sizes. Owns only its output buffer until it is
 * handed to the caller (malloc'd; the caller frees). */
#include <miaw/status.h>
#include <stdlib.h>
#include <string.h>

#include "node.h"
#include "tokens.h"

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

static void wb_u16(wbuf *b, unsigned v)
{
    wb_byte(b, (v >> 8) & 0xff);
    wb_byte(b, v & 0xff);
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
    case MIAW_JID_INTEROP: /* INTEROP: FB's fields plus the integrator */
        wb_byte(b, j->kind == MIAW_JID_FB ? MIAW_TAG_FB_JID : MIAW_TAG_INTEROP_JID);
        write_string(b, j->user, strlen(j->user));
        wb_u16(b, j->device);
        if (j->kind == MIAW_JID_INTEROP) wb_u16(b, j->integrator);
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
        wb_u16(b, (unsigned)n);
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

