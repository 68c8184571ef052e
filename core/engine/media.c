/* core/engine/media.c - the engine's media service: the media_upload / media_download /
 * media_cancel entry points of the plugin services, the life of every transfer (start on
 * the next loop turn, one callback, cancel, the end of an instance's transfers when it
 * goes, teardown), and the media_conn cache: one `<iq xmlns="w:m" type="set"><media_conn/>`
 * per instance, its auth and hosts kept until the answer's ttl, transfers waiting on a
 * pending answer. Owns eng_media, its transfers and the cached answers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "engine/media_int.h"

/* ------------------------------------------------------------ base64 */
char *eng_b64(const uint8_t *in, size_t n, int url, int pad)
{
    static const char S[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static const char U[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char *t = url ? U : S;
    char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
    if (!out) return NULL;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        *o++ = t[v >> 18 & 63];
        *o++ = t[v >> 12 & 63];
        if (i + 1 < n) *o++ = t[v >> 6 & 63];
        else if (pad) *o++ = '=';
        if (i + 2 < n) *o++ = t[v & 63];
        else if (pad) *o++ = '=';
    }
    *o = 0;
    return out;
}

static int b64_val(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

int eng_b64_decode(const char *s, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t n = strlen(s), o = 0;
    while (n && s[n - 1] == '=') n--;
    if (n % 4 == 1) return -1;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_val(s[i]);
        if (v < 0) return -1;
        acc = (acc << 6 | (unsigned)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap) return -1;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    *out_len = o;
    return 0;
}

/* ------------------------------------------------------------ transfers */
static void xfer_free(eng_xfer *x)
{
    eng_up_free(x->up);
    eng_down_free(x->down);
    free(x);
}

void eng_xfer_end(eng_xfer *x)
{
    if (!x->ended) {
        x->ended = 1;
        x->cb = NULL;
        x->chunk = NULL;
        x->wait = NULL; /* waiters are found by scanning the live list */
        eng_media *m = x->m;
        if (m) {
            if (x->prev) x->prev->next = x->next;
            else m->xfers = x->next;
            if (x->next) x->next->prev = x->prev;
            x->next = x->prev = NULL;
        }
        x->m = NULL; /* a holder may outlive the engine */
        eng_mreq_cancel(x->req);
        x->req = NULL;
    }
    if (!x->busy && !x->working) xfer_free(x);
}

int eng_xfer_release_hold(eng_xfer *x)
{
    if (x->ended && !x->busy && !x->working) {
        xfer_free(x);
        return 1;
    }
    return 0;
}

void eng_xfer_finish(eng_xfer *x, int status, const json_t *result, const char *detail)
{
    miaw_media_fn cb = x->cb;
    void *ud = x->udata;
    char d[256];
    snprintf(d, sizeof d, "%s", detail ? detail : "");
    if (status) MIAW_INFO("media", "%s: %s of %s failed (%d): %s", x->inst, x->upload ? "upload" : "download", x->type,
                          status, d);
    eng_xfer_end(x);
    if (cb) cb(status, status ? NULL : result, d[0] ? d : NULL, ud);
}

static eng_xfer *xfer_by_handle(eng_media *m, uint64_t handle)
{
    for (eng_xfer *x = m->xfers; x; x = x->next)
        if (x->handle == handle) return x;
    return NULL;
}

static void on_kick(uv_timer_t *t)
{
    eng_media *m = t->data;
    for (;;) { /* starting one may end others: look again from the head each time */
        eng_xfer *x = m->xfers;
        while (x && !x->pending_start) x = x->next;
        if (!x) break;
        x->pending_start = 0;
        if (x->upload) eng_up_start(x);
        else eng_down_start(x);
    }
}

/* a new transfer for a connected instance; MIAW_E_* with err otherwise */
static int xfer_new(miaw_engine *e, const char *instance_id, const char *type, int upload, eng_xfer **out, char *err,
                    size_t errlen)
{
    eng_media *m = e->media;
    if (!m) return snprintf(err, errlen, "media transfers are not available"), MIAW_E_NOTSUP;
    miaw_instance *in = instance_id ? miaw_instances_find(e->inst, instance_id) : NULL;
    if (!in) return snprintf(err, errlen, "instance '%s' not found", instance_id ? instance_id : ""), MIAW_E_NOTFOUND;
    eng_inst *ei = in->engine;
    if (!ei || !ei->logged_in) return snprintf(err, errlen, "the instance is not connected"), MIAW_E_STATE;
    if (!type || !miaw_wa_media_info(type) || strlen(type) >= 32)
        return snprintf(err, errlen, "unknown media type '%s'", type ? type : ""), MIAW_E_INVAL;
    eng_xfer *x = calloc(1, sizeof *x);
    if (!x) return snprintf(err, errlen, "out of memory"), MIAW_E_NOMEM;
    x->m = m;
    x->upload = upload;
    snprintf(x->inst, sizeof x->inst, "%s", instance_id);
    snprintf(x->type, sizeof x->type, "%s", type);
    *out = x;
    return 0;
}

static void xfer_launch(eng_xfer *x, miaw_media_fn cb, miaw_media_chunk_fn chunk, void *udata, uint64_t *handle)
{
    eng_media *m = x->m;
    x->cb = cb;
    x->chunk = chunk;
    x->udata = udata;
    x->handle = ++m->next_handle;
    x->pending_start = 1;
    x->next = m->xfers;
    if (m->xfers) m->xfers->prev = x;
    m->xfers = x;
    if (handle) *handle = x->handle;
    uv_timer_start(m->kick, on_kick, 0, 0);
}

int eng_media_upload(void *engine, const char *instance_id, const char *media_type, const void *data, size_t len,
                     const char *path, miaw_media_fn cb, void *udata, uint64_t *handle, char *err, size_t errlen)
{
    eng_xfer *x = NULL;
    if (!cb || (!data && !path)) return snprintf(err, errlen, "missing argument"), MIAW_E_INVAL;
    int rc = xfer_new(engine, instance_id, media_type, 1, &x, err, errlen);
    if (!rc && (rc = eng_up_prepare(x, data, len, path, err, errlen)) != 0) xfer_free(x);
    if (rc) return rc;
    xfer_launch(x, cb, NULL, udata, handle);
    return 0;
}

int eng_media_download(void *engine, const char *instance_id, const char *media_type, const json_t *media,
                       const char *path, miaw_media_chunk_fn chunk, miaw_media_fn cb, void *udata, uint64_t *handle,
                       char *err, size_t errlen)
{
    eng_xfer *x = NULL;
    if (!cb || !media || (!path && !chunk)) return snprintf(err, errlen, "missing argument"), MIAW_E_INVAL;
    int rc = xfer_new(engine, instance_id, media_type, 0, &x, err, errlen);
    if (!rc && (rc = eng_down_prepare(x, media, path, err, errlen)) != 0) xfer_free(x);
    if (rc) return rc;
    xfer_launch(x, cb, path ? NULL : chunk, udata, handle);
    return 0;
}

void eng_media_cancel(void *engine, uint64_t handle)
{
    miaw_engine *e = engine;
    eng_xfer *x = e->media ? xfer_by_handle(e->media, handle) : NULL;
    if (x) eng_xfer_end(x);
}

/* ------------------------------------------------------------ media_conn */
static void conn_clear(eng_mconn *c)
{
    free(c->auth);
    c->auth = NULL;
    for (size_t i = 0; i < c->nhosts; i++) free(c->hosts[i].host);
    free(c->hosts);
    c->hosts = NULL;
    c->nhosts = 0;
    c->expires = 0;
}

static void conn_unlink_free(eng_media *m, eng_mconn *c)
{
    eng_mconn **pp = &m->conns;
    while (*pp && *pp != c) pp = &(*pp)->next;
    if (*pp) *pp = c->next;
    conn_clear(c);
    if (c->fetching) c->dead = 1; /* its IQ callback frees it */
    else free(c);
}

static eng_mconn *conn_get(eng_media *m, const char *inst)
{
    for (eng_mconn *c = m->conns; c; c = c->next)
        if (!strcmp(c->inst, inst)) return c;
    eng_mconn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    snprintf(c->inst, sizeof c->inst, "%s", inst);
    c->m = m;
    c->next = m->conns;
    m->conns = c;
    return c;
}

void eng_mconn_invalidate(eng_media *m, const char *inst)
{
    for (eng_mconn *c = m->conns; c; c = c->next)
        if (!strcmp(c->inst, inst)) conn_clear(c);
}

static void conn_deliver(eng_xfer *x, int status, const eng_mconn *c, const char *detail)
{
    if (x->upload) eng_up_on_conn(x, status, c, detail);
    else eng_down_on_conn(x, status, c, detail);
}

/* a hostname as it may go into a URL: letters, digits, '.', '-', ':' and [] for IPv6 */
static int host_ok(const char *h)
{
    if (!h || !*h || strlen(h) > 255) return 0;
    for (const char *p = h; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr(".-:[]", *p)))
            return 0;
    return 1;
}

static int conn_parse(eng_mconn *c, const miaw_node *reply, uint64_t now)
{
    const miaw_node *mc = reply ? miaw_node_child(reply, "media_conn") : NULL;
    const char *auth = mc ? miaw_node_attr(mc, "auth") : NULL;
    if (!auth || !*auth) return -1;
    uint64_t ttl = 0;
    if (miaw_node_attr_u64(mc, "ttl", &ttl) != 0 || !ttl) ttl = 300;
    if (ttl > 86400) ttl = 86400;
    conn_clear(c);
    for (const miaw_node *h = miaw_node_child(mc, "host"); h; h = miaw_node_next(mc, h, "host")) {
        const char *name = miaw_node_attr(h, "hostname");
        if (!host_ok(name)) continue;
        eng_mhost *v = realloc(c->hosts, (c->nhosts + 1) * sizeof *v);
        if (!v) break;
        c->hosts = v;
        v[c->nhosts].max = 0;
        miaw_node_attr_u64(h, "maxContentLengthBytes", &v[c->nhosts].max);
        if (!(v[c->nhosts].host = strdup(name))) break;
        c->nhosts++;
    }
    c->auth = strdup(auth);
    if (!c->auth || !c->nhosts) {
        conn_clear(c);
        return -1;
    }
    c->expires = now + ttl * 1000;
    return 0;
}

static void serve_waiters(eng_mconn *c, int status, const char *detail)
{
    eng_media *m = c->m;
    uint64_t upto = c->seq;
    for (;;) { /* callbacks may end or add transfers: look again each time */
        eng_xfer *x = m->xfers;
        while (x && !(x->wait == c && x->wait_seq <= upto)) x = x->next;
        if (!x) break;
        x->wait = NULL;
        conn_deliver(x, status, c, detail);
    }
}

static void on_conn_iq(miaw_wa_conn *wc, const miaw_node *reply, int err, void *ud)
{
    (void)wc;
    eng_mconn *c = ud;
    c->fetching = 0;
    if (c->dead) { /* released meanwhile; its transfers already ended */
        free(c);
        return;
    }
    int st = 0;
    const char *detail = NULL;
    if (err == MIAW_E_TIMEOUT) st = MIAW_E_TIMEOUT, detail = "media_conn: no answer from the server";
    else if (err) st = MIAW_E_STATE, detail = "the connection closed before media_conn was answered";
    else if (!reply || !miaw_node_attr_is(reply, "type", "result")) st = MIAW_E_IO, detail = "media_conn refused";
    else if (conn_parse(c, reply, uv_now(c->m->loop)) != 0) st = MIAW_E_IO, detail = "media_conn without auth or hosts";
    if (!st) MIAW_DEBUG("media", "%s: media_conn: %zu host(s), first %s", c->inst, c->nhosts, c->hosts[0].host);
    serve_waiters(c, st, detail);
}

void eng_mconn_want(eng_xfer *x)
{
    eng_media *m = x->m;
    eng_mconn *c = conn_get(m, x->inst);
    if (!c) {
        conn_deliver(x, MIAW_E_NOMEM, NULL, "out of memory");
        return;
    }
    if (c->auth && uv_now(m->loop) < c->expires) {
        conn_deliver(x, 0, c, NULL);
        return;
    }
    x->wait = c;
    x->wait_seq = ++c->seq;
    if (c->fetching) return;
    miaw_instance *in = miaw_instances_find(m->e->inst, x->inst);
    miaw_node *iq = miaw_node_newv("iq", "xmlns", "w:m", "type", "set", "to", "JID:@s.whatsapp.net", NULL);
    if (!iq || !miaw_node_add(iq, "media_conn")) {
        miaw_node_free(iq);
        serve_waiters(c, MIAW_E_NOMEM, "out of memory");
        return;
    }
    c->fetching = 1;
    if (!in || miaw_engine_iq(m->e, in, iq, 20000, on_conn_iq, c) != 0) { /* iq taken either way */
        c->fetching = 0;
        serve_waiters(c, MIAW_E_STATE, "the instance is not connected");
    }
}

/* ------------------------------------------------------------ engine hooks */
int eng_media_new(miaw_engine *e, char *err, size_t errlen)
{
    const miaw_config *cfg = e->cfg;
    eng_media *m = calloc(1, sizeof *m);
    if (!m) return snprintf(err, errlen, "out of memory"), -1;
    m->e = e;
    m->loop = e->loop;
    m->timeout_ms = cfg->wa_media_timeout_ms > 0 ? (unsigned)cfg->wa_media_timeout_ms : 30000;
    m->max_bytes = (uint64_t)(cfg->wa_media_max_mb > 0 ? cfg->wa_media_max_mb : 2048) << 20;
    m->upload_hosts = &cfg->wa_media_upload_hosts;
    const char *cas[] = {cfg->wa_ca_file, cfg->wa_media_ca_file};
    eng_mhttp_opts o = {.timeout_ms = m->timeout_ms, .ca_files = cas, .nca_files = 2};
    char why[512];
    m->http = eng_mhttp_new(e->loop, &o, why, sizeof why);
    m->kick = malloc(sizeof *m->kick);
    if (!m->http || !m->kick) {
        snprintf(err, errlen, "media: %s", m->http ? "out of memory" : why);
        eng_mhttp_free(m->http);
        free(m->kick);
        free(m);
        return -1;
    }
    uv_timer_init(e->loop, m->kick);
    m->kick->data = m;
    e->media = m;
    return 0;
}

void eng_media_release(miaw_engine *e, const char *instance_id)
{
    eng_media *m = e->media;
    if (!m || !instance_id) return;
    for (;;) {
        eng_xfer *x = m->xfers;
        while (x && strcmp(x->inst, instance_id) != 0) x = x->next;
        if (!x) break;
        eng_xfer_finish(x, MIAW_E_STATE, NULL, "the instance went away");
    }
    for (eng_mconn *c = m->conns; c; c = c->next)
        if (!strcmp(c->inst, instance_id)) {
            conn_unlink_free(m, c);
            break;
        }
}

static void on_kick_closed(uv_handle_t *h) { free(h); }

void eng_media_free(miaw_engine *e)
{
    eng_media *m = e->media;
    if (!m) return;
    while (m->xfers) eng_xfer_finish(m->xfers, MIAW_E_STATE, NULL, "the server is stopping");
    while (m->conns) conn_unlink_free(m, m->conns);
    eng_mhttp_free(m->http);
    uv_close((uv_handle_t *)m->kick, on_kick_closed);
    free(m);
    e->media = NULL;
}
