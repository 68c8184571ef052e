/* tests/fuzz/fuzz_frame_reader.c - libFuzzer target for the frame reader in both modes:
 * the input is cut into chunks (sizes taken from the input itself) and fed with a small
 * maximum frame size so the limits are reached; every returned frame must lie inside the
 * data fed so far. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "wa/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    int mode = data[0] & 1;
    size_t max = (size_t)(data[1] % 64) * 16 + 1;
    data += 2, size -= 2;
    miaw_frame_reader *r = miaw_frame_reader_new(mode, max);
    if (!r) return 0;
    size_t off = 0, total_out = 0;
    while (off < size) {
        size_t chunk = 1 + (data[off] % 37);
        if (chunk > size - off) chunk = size - off;
        if (miaw_frame_reader_feed(r, data + off, chunk) != 0) break;
        off += chunk;
        const uint8_t *p;
        size_t n;
        int rc;
        while ((rc = miaw_frame_reader_next(r, &p, &n)) == 1) {
            if (n > max) __builtin_trap();
            volatile uint8_t sink = 0;
            for (size_t i = 0; i < n; i++) sink ^= p[i]; /* ASan checks the bounds */
            (void)sink;
            total_out += n + 3;
            if (total_out > off) __builtin_trap();
        }
        if (rc < 0) break;
    }
    size_t rl;
    const uint8_t *ri = miaw_frame_reader_routing(r, &rl);
    if (ri && rl) {
        volatile uint8_t s = ri[rl - 1];
        (void)s;
    }
    miaw_frame_reader_free(r);
    return 0;
}
