/* bench/webhooks/receiver.c - the webhook receiver of the webhooks bench: a small epoll
 * HTTP/1.1 server on 127.0.0.1 (keep-alive, pipelining, answers every POST 200 "OK" at
 * once) so that the receiver is not what limits the dispatchers it measures. For every
 * request it reads X-Miaw-Event-Id, X-Miaw-Instance and X-Miaw-Sequence and the body's
 * "timestamp" (the event's creation, ms epoch), and counts: requests, distinct event ids,
 * duplicates (an id seen before), order violations (a new id whose sequence is below one
 * already seen for its instance), and the event-to-delivery latency of each new id
 * (arrival minus creation, 1 ms bins). One thread; it owns all its memory.
 *
 * Usage: bench_webhooks_receiver [PORT]   (0 or none: a free port)
 * Prints "port N" once listening. Commands on stdin, one answer line each on stdout:
 *   stats        {"requests","distinct","dups","order","bad","firstUs","lastUs","p50Ms",
 *                 "p99Ms","maxMs","cpuMs","conns"}  (lastUs: arrival of the last new id,
 *                 CLOCK_REALTIME microseconds; cpuMs: this process, user + system)
 *   reset        forgets everything counted (connections stay open); answers "ok"
 *   dump PATH    writes every distinct id, one a line, to PATH; answers "ok N"
 * Exits on EOF on stdin. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_LAT_MS 600000
#define ID_LEN 40
#define INST_LEN 72

/* ---------------------------------------------------------------- counters */
struct idset { char (*k)[ID_LEN]; size_t cap, n; };
struct inst { char name[INST_LEN]; int64_t maxseq; int used; };
struct insts { struct inst *v; size_t cap, n; };

static struct idset g_ids;
static struct insts g_inst;
static uint64_t g_requests, g_dups, g_order, g_bad, g_first_us, g_last_us;
static uint32_t *g_hist; /* [MAX_LAT_MS + 1] */
static int g_conns;

static uint64_t fnv(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static int ids_grow(struct idset *s)
{
    size_t cap = s->cap ? s->cap * 2 : 1 << 16;
    char (*k)[ID_LEN] = calloc(cap, ID_LEN);
    if (!k) return -1;
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->k[i][0]) continue;
        size_t j = fnv(s->k[i], strlen(s->k[i])) & (cap - 1);
        while (k[j][0]) j = (j + 1) & (cap - 1);
        memcpy(k[j], s->k[i], ID_LEN);
    }
    free(s->k);
    s->k = k;
    s->cap = cap;
    return 0;
}

/* 1 when id was new (inserted), 0 when seen before, -1 out of memory */
static int ids_add(struct idset *s, const char *id, size_t n)
{
    if (n == 0 || n >= ID_LEN) return -1;
    if ((s->n + 1) * 2 > s->cap && ids_grow(s) != 0) return -1;
    size_t j = fnv(id, n) & (s->cap - 1);
    while (s->k[j][0]) {
        if (strncmp(s->k[j], id, n) == 0 && s->k[j][n] == 0) return 0;
        j = (j + 1) & (s->cap - 1);
    }
    memcpy(s->k[j], id, n);
    s->k[j][n] = 0;
    s->n++;
    return 1;
}

static struct inst *inst_get(const char *name, size_t n)
{
    if (n == 0 || n >= INST_LEN) return NULL;
    if ((g_inst.n + 1) * 2 > g_inst.cap) {
        size_t cap = g_inst.cap ? g_inst.cap * 2 : 4096;
        struct inst *v = calloc(cap, sizeof *v);
        if (!v) return NULL;
        for (size_t i = 0; i < g_inst.cap; i++) {
            if (!g_inst.v[i].used) continue;
            size_t j = fnv(g_inst.v[i].name, strlen(g_inst.v[i].name)) & (cap - 1);
            while (v[j].used) j = (j + 1) & (cap - 1);
            v[j] = g_inst.v[i];
        }
        free(g_inst.v);
        g_inst.v = v;
        g_inst.cap = cap;
    }
    size_t j = fnv(name, n) & (g_inst.cap - 1);
    while (g_inst.v[j].used) {
        if (strncmp(g_inst.v[j].name, name, n) == 0 && g_inst.v[j].name[n] == 0) return &g_inst.v[j];
        j = (j + 1) & (g_inst.cap - 1);
    }
    memcpy(g_inst.v[j].name, name, n);
    g_inst.v[j].name[n] = 0;
    g_inst.v[j].used = 1;
    g_inst.v[j].maxseq = -1;
    g_inst.n++;
    return &g_inst.v[j];
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void reset(void)
{
    if (g_ids.k) memset(g_ids.k, 0, g_ids.cap * ID_LEN);
    g_ids.n = 0;
    if (g_inst.v) memset(g_inst.v, 0, g_inst.cap * sizeof *g_inst.v);
    g_inst.n = 0;
    memset(g_hist, 0, (MAX_LAT_MS + 1) * sizeof *g_hist);
    g_requests = g_dups = g_order = g_bad = g_first_us = g_last_us = 0;
}

/* one request's header values (pointers into the connection buffer) and body */
struct req { const char *id, *inst, *seq; size_t idn, instn, seqn; const char *body; size_t bodyn; };

static void count(const struct req *r)
{
    g_requests++;
    int fresh = r->id ? ids_add(&g_ids, r->id, r->idn) : -1;
    if (fresh < 0) {
        g_bad++;
        return;
    }
    if (!fresh) {
        g_dups++;
        return;
    }
    uint64_t t = now_us();
    if (!g_first_us) g_first_us = t;
    g_last_us = t;
    struct inst *in = r->inst ? inst_get(r->inst, r->instn) : NULL;
    if (in && r->seq) {
        int64_t seq = strtoll(r->seq, NULL, 10);
        if (seq < in->maxseq) g_order++;
        else in->maxseq = seq;
    }
    const char *p = r->body ? memmem(r->body, r->bodyn, "\"timestamp\":", 12) : NULL;
    if (p) {
        int64_t ts = strtoll(p + 12, NULL, 10), lat = (int64_t)(t / 1000) - ts;
        if (lat < 0) lat = 0;
        if (lat > MAX_LAT_MS) lat = MAX_LAT_MS;
        g_hist[lat]++;
    }
}

static long pct(double q)
{
    uint64_t total = 0, seen = 0;
    for (int i = 0; i <= MAX_LAT_MS; i++) total += g_hist[i];
    if (!total) return -1;
    uint64_t want = (uint64_t)(q * (double)total + 0.999999);
    if (want < 1) want = 1;
    for (int i = 0; i <= MAX_LAT_MS; i++)
        if ((seen += g_hist[i]) >= want) return i;
    return MAX_LAT_MS;
}

static long max_lat(void)
{
    for (int i = MAX_LAT_MS; i >= 0; i--)
        if (g_hist[i]) return i;
    return -1;
}

/* ---------------------------------------------------------------- HTTP */
struct conn { int fd; char *buf; size_t len, cap; };

static const char OK[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nOK";

static int hdr_is(const char *line, size_t n, const char *name)
{
    size_t l = strlen(name);
    return n > l && line[l] == ':' && strncasecmp(line, name, l) == 0;
}

static void hdr_val(const char *line, size_t n, size_t namelen, const char **v, size_t *vn)
{
    size_t i = namelen + 1;
    while (i < n && (line[i] == ' ' || line[i] == '\t')) i++;
    size_t e = n;
    while (e > i && (line[e - 1] == ' ' || line[e - 1] == '\t')) e--;
    *v = line + i;
    *vn = e - i;
}

/* parses and answers every complete request in c->buf; -1 closes the connection */
static int serve(struct conn *c)
{
    size_t off = 0;
    char out[64 * (sizeof OK)];
    size_t outn = 0;
    int close_after = 0;
    while (!close_after) {
        char *start = c->buf + off, *end = memmem(start, c->len - off, "\r\n\r\n", 4);
        if (!end) break;
        size_t hlen = (size_t)(end - start) + 4, clen = 0;
        struct req r = {0};
        char *line = memchr(start, '\n', hlen);
        while (line && line + 1 < end) {
            char *l = line + 1, *nl = memchr(l, '\r', (size_t)(end + 2 - l));
            size_t n = (size_t)(nl - l);
            if (hdr_is(l, n, "content-length")) clen = (size_t)strtoul(l + 15, NULL, 10);
            else if (hdr_is(l, n, "x-miaw-event-id")) hdr_val(l, n, 15, &r.id, &r.idn);
            else if (hdr_is(l, n, "x-miaw-instance")) hdr_val(l, n, 15, &r.inst, &r.instn);
            else if (hdr_is(l, n, "x-miaw-sequence")) hdr_val(l, n, 15, &r.seq, &r.seqn);
            else if (hdr_is(l, n, "connection") && n >= 17 && strncasecmp(l + n - 5, "close", 5) == 0) close_after = 1;
            line = memchr(l, '\n', (size_t)(end + 4 - l));
        }
        if (c->len - off < hlen + clen) break; /* body not complete yet */
        r.body = start + hlen;
        r.bodyn = clen;
        count(&r);
        off += hlen + clen;
        memcpy(out + outn, OK, sizeof OK - 1);
        outn += sizeof OK - 1;
        if (outn + sizeof OK > sizeof out) {
            if (write(c->fd, out, outn) != (ssize_t)outn) return -1;
            outn = 0;
        }
    }
    if (outn && write(c->fd, out, outn) != (ssize_t)outn) return -1;
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
    return close_after ? -1 : 0;
}

static void conn_close(int ep, struct conn *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->buf);
    free(c);
    g_conns--;
}

static void on_readable(int ep, struct conn *c)
{
    for (;;) {
        if (c->cap - c->len < 4096) {
            size_t cap = c->cap ? c->cap * 2 : 16384;
            char *b = realloc(c->buf, cap);
            if (!b) return conn_close(ep, c);
            c->buf = b;
            c->cap = cap;
        }
        ssize_t n = read(c->fd, c->buf + c->len, c->cap - c->len);
        if (n > 0) {
            c->len += (size_t)n;
            if (serve(c) != 0) return conn_close(ep, c);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n < 0 && errno == EINTR) continue;
        return conn_close(ep, c);
    }
}

/* ---------------------------------------------------------------- control */
static void command(char *line)
{
    if (strcmp(line, "stats") == 0) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        double cpu = (double)ru.ru_utime.tv_sec * 1e3 + (double)ru.ru_utime.tv_usec / 1e3 +
                     (double)ru.ru_stime.tv_sec * 1e3 + (double)ru.ru_stime.tv_usec / 1e3;
        printf("{\"requests\":%llu,\"distinct\":%zu,\"dups\":%llu,\"order\":%llu,\"bad\":%llu,\"firstUs\":%llu,"
               "\"lastUs\":%llu,\"p50Ms\":%ld,\"p99Ms\":%ld,\"maxMs\":%ld,\"cpuMs\":%.1f,\"conns\":%d}\n",
               (unsigned long long)g_requests, g_ids.n, (unsigned long long)g_dups, (unsigned long long)g_order,
               (unsigned long long)g_bad, (unsigned long long)g_first_us, (unsigned long long)g_last_us, pct(0.5),
               pct(0.99), max_lat(), cpu, g_conns);
    } else if (strcmp(line, "reset") == 0) {
        reset();
        printf("ok\n");
    } else if (strncmp(line, "dump ", 5) == 0) {
        FILE *f = fopen(line + 5, "w");
        size_t n = 0;
        for (size_t i = 0; f && i < g_ids.cap; i++)
            if (g_ids.k[i][0]) fprintf(f, "%s\n", g_ids.k[i]), n++;
        if (f) fclose(f);
        printf(f ? "ok %zu\n" : "error\n", n);
    } else {
        printf("error unknown command\n");
    }
    fflush(stdout);
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 0;
    g_hist = calloc(MAX_LAT_MS + 1, sizeof *g_hist);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (!g_hist || ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 4096) != 0 ||
        getsockname(ls, (struct sockaddr *)&a, &al) != 0) {
        perror("receiver: listen");
        return 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    static int stdin_tag;
    ev.data.ptr = &stdin_tag;
    epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);
    printf("port %d\n", ntohs(a.sin_port));
    fflush(stdout);
    char cmd[4096];
    size_t cmdn = 0;
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (!p) {
                int fd;
                while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct conn *c = calloc(1, sizeof *c);
                    if (!c) {
                        close(fd);
                        continue;
                    }
                    c->fd = fd;
                    struct epoll_event ce = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ce);
                    g_conns++;
                }
            } else if (p == &stdin_tag) {
                ssize_t r = read(0, cmd + cmdn, sizeof cmd - 1 - cmdn);
                if (r <= 0) return 0; /* the driver went away */
                cmdn += (size_t)r;
                char *nl;
                while ((nl = memchr(cmd, '\n', cmdn))) {
                    *nl = 0;
                    command(cmd);
                    size_t used = (size_t)(nl - cmd) + 1;
                    memmove(cmd, nl + 1, cmdn - used);
                    cmdn -= used;
                }
                if (cmdn == sizeof cmd - 1) cmdn = 0;
            } else {
                on_readable(ep, p);
            }
        }
    }
    return 0;
}
