/* core/engine/media_up.c - media uploads: a fresh media key, the source (a copy of the
 * bytes, or a file read in 64 KiB pieces, never whole) encrypted twice: once in the
 * thread pool for fileSha256 / fileEncSha256 / the length (the token in the URL is the
 * encrypted blob's hash, so it is known before the POST), once while streaming the POST
 * body, whose hashes must match the first pass. POST
 * https://<host>/mms/<type>/<token>?auth=<auth>&token=<token> to the configured upload
 * hosts, then media_conn's (skipping those whose maxContentLengthBytes is too small),
 * the next host on any failure, media_conn asked again once when an auth is refused.
 * Owns each upload's eng_up: source, buffers, encryptor, hosts. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "engine/media_int.h"

#define CHUNK 65536

struct eng_up {
    uint8_t key[MIAW_WA_MEDIA_KEY_LEN];
    int64_t key_ts;
    const char *mms;           /* path segment */
    uint8_t *data;             /* the bytes (a copy), or */
    int fd;                    /* the file, -1 */
    size_t len;                /* bytes given / file size when opened */
    uint64_t max;              /* largest plaintext accepted */
    uv_work_t work;
    int job_rc;                /* the hashing pass: status, results */
    uint64_t size;
    miaw_wa_media_hashes h;
    int hashed, have_conn;
    char *auth;
    eng_mhost *hosts;
    size_t nhosts, host_i, tried;
    int auth_refused, refreshed;
    /* the POST in progress */
    miaw_wa_media_enc *enc;
    uint64_t off;              /* plaintext read so far */
    uint8_t *in, *buf;         /* CHUNK plaintext, CHUNK + final ciphertext */
    size_t buf_len, buf_pos;
    int eof, read_err;
    miaw_wa_media_hashes h2;
    const char *host;
    char resp[16384];
    size_t resp_len;
    char last[256];            /* why the last host failed */
    uint64_t t0, t_hashed, t_post; /* loop ms: start, first pass done, last POST started */
};

const char *eng_media_mms_type(const char *type)
{
    static const struct {
        const char *type, *mms;
    } M[] = {
        {"image", "image"}, {"sticker", "image"}, {"thumbnail-image", "image"},
        {"video", "video"}, {"gif", "video"}, {"ptv", "video"}, {"thumbnail-video", "video"},
        {"audio", "audio"}, {"ptt", "audio"},
        {"document", "document"}, {"thumbnail-document", "document"},
        {"thumbnail-link", "thumbnail-link"}, {"md-msg-hist", "md-msg-hist"}, {"history", "md-msg-hist"},
        {"md-app-state", "md-app-state"}, {"app-state", "md-app-state"}, {"sticker-pack", "sticker-pack"},
    };
    for (size_t i = 0; type && i < sizeof M / sizeof M[0]; i++)
        if (!strcmp(M[i].type, type)) return M[i].mms;
    return NULL;
}

static uint64_t blob_len(uint64_t size) { return (size / 16 + 1) * 16 + MIAW_WA_MEDIA_MAC_LEN; }

/* n bytes of plaintext at off; 0 with *got (short only at the end), or -1 */
static int src_read(eng_up *u, uint64_t off, uint8_t *out, size_t n, size_t *got)
{
    *got = 0;
    if (u->fd < 0) {
        size_t k = off >= u->len ? 0 : u->len - off < n ? u->len - (size_t)off : n;
        if (k) memcpy(out, u->data + off, k);
        *got = k;
        return 0;
    }
    while (*got < n) {
        ssize_t r = pread(u->fd, out + *got, n - *got, (off_t)(off + *got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        *got += (size_t)r;
    }
    return 0;
}

int eng_up_prepare(eng_xfer *x, const void *data, size_t len, const char *path, char *err, size_t errlen)
{
    eng_up *u = calloc(1, sizeof *u);
    if (!u) return snprintf(err, errlen, "out of memory"), MIAW_E_NOMEM;
    x->up = u;
    u->fd = -1;
    u->max = x->m->max_bytes;
    if (!(u->mms = eng_media_mms_type(x->type)))
        return snprintf(err, errlen, "uploads of media type '%s' are not supported", x->type), MIAW_E_INVAL;
    if (data) {
        if (len > u->max) return snprintf(err, errlen, "the data is larger than whatsapp.media_max_mb"), MIAW_E_INVAL;
        if (!(u->data = malloc(len ? len : 1))) return snprintf(err, errlen, "out of memory"), MIAW_E_NOMEM;
        memcpy(u->data, data, len);
        u->len = len;
    } else {
        struct stat st;
        u->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (u->fd < 0) return snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno)), MIAW_E_INVAL;
        if (fstat(u->fd, &st) != 0 || !S_ISREG(st.st_mode))
            return snprintf(err, errlen, "'%s' is not a regular file", path), MIAW_E_INVAL;
        if ((uint64_t)st.st_size > u->max)
            return snprintf(err, errlen, "'%s' is larger than whatsapp.media_max_mb", path), MIAW_E_INVAL;
        u->len = (size_t)st.st_size;
    }
    u->in = malloc(CHUNK);
    u->buf = malloc(CHUNK + 2 * MIAW_WA_MEDIA_FINAL_MAX);
    if (!u->in || !u->buf) return snprintf(err, errlen, "out of memory"), MIAW_E_NOMEM;
    if (miaw_wa_media_key_generate(u->key) != 0) return snprintf(err, errlen, "no randomness"), MIAW_E_INTERNAL;
    u->key_ts = (int64_t)time(NULL);
    return 0;
}

void eng_up_free(eng_up *u)
{
    if (!u) return;
    miaw_wa_media_enc_free(u->enc);
    if (u->fd >= 0) close(u->fd);
    free(u->data);
    free(u->in);
    free(u->buf);
    free(u->auth);
    for (size_t i = 0; i < u->nhosts; i++) free(u->hosts[i].host);
    free(u->hosts);
    OPENSSL_cleanse(u->key, sizeof u->key);
    free(u);
}

/* ------------------------------------------------------------ first pass (thread pool) */
static void job_hash(uv_work_t *w)
{
    eng_xfer *x = w->data; /* only x->type and x->up's source and results are touched here */
    eng_up *u = x->up;
    miaw_wa_media_enc *enc = NULL;
    uint8_t *in = malloc(4 * CHUNK), *out = malloc(4 * CHUNK + 2 * MIAW_WA_MEDIA_FINAL_MAX);
    uint64_t off = 0;
    size_t got = 0, n = 0;
    int rc = in && out ? miaw_wa_media_enc_new(u->key, x->type, &enc) : MIAW_E_NOMEM;
    while (!rc) {
        if (src_read(u, off, in, 4 * CHUNK, &got) != 0) rc = MIAW_E_IO;
        else if (!got) break;
        else if ((off += got) > u->max) rc = MIAW_E_INVAL;
        else rc = miaw_wa_media_enc_update(enc, in, got, out, &n);
    }
    if (!rc) rc = miaw_wa_media_enc_final(enc, out, &n, &u->h);
    u->size = off;
    u->job_rc = rc;
    miaw_wa_media_enc_free(enc);
    free(in);
    free(out);
    /* this pool thread's OpenSSL state (error queue...) goes now: left for process exit it
     * is orphaned when a library loaded by a plugin (libav*'s dependencies) has OpenSSL
     * torn down first, and LeakSanitizer reports it */
    OPENSSL_thread_stop();
}

static void maybe_post(eng_xfer *x);

static void job_done(uv_work_t *w, int status)
{
    eng_xfer *x = w->data;
    eng_up *u = x->up;
    x->working = 0;
    if (eng_xfer_release_hold(x) || x->ended) return;
    if (status || u->job_rc) {
        int rc = status ? MIAW_E_INTERNAL : u->job_rc;
        eng_xfer_finish(x, rc == MIAW_E_INVAL ? MIAW_E_INVAL : MIAW_E_IO, NULL,
                        rc == MIAW_E_INVAL ? "the file grew larger than whatsapp.media_max_mb"
                                           : "the data could not be read and encrypted");
        return;
    }
    u->hashed = 1;
    u->t_hashed = uv_now(x->m->loop);
    maybe_post(x);
}

void eng_up_start(eng_xfer *x)
{
    eng_up *u = x->up;
    u->t0 = uv_now(x->m->loop);
    u->work.data = x;
    x->working = 1;
    if (uv_queue_work(x->m->loop, &u->work, job_hash, job_done) != 0) {
        x->working = 0;
        eng_xfer_finish(x, MIAW_E_INTERNAL, NULL, "cannot queue the encryption");
        return;
    }
    eng_mconn_want(x);
}

void eng_up_on_conn(eng_xfer *x, int status, const eng_mconn *c, const char *detail)
{
    eng_up *u = x->up;
    if (status) {
        eng_xfer_finish(x, status, NULL, detail);
        return;
    }
    const miaw_strlist *extra = x->m->upload_hosts;
    size_t n = (extra ? extra->n : 0) + c->nhosts;
    for (size_t i = 0; i < u->nhosts; i++) free(u->hosts[i].host);
    free(u->hosts);
    free(u->auth);
    u->hosts = calloc(n ? n : 1, sizeof *u->hosts);
    u->auth = strdup(c->auth);
    u->nhosts = u->host_i = 0;
    if (!u->hosts || !u->auth) {
        eng_xfer_finish(x, MIAW_E_NOMEM, NULL, "out of memory");
        return;
    }
    for (size_t i = 0; extra && i < extra->n; i++)
        if ((u->hosts[u->nhosts].host = strdup(extra->v[i]))) u->nhosts++;
    for (size_t i = 0; i < c->nhosts; i++)
        if ((u->hosts[u->nhosts].host = strdup(c->hosts[i].host))) u->hosts[u->nhosts++].max = c->hosts[i].max;
    u->have_conn = 1;
    maybe_post(x);
}

/* ------------------------------------------------------------ the POST */
static size_t up_read(void *ud, char *out, size_t n)
{
    eng_xfer *x = ud;
    eng_up *u = x->up;
    size_t given = 0;
    while (given < n) {
        if (u->buf_pos < u->buf_len) {
            size_t k = u->buf_len - u->buf_pos < n - given ? u->buf_len - u->buf_pos : n - given;
            memcpy(out + given, u->buf + u->buf_pos, k);
            u->buf_pos += k;
            given += k;
            continue;
        }
        if (u->eof) break;
        size_t want = u->size - u->off < CHUNK ? (size_t)(u->size - u->off) : CHUNK, got = 0, fl = 0;
        if (want && (src_read(u, u->off, u->in, want, &got) != 0 || got != want)) {
            u->read_err = 1;
            return ENG_MREAD_ABORT;
        }
        if (miaw_wa_media_enc_update(u->enc, u->in, got, u->buf, &u->buf_len) != 0) return ENG_MREAD_ABORT;
        u->buf_pos = 0;
        u->off += got;
        if (u->off == u->size) {
            if (miaw_wa_media_enc_final(u->enc, u->buf + u->buf_len, &fl, &u->h2) != 0) return ENG_MREAD_ABORT;
            u->buf_len += fl;
            u->eof = 1;
        }
    }
    return given;
}

static int up_write(void *ud, long status, const char *data, size_t n)
{
    (void)status;
    eng_up *u = ((eng_xfer *)ud)->up;
    size_t room = sizeof u->resp - 1 - u->resp_len, k = n < room ? n : room;
    memcpy(u->resp + u->resp_len, data, k);
    u->resp_len += k;
    u->resp[u->resp_len] = 0;
    return 0;
}

static void post_next(eng_xfer *x);

static void succeed(eng_xfer *x, const char *url, const char *dpath)
{
    eng_up *u = x->up;
    char *made = NULL;
    if (!url) { /* only the direct path came: the URL as clients build it */
        size_t l = strlen(u->host) + strlen(dpath) + 9;
        if ((made = malloc(l))) snprintf(made, l, "https://%s%s", u->host, dpath);
        url = made;
    } else if (!dpath) { /* only the URL: its path and query */
        const char *p = strstr(url, "://");
        dpath = p ? strchr(p + 3, '/') : NULL;
    }
    char *key = eng_b64(u->key, sizeof u->key, 0, 1), *sha = eng_b64(u->h.file_sha256, 32, 0, 1),
         *enc = eng_b64(u->h.file_enc_sha256, 32, 0, 1);
    char flen[24], ts[24];
    snprintf(flen, sizeof flen, "%llu", (unsigned long long)u->size);
    snprintf(ts, sizeof ts, "%lld", (long long)u->key_ts);
    json_t *r = url && dpath && key && sha && enc
                    ? json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "url", url, "directPath", dpath, "mediaKey", key,
                                "fileSha256", sha, "fileEncSha256", enc, "fileLength", flen, "mediaKeyTimestamp", ts)
                    : NULL;
    free(made);
    free(key);
    free(sha);
    free(enc);
    uint64_t now = uv_now(x->m->loop);
    MIAW_DEBUG("media", "%s: uploaded %s bytes to %s: encryption pass %llu ms, POST %llu ms", x->inst, flen, u->host,
               (unsigned long long)(u->t_hashed - u->t0), (unsigned long long)(now - u->t_post));
    if (r) eng_xfer_finish(x, 0, r, NULL);
    else eng_xfer_finish(x, MIAW_E_NOMEM, NULL, "out of memory");
    json_decref(r);
}

static void up_done(void *ud, int cerr, long status, const char *msg)
{
    eng_xfer *x = ud;
    eng_up *u = x->up;
    x->req = NULL;
    if (u->read_err) {
        eng_xfer_finish(x, MIAW_E_IO, NULL, "the file could not be read again (changed during the upload?)");
        return;
    }
    if (cerr || status != 200) {
        if (status == 401 || status == 403) u->auth_refused = 1;
        if (cerr) snprintf(u->last, sizeof u->last, "%s: %s", u->host, msg);
        else snprintf(u->last, sizeof u->last, "%s answered HTTP %ld", u->host, status);
        post_next(x);
        return;
    }
    if (!u->eof) { /* answered before it had the whole body */
        snprintf(u->last, sizeof u->last, "%s answered before the upload was complete", u->host);
        post_next(x);
        return;
    }
    if (CRYPTO_memcmp(&u->h, &u->h2, sizeof u->h) != 0) {
        eng_xfer_finish(x, MIAW_E_IO, NULL, "the file changed during the upload");
        return;
    }
    json_t *j = json_loads(u->resp, 0, NULL);
    const char *url = json_string_value(json_object_get(j, "url"));
    const char *dpath = json_string_value(json_object_get(j, "direct_path"));
    if (url && strncmp(url, "https://", 8) != 0) url = NULL;
    if (dpath && dpath[0] != '/') dpath = NULL;
    if (url || dpath) succeed(x, url, dpath);
    else {
        snprintf(u->last, sizeof u->last, "%s answered without url or direct_path", u->host);
        post_next(x);
    }
    json_decref(j);
}

static const eng_mreq_cbs UP_CBS = {.read = up_read, .write = up_write, .done = up_done};

/* percent-encoding of everything but RFC 3986's unreserved characters */
static void pct(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; *s && o + 4 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-_.~", c))
            out[o++] = (char)c;
        else o += (size_t)snprintf(out + o, cap - o, "%%%02X", c);
    }
    out[o] = 0;
}

static void post_next(eng_xfer *x)
{
    eng_up *u = x->up;
    uint64_t bl = blob_len(u->size);
    char *token = eng_b64(u->h.file_enc_sha256, 32, 1, 0); /* base64url of fileEncSha256, unpadded */
    char auth[1024], url[2048];
    pct(u->auth, auth, sizeof auth);
    while (token && u->host_i < u->nhosts) {
        eng_mhost *h = &u->hosts[u->host_i++];
        if (h->max && bl > h->max) {
            snprintf(u->last, sizeof u->last, "%s takes at most %llu bytes, the blob has %llu", h->host,
                     (unsigned long long)h->max, (unsigned long long)bl);
            continue;
        }
        miaw_wa_media_enc_free(u->enc);
        u->enc = NULL;
        u->off = u->buf_len = u->buf_pos = u->resp_len = 0;
        u->eof = u->read_err = 0;
        u->resp[0] = 0;
        u->host = h->host;
        u->tried++;
        u->t_post = uv_now(x->m->loop);
        snprintf(url, sizeof url, "https://%s/mms/%s/%s?auth=%s&token=%s", h->host, u->mms, token, auth, token);
        if (miaw_wa_media_enc_new(u->key, x->type, &u->enc) != 0 ||
            !(x->req = eng_mhttp_post(x->m->http, url, bl, &UP_CBS, x))) {
            snprintf(u->last, sizeof u->last, "%s: cannot start the request", h->host);
            continue;
        }
        free(token);
        return;
    }
    free(token);
    if (u->auth_refused && !u->refreshed) { /* the auth expired: ask media_conn again, once */
        u->refreshed = 1;
        u->auth_refused = u->have_conn = 0;
        eng_mconn_invalidate(x->m, x->inst);
        eng_mconn_want(x);
        return;
    }
    if (!u->tried && u->nhosts)
        eng_xfer_finish(x, MIAW_E_INVAL, NULL, u->last);
    else
        eng_xfer_finish(x, MIAW_E_IO, NULL, u->last[0] ? u->last : "no media host to upload to");
}

static void maybe_post(eng_xfer *x)
{
    if (x->up->hashed && x->up->have_conn) post_next(x);
}
