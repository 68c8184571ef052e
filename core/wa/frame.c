/* core/wa/frame.c - frame header writing and the incremental frame reader (intro and
 * routing-prefix parsing, partial frames, several frames per chunk, size limits). */
#include "wa/frame.h"

#include <stdlib.h>
#include <string.h>

#include "miaw/status.h"
#include "wa/noise.h"

struct miaw_frame_reader {
    int mode;
    int intro_done;    /* server mode: intro consumed */
    int err;           /* sticky error */
    size_t max_frame;
    uint8_t *buf;
    size_t start;      /* first unconsumed byte */
    size_t end;        /* one past the last buffered byte */
    size_t cap;
    uint8_t *routing;
    size_t routing_len;
};

int miaw_frame_header(uint8_t hdr[MIAW_FRAME_HDR_MAX], size_t len, int intro)
{
    if (len > MIAW_FRAME_MAX) return MIAW_E_LIMIT;
    int n = 0;
    if (intro) {
        memcpy(hdr, miaw_noise_wa_header, 4);
        n = 4;
    }
    hdr[n++] = (uint8_t)(len >> 16);
    hdr[n++] = (uint8_t)(len >> 8);
    hdr[n++] = (uint8_t)len;
    return n;
}

int miaw_frame_encode(const uint8_t *payload, size_t len, int intro, uint8_t **out,
                      size_t *out_len)
{
    uint8_t hdr[MIAW_FRAME_HDR_MAX];
    int h = miaw_frame_header(hdr, len, intro);
    if (h < 0) return h;
    uint8_t *b = malloc((size_t)h + len);
    if (!b) return MIAW_E_NOMEM;
    memcpy(b, hdr, (size_t)h);
    if (len) memcpy(b + h, payload, len);
    *out = b;
    *out_len = (size_t)h + len;
    return 0;
}

miaw_frame_reader *miaw_frame_reader_new(int mode, size_t max_frame)
{
    miaw_frame_reader *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->mode = mode;
    r->intro_done = mode != MIAW_FRAME_READ_SERVER;
    r->max_frame = (max_frame == 0 || max_frame > MIAW_FRAME_MAX) ? MIAW_FRAME_MAX : max_frame;
    return r;
}

void miaw_frame_reader_free(miaw_frame_reader *r)
{
    if (!r) return;
    free(r->buf);
    free(r->routing);
    free(r);
}

const uint8_t *miaw_frame_reader_routing(const miaw_frame_reader *r, size_t *len)
{
    if (len) *len = r && r->routing ? r->routing_len : 0;
    return r ? r->routing : NULL;
}

static size_t buffered(const miaw_frame_reader *r)
{
    return r->end - r->start;
}

void miaw_frame_reader_trim(miaw_frame_reader *r)
{
    if (!r || buffered(r) || r->cap <= 4096) return;
    free(r->buf);
    r->buf = NULL;
    r->cap = r->start = r->end = 0;
}

int miaw_frame_reader_feed(miaw_frame_reader *r, const uint8_t *data, size_t len)
{
    if (!r) return MIAW_E_INVAL;
    if (r->err) return r->err;
    if (!len) return 0;
    /* routing prefix (max 16 MiB) + intro, then at most two frames' worth */
    size_t limit = 2 * (r->max_frame + 3) + (r->intro_done ? 0 : 7 + r->max_frame + 4);
    if (len > limit || buffered(r) > limit - len) return r->err = MIAW_E_LIMIT;
    if (r->start && r->end + len > r->cap) {
        /* compact: move the unconsumed tail to the front */
        memmove(r->buf, r->buf + r->start, buffered(r));
        r->end -= r->start;
        r->start = 0;
    }
    if (r->end + len > r->cap) {
        size_t ncap = r->cap ? r->cap : 4096;
        while (ncap < r->end + len) ncap *= 2;
        uint8_t *nb = realloc(r->buf, ncap);
        if (!nb) return r->err = MIAW_E_NOMEM;
        r->buf = nb;
        r->cap = ncap;
    }
    memcpy(r->buf + r->end, data, len);
    r->end += len;
    return 0;
}

/* Server mode: consume [ED 00 01 len3 routing] WA 06 03. 1 done, 0 need more, <0 error. */
static int read_intro(miaw_frame_reader *r)
{
    const uint8_t *p = r->buf + r->start;
    size_t n = buffered(r), off = 0;
    if (n >= 1 && p[0] == 'E') {
        static const uint8_t ed[4] = {'E', 'D', 0, 1};
        size_t cmp = n < 4 ? n : 4;
        if (memcmp(p, ed, cmp) != 0) return MIAW_E_INVAL;
        if (n < 7) return 0;
        size_t rlen = ((size_t)p[4] << 16) | ((size_t)p[5] << 8) | p[6];
        if (rlen > r->max_frame) return MIAW_E_LIMIT;
        if (n < 7 + rlen) return 0;
        off = 7 + rlen;
        if (!r->routing) {
            /* keep a copy of the routing info once it is complete */
            r->routing = malloc(rlen ? rlen : 1);
            if (!r->routing) return MIAW_E_NOMEM;
            if (rlen) memcpy(r->routing, p + 7, rlen);
            r->routing_len = rlen;
        }
    }
    size_t have = n - off, cmp = have < 4 ? have : 4;
    if (cmp && memcmp(p + off, miaw_noise_wa_header, cmp) != 0) return MIAW_E_INVAL;
    if (have < 4) return 0;
    r->start += off + 4;
    r->intro_done = 1;
    return 1;
}

int miaw_frame_reader_next(miaw_frame_reader *r, const uint8_t **payload, size_t *len)
{
    if (!r) return MIAW_E_INVAL;
    if (r->err) return r->err;
    if (!r->intro_done) {
        int rc = read_intro(r);
        if (rc < 0) return r->err = rc;
        if (rc == 0) return 0;
    }
    size_t n = buffered(r);
    if (n < 3) return 0;
    const uint8_t *p = r->buf + r->start;
    size_t flen = ((size_t)p[0] << 16) | ((size_t)p[1] << 8) | p[2];
    if (flen > r->max_frame) return r->err = MIAW_E_LIMIT;
    if (n < 3 + flen) return 0;
    *payload = p + 3;
    *len = flen;
    r->start += 3 + flen;
    if (r->start == r->end) r->start = r->end = 0; /* payload stays valid: no overwrite yet */
    return 1;
}
