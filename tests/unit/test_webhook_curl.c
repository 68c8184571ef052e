/* tests/unit/test_webhook_curl.c - libcurl multi on the libuv loop (webhook_curl.c), against
 * a small HTTP/1.1 receiver on 127.0.0.1 in a thread of its own: a run starts an added
 * transfer at once; a kept-alive connection keeps one poll handle, on its open socket, and
 * is reused; a connection the receiver ends while it is idle stops its poll handle (no busy
 * loop) and, once curl closes the socket, its handle is closed too (a new connection gets
 * a new handle; never two handles on one descriptor, never one on a closed one); freeing
 * the glue with several idle connections closes every poll handle, the timer and the
 * sockets; the socket pair of curl's threaded resolver keeps no poll handle once curl
 * is done with it. */
#include "harness.h"

#include "webhooks/webhook_curl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ------------------------------------------------------------ receiver */
#define MAXCONN 32
struct srv {
    int lfd, port, wake[2];
    pthread_t th;
    pthread_mutex_t mu; /* conns, reqs, close_after */
    int conns, reqs;
    int close_after; /* 1: ends each connection after its answer, unasked (no Connection: close) */
};

static void *srv_thread(void *arg)
{
    struct srv *s = arg;
    struct pollfd pf[MAXCONN + 2];
    char buf[MAXCONN][2048];
    size_t len[MAXCONN];
    int n = 0;
    for (;;) {
        pf[0] = (struct pollfd){.fd = s->wake[0], .events = POLLIN};
        pf[1] = (struct pollfd){.fd = s->lfd, .events = POLLIN};
        if (poll(pf, (nfds_t)n + 2, -1) < 0 && errno != EINTR) break;
        if (pf[0].revents) break;
        for (int i = 0; i < n; i++) {
            if (!pf[i + 2].revents) continue;
            ssize_t r = read(pf[i + 2].fd, buf[i] + len[i], sizeof buf[i] - len[i]);
            int end = r <= 0;
            if (r > 0) len[i] += (size_t)r;
            char *eoh;
            while (!end && (eoh = memmem(buf[i], len[i], "\r\n\r\n", 4))) { /* GETs: no body */
                static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK";
                size_t hl = (size_t)(eoh - buf[i]) + 4;
                memmove(buf[i], buf[i] + hl, len[i] - hl);
                len[i] -= hl;
                pthread_mutex_lock(&s->mu); /* counted before the client can see the answer */
                s->reqs++;
                end = s->close_after;
                pthread_mutex_unlock(&s->mu);
                if (write(pf[i + 2].fd, ok, sizeof ok - 1) != (ssize_t)(sizeof ok - 1)) end = 1;
            }
            if (end) { /* closed here: the last one takes its place */
                close(pf[i + 2].fd);
                n--;
                pf[i + 2] = pf[n + 2];
                memcpy(buf[i], buf[n], len[n]);
                len[i] = len[n];
                pf[i + 2].revents = 0; /* (seen again at the next poll) */
                i--;
            }
        }
        if (pf[1].revents & POLLIN) {
            int fd = accept(s->lfd, NULL, NULL);
            if (fd >= 0 && n < MAXCONN) {
                pf[n + 2] = (struct pollfd){.fd = fd, .events = POLLIN};
                len[n++] = 0;
                pthread_mutex_lock(&s->mu);
                s->conns++;
                pthread_mutex_unlock(&s->mu);
            } else if (fd >= 0) {
                close(fd);
            }
        }
    }
    for (int i = 0; i < n; i++) close(pf[i + 2].fd);
    return NULL;
}

static void srv_start(struct srv *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    CU_ASSERT_EQUAL_FATAL(pipe(s->wake), 0);
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    CU_ASSERT_EQUAL_FATAL(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
    CU_ASSERT_EQUAL_FATAL(listen(s->lfd, 16), 0);
    getsockname(s->lfd, (struct sockaddr *)&a, &al);
    s->port = ntohs(a.sin_port);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&s->th, NULL, srv_thread, s), 0);
}

static void srv_stop(struct srv *s)
{
    CU_ASSERT_EQUAL(write(s->wake[1], "q", 1), 1);
    pthread_join(s->th, NULL);
    close(s->lfd);
    close(s->wake[0]);
    close(s->wake[1]);
    pthread_mutex_destroy(&s->mu);
}

static int srv_get(struct srv *s, int *field)
{
    pthread_mutex_lock(&s->mu);
    int v = *field;
    pthread_mutex_unlock(&s->mu);
    return v;
}

/* ------------------------------------------------------------ client side */
struct fix {
    uv_loop_t loop;
    uv_timer_t deadline;
    miaw_wh_curl *c;
    struct srv s;
    char url[64];
    int done, want, failed; /* failed: transfers without a 200 */
};

static void on_done(void *ud, CURL *e, CURLcode res)
{
    struct fix *f = ud;
    long code = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    if (res != CURLE_OK || code != 200) f->failed++;
    miaw_wh_curl_remove(f->c, e); /* the contract: the callback may remove it */
    if (++f->done >= f->want) uv_stop(&f->loop);
}

static void on_deadline(uv_timer_t *t) { uv_stop(t->loop); }

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return sz * n;
}

static void fix_open(struct fix *f, long maxconnects)
{
    memset(f, 0, sizeof *f);
    uv_loop_init(&f->loop);
    uv_timer_init(&f->loop, &f->deadline);
    srv_start(&f->s);
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d/", f->s.port);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f->c = miaw_wh_curl_new(&f->loop, maxconnects, on_done, f));
}

static CURL *easy(struct fix *f)
{
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, f->url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
    return e;
}

/* runs the loop until `want` transfers in all are done, at most 5 s */
static void run_until(struct fix *f, int want)
{
    f->want = want;
    uv_timer_start(&f->deadline, on_deadline, 5000, 0);
    if (f->done < want) uv_run(&f->loop, UV_RUN_DEFAULT);
    uv_timer_stop(&f->deadline);
    CU_ASSERT_EQUAL(f->done, want);
}

/* runs the loop for ms (what is due meanwhile happens) */
static void run_for(struct fix *f, uint64_t ms)
{
    f->want = 1 << 30;
    uv_timer_start(&f->deadline, on_deadline, ms, 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
}

/* the poll handles on the loop that are not closing */
struct polls { int live, active, fds[MAXCONN]; uv_handle_t *h[MAXCONN]; };
static void walk_poll(uv_handle_t *h, void *ud)
{
    struct polls *p = ud;
    uv_os_fd_t fd;
    if (h->type != UV_POLL || uv_is_closing(h) || p->live == MAXCONN || uv_fileno(h, &fd) != 0) return;
    p->h[p->live] = h;
    p->fds[p->live++] = fd;
    if (uv_is_active(h)) p->active++;
}

/* each live poll handle watches an open socket connected to the receiver, none shares
 * its descriptor with another */
static struct polls polls_check(struct fix *f)
{
    struct polls p = {0};
    uv_walk(&f->loop, walk_poll, &p);
    for (int i = 0; i < p.live; i++) {
        struct sockaddr_in a;
        socklen_t al = sizeof a;
        CU_ASSERT(fcntl(p.fds[i], F_GETFD) != -1);
        CU_ASSERT_EQUAL(getpeername(p.fds[i], (struct sockaddr *)&a, &al), 0);
        CU_ASSERT_EQUAL(ntohs(a.sin_port), f->s.port);
        for (int k = 0; k < i; k++) CU_ASSERT_NOT_EQUAL(p.fds[k], p.fds[i]);
    }
    return p;
}

static void fix_close(struct fix *f)
{
    miaw_wh_curl_free(f->c);
    srv_stop(&f->s);
    uv_close((uv_handle_t *)&f->deadline, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT); /* the close callbacks (a handle left active would block a full run) */
    CU_ASSERT_FALSE(uv_loop_alive(&f->loop));
    int rc = uv_loop_close(&f->loop);
    if (rc != 0) uv_print_all_handles(&f->loop, stderr);
    CU_ASSERT_EQUAL(rc, 0);
}

/* ------------------------------------------------------------ tests */
static void test_keepalive_parks_and_reuses(void)
{
    struct fix f;
    fix_open(&f, 4);
    CURL *e = easy(&f);
    CU_ASSERT_EQUAL(miaw_wh_curl_add(f.c, e), 0);
    CU_ASSERT_EQUAL(polls_check(&f).live, 0); /* nothing before curl runs */
    miaw_wh_curl_run(f.c);                    /* connects now, not a loop turn later */
    CU_ASSERT_EQUAL(polls_check(&f).live, 1);
    run_until(&f, 1);
    struct polls p = polls_check(&f); /* the connection is idle in curl's cache: its handle stays */
    CU_ASSERT_EQUAL(p.live, 1);
    int fd = p.fds[0];
    CU_ASSERT_EQUAL(miaw_wh_curl_add(f.c, e), 0); /* again on the same connection */
    run_until(&f, 2);
    p = polls_check(&f);
    CU_ASSERT_EQUAL(p.live, 1);
    CU_ASSERT_EQUAL(p.fds[0], fd);
    CU_ASSERT_EQUAL(srv_get(&f.s, &f.s.conns), 1);
    CU_ASSERT_EQUAL(srv_get(&f.s, &f.s.reqs), 2);
    CU_ASSERT_EQUAL(f.failed, 0);
    fix_close(&f);
    curl_easy_cleanup(e);
    CU_ASSERT_EQUAL(fcntl(fd, F_GETFD), -1); /* the cached connection was closed */
}

static void test_receiver_ends_idle_connection(void)
{
    struct fix f;
    fix_open(&f, 4);
    pthread_mutex_lock(&f.s.mu);
    f.s.close_after = 1;
    pthread_mutex_unlock(&f.s.mu);
    CURL *e = easy(&f);
    uv_handle_t *last = NULL;
    for (int i = 0; i < 5; i++) {
        CU_ASSERT_EQUAL(miaw_wh_curl_add(f.c, e), 0);
        run_until(&f, i + 1);
        run_for(&f, 30); /* the receiver's end reaches the idle socket */
        struct polls p = polls_check(&f);
        CU_ASSERT_EQUAL(p.live, 1);   /* the dead connection's handle went with its socket */
        CU_ASSERT_EQUAL(p.active, 0); /* woken by the end, stopped: no busy loop */
        /* curl closed the dead socket (its descriptor number is likely the new one's):
         * that closed its handle, the new connection has a handle of its own */
        CU_ASSERT_PTR_NOT_EQUAL(p.h[0], last);
        last = p.h[0];
    }
    CU_ASSERT_EQUAL(f.failed, 0);
    CU_ASSERT_EQUAL(srv_get(&f.s, &f.s.conns), 5);
    fix_close(&f);
    curl_easy_cleanup(e);
}

static void test_free_closes_everything(void)
{
    struct fix f;
    fix_open(&f, 4);
    CURL *e[3];
    for (int i = 0; i < 3; i++) CU_ASSERT_EQUAL(miaw_wh_curl_add(f.c, e[i] = easy(&f)), 0);
    run_until(&f, 3);
    CU_ASSERT_EQUAL(f.failed, 0);
    struct polls p = polls_check(&f);
    CU_ASSERT_EQUAL(p.live, 3); /* three connections, idle in the cache */
    CU_ASSERT_EQUAL(srv_get(&f.s, &f.s.conns), 3);
    fix_close(&f); /* no handle left open (uv_loop_close), nothing leaked (ASan) */
    for (int i = 0; i < 3; i++) curl_easy_cleanup(e[i]);
    for (int i = 0; i < p.live; i++) CU_ASSERT_EQUAL(fcntl(p.fds[i], F_GETFD), -1);
}

/* a name resolved by curl's threaded resolver (the host's own name, not "localhost",
 * which curl answers itself) and connections the open-socket callback refuses, as the
 * dispatcher's target policy does (a name that does not resolve ends the same way):
 * curl watches each resolver's socket pair, says REMOVE and closes it itself, without
 * the close-socket callback. No poll handle may stay behind on such a socket: it was
 * kept started on a closed descriptor, and when curl closed it before the loop had
 * registered it libuv aborted (epoll_ctl ADD: EBADF), seen under ASan with these four
 * transfers at once */
static curl_socket_t refuse(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    (void)ud;
    (void)purpose;
    (void)a;
    return CURL_SOCKET_BAD;
}

static void test_resolver_socket_not_kept(void)
{
    struct fix f;
    fix_open(&f, 4);
    char host[256] = "", url[300];
    CU_ASSERT_EQUAL_FATAL(gethostname(host, sizeof host - 1), 0);
    snprintf(url, sizeof url, "http://%s:%d/", host, f.s.port);
    CURL *e[4];
    for (int i = 0; i < 4; i++) {
        e[i] = easy(&f);
        curl_easy_setopt(e[i], CURLOPT_URL, url);
        curl_easy_setopt(e[i], CURLOPT_OPENSOCKETFUNCTION, refuse);
        curl_easy_setopt(e[i], CURLOPT_TIMEOUT_MS, 3000L); /* should the name go to a DNS server */
        CU_ASSERT_EQUAL(miaw_wh_curl_add(f.c, e[i]), 0);
    }
    run_until(&f, 4);
    CU_ASSERT_EQUAL(f.failed, 4);
    CU_ASSERT_EQUAL(polls_check(&f).live, 0); /* no connection was made: no handle left */
    run_for(&f, 20);                          /* and the loop goes on */
    fix_close(&f);
    for (int i = 0; i < 4; i++) curl_easy_cleanup(e[i]);
}

MIAW_TESTS("webhook_curl", MIAW_T(test_keepalive_parks_and_reuses), MIAW_T(test_receiver_ends_idle_connection),
           MIAW_T(test_free_closes_everything), MIAW_T(test_resolver_socket_not_kept))
