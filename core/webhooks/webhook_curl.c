/* core/webhooks/webhook_curl.c - libcurl multi on the libuv loop (see webhook_curl.h). Owns
 * the multi handle, the timer that serves curl's timeouts, and the poll handle of each
 * socket curl uses, in a table by descriptor. Finished transfers go to the owner's
 * callback; what a transfer sends and what its outcome means is the owner's business. */
#include "webhooks/webhook_curl.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct sockctx {
    uv_poll_t poll;
    curl_socket_t fd;
    miaw_wh_curl *c;
    int events; /* what the poll handle watches now (UV_READABLE | UV_WRITABLE), 0: stopped */
    int parked; /* curl said REMOVE: its connection is idle in the cache */
    int conn;   /* a TCP connection: kept at REMOVE (curl closes it through on_closesocket) */
};

struct miaw_wh_curl {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t *timer;
    miaw_wh_curl_done_fn done;
    void *ud;
    int closing;
    /* the poll handle of each socket curl has, by descriptor: the only record of them.
     * A handle is made only for a descriptor without one and leaves when it is closed,
     * so every live handle is at its own descriptor (cleanup walks this) */
    struct sockctx **byfd;
    size_t nbyfd;
};

/* hands every finished transfer to the owner (who may remove its handle meanwhile) */
static void check_done(miaw_wh_curl *c)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        CURL *e = m->easy_handle; /* m is curl's until the next read or a removal: copied first */
        CURLcode res = m->data.result;
        c->done(c->ud, e, res);
    }
}

static void on_sock_closed(uv_handle_t *h) { free(h->data); }

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct sockctx *s = p->data;
    miaw_wh_curl *c = s->c;
    if (s->parked) { /* an idle connection woke (the receiver closed it): curl sees it on reuse */
        uv_poll_stop(&s->poll);
        s->events = 0;
        return;
    }
    int flags = 0, running;
    if (status < 0) flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(c->multi, s->fd, flags, &running);
    check_done(c);
}

/* the poll handle of a connection's socket lives as long as the socket: curl says REMOVE
 * when a connection goes idle into its cache and asks again when it is reused. The
 * handle keeps watching what it watched (parked: a wake-up only stops it), so a reuse
 * that asks for the same events costs no system call (closing, allocating and
 * registering anew cost three and a free per delivery before, stopping and starting
 * two); it is closed by on_closesocket, before the socket. Other sockets curl has
 * watched lose their handle at REMOVE: the threaded resolver's socket pair is closed by
 * curl itself, without on_closesocket, right after (a handle left started on it would
 * watch a closed descriptor, or one reused by anything else on the loop, and libuv
 * aborts when it registers a descriptor already closed) */
static struct sockctx *sock_find(miaw_wh_curl *c, curl_socket_t fd)
{
    return fd >= 0 && (size_t)fd < c->nbyfd ? c->byfd[fd] : NULL;
}

static void sock_close(miaw_wh_curl *c, struct sockctx *s)
{
    if ((size_t)s->fd < c->nbyfd && c->byfd[s->fd] == s) c->byfd[s->fd] = NULL;
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

static struct sockctx *sock_new(miaw_wh_curl *c, curl_socket_t fd)
{
    if (fd < 0) return NULL;
    if ((size_t)fd >= c->nbyfd) {
        size_t n = (size_t)fd + 64;
        struct sockctx **p = realloc(c->byfd, n * sizeof *p);
        if (!p) return NULL;
        memset(p + c->nbyfd, 0, (n - c->nbyfd) * sizeof *p);
        c->byfd = p;
        c->nbyfd = n;
    }
    struct sockctx *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->fd = fd;
    s->c = c;
    if (uv_poll_init_socket(c->loop, &s->poll, fd) != 0) {
        free(s);
        return NULL;
    }
    s->poll.data = s;
    struct sockaddr_storage a;
    socklen_t al = sizeof a;
    s->conn = getsockname(fd, (struct sockaddr *)&a, &al) == 0 && (a.ss_family == AF_INET || a.ss_family == AF_INET6);
    c->byfd[fd] = s;
    return s;
}

static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)e;
    miaw_wh_curl *c = userp;
    if (c->closing) return 0; /* (the handles are closing) */
    struct sockctx *s = socketp ? socketp : sock_find(c, fd);
    if (what == CURL_POLL_REMOVE) {
        if (s && s->conn) s->parked = 1;
        else if (s) sock_close(c, s); /* while curl still has it open */
        return 0;
    }
    if (!s && !(s = sock_new(c, fd))) return -1;
    if (!socketp) curl_multi_assign(c->multi, fd, s);
    int ev = 0;
    if (what & CURL_POLL_IN) ev |= UV_READABLE;
    if (what & CURL_POLL_OUT) ev |= UV_WRITABLE;
    s->parked = 0;
    if (ev != s->events) {
        uv_poll_start(&s->poll, ev, on_poll);
        s->events = ev;
    }
    return 0;
}

/* curl closes a socket (connection done, cache full, error, cleanup): its poll handle
 * first, so the loop never watches a descriptor number that is closed or reused */
static int on_closesocket(void *ud, curl_socket_t fd)
{
    miaw_wh_curl *c = ud;
    struct sockctx *s = sock_find(c, fd);
    if (s) sock_close(c, s);
    return close(fd);
}

static void on_timer(uv_timer_t *t)
{
    miaw_wh_curl *c = t->data;
    int running;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(c);
}

static int on_timer_change(CURLM *m, long timeout_ms, void *userp)
{
    (void)m;
    miaw_wh_curl *c = userp;
    if (c->closing) return 0;
    if (timeout_ms < 0) uv_timer_stop(c->timer);
    else uv_timer_start(c->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

miaw_wh_curl *miaw_wh_curl_new(uv_loop_t *loop, long maxconnects, miaw_wh_curl_done_fn done, void *ud)
{
    static int global_init;
    if (!global_init) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        global_init = 1;
    }
    miaw_wh_curl *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->loop = loop;
    c->done = done;
    c->ud = ud;
    c->multi = curl_multi_init();
    c->timer = malloc(sizeof *c->timer);
    if (!c->multi || !c->timer) {
        curl_multi_cleanup(c->multi);
        free(c->timer);
        free(c);
        return NULL;
    }
    uv_timer_init(loop, c->timer);
    c->timer->data = c;
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer_change);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, maxconnects);
    return c;
}

static void on_timer_closed(uv_handle_t *h) { free(h); }

void miaw_wh_curl_free(miaw_wh_curl *c)
{
    if (!c) return;
    c->closing = 1;
    /* every poll handle first, while its descriptor is still open; curl then closes the
     * cached connections (on_closesocket finds no handle left) */
    for (size_t fd = 0; fd < c->nbyfd; fd++)
        if (c->byfd[fd]) sock_close(c, c->byfd[fd]);
    curl_multi_cleanup(c->multi);
    free(c->byfd);
    uv_close((uv_handle_t *)c->timer, on_timer_closed);
    free(c);
}

int miaw_wh_curl_add(miaw_wh_curl *c, CURL *easy)
{
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, on_closesocket);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, c);
    return curl_multi_add_handle(c->multi, easy) == CURLM_OK ? 0 : -1;
}

void miaw_wh_curl_remove(miaw_wh_curl *c, CURL *easy) { curl_multi_remove_handle(c->multi, easy); }

void miaw_wh_curl_run(miaw_wh_curl *c)
{
    int running;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(c);
}
