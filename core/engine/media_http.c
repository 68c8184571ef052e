/* core/engine/media_http.c - HTTPS for media transfers on top of the generic outbound
 * client (http/httpc.h): WhatsApp's media hosts want https only, an Origin and Referer of
 * web.whatsapp.com, at most 3 redirects on GETs, a connect deadline and a stall timeout
 * from whatsapp.media_timeout_ms, and may need extra CA files (the simulator's). Owns the
 * client and a small record per request (eng_mreq) that maps httpc's callbacks to the
 * media code's; the record goes when the request ends or is cancelled. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/media_int.h"
#include "http/httpc.h"

struct eng_mhttp {
    miaw_httpc *c;
    unsigned timeout_ms;
    eng_mreq *reqs; /* records of requests out */
};

struct eng_mreq {
    eng_mhttp *h;
    miaw_httpc_req *req;
    eng_mreq_cbs cbs;
    void *ud;
    eng_mreq *next, *prev;
};

static void rec_free(eng_mreq *m)
{
    if (m->prev) m->prev->next = m->next;
    else m->h->reqs = m->next;
    if (m->next) m->next->prev = m->prev;
    free(m);
}

static size_t t_read(void *ud, char *buf, size_t n)
{
    eng_mreq *m = ud;
    size_t got = m->cbs.read(m->ud, buf, n);
    return got == ENG_MREAD_ABORT ? MIAW_HTTPC_READ_ABORT : got;
}

static int t_write(void *ud, long status, const char *data, size_t n)
{
    eng_mreq *m = ud; /* m may be gone once the callback returned (cancelled inside it) */
    return m->cbs.write(m->ud, status, data, n);
}

static void t_done(void *ud, const miaw_httpc_done *d)
{
    eng_mreq *m = ud;
    eng_mreq_cbs cbs = m->cbs;
    void *cud = m->ud;
    rec_free(m);
    cbs.done(cud, d->cerr, d->status, d->msg);
}

void eng_mreq_cancel(eng_mreq *r)
{
    if (!r) return;
    miaw_httpc_cancel(r->req);
    rec_free(r);
}

static eng_mreq *start(eng_mhttp *h, const char *url, int post, uint64_t len, uint64_t range_from,
                       const eng_mreq_cbs *cbs, void *ud)
{
    if (!url || strncmp(url, "https://", 8) != 0) return NULL;
    eng_mreq *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->h = h;
    m->cbs = *cbs;
    m->ud = ud;
    static const char *const GET_HDRS[] = {"Origin: https://web.whatsapp.com", "Referer: https://web.whatsapp.com/",
                                           NULL};
    static const char *const POST_HDRS[] = {"Origin: https://web.whatsapp.com", "Referer: https://web.whatsapp.com/",
                                            "Content-Type: application/octet-stream",
                                            "Expect:", /* no 100-continue round trip */
                                            NULL};
    miaw_httpc_reqopts o = {.url = url, .protocols = "https", .post = post, .body_len = len,
                            .max_redirects = post ? 0 : 3, .headers = post ? POST_HDRS : GET_HDRS,
                            .range_from = post ? 0 : range_from, .connect_timeout_ms = h->timeout_ms,
                            .stall_timeout_ms = h->timeout_ms};
    miaw_httpc_cbs c = {.read = post ? t_read : NULL, .write = t_write, .done = t_done};
    if (!(m->req = miaw_httpc_start(h->c, &o, &c, m))) {
        free(m);
        return NULL;
    }
    m->next = h->reqs;
    if (h->reqs) h->reqs->prev = m;
    h->reqs = m;
    return m;
}

eng_mreq *eng_mhttp_get(eng_mhttp *h, const char *url, uint64_t range_from, const eng_mreq_cbs *cbs, void *ud)
{
    return start(h, url, 0, 0, range_from, cbs, ud);
}

eng_mreq *eng_mhttp_post(eng_mhttp *h, const char *url, uint64_t body_len, const eng_mreq_cbs *cbs, void *ud)
{
    return start(h, url, 1, body_len, 0, cbs, ud);
}

eng_mhttp *eng_mhttp_new(uv_loop_t *loop, const eng_mhttp_opts *o, char *err, size_t errlen)
{
    eng_mhttp *h = calloc(1, sizeof *h);
    if (!h) return snprintf(err, errlen, "out of memory"), NULL;
    h->timeout_ms = o->timeout_ms ? o->timeout_ms : 30000;
    if (!(h->c = miaw_httpc_new(loop, o->ca_files, o->nca_files, err, errlen))) {
        free(h);
        return NULL;
    }
    return h;
}

void eng_mhttp_free(eng_mhttp *h)
{
    if (!h) return;
    miaw_httpc_free(h->c); /* no callback runs afterwards */
    while (h->reqs) rec_free(h->reqs);
    free(h);
}
