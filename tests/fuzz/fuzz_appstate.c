/* tests/fuzz/fuzz_appstate.c - libFuzzer target for the app-state decoders of
 * core/wa/appstate.c (network input: what the server sends in w:sync:app:state answers).
 * The first byte picks the decoder: even = a SyncdPatch (on an empty state and on a state
 * that already holds entries), odd = a SyncdSnapshot; the rest is the message. Every key
 * id resolves to one fixed key, so well-formed MACs over garbage are possible only with
 * that key: the invariants are no crash, no leak, and a refused input leaves the state
 * exactly as it was. Owns nothing across runs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "miaw/status.h"
#include "wa/appstate.h"

static int key_fn(void *ud, const uint8_t *id, size_t len, uint8_t kd[32])
{
    (void)ud;
    if (len && id[0] == 0xff) return MIAW_E_NOTFOUND; /* some ids are unknown */
    for (int i = 0; i < 32; i++) kd[i] = (uint8_t)(i * 7 + 3);
    return MIAW_OK;
}

static void on_mut(void *ud, const char *coll, const miaw_as_mutation *m)
{
    (void)coll;
    size_t *n = ud;
    if (!m->index || !m->value) abort();
    (*n)++;
}

static void check(const uint8_t *data, size_t size, int seeded)
{
    miaw_as_state st, before;
    miaw_as_state_init(&st);
    miaw_as_state_init(&before);
    if (seeded) {
        uint8_t im[32], vm[32];
        for (int i = 0; i < 3; i++) {
            memset(im, i, 32);
            memset(vm, 0x40 + i, 32);
            miaw_as_state_mix(&st, MIAW_AS_OP_SET, im, vm);
        }
        st.version = 7;
    }
    miaw_as_state_copy(&before, &st);
    size_t n = 0;
    miaw_as_ctx c = {.name = "regular_high", .key_fn = key_fn, .mut_fn = on_mut, .mut_ud = &n};
    int rc = data[0] & 1 ? miaw_as_decode_snapshot(&c, &st, data + 1, size - 1)
                         : miaw_as_decode_patch(&c, &st, data + 1, size - 1, st.version + 1, NULL, 0);
    if (rc != MIAW_OK) {
        if (n || st.version != before.version || st.n != before.n || memcmp(st.hash, before.hash, sizeof st.hash))
            abort(); /* refused: nothing delivered, nothing changed */
    }
    uint64_t v = 0;
    json_t *ext = NULL;
    if (miaw_as_patch_peek(data + 1, size - 1, &v, &ext) == MIAW_OK) json_decref(ext);
    miaw_as_state_free(&st);
    miaw_as_state_free(&before);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1u << 16)) return 0;
    check(data, size, 0);
    check(data, size, 1);
    return 0;
}
