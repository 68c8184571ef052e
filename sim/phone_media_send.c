/* sim/phone_media_send.c - media sent by the simulated phones through the control API:
 * POST /sim/accounts/{phone}/messages with one of "image", "video", "audio" (voice notes
 * with "ptt"), "sticker" or "document"; the bytes are encrypted with a fresh media key
 * (core/wa/mediacrypto.c, the kind's key info), stored on the media host as an upload
 * would be, and the matching WAProto message is sent like text, to an account (1:1,
 * phone.c) or to a group JID (sender keys, phone_group.c). Owns nothing beyond a call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "control.h"
#include "group.h"
#include "media.h"
#include "miaw/plugin.h"
#include "phone.h"
#include "phone_group.h"
#include "phone_media.h"
#include "wa/mediacrypto.h"

/* one kind the control API sends: its key, its default mimetype, the fields it takes */
typedef struct kind {
    const char *name, *mime;
    unsigned caption : 1, dims : 1, seconds : 1;
} kind;

static const kind KINDS[] = {
    {"image", "image/jpeg", 1, 1, 0},   {"video", "video/mp4", 1, 1, 1},      {"audio", "audio/mpeg", 0, 0, 1},
    {"sticker", "image/webp", 0, 1, 0}, {"document", "application/octet-stream", 1, 0, 0},
};
#define NKINDS (sizeof KINDS / sizeof *KINDS)

/* what one request asks for, validated */
typedef struct req_media {
    const kind *k;
    const char *mime, *caption, *fname;
    int ptt, animated;
    int64_t width, height, seconds; /* -1: not given */
} req_media;

static void refuse_req(h2o_req_t *req, int status, const char *code, const char *field, const char *msg)
{
    miaw_sim_http_json(req, status, miaw_sim_error_json(code, field, msg));
}

static json_t *b64(const uint8_t *b, size_t n)
{
    char *s = malloc(4 * ((n + 2) / 3) + 1);
    json_t *j = s && miaw_sim_b64_encode(b, n, s, 4 * ((n + 2) / 3) + 1) >= 0 ? json_string(s) : json_null();
    free(s);
    return j;
}

/* an optional integer field in [lo, hi]: 0 (absent: *v = -1), -1 bad */
static int opt_int(json_t *o, const char *k, int64_t lo, int64_t hi, int64_t *v)
{
    json_t *j = json_object_get(o, k);
    *v = -1;
    if (!j) return 0;
    if (!json_is_integer(j) || json_integer_value(j) < lo || json_integer_value(j) > hi) return -1;
    *v = json_integer_value(j);
    return 0;
}

static int opt_bool(json_t *o, const char *k, int *v)
{
    json_t *j = json_object_get(o, k);
    *v = json_is_true(j);
    return j && !json_is_boolean(j) ? -1 : 0;
}

/* the request's fields for kind k in o: NULL, or the message naming the bad field in *field */
static const char *parse(json_t *o, const kind *k, req_media *r, const char **field)
{
    memset(r, 0, sizeof *r);
    r->k = k;
    r->mime = json_string_value(json_object_get(o, "mimetype"));
    r->caption = json_string_value(json_object_get(o, "caption"));
    r->fname = json_string_value(json_object_get(o, "fileName"));
    *field = k->name;
    if ((json_object_get(o, "mimetype") && (!r->mime || !*r->mime || strlen(r->mime) > 128)) ||
        (json_object_get(o, "caption") && (!r->caption || strlen(r->caption) > 65536)) ||
        (json_object_get(o, "fileName") && (!r->fname || !*r->fname || strlen(r->fname) > 255)))
        return "mimetype (<= 128), caption (<= 64 KiB), fileName (<= 255) must be strings";
    if ((r->caption && !k->caption) || (r->fname && strcmp(k->name, "document")))
        return "caption is for image, video and document; fileName for document";
    if (opt_int(o, "width", 1, 65535, &r->width) || opt_int(o, "height", 1, 65535, &r->height))
        return *field = "width", "width and height must be integers in 1-65535";
    if ((r->width >= 0 || r->height >= 0) && !k->dims) return "width and height are for image, video and sticker";
    if (opt_int(o, "seconds", 0, 86400, &r->seconds)) return *field = "seconds", "seconds must be an integer in 0-86400";
    if (r->seconds >= 0 && !k->seconds) return "seconds is for video and audio";
    if (opt_bool(o, "ptt", &r->ptt)) return *field = "ptt", "ptt must be a boolean";
    if (json_object_get(o, "ptt") && strcmp(k->name, "audio")) return "ptt is for audio";
    if (opt_bool(o, "isAnimated", &r->animated)) return *field = "isAnimated", "isAnimated must be a boolean";
    if (json_object_get(o, "isAnimated") && strcmp(k->name, "sticker")) return "isAnimated is for sticker";
    if (!r->mime) r->mime = r->ptt ? "audio/ogg; codecs=opus" : k->mime;
    return NULL;
}

/* the WAProto message for r with the stored blob; *m's parts live in the caller's u */
typedef struct parts {
    Miaw__Wa__Message__ImageMessage im;
    Miaw__Wa__Message__VideoMessage vm;
    Miaw__Wa__Message__AudioMessage am;
    Miaw__Wa__Message__StickerMessage sm;
    Miaw__Wa__Message__DocumentMessage dm;
} parts;

#define FILL(x)                                                                                                        \
    ((x).url = url, (x).mimetype = (char *)r->mime, (x).directpath = dp, (x).has_filesha256 = 1,                      \
     (x).filesha256 = sha, (x).has_fileencsha256 = 1, (x).fileencsha256 = enc, (x).has_mediakey = 1,                   \
     (x).mediakey = key, (x).has_filelength = 1, (x).filelength = h->file_length, (x).has_mediakeytimestamp = 1,       \
     (x).mediakeytimestamp = ts)
#define DIMS(x)                                                                                                        \
    ((x).has_width = r->width >= 0, (x).width = (uint32_t)(r->width >= 0 ? r->width : 0),                              \
     (x).has_height = r->height >= 0, (x).height = (uint32_t)(r->height >= 0 ? r->height : 0))

static void build(const req_media *r, char *url, char *dp, const miaw_wa_media_hashes *h, uint8_t *mk, parts *u,
                  Miaw__Wa__Message *m)
{
    ProtobufCBinaryData sha = {32, (uint8_t *)h->file_sha256}, enc = {32, (uint8_t *)h->file_enc_sha256},
                        key = {32, mk};
    int64_t ts = (int64_t)miaw_sim_now();
    const char *n = r->k->name;
    if (!strcmp(n, "image")) {
        miaw__wa__message__image_message__init(&u->im);
        FILL(u->im), DIMS(u->im);
        u->im.caption = (char *)r->caption;
        m->imagemessage = &u->im;
    } else if (!strcmp(n, "video")) {
        miaw__wa__message__video_message__init(&u->vm);
        FILL(u->vm), DIMS(u->vm);
        u->vm.caption = (char *)r->caption;
        u->vm.has_seconds = r->seconds >= 0, u->vm.seconds = (uint32_t)(r->seconds >= 0 ? r->seconds : 0);
        m->videomessage = &u->vm;
    } else if (!strcmp(n, "audio")) {
        miaw__wa__message__audio_message__init(&u->am);
        FILL(u->am);
        u->am.has_seconds = r->seconds >= 0, u->am.seconds = (uint32_t)(r->seconds >= 0 ? r->seconds : 0);
        u->am.has_ptt = 1, u->am.ptt = r->ptt;
        m->audiomessage = &u->am;
    } else if (!strcmp(n, "sticker")) {
        miaw__wa__message__sticker_message__init(&u->sm);
        FILL(u->sm), DIMS(u->sm);
        u->sm.has_isanimated = 1, u->sm.isanimated = r->animated;
        m->stickermessage = &u->sm;
    } else {
        miaw__wa__message__document_message__init(&u->dm);
        FILL(u->dm);
        u->dm.title = (char *)(r->caption ? r->caption : r->fname);
        u->dm.filename = (char *)r->fname;
        m->documentmessage = &u->dm;
    }
}
#undef FILL
#undef DIMS

/* what the outbox keeps of a media send */
static json_t *record(const req_media *r, const miaw_wa_media_hashes *h, const char *url)
{
    json_t *rec = json_pack("{s:s,s:s}", "type", r->k->name, "mimetype", r->mime);
    if (r->caption) json_object_set_new(rec, "caption", json_string(r->caption));
    if (r->fname) json_object_set_new(rec, "fileName", json_string(r->fname));
    if (r->width >= 0) json_object_set_new(rec, "width", json_integer(r->width));
    if (r->height >= 0) json_object_set_new(rec, "height", json_integer(r->height));
    if (r->seconds >= 0) json_object_set_new(rec, "seconds", json_integer(r->seconds));
    if (!strcmp(r->k->name, "audio")) json_object_set_new(rec, "ptt", json_boolean(r->ptt));
    if (!strcmp(r->k->name, "sticker")) json_object_set_new(rec, "isAnimated", json_boolean(r->animated));
    json_object_set_new(rec, "fileSha256", b64(h->file_sha256, 32));
    json_object_set_new(rec, "fileLength", json_integer((json_int_t)h->file_length));
    json_object_set_new(rec, "url", json_string(url));
    return rec;
}

int miaw_sim_phone_media_kind(const json_t *b)
{
    int found = 0;
    for (size_t i = 0; i < NKINDS; i++) found += json_object_get(b, KINDS[i].name) != NULL;
    return found;
}

void miaw_sim_phone_media_post(miaw_sim *sim, h2o_req_t *req, miaw_sim_account *a, json_t *b)
{
    const char *to = json_string_value(json_object_get(b, "to")), *field = NULL, *why = NULL;
    const kind *k = NULL;
    for (size_t i = 0; i < NKINDS && !k; i++)
        if (json_object_get(b, KINDS[i].name)) k = &KINDS[i];
    json_t *o = k ? json_object_get(b, k->name) : NULL;
    const char *data = json_string_value(json_object_get(o, "base64"));
    size_t dl = data ? strlen(data) : 0;
    req_media r;
    miaw_sim_group *g = to && strstr(to, "@g.us") ? miaw_sim_group_find(sim, to) : NULL;
    if (!to || !*to || strlen(to) > 96) { refuse_req(req, 400, "INVALID_REQUEST", "to", "to must be a phone number or a JID of a simulated account or group"); return; }
    if (strstr(to, "@g.us") && !g) { refuse_req(req, 404, "NOT_FOUND", "to", "no such group"); return; }
    if (!k || miaw_sim_phone_media_kind(b) != 1 || !json_is_object(o))
        { refuse_req(req, 400, "INVALID_REQUEST", k ? k->name : "image", "one object: image, video, audio, sticker or document"); return; }
    if (!data || !dl || dl > 4 * ((MIAW_SIM_PHONE_MEDIA_MAX + 2) / 3))
        { refuse_req(req, 400, "INVALID_REQUEST", "base64", "base64 must be non-empty, at most 768 KiB decoded"); return; }
    const char *bad = parse(o, k, &r, &field);
    if (bad) { refuse_req(req, 400, "INVALID_REQUEST", field, bad); return; }
    uint8_t *pt = malloc(dl / 4 * 3 + 3), mk[32], *blob = NULL;
    int n = pt ? miaw_sim_b64_decode(data, dl, pt, dl / 4 * 3 + 3) : -1;
    if (n <= 0) {
        free(pt);
        refuse_req(req, 400, "INVALID_REQUEST", "base64", "base64 is not valid (standard alphabet, padded)");
        return;
    }
    /* ptt shares the audio keys; the stanza's mediatype says which it is */
    const char *mediatype = !strcmp(k->name, "audio") && r.ptt ? "ptt" : k->name;
    miaw_wa_media_hashes h;
    size_t bl = 0;
    char url[512], dp[256], id[40];
    int rc = miaw_wa_media_key_generate(mk);
    if (!rc) rc = miaw_wa_media_encrypt(mk, k->name, pt, (size_t)n, &blob, &bl, &h);
    free(pt);
    if (!rc) rc = miaw_sim_media_put(mediatype, blob, bl, url, sizeof url, dp, sizeof dp);
    free(blob);
    if (rc) { refuse_req(req, 500, "INTERNAL_ERROR", NULL, "cannot encrypt or store the media"); return; }
    Miaw__Wa__Message m = MIAW__WA__MESSAGE__INIT;
    parts u;
    build(&r, url, dp, &h, mk, &u, &m);
    json_t *rec = record(&r, &h, url);
    rc = g ? miaw_sim_phone_group_send(sim, a, g, &m, "media", mediatype, rec, id, sizeof id, &why)
           : miaw_sim_phone_send_message(sim, a, to, &m, "media", mediatype, rec, id, sizeof id, &why);
    memset(mk, 0, sizeof mk);
    if (rc == MIAW_E_AUTH) refuse_req(req, 409, "CONFLICT", "to", why);
    else if (rc == MIAW_E_NOTFOUND) refuse_req(req, 404, "NOT_FOUND", "to", why);
    else if (rc) refuse_req(req, 500, "INTERNAL_ERROR", NULL, why ? why : "sending failed");
    else miaw_sim_http_json(req, 201, json_pack("{s:s}", "id", id));
}
