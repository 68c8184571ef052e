/* core/base/memstats.h - where the process's memory goes, for the per-instance breakdown
 * of bench/messages and for operators: resident set (from /proc), malloc's heap in use
 * (glibc mallinfo2), OpenSSL's live allocations (counted through
 * CRYPTO_set_mem_functions: TLS connections, their buffers and keys) and SQLite's
 * (sqlite3_memory_used: page caches and statements).
 *
 * miaw_memstats_install must run before anything allocates through OpenSSL (first thing
 * in main); later it fails and the OpenSSL figure stays -1. Thread-safe. No pointers are
 * handed out. */
#ifndef MIAW_BASE_MEMSTATS_H
#define MIAW_BASE_MEMSTATS_H
#include <stdint.h>

typedef struct miaw_memstats {
    int64_t rss;          /* bytes resident (VmRSS) */
    int64_t heap;         /* bytes malloc has handed out and not had back */
    int64_t openssl;      /* bytes live in OpenSSL allocations; -1 when not counted */
    int64_t openssl_allocs;
    int64_t sqlite;       /* bytes live in SQLite */
} miaw_memstats;

/* 0, or -1 when OpenSSL had allocated already (counting is then off). */
int miaw_memstats_install(void);
void miaw_memstats_read(miaw_memstats *out);
/* One line: "rss 41.2 MiB, heap 22.0 MiB, openssl 9.1 MiB (12345 allocations), sqlite 3.3 MiB";
 * with per > 0 each figure also per unit ("per instance: ... KiB"). Returns out. */
char *miaw_memstats_format(const miaw_memstats *m, long per, char *out, unsigned outlen);
#endif
