/* tests/unit/test_sim_index.c - miaw-sim's account indexes and watcher sets (sim/index.c):
 * 20,000 accounts found by phone and by LID across table growth, a LID changed after
 * indexing (as a loaded state file does), misses, and watcher sets that keep each account
 * once. index.c is pure, so it is compiled into this test directly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "sim/index.c"

#define N 20000

static miaw_sim sim;
static miaw_sim_account *acc[N];

static void add_all(void)
{
    memset(&sim, 0, sizeof sim);
    for (int i = 0; i < N; i++) {
        acc[i] = calloc(1, sizeof *acc[i]);
        CU_ASSERT_FATAL(acc[i] != NULL);
        snprintf(acc[i]->phone, sizeof acc[i]->phone, "1550%06d", i);
        snprintf(acc[i]->lid, sizeof acc[i]->lid, "9%014d", i * 7919);
        CU_ASSERT_FATAL(miaw_sim_index_add(&sim, acc[i]) == 0);
        sim.naccounts++; /* as state.c counts after indexing */
    }
}

static void free_all(void)
{
    for (int i = 0; i < N; i++) {
        miaw_sim_watchers_free(acc[i]);
        free(acc[i]);
    }
    miaw_sim_index_free(&sim);
    CU_ASSERT_EQUAL(sim.index_cap, 0);
}

static void test_find(void)
{
    CU_ASSERT_PTR_NULL(miaw_sim_index_find(&sim, 0, "15550000001")); /* empty index */
    add_all();
    CU_ASSERT(sim.index_cap >= N); /* grown: at most one account per bucket on average */
    char key[32];
    int bad = 0;
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "1550%06d", i);
        bad += miaw_sim_index_find(&sim, 0, key) != acc[i];
        snprintf(key, sizeof key, "9%014d", i * 7919);
        bad += miaw_sim_index_find(&sim, 1, key) != acc[i];
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_PTR_NULL(miaw_sim_index_find(&sim, 0, "1550020000"));
    CU_ASSERT_PTR_NULL(miaw_sim_index_find(&sim, 0, "155000000"));  /* a prefix */
    CU_ASSERT_PTR_NULL(miaw_sim_index_find(&sim, 1, "15500000042")); /* a phone is not a LID */
    CU_ASSERT_PTR_NULL(miaw_sim_index_find(&sim, 0, NULL));
    /* a LID changed after indexing: found under the new one only, the others untouched */
    miaw_sim_index_set_lid(&sim, acc[42], "123456789012345");
    CU_ASSERT_PTR_EQUAL(miaw_sim_index_find(&sim, 1, "123456789012345"), acc[42]);
    snprintf(key, sizeof key, "9%014d", 42 * 7919);
    CU_ASSERT_PTR_NULL(miaw_sim_index_find(&sim, 1, key));
    CU_ASSERT_STRING_EQUAL(acc[42]->lid, "123456789012345");
    snprintf(key, sizeof key, "9%014d", 43 * 7919);
    CU_ASSERT_PTR_EQUAL(miaw_sim_index_find(&sim, 1, key), acc[43]);
    CU_ASSERT_PTR_EQUAL(miaw_sim_index_find(&sim, 0, "1550000042"), acc[42]);
    free_all();
}

static void count(miaw_sim_account *w, void *ud)
{
    int *seen = ud;
    for (int i = 0; i < N; i++)
        if (acc[i] == w) seen[i]++;
}

static void test_watchers(void)
{
    add_all();
    miaw_sim_account *a = acc[0];
    CU_ASSERT_EQUAL(miaw_sim_watch(a, NULL), 0);
    CU_ASSERT_EQUAL(a->nwatchers, 0);
    for (int round = 0; round < 3; round++) /* each watcher three times */
        for (int i = 1; i <= 1000; i++) CU_ASSERT_EQUAL(miaw_sim_watch(a, acc[i * 3]), 0);
    CU_ASSERT_EQUAL(a->nwatchers, 1000);
    CU_ASSERT(a->watchers_cap >= 2000);
    int *seen = calloc(N, sizeof *seen);
    CU_ASSERT_FATAL(seen != NULL);
    miaw_sim_watchers_each(a, count, seen);
    int once = 0, other = 0;
    for (int i = 0; i < N; i++) {
        if (i && i % 3 == 0 && i <= 3000) once += seen[i] == 1;
        else other += seen[i] != 0;
    }
    CU_ASSERT_EQUAL(once, 1000);
    CU_ASSERT_EQUAL(other, 0);
    memset(seen, 0, N * sizeof *seen);
    miaw_sim_watchers_each(acc[1], count, seen); /* nobody watches acc[1] */
    int any = 0;
    for (int i = 0; i < N; i++) any += seen[i];
    CU_ASSERT_EQUAL(any, 0);
    free(seen);
    free_all();
}

MIAW_TESTS("sim_index", MIAW_T(test_find), MIAW_T(test_watchers))
