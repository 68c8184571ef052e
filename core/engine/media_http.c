/* core/engine/media_http.c - HTTPS for media transfers: one libcurl multi handle driven
 * by the server's libuv loop (CURLMOPT_SOCKETFUNCTION -> a uv_poll per socket,
 * CURLMOPT_TIMERFUNCTION -> one uv_timer), GETs and streamed POSTs with a connect
 * deadline and a stall timeout, at most 3 redirects, https only, and extra CA files
 * trusted on top of the system's. Owns the multi handle, its handles and every request
 * until it is done or cancelled; a request cancelled inside a libcurl callback is
 * removed once libcurl has returned. */
#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "engine/media_int.h"

struct eng_mreq {
    eng_mhttp *h;
    CURL *easy;
    struct curl_slist *hdrs;
    eng_mreq_cbs cbs;
    void *ud;
    int cancelled;
    char errbuf[CURL_ERROR_SIZE];
    char range[32];
    eng_mreq *next, *prev;
};

struct sockctx {
    uv_poll_t poll;
    curl_socket_t fd;
    eng_mhttp *h;
    struct sockctx *next, *prev;
};

struct eng_mhttp {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t *timer;
    unsigned timeout_ms;
    X509 **cas;
    size_t ncas;
    int depth;    /* inside curl_multi_socket_action: requests are only marked cancelled */
    int closing;
    eng_mreq *reqs;
    struct sockctx *socks;
};

/* ---------------------------------------------------------------- requests */
static void req_unlink_free(eng_mreq *r)
{
    eng_mhttp *h = r->h;
    if (r->prev) r->prev->next = r->next;
    else h->reqs = r->next;
    if (r->next) r->next->prev = r->prev;
    curl_multi_remove_handle(h->multi, r->easy);
    curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->hdrs);
    free(r);
}

void eng_mreq_cancel(eng_mreq *r)
{
    if (!r || r->cancelled) return;
    r->cancelled = 1;
    if (!r->h->depth) req_unlink_free(r);
}

static void reap(eng_mhttp *h)
{
    eng_mreq *r = h->reqs, *next;
    for (; r; r = next) {
        next = r->next;
        if (r->cancelled) req_unlink_free(r);
    }
}

static void check_done(eng_mhttp *h)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(h->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        eng_mreq *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        if (!r) continue;
        CURLcode res = m->data.result; /* m is invalid once the handle is removed */
        long status = 0;
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
        char msg[CURL_ERROR_SIZE + 64];
        snprintf(msg, sizeof msg, "%s", r->errbuf[0] ? r->errbuf : curl_easy_strerror(res));
        eng_mreq_cbs cbs = r->cbs;
        void *ud = r->ud;
        int cancelled = r->cancelled;
        req_unlink_free(r);
        if (!cancelled) cbs.done(ud, res == CURLE_OK ? 0 : (int)res, status, msg);
    }
}

static void drive(eng_mhttp *h, curl_socket_t s, int flags)
{
    int running;
    h->depth++;
    curl_multi_socket_action(h->multi, s, flags, &running);
    h->depth--;
    reap(h);
    check_done(h);
}

/* ---------------------------------------------------------------- curl glue */
static void on_sock_closed(uv_handle_t *hd) { free(hd->data); }

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct sockctx *c = p->data;
    int flags = 0;
    if (status < 0) flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    drive(c->h, c->fd, flags);
}

static void sock_close(eng_mhttp *h, struct sockctx *c)
{
    if (c->prev) c->prev->next = c->next;
    else h->socks = c->next;
    if (c->next) c->next->prev = c->prev;
    uv_poll_stop(&c->poll);
    uv_close((uv_handle_t *)&c->poll, on_sock_closed);
}

static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)e;
    eng_mhttp *h = userp;
    struct sockctx *c = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (c) {
            sock_close(h, c);
            curl_multi_assign(h->multi, s, NULL);
        }
        return 0;
    }
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c) return -1;
        c->fd = s;
        c->h = h;
        if (uv_poll_init_socket(h->loop, &c->poll, s) != 0) {
            free(c);
            return -1;
        }
        c->poll.data = c;
        c->next = h->socks;
        if (h->socks) h->socks->prev = c;
        h->socks = c;
        curl_multi_assign(h->multi, s, c);
    }
    int ev = 0;
    if (what & CURL_POLL_IN) ev |= UV_READABLE;
    if (what & CURL_POLL_OUT) ev |= UV_WRITABLE;
    uv_poll_start(&c->poll, ev, on_poll);
    return 0;
}

static void on_timer(uv_timer_t *t) { drive(t->data, CURL_SOCKET_TIMEOUT, 0); }

static int on_timer_change(CURLM *m, long timeout_ms, void *userp)
{
    (void)m;
    eng_mhttp *h = userp;
    if (h->closing) return 0;
    if (timeout_ms < 0) uv_timer_stop(h->timer);
    else uv_timer_start(h->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

static size_t on_read(char *buf, size_t sz, size_t n, void *ud)
{
    eng_mreq *r = ud;
    if (r->cancelled || !r->cbs.read) return CURL_READFUNC_ABORT;
    size_t got = r->cbs.read(r->ud, buf, sz * n);
    return got == ENG_MREAD_ABORT ? CURL_READFUNC_ABORT : got;
}

static size_t on_write(char *p, size_t sz, size_t n, void *ud)
{
    eng_mreq *r = ud;
    long status = 0;
    if (r->cancelled) return 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    return r->cbs.write(r->ud, status, p, sz * n) ? 0 : sz * n;
}

/* the extra CAs join the system's in every new TLS context */
static CURLcode on_ssl_ctx(CURL *c, void *ssl_ctx, void *ud)
{
    (void)c;
    eng_mhttp *h = ud;
    X509_STORE *st = SSL_CTX_get_cert_store(ssl_ctx);
    for (size_t i = 0; st && i < h->ncas; i++) X509_STORE_add_cert(st, h->cas[i]); /* duplicates are fine */
    ERR_clear_error();
    return CURLE_OK;
}

static eng_mreq *start(eng_mhttp *h, const char *url, int post, uint64_t len, uint64_t range_from,
                       const eng_mreq_cbs *cbs, void *ud)
{
    if (h->closing || !url || strncmp(url, "https://", 8) != 0) return NULL;
    eng_mreq *r = calloc(1, sizeof *r);
    if (!r || !(r->easy = curl_easy_init())) {
        free(r);
        return NULL;
    }
    r->h = h;
    r->cbs = *cbs;
    r->ud = ud;
    CURL *c = r->easy;
    long secs = (long)(h->timeout_ms + 999) / 1000;
    r->hdrs = curl_slist_append(r->hdrs, "Origin: https://web.whatsapp.com");
    r->hdrs = curl_slist_append(r->hdrs, "Referer: https://web.whatsapp.com/");
    if (post) {
        r->hdrs = curl_slist_append(r->hdrs, "Content-Type: application/octet-stream");
        r->hdrs = curl_slist_append(r->hdrs, "Expect:"); /* no 100-continue round trip */
    }
    int bad = !r->hdrs;
    bad |= curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https") != CURLE_OK;
    curl_easy_setopt(c, CURLOPT_PRIVATE, r);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, r->hdrs);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "miaw");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)h->timeout_ms);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L); /* under 1 byte/s for the timeout: stalled */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, secs > 0 ? secs : 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 65536L);
    if (h->ncas) {
        curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
        curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, h);
    }
    if (post) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, r);
    } else {
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
        if (range_from) {
            snprintf(r->range, sizeof r->range, "%llu-", (unsigned long long)range_from);
            curl_easy_setopt(c, CURLOPT_RANGE, r->range);
        }
    }
    r->next = h->reqs;
    if (h->reqs) h->reqs->prev = r;
    h->reqs = r;
    if (bad || curl_multi_add_handle(h->multi, c) != CURLM_OK) {
        if (bad) MIAW_WARN("media", "cannot set up a request (libcurl without https?)");
        req_unlink_free(r);
        return NULL;
    }
    return r;
}

eng_mreq *eng_mhttp_get(eng_mhttp *h, const char *url, uint64_t range_from, const eng_mreq_cbs *cbs, void *ud)
{
    return start(h, url, 0, 0, range_from, cbs, ud);
}

eng_mreq *eng_mhttp_post(eng_mhttp *h, const char *url, uint64_t body_len, const eng_mreq_cbs *cbs, void *ud)
{
    return start(h, url, 1, body_len, 0, cbs, ud);
}

/* ---------------------------------------------------------------- lifecycle */
static int load_cas(eng_mhttp *h, const char *file, char *err, size_t errlen)
{
    FILE *f = fopen(file, "r");
    if (!f) return snprintf(err, errlen, "%s: cannot open the CA file", file), -1;
    size_t before = h->ncas;
    X509 *x;
    while ((x = PEM_read_X509(f, NULL, NULL, NULL))) {
        X509 **v = realloc(h->cas, (h->ncas + 1) * sizeof *v);
        if (!v) {
            X509_free(x);
            break;
        }
        h->cas = v;
        h->cas[h->ncas++] = x;
    }
    ERR_clear_error();
    fclose(f);
    if (h->ncas == before) return snprintf(err, errlen, "%s: no PEM certificate in the CA file", file), -1;
    return 0;
}

static void on_handle_closed(uv_handle_t *hd) { free(hd); }

eng_mhttp *eng_mhttp_new(uv_loop_t *loop, const eng_mhttp_opts *o, char *err, size_t errlen)
{
    static int global_init;
    if (!global_init) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return snprintf(err, errlen, "libcurl init"), NULL;
        global_init = 1;
    }
    eng_mhttp *h = calloc(1, sizeof *h);
    if (!h) return snprintf(err, errlen, "out of memory"), NULL;
    h->loop = loop;
    h->timeout_ms = o->timeout_ms ? o->timeout_ms : 30000;
    for (size_t i = 0; i < o->nca_files; i++)
        if (o->ca_files[i] && *o->ca_files[i] && load_cas(h, o->ca_files[i], err, errlen) != 0) goto fail;
    h->multi = curl_multi_init();
    h->timer = malloc(sizeof *h->timer);
    if (!h->multi || !h->timer) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    uv_timer_init(loop, h->timer);
    h->timer->data = h;
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_timer_change);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, 16L);
    return h;
fail:
    if (h->multi) curl_multi_cleanup(h->multi);
    free(h->timer);
    for (size_t i = 0; i < h->ncas; i++) X509_free(h->cas[i]);
    free(h->cas);
    free(h);
    return NULL;
}

void eng_mhttp_free(eng_mhttp *h)
{
    if (!h) return;
    h->closing = 1;
    h->depth = 0;
    while (h->reqs) req_unlink_free(h->reqs);
    curl_multi_cleanup(h->multi);
    while (h->socks) sock_close(h, h->socks);
    uv_timer_stop(h->timer);
    uv_close((uv_handle_t *)h->timer, on_handle_closed);
    for (size_t i = 0; i < h->ncas; i++) X509_free(h->cas[i]);
    free(h->cas);
    free(h);
}
