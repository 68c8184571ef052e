/* plugins/messages/media_meta.c - media files for WhatsApp messages: magic-byte sniffing,
 * image size and JPEG thumbnails (libjpeg-turbo with DCT-domain downscaling, libpng's
 * simplified API, libwebp/libwebpdemux), scaling with libswscale, PNG/WebP -> JPEG for
 * images, 512x512 WebP stickers, and libavformat/libavcodec for audio/video duration,
 * the first video frame as a thumbnail and a voice note's waveform. Pure functions of
 * files, no shared state: callers run them on a worker thread. Owns only what an
 * mm_result holds (see media_meta.h). */
#include "media_meta.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/log.h>
#include <libswscale/swscale.h>
#include <miaw/status.h>
#include <png.h>
#include <webp/decode.h>
#include <webp/demux.h>
#include <webp/encode.h>

/* ------------------------------------------------------------------ sniffing */
mm_format mm_sniff(const void *head, size_t n)
{
    const unsigned char *b = head;
    if (!b || n < 4) return MM_UNKNOWN;
#define AT(off, s) (n >= (off) + sizeof(s) - 1 && memcmp(b + (off), s, sizeof(s) - 1) == 0)
    if (b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return MM_JPEG;
    if (AT(0, "\x89PNG\r\n\x1a\n")) return MM_PNG;
    if (AT(0, "GIF87a") || AT(0, "GIF89a")) return MM_GIF;
    if (AT(0, "RIFF") && AT(8, "WEBP")) return MM_WEBP;
    if (AT(0, "RIFF") && AT(8, "WAVE")) return MM_WAV;
    if (AT(0, "RIFF") && AT(8, "AVI ")) return MM_AVI;
    if (AT(4, "ftyp") && n >= 12) {
        if (AT(8, "M4A ") || AT(8, "M4B ") || AT(8, "M4P ")) return MM_M4A;
        if (AT(8, "qt  ")) return MM_MOV;
        if (AT(8, "3gp") || AT(8, "3g2")) return MM_3GP;
        if (AT(8, "heic") || AT(8, "heix") || AT(8, "mif1") || AT(8, "msf1") || AT(8, "avif") || AT(8, "hevc"))
            return MM_UNKNOWN; /* HEIF/AVIF images: not readable here */
        return MM_MP4;
    }
    if (AT(0, "\x1a\x45\xdf\xa3")) return MM_WEBM;
    if (AT(0, "OggS")) return MM_OGG;
    if (AT(0, "ID3")) return MM_MP3;
    if (AT(0, "#!AMR")) return MM_AMR;
    if (AT(0, "fLaC")) return MM_FLAC;
    if (AT(0, "%PDF-")) return MM_PDF;
    if (AT(0, "PK\x03\x04")) return MM_ZIP;
    if (AT(0, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")) return MM_OLE;
    if (AT(0, "Rar!\x1a\x07")) return MM_RAR;
    if (AT(0, "7z\xbc\xaf\x27\x1c")) return MM_7Z;
    if (b[0] == 0x1F && b[1] == 0x8B) return MM_GZIP;
    if (b[0] == 'B' && b[1] == 'M' && n >= 14 && !b[6] && !b[7] && !b[8] && !b[9]) return MM_BMP;
    if (b[0] == 0xFF && (b[1] & 0xF6) == 0xF0) return MM_AAC;               /* ADTS: sync, layer 00 */
    if (b[0] == 0xFF && (b[1] & 0xE0) == 0xE0 && (b[1] & 0x06) && (b[2] & 0xF0) != 0xF0) return MM_MP3; /* frame sync */
#undef AT
    /* text: no control bytes but tab/CR/LF in the head (UTF-8 allowed) */
    size_t i;
    for (i = 0; i < n; i++)
        if ((b[i] < 0x20 && b[i] != '\t' && b[i] != '\n' && b[i] != '\r') || b[i] == 0x7F) break;
    return i == n ? MM_TEXT : MM_UNKNOWN;
}

mm_format mm_sniff_file(const char *path)
{
    unsigned char head[64];
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f) return MM_UNKNOWN;
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    return mm_sniff(head, n);
}

static const struct { const char *mime, *ext, *name; } FMT[MM_FORMAT_COUNT] = {
    [MM_UNKNOWN] = {"application/octet-stream", "bin", "unknown"},
    [MM_JPEG] = {"image/jpeg", "jpg", "JPEG"},         [MM_PNG] = {"image/png", "png", "PNG"},
    [MM_WEBP] = {"image/webp", "webp", "WebP"},        [MM_GIF] = {"image/gif", "gif", "GIF"},
    [MM_BMP] = {"image/bmp", "bmp", "BMP"},            [MM_MP4] = {"video/mp4", "mp4", "MP4"},
    [MM_MOV] = {"video/quicktime", "mov", "QuickTime"}, [MM_3GP] = {"video/3gpp", "3gp", "3GPP"},
    [MM_WEBM] = {"video/webm", "webm", "WebM/Matroska"}, [MM_AVI] = {"video/x-msvideo", "avi", "AVI"},
    [MM_M4A] = {"audio/mp4", "m4a", "M4A"},            [MM_OGG] = {"audio/ogg", "ogg", "Ogg"},
    [MM_MP3] = {"audio/mpeg", "mp3", "MP3"},           [MM_AAC] = {"audio/aac", "aac", "AAC"},
    [MM_AMR] = {"audio/amr", "amr", "AMR"},            [MM_WAV] = {"audio/wav", "wav", "WAV"},
    [MM_FLAC] = {"audio/flac", "flac", "FLAC"},        [MM_PDF] = {"application/pdf", "pdf", "PDF"},
    [MM_ZIP] = {"application/zip", "zip", "ZIP"},      [MM_OLE] = {"application/x-ole-storage", "doc", "OLE"},
    [MM_RAR] = {"application/vnd.rar", "rar", "RAR"},  [MM_7Z] = {"application/x-7z-compressed", "7z", "7z"},
    [MM_GZIP] = {"application/gzip", "gz", "gzip"},    [MM_TEXT] = {"text/plain", "txt", "text"},
};

const char *mm_format_mime(mm_format f) { return FMT[f < MM_FORMAT_COUNT ? f : 0].mime; }
const char *mm_format_ext(mm_format f) { return FMT[f < MM_FORMAT_COUNT ? f : 0].ext; }
const char *mm_format_name(mm_format f) { return FMT[f < MM_FORMAT_COUNT ? f : 0].name; }

/* ------------------------------------------------------------------ helpers */
static int fail(mm_result *r, int rc, const char *fmt, const char *a)
{
    snprintf(r->err, sizeof r->err, fmt, a ? a : "");
    return rc;
}

static unsigned char *read_all(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    struct stat st;
    unsigned char *buf = NULL;
    if (fstat(fileno(f), &st) == 0 && st.st_size > 0 && (uint64_t)st.st_size <= max) {
        buf = malloc((size_t)st.st_size);
        if (buf && fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
            free(buf);
            buf = NULL;
        }
        *len = (size_t)st.st_size;
    }
    fclose(f);
    return buf;
}

/* a new file in dir ending in .ext: its open FILE and malloc'd path */
static FILE *tmp_create(const char *dir, const char *ext, char **path)
{
    size_t n = strlen(dir ? dir : "/tmp") + strlen(ext) + 32;
    char *p = malloc(n);
    if (!p) return NULL;
    snprintf(p, n, "%s/miaw-media-XXXXXX.%s", dir ? dir : "/tmp", ext);
    int fd = mkstemps(p, (int)strlen(ext) + 1);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        if (fd >= 0) {
            close(fd);
            unlink(p);
        }
        free(p);
        return NULL;
    }
    *path = p;
    return f;
}

/* scales packed pixels (RGB24 or RGBA) with libswscale; dst is malloc'd w*h*ch */
static uint8_t *scale(const uint8_t *src, uint32_t sw, uint32_t sh, int ch, uint32_t dw, uint32_t dh, int flags)
{
    enum AVPixelFormat pf = ch == 4 ? AV_PIX_FMT_RGBA : AV_PIX_FMT_RGB24;
    struct SwsContext *s = sws_getContext((int)sw, (int)sh, pf, (int)dw, (int)dh, pf, flags, NULL, NULL, NULL);
    uint8_t *dst = s ? malloc((size_t)dw * dh * (size_t)ch) : NULL;
    if (dst) {
        const uint8_t *sp[4] = {src};
        int ss[4] = {(int)(sw * (uint32_t)ch)};
        uint8_t *dp[4] = {dst};
        int ds[4] = {(int)(dw * (uint32_t)ch)};
        if (sws_scale(s, sp, ss, 0, (int)sh, dp, ds) != (int)dh) {
            free(dst);
            dst = NULL;
        }
    }
    sws_freeContext(s);
    return dst;
}

static void fit(uint32_t w, uint32_t h, uint32_t box, uint32_t *ow, uint32_t *oh)
{
    if (w >= h) {
        *ow = box;
        *oh = (uint32_t)((uint64_t)h * box / w);
    } else {
        *oh = box;
        *ow = (uint32_t)((uint64_t)w * box / h);
    }
    if (!*ow) *ow = 1;
    if (!*oh) *oh = 1;
}

/* ------------------------------------------------------------------ JPEG */
typedef struct jerr {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
} jerr;

static void jerr_exit(j_common_ptr c) { longjmp(((jerr *)c->err)->jb, 1); }
static void jerr_silent(j_common_ptr c, int level) { (void)c, (void)level; }

/* RGB24 pixels to JPEG: into memory (out/len) or to f */
static int jpeg_write(const uint8_t *rgb, uint32_t w, uint32_t h, int quality, FILE *f, unsigned char **out,
                      size_t *len)
{
    struct jpeg_compress_struct c;
    jerr e;
    /* written by libjpeg through their addresses only, so they stay valid after longjmp */
    struct { unsigned char *buf; unsigned long len; } mem = {NULL, 0};
    c.err = jpeg_std_error(&e.pub);
    e.pub.error_exit = jerr_exit;
    e.pub.emit_message = jerr_silent;
    if (setjmp(e.jb)) {
        jpeg_destroy_compress(&c);
        free(mem.buf);
        return MIAW_E_IO;
    }
    jpeg_create_compress(&c);
    if (f) jpeg_stdio_dest(&c, f);
    else jpeg_mem_dest(&c, &mem.buf, &mem.len);
    c.image_width = w;
    c.image_height = h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)c.next_scanline * w * 3);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    if (!f) {
        *out = mem.buf;
        *len = mem.len;
    }
    return MIAW_OK;
}

/* Decodes a JPEG file, DCT-scaled so that its longest side stays >= min_side (0 = full
 * size): RGB24 pixels (malloc'd) and their size; also the full size in fw/fh. */
static uint8_t *jpeg_read(const char *path, uint32_t min_side, uint64_t max_pixels, uint32_t *fw, uint32_t *fh,
                          uint32_t *w, uint32_t *h, mm_result *r)
{
    FILE *f = fopen(path, "rb");
    if (!f) return fail(r, MIAW_E_IO, "cannot open the file", NULL), NULL;
    struct jpeg_decompress_struct d;
    jerr e;
    uint8_t *volatile pix = NULL;
    d.err = jpeg_std_error(&e.pub);
    e.pub.error_exit = jerr_exit;
    e.pub.emit_message = jerr_silent;
    if (setjmp(e.jb)) {
        jpeg_destroy_decompress(&d);
        fclose(f);
        free(pix);
        fail(r, MIAW_E_INVAL, "the JPEG cannot be decoded", NULL);
        return NULL;
    }
    jpeg_create_decompress(&d);
    jpeg_stdio_src(&d, f);
    jpeg_read_header(&d, TRUE);
    *fw = d.image_width;
    *fh = d.image_height;
    unsigned denom = 1;
    uint32_t side = d.image_width > d.image_height ? d.image_width : d.image_height;
    if (min_side)
        while (denom < 8 && side / (denom * 2) >= min_side) denom *= 2;
    if ((uint64_t)(d.image_width / denom) * (d.image_height / denom) > max_pixels) {
        jpeg_destroy_decompress(&d);
        fclose(f);
        fail(r, MIAW_E_LIMIT, "the image has too many pixels", NULL);
        return NULL;
    }
    d.scale_num = 1;
    d.scale_denom = denom;
    d.out_color_space = JCS_RGB;
    jpeg_start_decompress(&d);
    *w = d.output_width;
    *h = d.output_height;
    pix = malloc((size_t)d.output_width * d.output_height * 3);
    if (!pix) longjmp(e.jb, 1);
    while (d.output_scanline < d.output_height) {
        JSAMPROW row = (JSAMPROW)(pix + (size_t)d.output_scanline * d.output_width * 3);
        jpeg_read_scanlines(&d, &row, 1);
    }
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    fclose(f);
    return pix;
}

static uint8_t *rgba_to_rgb(const uint8_t *p, uint32_t w, uint32_t h)
{
    size_t n = (size_t)w * h;
    uint8_t *o = malloc(n * 3);
    if (!o) return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned a = p[4 * i + 3];
        for (int c = 0; c < 3; c++) o[3 * i + c] = (uint8_t)((p[4 * i + c] * a + 255 * (255 - a) + 127) / 255);
    }
    return o;
}

static uint8_t *rgb_to_rgba(const uint8_t *p, uint32_t w, uint32_t h)
{
    size_t n = (size_t)w * h;
    uint8_t *o = malloc(n * 4);
    if (!o) return NULL;
    for (size_t i = 0; i < n; i++) {
        memcpy(o + 4 * i, p + 3 * i, 3);
        o[4 * i + 3] = 255;
    }
    return o;
}

unsigned char *mm_thumb_jpeg(const uint8_t *pix, uint32_t w, uint32_t h, int channels, uint32_t px, size_t *len)
{
    if (!pix || !w || !h || (channels != 3 && channels != 4)) return NULL;
    if (!px) px = 96;
    uint32_t tw = w, th = h;
    if (w > px || h > px) fit(w, h, px, &tw, &th);
    uint8_t *small = (tw == w && th == h) ? NULL : scale(pix, w, h, channels, tw, th, SWS_AREA);
    const uint8_t *src = small ? small : pix;
    if (!small && (tw != w || th != h)) return NULL;
    uint8_t *rgb = channels == 4 ? rgba_to_rgb(src, tw, th) : NULL;
    unsigned char *out = NULL;
    size_t ol = 0;
    if ((channels == 3 || rgb) && jpeg_write(rgb ? rgb : src, tw, th, 60, NULL, &out, &ol) == MIAW_OK) *len = ol;
    else out = NULL;
    free(rgb);
    free(small);
    return out;
}

/* ------------------------------------------------------------------ PNG / WebP decode */
static uint8_t *png_read_rgba(const char *path, uint64_t max_pixels, uint32_t *w, uint32_t *h, mm_result *r)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&im, path)) return fail(r, MIAW_E_INVAL, "the PNG cannot be decoded: %s", im.message), NULL;
    if ((uint64_t)im.width * im.height > max_pixels) {
        png_image_free(&im);
        return fail(r, MIAW_E_LIMIT, "the image has too many pixels", NULL), NULL;
    }
    im.format = PNG_FORMAT_RGBA;
    uint8_t *pix = malloc(PNG_IMAGE_SIZE(im));
    if (!pix) {
        png_image_free(&im);
        return fail(r, MIAW_E_NOMEM, "out of memory", NULL), NULL;
    }
    if (!png_image_finish_read(&im, NULL, pix, 0, NULL)) {
        free(pix);
        png_image_free(&im);
        return fail(r, MIAW_E_INVAL, "the PNG cannot be decoded: %s", im.message), NULL;
    }
    *w = im.width;
    *h = im.height;
    return pix;
}

/* the (first frame of the) WebP at path as RGBA; *anim set when animated */
static uint8_t *webp_read_rgba(const char *path, uint64_t max_pixels, uint32_t *w, uint32_t *h, int *anim,
                               size_t *file_len, mm_result *r)
{
    size_t n = 0;
    uint8_t *data = read_all(path, 64u << 20, &n), *pix = NULL;
    WebPBitstreamFeatures ft;
    if (!data || WebPGetFeatures(data, n, &ft) != VP8_STATUS_OK || ft.width <= 0 || ft.height <= 0) {
        free(data);
        return fail(r, MIAW_E_INVAL, "the WebP cannot be decoded", NULL), NULL;
    }
    *file_len = n;
    *anim = ft.has_animation;
    *w = (uint32_t)ft.width;
    *h = (uint32_t)ft.height;
    if ((uint64_t)ft.width * (uint64_t)ft.height > max_pixels) {
        free(data);
        return fail(r, MIAW_E_LIMIT, "the image has too many pixels", NULL), NULL;
    }
    if (!ft.has_animation) {
        int dw, dh;
        uint8_t *p = WebPDecodeRGBA(data, n, &dw, &dh);
        if (p && dw == ft.width && dh == ft.height) {
            pix = malloc((size_t)dw * dh * 4);
            if (pix) memcpy(pix, p, (size_t)dw * dh * 4);
        }
        WebPFree(p);
    } else {
        WebPData wd = {data, n};
        WebPAnimDecoderOptions o;
        WebPAnimDecoderOptionsInit(&o);
        o.color_mode = MODE_RGBA;
        WebPAnimDecoder *dec = WebPAnimDecoderNew(&wd, &o);
        WebPAnimInfo ai;
        uint8_t *frame;
        int ts;
        if (dec && WebPAnimDecoderGetInfo(dec, &ai) && WebPAnimDecoderGetNext(dec, &frame, &ts)) {
            *w = ai.canvas_width;
            *h = ai.canvas_height;
            pix = malloc((size_t)ai.canvas_width * ai.canvas_height * 4);
            if (pix) memcpy(pix, frame, (size_t)ai.canvas_width * ai.canvas_height * 4);
        }
        WebPAnimDecoderDelete(dec);
    }
    free(data);
    if (!pix) fail(r, MIAW_E_INVAL, "the WebP cannot be decoded", NULL);
    return pix;
}

/* ------------------------------------------------------------------ images */
static int do_image(const char *path, const mm_opts *o, mm_result *r)
{
    uint32_t w = 0, h = 0, fw, fh;
    uint8_t *pix = NULL;
    if (r->in_format == MM_JPEG) {
        pix = jpeg_read(path, o->thumb_px, o->max_pixels, &fw, &fh, &w, &h, r);
        if (!pix) return r->err[0] && strstr(r->err, "pixels") ? MIAW_E_LIMIT : MIAW_E_INVAL;
        r->width = fw;
        r->height = fh;
        r->thumb = mm_thumb_jpeg(pix, w, h, 3, o->thumb_px, &r->thumb_len);
        free(pix);
        snprintf(r->mimetype, sizeof r->mimetype, "image/jpeg");
        snprintf(r->ext, sizeof r->ext, "jpg");
        return MIAW_OK;
    }
    int anim = 0;
    size_t fl = 0;
    if (r->in_format == MM_PNG) pix = png_read_rgba(path, o->max_pixels, &w, &h, r);
    else if (r->in_format == MM_WEBP) pix = webp_read_rgba(path, o->max_pixels, &w, &h, &anim, &fl, r);
    else if (r->in_format == MM_GIF)
        return fail(r, MIAW_E_INVAL, "GIF is not supported as an image: send an MP4 to /video (gifPlayback)", NULL);
    else
        return fail(r, MIAW_E_INVAL, "not an image: %s content (expected JPEG, PNG or WebP)", mm_format_name(r->in_format));
    if (!pix) return strstr(r->err, "pixels") ? MIAW_E_LIMIT : MIAW_E_INVAL;
    /* WhatsApp's imageMessage is a JPEG: convert, alpha over white */
    int rc = MIAW_E_NOMEM;
    uint8_t *rgb = rgba_to_rgb(pix, w, h);
    char *out = NULL;
    FILE *f = rgb ? tmp_create(o->tmpdir, "jpg", &out) : NULL;
    if (f) {
        rc = jpeg_write(rgb, w, h, 88, f, NULL, NULL);
        if (fclose(f) != 0 && rc == MIAW_OK) rc = MIAW_E_IO;
        if (rc != MIAW_OK) {
            unlink(out);
            free(out);
            out = NULL;
        }
    } else if (rgb) {
        rc = MIAW_E_IO;
    }
    if (rc == MIAW_OK) {
        r->out_path = out;
        r->width = w;
        r->height = h;
        r->thumb = mm_thumb_jpeg(rgb, w, h, 3, o->thumb_px, &r->thumb_len);
        snprintf(r->mimetype, sizeof r->mimetype, "image/jpeg");
        snprintf(r->ext, sizeof r->ext, "jpg");
    } else {
        fail(r, rc, "cannot convert the image to JPEG", NULL);
    }
    free(rgb);
    free(pix);
    return rc;
}

/* ------------------------------------------------------------------ stickers */
static int do_sticker(const char *path, const mm_opts *o, mm_result *r)
{
    uint32_t w = 0, h = 0, fw, fh;
    uint8_t *pix = NULL;
    int anim = 0;
    size_t fl = 0;
    snprintf(r->mimetype, sizeof r->mimetype, "image/webp");
    snprintf(r->ext, sizeof r->ext, "webp");
    if (r->in_format == MM_WEBP) {
        pix = webp_read_rgba(path, o->max_pixels, &w, &h, &anim, &fl, r);
        if (!pix) return strstr(r->err, "pixels") ? MIAW_E_LIMIT : MIAW_E_INVAL;
        if (anim) { /* sent as it is: re-encoding animations is not done here */
            free(pix);
            r->animated = 1;
            r->width = w;
            r->height = h;
            if (fl > o->sticker_anim_max) {
                snprintf(r->err, sizeof r->err, "an animated sticker must be at most %llu bytes (this one: %zu)",
                         (unsigned long long)o->sticker_anim_max, fl);
                return MIAW_E_LIMIT;
            }
            return MIAW_OK;
        }
        if (w == 512 && h == 512 && fl <= o->sticker_max) {
            free(pix);
            r->width = r->height = 512;
            return MIAW_OK;
        }
    } else if (r->in_format == MM_PNG) {
        pix = png_read_rgba(path, o->max_pixels, &w, &h, r);
    } else if (r->in_format == MM_JPEG) {
        uint8_t *rgb = jpeg_read(path, 512, o->max_pixels, &fw, &fh, &w, &h, r);
        if (rgb) pix = rgb_to_rgba(rgb, w, h);
        free(rgb);
    } else {
        return fail(r, MIAW_E_INVAL, "not a sticker image: %s content (expected WebP, PNG or JPEG)", mm_format_name(r->in_format));
    }
    if (!pix) return r->err[0] && strstr(r->err, "pixels") ? MIAW_E_LIMIT : r->err[0] ? MIAW_E_INVAL : MIAW_E_NOMEM;
    /* fit into 512x512, centred on a transparent canvas */
    uint32_t sw, sh;
    fit(w, h, 512, &sw, &sh);
    uint8_t *small = scale(pix, w, h, 4, sw, sh, SWS_BICUBIC);
    uint8_t *canvas = small ? calloc((size_t)512 * 512, 4) : NULL;
    free(pix);
    if (!canvas) {
        free(small);
        return fail(r, MIAW_E_NOMEM, "out of memory", NULL);
    }
    uint32_t ox = (512 - sw) / 2, oy = (512 - sh) / 2;
    for (uint32_t y = 0; y < sh; y++) memcpy(canvas + ((size_t)(oy + y) * 512 + ox) * 4, small + (size_t)y * sw * 4, (size_t)sw * 4);
    free(small);
    uint8_t *webp = NULL;
    size_t wl = 0;
    for (int q = 80; q >= 10; q -= 15) {
        WebPFree(webp);
        webp = NULL;
        wl = WebPEncodeRGBA(canvas, 512, 512, 512 * 4, (float)q, &webp);
        if (wl && wl <= o->sticker_max) break;
    }
    free(canvas);
    if (!wl || wl > o->sticker_max) {
        WebPFree(webp);
        return fail(r, MIAW_E_LIMIT, "the sticker stays larger than the static sticker limit after conversion", NULL);
    }
    char *out = NULL;
    FILE *f = tmp_create(o->tmpdir, "webp", &out);
    int rc = f && fwrite(webp, 1, wl, f) == wl ? MIAW_OK : MIAW_E_IO;
    if (f && fclose(f) != 0) rc = MIAW_E_IO;
    WebPFree(webp);
    if (rc != MIAW_OK) {
        if (out) unlink(out);
        free(out);
        return fail(r, rc, "cannot write the sticker", NULL);
    }
    r->out_path = out;
    r->width = r->height = 512;
    return MIAW_OK;
}

/* ------------------------------------------------------------------ audio / video */
void mm_waveform_from(const float *mag, size_t n, uint8_t out[64])
{
    float b[64] = {0}, mx = 0;
    for (size_t k = 0; k < 64; k++) {
        size_t s = n * k / 64, e = n * (k + 1) / 64;
        if (e <= s) e = s + 1;
        double sum = 0;
        size_t c = 0;
        for (size_t i = s; i < e && i < n; i++, c++) sum += mag[i];
        b[k] = c ? (float)(sum / (double)c) : 0;
        if (b[k] > mx) mx = b[k];
    }
    for (size_t k = 0; k < 64; k++) out[k] = mx > 0 ? (uint8_t)lrintf(b[k] / mx * 100.0f) : 0;
}

static float sample_abs(const AVFrame *fr, int i)
{
    int ch = fr->ch_layout.nb_channels > 0 ? fr->ch_layout.nb_channels : 1;
    const uint8_t *d = fr->data[0];
    switch (fr->format) {
    case AV_SAMPLE_FMT_FLTP: return fabsf(((const float *)d)[i]);
    case AV_SAMPLE_FMT_FLT: return fabsf(((const float *)d)[i * ch]);
    case AV_SAMPLE_FMT_DBLP: return (float)fabs(((const double *)d)[i]);
    case AV_SAMPLE_FMT_DBL: return (float)fabs(((const double *)d)[i * ch]);
    case AV_SAMPLE_FMT_S16P: return fabsf(((const int16_t *)d)[i] / 32768.0f);
    case AV_SAMPLE_FMT_S16: return fabsf(((const int16_t *)d)[i * ch] / 32768.0f);
    case AV_SAMPLE_FMT_S32P: return fabsf((float)(((const int32_t *)d)[i] / 2147483648.0));
    case AV_SAMPLE_FMT_S32: return fabsf((float)(((const int32_t *)d)[i * ch] / 2147483648.0));
    case AV_SAMPLE_FMT_U8P: return fabsf((d[i] - 128) / 128.0f);
    case AV_SAMPLE_FMT_U8: return fabsf((d[i * ch] - 128) / 128.0f);
    default: return 0;
    }
}

/* decodes the stream's packets: the first video frame as a thumbnail, or every audio
 * frame's magnitudes (one mean per 20 ms block) for a waveform */
static void av_decode(AVFormatContext *fc, int si, int want_wave, const mm_opts *o, mm_result *r)
{
    AVStream *st = fc->streams[si];
    const AVCodec *dc = avcodec_find_decoder(st->codecpar->codec_id);
    AVCodecContext *cc = dc ? avcodec_alloc_context3(dc) : NULL;
    AVPacket *pk = av_packet_alloc();
    AVFrame *fr = av_frame_alloc();
    float *blocks = NULL;
    size_t nb = 0, cap = 0, in_block = 0, block_len = 0;
    double acc = 0;
    if (!cc || !pk || !fr || avcodec_parameters_to_context(cc, st->codecpar) < 0) goto out;
    cc->thread_count = 1;
    if (avcodec_open2(cc, dc, NULL) < 0) goto out;
    block_len = cc->sample_rate > 0 ? (size_t)cc->sample_rate / 50 : 320;
    int done = 0, packets = 0;
    while (!done && av_read_frame(fc, pk) >= 0) {
        if (pk->stream_index != si) {
            av_packet_unref(pk);
            continue;
        }
        if (!want_wave && ++packets > 300) done = 1; /* no decodable frame early on: no thumbnail */
        int rc = avcodec_send_packet(cc, pk);
        av_packet_unref(pk);
        if (rc < 0 && rc != AVERROR(EAGAIN)) continue;
        while (!done && avcodec_receive_frame(cc, fr) == 0) {
            if (!want_wave) {
                uint32_t tw, th;
                uint32_t px = o->thumb_px ? o->thumb_px : 96;
                fit((uint32_t)fr->width, (uint32_t)fr->height, px, &tw, &th);
                struct SwsContext *s = sws_getContext(fr->width, fr->height, fr->format, (int)tw, (int)th,
                                                      AV_PIX_FMT_RGB24, SWS_AREA, NULL, NULL, NULL);
                uint8_t *rgb = s ? malloc((size_t)tw * th * 3) : NULL;
                if (rgb) {
                    uint8_t *dp[4] = {rgb};
                    int ds[4] = {(int)tw * 3};
                    if (sws_scale(s, (const uint8_t *const *)fr->data, fr->linesize, 0, fr->height, dp, ds) == (int)th)
                        r->thumb = mm_thumb_jpeg(rgb, tw, th, 3, px, &r->thumb_len);
                }
                free(rgb);
                sws_freeContext(s);
                done = 1;
            } else {
                for (int i = 0; i < fr->nb_samples; i++) {
                    acc += sample_abs(fr, i);
                    if (++in_block == block_len) {
                        if (nb == cap) {
                            if (cap >= (1u << 20)) { done = 1; break; } /* > 5 hours: enough */
                            cap = cap ? cap * 2 : 1024;
                            float *nbk = realloc(blocks, cap * sizeof *blocks);
                            if (!nbk) { done = 1; break; }
                            blocks = nbk;
                        }
                        blocks[nb++] = (float)(acc / (double)block_len);
                        acc = 0;
                        in_block = 0;
                    }
                }
            }
            av_frame_unref(fr);
        }
    }
    if (want_wave) {
        if (in_block && nb < cap) blocks[nb++] = (float)(acc / (double)in_block);
        if (nb) {
            mm_waveform_from(blocks, nb, r->waveform);
            r->has_waveform = 1;
        }
    }
out:
    free(blocks);
    av_frame_free(&fr);
    av_packet_free(&pk);
    avcodec_free_context(&cc);
}

static int do_av(const char *path, const mm_opts *o, mm_result *r)
{
    mm_format f = r->in_format;
    int video = o->kind == MM_K_VIDEO;
    if (video && f != MM_MP4 && f != MM_MOV && f != MM_3GP)
        return fail(r, MIAW_E_INVAL, "not a video WhatsApp plays: %s content (expected MP4, QuickTime or 3GPP)", mm_format_name(f));
    if (!video && f != MM_OGG && f != MM_MP3 && f != MM_AAC && f != MM_M4A && f != MM_AMR && f != MM_MP4 && f != MM_3GP)
        return fail(r, MIAW_E_INVAL, "not audio WhatsApp plays: %s content (expected Ogg/Opus, MP3, AAC, M4A or AMR)", mm_format_name(f));
    AVFormatContext *fc = NULL;
    if (avformat_open_input(&fc, path, NULL, NULL) < 0) return fail(r, MIAW_E_INVAL, "the %s file cannot be read", mm_format_name(f));
    if (avformat_find_stream_info(fc, NULL) < 0) {
        avformat_close_input(&fc);
        return fail(r, MIAW_E_INVAL, "the %s file cannot be read", mm_format_name(f));
    }
    int si = av_find_best_stream(fc, video ? AVMEDIA_TYPE_VIDEO : AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    if (si < 0) {
        avformat_close_input(&fc);
        return fail(r, MIAW_E_INVAL, video ? "the file has no video stream" : "the file has no audio stream", NULL);
    }
    AVStream *st = fc->streams[si];
    double secs = 0;
    if (fc->duration != AV_NOPTS_VALUE && fc->duration > 0) secs = (double)fc->duration / AV_TIME_BASE;
    else if (st->duration != AV_NOPTS_VALUE && st->duration > 0) secs = (double)st->duration * av_q2d(st->time_base);
    r->seconds = secs > 0 ? (uint32_t)lround(secs) : 0; /* encoder padding makes 3 s read as 3.02 */
    if (secs > 0 && !r->seconds) r->seconds = 1;
    if (video) {
        r->width = (uint32_t)(st->codecpar->width > 0 ? st->codecpar->width : 0);
        r->height = (uint32_t)(st->codecpar->height > 0 ? st->codecpar->height : 0);
        snprintf(r->mimetype, sizeof r->mimetype, "%s", f == MM_MP4 ? "video/mp4" : mm_format_mime(f));
        snprintf(r->ext, sizeof r->ext, "%s", mm_format_ext(f));
        av_decode(fc, si, 0, o, r);
    } else {
        int opus = st->codecpar->codec_id == AV_CODEC_ID_OPUS;
        if (f == MM_OGG) snprintf(r->mimetype, sizeof r->mimetype, opus ? "audio/ogg; codecs=opus" : "audio/ogg");
        else snprintf(r->mimetype, sizeof r->mimetype, "%s", f == MM_MP4 || f == MM_3GP ? "audio/mp4" : mm_format_mime(f));
        snprintf(r->ext, sizeof r->ext, "%s", f == MM_MP4 || f == MM_3GP ? "m4a" : mm_format_ext(f));
        if (o->ptt) av_decode(fc, si, 1, o, r);
    }
    avformat_close_input(&fc);
    return MIAW_OK;
}

/* ------------------------------------------------------------------ entry */
void mm_init(void) { av_log_set_level(AV_LOG_QUIET); }

const mm_api *mm_api_get(void)
{
    static const mm_api API = {mm_process, mm_result_clear};
    mm_init();
    return &API;
}

int mm_process(const char *path, const mm_opts *oin, mm_result *r)
{
    memset(r, 0, sizeof *r);
    if (!path || !oin) return fail(r, MIAW_E_INVAL, "no file", NULL);
    mm_opts o = *oin;
    if (!o.thumb_px) o.thumb_px = 96;
    if (!o.max_pixels) o.max_pixels = 25000000;
    if (!o.sticker_max) o.sticker_max = 100 * 1024;
    if (!o.sticker_anim_max) o.sticker_anim_max = 500 * 1024;
    r->in_format = mm_sniff_file(path);
    switch (o.kind) {
    case MM_K_IMAGE: return do_image(path, &o, r);
    case MM_K_STICKER: return do_sticker(path, &o, r);
    case MM_K_VIDEO:
    case MM_K_AUDIO: return do_av(path, &o, r);
    case MM_K_DOCUMENT:
    default:
        snprintf(r->mimetype, sizeof r->mimetype, "%s", mm_format_mime(r->in_format));
        snprintf(r->ext, sizeof r->ext, "%s", mm_format_ext(r->in_format));
        return MIAW_OK;
    }
}

void mm_result_clear(mm_result *r)
{
    if (!r) return;
    if (r->out_path) {
        unlink(r->out_path);
        free(r->out_path);
    }
    free(r->thumb);
    memset(r, 0, sizeof *r);
}
