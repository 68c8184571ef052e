/* tests/unit/test_http_early.c - the early gate's quick look (core/http/early.c,
 * miaw_http_early_framing): fixed heads, then random heads against a byte-at-a-time
 * reference, with the framing names at every offset around the 16-byte blocks the scan
 * reads, in mixed case, cut by the end of the head, after CRLF or a bare LF. */
#include "harness.h"

#include "http/http_int.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* the rule, written plainly */
static int reference(const char *d, size_t n)
{
    static const char *names[] = {"content-length", "transfer-encoding"};
    for (size_t i = 0; i + 1 < n; i++) {
        if (d[i] != '\n') continue;
        const char *p = d + i + 1;
        size_t left = n - i - 1;
        for (int k = 0; k < 2; k++) {
            size_t nl = strlen(names[k]);
            if (strncasecmp(p, names[k], left < nl ? left : nl) == 0 && (p[0] | 0x20) == names[k][0]) return 1;
        }
    }
    return 0;
}

static void test_fixed(void)
{
    const char *yes[] = {
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
        "POST / HTTP/1.1\r\ncontent-length: 5\r\n\r\n",
        "POST / HTTP/1.1\nHost: a\nTRANSFER-ENCODING: chunked\n\n",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Enc", /* cut: counts */
        "POST / HTTP/1.1\r\nHost: a\r\nC",
        "GET / HTTP/1.1\r\nContent-Lengthy: 1\r\n\r\n", /* a maybe: the full parse decides */
    };
    const char *no[] = {
        "GET /api/v1/instances/bench HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer x\r\nConnection: keep-alive\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Type: a\r\nTE: trailers\r\nTransfer: 1\r\n\r\n",
        "Content-Length: 5\r\n", /* the request line is not a header line */
        "GET / HTTP/1.1\r\nX-Content-Length: 5\r\n\r\n",
        "",
    };
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) CU_ASSERT_EQUAL(miaw_http_early_framing(yes[i], strlen(yes[i])), 1);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) CU_ASSERT_EQUAL(miaw_http_early_framing(no[i], strlen(no[i])), 0);
}

static unsigned g_seed = 12345;
static uint32_t next(void) { return miaw_test_rand(&g_seed); }

static void test_random(void)
{
    static const char *pieces[] = {"\r\n", "\n", "Content-Length: 12", "cONTENT-lENGTH", "Transfer-Encoding: chunked",
                                   "tRANSFER-eNCODING", "Content-Type: x", "TE: y", "Host: h", "t", "c", "C", "T",
                                   "Connection: keep-alive", "X", "-", " ", "content-lengt", "transfer-encodin"};
    int ok = 1, ones = 0;
    char head[512];
    for (int round = 0; round < 20000; round++) {
        size_t n = 0;
        /* a filler to move everything across the 16-byte blocks */
        for (uint32_t f = next() % 20; f > 0 && n < sizeof head; f--) head[n++] = "GET /abcdefgh"[next() % 13];
        while (n < 400) {
            const char *pc = pieces[next() % (sizeof pieces / sizeof pieces[0])];
            size_t l = strlen(pc);
            memcpy(head + n, pc, l);
            n += l;
            if (next() % 6 == 0) break;
        }
        size_t cut = n ? next() % (n + 1) : 0; /* a head cut anywhere */
        int want = reference(head, cut), got = miaw_http_early_framing(head, cut);
        ones += want;
        if (want != got) {
            fprintf(stderr, "differs (want %d) on %zu bytes: %.*s\n", want, cut, (int)cut, head);
            ok = 0;
            break;
        }
    }
    CU_ASSERT(ok);
    CU_ASSERT(ones > 1000); /* both outcomes were seen */
}

MIAW_TESTS("http_early", MIAW_T(test_fixed), MIAW_T(test_random))
