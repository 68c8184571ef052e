/* core/base/util.c - clocks, randomness, constant-time compare, file helpers, buffers. */
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int64_t miaw_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t miaw_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void miaw_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) && errno == EINTR) {}
}

int miaw_random(void *out, size_t n)
{
    uint8_t *p = out;
    while (n) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* the two digits of every byte value, made by the preprocessor: a load and a 2-byte copy
 * per byte */
#define HEXD(d) ((d) < 10 ? '0' + (d) : 'a' - 10 + (d))
#define HEX2(b) HEXD((b) >> 4), HEXD((b) & 15)
#define HEX16(h) HEX2(h + 0), HEX2(h + 1), HEX2(h + 2), HEX2(h + 3), HEX2(h + 4), HEX2(h + 5), HEX2(h + 6), \
    HEX2(h + 7), HEX2(h + 8), HEX2(h + 9), HEX2(h + 10), HEX2(h + 11), HEX2(h + 12), HEX2(h + 13), HEX2(h + 14), HEX2(h + 15)
static const char HEXPAIRS[512] = {HEX16(0x00), HEX16(0x10), HEX16(0x20), HEX16(0x30), HEX16(0x40), HEX16(0x50),
                                   HEX16(0x60), HEX16(0x70), HEX16(0x80), HEX16(0x90), HEX16(0xa0), HEX16(0xb0),
                                   HEX16(0xc0), HEX16(0xd0), HEX16(0xe0), HEX16(0xf0)};

void miaw_hex(char *out, const uint8_t *in, size_t n)
{
    for (size_t i = 0; i < n; i++) memcpy(out + 2 * i, HEXPAIRS + 2 * in[i], 2);
    out[2 * n] = 0;
}

int miaw_random_hex(char *out, size_t nbytes)
{
    uint8_t buf[256];
    if (nbytes > sizeof buf || miaw_random(buf, nbytes) != 0) return -1;
    miaw_hex(out, buf, nbytes);
    return 0;
}

int miaw_ct_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen > blen ? alen : blen, i = 0;
    uint64_t diff = alen != blen;
    /* 8 bytes at a time where both have them (the common case: equal lengths), then the
     * rest byte by byte; the time depends on the lengths only, never on the bytes */
    size_t both = alen < blen ? alen : blen;
    for (; i + 8 <= both; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        diff |= x ^ y;
    }
    for (; i < n; i++) {
        unsigned char x = i < alen ? (unsigned char)a[i] : 0;
        unsigned char y = i < blen ? (unsigned char)b[i] : 0;
        diff |= (unsigned char)(x ^ y);
    }
    return diff == 0;
}

void miaw_iso8601(char *out, size_t cap, int64_t ms)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, cap - n, ".%03dZ", (int)(ms % 1000));
}

int miaw_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof tmp) return -ENAMETOOLONG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) return -errno;
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            unlink(tmp);
            return -e;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fchmod(fd, mode) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return -e;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return -e;
    }
    /* make the rename itself durable: fsync the containing directory */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        if (slash == dir) slash[1] = 0;
        else *slash = 0;
    } else {
        snprintf(dir, sizeof dir, ".");
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

int miaw_read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -errno;
    miaw_buf b = {0};
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (miaw_buf_append(&b, chunk, n) != 0) {
            fclose(f);
            miaw_buf_free(&b);
            return -ENOMEM;
        }
    fclose(f);
    if (miaw_buf_append(&b, "", 1) != 0) {
        miaw_buf_free(&b);
        return -ENOMEM;
    }
    *out = b.data;
    if (len) *len = b.len - 1;
    return 0;
}

int miaw_mkdir_p(const char *path, unsigned mode)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp) return -EINVAL;
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, mode) != 0 && errno != EEXIST) return -errno;
        *p = '/';
    }
    if (mkdir(tmp, mode) != 0 && errno != EEXIST) return -errno;
    return 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(p) != 0 && errno != ENOENT ? -1 : 0;
}

int miaw_rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -errno;
    return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -(errno ? errno : EIO);
}

int miaw_buf_append(miaw_buf *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) return -1;
        b->data = d;
        b->cap = cap;
    }
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return 0;
}

int miaw_buf_printf(miaw_buf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    if ((size_t)n < sizeof small) return miaw_buf_append(b, small, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (!big) return -1;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int r = miaw_buf_append(b, big, (size_t)n);
    free(big);
    return r;
}

void miaw_buf_free(miaw_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
