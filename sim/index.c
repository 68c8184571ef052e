/* sim/index.c - the simulator's account indexes (phone number and LID to account, chained
 * hash tables doubled as accounts are added) and per-account watcher sets (open
 * addressing on the account pointer), so that resolving a JID, creating an account and
 * announcing a device-list change cost the same with 10 or 20,000 accounts. */
#include "index.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "miaw/plugin.h"

static size_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    return (size_t)(h ^ (h >> 29));
}

static const char *key_of(const miaw_sim_account *a, int which) { return which ? a->lid : a->phone; }

static void link_in(miaw_sim *sim, miaw_sim_account *a, int which)
{
    size_t b = hash_str(key_of(a, which)) & (sim->index_cap - 1);
    a->hnext[which] = sim->index[which][b];
    sim->index[which][b] = a;
}

static void unlink_from(miaw_sim *sim, miaw_sim_account *a, int which)
{
    size_t b = hash_str(key_of(a, which)) & (sim->index_cap - 1);
    for (miaw_sim_account **p = &sim->index[which][b]; *p; p = &(*p)->hnext[which])
        if (*p == a) {
            *p = a->hnext[which];
            return;
        }
}

/* doubles the buckets (both tables) and re-links every indexed account */
static int grow(miaw_sim *sim)
{
    size_t cap = sim->index_cap ? sim->index_cap * 2 : 256;
    miaw_sim_account **t0 = calloc(cap, sizeof *t0), **t1 = calloc(cap, sizeof *t1);
    if (!t0 || !t1) {
        free(t0);
        free(t1);
        return MIAW_E_NOMEM;
    }
    miaw_sim_account **old[2] = {sim->index[0], sim->index[1]};
    size_t ocap = sim->index_cap;
    sim->index[0] = t0;
    sim->index[1] = t1;
    sim->index_cap = cap;
    for (int w = 0; w < 2; w++) {
        for (size_t i = 0; i < ocap; i++) {
            for (miaw_sim_account *a = old[w][i], *n; a; a = n) {
                n = a->hnext[w];
                link_in(sim, a, w);
            }
        }
        free(old[w]);
    }
    return 0;
}

int miaw_sim_index_add(miaw_sim *sim, miaw_sim_account *a)
{
    if (sim->naccounts + 1 > sim->index_cap && grow(sim)) return MIAW_E_NOMEM; /* load factor <= 1 */
    link_in(sim, a, 0);
    link_in(sim, a, 1);
    return 0;
}

void miaw_sim_index_set_lid(miaw_sim *sim, miaw_sim_account *a, const char *lid)
{
    if (sim->index_cap) unlink_from(sim, a, 1);
    snprintf(a->lid, sizeof a->lid, "%s", lid);
    if (sim->index_cap) link_in(sim, a, 1);
}

miaw_sim_account *miaw_sim_index_find(const miaw_sim *sim, int which, const char *key)
{
    if (!key || !sim->index_cap) return NULL;
    for (miaw_sim_account *a = sim->index[which][hash_str(key) & (sim->index_cap - 1)]; a; a = a->hnext[which])
        if (!strcmp(key_of(a, which), key)) return a;
    return NULL;
}

void miaw_sim_index_free(miaw_sim *sim)
{
    free(sim->index[0]);
    free(sim->index[1]);
    sim->index[0] = sim->index[1] = NULL;
    sim->index_cap = 0;
}

/* ------------------------------------------------------------------ watchers */

static size_t slot_of(const miaw_sim_account *w, size_t cap)
{
    uintptr_t v = (uintptr_t)w;
    v ^= v >> 17;
    v *= (uintptr_t)0x9E3779B97F4A7C15ULL;
    return (size_t)(v >> 7) & (cap - 1);
}

static void put(miaw_sim_account **set, size_t cap, miaw_sim_account *w)
{
    size_t i = slot_of(w, cap);
    while (set[i] && set[i] != w) i = (i + 1) & (cap - 1);
    set[i] = w;
}

int miaw_sim_watch(miaw_sim_account *a, miaw_sim_account *w)
{
    if (!w) return 0;
    if (a->watchers_cap) {
        size_t i = slot_of(w, a->watchers_cap);
        for (; a->watchers[i]; i = (i + 1) & (a->watchers_cap - 1))
            if (a->watchers[i] == w) return 0;
    }
    if ((a->nwatchers + 1) * 2 > a->watchers_cap) { /* at most half full */
        size_t cap = a->watchers_cap ? a->watchers_cap * 2 : 8;
        miaw_sim_account **set = calloc(cap, sizeof *set);
        if (!set) return MIAW_E_NOMEM;
        for (size_t i = 0; i < a->watchers_cap; i++)
            if (a->watchers[i]) put(set, cap, a->watchers[i]);
        free(a->watchers);
        a->watchers = set;
        a->watchers_cap = cap;
    }
    put(a->watchers, a->watchers_cap, w);
    a->nwatchers++;
    return 0;
}

void miaw_sim_watchers_each(miaw_sim_account *a, void (*fn)(miaw_sim_account *w, void *ud), void *ud)
{
    for (size_t i = 0; i < a->watchers_cap; i++)
        if (a->watchers[i]) fn(a->watchers[i], ud);
}

void miaw_sim_watchers_free(miaw_sim_account *a)
{
    free(a->watchers);
    a->watchers = NULL;
    a->nwatchers = a->watchers_cap = 0;
}
