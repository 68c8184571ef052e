/* core/base/memstats.c - process memory figures (memstats.h): OpenSSL's allocations are
 * counted by a size header in front of each block (16 bytes, so alignment is kept);
 * the rest is read from glibc, SQLite and /proc. Owns the two counters. */
#include "base/memstats.h"

#include <malloc.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HDR 16

static atomic_llong g_bytes, g_allocs;
static int g_on;

static void *c_malloc(size_t n, const char *file, int line)
{
    (void)file, (void)line;
    unsigned char *p = malloc(n + HDR);
    if (!p) return NULL;
    memcpy(p, &n, sizeof n);
    atomic_fetch_add(&g_bytes, (long long)n);
    atomic_fetch_add(&g_allocs, 1);
    return p + HDR;
}

static void c_free(void *ptr, const char *file, int line)
{
    (void)file, (void)line;
    if (!ptr) return;
    unsigned char *p = (unsigned char *)ptr - HDR;
    size_t n;
    memcpy(&n, p, sizeof n);
    atomic_fetch_sub(&g_bytes, (long long)n);
    atomic_fetch_sub(&g_allocs, 1);
    free(p);
}

static void *c_realloc(void *ptr, size_t n, const char *file, int line)
{
    if (!ptr) return c_malloc(n, file, line);
    if (!n) {
        c_free(ptr, file, line);
        return NULL;
    }
    unsigned char *p = (unsigned char *)ptr - HDR;
    size_t old;
    memcpy(&old, p, sizeof old);
    unsigned char *q = realloc(p, n + HDR);
    if (!q) return NULL;
    memcpy(q, &n, sizeof n);
    atomic_fetch_add(&g_bytes, (long long)n - (long long)old);
    return q + HDR;
}

int miaw_memstats_install(void)
{
    g_on = CRYPTO_set_mem_functions(c_malloc, c_realloc, c_free) == 1;
    return g_on ? 0 : -1;
}

void miaw_memstats_read(miaw_memstats *m)
{
    memset(m, 0, sizeof *m);
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(f);
    }
    m->rss = (int64_t)resident * sysconf(_SC_PAGESIZE);
    struct mallinfo2 mi = mallinfo2();
    m->heap = (int64_t)(mi.uordblks + mi.hblkhd);
    m->openssl = g_on ? atomic_load(&g_bytes) : -1;
    m->openssl_allocs = g_on ? atomic_load(&g_allocs) : -1;
    m->sqlite = sqlite3_memory_used();
}

char *miaw_memstats_format(const miaw_memstats *m, long per, char *out, unsigned outlen)
{
    const double MiB = 1024.0 * 1024.0;
    int n = snprintf(out, outlen, "rss %.1f MiB, heap %.1f MiB, openssl %.1f MiB (%lld allocations), sqlite %.1f MiB",
                     m->rss / MiB, m->heap / MiB, m->openssl < 0 ? -1.0 : m->openssl / MiB, (long long)m->openssl_allocs,
                     m->sqlite / MiB);
    if (per > 0 && n > 0 && (unsigned)n < outlen)
        snprintf(out + n, outlen - (unsigned)n, "; per instance (%ld): rss %.1f KiB, heap %.1f KiB, openssl %.1f KiB, sqlite %.1f KiB",
                 per, m->rss / 1024.0 / per, m->heap / 1024.0 / per, m->openssl < 0 ? -1.0 : m->openssl / 1024.0 / per,
                 m->sqlite / 1024.0 / per);
    return out;
}
