/* plugins/messages/media.c - media messages (spec 4.4.2): POST .../messages/image, video,
 * audio (ptt = voice note), document, sticker from JSON (base64 or url) or multipart
 * (a `file` part); GET .../messages/{messageId}/media; optional auto-download of received
 * media. A send goes: source -> a file (base64 decoded to a temp file, url fetched by the
 * host, or the host's multipart temp file) -> checks and metadata on a worker thread
 * (media_meta.c, the module messages-media.so next to this plugin, loaded on the first
 * media message; finished work is picked up by a host timer on the loop) -> media_upload
 * of the file by path (bounded memory) -> msg_send of the WAProto message -> {messageId,
 * timestamp}. Owns the module state G (config, job queue, worker threads: joined at
 * unload by the destructor at the end), one `msend` per send and one `mdl` per download. */
#include <dlfcn.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <miaw/plugin.h>
#include <miaw/plugin_util.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "media_meta.h"
#include "messages.h"

#define MAX_WORKERS 2   /* threads converting/probing at once (the machine's cores) */
#define MAX_QUEUED 64   /* sends waiting for a worker; more answer 503 */
#define MAX_AUTO_DL 8   /* auto-downloads in flight */

static const char *const KIND_NAME[] = {"image", "video", "audio", "document", "sticker"};

typedef struct media_ctx {
    const miaw_host_api *api;
    miaw_plugin *self;
    uint64_t limit[5];         /* bytes sent, per kind (MM_K_*) */
    uint64_t sticker_input;    /* bytes accepted before a sticker's conversion */
    uint64_t sticker_max, sticker_anim_max, max_pixels;
    uint32_t thumb_px, fetch_timeout_ms;
    char tmpdir[512];
    int auto_all;              /* autoDownload: true */
    json_t *auto_list;         /* autoDownload: [instanceIds] */
    char dl_dir[512];
    struct msend *queue_head, *queue_tail;
    size_t queued;
    struct msend *running[MAX_WORKERS];
    miaw_id timer;
    size_t auto_inflight;
    struct mdl *dls;           /* downloads in flight (GET media and auto) */
} media_ctx;

static media_ctx *G;

/* messages-media.so (media_meta.c), loaded on first use and never unloaded (RTLD_NODELETE:
 * its libraries keep one-time allocations behind their own globals) */
static const mm_api *MM;

static int mm_load(char *err, size_t errlen)
{
    if (MM) return 0;
    Dl_info in;
    char path[4096];
    if (!dladdr((void *)mm_load, &in) || !in.dli_fname || !strrchr(in.dli_fname, '/')) {
        snprintf(err, errlen, "cannot tell where the messages plugin was loaded from");
        return -1;
    }
    snprintf(path, sizeof path, "%.*s/messages-media.so", (int)(strrchr(in.dli_fname, '/') - in.dli_fname), in.dli_fname);
    struct stat st;
    if (stat(path, &st) != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))) { /* as the host's own rule for plugins */
        snprintf(err, errlen, "%s is missing or writable by group or others", path);
        return -1;
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    const mm_api *(*get)(void) = h ? (const mm_api *(*)(void))dlsym(h, "mm_api_get") : NULL;
    if (!get) {
        snprintf(err, errlen, "cannot load %s: %s", path, dlerror());
        return -1;
    }
    MM = get();
    return 0;
}

/* ------------------------------------------------------------------ sends */
typedef enum { SRC_BASE64, SRC_URL, SRC_FILE } src_kind;
static const char *const SRC_FIELD[] = {"base64", "url", "file"};

typedef struct msend {
    miaw_req *req;
    mm_kind kind;
    src_kind src;
    int ptt, view_once, aborted;
    char inst[72], to[160];
    char *caption, *file_name, *mimetype, *quoted, *in_path;
    int own_in;                /* in_path is ours to unlink */
    json_t *quoted_msg;        /* msg_get of quotedMessageId or NULL */
    miaw_id h;                 /* fetch / upload / send in flight */
    mm_result res;
    int rc;                    /* mm_process's result */
    pthread_t th;
    atomic_int done;           /* set by the worker (release) when res/rc are final */
    int started;               /* a thread runs or ran for it */
    struct msend *next;
} msend;

static void ms_free(msend *m)
{
    if (!m) return;
    if (m->in_path && m->own_in) unlink(m->in_path);
    free(m->in_path);
    free(m->caption);
    free(m->file_name);
    free(m->mimetype);
    free(m->quoted);
    json_decref(m->quoted_msg);
    if (MM) MM->result_clear(&m->res); /* else nothing was ever processed */
    free(m);
}

static char *dupn(const char *s) { return s ? strdup(s) : NULL; }

/* answers and frees (the request is still ours) */
static void ms_fail(msend *m, int http, const char *code, const char *field, const char *fmt, const char *a)
{
    char msg[600];
    snprintf(msg, sizeof msg, fmt, a ? a : "");
    if (http == 400 && field) G->api->reply_status(m->req, MIAW_E_INVAL, field, "%s", msg);
    else if (http == 413 && field) G->api->reply_status(m->req, MIAW_E_TOOBIG, field, "%s", msg);
    else G->api->reply_error(m->req, http, code, "%s", msg);
    ms_free(m);
}

static void ms_status(msend *m, int status, const char *field, const char *detail)
{
    G->api->reply_status(m->req, status, field, "%s", detail ? detail : "the media message was not sent");
    ms_free(m);
}

static void on_abort(miaw_req *req, int reason, void *udata)
{
    (void)req, (void)reason;
    msend *m = udata;
    if (m->h) G->api->cancel(G->self, m->h);
    m->h = 0;
    m->req = NULL;
    if (m->started) {
        m->aborted = 1; /* the worker owns it until done; the timer frees it */
        return;
    }
    /* queued: drop it from the queue */
    for (msend **pp = &G->queue_head, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->next)
        if (*pp == m) {
            *pp = m->next;
            if (G->queue_tail == m) G->queue_tail = prev;
            G->queued--;
            break;
        }
    ms_free(m);
}

/* 32 random bytes, base64 */
static json_t *secret_json(void)
{
    unsigned char r[32], out[48];
    size_t got = 0;
    while (got < sizeof r) {
        ssize_t n = getrandom(r + got, sizeof r - got, 0);
        if (n <= 0) return NULL;
        got += (size_t)n;
    }
    EVP_EncodeBlock(out, r, sizeof r);
    return json_string((char *)out);
}

static json_t *b64_json(const unsigned char *b, size_t n)
{
    char *s = malloc(4 * ((n + 2) / 3) + 1);
    if (!s) return NULL;
    EVP_EncodeBlock((unsigned char *)s, b, (int)n);
    json_t *j = json_string(s);
    free(s);
    return j;
}

static json_t *quoted_body(const json_t *stored)
{
    json_t *msg = json_object_get(stored, "message");
    if (json_is_object(msg)) {
        json_t *q = json_deep_copy(msg);
        json_object_del(q, "messageContextInfo");
        if (json_object_size(q)) return q;
        json_decref(q);
    }
    const char *text = json_string_value(json_object_get(stored, "text"));
    return text ? json_pack("{s:s}", "conversation", text) : NULL;
}

/* The WAProto.Message of a send: the upload's fields plus what the file and the request
 * say; new reference */
static json_t *build_message(msend *m, const json_t *upload)
{
    static const char *const KEY[] = {"imageMessage", "videoMessage", "audioMessage", "documentMessage",
                                      "stickerMessage"};
    json_t *x = json_deep_copy(upload);
    const mm_result *r = &m->res;
    const char *mime = r->mimetype[0] ? r->mimetype : "application/octet-stream";
    if (m->kind == MM_K_DOCUMENT && m->mimetype && *m->mimetype) mime = m->mimetype;
    json_object_set_new(x, "mimetype", json_string(mime));
    if (m->caption && *m->caption && (m->kind == MM_K_IMAGE || m->kind == MM_K_VIDEO || m->kind == MM_K_DOCUMENT))
        json_object_set_new(x, "caption", json_string(m->caption));
    if (r->width && r->height && m->kind != MM_K_AUDIO && m->kind != MM_K_DOCUMENT) {
        json_object_set_new(x, "width", json_integer(r->width));
        json_object_set_new(x, "height", json_integer(r->height));
    }
    if ((m->kind == MM_K_VIDEO || m->kind == MM_K_AUDIO) && r->seconds)
        json_object_set_new(x, "seconds", json_integer(r->seconds));
    if (r->thumb && (m->kind == MM_K_IMAGE || m->kind == MM_K_VIDEO))
        json_object_set_new(x, "jpegThumbnail", b64_json(r->thumb, r->thumb_len));
    if (m->kind == MM_K_AUDIO) {
        json_object_set_new(x, "ptt", json_boolean(m->ptt));
        if (m->ptt && r->has_waveform) json_object_set_new(x, "waveform", b64_json(r->waveform, 64));
    }
    if (m->kind == MM_K_DOCUMENT) {
        char def[64];
        snprintf(def, sizeof def, "file.%s", r->ext[0] ? r->ext : "bin");
        const char *fn = m->file_name && *m->file_name ? m->file_name : def;
        json_object_set_new(x, "fileName", json_string(fn));
        json_object_set_new(x, "title", json_string(fn));
    }
    if (m->kind == MM_K_STICKER) json_object_set_new(x, "isAnimated", json_boolean(r->animated));
    if (m->quoted) {
        char peer[160] = "";
        G->api->jid_normalize(m->to, peer, sizeof peer);
        const char *sender = json_string_value(json_object_get(m->quoted_msg, "sender"));
        json_t *ci = json_pack("{s:s,s:s}", "stanzaId", m->quoted, "participant", sender ? sender : peer);
        json_t *q = m->quoted_msg ? quoted_body(m->quoted_msg) : NULL;
        if (q) json_object_set_new(ci, "quotedMessage", q);
        json_object_set_new(x, "contextInfo", ci);
    }
    json_t *inner = json_object();
    if (m->view_once) json_object_set_new(x, "viewOnce", json_true());
    json_object_set_new(inner, KEY[m->kind], x);
    json_t *msg;
    if (m->view_once) {
        msg = json_pack("{s:{s:o}}", "viewOnceMessageV2", "message", inner);
    } else {
        msg = inner;
    }
    json_t *sec = secret_json();
    if (sec) json_object_set_new(msg, "messageContextInfo", json_pack("{s:o}", "messageSecret", sec));
    return msg;
}

static void on_sent(int status, const char *id, int64_t ts, const char *detail, void *ud)
{
    msend *m = ud;
    m->h = 0;
    if (status == MIAW_OK) {
        G->api->reply_json(m->req, 200, json_pack("{s:s,s:I}", "messageId", id, "timestamp", (json_int_t)ts * 1000));
        char chat[128];
        if (G->api->jid_normalize(m->to, chat, sizeof chat) == MIAW_OK)
            msgs_ack_server(G->api, G->self, m->inst, id, chat, ts);
        ms_free(m);
        return;
    }
    ms_status(m, status, NULL, detail);
}

static void on_uploaded(int status, const json_t *result, const char *detail, void *ud)
{
    msend *m = ud;
    m->h = 0;
    if (status != MIAW_OK) {
        ms_status(m, status == MIAW_E_IO ? MIAW_E_IO : status, NULL, detail ? detail : "the upload failed");
        return;
    }
    json_t *msg = build_message(m, result);
    static const miaw_msg_opts OPTS = {sizeof(miaw_msg_opts), NULL, "media", NULL, NULL, 0, 0};
    char err[256];
    const char *field = NULL;
    int rc = G->api->msg_send(G->self, m->inst, m->to, msg, NULL, 0, &OPTS, on_sent, m, &m->h, &field, err, sizeof err);
    json_decref(msg);
    if (rc != MIAW_OK) ms_status(m, rc, field, err);
}

static void start_upload(msend *m)
{
    static const char *const TYPE[] = {"image", "video", "audio", "document", "sticker"};
    const char *path = m->res.out_path ? m->res.out_path : m->in_path;
    struct stat st;
    if (stat(path, &st) != 0) {
        ms_status(m, MIAW_E_INTERNAL, NULL, "the media file vanished");
        return;
    }
    if ((uint64_t)st.st_size > G->limit[m->kind]) {
        char msg[200];
        snprintf(msg, sizeof msg, "%s: the %s is %lld bytes after conversion, more than the limit of %llu",
                 SRC_FIELD[m->src], KIND_NAME[m->kind], (long long)st.st_size, (unsigned long long)G->limit[m->kind]);
        ms_fail(m, 413, "PAYLOAD_TOO_LARGE", SRC_FIELD[m->src], "%s", msg);
        return;
    }
    char err[256];
    const char *type = m->kind == MM_K_AUDIO && m->ptt ? "ptt" : TYPE[m->kind];
    int rc = G->api->media_upload(G->self, m->inst, type, NULL, 0, path, on_uploaded, m, &m->h, err, sizeof err);
    if (rc != MIAW_OK) ms_status(m, rc, NULL, err);
}

/* ------------------------------------------------------------------ workers */
static void *worker(void *arg)
{
    msend *m = arg;
    mm_opts o = {.kind = m->kind, .ptt = m->ptt, .tmpdir = G->tmpdir, .thumb_px = G->thumb_px,
                 .max_pixels = G->max_pixels, .sticker_max = G->sticker_max, .sticker_anim_max = G->sticker_anim_max};
    m->rc = MM->process(m->in_path, &o, &m->res);
    atomic_store_explicit(&m->done, 1, memory_order_release);
    return NULL;
}

static void poll_workers(miaw_id t, void *ud);

static void pump(void)
{
    for (int i = 0; i < MAX_WORKERS && G->queue_head; i++) {
        if (G->running[i]) continue;
        msend *m = G->queue_head;
        G->queue_head = m->next;
        if (!G->queue_head) G->queue_tail = NULL;
        G->queued--;
        m->next = NULL;
        m->started = 1;
        if (pthread_create(&m->th, NULL, worker, m) != 0) {
            m->started = 0;
            ms_status(m, MIAW_E_NOMEM, NULL, "cannot start a media worker");
            continue;
        }
        G->running[i] = m;
    }
    int busy = 0;
    for (int i = 0; i < MAX_WORKERS; i++) busy |= G->running[i] != NULL;
    if (busy && !G->timer) G->api->timer_start(G->self, 5, 5, poll_workers, NULL, &G->timer);
    if (!busy && G->timer) {
        G->api->timer_stop(G->self, G->timer);
        G->timer = 0;
    }
}

static void finish(msend *m)
{
    if (m->aborted) {
        ms_free(m);
        return;
    }
    if (m->rc == MIAW_OK) {
        start_upload(m);
        return;
    }
    const char *f = SRC_FIELD[m->src];
    char msg[400];
    snprintf(msg, sizeof msg, "%s: %s", f, m->res.err[0] ? m->res.err : "the file cannot be used");
    if (m->rc == MIAW_E_INVAL) ms_fail(m, 400, NULL, f, "%s", msg);
    else if (m->rc == MIAW_E_LIMIT) ms_fail(m, 413, "PAYLOAD_TOO_LARGE", f, "%s", msg);
    else ms_status(m, MIAW_E_INTERNAL, NULL, msg);
}

static void poll_workers(miaw_id t, void *ud)
{
    (void)t, (void)ud;
    for (int i = 0; i < MAX_WORKERS; i++) {
        msend *m = G->running[i];
        if (!m || !atomic_load_explicit(&m->done, memory_order_acquire)) continue;
        pthread_join(m->th, NULL);
        G->running[i] = NULL;
        m->started = 0; /* back on the loop: on_abort may free it from now on */
        finish(m);
    }
    pump();
}

static void enqueue(msend *m)
{
    char err[300];
    if (mm_load(err, sizeof err) != 0) {
        MIAW_LOGW(G->api, G->self, "media processing unavailable: %s", err);
        G->api->reply_error(m->req, 503, "SERVICE_UNAVAILABLE", "media processing is unavailable on this server: %s", err);
        ms_free(m);
        return;
    }
    if (G->queued >= MAX_QUEUED) {
        G->api->reply_error(m->req, 503, "SERVICE_UNAVAILABLE", "too many media messages are being prepared; retry shortly");
        ms_free(m);
        return;
    }
    if (G->queue_tail) G->queue_tail->next = m;
    else G->queue_head = m;
    G->queue_tail = m;
    G->queued++;
    pump();
}

/* ------------------------------------------------------------------ sources */
static uint64_t input_limit(mm_kind k) { return k == MM_K_STICKER ? G->sticker_input : G->limit[k]; }

static void too_large(msend *m, uint64_t size)
{
    char msg[300];
    snprintf(msg, sizeof msg, "%s: the %s is %llu bytes, more than the limit of %llu", SRC_FIELD[m->src],
             KIND_NAME[m->kind], (unsigned long long)size, (unsigned long long)input_limit(m->kind));
    ms_fail(m, 413, "PAYLOAD_TOO_LARGE", SRC_FIELD[m->src], "%s", msg);
}

static void on_fetched(int status, const char *path, const char *ct, uint64_t size, const char *detail, void *ud)
{
    (void)ct;
    msend *m = ud;
    m->h = 0;
    if (status != MIAW_OK) {
        if (status == MIAW_E_LIMIT) {
            char msg[300];
            snprintf(msg, sizeof msg, "url: the %s is larger than the limit of %llu bytes", KIND_NAME[m->kind],
                     (unsigned long long)input_limit(m->kind));
            ms_fail(m, 413, "PAYLOAD_TOO_LARGE", "url", "%s", msg);
        } else {
            ms_fail(m, 400, NULL, "url", "url: cannot fetch it (%s)",
                    detail ? detail : status == MIAW_E_TIMEOUT ? "timeout" : "unreachable");
        }
        return;
    }
    m->in_path = strdup(path);
    m->own_in = 1;
    if (!m->in_path) {
        unlink(path);
        ms_status(m, MIAW_E_NOMEM, NULL, "out of memory");
        return;
    }
    if (size > input_limit(m->kind)) {
        too_large(m, size);
        return;
    }
    enqueue(m);
}

/* decodes standard or URL-safe base64 (whitespace ignored, optional data: prefix) into a
 * new temp file; MIAW_E_INVAL for bad base64 */
static int b64_to_file(const char *s, size_t n, const char *dir, char **path, uint64_t *size)
{
    const char *comma = n > 5 && !strncmp(s, "data:", 5) ? memchr(s, ',', n < 256 ? n : 256) : NULL;
    if (comma) {
        n -= (size_t)(comma + 1 - s);
        s = comma + 1;
    }
    size_t pl = strlen(dir) + 32;
    char *p = malloc(pl);
    if (!p) return MIAW_E_NOMEM;
    snprintf(p, pl, "%s/miaw-in-XXXXXX", dir);
    int fd = mkstemp(p);
    if (fd < 0) {
        free(p);
        return MIAW_E_IO;
    }
    unsigned char in[4096 + 4], out[3072 + 8];
    size_t k = 0, pad = 0;
    uint64_t total = 0;
    int rc = MIAW_OK, ended = 0;
    for (size_t i = 0; i <= n && rc == MIAW_OK; i++) {
        if (i < n) {
            unsigned char c = (unsigned char)s[i];
            if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
            if (c == '-') c = '+';
            else if (c == '_') c = '/';
            if (c == '=') pad++;
            else if (pad || ended) { rc = MIAW_E_INVAL; break; }
            in[k++] = c;
        }
        if (k == 4096 || (i == n && k)) {
            if (i == n) {
                while (k % 4) { in[k++] = '='; pad++; }
                ended = 1;
            } else if (pad) {
                rc = MIAW_E_INVAL;
                break;
            }
            in[k] = 0;
            int dl = EVP_DecodeBlock(out, in, (int)k);
            if (dl < 0 || pad > 2) { rc = MIAW_E_INVAL; break; }
            dl -= (int)pad; /* EVP_DecodeBlock counts padding as zero bytes */
            if (dl > 0 && write(fd, out, (size_t)dl) != dl) rc = MIAW_E_IO;
            total += (uint64_t)(dl > 0 ? dl : 0);
            k = 0;
        }
    }
    close(fd);
    if (rc == MIAW_OK && total == 0) rc = MIAW_E_INVAL;
    if (rc != MIAW_OK) {
        unlink(p);
        free(p);
        return rc;
    }
    *path = p;
    *size = total;
    return MIAW_OK;
}

/* a boolean field: JSON true/false, or "true"/"false"/"1"/"0" (multipart text parts) */
static int flag(const json_t *body, const char *name, int *out)
{
    json_t *v = json_object_get(body, name);
    *out = 0;
    if (!v || json_is_null(v)) return 0;
    if (json_is_boolean(v)) { *out = json_is_true(v); return 0; }
    const char *s = json_string_value(v);
    if (s && (!strcmp(s, "true") || !strcmp(s, "1"))) { *out = 1; return 0; }
    if (s && (!strcmp(s, "false") || !strcmp(s, "0") || !*s)) return 0;
    return -1;
}

static int h_send(miaw_req *req, void *udata)
{
    const miaw_host_api *api = G->api;
    mm_kind kind = (mm_kind)(intptr_t)udata;
    const json_t *body = api->req_body(req);
    const char *inst = api->req_param(req, "instanceId");
    const char *to = json_string_value(json_object_get(body, "to"));
    const char *url = json_string_value(json_object_get(body, "url"));
    const char *b64 = json_string_value(json_object_get(body, "base64"));
    char jid[160];
    if (!to || api->jid_normalize(to, jid, sizeof jid) != MIAW_OK)
        return api->reply_status(req, MIAW_E_INVAL, "to",
                                 "'to' must be a phone number (5-20 digits with country code), a user JID or a group JID"),
               MIAW_OK;
    miaw_upload up = {.struct_size = sizeof up};
    int has_file = MIAW_HOST_HAS(api, req_upload) && api->req_upload(req, "file", &up) == MIAW_OK;
    int n = (url && *url) + (b64 && *b64) + has_file;
    if (n != 1)
        return api->reply_status(req, MIAW_E_INVAL, n ? "url" : "file",
                                 n ? "give exactly one of url, base64 or a multipart file part"
                                   : "the media is missing: give url, base64, or a multipart 'file' part"),
               MIAW_OK;
    int ptt = 0, view_once = 0;
    if (flag(body, "ptt", &ptt) || flag(body, "viewOnce", &view_once))
        return api->reply_status(req, MIAW_E_INVAL, flag(body, "ptt", &ptt) ? "ptt" : "viewOnce", "must be a boolean"),
               MIAW_OK;
    if (view_once && kind != MM_K_IMAGE && kind != MM_K_VIDEO && !(kind == MM_K_AUDIO && ptt))
        return api->reply_status(req, MIAW_E_INVAL, "viewOnce", "viewOnce applies to images, videos and voice notes"),
               MIAW_OK;
    msend *m = calloc(1, sizeof *m);
    if (!m) return api->reply_status(req, MIAW_E_NOMEM, NULL, "out of memory"), MIAW_OK;
    m->req = req;
    m->kind = kind;
    m->ptt = kind == MM_K_AUDIO && ptt;
    m->view_once = view_once;
    snprintf(m->inst, sizeof m->inst, "%s", inst);
    snprintf(m->to, sizeof m->to, "%s", to);
    m->caption = dupn(json_string_value(json_object_get(body, "caption")));
    m->file_name = dupn(json_string_value(json_object_get(body, "fileName")));
    m->mimetype = dupn(json_string_value(json_object_get(body, "mimetype")));
    const char *q = json_string_value(json_object_get(body, "quotedMessageId"));
    if (q && *q) {
        m->quoted = strdup(q);
        m->quoted_msg = api->msg_get(G->self, inst, q);
    }
    if (has_file) {
        m->src = SRC_FILE;
        if (!m->file_name && up.filename) m->file_name = strdup(up.filename);
        if (!m->mimetype && up.content_type && kind == MM_K_DOCUMENT) m->mimetype = strdup(up.content_type);
        if (up.size > input_limit(kind)) return too_large(m, up.size), MIAW_OK;
        m->in_path = strdup(up.path); /* the host's; it removes it when the request ends */
    } else if (b64 && *b64) {
        m->src = SRC_BASE64;
        size_t bl = strlen(b64);
        if ((uint64_t)bl / 4 * 3 > input_limit(kind) + 3) return too_large(m, (uint64_t)bl / 4 * 3), MIAW_OK;
        uint64_t size = 0;
        int rc = b64_to_file(b64, bl, G->tmpdir, &m->in_path, &size);
        if (rc == MIAW_E_INVAL) return ms_fail(m, 400, NULL, "base64", "base64: not valid base64%s", ""), MIAW_OK;
        if (rc != MIAW_OK) return ms_status(m, rc, NULL, "cannot store the decoded media"), MIAW_OK;
        m->own_in = 1;
        if (size > input_limit(kind)) return too_large(m, size), MIAW_OK;
    } else {
        m->src = SRC_URL;
        if (!MIAW_HOST_HAS(api, fetch))
            return ms_fail(m, 400, NULL, "url", "url: this server cannot fetch URLs (plugin API 1.3 needed)%s", ""),
                   MIAW_OK;
        miaw_fetch_opts fo = {sizeof fo, input_limit(kind), G->fetch_timeout_ms, 3};
        char err[256];
        int rc = api->fetch(G->self, url, &fo, on_fetched, m, &m->h, err, sizeof err);
        if (rc != MIAW_OK) return ms_fail(m, 400, NULL, "url", "url: %s", err), MIAW_OK;
        api->req_suspend(req, on_abort, m);
        return MIAW_ASYNC;
    }
    if (!m->in_path) return ms_status(m, MIAW_E_NOMEM, NULL, "out of memory"), MIAW_OK;
    api->req_suspend(req, on_abort, m);
    enqueue(m); /* may answer at once (503): the request stays valid until answered */
    return MIAW_ASYNC;
}

/* ------------------------------------------------------------------ downloads */
/* the media part of a stored WAProto message: {object, type for the keys, kind name} */
static json_t *find_media(const json_t *msg, const char **type, const char **kind)
{
    static const struct { const char *key, *type, *kind; } K[] = {
        {"imageMessage", "image", "image"},       {"videoMessage", "video", "video"},
        {"ptvMessage", "video", "video"},         {"audioMessage", "audio", "audio"},
        {"documentMessage", "document", "document"}, {"stickerMessage", "sticker", "sticker"},
    };
    static const char *const WRAP[] = {"viewOnceMessageV2", "viewOnceMessage", "viewOnceMessageV2Extension",
                                       "documentWithCaptionMessage", "ephemeralMessage", "editedMessage"};
    for (int depth = 0; depth < 4 && json_is_object(msg); depth++) {
        for (size_t i = 0; i < sizeof K / sizeof *K; i++) {
            json_t *o = json_object_get(msg, K[i].key);
            if (json_is_object(o) && (json_object_get(o, "directPath") || json_object_get(o, "url"))) {
                *type = K[i].type;
                *kind = K[i].kind;
                return o;
            }
        }
        const json_t *next = NULL;
        for (size_t i = 0; i < sizeof WRAP / sizeof *WRAP && !next; i++)
            next = json_object_get(json_object_get(msg, WRAP[i]), "message");
        msg = next;
    }
    return NULL;
}

/* the extension for a media message's mimetype */
static const char *mime_ext(const json_t *media, const char *kind)
{
    static const struct { const char *p, *e; } E[] = {
        {"image/jpeg", "jpg"}, {"image/png", "png"}, {"image/webp", "webp"}, {"video/mp4", "mp4"},
        {"audio/ogg", "ogg"},  {"audio/mpeg", "mp3"}, {"audio/mp4", "m4a"},  {"audio/aac", "aac"},
        {"audio/amr", "amr"},  {"application/pdf", "pdf"}, {"video/3gpp", "3gp"}, {"video/quicktime", "mov"},
    };
    const char *mime = json_string_value(json_object_get(media, "mimetype"));
    for (size_t i = 0; mime && i < sizeof E / sizeof *E; i++)
        if (!strncmp(mime, E[i].p, strlen(E[i].p))) return E[i].e;
    return !strcmp(kind, "sticker") ? "webp" : "bin";
}

/* a file name for a download: the message's fileName, or <id>.<ext> */
static void dl_name(const json_t *media, const char *kind, const char *id, char *out, size_t n)
{
    const char *fn = json_string_value(json_object_get(media, "fileName"));
    if (fn && *fn && !strchr(fn, '/')) snprintf(out, n, "%s", fn);
    else snprintf(out, n, "%s.%s", id, mime_ext(media, kind));
}

typedef struct mdl {
    miaw_req *req;            /* NULL: an auto-download */
    miaw_id h;
    char *path, *final_path;  /* where media_download writes; final for auto-downloads */
    char *mime, *name;
    int attachment;
    struct mdl *next;
} mdl;

static void mdl_unlink_list(mdl *d)
{
    for (mdl **pp = &G->dls; *pp; pp = &(*pp)->next)
        if (*pp == d) {
            *pp = d->next;
            break;
        }
}

static void mdl_free(mdl *d)
{
    free(d->path);
    free(d->final_path);
    free(d->mime);
    free(d->name);
    free(d);
}

static void on_dl_abort(miaw_req *req, int reason, void *ud)
{
    (void)req, (void)reason;
    mdl *d = ud;
    G->api->cancel(G->self, d->h);
    unlink(d->path);
    mdl_unlink_list(d);
    mdl_free(d);
}

static void on_downloaded(int status, const json_t *result, const char *detail, void *ud)
{
    (void)result;
    mdl *d = ud;
    mdl_unlink_list(d);
    if (!d->req) { /* auto-download */
        G->auto_inflight--;
        if (status != MIAW_OK) MIAW_LOGW(G->api, G->self, "auto-download to %s failed: %s", d->path, detail ? detail : "?");
        mdl_free(d);
        return;
    }
    if (status == MIAW_OK) {
        uint32_t fl = MIAW_FILE_F_UNLINK | (d->attachment ? MIAW_FILE_F_ATTACHMENT : 0);
        if (G->api->reply_file(d->req, 200, d->path, d->mime, d->name, fl) != MIAW_OK) {
            unlink(d->path);
            G->api->reply_status(d->req, MIAW_E_INTERNAL, NULL, "the downloaded file cannot be sent");
        }
    } else if (status == MIAW_E_GONE) {
        G->api->reply_error(d->req, 410, "MEDIA_GONE", "WhatsApp no longer has this media (%s)", detail ? detail : "expired");
    } else {
        G->api->reply_status(d->req, status, NULL, "the media could not be downloaded: %s", detail ? detail : "error");
    }
    mdl_free(d);
}

static char *tmp_name(const char *dir, const char *tag)
{
    unsigned char r[8];
    char *p = malloc(strlen(dir) + 48);
    if (!p || getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        free(p);
        return NULL;
    }
    sprintf(p, "%s/miaw-%s-%02x%02x%02x%02x%02x%02x%02x%02x", dir, tag, r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
    return p;
}

/* <dl_dir>/<instance>/<messageId>.<ext> of an auto-downloaded file (ext from fileName
 * when it has a plain one, else from the mimetype) */
static void auto_path(const char *inst, const json_t *media, const char *kind, const char *id, char *out, size_t n)
{
    const char *fn = json_string_value(json_object_get(media, "fileName"));
    const char *dot = fn ? strrchr(fn, '.') : NULL, *ext = mime_ext(media, kind);
    int ok = dot && dot[1] && strlen(dot + 1) <= 8;
    for (const char *p = ok ? dot + 1 : ""; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))) ok = 0;
    snprintf(out, n, "%s/%s/%s.%s", G->dl_dir, inst, id, ok ? dot + 1 : ext);
}

static int safe_id(const char *s)
{
    if (!s || !*s || strlen(s) > 128) return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '-' || *s == '_'))
            return 0;
    return 1;
}

static int h_media_get(miaw_req *req, void *udata)
{
    (void)udata;
    const miaw_host_api *api = G->api;
    const char *inst = api->req_param(req, "instanceId"), *id = api->req_param(req, "messageId");
    json_t *stored = api->msg_get(G->self, inst, id);
    if (!stored) return api->reply_status(req, MIAW_E_NOTFOUND, "messageId", "no message %s in this instance", id), MIAW_OK;
    const char *type = NULL, *kind = NULL;
    json_t *media = find_media(json_object_get(stored, "message"), &type, &kind);
    if (!media) {
        json_decref(stored);
        return api->reply_status(req, MIAW_E_NOTFOUND, "messageId", "message %s has no media", id), MIAW_OK;
    }
    const char *mime = json_string_value(json_object_get(media, "mimetype"));
    char name[300];
    dl_name(media, kind, id, name, sizeof name);
    int attach = !strcmp(kind, "document");
    /* auto-downloaded already: serve that file */
    if (G->dl_dir[0] && safe_id(id) && safe_id(inst)) {
        char p[1200];
        auto_path(inst, media, kind, id, p, sizeof p);
        struct stat st;
        if (stat(p, &st) == 0 &&
            api->reply_file(req, 200, p, mime ? mime : "application/octet-stream", name,
                            attach ? MIAW_FILE_F_ATTACHMENT : 0) == MIAW_OK) {
            json_decref(stored);
            return MIAW_OK;
        }
    }
    mdl *d = calloc(1, sizeof *d);
    if (d) {
        d->req = req;
        d->path = tmp_name(G->tmpdir, "dl");
        d->mime = strdup(mime ? mime : "application/octet-stream");
        d->name = strdup(name);
        d->attachment = attach;
    }
    if (!d || !d->path || !d->mime || !d->name) {
        if (d) mdl_free(d);
        json_decref(stored);
        return api->reply_status(req, MIAW_E_NOMEM, NULL, "out of memory"), MIAW_OK;
    }
    char err[256];
    int rc = api->media_download(G->self, inst, type, media, d->path, NULL, on_downloaded, d, &d->h, err, sizeof err);
    json_decref(stored);
    if (rc != MIAW_OK) {
        mdl_free(d);
        if (rc == MIAW_E_INVAL) rc = MIAW_E_NOTFOUND; /* a media message without what a download needs */
        return api->reply_status(req, rc, NULL, "%s", err), MIAW_OK;
    }
    d->next = G->dls;
    G->dls = d;
    api->req_suspend(req, on_dl_abort, d);
    return MIAW_ASYNC;
}

/* ------------------------------------------------------------------ auto-download */
static int auto_on(const char *inst)
{
    if (G->auto_all) return 1;
    size_t i;
    json_t *v;
    json_array_foreach(G->auto_list, i, v) if (json_is_string(v) && !strcmp(json_string_value(v), inst)) return 1;
    return 0;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

/* an instance deleted: its auto-downloaded files go with it */
static void on_inst_deleted(const miaw_event *ev, void *ud)
{
    (void)ud;
    const char *inst = ev->instance_id;
    if (!G->dl_dir[0] || !inst || !safe_id(inst)) return;
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/%s", G->dl_dir, inst);
    struct stat st;
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return;
    if (nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS) != 0)
        MIAW_LOGW(G->api, G->self, "instance %s deleted: could not remove all of %s", inst, dir);
    else
        MIAW_LOGI(G->api, G->self, "instance %s deleted: its auto-downloaded media removed", inst);
}

static void on_message(const miaw_event *ev, void *ud)
{
    (void)ud;
    const char *inst = ev->instance_id, *id = json_string_value(json_object_get(ev->data, "id"));
    if (!inst || !safe_id(inst) || !safe_id(id) || !auto_on(inst)) return;
    const char *type = NULL, *kind = NULL;
    json_t *media = find_media(json_object_get(ev->data, "raw"), &type, &kind);
    if (!media) return;
    if (G->auto_inflight >= MAX_AUTO_DL) {
        MIAW_LOGW(G->api, G->self, "auto-download of %s skipped: %d downloads in flight", id, MAX_AUTO_DL);
        return;
    }
    char dir[1100], p[1200];
    snprintf(dir, sizeof dir, "%s/%s", G->dl_dir, inst);
    if (mkdir(G->dl_dir, 0700) != 0 && errno != EEXIST) return;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) return;
    auto_path(inst, media, kind, id, p, sizeof p);
    mdl *d = calloc(1, sizeof *d);
    if (!d || !(d->path = strdup(p))) {
        free(d);
        return;
    }
    char err[256];
    if (G->api->media_download(G->self, inst, type, media, d->path, NULL, on_downloaded, d, &d->h, err, sizeof err) !=
        MIAW_OK) {
        MIAW_LOGW(G->api, G->self, "auto-download of %s not started: %s", id, err);
        mdl_free(d);
        return;
    }
    G->auto_inflight++;
    d->next = G->dls;
    G->dls = d;
}

/* ------------------------------------------------------------------ config, routes */
static void ctx_free(media_ctx *c)
{
    if (!c) return;
    for (int i = 0; i < MAX_WORKERS; i++)
        if (c->running[i]) {
            pthread_join(c->running[i]->th, NULL);
            ms_free(c->running[i]);
        }
    for (msend *m = c->queue_head, *n; m; m = n) {
        n = m->next;
        ms_free(m);
    }
    for (mdl *d = c->dls, *n; d; d = n) {
        n = d->next;
        mdl_free(d);
    }
    json_decref(c->auto_list);
    free(c);
}

/* the plugin has no fini hook of its own (messages.c's descriptor frees its base only):
 * worker threads are joined and the state freed when the object is unloaded */
__attribute__((destructor)) static void media_unload(void)
{
    ctx_free(G);
    G = NULL;
}

static uint64_t cfg_u64(const json_t *o, const char *k, uint64_t def, uint64_t lo, uint64_t hi, int *bad)
{
    json_t *v = json_object_get(o, k);
    if (!v) return def;
    if (!json_is_integer(v) || json_integer_value(v) < (json_int_t)lo || (uint64_t)json_integer_value(v) > hi) {
        *bad = 1;
        return def;
    }
    return (uint64_t)json_integer_value(v);
}

static int configure(media_ctx *c, const json_t *cfg, char *err, size_t errlen)
{
    static const uint64_t DEF[5] = {16u << 20, 16u << 20, 16u << 20, 100u << 20, 500u << 10};
    const json_t *lim = json_object_get(cfg, "limits");
    const json_t *media = json_object_get(cfg, "media");
    if (json_is_object(media)) cfg = media; /* plugins.config.messages.media: {...} or flat */
    if (!lim) lim = json_object_get(cfg, "limits");
    int bad = 0;
    for (int k = 0; k < 5; k++) c->limit[k] = cfg_u64(lim, KIND_NAME[k], DEF[k], 1, 2ull << 30, &bad);
    c->sticker_max = cfg_u64(lim, "stickerStatic", 100u << 10, 1024, 64u << 20, &bad);
    c->sticker_anim_max = cfg_u64(lim, "stickerAnimated", c->limit[MM_K_STICKER], 1024, 64u << 20, &bad);
    c->sticker_input = cfg_u64(lim, "stickerInput", 8u << 20, 1024, 256u << 20, &bad);
    c->max_pixels = cfg_u64(cfg, "maxImagePixels", 25000000, 10000, 400000000, &bad);
    c->thumb_px = (uint32_t)cfg_u64(cfg, "thumbnailSize", 96, 16, 640, &bad);
    c->fetch_timeout_ms = (uint32_t)cfg_u64(cfg, "fetchTimeoutMs", 60000, 1000, 3600000, &bad);
    if (bad) {
        snprintf(err, errlen, "messages: bad media config (limits.* in bytes, maxImagePixels, thumbnailSize 16..640, "
                              "fetchTimeoutMs)");
        return MIAW_E_INVAL;
    }
    const char *td = json_string_value(json_object_get(cfg, "tmpDir"));
    if (!td) td = getenv("TMPDIR");
    snprintf(c->tmpdir, sizeof c->tmpdir, "%s", td && *td ? td : "/tmp");
    json_t *ad = json_object_get(cfg, "autoDownload");
    if (json_is_true(ad)) c->auto_all = 1;
    else if (json_is_array(ad)) c->auto_list = json_incref(ad);
    else if (ad && !json_is_false(ad)) {
        snprintf(err, errlen, "messages: autoDownload must be true, false or a list of instance ids");
        return MIAW_E_INVAL;
    }
    const char *dd = json_string_value(json_object_get(cfg, "downloadDir"));
    if (c->auto_all || c->auto_list) snprintf(c->dl_dir, sizeof c->dl_dir, "%s", dd && *dd ? dd : "./data/media");
    else if (dd && *dd) snprintf(c->dl_dir, sizeof c->dl_dir, "%s", dd);
    return MIAW_OK;
}

#define COMMON_FIELDS                                                                                              \
    {.name = "to", .type = MIAW_T_STRING, .flags = MIAW_F_REQUIRED | MIAW_F_NONEMPTY | MIAW_F_HAS_MAX, .max = 128,    \
     .description = "Recipient: phone number with country code (e.g. 6281234567890), a user JID or a group JID",    \
     .example = "\"6281234567890\""},                                                                              \
    {.name = "url", .type = MIAW_T_STRING, .flags = MIAW_F_NULLABLE | MIAW_F_HAS_MAX, .max = 4096, .format = "uri",  \
     .description = "http(s) URL the server downloads the file from (size, time and redirects bounded). One of "    \
                    "url, base64 or a multipart `file` part.",                                                     \
     .example = "\"https://example.com/media/file\""},                                                             \
    {.name = "base64", .type = MIAW_T_STRING, .flags = MIAW_F_NULLABLE,                                            \
     .description = "The file as base64 (standard or URL-safe; a data: URL prefix is accepted). The whole JSON "    \
                    "body is bounded by the route's body limit; use multipart or url for large files."},           \
    {.name = "mimetype", .type = MIAW_T_STRING, .flags = MIAW_F_NULLABLE | MIAW_F_HAS_MAX, .max = 128,              \
     .description = "Declared type. The content decides (magic bytes); for documents this is the type shown.",     \
     .example = "\"application/pdf\""},                                                                            \
    {.name = "quotedMessageId", .type = MIAW_T_STRING, .flags = MIAW_F_NULLABLE | MIAW_F_HAS_MAX, .max = 128,       \
     .description = "Id of a message to reply to (optional)", .example = "\"3EB0C4F1A2B3C4D5E6F7A8\""}

#define CAPTION_FIELD                                                                                              \
    {.name = "caption", .type = MIAW_T_STRING, .flags = MIAW_F_NULLABLE | MIAW_F_HAS_MAX, .max = 65536,            \
     .description = "Caption shown under the media", .example = "\"Look at this\""}
#define VIEWONCE_FIELD                                                                                             \
    {.name = "viewOnce", .type = MIAW_T_BOOLEAN, .flags = MIAW_F_NULLABLE,                                             \
     .description = "View once (sent in a viewOnceMessageV2 wrapper)",          \
     .example = "false"}

static const miaw_field IMAGE_BODY[] = {COMMON_FIELDS, CAPTION_FIELD, VIEWONCE_FIELD, {0}};
static const miaw_field VIDEO_BODY[] = {COMMON_FIELDS, CAPTION_FIELD, VIEWONCE_FIELD, {0}};
static const miaw_field AUDIO_BODY[] = {
    COMMON_FIELDS, VIEWONCE_FIELD,
    {.name = "ptt", .type = MIAW_T_BOOLEAN, .flags = MIAW_F_NULLABLE,
     .description = "Send as a voice note (push-to-talk) with a "
                    "waveform; Ogg/Opus is what WhatsApp records",
     .example = "true"},
    {0}};
static const miaw_field DOC_BODY[] = {
    COMMON_FIELDS, CAPTION_FIELD,
    {.name = "fileName", .type = MIAW_T_STRING, .flags = MIAW_F_NULLABLE | MIAW_F_HAS_MAX, .max = 255,
     .description = "File name shown to the recipient (default: the multipart file name, or file.<ext>)",
     .example = "\"invoice.pdf\""},
    {0}};
static const miaw_field STICKER_BODY[] = {COMMON_FIELDS, {0}};

int msgs_media_routes(miaw_plugin_base *b, const json_t *config, char *err, size_t errlen)
{
    if (G) { /* a previous load of this object that was not unloaded */
        ctx_free(G);
        G = NULL;
    }
    if (!MIAW_HOST_HAS(b->api, media_upload) || !MIAW_HOST_HAS(b->api, media_download)) {
        MIAW_LOGW(b->api, b->self, "media routes not loaded: the host has no media services (needs plugin API 1.2)");
        return MIAW_OK;
    }
    media_ctx *c = calloc(1, sizeof *c);
    if (!c) return MIAW_E_NOMEM;
    c->api = b->api;
    c->self = b->self;
    if (configure(c, config, err, errlen) != MIAW_OK) {
        ctx_free(c);
        return MIAW_E_INVAL;
    }
    G = c;
    static const struct {
        mm_kind kind;
        const char *path, *op, *summary, *desc;
        const miaw_field *body;
    } R[] = {
        {MM_K_IMAGE, "/instances/{instanceId}/messages/image", "sendImage", "Send image",
         "Sends an image: JPEG as it is; PNG and WebP are converted to JPEG (alpha over white). width, height and a "
         "JPEG thumbnail go into the imageMessage. 400 INVALID_REQUEST (details.field = base64/url/file) when the "
         "content is not an image, 413 PAYLOAD_TOO_LARGE above the limit (plugins.config.messages.limits.image, "
         "default 16 MiB).",
         IMAGE_BODY},
        {MM_K_VIDEO, "/instances/{instanceId}/messages/video", "sendVideo", "Send video",
         "Sends an MP4/QuickTime/3GPP video with its duration, size and a thumbnail of its first frame. Limit "
         "limits.video (default 16 MiB).",
         VIDEO_BODY},
        {MM_K_AUDIO, "/instances/{instanceId}/messages/audio", "sendAudio", "Send audio or a voice note",
         "Sends audio (Ogg/Opus, MP3, AAC, M4A, AMR) with its duration; ptt: true sends a voice note with a 64-value "
         "waveform. Limit limits.audio (default 16 MiB).",
         AUDIO_BODY},
        {MM_K_DOCUMENT, "/instances/{instanceId}/messages/document", "sendDocument", "Send document",
         "Sends any file as a document (fileName, mimetype: the declared one, else the sniffed one). The file is "
         "streamed from disk to WhatsApp (bounded memory). Limit limits.document (default 100 MiB).",
         DOC_BODY},
        {MM_K_STICKER, "/instances/{instanceId}/messages/sticker", "sendSticker", "Send sticker",
         "Sends a sticker: a 512x512 WebP as it is (animated WebP as it is, up to limits.stickerAnimated, default 500 "
         "KiB); PNG, JPEG and other WebP are fitted into 512x512 (transparent margins) and encoded as WebP of at most "
         "limits.stickerStatic (default 100 KiB).",
         STICKER_BODY},
    };
    char desc[5][1024];
    int multipart = MIAW_HOST_HAS(b->api, req_upload); /* hosts before 1.3 refuse the flag */
    for (size_t i = 0; i < sizeof R / sizeof *R; i++) {
        uint64_t lim = R[i].kind == MM_K_STICKER ? c->sticker_input : c->limit[R[i].kind];
        uint64_t body_max = lim / 3 * 4 + (1u << 20);
        snprintf(desc[i], sizeof desc[i],
                 "%s Body: JSON {to, url | base64, ...} or multipart/form-data with a `file` part and the same fields "
                 "as text parts; a JSON body (base64 included) or a multipart request is at most %llu bytes. Answers "
                 "{messageId, timestamp} once WhatsApp's server acknowledged the message; 503 INSTANCE_NOT_CONNECTED "
                 "when the instance is not connected.",
                 R[i].desc, (unsigned long long)body_max);
        miaw_route r = {MIAW_ROUTE_INIT, .method = "POST", .path = R[i].path,
                        .flags = MIAW_ROUTE_INSTANCE | (multipart ? MIAW_ROUTE_MULTIPART : 0), .handler = h_send,
                        .udata = (void *)(intptr_t)R[i].kind, .body = R[i].body, .body_max = body_max,
                        .timeout_ms = 300000, .operation_id = R[i].op, .summary = R[i].summary,
                        .description = desc[i], .tag = "Messages",
                        .response_example = "{\"messageId\":\"3EB0C4F1A2B3C4D5E6F7A8\",\"timestamp\":1735118400000}"};
        if (b->api->route_add(b->self, &r, err, errlen) != MIAW_OK) return MIAW_E_INVAL;
    }
    miaw_route get = {
        MIAW_ROUTE_INIT, .method = "GET", .path = "/instances/{instanceId}/messages/{messageId}/media",
        .flags = MIAW_ROUTE_INSTANCE, .handler = h_media_get, .timeout_ms = 300000, .operation_id = "downloadMedia",
        .summary = "Download media",
        .description = "Streams the decrypted file of a media message (sent or received; image, video, audio, "
                       "document, sticker) with Content-Type, Content-Length, Content-Disposition (the file name) and "
                       "single byte ranges (Range -> 206). 404 NOT_FOUND for an unknown message or one without media, "
                       "410 MEDIA_GONE when WhatsApp no longer has the file, 503 INSTANCE_NOT_CONNECTED. The answer "
                       "is the file itself, not a JSON envelope.",
        .tag = "Messages"};
    if (!MIAW_HOST_HAS(b->api, reply_file)) {
        MIAW_LOGW(b->api, b->self, "GET .../media not loaded: the host cannot answer with files (plugin API 1.3)");
    } else if (b->api->route_add(b->self, &get, err, errlen) != MIAW_OK) {
        return MIAW_E_INVAL;
    }
    if ((c->auto_all || c->auto_list) &&
        b->api->event_subscribe(b->self, "message", on_message, NULL, NULL) != MIAW_OK) {
        snprintf(err, errlen, "messages: cannot subscribe to message events for autoDownload");
        return MIAW_E_INVAL;
    }
    if ((c->auto_all || c->auto_list) &&
        b->api->event_subscribe(b->self, "instance.deleted", on_inst_deleted, NULL, NULL) != MIAW_OK) {
        snprintf(err, errlen, "messages: cannot subscribe to instance.deleted for autoDownload");
        return MIAW_E_INVAL;
    }
    return MIAW_OK;
}
