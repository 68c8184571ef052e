/* tests/unit/test_http_ratelimit_log.c - the keyed token buckets of core/http/ratelimit.c
 * (pace, burst, least gap, refill, bounded memory) and the text log's escaping of control
 * characters (core/base/log.c, issue 16 item 4: no forged lines, no terminal escapes). */
#include "harness.h"

#include "base/log.h"
#include "http/ratelimit.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void test_pace_and_burst(void)
{
    miaw_ratelimit *rl = miaw_ratelimit_new(60, 3, 0, 100); /* one a second, 3 at once */
    uint64_t t = 1000000;
    for (int i = 0; i < 3; i++) CU_ASSERT_EQUAL(miaw_ratelimit_take(rl, "k", t), 0);
    uint64_t wait = miaw_ratelimit_take(rl, "k", t);
    CU_ASSERT(wait >= 900 && wait <= 1000);
    CU_ASSERT_EQUAL(miaw_ratelimit_take(rl, "other", t), 0); /* keys are separate */
    CU_ASSERT(miaw_ratelimit_take(rl, "k", t + 500) > 0);
    CU_ASSERT_EQUAL(miaw_ratelimit_take(rl, "k", t + 1000), 0); /* refilled one */
    CU_ASSERT(miaw_ratelimit_take(rl, "k", t + 1000) > 0);
    CU_ASSERT_EQUAL(miaw_ratelimit_take(rl, "k", t + 60000), 0); /* full again after a while */
    CU_ASSERT_EQUAL(miaw_ratelimit_take(rl, "k", t + 60000), 0);
    CU_ASSERT_EQUAL(miaw_ratelimit_take(rl, "k", t + 60000), 0);
    CU_ASSERT(miaw_ratelimit_take(rl, "k", t + 60000) > 0);
    miaw_ratelimit_free(rl);
}

static void test_min_gap(void)
{
    miaw_ratelimit *rl = miaw_ratelimit_new(0, 0, 250, 100); /* no pace, 250 ms apart */
    CU_ASSERT_EQUAL(miaw_ratelimit_take(rl, "i", 5000), 0);
    CU_ASSERT_EQUAL(miaw_ratelimit_take(rl, "i", 5100), 150);
    CU_ASSERT_EQUAL(miaw_ratelimit_take(rl, "i", 5250), 0);
    CU_ASSERT_EQUAL(miaw_ratelimit_take(rl, "j", 5250), 0);
    miaw_ratelimit_free(rl);
    /* both: 2 per minute and 1 s apart */
    rl = miaw_ratelimit_new(2, 2, 1000, 100);
    CU_ASSERT_EQUAL(miaw_ratelimit_take(rl, "i", 0 + 1), 0);
    CU_ASSERT(miaw_ratelimit_take(rl, "i", 2) > 0);
    CU_ASSERT_EQUAL(miaw_ratelimit_take(rl, "i", 1001), 0);
    uint64_t w = miaw_ratelimit_take(rl, "i", 2001); /* gap fine, bucket empty: ~29 s */
    CU_ASSERT(w > 20000 && w <= 30000);
    miaw_ratelimit_free(rl);
    /* off */
    rl = miaw_ratelimit_new(0, 0, 0, 10);
    for (int i = 0; i < 1000; i++) CU_ASSERT_EQUAL(miaw_ratelimit_take(rl, "x", 1), 0);
    miaw_ratelimit_free(rl);
}

static void test_bounded(void)
{
    miaw_ratelimit *rl = miaw_ratelimit_new(60, 1, 0, 50);
    char k[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(k, sizeof k, "10.0.%d.%d", i / 256, i % 256);
        miaw_ratelimit_take(rl, k, 1000);
    }
    CU_ASSERT(miaw_ratelimit_keys(rl) <= 50);
    /* new keys share the overflow bucket while every bucket is busy */
    CU_ASSERT(miaw_ratelimit_take(rl, "fresh", 1000) > 0);
    /* once they are idle (full again) they are swept and a new key gets its own bucket */
    CU_ASSERT_EQUAL(miaw_ratelimit_take(rl, "fresh2", 1000 + 120000), 0);
    CU_ASSERT(miaw_ratelimit_keys(rl) <= 50);
    /* a very long key is cut, not overflowed */
    char longk[500];
    memset(longk, 'a', sizeof longk - 1);
    longk[sizeof longk - 1] = 0;
    CU_ASSERT_EQUAL(miaw_ratelimit_take(rl, longk, 1000 + 120000), 0);
    miaw_ratelimit_free(rl);
}

/* runs miaw_log with stderr sent to a pipe; returns what was written */
static void capture(int json, const char *component, const char *msg, char *out, size_t cap)
{
    int fds[2];
    CU_ASSERT_FATAL(pipe(fds) == 0);
    int saved = dup(STDERR_FILENO);
    dup2(fds[1], STDERR_FILENO);
    miaw_log_set_json(json);
    miaw_log(MIAW_LVL_ERROR, component, "%s", msg);
    miaw_log_set_json(0);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fds[1]);
    ssize_t n = read(fds[0], out, cap - 1);
    close(fds[0]);
    out[n > 0 ? n : 0] = 0;
}

static void test_log_escapes(void)
{
    char out[8192];
    capture(0, "http", "GET /x\n2026-01-01T00:00:00.000Z error [admin] forged\r\x1b[31mred\x7f end", out, sizeof out);
    /* exactly one line, ending in the one newline */
    CU_ASSERT_PTR_EQUAL(strchr(out, '\n'), out + strlen(out) - 1);
    CU_ASSERT_PTR_NULL(strchr(out, '\r'));
    CU_ASSERT_PTR_NULL(strchr(out, '\x1b'));
    CU_ASSERT_PTR_NULL(strchr(out, '\x7f'));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "GET /x\\x0a2026-01-01T00:00:00.000Z error [admin] forged\\x0d\\x1b[31mred\\x7f end"));
    /* the component too */
    capture(0, "a\nb", "m", out, sizeof out);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "[a\\x0ab]"));
    /* JSON lines: \u escapes, one line */
    capture(1, "c\n", "x\ny\"", out, sizeof out);
    CU_ASSERT_PTR_EQUAL(strchr(out, '\n'), out + strlen(out) - 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"component\":\"c\\u000a\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"msg\":\"x\\u000ay\\\"\""));
    /* a message that overflows the line still ends in one newline */
    static char big[3000];
    memset(big, '\n', sizeof big - 1);
    capture(0, "big", big, out, sizeof out);
    CU_ASSERT_EQUAL(out[strlen(out) - 1], '\n');
    CU_ASSERT_PTR_EQUAL(strchr(out, '\n'), out + strlen(out) - 1);
}

/* the text escaping (16 bytes at a time where the CPU allows) against a byte-by-byte
 * reference: random messages of every length up to 300 with control bytes, DEL, high
 * bytes and plain ones at every position, and the component kept per thread: the same
 * buffer holding another name must not print the old one */
static size_t ref_escape(char *out, const char *s)
{
    size_t o = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f) o += (size_t)sprintf(out + o, "\\x%02x", c);
        else out[o++] = (char)c;
    }
    out[o] = 0;
    return o;
}

static void test_log_escape_random(void)
{
    static char out[8192], want[4096], msg[512], comp[16];
    unsigned seed = 12345;
    for (int round = 0; round < 2000; round++) {
        size_t len = (size_t)(round % 301);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            unsigned v = seed >> 16 & 0xff, kind = seed >> 24 & 7;
            msg[i] = (char)(kind == 0 ? 1 + v % 0x1f : kind == 1 ? 0x7f : kind == 2 ? 0x80 | v : 0x20 + v % 0x5f);
        }
        msg[len] = 0;
        snprintf(comp, sizeof comp, round % 3 ? "http" : "c%d\t", round % 7); /* same buffer, other names */
        capture(0, comp, msg, out, sizeof out);
        char wc[64], wm[1400];
        ref_escape(wc, comp);
        ref_escape(wm, msg);
        snprintf(want, sizeof want, "[%s] %s\n", wc, wm);
        const char *at = strstr(out, "] ");
        CU_ASSERT_PTR_NOT_NULL_FATAL(at);
        at = strchr(out, '[');
        if (strcmp(at, want) != 0) {
            CU_FAIL("escaped line differs from the reference");
            fprintf(stderr, "round %d\n got %s want %s", round, at, want);
            break;
        }
    }
}

MIAW_TESTS("http_ratelimit_log", MIAW_T(test_pace_and_burst), MIAW_T(test_min_gap), MIAW_T(test_bounded),
           MIAW_T(test_log_escapes), MIAW_T(test_log_escape_random))
