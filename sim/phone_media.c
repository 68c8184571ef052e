/* sim/phone_media.c - media for the simulated phones: received media messages fetched
 * from the media store, verified and decrypted (core/wa/mediacrypto.c) and described in
 * the phone's message list; images and documents sent through the control API, encrypted
 * and stored as an upload, then sent as a media message. Owns nothing beyond a call. */
#include "phone_media.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "control.h"
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
    } else if (m->videomessage) {
        const Miaw__Wa__Message__VideoMessage *x = m->videomessage;
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
    } else if (m->videomessage) {
        const Miaw__Wa__Message__VideoMessage *x = m->videomessage;
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
    if (m && m->viewoncemessagev2 && m->viewoncemessagev2->message) { /* view-once media: the wrapped message */
        m = m->viewoncemessagev2->message;
        view_once = 1;
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

/* ------------------------------------------------------------------ sending */

static void refuse_req(h2o_req_t *req, int status, const char *code, const char *field, const char *msg)
{
    miaw_sim_http_json(req, status, miaw_sim_error_json(code, field, msg));
}

void miaw_sim_phone_media_post(miaw_sim *sim, h2o_req_t *req, miaw_sim_account *a, json_t *b)
{
    const char *to = json_string_value(json_object_get(b, "to"));
    json_t *img = json_object_get(b, "image"), *doc = json_object_get(b, "document"), *o = img ? img : doc;
    const char *field = img ? "image" : "document", *type = img ? "image" : "document";
    const char *data = json_string_value(json_object_get(o, "base64"));
    const char *mime = json_string_value(json_object_get(o, "mimetype"));
    const char *caption = json_string_value(json_object_get(o, "caption"));
    const char *fname = json_string_value(json_object_get(o, "fileName"));
    size_t dl = data ? strlen(data) : 0;
    if (!to || !*to || strlen(to) > 96) { refuse_req(req, 400, "INVALID_REQUEST", "to", "to must be a phone number or a JID of a simulated account"); return; }
    if (strstr(to, "@g.us")) { refuse_req(req, 400, "INVALID_REQUEST", "to", "media to groups is not simulated"); return; }
    if ((img && doc) || !json_is_object(o)) { refuse_req(req, 400, "INVALID_REQUEST", field, "one object: image or document"); return; }
    if (!data || !dl || dl > 4 * ((MIAW_SIM_PHONE_MEDIA_MAX + 2) / 3))
        { refuse_req(req, 400, "INVALID_REQUEST", "base64", "base64 must be non-empty, at most 768 KiB decoded"); return; }
    if ((json_object_get(o, "mimetype") && (!mime || !*mime || strlen(mime) > 128)) ||
        (json_object_get(o, "caption") && (!caption || strlen(caption) > 65536)) ||
        (json_object_get(o, "fileName") && (!fname || !*fname || strlen(fname) > 255)))
        { refuse_req(req, 400, "INVALID_REQUEST", field, "mimetype (<= 128), caption (<= 64 KiB), fileName (<= 255) must be strings"); return; }
    uint8_t *pt = malloc(dl / 4 * 3 + 3), mk[32], *blob = NULL;
    int n = pt ? miaw_sim_b64_decode(data, dl, pt, dl / 4 * 3 + 3) : -1;
    if (n <= 0) {
        free(pt);
        { refuse_req(req, 400, "INVALID_REQUEST", "base64", "base64 is not valid (standard alphabet, padded)"); return; }
    }
    miaw_wa_media_hashes h;
    size_t bl = 0;
    char url[512], dp[256], id[40];
    const char *why = NULL;
    int rc = miaw_wa_media_key_generate(mk);
    if (!rc) rc = miaw_wa_media_encrypt(mk, type, pt, (size_t)n, &blob, &bl, &h);
    free(pt);
    if (!rc) rc = miaw_sim_media_put(type, blob, bl, url, sizeof url, dp, sizeof dp);
    free(blob);
    if (rc) { refuse_req(req, 500, "INTERNAL_ERROR", NULL, "cannot encrypt or store the media"); return; }
    if (!mime) mime = img ? "image/jpeg" : "application/octet-stream";
    Miaw__Wa__Message m = MIAW__WA__MESSAGE__INIT;
    Miaw__Wa__Message__ImageMessage im = MIAW__WA__MESSAGE__IMAGE_MESSAGE__INIT;
    Miaw__Wa__Message__DocumentMessage dm = MIAW__WA__MESSAGE__DOCUMENT_MESSAGE__INIT;
    ProtobufCBinaryData sha = {32, h.file_sha256}, enc = {32, h.file_enc_sha256}, key = {32, mk};
    int64_t ts = (int64_t)miaw_sim_now();
#define FILL(x)                                                                                                        \
    (x).url = url, (x).mimetype = (char *)mime, (x).directpath = dp, (x).has_filesha256 = 1, (x).filesha256 = sha,      \
    (x).has_fileencsha256 = 1, (x).fileencsha256 = enc, (x).has_mediakey = 1, (x).mediakey = key,                       \
    (x).has_filelength = 1, (x).filelength = h.file_length, (x).has_mediakeytimestamp = 1, (x).mediakeytimestamp = ts
    if (img) {
        FILL(im);
        im.caption = (char *)caption;
        m.imagemessage = &im;
    } else {
        FILL(dm);
        dm.title = (char *)(caption ? caption : fname);
        dm.filename = (char *)fname;
        m.documentmessage = &dm;
    }
#undef FILL
    json_t *rec = json_pack("{s:s,s:s}", "type", type, "mimetype", mime);
    set_str(rec, "caption", caption);
    set_str(rec, "fileName", fname);
    json_object_set_new(rec, "fileSha256", b64(h.file_sha256, 32));
    json_object_set_new(rec, "fileLength", json_integer((json_int_t)h.file_length));
    json_object_set_new(rec, "url", json_string(url));
    rc = miaw_sim_phone_send_message(sim, a, to, &m, "media", type, rec, id, sizeof id, &why);
    memset(mk, 0, sizeof mk);
    if (rc == MIAW_E_NOTFOUND) refuse_req(req, 404, "NOT_FOUND", "to", why);
    else if (rc) refuse_req(req, 500, "INTERNAL_ERROR", NULL, why ? why : "sending failed");
    else miaw_sim_http_json(req, 201, json_pack("{s:s}", "id", id));
}
