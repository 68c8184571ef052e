/* tests/unit/test_base_memstats.c - memory figures: OpenSSL's allocations counted exactly
 * once the hooks are installed (a context allocated raises the figure, freeing it brings it
 * back), realloc through OpenSSL accounted, SQLite's figure moves with use,
 * the one-line format with and without a per-instance part. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "base/memstats.h"
#include "harness.h"

static void test_counts(void)
{
    /* nothing in this binary touched OpenSSL before: the hooks go in */
    CU_ASSERT_EQUAL_FATAL(miaw_memstats_install(), 0);
    miaw_memstats a, b, c;
    miaw_memstats_read(&a);
    CU_ASSERT_TRUE(a.rss > 0);
    CU_ASSERT_TRUE(a.heap >= 0); /* 0 under AddressSanitizer: its allocator has no mallinfo */
    CU_ASSERT_TRUE(a.openssl >= 0);
    void *p = OPENSSL_malloc(100000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    miaw_memstats_read(&b);
    CU_ASSERT_EQUAL(b.openssl - a.openssl, 100000);
    CU_ASSERT_EQUAL(b.openssl_allocs - a.openssl_allocs, 1);
    p = OPENSSL_realloc(p, 250000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    miaw_memstats_read(&b);
    CU_ASSERT_EQUAL(b.openssl - a.openssl, 250000);
    OPENSSL_free(p);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    miaw_memstats_read(&b);
    CU_ASSERT_TRUE(b.openssl > a.openssl);
    EVP_MD_CTX_free(ctx);
    miaw_memstats_read(&c);
    CU_ASSERT_EQUAL(c.openssl, a.openssl);
    CU_ASSERT_EQUAL(c.openssl_allocs, a.openssl_allocs);
    /* installing again (the same hooks) is harmless: the counts go on */
    CU_ASSERT_EQUAL(miaw_memstats_install(), 0);
    p = OPENSSL_malloc(10);
    miaw_memstats_read(&b);
    CU_ASSERT_EQUAL(b.openssl - c.openssl, 10);
    OPENSSL_free(p);
}

static void test_sqlite_and_format(void)
{
    miaw_memstats a, b;
    miaw_memstats_read(&a);
    sqlite3 *db = NULL;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(":memory:", &db), SQLITE_OK);
    CU_ASSERT_EQUAL(sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES(randomblob(200000));", NULL, NULL, NULL), SQLITE_OK);
    miaw_memstats_read(&b);
    CU_ASSERT_TRUE(b.sqlite > a.sqlite + 100000);
    sqlite3_close(db);
    char line[512];
    miaw_memstats m = {.rss = 10 << 20, .heap = 4 << 20, .openssl = 2 << 20, .openssl_allocs = 7, .sqlite = 1 << 20};
    miaw_memstats_format(&m, 0, line, sizeof line);
    CU_ASSERT_STRING_EQUAL(line, "rss 10.0 MiB, heap 4.0 MiB, openssl 2.0 MiB (7 allocations), sqlite 1.0 MiB");
    miaw_memstats_format(&m, 1024, line, sizeof line);
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "per instance (1024): rss 10.0 KiB, heap 4.0 KiB, openssl 2.0 KiB, sqlite 1.0 KiB"));
    char small[16];
    miaw_memstats_format(&m, 1024, small, sizeof small); /* truncated, terminated */
    CU_ASSERT_EQUAL(strlen(small), sizeof small - 1);
}

MIAW_TESTS("base_memstats", MIAW_T(test_counts), MIAW_T(test_sqlite_and_format))
