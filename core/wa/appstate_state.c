/* core/wa/appstate_state.c - the state of one app-state collection: version, LTHash and
 * the sorted index MAC -> value MAC map, with the mix rule every client applies per
 * mutation (see appstate.h). */
#include <stdlib.h>
#include <string.h>

#include "miaw/status.h"
#include "wa/appstate.h"

const char *const miaw_as_collections[5] = {"critical_block", "critical_unblock_low", "regular_high", "regular_low",
                                            "regular"};

int miaw_as_collection_valid(const char *name)
{
    if (!name) return 0;
    for (size_t i = 0; i < 5; i++)
        if (!strcmp(name, miaw_as_collections[i])) return 1;
    return 0;
}

void miaw_as_state_init(miaw_as_state *st)
{
    memset(st, 0, sizeof *st);
}

void miaw_as_state_free(miaw_as_state *st)
{
    if (!st) return;
    free(st->ents);
    miaw_as_state_init(st);
}

int miaw_as_state_copy(miaw_as_state *dst, const miaw_as_state *src)
{
    miaw_as_entry *e = NULL;
    if (src->n) {
        e = malloc(src->n * sizeof *e);
        if (!e) return MIAW_E_NOMEM;
        memcpy(e, src->ents, src->n * sizeof *e);
    }
    free(dst->ents);
    dst->version = src->version;
    memcpy(dst->hash, src->hash, sizeof dst->hash);
    dst->ents = e;
    dst->n = dst->cap = src->n;
    return MIAW_OK;
}

/* position of index_mac, or where it would go (*found 0) */
static size_t find(const miaw_as_state *st, const uint8_t *im, int *found)
{
    size_t lo = 0, hi = st->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(st->ents[mid].index_mac, im, MIAW_AS_MAC_LEN);
        if (!c) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

const uint8_t *miaw_as_state_get(const miaw_as_state *st, const uint8_t index_mac[MIAW_AS_MAC_LEN])
{
    int f;
    size_t i = find(st, index_mac, &f);
    return f ? st->ents[i].value_mac : NULL;
}

int miaw_as_state_put(miaw_as_state *st, const uint8_t index_mac[MIAW_AS_MAC_LEN],
                      const uint8_t value_mac[MIAW_AS_MAC_LEN])
{
    int f;
    size_t i = find(st, index_mac, &f);
    if (!f) {
        if (st->n == st->cap) {
            size_t nc = st->cap ? st->cap * 2 : 16;
            miaw_as_entry *ne = realloc(st->ents, nc * sizeof *ne);
            if (!ne) return MIAW_E_NOMEM;
            st->ents = ne;
            st->cap = nc;
        }
        memmove(st->ents + i + 1, st->ents + i, (st->n - i) * sizeof *st->ents);
        st->n++;
        memcpy(st->ents[i].index_mac, index_mac, MIAW_AS_MAC_LEN);
    }
    memcpy(st->ents[i].value_mac, value_mac, MIAW_AS_MAC_LEN);
    return MIAW_OK;
}

void miaw_as_state_del(miaw_as_state *st, const uint8_t index_mac[MIAW_AS_MAC_LEN])
{
    int f;
    size_t i = find(st, index_mac, &f);
    if (!f) return;
    memmove(st->ents + i, st->ents + i + 1, (st->n - i - 1) * sizeof *st->ents);
    st->n--;
}

int miaw_as_state_mix(miaw_as_state *st, int op, const uint8_t index_mac[MIAW_AS_MAC_LEN],
                      const uint8_t value_mac[MIAW_AS_MAC_LEN])
{
    const uint8_t *prev = miaw_as_state_get(st, index_mac);
    uint8_t old[MIAW_AS_MAC_LEN];
    int rc;
    if (prev) memcpy(old, prev, sizeof old);
    if (op == MIAW_AS_OP_REMOVE) {
        if (!prev) return MIAW_OK; /* unknown index: nothing to take out */
        if ((rc = miaw_as_lthash_sub(st->hash, old)) != MIAW_OK) return rc;
        miaw_as_state_del(st, index_mac);
        return MIAW_OK;
    }
    if (op != MIAW_AS_OP_SET) return MIAW_E_INVAL;
    if ((rc = miaw_as_state_put(st, index_mac, value_mac)) != MIAW_OK) return rc;
    if (prev && (rc = miaw_as_lthash_sub(st->hash, old)) != MIAW_OK) return rc;
    return miaw_as_lthash_add(st->hash, value_mac);
}
