/* tests/unit/test_wa_frame.c - the 3-byte length framing: headers with and without the
 * intro, the reader on split and packed chunks, the ED routing prefix, bad intros, the
 * maximum frame size and the buffering limit. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "miaw/plugin.h"
#include "wa/frame.h"

static void test_header(void)
{
    uint8_t h[MIAW_FRAME_HDR_MAX];
    CU_ASSERT(miaw_frame_header(h, 0x123456, 1) == 7);
    const uint8_t want[] = {0x57, 0x41, 0x06, 0x03, 0x12, 0x34, 0x56};
    CU_ASSERT(memcmp(h, want, 7) == 0);
    CU_ASSERT(miaw_frame_header(h, 5, 0) == 3);
    CU_ASSERT(h[0] == 0 && h[1] == 0 && h[2] == 5);
    CU_ASSERT(miaw_frame_header(h, MIAW_FRAME_MAX, 0) == 3);
    CU_ASSERT(h[0] == 0xff && h[1] == 0xff && h[2] == 0xff);
    CU_ASSERT(miaw_frame_header(h, MIAW_FRAME_MAX + 1, 0) == MIAW_E_LIMIT);
    uint8_t *o;
    size_t ol;
    CU_ASSERT(miaw_frame_encode((const uint8_t *)"abc", 3, 0, &o, &ol) == 0);
    CU_ASSERT(ol == 6 && memcmp(o, "\0\0\3abc", 6) == 0);
    free(o);
}

/* build a stream: intro + frames of sizes 0..n-1 with content i */
static uint8_t *make_stream(int intro, int nframes, size_t *len)
{
    size_t cap = 7 + (size_t)nframes * (3 + (size_t)nframes), n = 0;
    uint8_t *b = malloc(cap);
    for (int i = 0; i < nframes; i++) {
        n += (size_t)miaw_frame_header(b + n, (size_t)i, intro && i == 0);
        memset(b + n, i, (size_t)i);
        n += (size_t)i;
    }
    *len = n;
    return b;
}

static void check_frames(miaw_frame_reader *r, int *next)
{
    const uint8_t *p;
    size_t l;
    int rc;
    while ((rc = miaw_frame_reader_next(r, &p, &l)) == 1) {
        CU_ASSERT(l == (size_t)*next);
        for (size_t j = 0; j < l; j++)
            if (p[j] != (uint8_t)*next) {
                CU_FAIL("payload byte");
                break;
            }
        (*next)++;
    }
    CU_ASSERT(rc == 0);
}

static void test_reader_chunking(void)
{
    size_t len;
    uint8_t *s = make_stream(1, 40, &len);
    /* every chunk size from 1 byte to the whole stream */
    for (size_t chunk = 1; chunk <= len; chunk += (chunk < 20 ? 1 : 37)) {
        miaw_frame_reader *r = miaw_frame_reader_new(MIAW_FRAME_READ_SERVER, 0);
        int next = 0;
        for (size_t off = 0; off < len; off += chunk) {
            size_t n = len - off < chunk ? len - off : chunk;
            CU_ASSERT_FATAL(miaw_frame_reader_feed(r, s + off, n) == 0);
            check_frames(r, &next);
        }
        CU_ASSERT(next == 40);
        size_t rl;
        CU_ASSERT(miaw_frame_reader_routing(r, &rl) == NULL && rl == 0);
        miaw_frame_reader_free(r);
    }
    /* whole stream at once in client mode fails on the intro? no: the client reader has
     * no intro, so a stream without one parses */
    free(s);
    s = make_stream(0, 10, &len);
    miaw_frame_reader *r = miaw_frame_reader_new(MIAW_FRAME_READ_CLIENT, 0);
    int next = 0;
    CU_ASSERT(miaw_frame_reader_feed(r, s, len) == 0);
    check_frames(r, &next);
    CU_ASSERT(next == 10);
    miaw_frame_reader_free(r);
    free(s);
}

static void test_routing_prefix(void)
{
    const uint8_t in[] = {'E', 'D', 0, 1, 0, 0, 3, 0xaa, 0xbb, 0xcc, 'W', 'A', 6, 3, 0, 0, 2, 'h', 'i',
                          0, 0, 1, 'x'};
    for (size_t split = 1; split < sizeof in; split++) {
        miaw_frame_reader *r = miaw_frame_reader_new(MIAW_FRAME_READ_SERVER, 0);
        const uint8_t *p;
        size_t l;
        CU_ASSERT(miaw_frame_reader_feed(r, in, split) == 0);
        int got = 0;
        while (miaw_frame_reader_next(r, &p, &l) == 1) got++;
        CU_ASSERT(miaw_frame_reader_feed(r, in + split, sizeof in - split) == 0);
        while (miaw_frame_reader_next(r, &p, &l) == 1) {
            got++;
            if (got == 1) CU_ASSERT(l == 2 && memcmp(p, "hi", 2) == 0);
            if (got == 2) CU_ASSERT(l == 1 && p[0] == 'x');
        }
        CU_ASSERT(got == 2);
        size_t rl;
        const uint8_t *ri = miaw_frame_reader_routing(r, &rl);
        CU_ASSERT(ri && rl == 3 && ri[0] == 0xaa && ri[2] == 0xcc);
        miaw_frame_reader_free(r);
    }
}

static void test_bad_intro(void)
{
    const char *bad[] = {"WB\x06\x03", "WA\x05\x03", "WA\x06\x02", "XA", "EX", "ED\x00\x02",
                         "ED\x00\x01\x00\x00\x00WB"};
    size_t lens[] = {4, 4, 4, 2, 2, 4, 9};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        miaw_frame_reader *r = miaw_frame_reader_new(MIAW_FRAME_READ_SERVER, 0);
        const uint8_t *p;
        size_t l;
        CU_ASSERT(miaw_frame_reader_feed(r, (const uint8_t *)bad[i], lens[i]) == 0);
        CU_ASSERT(miaw_frame_reader_next(r, &p, &l) == MIAW_E_INVAL);
        /* sticky */
        CU_ASSERT(miaw_frame_reader_feed(r, (const uint8_t *)"x", 1) == MIAW_E_INVAL);
        CU_ASSERT(miaw_frame_reader_next(r, &p, &l) == MIAW_E_INVAL);
        miaw_frame_reader_free(r);
    }
    /* an incomplete but so-far-correct intro just waits */
    miaw_frame_reader *r = miaw_frame_reader_new(MIAW_FRAME_READ_SERVER, 0);
    const uint8_t *p;
    size_t l;
    CU_ASSERT(miaw_frame_reader_feed(r, (const uint8_t *)"WA\x06", 3) == 0);
    CU_ASSERT(miaw_frame_reader_next(r, &p, &l) == 0);
    CU_ASSERT(miaw_frame_reader_feed(r, (const uint8_t *)"\x03\x00\x00", 3) == 0);
    CU_ASSERT(miaw_frame_reader_next(r, &p, &l) == 0);
    CU_ASSERT(miaw_frame_reader_feed(r, (const uint8_t *)"\x00", 1) == 0);
    CU_ASSERT(miaw_frame_reader_next(r, &p, &l) == 1 && l == 0);
    miaw_frame_reader_free(r);
}

static void test_max_frame(void)
{
    miaw_frame_reader *r = miaw_frame_reader_new(MIAW_FRAME_READ_CLIENT, 100);
    const uint8_t *p;
    size_t l;
    uint8_t f[3 + 100];
    memset(f, 0, sizeof f);
    f[2] = 100;
    CU_ASSERT(miaw_frame_reader_feed(r, f, sizeof f) == 0);
    CU_ASSERT(miaw_frame_reader_next(r, &p, &l) == 1 && l == 100);
    /* 101 is refused as soon as the header is seen, before the body arrives */
    const uint8_t big[] = {0, 0, 101};
    CU_ASSERT(miaw_frame_reader_feed(r, big, 3) == 0);
    CU_ASSERT(miaw_frame_reader_next(r, &p, &l) == MIAW_E_LIMIT);
    CU_ASSERT(miaw_frame_reader_feed(r, f, 3) == MIAW_E_LIMIT);
    miaw_frame_reader_free(r);

    /* a routing prefix longer than the limit */
    r = miaw_frame_reader_new(MIAW_FRAME_READ_SERVER, 100);
    const uint8_t ed[] = {'E', 'D', 0, 1, 0, 0, 101};
    CU_ASSERT(miaw_frame_reader_feed(r, ed, sizeof ed) == 0);
    CU_ASSERT(miaw_frame_reader_next(r, &p, &l) == MIAW_E_LIMIT);
    miaw_frame_reader_free(r);

    /* undrained buffering is bounded */
    r = miaw_frame_reader_new(MIAW_FRAME_READ_CLIENT, 100);
    uint8_t chunk[50] = {0};
    int rc = 0, i;
    for (i = 0; i < 100 && rc == 0; i++) rc = miaw_frame_reader_feed(r, chunk, sizeof chunk);
    CU_ASSERT(rc == MIAW_E_LIMIT);
    CU_ASSERT(i * 50 <= 2 * (100 + 3) + 50);
    miaw_frame_reader_free(r);

    /* a full-size 16 MiB - 1 frame with the default limit */
    r = miaw_frame_reader_new(MIAW_FRAME_READ_CLIENT, 0);
    size_t n = MIAW_FRAME_MAX;
    uint8_t *big2 = calloc(1, n + 3);
    CU_ASSERT_FATAL(big2 != NULL);
    miaw_frame_header(big2, n, 0);
    big2[3 + n - 1] = 0x5a;
    CU_ASSERT(miaw_frame_reader_feed(r, big2, n + 3) == 0);
    CU_ASSERT(miaw_frame_reader_next(r, &p, &l) == 1 && l == n && p[n - 1] == 0x5a);
    free(big2);
    miaw_frame_reader_free(r);
}

/* trim between bursts: a drained reader gives back its big buffer and reads on; a reader
 * holding part of a frame keeps it */
static void test_trim(void)
{
    miaw_frame_reader *r = miaw_frame_reader_new(MIAW_FRAME_READ_CLIENT, 0);
    static uint8_t big[3 + 100000];
    big[0] = 0x01, big[1] = 0x86, big[2] = 0xa0; /* 100000 */
    memset(big + 3, 0x5a, 100000);
    const uint8_t *p;
    size_t n;
    CU_ASSERT_EQUAL(miaw_frame_reader_feed(r, big, sizeof big), 0);
    CU_ASSERT_EQUAL(miaw_frame_reader_next(r, &p, &n), 1);
    CU_ASSERT_EQUAL(n, 100000);
    CU_ASSERT_EQUAL(miaw_frame_reader_next(r, &p, &n), 0);
    miaw_frame_reader_trim(r);
    const uint8_t small[] = {0, 0, 2, 'h', 'i', 0, 0, 3, 'a'};
    CU_ASSERT_EQUAL(miaw_frame_reader_feed(r, small, sizeof small), 0);
    CU_ASSERT_EQUAL(miaw_frame_reader_next(r, &p, &n), 1);
    CU_ASSERT_TRUE(n == 2 && !memcmp(p, "hi", 2));
    CU_ASSERT_EQUAL(miaw_frame_reader_next(r, &p, &n), 0); /* 'a' of 3 buffered */
    miaw_frame_reader_trim(r);                              /* keeps it */
    CU_ASSERT_EQUAL(miaw_frame_reader_feed(r, (const uint8_t *)"bc", 2), 0);
    CU_ASSERT_EQUAL(miaw_frame_reader_next(r, &p, &n), 1);
    CU_ASSERT_TRUE(n == 3 && !memcmp(p, "abc", 3));
    miaw_frame_reader_trim(r);
    miaw_frame_reader_trim(NULL);
    miaw_frame_reader_free(r);
}

MIAW_TESTS("wa_frame", MIAW_T(test_header), MIAW_T(test_reader_chunking),
           MIAW_T(test_routing_prefix), MIAW_T(test_bad_intro), MIAW_T(test_max_frame), MIAW_T(test_trim))
