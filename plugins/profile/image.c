/* plugins/profile/image.c - profile pictures from a user's JPEG or PNG: decoded (libjpeg,
 * using its DCT scaling so a large photo is decoded near the size needed; libpng's simplified
 * API, alpha composed onto white), the centred square cropped, scaled by area averaging to
 * each size asked (WhatsApp's 640 full picture and 96 preview) and encoded as baseline
 * JPEG. Pure and thread-safe: runs on the plugin's worker thread; owns nothing past a call. */
#include "pics.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* jpeglib.h needs size_t and FILE first */
#include <jpeglib.h>
#include <jerror.h>

typedef struct rgb {
    uint8_t *px; /* w*h*3 */
    unsigned w, h;
} rgb;

struct jerr {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
};

static void jerr_exit(j_common_ptr c)
{
    struct jerr *e = (struct jerr *)c->err;
    (*c->err->format_message)(c, e->msg);
    longjmp(e->jb, 1);
}

/* warnings are ignored, except a file that ends early (libjpeg would fill it with grey) */
static void jerr_warn(j_common_ptr c, int level)
{
    if (level < 0 && c->err->msg_code == JWRN_JPEG_EOF) jerr_exit(c);
}

static int decode_jpeg(const uint8_t *in, size_t len, unsigned want, rgb *out, char *err, size_t n)
{
    struct jpeg_decompress_struct d;
    struct jerr e;
    volatile uint8_t *px = NULL;
    d.err = jpeg_std_error(&e.pub);
    e.pub.error_exit = jerr_exit;
    e.pub.emit_message = jerr_warn;
    if (setjmp(e.jb)) {
        snprintf(err, n, "not a readable JPEG (%s)", e.msg);
        jpeg_destroy_decompress(&d);
        free((void *)px);
        return -1;
    }
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, (unsigned char *)in, (unsigned long)len);
    jpeg_read_header(&d, TRUE);
    if ((uint64_t)d.image_width * d.image_height > PF_MAX_PIXELS) {
        snprintf(err, n, "the image has more than %u pixels", PF_MAX_PIXELS);
        jpeg_destroy_decompress(&d);
        return -1;
    }
    unsigned side = d.image_width < d.image_height ? d.image_width : d.image_height;
    d.scale_num = 1;
    d.scale_denom = 1;
    while (d.scale_denom < 8 && side / (d.scale_denom * 2) >= want) d.scale_denom *= 2; /* decode near `want` */
    d.out_color_space = JCS_RGB;
    jpeg_start_decompress(&d);
    if (d.output_components != 3) {
        snprintf(err, n, "unsupported JPEG colour space");
        jpeg_destroy_decompress(&d);
        return -1;
    }
    size_t stride = (size_t)d.output_width * 3;
    px = malloc(stride * d.output_height);
    if (!px) {
        snprintf(err, n, "out of memory");
        jpeg_destroy_decompress(&d);
        return -1;
    }
    while (d.output_scanline < d.output_height) {
        JSAMPROW row = (JSAMPROW)(px + stride * d.output_scanline);
        jpeg_read_scanlines(&d, &row, 1);
    }
    out->w = d.output_width;
    out->h = d.output_height;
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    out->px = (uint8_t *)px;
    return 0;
}

static int decode_png(const uint8_t *in, size_t len, rgb *out, char *err, size_t n)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&im, in, len)) {
        snprintf(err, n, "not a readable PNG (%s)", im.message);
        return -1;
    }
    if ((uint64_t)im.width * im.height > PF_MAX_PIXELS) {
        snprintf(err, n, "the image has more than %u pixels", PF_MAX_PIXELS);
        png_image_free(&im);
        return -1;
    }
    im.format = PNG_FORMAT_RGB;
    out->px = malloc(PNG_IMAGE_SIZE(im));
    if (!out->px) {
        png_image_free(&im);
        snprintf(err, n, "out of memory");
        return -1;
    }
    png_color white = {255, 255, 255};
    if (!png_image_finish_read(&im, &white, out->px, 0, NULL)) {
        snprintf(err, n, "not a readable PNG (%s)", im.message);
        free(out->px);
        out->px = NULL;
        return -1;
    }
    out->w = im.width;
    out->h = im.height;
    return 0;
}

/* the centred square of src (side s at x0, y0) scaled to size x size by area averaging */
static uint8_t *square(const rgb *src, unsigned size)
{
    unsigned s = src->w < src->h ? src->w : src->h;
    unsigned x0 = (src->w - s) / 2, y0 = (src->h - s) / 2;
    uint8_t *o = malloc((size_t)size * size * 3);
    if (!o) return NULL;
    for (unsigned y = 0; y < size; y++) {
        unsigned sy0 = y0 + (unsigned)((uint64_t)y * s / size), sy1 = y0 + (unsigned)((uint64_t)(y + 1) * s / size);
        if (sy1 <= sy0) sy1 = sy0 + 1;
        for (unsigned x = 0; x < size; x++) {
            unsigned sx0 = x0 + (unsigned)((uint64_t)x * s / size), sx1 = x0 + (unsigned)((uint64_t)(x + 1) * s / size);
            if (sx1 <= sx0) sx1 = sx0 + 1;
            uint64_t acc[3] = {0, 0, 0}, cnt = 0;
            for (unsigned yy = sy0; yy < sy1; yy++) {
                const uint8_t *p = src->px + ((size_t)yy * src->w + sx0) * 3;
                for (unsigned xx = sx0; xx < sx1; xx++, p += 3, cnt++) {
                    acc[0] += p[0];
                    acc[1] += p[1];
                    acc[2] += p[2];
                }
            }
            uint8_t *q = o + ((size_t)y * size + x) * 3;
            for (int c = 0; c < 3; c++) q[c] = (uint8_t)((acc[c] + cnt / 2) / cnt);
        }
    }
    return o;
}

static int encode_jpeg(const uint8_t *px, unsigned size, int quality, uint8_t **out, size_t *out_len, char *err,
                       size_t n)
{
    struct jpeg_compress_struct c;
    struct jerr e;
    unsigned char *volatile buf = NULL;
    unsigned long blen = 0;
    c.err = jpeg_std_error(&e.pub);
    e.pub.error_exit = jerr_exit;
    e.pub.emit_message = jerr_warn;
    if (setjmp(e.jb)) {
        snprintf(err, n, "JPEG encoding failed (%s)", e.msg);
        jpeg_destroy_compress(&c);
        free(buf);
        return -1;
    }
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, (unsigned char **)&buf, &blen);
    c.image_width = size;
    c.image_height = size;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < size) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)c.next_scanline * size * 3);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    *out = buf;
    *out_len = blen;
    return 0;
}

int pf_picture_make(const uint8_t *in, size_t len, pf_picture *out, char *err, size_t n)
{
    rgb src = {0};
    memset(out, 0, sizeof *out);
    int rc;
    if (len >= 3 && in[0] == 0xff && in[1] == 0xd8 && in[2] == 0xff) rc = decode_jpeg(in, len, PF_FULL, &src, err, n);
    else if (len >= 8 && !memcmp(in, "\x89PNG\r\n\x1a\n", 8)) rc = decode_png(in, len, &src, err, n);
    else {
        snprintf(err, n, "not a JPEG or PNG image");
        return -1;
    }
    if (rc) return -1;
    out->src_w = src.w;
    out->src_h = src.h;
    if (src.w < PF_MIN_SIDE || src.h < PF_MIN_SIDE) {
        snprintf(err, n, "the image is %ux%u: at least %ux%u is needed", src.w, src.h, PF_MIN_SIDE, PF_MIN_SIDE);
        free(src.px);
        return -1;
    }
    uint8_t *full = square(&src, PF_FULL), *prev = full ? square(&src, PF_PREVIEW) : NULL;
    free(src.px);
    rc = full && prev ? 0 : -1;
    if (rc) snprintf(err, n, "out of memory");
    if (!rc) rc = encode_jpeg(full, PF_FULL, 85, &out->image, &out->image_len, err, n);
    if (!rc) rc = encode_jpeg(prev, PF_PREVIEW, 80, &out->preview, &out->preview_len, err, n);
    free(full);
    free(prev);
    if (rc) pf_picture_free(out);
    return rc;
}

void pf_picture_free(pf_picture *p)
{
    free(p->image);
    free(p->preview);
    p->image = p->preview = NULL;
    p->image_len = p->preview_len = 0;
}
