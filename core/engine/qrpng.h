/* core/engine/qrpng.h - QR code images: libqrencode for the symbol, a small PNG writer (zlib
 * for IDAT and CRCs) for the picture. Owns nothing. */
#ifndef MIAW_QRPNG_H
#define MIAW_QRPNG_H
#include <stddef.h>
#include <stdint.h>

/* PNG (1-bit greyscale, `scale` pixels per module (1..32), 4-module quiet zone) of the
 * QR code for text (byte mode, error correction level L). *out is malloc'd for the
 * caller. 0, MIAW_E_INVAL (empty/too long text, bad scale) or MIAW_E_NOMEM. */
int miaw_qr_png(const char *text, int scale, uint8_t **out, size_t *out_len);
#endif
