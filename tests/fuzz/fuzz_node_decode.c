/* tests/fuzz/fuzz_node_decode.c - libFuzzer target for the binary node decoder: any input
 * must decode or fail cleanly; what decodes must re-encode, decode again to an equal tree,
 * print as text, and clone equal. Owns nothing across runs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wa/node.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    miaw_node *n = NULL;
    if (miaw_node_decode(data, size, &n) != 0) return 0;
    uint8_t *enc = NULL;
    size_t elen = 0;
    if (miaw_node_encode(n, &enc, &elen) == 0) {
        miaw_node *again = NULL;
        /* the re-encoding (canonical form) decodes again and is a fixed point */
        if (miaw_node_decode(enc, elen, &again) == 0) {
            uint8_t *enc2 = NULL;
            size_t elen2 = 0;
            if (miaw_node_encode(again, &enc2, &elen2) != 0) abort();
            if (elen2 != elen || memcmp(enc, enc2, elen) != 0) abort();
            free(enc2);
            miaw_node_free(again);
        }
        free(enc);
    }
    char *t = miaw_node_to_text(n, 32, 1);
    free(t);
    miaw_node *c = miaw_node_clone(n);
    if (!c || !miaw_node_equal(n, c)) abort();
    miaw_node_free(c);
    miaw_node_free(n);
    return 0;
}
