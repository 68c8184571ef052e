/* tests/unit/test_plugin_media.c - media in the messages plugin. media_meta.c compiled in:
 * magic-byte sniffing (every format, short and random input), metadata and conversions on
 * the fixtures of tests/integration/fixtures/media (JPEG size + thumbnail, PNG/WebP ->
 * JPEG, WebP stickers from PNG/WebP/animated WebP, video duration/size/thumbnail, voice
 * note duration and waveform, MP3, documents), refusals (wrong type, GIF, pixel limit,
 * truncated and random files: an error, never a crash), the waveform reduction. Then
 * build/plugins/messages.so on the mock host: base64 sends through the worker thread
 * (400 with details.field for a random blob, 413 for an oversized body and for a
 * configured limit), the imageMessage handed to msg_send (upload fields, width/height,
 * jpegThumbnail, caption, viewOnce wrapper, quote), a voice note (ptt, seconds, waveform),
 * a sticker, and an aborted request while the worker runs; the ABI 1.3 paths: a url fetched
 * by the host (its limit passed as max_bytes, 413/400 naming url, the fetched file
 * removed), a multipart file part (file name and type kept for documents, 413 naming file),
 * and GET .../messages/{id}/media (download of the stored message's media to a temp file
 * answered with reply_file: type, name, attachment for documents, removed after; 404 for a
 * text message and an unknown id, 410 MEDIA_GONE, the viewOnce wrapper unwrapped). */
#include "harness.h"
#include "plugin_path.h"

#include "plugins/messages/media_meta.c"
#include "wa/proto_json.h"

#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <miaw/mock_host.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FIX "tests/integration/fixtures/media/"

static mm_opts opts(mm_kind k)
{
    mm_init();
    mm_opts o = {.kind = k, .tmpdir = "/tmp"};
    return o;
}

static void test_sniff(void)
{
    static const struct { const char *head; size_t n; mm_format f; } C[] = {
        {"\xff\xd8\xff\xe0\0\x10JFIF", 10, MM_JPEG},
        {"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16, MM_PNG},
        {"GIF89a\x01\0\x01\0", 10, MM_GIF},
        {"RIFF\x10\0\0\0WEBPVP8 ", 16, MM_WEBP},
        {"RIFF\x10\0\0\0WAVEfmt ", 16, MM_WAV},
        {"RIFF\x10\0\0\0AVI LIST", 16, MM_AVI},
        {"\0\0\0\x20" "ftypisom\0\0\x02\0", 16, MM_MP4},
        {"\0\0\0\x20" "ftypM4A \0\0\x02\0", 16, MM_M4A},
        {"\0\0\0\x14" "ftypqt  \0\0\x02\0", 16, MM_MOV},
        {"\0\0\0\x14" "ftyp3gp4\0\0\x02\0", 16, MM_3GP},
        {"\0\0\0\x18" "ftypheic\0\0\0\0", 16, MM_UNKNOWN},
        {"\x1a\x45\xdf\xa3\x9f\x42\x86\x81", 8, MM_WEBM},
        {"OggS\0\x02\0\0", 8, MM_OGG},
        {"ID3\x04\0\0\0\0", 8, MM_MP3},
        {"\xff\xfb\x90\x64\0\0", 6, MM_MP3},
        {"\xff\xf1\x50\x80\x02\x1f", 6, MM_AAC},
        {"#!AMR\n\x3c", 7, MM_AMR},
        {"fLaC\0\0\0\x22", 8, MM_FLAC},
        {"%PDF-1.7\n", 9, MM_PDF},
        {"PK\x03\x04\x14\0\x06\0", 8, MM_ZIP},
        {"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8, MM_OLE},
        {"Rar!\x1a\x07\x01\0", 8, MM_RAR},
        {"7z\xbc\xaf\x27\x1c\0\x04", 8, MM_7Z},
        {"\x1f\x8b\x08\0\0\0", 6, MM_GZIP},
        {"hello, world\n", 13, MM_TEXT},
        {"\x01\x02\x03\x04\x05\x06\x07\x08", 8, MM_UNKNOWN},
        {"\xff\xd8", 2, MM_UNKNOWN},
        {"", 0, MM_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof C / sizeof *C; i++) {
        mm_format f = mm_sniff(C[i].head, C[i].n);
        if (f != C[i].f) fprintf(stderr, "\ncase %zu: %s, want %s\n", i, mm_format_name(f), mm_format_name(C[i].f));
        CU_ASSERT_EQUAL(f, C[i].f);
    }
    CU_ASSERT_EQUAL(mm_sniff(NULL, 10), MM_UNKNOWN);
    CU_ASSERT_STRING_EQUAL(mm_format_mime(MM_WEBP), "image/webp");
    CU_ASSERT_STRING_EQUAL(mm_format_mime(MM_UNKNOWN), "application/octet-stream");
    CU_ASSERT_STRING_EQUAL(mm_format_ext(MM_PDF), "pdf");
    CU_ASSERT_STRING_EQUAL(mm_format_mime((mm_format)999), "application/octet-stream");
    /* the fixtures */
    CU_ASSERT_EQUAL(mm_sniff_file(FIX "img.jpg"), MM_JPEG);
    CU_ASSERT_EQUAL(mm_sniff_file(FIX "img.png"), MM_PNG);
    CU_ASSERT_EQUAL(mm_sniff_file(FIX "img.webp"), MM_WEBP);
    CU_ASSERT_EQUAL(mm_sniff_file(FIX "vid.mp4"), MM_MP4);
    CU_ASSERT_EQUAL(mm_sniff_file(FIX "voice.ogg"), MM_OGG);
    CU_ASSERT_EQUAL(mm_sniff_file(FIX "song.mp3"), MM_MP3);
    CU_ASSERT_EQUAL(mm_sniff_file(FIX "doc.pdf"), MM_PDF);
    CU_ASSERT_EQUAL(mm_sniff_file("/nonexistent"), MM_UNKNOWN);
}

/* width/height of a JPEG in memory (the thumbnails), 0 on error */
static void jpeg_dims(const unsigned char *b, size_t n, uint32_t *w, uint32_t *h)
{
    *w = *h = 0;
    struct jpeg_decompress_struct d;
    jerr e;
    d.err = jpeg_std_error(&e.pub);
    e.pub.error_exit = jerr_exit;
    e.pub.emit_message = jerr_silent;
    if (setjmp(e.jb)) {
        jpeg_destroy_decompress(&d);
        return;
    }
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, b, (unsigned long)n);
    jpeg_read_header(&d, TRUE);
    *w = d.image_width;
    *h = d.image_height;
    jpeg_destroy_decompress(&d);
}

static void check_thumb(const mm_result *r, uint32_t want_w, uint32_t want_h)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->thumb);
    CU_ASSERT_TRUE(r->thumb_len > 100 && r->thumb_len < 16000);
    uint32_t w, h;
    jpeg_dims(r->thumb, r->thumb_len, &w, &h);
    if (w != want_w || h != want_h) fprintf(stderr, "\nthumb %ux%u, want %ux%u\n", w, h, want_w, want_h);
    CU_ASSERT_EQUAL(w, want_w);
    CU_ASSERT_EQUAL(h, want_h);
}

static void test_images(void)
{
    mm_opts o = opts(MM_K_IMAGE);
    mm_result r;
    CU_ASSERT_EQUAL(mm_process(FIX "img.jpg", &o, &r), MIAW_OK);
    CU_ASSERT_EQUAL(r.width, 320);
    CU_ASSERT_EQUAL(r.height, 240);
    CU_ASSERT_PTR_NULL(r.out_path); /* sent as it is */
    CU_ASSERT_STRING_EQUAL(r.mimetype, "image/jpeg");
    check_thumb(&r, 96, 72);
    mm_result_clear(&r);
    /* PNG with alpha -> JPEG */
    CU_ASSERT_EQUAL(mm_process(FIX "img.png", &o, &r), MIAW_OK);
    CU_ASSERT_EQUAL(r.in_format, MM_PNG);
    CU_ASSERT_EQUAL(r.width, 200);
    CU_ASSERT_EQUAL(r.height, 150);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r.out_path);
    CU_ASSERT_EQUAL(mm_sniff_file(r.out_path), MM_JPEG);
    CU_ASSERT_STRING_EQUAL(r.mimetype, "image/jpeg");
    check_thumb(&r, 96, 72);
    char *conv = strdup(r.out_path);
    mm_result_clear(&r);
    CU_ASSERT_NOT_EQUAL(access(conv, F_OK), 0); /* removed with the result */
    free(conv);
    /* WebP -> JPEG, with a smaller thumbnail size */
    o.thumb_px = 32;
    CU_ASSERT_EQUAL(mm_process(FIX "img.webp", &o, &r), MIAW_OK);
    CU_ASSERT_EQUAL(r.width, 300);
    CU_ASSERT_EQUAL(r.height, 200);
    CU_ASSERT_PTR_NOT_NULL(r.out_path);
    check_thumb(&r, 32, 21);
    mm_result_clear(&r);
    o.thumb_px = 0;
    /* refusals */
    CU_ASSERT_EQUAL(mm_process(FIX "doc.pdf", &o, &r), MIAW_E_INVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "not an image"));
    mm_result_clear(&r);
    CU_ASSERT_EQUAL(mm_process(FIX "vid.mp4", &o, &r), MIAW_E_INVAL);
    mm_result_clear(&r);
    o.max_pixels = 20000;
    CU_ASSERT_EQUAL(mm_process(FIX "img.png", &o, &r), MIAW_E_LIMIT);
    mm_result_clear(&r);
    CU_ASSERT_EQUAL(mm_process(FIX "img.jpg", &o, &r), MIAW_OK); /* a JPEG is decoded at 1/2 for its thumbnail */
    mm_result_clear(&r);
    o.max_pixels = 10000;
    CU_ASSERT_EQUAL(mm_process(FIX "img.jpg", &o, &r), MIAW_E_LIMIT);
    mm_result_clear(&r);
    CU_ASSERT_EQUAL(mm_process("/nonexistent", &o, &r), MIAW_E_INVAL);
    mm_result_clear(&r);
}

/* truncated and corrupted copies of each fixture: errors, never a crash or a leak */
static void test_broken_files(void)
{
    static const char *const F[] = {"img.jpg", "img.png", "img.webp", "anim.webp", "vid.mp4", "voice.ogg", "song.mp3"};
    static const mm_kind K[] = {MM_K_IMAGE, MM_K_STICKER, MM_K_VIDEO, MM_K_AUDIO};
    char tmp[] = "/tmp/miaw-broken-XXXXXX";
    int fd = mkstemp(tmp);
    CU_ASSERT_TRUE_FATAL(fd >= 0);
    close(fd);
    for (size_t i = 0; i < sizeof F / sizeof *F; i++) {
        char path[256];
        snprintf(path, sizeof path, FIX "%s", F[i]);
        FILE *f = fopen(path, "rb");
        CU_ASSERT_PTR_NOT_NULL_FATAL(f);
        unsigned char buf[20000];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        for (int variant = 0; variant < 3; variant++) {
            size_t len = variant == 0 ? n / 2 : variant == 1 ? 40 : n;
            unsigned char copy[20000];
            memcpy(copy, buf, n);
            if (variant == 2)
                for (size_t j = 64; j < n; j += 7) copy[j] ^= 0x5a;
            f = fopen(tmp, "wb");
            fwrite(copy, 1, len, f);
            fclose(f);
            for (size_t k = 0; k < sizeof K / sizeof *K; k++) {
                mm_opts o = opts(K[k]);
                o.ptt = 1;
                mm_result r;
                int rc = mm_process(tmp, &o, &r);
                CU_ASSERT_TRUE(rc == MIAW_OK || rc == MIAW_E_INVAL || rc == MIAW_E_LIMIT);
                if (rc != MIAW_OK) CU_ASSERT_TRUE(r.err[0] != 0);
                mm_result_clear(&r);
            }
        }
    }
    unlink(tmp);
}

static void test_stickers(void)
{
    mm_opts o = opts(MM_K_STICKER);
    mm_result r;
    /* PNG -> 512x512 WebP, within the static limit */
    CU_ASSERT_EQUAL(mm_process(FIX "img.png", &o, &r), MIAW_OK);
    CU_ASSERT_EQUAL(r.width, 512);
    CU_ASSERT_EQUAL(r.height, 512);
    CU_ASSERT_EQUAL(r.animated, 0);
    CU_ASSERT_STRING_EQUAL(r.mimetype, "image/webp");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r.out_path);
    CU_ASSERT_EQUAL(mm_sniff_file(r.out_path), MM_WEBP);
    size_t n = 0;
    unsigned char *b = read_all(r.out_path, 1 << 20, &n);
    WebPBitstreamFeatures ft;
    CU_ASSERT_EQUAL(WebPGetFeatures(b, n, &ft), VP8_STATUS_OK);
    CU_ASSERT_EQUAL(ft.width, 512);
    CU_ASSERT_EQUAL(ft.height, 512);
    CU_ASSERT_TRUE(n <= 100 * 1024);
    free(b);
    mm_result_clear(&r);
    /* JPEG -> WebP */
    CU_ASSERT_EQUAL(mm_process(FIX "img.jpg", &o, &r), MIAW_OK);
    CU_ASSERT_PTR_NOT_NULL(r.out_path);
    mm_result_clear(&r);
    /* a 512x512 WebP is sent as it is */
    CU_ASSERT_EQUAL(mm_process(FIX "sticker.webp", &o, &r), MIAW_OK);
    CU_ASSERT_PTR_NULL(r.out_path);
    CU_ASSERT_EQUAL(r.width, 512);
    mm_result_clear(&r);
    /* animated: as it is, flagged */
    CU_ASSERT_EQUAL(mm_process(FIX "anim.webp", &o, &r), MIAW_OK);
    CU_ASSERT_EQUAL(r.animated, 1);
    CU_ASSERT_PTR_NULL(r.out_path);
    CU_ASSERT_EQUAL(r.width, 128);
    mm_result_clear(&r);
    o.sticker_anim_max = 1000;
    CU_ASSERT_EQUAL(mm_process(FIX "anim.webp", &o, &r), MIAW_E_LIMIT);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "animated"));
    mm_result_clear(&r);
    o.sticker_max = 200; /* no encoding gets that small */
    CU_ASSERT_EQUAL(mm_process(FIX "img.png", &o, &r), MIAW_E_LIMIT);
    mm_result_clear(&r);
    CU_ASSERT_EQUAL(mm_process(FIX "song.mp3", &o, &r), MIAW_E_INVAL);
    mm_result_clear(&r);
}

static void test_av(void)
{
    mm_opts o = opts(MM_K_VIDEO);
    mm_result r;
    CU_ASSERT_EQUAL(mm_process(FIX "vid.mp4", &o, &r), MIAW_OK);
    CU_ASSERT_EQUAL(r.seconds, 2);
    CU_ASSERT_EQUAL(r.width, 160);
    CU_ASSERT_EQUAL(r.height, 120);
    CU_ASSERT_STRING_EQUAL(r.mimetype, "video/mp4");
    check_thumb(&r, 96, 72);
    mm_result_clear(&r);
    CU_ASSERT_EQUAL(mm_process(FIX "img.jpg", &o, &r), MIAW_E_INVAL);
    mm_result_clear(&r);
    CU_ASSERT_EQUAL(mm_process(FIX "voice.ogg", &o, &r), MIAW_E_INVAL); /* audio is not a video */
    mm_result_clear(&r);
    /* a voice note: Ogg/Opus, 3 s, quiet first second */
    o = opts(MM_K_AUDIO);
    o.ptt = 1;
    CU_ASSERT_EQUAL(mm_process(FIX "voice.ogg", &o, &r), MIAW_OK);
    CU_ASSERT_EQUAL(r.seconds, 3);
    CU_ASSERT_STRING_EQUAL(r.mimetype, "audio/ogg; codecs=opus");
    CU_ASSERT_EQUAL(r.has_waveform, 1);
    int maxv = 0, early = 0, late = 0;
    for (int i = 0; i < 64; i++) {
        CU_ASSERT_TRUE(r.waveform[i] <= 100);
        if (r.waveform[i] > maxv) maxv = r.waveform[i];
    }
    for (int i = 3; i < 18; i++) early += r.waveform[i];
    for (int i = 30; i < 60; i++) late += r.waveform[i];
    CU_ASSERT_EQUAL(maxv, 100);
    CU_ASSERT_TRUE(early / 15 < 40);  /* volume 0.2 */
    CU_ASSERT_TRUE(late / 30 > 70);   /* volume 1 */
    mm_result_clear(&r);
    /* plain audio: no waveform */
    o.ptt = 0;
    CU_ASSERT_EQUAL(mm_process(FIX "song.mp3", &o, &r), MIAW_OK);
    CU_ASSERT_EQUAL(r.seconds, 2);
    CU_ASSERT_STRING_EQUAL(r.mimetype, "audio/mpeg");
    CU_ASSERT_EQUAL(r.has_waveform, 0);
    mm_result_clear(&r);
    CU_ASSERT_EQUAL(mm_process(FIX "vid.mp4", &o, &r), MIAW_OK); /* an MP4's audio track */
    CU_ASSERT_STRING_EQUAL(r.mimetype, "audio/mp4");
    mm_result_clear(&r);
    CU_ASSERT_EQUAL(mm_process(FIX "img.png", &o, &r), MIAW_E_INVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "not audio"));
    mm_result_clear(&r);
    /* documents: anything, named by content */
    o = opts(MM_K_DOCUMENT);
    CU_ASSERT_EQUAL(mm_process(FIX "doc.pdf", &o, &r), MIAW_OK);
    CU_ASSERT_STRING_EQUAL(r.mimetype, "application/pdf");
    CU_ASSERT_STRING_EQUAL(r.ext, "pdf");
    mm_result_clear(&r);
}

static void test_waveform(void)
{
    float mag[200];
    for (int i = 0; i < 200; i++) mag[i] = i < 100 ? 0.1f : 0.4f;
    uint8_t w[64];
    mm_waveform_from(mag, 200, w);
    CU_ASSERT_EQUAL(w[0], 25);
    CU_ASSERT_EQUAL(w[63], 100);
    float one = 0.5f;
    mm_waveform_from(&one, 1, w); /* fewer magnitudes than buckets */
    CU_ASSERT_EQUAL(w[0], 100);
    float zero[10] = {0};
    mm_waveform_from(zero, 10, w);
    CU_ASSERT_EQUAL(w[10], 0);
    size_t tl = 0;
    CU_ASSERT_PTR_NULL(mm_thumb_jpeg(NULL, 1, 1, 3, 96, &tl));
    uint8_t px[4 * 4 * 4] = {0};
    unsigned char *t = mm_thumb_jpeg(px, 4, 4, 4, 96, &tl); /* small: not scaled */
    uint32_t w2, h2;
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    jpeg_dims(t, tl, &w2, &h2);
    CU_ASSERT_EQUAL(w2, 4);
    free(t);
}

/* the server's own WAProto encoder checks every message the plugin hands msg_send */
static int waproto_check(const json_t *message, char *path, size_t pathlen, char *err, size_t errlen, void *ud)
{
    (void)ud;
    uint8_t *buf = NULL;
    size_t len = 0;
    char e[256] = "";
    int rc = miaw_pb_json_encode(miaw_pb_type("Message"), message, &buf, &len, e, sizeof e);
    free(buf);
    if (rc == 0) return MIAW_OK;
    fprintf(stderr, "\nWAProto: %s\n", e);
    snprintf(path, pathlen, "message");
    snprintf(err, errlen, "%s", e);
    return MIAW_E_INVAL;
}

static miaw_mock *load(const char *config)
{
    miaw_mock *m = miaw_mock_new();
    char err[512] = "";
    miaw_plugin *p = miaw_mock_load(m, miaw_test_plugin_path("messages"), "messages", config, err, sizeof err);
    if (!p) fprintf(stderr, "\nload: %s\n", err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    miaw_mock_set_message_check(m, waproto_check, NULL);
    CU_ASSERT_EQUAL(miaw_mock_put_instance(m, "i1", NULL), MIAW_OK);
    return m;
}

static char *file_b64(const char *path)
{
    size_t n = 0;
    unsigned char *b = read_all(path, 1 << 20, &n);
    char *s = malloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)s, b, (int)n);
    free(b);
    return s;
}

/* runs the mock's timers (the worker poll) until the reply or a media call shows up */
static void settle(miaw_mock *m, miaw_mock_reply *r, size_t media_calls)
{
    for (int i = 0; i < 2000 && r->pending && json_array_size(miaw_mock_media(m)) < media_calls; i++) {
        usleep(2000);
        miaw_mock_run_timers(m, 5);
    }
}

static const char *UPLOAD =
    "{\"url\":\"https://mmg.example/v/1.enc\",\"directPath\":\"/v/1.enc?x=1\",\"mediaKey\":"
    "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\",\"fileSha256\":\"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\","
    "\"fileEncSha256\":\"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\",\"fileLength\":\"8429\",\"mediaKeyTimestamp\":"
    "\"1735118400\"}";

static char *body_with(const char *fmt, const char *path)
{
    char *b64 = file_b64(path);
    char *out = malloc(strlen(b64) + strlen(fmt) + 64);
    sprintf(out, fmt, b64);
    free(b64);
    return out;
}

static void test_plugin_image(void)
{
    miaw_mock *m = load(NULL);
    miaw_mock_put_message(m, "i1", "Q1", "{\"id\":\"Q1\",\"chat\":\"6281234567890@s.whatsapp.net\",\"sender\":"
                                         "\"6281234567890@s.whatsapp.net\",\"text\":\"hi\",\"message\":{\"conversation\":\"hi\"}}");
    char *body = body_with("{\"to\":\"6281234567890\",\"base64\":\"%s\",\"caption\":\"look\",\"quotedMessageId\":\"Q1\","
                           "\"viewOnce\":true}", FIX "img.png");
    miaw_mock_reply r = {0};
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", "/instances/i1/messages/image", body, &r), 0);
    free(body);
    settle(m, &r, 1);
    CU_ASSERT_EQUAL_FATAL(json_array_size(miaw_mock_media(m)), 1);
    const json_t *up = json_array_get(miaw_mock_media(m), 0);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(up, "mediaType"), "image");
    CU_ASSERT_EQUAL(miaw_mock_complete_media(m, 0, MIAW_OK, UPLOAD, NULL), MIAW_OK);
    CU_ASSERT_EQUAL_FATAL(json_array_size(miaw_mock_sends(m)), 1);
    const json_t *s = json_array_get(miaw_mock_sends(m), 0);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "opts.type"), "media");
    const json_t *im = miaw_mock_get(s, "message.viewOnceMessageV2.message.imageMessage");
    CU_ASSERT_PTR_NOT_NULL_FATAL(im);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(im, "mimetype"), "image/jpeg");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(im, "caption"), "look");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(im, "directPath"), "/v/1.enc?x=1");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(im, "fileLength"), "8429");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(im, "width")), 200);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(im, "height")), 150);
    CU_ASSERT_TRUE(json_is_true(json_object_get(im, "viewOnce")));
    CU_ASSERT_TRUE(strlen(miaw_mock_str(im, "jpegThumbnail")) > 100);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(im, "contextInfo.stanzaId"), "Q1");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(im, "contextInfo.quotedMessage.conversation"), "hi");
    CU_ASSERT_EQUAL(strlen(miaw_mock_str(s, "message.messageContextInfo.messageSecret")), 44);
    CU_ASSERT_EQUAL(miaw_mock_complete_send(m, 0, MIAW_OK, "3EB0AA", 1735118400, NULL), MIAW_OK);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.messageId"), "3EB0AA");
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.json, "data.timestamp")), 1735118400000LL);
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_violations(m)), 0);
    miaw_mock_free(m);
}

static void test_plugin_refusals(void)
{
    miaw_mock *m = load("{\"limits\":{\"image\":4000}}");
    miaw_mock_reply r = {0};
    /* a random blob to /image: 400, field base64, after the worker looked at it */
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", "/instances/i1/messages/image",
                                   "{\"to\":\"6281234567890\",\"base64\":\"AAECAwQFBgcICQoLDA0ODw==\"}", &r), 0);
    settle(m, &r, 1);
    CU_ASSERT_EQUAL(r.status, 400);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "error.details.field"), "base64");
    CU_ASSERT_PTR_NOT_NULL(strstr(miaw_mock_str(r.json, "error.message"), "not an image"));
    miaw_mock_reply_clear(&r);
    /* above the configured image limit: 413 before any work */
    char *body = body_with("{\"to\":\"6281234567890\",\"base64\":\"%s\"}", FIX "img.jpg");
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", "/instances/i1/messages/image", body, &r), 413);
    CU_ASSERT_STRING_EQUAL(miaw_mock_reply_code(&r), "PAYLOAD_TOO_LARGE");
    CU_ASSERT_PTR_NOT_NULL(strstr(miaw_mock_str(r.json, "error.message"), "base64"));
    miaw_mock_reply_clear(&r);
    free(body);
    /* bad base64, no source, two sources, wrong flags, bad recipient */
    static const struct { const char *path, *body, *field; } B[] = {
        {"/instances/i1/messages/image", "{\"to\":\"6281234567890\",\"base64\":\"@@@@\"}", "base64"},
        {"/instances/i1/messages/image", "{\"to\":\"6281234567890\"}", "file"},
        {"/instances/i1/messages/image", "{\"to\":\"6281234567890\",\"base64\":\"AAAA\",\"url\":\"http://x/y\"}", "url"},
        {"/instances/i1/messages/audio", "{\"to\":\"6281234567890\",\"base64\":\"AAAA\",\"ptt\":\"maybe\"}", "ptt"},
        {"/instances/i1/messages/document", "{\"to\":\"6281234567890\",\"base64\":\"AAAA\",\"viewOnce\":true}", "viewOnce"},
        {"/instances/i1/messages/sticker", "{\"to\":\"abc\",\"base64\":\"AAAA\"}", "to"},
    };
    for (size_t i = 0; i < sizeof B / sizeof *B; i++) {
        int st = miaw_mock_call(m, "POST", B[i].path, B[i].body, &r);
        if (st != 400) fprintf(stderr, "\ncase %zu: %d %s\n", i, st, r.text ? r.text : "");
        CU_ASSERT_EQUAL(st, 400);
        CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "error.details.field") ? miaw_mock_str(r.json, "error.details.field") : "", B[i].field);
        miaw_mock_reply_clear(&r);
    }
    /* an upload refused by the engine: its status */
    body = body_with("{\"to\":\"6281234567890\",\"base64\":\"%s\"}", FIX "doc.pdf");
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", "/instances/i1/messages/document", body, &r), 0);
    settle(m, &r, 1);
    CU_ASSERT_EQUAL(miaw_mock_complete_media(m, 0, MIAW_E_STATE, NULL, "not connected"), MIAW_OK);
    CU_ASSERT_EQUAL(r.status, 503);
    miaw_mock_reply_clear(&r);
    /* the client leaves while the worker runs or the upload is in flight: no answer, nothing leaks */
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", "/instances/i1/messages/document", body, &r), 0);
    CU_ASSERT_EQUAL(miaw_mock_abort(m, &r), MIAW_OK);
    for (int i = 0; i < 50; i++) {
        usleep(2000);
        miaw_mock_run_timers(m, 5);
    }
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", "/instances/i1/messages/document", body, &r), 0);
    settle(m, &r, 3);
    CU_ASSERT_EQUAL(miaw_mock_abort(m, &r), MIAW_OK);
    CU_ASSERT_NOT_EQUAL(miaw_mock_complete_media(m, 2, MIAW_OK, UPLOAD, NULL), MIAW_OK); /* cancelled */
    miaw_mock_reply_clear(&r);
    free(body);
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_violations(m)), 0);
    miaw_mock_free(m);
}

static void test_plugin_voice_sticker_doc(void)
{
    miaw_mock *m = load(NULL);
    miaw_mock_reply r = {0};
    char *body = body_with("{\"to\":\"6281234567890\",\"base64\":\"%s\",\"ptt\":true}", FIX "voice.ogg");
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", "/instances/i1/messages/audio", body, &r), 0);
    free(body);
    settle(m, &r, 1);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(json_array_get(miaw_mock_media(m), 0), "mediaType"), "ptt");
    miaw_mock_complete_media(m, 0, MIAW_OK, UPLOAD, NULL);
    const json_t *am = miaw_mock_get(json_array_get(miaw_mock_sends(m), 0), "message.audioMessage");
    CU_ASSERT_PTR_NOT_NULL_FATAL(am);
    CU_ASSERT_TRUE(json_is_true(json_object_get(am, "ptt")));
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(am, "seconds")), 3);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(am, "mimetype"), "audio/ogg; codecs=opus");
    CU_ASSERT_EQUAL(strlen(miaw_mock_str(am, "waveform")), 88); /* 64 bytes */
    miaw_mock_complete_send(m, 0, MIAW_OK, "3EB0A1", 1735118400, NULL);
    CU_ASSERT_EQUAL(r.status, 200);
    miaw_mock_reply_clear(&r);

    body = body_with("{\"to\":\"6281234567890\",\"base64\":\"%s\"}", FIX "img.png");
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", "/instances/i1/messages/sticker", body, &r), 0);
    free(body);
    settle(m, &r, 2);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(json_array_get(miaw_mock_media(m), 1), "mediaType"), "sticker");
    miaw_mock_complete_media(m, 1, MIAW_OK, UPLOAD, NULL);
    const json_t *sm = miaw_mock_get(json_array_get(miaw_mock_sends(m), 1), "message.stickerMessage");
    CU_ASSERT_PTR_NOT_NULL_FATAL(sm);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(sm, "mimetype"), "image/webp");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(sm, "width")), 512);
    CU_ASSERT_TRUE(json_is_false(json_object_get(sm, "isAnimated")));
    miaw_mock_complete_send(m, 1, MIAW_E_TIMEOUT, NULL, 0, "no ack");
    CU_ASSERT_EQUAL(r.status, 504);
    miaw_mock_reply_clear(&r);

    body = body_with("{\"to\":\"6281234567890\",\"base64\":\"%s\",\"fileName\":\"report.pdf\",\"caption\":\"Q3\"}",
                     FIX "doc.pdf");
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", "/instances/i1/messages/document", body, &r), 0);
    free(body);
    settle(m, &r, 3);
    miaw_mock_complete_media(m, 2, MIAW_OK, UPLOAD, NULL);
    const json_t *dm = miaw_mock_get(json_array_get(miaw_mock_sends(m), 2), "message.documentMessage");
    CU_ASSERT_PTR_NOT_NULL_FATAL(dm);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(dm, "mimetype"), "application/pdf");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(dm, "fileName"), "report.pdf");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(dm, "caption"), "Q3");
    miaw_mock_complete_send(m, 2, MIAW_OK, "3EB0A3", 1735118400, NULL);
    CU_ASSERT_EQUAL(r.status, 200);
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_violations(m)), 0);
    miaw_mock_free(m);
}

static size_t file_count(const char *dir, const char *prefix)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls %s 2>/dev/null | grep -c '^%s' ", dir, prefix);
    FILE *p = popen(cmd, "r");
    size_t n = 0;
    if (p) {
        if (fscanf(p, "%zu", &n) != 1) n = 0;
        pclose(p);
    }
    return n;
}

static void test_plugin_url_multipart(void)
{
    char dir[] = "/tmp/miaw-mm-unit-XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char cfg[256];
    snprintf(cfg, sizeof cfg, "{\"tmpDir\":\"%s\",\"limits\":{\"document\":5000}}", dir);
    miaw_mock *m = load(cfg);
    miaw_mock_reply r = {0};
    /* url: the host fetches with the kind's limit; the fetched file is the plugin's */
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", "/instances/i1/messages/image",
                                   "{\"to\":\"6281234567890\",\"url\":\"https://example.com/a.jpg\"}", &r), 0);
    CU_ASSERT_EQUAL_FATAL(json_array_size(miaw_mock_fetches(m)), 1);
    const json_t *f = json_array_get(miaw_mock_fetches(m), 0);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(f, "url"), "https://example.com/a.jpg");
    size_t n = 0;
    unsigned char *jpg = read_all(FIX "img.jpg", 1 << 20, &n);
    CU_ASSERT_EQUAL(miaw_mock_complete_fetch(m, 0, MIAW_OK, jpg, n, "image/jpeg", NULL), MIAW_OK);
    settle(m, &r, 1);
    CU_ASSERT_EQUAL_FATAL(json_array_size(miaw_mock_media(m)), 1);
    miaw_mock_complete_media(m, 0, MIAW_OK, UPLOAD, NULL);
    const json_t *im = miaw_mock_get(json_array_get(miaw_mock_sends(m), 0), "message.imageMessage");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(im, "width")), 320);
    miaw_mock_complete_send(m, 0, MIAW_OK, "3EB0B1", 1735118400, NULL);
    CU_ASSERT_EQUAL(r.status, 200);
    miaw_mock_reply_clear(&r);
    /* a fetch over the limit, and one that fails */
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", "/instances/i1/messages/document",
                                   "{\"to\":\"6281234567890\",\"url\":\"https://example.com/big\"}", &r), 0);
    f = json_array_get(miaw_mock_fetches(m), 1);
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(f, "maxBytes")), 5000);
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(f, "maxRedirects")), 3);
    miaw_mock_complete_fetch(m, 1, MIAW_E_LIMIT, NULL, 0, NULL, NULL);
    CU_ASSERT_EQUAL(r.status, 413);
    CU_ASSERT_PTR_NOT_NULL(strstr(miaw_mock_str(r.json, "error.message"), "url"));
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", "/instances/i1/messages/document",
                                   "{\"to\":\"6281234567890\",\"url\":\"https://example.com/gone\"}", &r), 0);
    miaw_mock_complete_fetch(m, 2, MIAW_E_IO, NULL, 0, NULL, "HTTP 404");
    CU_ASSERT_EQUAL(r.status, 400);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "error.details.field"), "url");
    CU_ASSERT_PTR_NOT_NULL(strstr(miaw_mock_str(r.json, "error.message"), "HTTP 404"));
    miaw_mock_reply_clear(&r);
    /* multipart: a PDF document, its file name and declared type kept */
    size_t pl = 0;
    unsigned char *pdf = read_all(FIX "doc.pdf", 1 << 20, &pl);
    miaw_mock_part parts[] = {{.name = "to", .value = "6281234567890"},
                              {.name = "caption", .value = "terms"},
                              {.name = "file", .data = pdf, .len = pl, .filename = "terms.pdf",
                               .content_type = "application/x-pdf"}};
    CU_ASSERT_EQUAL(miaw_mock_call_multipart(m, "POST", "/instances/i1/messages/document", NULL, parts, 3, &r), 0);
    settle(m, &r, 2);
    CU_ASSERT_EQUAL_FATAL(json_array_size(miaw_mock_media(m)), 2);
    miaw_mock_complete_media(m, 1, MIAW_OK, UPLOAD, NULL);
    const json_t *dm = miaw_mock_get(json_array_get(miaw_mock_sends(m), 1), "message.documentMessage");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(dm, "fileName"), "terms.pdf");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(dm, "mimetype"), "application/x-pdf");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(dm, "caption"), "terms");
    miaw_mock_complete_send(m, 1, MIAW_OK, "3EB0B2", 1735118400, NULL);
    CU_ASSERT_EQUAL(r.status, 200);
    miaw_mock_reply_clear(&r);
    /* a multipart file over the limit: 413 naming file, before any work */
    unsigned char big[6000] = {0};
    miaw_mock_part bigp[] = {{.name = "to", .value = "6281234567890"}, {.name = "file", .data = big, .len = sizeof big}};
    CU_ASSERT_EQUAL(miaw_mock_call_multipart(m, "POST", "/instances/i1/messages/document", NULL, bigp, 2, &r), 413);
    CU_ASSERT_PTR_NOT_NULL(strstr(miaw_mock_str(r.json, "error.message"), "file"));
    miaw_mock_reply_clear(&r);
    free(jpg);
    free(pdf);
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_violations(m)), 0);
    miaw_mock_free(m);
    CU_ASSERT_EQUAL(file_count(dir, "miaw-"), 0); /* converted, decoded and fetched files all removed */
    rmdir(dir);
}

static void test_plugin_download(void)
{
    char dir[] = "/tmp/miaw-mm-unit-XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char cfg[256];
    snprintf(cfg, sizeof cfg, "{\"tmpDir\":\"%s\"}", dir);
    miaw_mock *m = load(cfg);
    char msg[1024];
    snprintf(msg, sizeof msg, "{\"id\":\"D1\",\"chat\":\"6281234567890@s.whatsapp.net\",\"message\":{\"documentMessage\":"
                              "%.*s,\"mimetype\":\"application/pdf\",\"fileName\":\"terms.pdf\"}}}",
             (int)strlen(UPLOAD) - 1, UPLOAD);
    miaw_mock_put_message(m, "i1", "D1", msg);
    snprintf(msg, sizeof msg, "{\"id\":\"V1\",\"chat\":\"6281234567890@s.whatsapp.net\",\"message\":{\"viewOnceMessageV2\":"
                              "{\"message\":{\"imageMessage\":%.*s,\"mimetype\":\"image/jpeg\"}}}}}",
             (int)strlen(UPLOAD) - 1, UPLOAD);
    miaw_mock_put_message(m, "i1", "V1", msg);
    miaw_mock_put_message(m, "i1", "T1", "{\"id\":\"T1\",\"message\":{\"conversation\":\"hi\"},\"text\":\"hi\"}");
    miaw_mock_reply r = {0};
    CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", "/instances/i1/messages/D1/media", NULL, &r), 0);
    CU_ASSERT_EQUAL_FATAL(json_array_size(miaw_mock_media(m)), 1);
    const json_t *d = json_array_get(miaw_mock_media(m), 0);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(d, "kind"), "download");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(d, "mediaType"), "document");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(d, "media.directPath"), "/v/1.enc?x=1");
    CU_ASSERT_EQUAL(miaw_mock_media_feed(m, 0, "%PDF-1.4 hello", 14), MIAW_OK);
    CU_ASSERT_EQUAL(miaw_mock_complete_media(m, 0, MIAW_OK, NULL, NULL), MIAW_OK);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r.file);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.file, "contentType"), "application/pdf");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.file, "filename"), "terms.pdf");
    CU_ASSERT_PTR_NOT_NULL(strstr(miaw_mock_str(r.file, "disposition"), "attachment"));
    CU_ASSERT_EQUAL(r.body_len, 14);
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.file, "flags")) & MIAW_FILE_F_UNLINK, MIAW_FILE_F_UNLINK);
    miaw_mock_reply_clear(&r);
    /* view once: unwrapped; WhatsApp no longer has it: 410 */
    CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", "/instances/i1/messages/V1/media", NULL, &r), 0);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(json_array_get(miaw_mock_media(m), 1), "mediaType"), "image");
    miaw_mock_complete_media(m, 1, MIAW_E_GONE, NULL, "404");
    CU_ASSERT_EQUAL(r.status, 410);
    CU_ASSERT_STRING_EQUAL(miaw_mock_reply_code(&r), "MEDIA_GONE");
    miaw_mock_reply_clear(&r);
    /* the client leaves during the download */
    CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", "/instances/i1/messages/D1/media", NULL, &r), 0);
    CU_ASSERT_EQUAL(miaw_mock_abort(m, &r), MIAW_OK);
    CU_ASSERT_NOT_EQUAL(miaw_mock_complete_media(m, 2, MIAW_OK, NULL, NULL), MIAW_OK); /* cancelled */
    miaw_mock_reply_clear(&r);
    /* no media, unknown */
    CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", "/instances/i1/messages/T1/media", NULL, &r), 404);
    CU_ASSERT_PTR_NOT_NULL(strstr(miaw_mock_str(r.json, "error.message"), "no media"));
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", "/instances/i1/messages/NOPE/media", NULL, &r), 404);
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_violations(m)), 0);
    miaw_mock_free(m);
    CU_ASSERT_EQUAL(file_count(dir, "miaw-"), 0);
    rmdir(dir);
}

MIAW_TESTS("plugin_media", MIAW_T(test_sniff), MIAW_T(test_images), MIAW_T(test_broken_files),
           MIAW_T(test_stickers), MIAW_T(test_av), MIAW_T(test_waveform), MIAW_T(test_plugin_image),
           MIAW_T(test_plugin_refusals), MIAW_T(test_plugin_voice_sticker_doc),
           MIAW_T(test_plugin_url_multipart), MIAW_T(test_plugin_download))
