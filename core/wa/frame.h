/* core/wa/frame.h - WhatsApp's transport framing under the WebSocket: 3-byte big-endian
 * length + payload, the 4-byte intro "WA 06 03" before the client's first frame (with an
 * optional "ED 00 01" routing prefix before it, accepted server-side), and a reader that
 * reassembles frames split across or packed into chunks, with a maximum frame size.
 * Owns the reader's buffer. */
#ifndef MIAW_WA_FRAME_H
#define MIAW_WA_FRAME_H
#include <stddef.h>
#include <stdint.h>

/* Largest payload a 3-byte length can express. */
#define MIAW_FRAME_MAX ((size_t)0xFFFFFF)
/* Bytes before the payload: intro (4) + length (3). */
#define MIAW_FRAME_HDR_MAX 7

/* Writes the frame header for a payload of len bytes into hdr (intro first if `intro`).
 * Returns the header size (3 or 7), or MIAW_E_LIMIT if len > MIAW_FRAME_MAX. */
int miaw_frame_header(uint8_t hdr[MIAW_FRAME_HDR_MAX], size_t len, int intro);

/* Header + payload in one malloc'd buffer (*out, caller frees). Returns 0 or MIAW_E_*. */
int miaw_frame_encode(const uint8_t *payload, size_t len, int intro, uint8_t **out,
                      size_t *out_len);

typedef struct miaw_frame_reader miaw_frame_reader;

enum {
    MIAW_FRAME_READ_CLIENT = 0, /* reads server frames: no intro */
    MIAW_FRAME_READ_SERVER = 1, /* reads client frames: [ED 00 01 len3 routing] + WA 06 03 first */
};

/* max_frame: largest accepted payload (0 or > MIAW_FRAME_MAX = MIAW_FRAME_MAX). NULL on
 * allocation failure. Free with miaw_frame_reader_free. */
miaw_frame_reader *miaw_frame_reader_new(int mode, size_t max_frame);
void miaw_frame_reader_free(miaw_frame_reader *r);

/* Append received bytes (copied). Returns 0, MIAW_E_INVAL (bad intro or routing prefix),
 * MIAW_E_LIMIT (a frame longer than max_frame, or more than 2 * (max_frame + 3) bytes
 * buffered: drain with _next after every feed) or MIAW_E_NOMEM. Errors are sticky: the
 * connection must be closed. */
int miaw_frame_reader_feed(miaw_frame_reader *r, const uint8_t *data, size_t len);

/* Next complete frame: returns 1 and sets *payload and *len (borrowed, valid until the next
 * feed or next call), 0 if more bytes are needed, or the sticky error. */
int miaw_frame_reader_next(miaw_frame_reader *r, const uint8_t **payload, size_t *len);

/* Between bursts: when nothing is buffered, give back a buffer grown past 4 KiB (an idle
 * connection should not keep its largest burst). Invalidates the last payload. */
void miaw_frame_reader_trim(miaw_frame_reader *r);
/* Routing info from an "ED" prefix (borrowed, NULL if none was sent). */
const uint8_t *miaw_frame_reader_routing(const miaw_frame_reader *r, size_t *len);
#endif
