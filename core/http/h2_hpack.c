/* core/http/h2_hpack.c - the HTTP/2 response header block without the request id in the
 * HPACK dynamic table. Owns the pointer to h2o's own encoder and the request id header's
 * encoded name (both set once, by miaw_http_hpack_init).
 *
 * h2o 2.2.5 encodes every response header that is not already in the connection's HPACK
 * dynamic table as "literal with incremental indexing": it is added to the table. The
 * request id (X-Request-Id) differs in every answer, so each answer added an entry that is
 * never used again (two mallocs, evicting the oldest entry and its two frees, the Huffman
 * coding of the value) and the table filled with them (h2o keeps at most 32 entries): the
 * lookup of every later header walked past them, comparing names and values, and the
 * constant headers (content-type, cache-control, server) were evicted and sent again as
 * literals every few dozen answers. That was most of what an h2 answer cost miaw beyond an
 * HTTP/1.1 one (callgrind: ~3,700 instructions of the ~4,000). h2o 2.2.5 has no per-header
 * "do not index" flag (later versions do), so miaw replaces h2o's exported encoder
 * function, which libh2o calls through its PLT, with this one: it takes the request id out
 * of the header list, lets h2o's encoder (found with dlsym RTLD_NEXT) write the rest, puts
 * the header back and appends it to the block as "literal without indexing" (RFC 7541
 * 6.2.2; the value not Huffman-coded), which leaves the table alone, so it stays in step with the peer's. When the block
 * is one HEADERS frame that has room, the field goes into it; else a CONTINUATION frame
 * carries it (RFC 9113 6.10). Any other response goes to h2o's encoder untouched. */
#include "http/http_int.h"

#include <dlfcn.h>
#include <h2o.h>
#include <stdlib.h>
#include <string.h>

/* from h2o 2.2.5's h2o/http2_internal.h, which is installed but cannot be included (it
 * needs khash.h, which is not): the table stays opaque here, the rest is as declared there */
typedef struct st_h2o_hpack_header_table_t h2o_hpack_header_table_t;
size_t h2o_hpack_encode_string(uint8_t *dst, const char *s, size_t len);
uint8_t *h2o_http2_encode_frame_header(uint8_t *dst, size_t length, uint8_t type, uint8_t flags, int32_t stream_id);
void h2o_hpack_flatten_response(h2o_buffer_t **buf, h2o_hpack_header_table_t *header_table, uint32_t stream_id,
                                size_t max_frame_size, h2o_res_t *res, h2o_timestamp_t *ts, const h2o_iovec_t *server_name,
                                size_t content_length);
#define H2O_HTTP2_FRAME_HEADER_SIZE 9
#define H2O_HTTP2_FRAME_TYPE_CONTINUATION 9
#define H2O_HTTP2_FRAME_FLAG_END_HEADERS 0x4

typedef void (*flatten_fn)(h2o_buffer_t **buf, h2o_hpack_header_table_t *header_table, uint32_t stream_id,
                           size_t max_frame_size, h2o_res_t *res, h2o_timestamp_t *ts, const h2o_iovec_t *server_name,
                           size_t content_length);

static flatten_fn g_real;
static uint8_t g_name[32]; /* 0x00 (literal without indexing, new name), then the encoded name */
static size_t g_name_len;

#define RID_NAME "x-request-id"
#define RID_VALUE_MAX 128 /* miaw's ids are at most 64 bytes; longer values go to h2o as they are */
_Static_assert(RID_VALUE_MAX - 127 < 128, "the value's length takes at most two bytes");

int miaw_http_hpack_init(void)
{
    if (!g_real) g_real = (flatten_fn)dlsym(RTLD_NEXT, "h2o_hpack_flatten_response");
    if (!g_name_len) {
        g_name[0] = 0x00;
        g_name_len = 1 + h2o_hpack_encode_string(g_name + 1, RID_NAME, sizeof RID_NAME - 1);
    }
    return g_real ? 0 : -1;
}

/* the request id's index in the response headers, or -1 */
static ssize_t rid_index(const h2o_res_t *res)
{
    for (size_t i = 0; i < res->headers.size; i++) {
        const h2o_iovec_t *n = res->headers.entries[i].name;
        if (n->len == sizeof RID_NAME - 1 && memcmp(n->base, RID_NAME, sizeof RID_NAME - 1) == 0) return (ssize_t)i;
    }
    return -1;
}

static void put24(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v >> 16);
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)v;
}

void h2o_hpack_flatten_response(h2o_buffer_t **buf, h2o_hpack_header_table_t *header_table, uint32_t stream_id,
                                size_t max_frame_size, h2o_res_t *res, h2o_timestamp_t *ts, const h2o_iovec_t *server_name,
                                size_t content_length)
{
    if (!g_real && miaw_http_hpack_init() != 0) abort(); /* no encoder at all: cannot answer over h2 */
    ssize_t at = rid_index(res);
    if (at < 0 || res->headers.entries[at].value.len > RID_VALUE_MAX || max_frame_size < 256) {
        g_real(buf, header_table, stream_id, max_frame_size, res, ts, server_name, content_length);
        return;
    }
    /* h2o's block without the request id */
    h2o_header_t rid = res->headers.entries[at];
    h2o_header_t *e = res->headers.entries;
    size_t n = res->headers.size;
    memmove(e + at, e + at + 1, (n - (size_t)at - 1) * sizeof *e);
    res->headers.size = n - 1;
    size_t start = (*buf)->size;
    g_real(buf, header_table, stream_id, max_frame_size, res, ts, server_name, content_length);
    memmove(e + at + 1, e + at, (n - (size_t)at - 1) * sizeof *e); /* the list as it was */
    e[at] = rid;
    res->headers.size = n;

    /* the field: 0x00, the name, the value as it is (a random id gains little from
     * Huffman coding: 24 bytes would be 19, for some 400 instructions) */
    uint8_t field[sizeof g_name + RID_VALUE_MAX + 8];
    size_t fl = g_name_len, vl = rid.value.len;
    memcpy(field, g_name, fl);
    if (vl < 127) {
        field[fl++] = (uint8_t)vl;
    } else { /* 7-bit prefix integer (RFC 7541 5.1); vl <= RID_VALUE_MAX < 255 */
        field[fl++] = 127;
        field[fl++] = (uint8_t)(vl - 127);
    }
    memcpy(field + fl, rid.value.base, vl);
    fl += vl;

    /* the last frame h2o wrote (HEADERS, or its last CONTINUATION) */
    size_t last = start, end = (*buf)->size;
    for (;;) {
        const uint8_t *f = (const uint8_t *)(*buf)->bytes + last;
        size_t len = (size_t)f[0] << 16 | (size_t)f[1] << 8 | f[2];
        if (last + H2O_HTTP2_FRAME_HEADER_SIZE + len >= end) break;
        last += H2O_HTTP2_FRAME_HEADER_SIZE + len;
    }
    uint8_t *f = (uint8_t *)(*buf)->bytes + last;
    size_t len = (size_t)f[0] << 16 | (size_t)f[1] << 8 | f[2];
    if (len + fl <= max_frame_size) { /* into that frame */
        h2o_buffer_reserve(buf, fl);
        f = (uint8_t *)(*buf)->bytes + last; /* the buffer may have moved */
        memcpy((*buf)->bytes + end, field, fl);
        (*buf)->size += fl;
        put24(f, len + fl);
        return;
    }
    /* a CONTINUATION frame of its own, which now ends the block */
    h2o_buffer_reserve(buf, H2O_HTTP2_FRAME_HEADER_SIZE + fl);
    f = (uint8_t *)(*buf)->bytes + last;
    f[4] &= (uint8_t)~H2O_HTTP2_FRAME_FLAG_END_HEADERS;
    h2o_http2_encode_frame_header((uint8_t *)(*buf)->bytes + end, fl, H2O_HTTP2_FRAME_TYPE_CONTINUATION,
                                  H2O_HTTP2_FRAME_FLAG_END_HEADERS, (int32_t)stream_id);
    memcpy((*buf)->bytes + end + H2O_HTTP2_FRAME_HEADER_SIZE, field, fl);
    (*buf)->size += H2O_HTTP2_FRAME_HEADER_SIZE + fl;
}
