/* core/http/httpc.c - libcurl multi driven by the libuv loop (see httpc.h): sockets become
 * uv_polls, libcurl's timer one uv_timer; finished transfers are reported from
 * curl_multi_info_read after libcurl returned, so a callback may cancel or start requests.
 * Owns the multi handle, the poll contexts, the extra CA certificates and the requests. */
#include "http/httpc.h"

#include <ctype.h>
#include <curl/curl.h>
#include <miaw/status.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct miaw_httpc_req {
    miaw_httpc *h;
    CURL *easy;
    struct curl_slist *hdrs;
    miaw_httpc_cbs cbs;
    void *ud;
    int cancelled;
    int too_large; /* the write callback refused bytes past max_bytes */
    uint64_t bytes, max_bytes;
    char errbuf[CURL_ERROR_SIZE];
    char range[32];
    miaw_httpc_req *next, *prev;
};

struct sockctx {
    uv_poll_t poll;
    curl_socket_t fd;
    miaw_httpc *h;
    struct sockctx *next, *prev;
};

struct miaw_httpc {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t *timer;
    X509 **cas;
    size_t ncas;
    int depth; /* inside curl_multi_socket_action: cancelled requests are only marked */
    int closing;
    miaw_httpc_req *reqs;
    struct sockctx *socks;
};

/* ---------------------------------------------------------------- requests */
static void req_unlink_free(miaw_httpc_req *r)
{
    miaw_httpc *h = r->h;
    if (r->prev) r->prev->next = r->next;
    else h->reqs = r->next;
    if (r->next) r->next->prev = r->prev;
    curl_multi_remove_handle(h->multi, r->easy);
    curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->hdrs);
    free(r);
}

void miaw_httpc_cancel(miaw_httpc_req *r)
{
    if (!r || r->cancelled) return;
    r->cancelled = 1;
    if (!r->h->depth) req_unlink_free(r);
}

static void reap(miaw_httpc *h)
{
    miaw_httpc_req *r = h->reqs, *next;
    for (; r; r = next) {
        next = r->next;
        if (r->cancelled) req_unlink_free(r);
    }
}

static int err_of(CURLcode c, int too_large)
{
    if (c == CURLE_OK) return MIAW_OK;
    if (too_large || c == CURLE_FILESIZE_EXCEEDED) return MIAW_E_LIMIT;
    if (c == CURLE_OPERATION_TIMEDOUT) return MIAW_E_TIMEOUT;
    if (c == CURLE_UNSUPPORTED_PROTOCOL || c == CURLE_URL_MALFORMAT) return MIAW_E_INVAL;
    return MIAW_E_IO;
}

static void check_done(miaw_httpc *h)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(h->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        miaw_httpc_req *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        if (!r) continue;
        CURLcode res = m->data.result; /* m is invalid once the handle is removed */
        miaw_httpc_done d = {.cerr = (int)res, .bytes = r->bytes};
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &d.status);
        curl_easy_getinfo(r->easy, CURLINFO_REDIRECT_COUNT, &d.redirects);
        char *ct = NULL;
        char ctbuf[256] = "";
        if (curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
            snprintf(ctbuf, sizeof ctbuf, "%s", ct);
        d.content_type = ctbuf[0] ? ctbuf : NULL;
        d.err = err_of(res, r->too_large);
        d.redirect_limit = res == CURLE_TOO_MANY_REDIRECTS;
        char msg[CURL_ERROR_SIZE + 64] = "";
        if (res != CURLE_OK) snprintf(msg, sizeof msg, "%s", r->errbuf[0] ? r->errbuf : curl_easy_strerror(res));
        d.msg = msg;
        miaw_httpc_cbs cbs = r->cbs;
        void *ud = r->ud;
        int cancelled = r->cancelled;
        req_unlink_free(r);
        if (!cancelled && cbs.done) cbs.done(ud, &d);
    }
}

static void drive(miaw_httpc *h, curl_socket_t s, int flags)
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

static void sock_close(miaw_httpc *h, struct sockctx *c)
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
    miaw_httpc *h = userp;
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
    miaw_httpc *h = userp;
    if (h->closing) return 0;
    if (timeout_ms < 0) uv_timer_stop(h->timer);
    else uv_timer_start(h->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

static size_t on_read(char *buf, size_t sz, size_t n, void *ud)
{
    miaw_httpc_req *r = ud;
    if (r->cancelled || !r->cbs.read) return CURL_READFUNC_ABORT;
    size_t got = r->cbs.read(r->ud, buf, sz * n);
    return got == MIAW_HTTPC_READ_ABORT ? CURL_READFUNC_ABORT : got;
}

static size_t on_write(char *p, size_t sz, size_t n, void *ud)
{
    miaw_httpc_req *r = ud;
    size_t len = sz * n;
    long status = 0;
    if (r->cancelled) return 0;
    if (r->max_bytes && r->bytes + len > r->max_bytes) { /* a server that lied about (or left out) the length */
        r->too_large = 1;
        return 0;
    }
    r->bytes += len;
    if (!r->cbs.write) return len;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    return r->cbs.write(r->ud, status, p, len) ? 0 : len;
}

/* the extra CAs join the system's in every new TLS context */
static CURLcode on_ssl_ctx(CURL *c, void *ssl_ctx, void *ud)
{
    (void)c;
    miaw_httpc *h = ud;
    X509_STORE *st = SSL_CTX_get_cert_store(ssl_ctx);
    for (size_t i = 0; st && i < h->ncas; i++) X509_STORE_add_cert(st, h->cas[i]); /* duplicates are fine */
    ERR_clear_error();
    return CURLE_OK;
}

/* ---------------------------------------------------------------- URLs */
static int proto_listed(const char *protocols, const char *scheme, size_t n)
{
    const char *p = protocols;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && strncasecmp(p, scheme, n) == 0) return 1;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

int miaw_httpc_url_check(const char *url, const char *protocols, char *err, size_t errlen)
{
    if (!protocols) protocols = "https";
    if (!url || !*url) return snprintf(err, errlen, "no URL"), MIAW_E_INVAL;
    size_t n = 0;
    while (isalpha((unsigned char)url[n]) || (n && (isdigit((unsigned char)url[n]) || strchr("+-.", url[n])))) n++;
    if (!n || url[n] != ':' || !proto_listed(protocols, url, n))
        return snprintf(err, errlen, "only %s URLs are allowed", protocols), MIAW_E_INVAL;
    for (const char *c = url; *c; c++)
        if ((unsigned char)*c <= 0x20 || *c == 0x7f) return snprintf(err, errlen, "the URL has spaces or control characters"), MIAW_E_INVAL;
    CURLU *u = curl_url();
    if (!u) return snprintf(err, errlen, "out of memory"), MIAW_E_NOMEM;
    char *host = NULL;
    int ok = curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host && *host;
    curl_free(host);
    curl_url_cleanup(u);
    if (!ok) return snprintf(err, errlen, "not a valid URL"), MIAW_E_INVAL;
    return MIAW_OK;
}

/* ---------------------------------------------------------------- requests */
miaw_httpc_req *miaw_httpc_start(miaw_httpc *h, const miaw_httpc_reqopts *o, const miaw_httpc_cbs *cbs, void *ud)
{
    char why[128];
    const char *protocols = o->protocols ? o->protocols : "https";
    if (!h || h->closing || miaw_httpc_url_check(o->url, protocols, why, sizeof why) != MIAW_OK) return NULL;
    miaw_httpc_req *r = calloc(1, sizeof *r);
    if (!r || !(r->easy = curl_easy_init())) {
        free(r);
        return NULL;
    }
    r->h = h;
    r->cbs = *cbs;
    r->ud = ud;
    r->max_bytes = o->max_bytes;
    CURL *c = r->easy;
    int bad = 0;
    for (size_t i = 0; o->headers && o->headers[i]; i++) {
        struct curl_slist *s = curl_slist_append(r->hdrs, o->headers[i]);
        if (!s) bad = 1;
        else r->hdrs = s;
    }
    bad |= curl_easy_setopt(c, CURLOPT_URL, o->url) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, protocols) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, protocols) != CURLE_OK;
    curl_easy_setopt(c, CURLOPT_PRIVATE, r);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (r->hdrs) curl_easy_setopt(c, CURLOPT_HTTPHEADER, r->hdrs);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "miaw");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(o->connect_timeout_ms ? o->connect_timeout_ms : 30000));
    if (o->stall_timeout_ms) {
        long secs = (long)(o->stall_timeout_ms + 999) / 1000;
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L); /* under 1 byte/s for that long: stalled */
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, secs);
    }
    if (o->total_timeout_ms) curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)o->total_timeout_ms);
    if (o->max_bytes) curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_bytes);
    if (o->fail_on_error) curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 65536L);
    if (h->ncas) {
        curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
        curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, h);
    }
    if (o->post) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, r);
    }
    if (o->max_redirects > 0) {
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, o->max_redirects);
    }
    if (o->range_from) {
        snprintf(r->range, sizeof r->range, "%llu-", (unsigned long long)o->range_from);
        curl_easy_setopt(c, CURLOPT_RANGE, r->range);
    }
    r->next = h->reqs;
    if (h->reqs) h->reqs->prev = r;
    h->reqs = r;
    if (bad || curl_multi_add_handle(h->multi, c) != CURLM_OK) {
        req_unlink_free(r);
        return NULL;
    }
    return r;
}

/* ---------------------------------------------------------------- lifecycle */
static int load_cas(miaw_httpc *h, const char *file, char *err, size_t errlen)
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

miaw_httpc *miaw_httpc_new(uv_loop_t *loop, const char *const *ca_files, size_t nca_files, char *err, size_t errlen)
{
    static int global_init;
    if (!global_init) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return snprintf(err, errlen, "libcurl init"), NULL;
        global_init = 1;
    }
    miaw_httpc *h = calloc(1, sizeof *h);
    if (!h) return snprintf(err, errlen, "out of memory"), NULL;
    h->loop = loop;
    for (size_t i = 0; i < nca_files; i++)
        if (ca_files[i] && *ca_files[i] && load_cas(h, ca_files[i], err, errlen) != 0) goto fail;
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

void miaw_httpc_free(miaw_httpc *h)
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
