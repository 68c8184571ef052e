/* tests/unit/test_engine_appstate.c - the app-state rows of the engine
 * (core/engine/engine_appstate_store.c) on a real sqlite file: keys (put, overwrite,
 * get, the newest by timestamp, count, malformed rows ignored), a collection's state
 * saved as a diff and loaded back equal (overwrites, removes, many entries), corrupt rows
 * (a hash or a MAC of the wrong size, a negative version) reported instead of trusted,
 * and the purge of an instance leaving others alone. */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/storage.h"
#include "engine/engine_appstate.h"
#include "harness.h"

static char DIR_[64];
static miaw_storage DB;

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void up(void)
{
    char err[256];
    snprintf(DIR_, sizeof DIR_, "/tmp/miaw-as-XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(DIR_));
    CU_ASSERT_EQUAL_FATAL(miaw_storage_open(&DB, DIR_, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(eas_store_init(&DB), 0);
    CU_ASSERT_EQUAL_FATAL(eas_store_init(&DB), 0); /* idempotent */
}

static void down(void)
{
    miaw_storage_close(&DB);
    nftw(DIR_, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void t_keys(void)
{
    up();
    uint8_t k1[32], k2[32], out[32], id[64];
    size_t il = 0;
    memset(k1, 1, 32);
    memset(k2, 2, 32);
    CU_ASSERT_EQUAL(eas_key_latest(&DB, "i1", id, &il, out), MIAW_E_NOTFOUND);
    CU_ASSERT_EQUAL(eas_key_count(&DB, "i1"), 0);
    CU_ASSERT_EQUAL(eas_key_put(&DB, "i1", (const uint8_t *)"\x00\x00\x01", 3, k1, 1000), 0);
    CU_ASSERT_EQUAL(eas_key_put(&DB, "i1", (const uint8_t *)"\x00\x00\x02", 3, k2, 2000), 0);
    CU_ASSERT_EQUAL(eas_key_put(&DB, "i2", (const uint8_t *)"\x00\x00\x09", 3, k1, 9000), 0);
    CU_ASSERT_EQUAL(eas_key_count(&DB, "i1"), 2);
    CU_ASSERT_EQUAL(eas_key_get(&DB, "i1", (const uint8_t *)"\x00\x00\x01", 3, out), 0);
    CU_ASSERT_EQUAL(memcmp(out, k1, 32), 0);
    CU_ASSERT_EQUAL(eas_key_get(&DB, "i1", (const uint8_t *)"\x00\x00\x09", 3, out), MIAW_E_NOTFOUND);
    CU_ASSERT_EQUAL(eas_key_latest(&DB, "i1", id, &il, out), 0);
    CU_ASSERT_EQUAL(il, 3);
    CU_ASSERT_EQUAL(id[2], 2);
    CU_ASSERT_EQUAL(memcmp(out, k2, 32), 0);
    /* the same id again: overwritten, now the newest */
    CU_ASSERT_EQUAL(eas_key_put(&DB, "i1", (const uint8_t *)"\x00\x00\x01", 3, k2, 3000), 0);
    CU_ASSERT_EQUAL(eas_key_count(&DB, "i1"), 2);
    CU_ASSERT_EQUAL(eas_key_latest(&DB, "i1", id, &il, out), 0);
    CU_ASSERT_EQUAL(id[2], 1);
    /* a corrupt key row (short data) is never handed out */
    CU_ASSERT_EQUAL(miaw_storage_exec(&DB, "UPDATE wa_as_keys SET key_data=x'0102', ts=9999 WHERE key_id=x'000002'"), 0);
    CU_ASSERT_EQUAL(eas_key_get(&DB, "i1", (const uint8_t *)"\x00\x00\x02", 3, out), MIAW_E_NOTFOUND);
    CU_ASSERT_EQUAL(eas_key_latest(&DB, "i1", id, &il, out), 0);
    CU_ASSERT_EQUAL(id[2], 1);
    down();
}

static void fill(miaw_as_state *st, int n, int salt)
{
    uint8_t im[32], vm[32];
    for (int i = 0; i < n; i++) {
        memset(im, 0, 32);
        im[0] = (uint8_t)i;
        im[1] = (uint8_t)(i >> 8);
        memset(vm, (i + salt) & 0xff, 32);
        miaw_as_state_mix(st, MIAW_AS_OP_SET, im, vm);
    }
}

static int same(const miaw_as_state *a, const miaw_as_state *b)
{
    return a->version == b->version && a->n == b->n && !memcmp(a->hash, b->hash, MIAW_AS_HASH_LEN) &&
           (!a->n || !memcmp(a->ents, b->ents, a->n * sizeof *a->ents));
}

static void t_state_round_trip(void)
{
    up();
    miaw_as_state empty, s1, s2, got;
    miaw_as_state_init(&empty);
    miaw_as_state_init(&s1);
    miaw_as_state_init(&s2);
    miaw_as_state_init(&got);
    CU_ASSERT_EQUAL(eas_state_load(&DB, "i1", "regular", &got), 0); /* never synced: empty */
    CU_ASSERT_EQUAL(got.version, 0);
    fill(&s1, 500, 0);
    s1.version = 10;
    CU_ASSERT_EQUAL(eas_state_save(&DB, "i1", "regular", &empty, &s1), 0);
    CU_ASSERT_EQUAL(eas_state_load(&DB, "i1", "regular", &got), 0);
    CU_ASSERT(same(&got, &s1));
    /* overwrite some, remove some, add some: saved as a diff from s1 */
    miaw_as_state_copy(&s2, &s1);
    uint8_t im[32] = {0}, vm[32];
    memset(vm, 0xee, 32);
    for (int i = 0; i < 100; i++) {
        im[0] = (uint8_t)i;
        miaw_as_state_mix(&s2, i % 2 ? MIAW_AS_OP_REMOVE : MIAW_AS_OP_SET, im, vm);
    }
    im[0] = 0, im[1] = 9; /* a new index */
    miaw_as_state_mix(&s2, MIAW_AS_OP_SET, im, vm);
    s2.version = 11;
    CU_ASSERT_EQUAL(eas_state_save(&DB, "i1", "regular", &s1, &s2), 0);
    CU_ASSERT_EQUAL(eas_state_load(&DB, "i1", "regular", &got), 0);
    CU_ASSERT(same(&got, &s2));
    CU_ASSERT_EQUAL(got.n, 451);
    /* another collection and instance stay apart */
    CU_ASSERT_EQUAL(eas_state_load(&DB, "i1", "regular_low", &got), 0);
    CU_ASSERT_EQUAL(got.n, 0);
    CU_ASSERT_EQUAL(eas_state_save(&DB, "i2", "regular", &empty, &s1), 0);
    eas_purge(&DB, "i2");
    CU_ASSERT_EQUAL(eas_state_load(&DB, "i2", "regular", &got), 0);
    CU_ASSERT_EQUAL(got.version, 0);
    CU_ASSERT_EQUAL(eas_state_load(&DB, "i1", "regular", &got), 0);
    CU_ASSERT(same(&got, &s2));
    /* back to empty (a full resync starts so) */
    CU_ASSERT_EQUAL(eas_state_save(&DB, "i1", "regular", &s2, &empty), 0);
    CU_ASSERT_EQUAL(eas_state_load(&DB, "i1", "regular", &got), 0);
    CU_ASSERT(same(&got, &empty));
    miaw_as_state_free(&s1);
    miaw_as_state_free(&s2);
    miaw_as_state_free(&got);
    down();
}

static void t_corrupt_rows(void)
{
    static const char *bad[] = {
        "UPDATE wa_as_state SET hash=x'00' WHERE instance='i1'",
        "UPDATE wa_as_state SET version=-4 WHERE instance='i1'",
        "UPDATE wa_as_macs SET value_mac=x'0011' WHERE rowid=(SELECT min(rowid) FROM wa_as_macs)",
        "UPDATE wa_as_macs SET index_mac='text' WHERE rowid=(SELECT min(rowid) FROM wa_as_macs)",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        up();
        miaw_as_state empty, s, got;
        miaw_as_state_init(&empty);
        miaw_as_state_init(&s);
        miaw_as_state_init(&got);
        fill(&s, 20, 3);
        s.version = 4;
        CU_ASSERT_EQUAL(eas_state_save(&DB, "i1", "regular_high", &empty, &s), 0);
        CU_ASSERT_EQUAL(miaw_storage_exec(&DB, bad[i]), 0);
        fill(&got, 2, 9); /* whatever was there is replaced */
        CU_ASSERT_EQUAL(eas_state_load(&DB, "i1", "regular_high", &got), 1);
        CU_ASSERT_EQUAL(got.version, 0);
        CU_ASSERT_EQUAL(got.n, 0);
        miaw_as_state_free(&s);
        miaw_as_state_free(&got);
        down();
    }
}

MIAW_TESTS("engine_appstate", MIAW_T(t_keys), MIAW_T(t_state_round_trip), MIAW_T(t_corrupt_rows))
