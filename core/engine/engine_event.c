/* core/engine/engine_event.c - the `media` summary of a `message` event (spec issue 11:
 * mimetype, fileName, fileLength, sha256, caption, width/height, seconds, ptt and the API
 * path that serves the file), read from the event's raw WAProto JSON. Called by eng_emit
 * for every `message` event, 1:1 and group alike. Owns nothing. */
#include "engine/engine_event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct { const char *key, *type; } KINDS[] = {
    {"imageMessage", "image"},       {"videoMessage", "video"},     {"ptvMessage", "video"},
    {"audioMessage", "audio"},       {"documentMessage", "document"}, {"stickerMessage", "sticker"},
};
static const char *const WRAPPERS[] = {"viewOnceMessageV2", "viewOnceMessage", "viewOnceMessageV2Extension",
                                       "documentWithCaptionMessage", "ephemeralMessage"};

static const json_t *find(const json_t *msg, const char **type, int *view_once)
{
    for (int depth = 0; depth < 4 && json_is_object(msg); depth++) {
        for (size_t i = 0; i < sizeof KINDS / sizeof *KINDS; i++) {
            const json_t *o = json_object_get(msg, KINDS[i].key);
            if (json_is_object(o)) {
                *type = KINDS[i].type;
                return o;
            }
        }
        const json_t *next = NULL;
        for (size_t i = 0; i < sizeof WRAPPERS / sizeof *WRAPPERS && !next; i++) {
            next = json_object_get(json_object_get(msg, WRAPPERS[i]), "message");
            if (next && i < 3) *view_once = 1;
        }
        msg = next;
    }
    return NULL;
}

/* base64 (32 bytes) -> 64 hex chars; 0 on success */
static int b64_hex(const char *s, char out[65])
{
    static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char b[33];
    size_t n = 0;
    unsigned acc = 0, bits = 0;
    for (; s && *s && *s != '='; s++) {
        const char *p = strchr(T, *s);
        if (!p || !*s) return -1;
        acc = acc << 6 | (unsigned)(p - T);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == sizeof b) return -1;
            b[n++] = (unsigned char)(acc >> bits);
        }
    }
    if (n != 32) return -1;
    for (size_t i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", b[i]);
    return 0;
}

static void copy(json_t *dst, const json_t *src, const char *from, const char *to)
{
    json_t *v = json_object_get(src, from);
    if (v && !json_is_null(v)) json_object_set(dst, to, v);
}

void eng_event_media(json_t *d, const char *instance_id, const miaw_config *cfg)
{
    const char *type = NULL, *id = json_string_value(json_object_get(d, "id"));
    int view_once = 0;
    const json_t *m = find(json_object_get(d, "raw"), &type, &view_once);
    if (!m || !id || !instance_id) return;
    json_t *o = json_pack("{s:s}", "type", type);
    copy(o, m, "mimetype", "mimetype");
    copy(o, m, "fileName", "fileName");
    const char *len = json_string_value(json_object_get(m, "fileLength"));
    if (len) json_object_set_new(o, "fileLength", json_integer((json_int_t)strtoll(len, NULL, 10)));
    else copy(o, m, "fileLength", "fileLength");
    char hex[65];
    if (b64_hex(json_string_value(json_object_get(m, "fileSha256")), hex) == 0)
        json_object_set_new(o, "sha256", json_string(hex));
    copy(o, m, "caption", "caption");
    copy(o, m, "width", "width");
    copy(o, m, "height", "height");
    copy(o, m, "seconds", "seconds");
    if (!strcmp(type, "audio")) json_object_set_new(o, "ptt", json_boolean(json_is_true(json_object_get(m, "ptt"))));
    if (!strcmp(type, "sticker")) json_object_set_new(o, "isAnimated", json_boolean(json_is_true(json_object_get(m, "isAnimated"))));
    if (view_once || json_is_true(json_object_get(m, "viewOnce"))) json_object_set_new(o, "viewOnce", json_true());
    char path[1024];
    snprintf(path, sizeof path, "%s%s/instances/%s/messages/%s/media", cfg && cfg->base_path ? cfg->base_path : "",
             cfg && cfg->api_prefix ? cfg->api_prefix : "/api/v1", instance_id, id);
    json_object_set_new(o, "path", json_string(path));
    json_object_set_new(d, "media", o);
}
