/* core/http/files.c - answering with a file (miaw_req_reply_file, plugin ABI reply_file):
 * an h2o generator that reads the file in 128 KiB pieces as the connection drains
 * (HTTP/1.1 and h2 alike; memory stays at one buffer per response), Content-Type,
 * Content-Length, Content-Disposition with an RFC 6266 filename*, Accept-Ranges, one byte
 * range of a GET (206 + Content-Range; 416 with "bytes * /size" when unsatisfiable; several
 * ranges, or an If-Range, get the whole file with 200), HEAD without a body, and
 * MIAW_FILE_F_UNLINK (the name is removed as soon as the file is open: the bytes stay
 * readable through the descriptor until the answer ends or the client leaves). Owns the
 * descriptor and buffer of each file answer; both go when h2o frees the request.
 * Reads are pread(2) on the loop, as h2o's own file handler does. */
#include "http/http_int.h"

#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_CHUNK (128u << 10)

typedef struct file_gen {
    h2o_generator_t super;
    int fd;
    uint64_t off, left;
    char *buf;
} file_gen;

static void gen_close(file_gen *g)
{
    if (g->fd >= 0) close(g->fd);
    g->fd = -1;
}

static void gen_dispose(void *p)
{
    file_gen *g = p;
    gen_close(g);
    free(g->buf);
    g->buf = NULL;
}

static void gen_proceed(h2o_generator_t *self, h2o_req_t *q)
{
    file_gen *g = (file_gen *)self;
    size_t want = g->left < FILE_CHUNK ? (size_t)g->left : FILE_CHUNK;
    ssize_t n;
    while ((n = pread(g->fd, g->buf, want, (off_t)g->off)) < 0 && errno == EINTR)
        ;
    if (n <= 0) { /* a read error, or the file shrank under us: the answer cannot be completed */
        MIAW_WARN("http", "file answer: %s after %llu bytes", n < 0 ? strerror(errno) : "the file got shorter",
                  (unsigned long long)g->off);
        gen_close(g);
        h2o_send(q, NULL, 0, H2O_SEND_STATE_ERROR);
        return;
    }
    g->off += (uint64_t)n;
    g->left -= (uint64_t)n;
    h2o_iovec_t v = h2o_iovec_init(g->buf, (size_t)n);
    if (!g->left) gen_close(g);
    h2o_send(q, &v, 1, g->left ? H2O_SEND_STATE_IN_PROGRESS : H2O_SEND_STATE_FINAL);
}

static void gen_stop(h2o_generator_t *self, h2o_req_t *q)
{
    (void)q;
    gen_close((file_gen *)self); /* the client left */
}

/* ------------------------------------------------------------ ranges */
enum { RANGE_NONE, RANGE_ONE, RANGE_UNSAT };

static int digits(const char **p, uint64_t *v, int *overflow)
{
    const char *s = *p;
    uint64_t x = 0;
    *overflow = 0;
    if (*s < '0' || *s > '9') return -1;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (x > (UINT64_MAX - 9) / 10) *overflow = 1;
        else x = x * 10 + (uint64_t)(*s - '0');
    }
    *v = x;
    *p = s;
    return 0;
}

/* RFC 7233 byte ranges: one range of "bytes=a-b", "a-" or "-n" -> RANGE_ONE with [*from,
 * *from + *len); not satisfiable -> RANGE_UNSAT; anything else (a syntax error, several
 * ranges, another unit) -> RANGE_NONE: the whole file */
static int parse_range(const char *v, uint64_t size, uint64_t *from, uint64_t *len)
{
    while (*v == ' ' || *v == '\t') v++;
    if (strncasecmp(v, "bytes", 5) != 0) return RANGE_NONE;
    v += 5;
    while (*v == ' ' || *v == '\t') v++;
    if (*v++ != '=') return RANGE_NONE;
    while (*v == ' ' || *v == '\t') v++;
    uint64_t a = 0, b = 0;
    int ofa = 0, ofb = 0, has_a = 0, has_b = 0;
    if (*v != '-') {
        if (digits(&v, &a, &ofa) != 0) return RANGE_NONE;
        has_a = 1;
    }
    while (*v == ' ' || *v == '\t') v++;
    if (*v++ != '-') return RANGE_NONE;
    while (*v == ' ' || *v == '\t') v++;
    if (*v >= '0' && *v <= '9') {
        digits(&v, &b, &ofb);
        has_b = 1;
    }
    while (*v == ' ' || *v == '\t') v++;
    if (*v) return RANGE_NONE; /* several ranges, or junk */
    if (!has_a) { /* the last b bytes */
        if (!has_b) return RANGE_NONE;
        if (b == 0 || size == 0) return RANGE_UNSAT;
        if (ofb || b > size) b = size;
        *from = size - b;
        *len = b;
        return RANGE_ONE;
    }
    if (has_b && !ofa && !ofb && b < a) return RANGE_NONE; /* invalid: ignored */
    if (ofa || a >= size) return RANGE_UNSAT;
    uint64_t last = has_b && !ofb && b < size - 1 ? b : size - 1;
    *from = a;
    *len = last - a + 1;
    return RANGE_ONE;
}

/* ------------------------------------------------------------ headers */
static int attr_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("!#$&+-.^_`|~", c);
}

/* inline|attachment; filename="<ASCII fallback>"; filename*=UTF-8''<pct-encoded> (the
 * latter only when the name is not plain printable ASCII). NULL when too long. */
static char *disposition(h2o_mem_pool_t *pool, const char *filename, int attachment)
{
    const char *kind = attachment ? "attachment" : "inline";
    if (!filename || !*filename) return h2o_strdup(pool, kind, SIZE_MAX).base;
    size_t n = strlen(filename);
    if (n > 1024) return NULL;
    char *out = h2o_mem_alloc_pool(pool, 64 + 4 * n);
    size_t o = (size_t)sprintf(out, "%s; filename=\"", kind);
    int plain = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)filename[i];
        if (c >= 0x80 && (c & 0xc0) == 0x80) { /* a continuation byte: its sequence already gave one '_' */
            plain = 0;
            continue;
        }
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            out[o++] = '_';
            plain = 0;
        } else out[o++] = (char)c;
    }
    out[o++] = '"';
    if (!plain) {
        o += (size_t)sprintf(out + o, "; filename*=UTF-8''");
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)filename[i];
            if (attr_char(c)) out[o++] = (char)c;
            else o += (size_t)sprintf(out + o, "%%%02X", c);
        }
    }
    out[o] = 0;
    return out;
}

static int header_safe(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 0;
    return 1;
}

/* ------------------------------------------------------------ the answer */
int miaw_req_reply_file(miaw_req *r, int status, const char *path, const char *content_type, const char *filename,
                        uint32_t flags)
{
    if (!r || r->answered || r->dead || !r->h2o) return MIAW_E_GONE;
    if (!path || (flags & ~(uint32_t)(MIAW_FILE_F_ATTACHMENT | MIAW_FILE_F_UNLINK)) || status < 200 || status > 599 ||
        (content_type && (!header_safe(content_type) || strlen(content_type) > 255)))
        return MIAW_E_INVAL;
    h2o_req_t *q = r->h2o;
    char *disp = disposition(&q->pool, filename, (flags & MIAW_FILE_F_ATTACHMENT) != 0);
    if (!disp) return MIAW_E_INVAL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0) return MIAW_E_NOTFOUND;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return MIAW_E_NOTFOUND;
    }
    if (flags & MIAW_FILE_F_UNLINK) unlink(path); /* the descriptor keeps the bytes until the answer ends */
    uint64_t size = (uint64_t)st.st_size, from = 0, len = size;
    int is_get = q->method.len == 3 && memcmp(q->method.base, "GET", 3) == 0;
    int is_head = q->method.len == 4 && memcmp(q->method.base, "HEAD", 4) == 0;
    const char *range = is_get && status == 200 ? miaw_req_header(r, "range") : NULL;
    int rk = range && !miaw_req_header(r, "if-range") ? parse_range(range, size, &from, &len) : RANGE_NONE;
    char cr[80];
    miaw_http_add_header(r, "accept-ranges", "bytes");
    if (rk == RANGE_UNSAT) {
        close(fd);
        snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)size);
        miaw_http_add_header(r, "content-range", cr);
        json_t *env = json_pack("{s:b,s:{s:s,s:s,s:{s:s,s:I}}}", "success", 0, "error", "code", "INVALID_REQUEST",
                                "message", "the requested range is not satisfiable", "details", "range", range,
                                "size", (json_int_t)size);
        char *txt = json_dumps(env, JSON_COMPACT);
        json_decref(env);
        int rc = miaw_http_reply_bytes(r, 416, "Range Not Satisfiable", "application/json; charset=utf-8", txt ? txt : "",
                                       txt ? strlen(txt) : 0, "no-store");
        free(txt);
        return rc;
    }
    file_gen *g = h2o_mem_alloc_shared(&q->pool, sizeof *g, gen_dispose);
    memset(g, 0, sizeof *g);
    g->fd = fd;
    g->off = from;
    g->left = len;
    g->super.proceed = gen_proceed;
    g->super.stop = gen_stop;
    if (len && !is_head && !(g->buf = malloc(len < FILE_CHUNK ? (size_t)len : FILE_CHUNK))) {
        gen_close(g);
        return MIAW_E_NOMEM;
    }
    r->answered = 1;
    miaw_http_stop_timer(r);
    q->res.status = rk == RANGE_ONE ? 206 : status;
    q->res.reason = rk == RANGE_ONE ? "Partial Content" : miaw_http_reason(status);
    q->res.content_length = (size_t)len;
    if (rk == RANGE_ONE) {
        snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)from, (unsigned long long)(from + len - 1),
                 (unsigned long long)size);
        miaw_http_add_header(r, "content-range", cr);
    }
    miaw_http_add_header(r, "content-type", content_type && *content_type ? content_type : "application/octet-stream");
    miaw_http_add_header(r, "content-disposition", disp);
    miaw_http_add_header(r, "x-content-type-options", "nosniff");
    miaw_http_add_header(r, "x-request-id", r->id);
    miaw_http_add_header(r, "cache-control", "no-store");
    miaw_http_add_cors(r);
    miaw_http_log_request(r, q->res.status);
    if (!len || is_head) {
        static h2o_generator_t none = {NULL, NULL};
        gen_close(g);
        h2o_start_response(q, &none);
        h2o_send(q, NULL, 0, H2O_SEND_STATE_FINAL);
        return MIAW_OK;
    }
    h2o_start_response(q, &g->super);
    gen_proceed(&g->super, q);
    return MIAW_OK;
}
