/* core/engine/media_down.c - media downloads: the message's fields (mediaKey, directPath
 * or url, fileEncSha256, fileSha256, fileLength) checked, GET
 * https://<media_conn host><directPath>&hash=…&mms-type=…&__wa-mms= on each host (then the
 * message's url), decrypted as the bytes arrive (wa/mediacrypto.h streaming: bounded
 * memory), into a temporary file beside the target (renamed only when the blob's hash,
 * the MAC, the padding, the plaintext's hash and its length all check) or to the
 * plugin's chunk callback (the file flushed in the thread pool before the rename). A
 * dropped connection resumes on the next host with a Range
 * request; 404/410 is MIAW_E_GONE; a body longer than fileLength allows is cut off.
 * Owns each download's eng_down: decryptor, buffer, temporary file (removed unless
 * renamed). */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/media_int.h"

#define PIECE 65536

struct eng_down {
    uint8_t key[MIAW_WA_MEDIA_KEY_LEN], enc_sha[32], sha[32];
    int has_enc_sha, has_sha, has_flen;
    uint64_t flen, max_blob;
    char *dpath, *url;
    char *path, *tmp;     /* file mode: target and temporary name */
    int fd, renamed;
    uv_fs_t fsreq;        /* the flush before the rename */
    uint64_t length;      /* plaintext bytes, once checked */
    miaw_wa_media_dec *dec;
    uint8_t *obuf;        /* PIECE + MIAW_WA_MEDIA_SLACK */
    char **cands;         /* URLs to try, in order */
    size_t ncands, cand_i;
    unsigned attempts, max_attempts;
    uint64_t raw;         /* blob bytes decrypted so far */
    uint64_t skip;        /* of this response: bytes already had (a 200 to a range request) */
    int started;
    int fail_rc;          /* set by a callback that aborted the transfer */
    char fail[240], last[200];
};

static int field_b64(const json_t *media, const char *name, uint8_t out[32], int required, char *err, size_t errlen)
{
    const json_t *v = json_object_get(media, name);
    size_t n = 0;
    if (!v || json_is_null(v)) {
        if (required) snprintf(err, errlen, "media.%s is required", name);
        return required ? -1 : 0;
    }
    if (!json_is_string(v) || eng_b64_decode(json_string_value(v), out, 32, &n) != 0 || n != 32) {
        snprintf(err, errlen, "media.%s must be 32 bytes in base64", name);
        return -1;
    }
    return 1;
}

static char *field_str(const json_t *media, const char *name, const char *prefix)
{
    const char *s = json_string_value(json_object_get(media, name));
    return s && !strncmp(s, prefix, strlen(prefix)) && strlen(s) < 4096 && !strpbrk(s, " \r\n") ? strdup(s) : NULL;
}

int eng_down_prepare(eng_xfer *x, const json_t *media, const char *path, char *err, size_t errlen)
{
    eng_down *d = calloc(1, sizeof *d);
    if (!d) return snprintf(err, errlen, "out of memory"), MIAW_E_NOMEM;
    x->down = d;
    d->fd = -1;
    if (!json_is_object(media)) return snprintf(err, errlen, "media must be an object"), MIAW_E_INVAL;
    if (field_b64(media, "mediaKey", d->key, 1, err, errlen) < 0 ||
        (d->has_enc_sha = field_b64(media, "fileEncSha256", d->enc_sha, 0, err, errlen)) < 0 ||
        (d->has_sha = field_b64(media, "fileSha256", d->sha, 0, err, errlen)) < 0)
        return MIAW_E_INVAL;
    const json_t *fl = json_object_get(media, "fileLength");
    if (json_is_integer(fl) && json_integer_value(fl) >= 0) d->flen = (uint64_t)json_integer_value(fl), d->has_flen = 1;
    else if (json_is_string(fl)) {
        char *end;
        const char *s = json_string_value(fl);
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (!*s || *end || errno || *s == '-') return snprintf(err, errlen, "media.fileLength is not a number"), MIAW_E_INVAL;
        d->flen = v, d->has_flen = 1;
    } else if (fl && !json_is_null(fl)) return snprintf(err, errlen, "media.fileLength is not a number"), MIAW_E_INVAL;
    uint64_t max = x->m->max_bytes;
    if (d->has_flen && d->flen > max)
        return snprintf(err, errlen, "media.fileLength is larger than whatsapp.media_max_mb"), MIAW_E_INVAL;
    d->max_blob = ((d->has_flen ? d->flen : max) / 16 + 1) * 16 + MIAW_WA_MEDIA_MAC_LEN;
    d->dpath = field_str(media, "directPath", "/");
    d->url = field_str(media, "url", "https://");
    if (!d->dpath && !d->url)
        return snprintf(err, errlen, "media needs a directPath (\"/…\") or an https url"), MIAW_E_INVAL;
    if (miaw_wa_media_dec_new(d->key, x->type, &d->dec) != 0 || !(d->obuf = malloc(PIECE + MIAW_WA_MEDIA_SLACK)))
        return snprintf(err, errlen, "out of memory"), MIAW_E_NOMEM;
    if (path) {
        size_t l = strlen(path) + 16;
        if (!*path || !(d->path = strdup(path)) || !(d->tmp = malloc(l)))
            return snprintf(err, errlen, "bad path"), MIAW_E_INVAL;
        snprintf(d->tmp, l, "%s.part-XXXXXX", path);
        if ((d->fd = mkostemp(d->tmp, O_CLOEXEC)) < 0) {
            snprintf(err, errlen, "cannot create '%s': %s", d->tmp, strerror(errno));
            free(d->tmp);
            d->tmp = NULL;
            return MIAW_E_INVAL;
        }
    }
    return 0;
}

void eng_down_free(eng_down *d)
{
    if (!d) return;
    miaw_wa_media_dec_free(d->dec);
    if (d->fd >= 0) close(d->fd);
    if (d->tmp && !d->renamed) unlink(d->tmp);
    free(d->tmp);
    free(d->path);
    free(d->dpath);
    free(d->url);
    free(d->obuf);
    for (size_t i = 0; i < d->ncands; i++) free(d->cands[i]);
    free(d->cands);
    OPENSSL_cleanse(d->key, sizeof d->key);
    free(d);
}

/* ------------------------------------------------------------ output */
/* 0 on, -1 failed (d->fail_rc set), -2 x is gone (cancelled in the chunk callback) */
static int emit(eng_xfer *x, const uint8_t *p, size_t n)
{
    eng_down *d = x->down;
    if (!n) return 0;
    if (d->fd >= 0) {
        while (n) {
            ssize_t w = write(d->fd, p, n);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                d->fail_rc = MIAW_E_IO;
                snprintf(d->fail, sizeof d->fail, "cannot write '%s': %s", d->tmp, strerror(w < 0 ? errno : ENOSPC));
                return -1;
            }
            p += w;
            n -= (size_t)w;
        }
        return 0;
    }
    if (!x->chunk) return 0;
    x->busy++;
    int r = x->chunk(p, n, x->udata);
    x->busy--;
    if (x->ended) {
        eng_xfer_release_hold(x);
        return -2;
    }
    if (r) {
        d->fail_rc = MIAW_E_INTERNAL;
        snprintf(d->fail, sizeof d->fail, "stopped by the plugin");
        return -1;
    }
    return 0;
}

static int down_write(void *ud, long status, const char *data, size_t n)
{
    eng_xfer *x = ud;
    eng_down *d = x->down;
    const uint8_t *p = (const uint8_t *)data;
    if (status != 200 && status != 206) return 0; /* an error page: its status decides at the end */
    if (!d->started) {
        d->started = 1;
        d->skip = status == 200 ? d->raw : 0; /* the range was ignored: skip what we have */
    }
    size_t k = d->skip < n ? (size_t)d->skip : n;
    p += k, n -= k, d->skip -= k;
    if (d->raw + n > d->max_blob) {
        d->fail_rc = MIAW_E_IO;
        snprintf(d->fail, sizeof d->fail, "the media host sent more than the message's fileLength allows");
        return 1;
    }
    while (n) {
        size_t piece = n < PIECE ? n : PIECE, o = 0;
        if (miaw_wa_media_dec_update(d->dec, p, piece, d->obuf, &o) != 0) {
            d->fail_rc = MIAW_E_INTERNAL;
            snprintf(d->fail, sizeof d->fail, "decryption failed");
            return 1;
        }
        d->raw += piece;
        if (emit(x, d->obuf, o) != 0) return 1;
        p += piece, n -= piece;
    }
    return 0;
}

static void get_next(eng_xfer *x);
static void on_synced(uv_fs_t *req);
static void succeed(eng_xfer *x);

static void complete(eng_xfer *x)
{
    eng_down *d = x->down;
    miaw_wa_media_hashes h;
    size_t o = 0;
    int rc = miaw_wa_media_dec_final(d->dec, d->has_enc_sha ? d->enc_sha : NULL, d->has_sha ? d->sha : NULL, d->obuf,
                                     &o, &h);
    if (rc) {
        eng_xfer_finish(x, rc == MIAW_E_AUTH || rc == MIAW_E_INVAL ? MIAW_E_IO : rc, NULL,
                        rc == MIAW_E_AUTH   ? "the media failed its hash or MAC check"
                        : rc == MIAW_E_INVAL ? "the media host's answer is not an encrypted media blob"
                                             : "decryption failed");
        return;
    }
    if (d->has_flen && h.file_length != d->flen) {
        eng_xfer_finish(x, MIAW_E_IO, NULL, "the media's length differs from its fileLength");
        return;
    }
    int e = emit(x, d->obuf, o);
    if (e == -2) return;
    if (e) {
        eng_xfer_finish(x, d->fail_rc, NULL, d->fail);
        return;
    }
    d->length = h.file_length;
    if (d->fd < 0) {
        succeed(x);
        return;
    }
    /* the data reaches the disk before the name does; the flush runs in the thread pool */
    d->fsreq.data = x;
    x->working = 1;
    if (uv_fs_fdatasync(x->m->loop, &d->fsreq, d->fd, on_synced) != 0) {
        x->working = 0;
        eng_xfer_finish(x, MIAW_E_IO, NULL, "cannot flush the file");
    }
}

static void on_synced(uv_fs_t *req)
{
    eng_xfer *x = req->data;
    eng_down *d = x->down;
    ssize_t res = req->result;
    uv_fs_req_cleanup(req);
    x->working = 0;
    if (eng_xfer_release_hold(x) || x->ended) return; /* cancelled meanwhile: the temporary file goes */
    int bad = res < 0 || close(d->fd) != 0;
    d->fd = -1;
    if (bad || rename(d->tmp, d->path) != 0) {
        snprintf(d->fail, sizeof d->fail, "cannot write '%s': %s", d->path, res < 0 ? uv_strerror((int)res) : strerror(errno));
        eng_xfer_finish(x, MIAW_E_IO, NULL, d->fail);
        return;
    }
    d->renamed = 1;
    succeed(x);
}

static void succeed(eng_xfer *x)
{
    char flen[24];
    snprintf(flen, sizeof flen, "%llu", (unsigned long long)x->down->length);
    json_t *r = json_pack("{s:s}", "fileLength", flen);
    eng_xfer_finish(x, r ? 0 : MIAW_E_NOMEM, r, r ? NULL : "out of memory");
    json_decref(r);
}

static void down_done(void *ud, int cerr, long status, const char *msg)
{
    eng_xfer *x = ud;
    eng_down *d = x->down;
    x->req = NULL;
    if (d->fail_rc) eng_xfer_finish(x, d->fail_rc, NULL, d->fail);
    else if (cerr) {
        snprintf(d->last, sizeof d->last, "%s", msg);
        get_next(x); /* resumes from d->raw */
    } else if (status == 404 || status == 410) {
        snprintf(d->fail, sizeof d->fail, "the media is no longer on the server (HTTP %ld)", status);
        eng_xfer_finish(x, MIAW_E_GONE, NULL, d->fail);
    } else if (status == 200 || status == 206) complete(x);
    else if (status >= 500 || status == 429) {
        snprintf(d->last, sizeof d->last, "the media host answered HTTP %ld", status);
        get_next(x);
    } else {
        snprintf(d->fail, sizeof d->fail, "the media host answered HTTP %ld", status);
        eng_xfer_finish(x, MIAW_E_IO, NULL, d->fail);
    }
}

static const eng_mreq_cbs DOWN_CBS = {.write = down_write, .done = down_done};

static void get_next(eng_xfer *x)
{
    eng_down *d = x->down;
    while (d->ncands && d->attempts < d->max_attempts) {
        const char *url = d->cands[d->cand_i++ % d->ncands];
        d->attempts++;
        d->started = 0;
        d->skip = 0;
        if ((x->req = eng_mhttp_get(x->m->http, url, d->raw, &DOWN_CBS, x))) return;
        snprintf(d->last, sizeof d->last, "cannot start the request");
    }
    snprintf(d->fail, sizeof d->fail, "download failed: %s", d->last[0] ? d->last : "no media host");
    eng_xfer_finish(x, MIAW_E_IO, NULL, d->fail);
}

static int add_cand(eng_down *d, char *url)
{
    char **v = url ? realloc(d->cands, (d->ncands + 1) * sizeof *v) : NULL;
    if (!v) {
        free(url);
        return -1;
    }
    d->cands = v;
    d->cands[d->ncands++] = url;
    return 0;
}

static void begin(eng_xfer *x)
{
    eng_down *d = x->down;
    if (d->url) add_cand(d, strdup(d->url));
    d->max_attempts = (unsigned)d->ncands + 2;
    get_next(x);
}

void eng_down_on_conn(eng_xfer *x, int status, const eng_mconn *c, const char *detail)
{
    eng_down *d = x->down;
    if (status && !d->url) {
        eng_xfer_finish(x, status, NULL, detail);
        return;
    }
    char *hash = d->has_enc_sha ? eng_b64(d->enc_sha, 32, 1, 1) : NULL;
    const char *mms = eng_media_mms_type(x->type);
    for (size_t i = 0; !status && i < c->nhosts; i++) {
        size_t l = strlen(c->hosts[i].host) + strlen(d->dpath) + 128;
        char *u = malloc(l);
        if (!u) break;
        int q = strchr(d->dpath, '?') != NULL; /* as WhatsApp Web: extra parameters on a path with a query */
        if (q && hash)
            snprintf(u, l, "https://%s%s&hash=%s&mms-type=%s&__wa-mms=", c->hosts[i].host, d->dpath, hash,
                     mms ? mms : x->type);
        else snprintf(u, l, "https://%s%s", c->hosts[i].host, d->dpath);
        add_cand(d, u);
    }
    free(hash);
    begin(x);
}

void eng_down_start(eng_xfer *x)
{
    if (x->down->dpath) eng_mconn_want(x);
    else begin(x);
}
