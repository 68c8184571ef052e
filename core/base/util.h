/* core/base/util.h - small helpers shared by core modules: clocks, random tokens,
 * constant-time compare, files (atomic write, recursive remove), growable buffer. */
#ifndef MIAW_UTIL_H
#define MIAW_UTIL_H
#include <stddef.h>
#include <stdint.h>

int64_t miaw_now_ms(void);       /* wall clock, ms since epoch */
uint64_t miaw_mono_ms(void);     /* monotonic ms */
void miaw_sleep_ms(long ms);     /* blocking sleep, resumed after signals */
/* fills out with n random bytes from the OS CSPRNG; 0 or -1 */
int miaw_random(void *out, size_t n);
/* writes 2*nbytes lowercase hex chars + NUL into out (cap >= 2*nbytes+1) */
int miaw_random_hex(char *out, size_t nbytes);
void miaw_hex(char *out, const uint8_t *in, size_t n); /* out: 2n+1 */
/* constant time over max(len a, len b); 1 when equal */
int miaw_ct_equal(const char *a, size_t alen, const char *b, size_t blen);
/* ISO-8601 UTC with milliseconds, e.g. 2025-12-25T10:00:00.000Z; out >= 32 */
void miaw_iso8601(char *out, size_t cap, int64_t ms);

/* write whole file atomically (tmp + fsync + rename + fsync of the directory) with mode;
 * one writer per path at a time. 0 or -errno */
int miaw_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode);
/* read whole file; *out malloc'd, NUL-terminated, caller frees. 0 or -errno */
int miaw_read_file(const char *path, char **out, size_t *len);
int miaw_mkdir_p(const char *path, unsigned mode);
/* remove a file or a directory tree; 0 if gone (or never existed), else -errno */
int miaw_rm_rf(const char *path);

/* growable byte buffer; data malloc'd, owned by the buffer */
typedef struct { char *data; size_t len, cap; } miaw_buf;
int miaw_buf_append(miaw_buf *b, const void *p, size_t n);
int miaw_buf_printf(miaw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void miaw_buf_free(miaw_buf *b);
#endif
