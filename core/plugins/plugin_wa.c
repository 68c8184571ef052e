/* core/plugins/plugin_wa.c - the host functions of plugin ABI 1.1 and 1.2 that reach the
 * WhatsApp engine (send_text, iq, stanza_send, stanza_subscribe, msg_send, msg_get,
 * cancel) plus reply_status and jid_normalize, and the 1.3 fetch (a URL to a temporary
 * file, over http/httpc.h). Owns the bookkeeping of every
 * asynchronous call a plugin has in flight (struct pcall, one per call, in the plugin's
 * list while its callback may still run) and the stanza subscriptions of all plugins
 * (struct psub, in the host's list). At unload every call of the plugin is cancelled
 * and no callback of it runs again. Converts nodes and messages between the engine's
 * binary forms and the ABI's JSON (wa/node_json.h, wa/proto_json.h). Loop thread only. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/errors.h"
#include "base/log.h"
#include "http/http.h"
#include "http/httpc.h"
#include "http/multipart.h"
#include "plugins/plugin_int.h"
#include "wa/jid.h"
#include "wa/node_json.h"
#include "wa/proto_json.h"
#include "wa_message.pb-c.h"

#define ERRBUF(err, errlen)             \
    char tmp_[256];                     \
    if (!(err)) {                       \
        (err) = tmp_;                   \
        (errlen) = sizeof tmp_;         \
    }                                   \
    (err)[0] = 0

enum { CALL_IQ, CALL_SEND, CALL_MEDIA, CALL_FETCH, CALL_APPSTATE };

struct pfetch;

struct pcall {
    miaw_id id;            /* the handle the plugin got */
    struct miaw_plugin *p; /* NULL once cancelled: the engine's callback only frees */
    int kind;
    uint64_t eng_handle;   /* CALL_SEND: the engine's send handle */
    miaw_iq_fn iq_cb;
    miaw_send_fn send_cb;
    miaw_media_fn media_cb;
    miaw_media_chunk_fn chunk_cb;
    miaw_fetch_fn fetch_cb;
    miaw_appstate_push_fn appstate_cb;
    struct pfetch *fetch;  /* CALL_FETCH: the transfer and its temporary file */
    void *udata;
    struct pcall *next, *prev; /* in p->calls while p is set */
};

struct psub {
    miaw_id id;
    struct miaw_plugin *p;
    char *tag, *type, *xmlns, *child;
    miaw_stanza_fn fn;
    void *udata;
    struct psub *next;
};

static const miaw_engine_services *svc_of(struct miaw_plugin *p)
{
    return p && p->host->svc.engine.ctx ? &p->host->svc.engine : NULL;
}

/* ------------------------------------------------------------ calls */
static struct pcall *call_new(struct miaw_plugin *p, int kind, void *udata)
{
    struct pcall *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->id = ++p->host->next_call;
    c->p = p;
    c->kind = kind;
    c->udata = udata;
    c->next = p->calls;
    if (p->calls) p->calls->prev = c;
    p->calls = c;
    return c;
}

/* takes c out of its plugin's list; the record stays until the engine is done with it */
static void call_detach(struct pcall *c)
{
    if (!c->p) return;
    if (c->prev) c->prev->next = c->next;
    else c->p->calls = c->next;
    if (c->next) c->next->prev = c->prev;
    c->next = c->prev = NULL;
    c->p = NULL;
}

static void call_drop(struct pcall *c) /* a call that never reached the engine */
{
    call_detach(c);
    free(c);
}

static void fetch_end(struct pfetch *f, int remove);

/* cancels c: no callback will run. Sends and media transfers are cancelled in the engine
 * (which then never calls back, so the record goes now); an IQ's record goes when its
 * reply or error arrives (the engine always answers an IQ once). */
static void call_cancel(struct pcall *c)
{
    struct miaw_plugin *p = c->p;
    call_detach(c);
    const miaw_engine_services *s = svc_of(p);
    if (c->kind == CALL_SEND) {
        if (s && s->send_cancel) s->send_cancel(s->ctx, c->eng_handle);
        free(c);
    } else if (c->kind == CALL_MEDIA) {
        if (s && s->media_cancel) s->media_cancel(s->ctx, c->eng_handle);
        free(c);
    } else if (c->kind == CALL_FETCH) {
        fetch_end(c->fetch, 1); /* the transfer stops, its temporary file goes */
        free(c);
    }
}

void pw_cancel(miaw_plugin *p, miaw_id handle)
{
    if (!p) return;
    for (struct pcall *c = p->calls; c; c = c->next)
        if (c->id == handle) {
            call_cancel(c);
            return;
        }
}

/* an app-state push (plugin_appstate.c): answered once by the engine, like an IQ */
struct pcall *pw_call_appstate(struct miaw_plugin *p, miaw_appstate_push_fn cb, void *udata, miaw_id *id)
{
    struct pcall *c = call_new(p, CALL_APPSTATE, udata);
    if (!c) return NULL;
    c->appstate_cb = cb;
    *id = c->id;
    return c;
}

void pw_call_appstate_done(struct pcall *c, int status, const json_t *result, const char *detail)
{
    struct miaw_plugin *p = c->p;
    miaw_appstate_push_fn cb = c->appstate_cb;
    void *udata = c->udata;
    call_detach(c);
    free(c);
    if (p && cb) cb(status, result, detail, udata);
}

void pw_call_drop(struct pcall *c) { call_drop(c); }

void pw_unload(struct miaw_plugin *p)
{
    while (p->calls) call_cancel(p->calls);
    struct psub **pp = &p->host->subs;
    while (*pp) {
        struct psub *s = *pp;
        if (s->p != p) {
            pp = &s->next;
            continue;
        }
        *pp = s->next;
        free(s->tag);
        free(s->type);
        free(s->xmlns);
        free(s->child);
        free(s);
    }
}

/* ------------------------------------------------------------ sends */
static void on_send(int status, const char *message_id, int64_t ts, const char *detail, void *ud)
{
    struct pcall *c = ud;
    struct miaw_plugin *p = c->p;
    miaw_send_fn cb = c->send_cb;
    void *udata = c->udata;
    call_detach(c);
    free(c);
    if (p && cb) cb(status, message_id, ts, detail, udata);
}

static int instance_check(struct miaw_plugin *p, const char *instance_id, char *err, size_t errlen)
{
    if (!svc_of(p)) return snprintf(err, errlen, "no protocol engine in this server"), MIAW_E_NOTSUP;
    if (!instance_id) return snprintf(err, errlen, "missing instance id"), MIAW_E_INVAL;
    return MIAW_OK;
}

int pw_send_text(miaw_plugin *p, const char *instance_id, const char *to, const char *text, const char *quoted_id,
                 miaw_send_fn cb, void *udata, miaw_id *handle, const char **field, char *err, size_t errlen)
{
    ERRBUF(err, errlen);
    const char *f = NULL;
    if (field) *field = NULL;
    if (!p || !cb) return snprintf(err, errlen, "missing argument"), MIAW_E_INVAL;
    int rc = instance_check(p, instance_id, err, errlen);
    if (rc) return rc;
    const miaw_engine_services *s = svc_of(p);
    struct pcall *c = call_new(p, CALL_SEND, udata);
    if (!c) return snprintf(err, errlen, "out of memory"), MIAW_E_NOMEM;
    c->send_cb = cb;
    rc = s->send_text(s->ctx, instance_id, to, text, quoted_id, on_send, c, &c->eng_handle, &f, err, errlen);
    if (field) *field = f;
    if (rc) {
        call_drop(c);
        return rc;
    }
    if (handle) *handle = c->id;
    return MIAW_OK;
}

void pw_send_cancel(miaw_plugin *p, miaw_id handle) { pw_cancel(p, handle); }

/* the extra child nodes of a send: a JSON array of nodes. 0 or MIAW_E_INVAL. */
static int extra_nodes(const json_t *arr, miaw_node ***out, size_t *n, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    if (!arr) return MIAW_OK;
    if (!json_is_array(arr) || json_array_size(arr) > 16)
        return snprintf(err, errlen, "opts.nodes: expected an array of at most 16 nodes"), MIAW_E_INVAL;
    size_t k = json_array_size(arr);
    if (!k) return MIAW_OK;
    miaw_node **v = calloc(k, sizeof *v);
    if (!v) return snprintf(err, errlen, "out of memory"), MIAW_E_NOMEM;
    for (size_t i = 0; i < k; i++) {
        char e2[200];
        if (miaw_node_from_json(json_array_get(arr, i), &v[i], e2, sizeof e2) != MIAW_OK) {
            snprintf(err, errlen, "opts.nodes[%zu].%s", i, e2);
            for (size_t j = 0; j < i; j++) miaw_node_free(v[j]);
            free(v);
            return MIAW_E_INVAL;
        }
    }
    *out = v;
    *n = k;
    return MIAW_OK;
}

int pw_msg_send(miaw_plugin *p, const char *instance_id, const char *to, const json_t *message, const void *bytes,
                size_t len, const miaw_msg_opts *opts, miaw_send_fn cb, void *udata, miaw_id *handle,
                const char **field, char *err, size_t errlen)
{
    ERRBUF(err, errlen);
    static char fieldbuf[160]; /* "message.<path>": valid until the next call (loop thread) */
    const char *f = NULL;
    if (field) *field = NULL;
    if (!p || !cb) return snprintf(err, errlen, "missing argument"), MIAW_E_INVAL;
    int rc = instance_check(p, instance_id, err, errlen);
    if (rc) return rc;
    if (opts && opts->struct_size < offsetof(miaw_msg_opts, flags) + sizeof(uint32_t))
        return snprintf(err, errlen, "opts: struct_size too small"), MIAW_E_INVAL;
    uint8_t *buf = NULL;
    size_t blen = 0;
    if (message) {
        char e2[200];
        if (miaw_pb_json_encode(&miaw__wa__message__descriptor, message, &buf, &blen, e2, sizeof e2) != MIAW_OK) {
            /* e2 starts with the field path: "extendedTextMessage.text: expected a string" */
            const char *colon = strstr(e2, ": ");
            snprintf(fieldbuf, sizeof fieldbuf, "message%s%.*s", colon && colon != e2 ? "." : "",
                     colon ? (int)(colon - e2) : 0, e2);
            if (field) *field = fieldbuf;
            return snprintf(err, errlen, "message: %s", e2), MIAW_E_INVAL;
        }
    } else {
        if (!bytes || !len) {
            if (field) *field = "message";
            return snprintf(err, errlen, "message: neither JSON nor bytes given"), MIAW_E_INVAL;
        }
        ProtobufCMessage *m = miaw_pb_unpack(&miaw__wa__message__descriptor, bytes, len); /* depth-checked */
        if (!m) {
            if (field) *field = "message";
            return snprintf(err, errlen, "message: the bytes are not a serialized Message"), MIAW_E_INVAL;
        }
        protobuf_c_message_free_unpacked(m, NULL);
    }
    miaw_node **extra = NULL;
    size_t nextra = 0;
    rc = extra_nodes(opts ? opts->nodes : NULL, &extra, &nextra, err, errlen);
    if (rc) {
        free(buf);
        if (field) *field = "opts.nodes";
        return rc;
    }
    const miaw_engine_services *s = svc_of(p);
    struct pcall *c = call_new(p, CALL_SEND, udata);
    if (!c) rc = MIAW_E_NOMEM, snprintf(err, errlen, "out of memory");
    else {
        c->send_cb = cb;
        rc = s->msg_send(s->ctx, instance_id, to, buf ? buf : bytes, buf ? blen : len, opts, extra, nextra, on_send,
                         c, &c->eng_handle, &f, err, errlen);
        if (rc) call_drop(c);
        else if (handle) *handle = c->id;
    }
    if (field && f) *field = f;
    for (size_t i = 0; i < nextra; i++) miaw_node_free(extra[i]);
    free(extra);
    free(buf);
    return rc;
}

json_t *pw_msg_get(miaw_plugin *p, const char *instance_id, const char *message_id)
{
    const miaw_engine_services *s = svc_of(p);
    if (!s || !instance_id || !message_id || !s->msg_get) return NULL;
    return s->msg_get(s->ctx, instance_id, message_id);
}

/* chat history (1.3): answered synchronously from chat storage */
json_t *pw_msg_list(miaw_plugin *p, const char *instance_id, const json_t *query)
{
    const miaw_engine_services *s = svc_of(p);
    if (!s || !instance_id || !s->msg_list) return NULL;
    return s->msg_list(s->ctx, instance_id, query);
}

json_t *pw_chat_list(miaw_plugin *p, const char *instance_id, const json_t *query)
{
    const miaw_engine_services *s = svc_of(p);
    if (!s || !instance_id || !s->chat_list) return NULL;
    return s->chat_list(s->ctx, instance_id, query);
}

/* ------------------------------------------------------------ iq and stanzas */
static void on_iq(int err, const miaw_node *reply, void *ud)
{
    struct pcall *c = ud;
    struct miaw_plugin *p = c->p;
    miaw_iq_fn cb = c->iq_cb;
    void *udata = c->udata;
    call_detach(c);
    free(c);
    if (!p || !cb) return;
    json_t *j = reply ? miaw_node_to_json(reply) : NULL;
    char detail[200] = "";
    if (err == MIAW_E_IO && reply) {
        const miaw_node *e = miaw_node_child(reply, "error");
        snprintf(detail, sizeof detail, "%s %s", e && miaw_node_attr(e, "code") ? miaw_node_attr(e, "code") : "?",
                 e && miaw_node_attr(e, "text") ? miaw_node_attr(e, "text") : "");
    } else if (err == MIAW_E_TIMEOUT) snprintf(detail, sizeof detail, "the server did not answer in time");
    else if (err == MIAW_E_STATE || err == MIAW_E_GONE) snprintf(detail, sizeof detail, "the connection closed");
    cb(err == MIAW_E_GONE ? MIAW_E_STATE : err, j, detail[0] ? detail : NULL, udata);
    json_decref(j);
}

int pw_iq(miaw_plugin *p, const char *instance_id, const json_t *node, uint32_t timeout_ms, miaw_iq_fn cb,
          void *udata, miaw_id *handle, char *err, size_t errlen)
{
    ERRBUF(err, errlen);
    if (!p || !cb || !node) return snprintf(err, errlen, "missing argument"), MIAW_E_INVAL;
    int rc = instance_check(p, instance_id, err, errlen);
    if (rc) return rc;
    miaw_node *n = NULL;
    if (miaw_node_from_json(node, &n, err, errlen) != MIAW_OK) return MIAW_E_INVAL;
    if (strcmp(n->tag, "iq") != 0) {
        snprintf(err, errlen, "tag: an iq is needed, not <%s>", n->tag);
        miaw_node_free(n); /* after the message: the tag lives in the node's arena */
        return MIAW_E_INVAL;
    }
    if (!miaw_node_attr_get(n, "to")) miaw_node_set_jid_str(n, "to", "s.whatsapp.net");
    const miaw_engine_services *s = svc_of(p);
    struct pcall *c = call_new(p, CALL_IQ, udata);
    if (!c) {
        miaw_node_free(n);
        return snprintf(err, errlen, "out of memory"), MIAW_E_NOMEM;
    }
    c->iq_cb = cb;
    rc = s->iq(s->ctx, instance_id, n, timeout_ms ? timeout_ms : 20000, on_iq, c);
    if (rc) {
        call_drop(c);
        return snprintf(err, errlen, "%s", rc == MIAW_E_NOTFOUND ? "no such instance" : "the instance is not connected"),
               rc;
    }
    if (handle) *handle = c->id;
    return MIAW_OK;
}

int pw_stanza_send(miaw_plugin *p, const char *instance_id, const json_t *node, char *err, size_t errlen)
{
    ERRBUF(err, errlen);
    if (!p || !node) return snprintf(err, errlen, "missing argument"), MIAW_E_INVAL;
    int rc = instance_check(p, instance_id, err, errlen);
    if (rc) return rc;
    miaw_node *n = NULL;
    if (miaw_node_from_json(node, &n, err, errlen) != MIAW_OK) return MIAW_E_INVAL;
    const miaw_engine_services *s = svc_of(p);
    rc = s->stanza_send(s->ctx, instance_id, n);
    if (rc) snprintf(err, errlen, "%s", rc == MIAW_E_NOTFOUND ? "no such instance" : "the instance is not connected");
    return rc;
}

static char *dup_opt(const char *s) { return s ? strdup(s) : NULL; }

int pw_stanza_subscribe(miaw_plugin *p, const miaw_stanza_filter *f, miaw_stanza_fn fn, void *udata, miaw_id *out)
{
    if (!p || !p->in_init) return MIAW_E_STATE;
    if (!f || !fn || f->struct_size < sizeof(miaw_stanza_filter)) return MIAW_E_INVAL;
    struct psub *s = calloc(1, sizeof *s);
    if (!s) return MIAW_E_NOMEM;
    s->id = ++p->host->next_call;
    s->p = p;
    s->tag = dup_opt(f->tag);
    s->type = dup_opt(f->type);
    s->xmlns = dup_opt(f->xmlns);
    s->child = dup_opt(f->child);
    s->fn = fn;
    s->udata = udata;
    struct psub **pp = &p->host->subs; /* in subscription order */
    while (*pp) pp = &(*pp)->next;
    *pp = s;
    if (out) *out = s->id;
    return MIAW_OK;
}

static int attr_matches(const miaw_node *n, const char *key, const char *want)
{
    return !want || miaw_node_attr_is(n, key, want);
}

static int sub_matches(const struct psub *s, const miaw_node *n)
{
    if (s->tag && strcmp(s->tag, n->tag) != 0) return 0;
    if (!attr_matches(n, "type", s->type) || !attr_matches(n, "xmlns", s->xmlns)) return 0;
    if (s->child) {
        const miaw_node *c = miaw_node_count(n) ? miaw_node_child_at(n, 0) : NULL;
        if (!c || strcmp(c->tag, s->child) != 0) return 0;
    }
    return 1;
}

void pw_tap(void *host, const char *instance_id, const miaw_node *n)
{
    miaw_plugin_host *h = host;
    json_t *j = NULL; /* converted once, on the first match */
    for (struct psub *s = h->subs; s; s = s->next) {
        if (!sub_matches(s, n)) continue;
        if (!j && !(j = miaw_node_to_json(n))) return;
        s->fn(instance_id, j, s->udata);
    }
    json_decref(j);
}

/* ------------------------------------------------------------ small helpers */
int pw_reply_status(miaw_req *r, int status, const char *field, const char *fmt, ...)
{
    char msg[1024] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
    }
    miaw_err e;
    switch (status) {
    case MIAW_E_INVAL: e = MIAW_ERR_INVALID_REQUEST; break;
    case MIAW_E_NOTFOUND: e = MIAW_ERR_NOT_FOUND; break;
    case MIAW_E_EXIST: e = MIAW_ERR_CONFLICT; break;
    case MIAW_E_STATE: e = MIAW_ERR_INSTANCE_NOT_CONNECTED; break;
    case MIAW_E_TIMEOUT: e = MIAW_ERR_TIMEOUT; break;
    case MIAW_E_LIMIT: e = MIAW_ERR_RATE_LIMITED; break;
    case MIAW_E_TOOBIG: e = MIAW_ERR_PAYLOAD_TOO_LARGE; break;
    case MIAW_E_AUTH: e = MIAW_ERR_UNAUTHORIZED; break;
    case MIAW_E_IO: e = MIAW_ERR_WHATSAPP_ERROR; break;
    case MIAW_E_NOTSUP: e = MIAW_ERR_UNAVAILABLE; break;
    default: e = MIAW_ERR_INTERNAL; break;
    }
    json_t *details = field ? json_pack("{s:s}", "field", field) : NULL;
    return miaw_req_reply_code(r, miaw_err_status(e), miaw_err_code(e), details, msg[0] ? msg : miaw_err_description(e));
}

int pw_jid_normalize(const char *to, char *out, size_t outlen)
{
    miaw_jid j;
    if (!out || !outlen || miaw_jid_recipient(to, &j) != 0) return MIAW_E_INVAL;
    return miaw_jid_format(&j, out, outlen) < 0 ? MIAW_E_INVAL : MIAW_OK;
}

/* ------------------------------------------------------------ media */
static void on_media(int status, const json_t *result, const char *detail, void *ud)
{
    struct pcall *c = ud;
    struct miaw_plugin *p = c->p;
    miaw_media_fn cb = c->media_cb;
    void *udata = c->udata;
    call_detach(c);
    free(c);
    if (p && cb) cb(status, result, detail, udata);
}

static int on_media_chunk(const void *data, size_t len, void *ud)
{
    struct pcall *c = ud;
    if (!c->p) return 1; /* cancelled: stop */
    return c->chunk_cb(data, len, c->udata);
}

int pw_media_upload(miaw_plugin *p, const char *instance_id, const char *media_type, const void *data, size_t len,
                    const char *path, miaw_media_fn cb, void *udata, miaw_id *handle, char *err, size_t errlen)
{
    ERRBUF(err, errlen);
    if (!p || !cb || !media_type || (!data && !path)) return snprintf(err, errlen, "missing argument"), MIAW_E_INVAL;
    int rc = instance_check(p, instance_id, err, errlen);
    if (rc) return rc;
    const miaw_engine_services *s = svc_of(p);
    if (!s->media_upload) return snprintf(err, errlen, "media transfers are not available"), MIAW_E_NOTSUP;
    struct pcall *c = call_new(p, CALL_MEDIA, udata);
    if (!c) return snprintf(err, errlen, "out of memory"), MIAW_E_NOMEM;
    c->media_cb = cb;
    rc = s->media_upload(s->ctx, instance_id, media_type, data, len, path, on_media, c, &c->eng_handle, err, errlen);
    if (rc) {
        call_drop(c);
        return rc;
    }
    if (handle) *handle = c->id;
    return MIAW_OK;
}

int pw_media_download(miaw_plugin *p, const char *instance_id, const char *media_type, const json_t *media,
                      const char *path, miaw_media_chunk_fn chunk, miaw_media_fn cb, void *udata, miaw_id *handle,
                      char *err, size_t errlen)
{
    ERRBUF(err, errlen);
    if (!p || !cb || !media_type || !media || (!path && !chunk))
        return snprintf(err, errlen, "missing argument"), MIAW_E_INVAL;
    int rc = instance_check(p, instance_id, err, errlen);
    if (rc) return rc;
    const miaw_engine_services *s = svc_of(p);
    if (!s->media_download) return snprintf(err, errlen, "media transfers are not available"), MIAW_E_NOTSUP;
    struct pcall *c = call_new(p, CALL_MEDIA, udata);
    if (!c) return snprintf(err, errlen, "out of memory"), MIAW_E_NOMEM;
    c->media_cb = cb;
    c->chunk_cb = chunk;
    rc = s->media_download(s->ctx, instance_id, media_type, media, path, chunk ? on_media_chunk : NULL, on_media, c,
                           &c->eng_handle, err, errlen);
    if (rc) {
        call_drop(c);
        return rc;
    }
    if (handle) *handle = c->id;
    return MIAW_OK;
}

/* ------------------------------------------------------------ fetch (1.3) */
/* A fetch is a libcurl transfer on the loop (http/httpc.h, one client for every plugin)
 * into a temporary file under <data_dir>/tmp, 0600. http and https only, redirects too;
 * max_bytes holds even when the server announces less than it sends.
 * TODO (later issue): SSRF hardening - refuse loopback, private, link-local and other
 * internal addresses (resolve first, pin the address with CURLOPT_RESOLVE, check every
 * redirect hop); until then a plugin can make the server fetch internal URLs. */
struct pfetch {
    miaw_httpc_req *req;
    int fd;
    int werr;            /* errno of a failed write to the file */
    uint64_t max_bytes;
    uint32_t max_redirects, timeout_ms;
    char path[4096];
};

static void fetch_end(struct pfetch *f, int remove)
{
    if (!f) return;
    miaw_httpc_cancel(f->req);
    if (f->fd >= 0) close(f->fd);
    if (remove) unlink(f->path);
    free(f);
}

static int fetch_write(void *ud, long status, const char *data, size_t n)
{
    (void)status;
    struct pfetch *f = ((struct pcall *)ud)->fetch;
    while (n) {
        ssize_t w = write(f->fd, data, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            f->werr = w < 0 ? errno : EIO;
            return 1;
        }
        data += w;
        n -= (size_t)w;
    }
    return 0;
}

static void fetch_done(void *ud, const miaw_httpc_done *d)
{
    struct pcall *c = ud;
    struct pfetch *f = c->fetch;
    struct miaw_plugin *p = c->p;
    miaw_fetch_fn cb = c->fetch_cb;
    void *udata = c->udata;
    f->req = NULL; /* gone with this callback */
    int st = d->err;
    char detail[512] = "";
    if (f->werr) st = MIAW_E_IO, snprintf(detail, sizeof detail, "cannot write the temporary file: %s", strerror(f->werr));
    else if (st == MIAW_E_LIMIT)
        snprintf(detail, sizeof detail, "the body is larger than %llu bytes", (unsigned long long)f->max_bytes);
    else if (st == MIAW_E_TIMEOUT) snprintf(detail, sizeof detail, "no complete answer within %u ms", f->timeout_ms);
    else if (st == MIAW_E_INVAL) snprintf(detail, sizeof detail, "only http and https URLs can be fetched, redirects included (%s)", d->msg);
    else if (st == MIAW_OK && (d->status < 200 || d->status > 299)) st = MIAW_E_IO;
    if (st == MIAW_E_IO && !detail[0]) {
        if (d->redirect_limit) snprintf(detail, sizeof detail, "more than %u redirects", f->max_redirects);
        else if (d->status >= 300) snprintf(detail, sizeof detail, "HTTP %ld", d->status);
        else snprintf(detail, sizeof detail, "%s", d->msg && *d->msg ? d->msg : "the transfer failed");
    }
    if (f->fd >= 0 && close(f->fd) != 0 && st == MIAW_OK)
        st = MIAW_E_IO, snprintf(detail, sizeof detail, "cannot write the temporary file: %s", strerror(errno));
    f->fd = -1;
    if (st != MIAW_OK) unlink(f->path);
    call_detach(c);
    free(c);
    if (p && cb) cb(st, st == MIAW_OK ? f->path : NULL, st == MIAW_OK ? d->content_type : NULL,
                    st == MIAW_OK ? d->bytes : 0, st == MIAW_OK ? NULL : detail, udata);
    free(f);
}

/* the server's data dir: the database lives at <data_dir>/miaw.db */
static int data_dir_of(miaw_plugin_host *h, char *out, size_t cap)
{
    const char *db = h->svc.db ? h->svc.db->path : NULL;
    const char *slash = db ? strrchr(db, '/') : NULL;
    if (!slash || (size_t)(slash - db) >= cap) return -1;
    memcpy(out, db, (size_t)(slash - db));
    out[slash - db] = 0;
    return 0;
}

int pw_fetch(miaw_plugin *p, const char *url, const miaw_fetch_opts *opts, miaw_fetch_fn cb, void *udata,
             miaw_id *handle, char *err, size_t errlen)
{
    ERRBUF(err, errlen);
    if (!p || !cb || !url) return snprintf(err, errlen, "missing argument"), MIAW_E_INVAL;
    if (opts && opts->struct_size < offsetof(miaw_fetch_opts, max_redirects) + sizeof(uint32_t))
        return snprintf(err, errlen, "opts: struct_size too small"), MIAW_E_INVAL;
    int rc = miaw_httpc_url_check(url, "http,https", err, errlen);
    if (rc) return rc;
    miaw_plugin_host *h = p->host;
    char dir[4096];
    if (data_dir_of(h, dir, sizeof dir) != 0) return snprintf(err, errlen, "no data directory"), MIAW_E_NOTSUP;
    if (!h->httpc && !(h->httpc = miaw_httpc_new(h->svc.loop, NULL, 0, err, errlen))) return MIAW_E_NOMEM;
    struct pfetch *f = calloc(1, sizeof *f);
    if (!f) return snprintf(err, errlen, "out of memory"), MIAW_E_NOMEM;
    f->max_bytes = opts && opts->max_bytes ? opts->max_bytes : 100ull << 20;
    f->timeout_ms = opts && opts->timeout_ms ? opts->timeout_ms : 60000;
    f->max_redirects = opts && opts->max_redirects ? opts->max_redirects : 3;
    if ((f->fd = miaw_tmpfile_open(dir, "fetch", f->path, sizeof f->path)) < 0) {
        snprintf(err, errlen, "cannot create a temporary file under %s/tmp: %s", dir, strerror(-f->fd));
        free(f);
        return MIAW_E_IO;
    }
    struct pcall *c = call_new(p, CALL_FETCH, udata);
    if (!c) {
        fetch_end(f, 1);
        return snprintf(err, errlen, "out of memory"), MIAW_E_NOMEM;
    }
    c->fetch_cb = cb;
    c->fetch = f;
    miaw_httpc_reqopts o = {.url = url, .protocols = "http,https", .max_redirects = f->max_redirects,
                            .connect_timeout_ms = f->timeout_ms, .total_timeout_ms = f->timeout_ms,
                            .max_bytes = f->max_bytes, .fail_on_error = 1};
    static const miaw_httpc_cbs CBS = {.write = fetch_write, .done = fetch_done};
    if (!(f->req = miaw_httpc_start(h->httpc, &o, &CBS, c))) {
        call_drop(c);
        fetch_end(f, 1);
        return snprintf(err, errlen, "cannot start the transfer"), MIAW_E_NOMEM;
    }
    if (handle) *handle = c->id;
    return MIAW_OK;
}

void pw_host_free(miaw_plugin_host *h)
{
    miaw_httpc_free(h->httpc); /* every fetch was cancelled at unload */
    h->httpc = NULL;
}
