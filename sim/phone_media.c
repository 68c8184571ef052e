/* sim/phone_media.c - media received by the simulated phones (1:1 and group): the
 * message's media fetched from the media store, verified and decrypted
 * (core/wa/mediacrypto.c) and described in the phone's message list. Sending media
 * through the control API is phone_media_send.c's. Owns nothing beyond a call. */
#include "phone_media.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "base/log.h"
#include "media.h"
#include "miaw/plugin.h"
#include "phone.h"
#include "wa/mediacrypto.h"

/* the fields every media message shares, whatever its protobuf type */
typedef struct view {
    const char *type; /* media type name for the keys ("image", …) */
    const char *url, *mimetype, *caption, *direct_path, *file_name;
    const ProtobufCBinaryData *sha, *enc_sha, *key;
    int has_len;
    uint64_t len;
} view;

#define BIN(o, f) ((o)->has_##f ? &(o)->f : NULL)

static int view_of(const Miaw__Wa__Message *m, view *v)
{
    memset(v, 0, sizeof *v);
    if (m->imagemessage) {
        const Miaw__Wa__Message__ImageMessage *x = m->imagemessage;
        *v = (view){"image", x->url, x->mimetype, x->caption, x->directpath, NULL, BIN(x, filesha256),
                    BIN(x, fileencsha256), BIN(x, mediakey), x->has_filelength, x->filelength};
    } else if (m->documentmessage) {
        const Miaw__Wa__Message__DocumentMessage *x = m->documentmessage;
        *v = (view){"document", x->url, x->mimetype, x->title, x->directpath, x->filename, BIN(x, filesha256),
                    BIN(x, fileencsha256), BIN(x, mediakey), x->has_filelength, x->filelength};
    } else if (m->videomessage || m->ptvmessage) { /* a video, or a video note (ptv) */
        const Miaw__Wa__Message__VideoMessage *x = m->videomessage ? m->videomessage : m->ptvmessage;
        *v = (view){"video", x->url, x->mimetype, x->caption, x->directpath, NULL, BIN(x, filesha256),
                    BIN(x, fileencsha256), BIN(x, mediakey), x->has_filelength, x->filelength};
    } else if (m->audiomessage) {
        const Miaw__Wa__Message__AudioMessage *x = m->audiomessage;
        *v = (view){"audio", x->url, x->mimetype, NULL, x->directpath, NULL, BIN(x, filesha256),
                    BIN(x, fileencsha256), BIN(x, mediakey), x->has_filelength, x->filelength};
    } else if (m->stickermessage) {
        const Miaw__Wa__Message__StickerMessage *x = m->stickermessage;
        *v = (view){"sticker", x->url, x->mimetype, NULL, x->directpath, NULL, BIN(x, filesha256),
                    BIN(x, fileencsha256), BIN(x, mediakey), x->has_filelength, x->filelength};
    } else {
        return 0;
    }
    return 1;
}

static json_t *b64(const uint8_t *b, size_t n)
{
    char *s = malloc(4 * ((n + 2) / 3) + 1);
    json_t *j = s && miaw_sim_b64_encode(b, n, s, 4 * ((n + 2) / 3) + 1) >= 0 ? json_string(s) : json_null();
    free(s);
    return j;
}

static void set_str(json_t *e, const char *k, const char *v)
{
    if (v) json_object_set_new(e, k, json_string(v));
}

/* fetch, check, decrypt: NULL, or why it failed */
static const char *verify(const view *v, json_t *e)
{
    const uint8_t *blob;
    size_t bl, ptl;
    uint8_t *pt = NULL, digest[32];
    if (!v->key || v->key->len != MIAW_WA_MEDIA_KEY_LEN) return "no 32-byte mediaKey";
    if (!v->sha || v->sha->len != 32 || !v->enc_sha || v->enc_sha->len != 32) return "fileSha256 or fileEncSha256 missing";
    if (miaw_sim_media_get(v->direct_path, &blob, &bl) && miaw_sim_media_get(v->url, &blob, &bl))
        return "not on the media host (unknown direct path or URL)";
    int rc = miaw_wa_media_decrypt(v->key->data, v->type, blob, bl, v->enc_sha->data, NULL, &pt, &ptl);
    if (rc) return rc == MIAW_E_AUTH ? "fileEncSha256 or MAC mismatch" : "undecryptable blob";
    miaw_wa_sha256(pt, ptl, digest);
    free(pt);
    json_object_set_new(e, "mediaSha256", b64(digest, 32));
    json_object_set_new(e, "mediaLength", json_integer((json_int_t)ptl));
    if (memcmp(digest, v->sha->data, 32)) return "fileSha256 mismatch";
    if (v->has_len && v->len != ptl) return "fileLength mismatch";
    return NULL;
}

/* what the message says beyond the shared fields: size, duration, thumbnail, quote */
static void describe_extra(const Miaw__Wa__Message *m, int view_once, json_t *e)
{
    const Miaw__Wa__ContextInfo *ci = NULL;
    int w = -1, h = -1, secs = -1;
    size_t thumb = 0, wave = 0;
    if (m->imagemessage) {
        const Miaw__Wa__Message__ImageMessage *x = m->imagemessage;
        w = x->has_width ? (int)x->width : -1, h = x->has_height ? (int)x->height : -1;
        thumb = x->has_jpegthumbnail ? x->jpegthumbnail.len : 0, ci = x->contextinfo;
    } else if (m->videomessage || m->ptvmessage) {
        const Miaw__Wa__Message__VideoMessage *x = m->videomessage ? m->videomessage : m->ptvmessage;
        if (!m->videomessage) json_object_set_new(e, "ptv", json_true());
        w = x->has_width ? (int)x->width : -1, h = x->has_height ? (int)x->height : -1;
        secs = x->has_seconds ? (int)x->seconds : -1;
        thumb = x->has_jpegthumbnail ? x->jpegthumbnail.len : 0, ci = x->contextinfo;
    } else if (m->audiomessage) {
        const Miaw__Wa__Message__AudioMessage *x = m->audiomessage;
        secs = x->has_seconds ? (int)x->seconds : -1;
        wave = x->has_waveform ? x->waveform.len : 0, ci = x->contextinfo;
        json_object_set_new(e, "ptt", json_boolean(x->has_ptt && x->ptt));
    } else if (m->stickermessage) {
        const Miaw__Wa__Message__StickerMessage *x = m->stickermessage;
        w = x->has_width ? (int)x->width : -1, h = x->has_height ? (int)x->height : -1, ci = x->contextinfo;
        json_object_set_new(e, "isAnimated", json_boolean(x->has_isanimated && x->isanimated));
    } else if (m->documentmessage) {
        ci = m->documentmessage->contextinfo;
    }
    if (w >= 0) json_object_set_new(e, "width", json_integer(w));
    if (h >= 0) json_object_set_new(e, "height", json_integer(h));
    if (secs >= 0) json_object_set_new(e, "seconds", json_integer(secs));
    if (thumb) json_object_set_new(e, "thumbnailLength", json_integer((json_int_t)thumb));
    if (wave) json_object_set_new(e, "waveformLength", json_integer((json_int_t)wave));
    if (view_once) json_object_set_new(e, "viewOnce", json_true());
    if (ci && ci->stanzaid) json_object_set_new(e, "quotedId", json_string(ci->stanzaid));
}

int miaw_sim_phone_media_describe(const Miaw__Wa__Message *m, json_t *e)
{
    view v;
    int view_once = 0;
    for (int depth = 0; m && depth < 3; depth++) { /* wrappers: the wrapped message (view once flagged) */
        const Miaw__Wa__Message__FutureProofMessage *vo =
            m->viewoncemessagev2 ? m->viewoncemessagev2 : m->viewoncemessage ? m->viewoncemessage
                                                                             : m->viewoncemessagev2extension;
        const Miaw__Wa__Message__FutureProofMessage *w =
            vo ? vo : m->documentwithcaptionmessage ? m->documentwithcaptionmessage : m->ephemeralmessage;
        if (!w || !w->message) break;
        view_once |= vo != NULL;
        m = w->message;
    }
    if (!m || !view_of(m, &v)) return 0;
    describe_extra(m, view_once, e);
    json_object_set_new(e, "type", json_string(v.type));
    set_str(e, "mimetype", v.mimetype);
    set_str(e, "caption", v.caption);
    set_str(e, "fileName", v.file_name);
    if (v.sha) json_object_set_new(e, "fileSha256", b64(v.sha->data, v.sha->len));
    if (v.has_len) json_object_set_new(e, "fileLength", json_integer((json_int_t)v.len));
    const char *why = verify(&v, e);
    json_object_set_new(e, "mediaOk", json_boolean(!why));
    if (why) json_object_set_new(e, "mediaError", json_string(why));
    MIAW_INFO("sim", "media message (%s, %s): %s", v.type, v.mimetype ? v.mimetype : "-", why ? why : "verified");
    return 1;
}
