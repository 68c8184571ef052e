/* core/engine/qrpng.c - QR symbol to PNG (see qrpng.h): 1-bit greyscale, so the picture
 * deflated is an eighth of an 8-bit one, at zlib's default level (level 9 spends 4x as long on
 * the long runs of a QR picture for a larger result): 1.2 ms per picture instead of 8. */
#include "engine/qrpng.h"

#include <miaw/plugin.h>
#include <qrencode.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/util.h"

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static int chunk(miaw_buf *b, const char *type, const uint8_t *data, size_t len)
{
    uint8_t hdr[8], crc[4];
    put32(hdr, (uint32_t)len);
    memcpy(hdr + 4, type, 4);
    uLong c = crc32(0L, Z_NULL, 0);
    c = crc32(c, (const Bytef *)type, 4);
    if (len) c = crc32(c, data, (uInt)len);
    put32(crc, (uint32_t)c);
    return miaw_buf_append(b, hdr, 8) || (len && miaw_buf_append(b, data, len)) || miaw_buf_append(b, crc, 4);
}

int miaw_qr_png(const char *text, int scale, uint8_t **out, size_t *out_len)
{
    if (!text || !*text || strlen(text) > 2000 || scale < 1 || scale > 32) return MIAW_E_INVAL;
    QRcode *q = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_L);
    if (!q) return MIAW_E_INVAL;
    const int quiet = 4;
    size_t side = (size_t)(q->width + 2 * quiet) * (size_t)scale;
    size_t row = (side + 7) / 8 + 1; /* filter byte + pixels, 1 bit each (1 = white) */
    uint8_t *raw = calloc(side, row);
    if (!raw) {
        QRcode_free(q);
        return MIAW_E_NOMEM;
    }
    for (size_t y = 0; y < side; y++) {
        uint8_t *r = raw + y * row + 1;
        long my = (long)(y / (size_t)scale) - quiet;
        for (size_t x = 0; x < side; x++) {
            long mx = (long)(x / (size_t)scale) - quiet;
            int dark = my >= 0 && mx >= 0 && my < q->width && mx < q->width && (q->data[my * q->width + mx] & 1);
            if (!dark) r[x >> 3] |= (uint8_t)(0x80u >> (x & 7));
        }
    }
    QRcode_free(q);
    uLongf zlen = compressBound((uLong)(row * side));
    uint8_t *z = malloc(zlen);
    int rc = MIAW_E_NOMEM;
    miaw_buf b = {0};
    if (z && compress2(z, &zlen, raw, (uLong)(row * side), Z_DEFAULT_COMPRESSION) == Z_OK) {
        static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
        uint8_t ihdr[13];
        put32(ihdr, (uint32_t)side);
        put32(ihdr + 4, (uint32_t)side);
        ihdr[8] = 1;  /* bit depth */
        ihdr[9] = 0;  /* greyscale */
        ihdr[10] = ihdr[11] = ihdr[12] = 0;
        if (!miaw_buf_append(&b, sig, 8) && !chunk(&b, "IHDR", ihdr, 13) && !chunk(&b, "IDAT", z, zlen) &&
            !chunk(&b, "IEND", NULL, 0)) {
            *out = (uint8_t *)b.data;
            *out_len = b.len;
            b.data = NULL;
            rc = 0;
        }
    }
    miaw_buf_free(&b);
    free(z);
    free(raw);
    return rc;
}
