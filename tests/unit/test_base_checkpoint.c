/* tests/unit/test_base_checkpoint.c - WAL checkpoints on a worker thread: the worker (not
 * the committing thread, not SQLite's automatic checkpoint) copies the WAL into the
 * database, the WAL stops growing, every committed row is there for a fresh connection;
 * past the hard limit the committing thread checkpoints itself; the server's storage
 * starts one and stops it on close with the data intact. */
#include "harness.h"

#include "base/checkpoint.h"
#include "base/storage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[64];

static void mkdir_tmp(void)
{
    snprintf(dir, sizeof dir, "/tmp/miaw-ckpt-XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
}

static void rm_tmp(void)
{
    char p[128];
    const char *names[] = {"t.db", "t.db-wal", "t.db-shm", "miaw.db", "miaw.db-wal", "miaw.db-shm"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

static long long fsize(const char *name)
{
    char p[128];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0 ? (long long)st.st_size : -1;
}

static long long count(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    long long v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void nap_ms(int ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* n transactions, each a row of 2 KiB and an update of a hot row (a queue's pattern) */
static void write_rows(sqlite3 *db, int from, int n, int pause_every)
{
    sqlite3_stmt *ins, *upd;
    CU_ASSERT_EQUAL_FATAL(sqlite3_prepare_v2(db, "INSERT INTO t(id, body) VALUES (?1, zeroblob(2048))", -1, &ins, NULL),
                          SQLITE_OK);
    CU_ASSERT_EQUAL_FATAL(sqlite3_prepare_v2(db, "UPDATE hot SET n = n + 1", -1, &upd, NULL), SQLITE_OK);
    for (int i = from; i < from + n; i++) {
        sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
        sqlite3_bind_int(ins, 1, i);
        CU_ASSERT_EQUAL(sqlite3_step(ins), SQLITE_DONE);
        sqlite3_reset(ins);
        CU_ASSERT_EQUAL(sqlite3_step(upd), SQLITE_DONE);
        sqlite3_reset(upd);
        CU_ASSERT_EQUAL(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
        if (pause_every && i % pause_every == 0) nap_ms(1);
    }
    sqlite3_finalize(ins);
    sqlite3_finalize(upd);
}

static sqlite3 *open_db(void)
{
    char p[128];
    sqlite3 *db;
    snprintf(p, sizeof p, "%s/t.db", dir);
    CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(p, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL),
                          SQLITE_OK);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                     "CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, body BLOB);"
                     "CREATE TABLE IF NOT EXISTS hot(n INTEGER); INSERT INTO hot VALUES (0);",
                 NULL, NULL, NULL);
    return db;
}

static void test_worker_keeps_wal_small(void)
{
    mkdir_tmp();
    sqlite3 *db = open_db();
    char p[128];
    snprintf(p, sizeof p, "%s/t.db", dir);
    miaw_checkpointer *c = miaw_checkpointer_start(db, p, 50);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    /* 3000 commits of about 2 pages each: 6000 frames if nothing checkpointed; SQLite's
     * own automatic checkpoint (1000 pages) would run in the committing thread */
    write_rows(db, 1, 3000, 10);
    miaw_checkpoint_stats st;
    for (int i = 0; i < 200; i++) { /* the last wake-up may still be running */
        miaw_checkpointer_stats(c, &st);
        if (st.runs > 0 && st.copied > 0) break;
        nap_ms(10);
    }
    miaw_checkpointer_stats(c, &st);
    fprintf(stderr, "  (worker passes %llu, inline %llu, WAL %lld bytes)\n", (unsigned long long)st.runs,
            (unsigned long long)st.inline_runs, fsize("t.db-wal"));
    CU_ASSERT(st.runs > 0);
    CU_ASSERT(st.copied > 0);
    /* the WAL restarts after complete checkpoints: far below 3000 commits' worth (24 MiB) */
    CU_ASSERT(fsize("t.db-wal") < 50LL * 4 * 4200 + 20 * 4200); /* the hard limit, a commit or two over */
    /* a fresh connection sees every row */
    sqlite3 *r;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(p, &r, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    CU_ASSERT_EQUAL(count(r, "SELECT COUNT(*) FROM t"), 3000);
    CU_ASSERT_EQUAL(count(r, "SELECT n FROM hot"), 3000);
    sqlite3_close(r);
    miaw_checkpointer_stop(c);
    /* the connection has SQLite's automatic checkpoint back and still works */
    write_rows(db, 3001, 10, 0);
    CU_ASSERT_EQUAL(count(db, "SELECT COUNT(*) FROM t"), 3010);
    sqlite3_close(db);
    rm_tmp();
}

/* a reader that pins a snapshot keeps the worker from copying the frames after it: the
 * WAL passes the hard limit and the committing thread checkpoints (what it can) itself */
static void test_hard_limit_inline(void)
{
    mkdir_tmp();
    sqlite3 *db = open_db();
    char p[128];
    snprintf(p, sizeof p, "%s/t.db", dir);
    miaw_checkpointer *c = miaw_checkpointer_start(db, p, 20);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    sqlite3 *r;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(p, &r, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_exec(r, "BEGIN", NULL, NULL, NULL);
    CU_ASSERT_EQUAL(count(r, "SELECT COUNT(*) FROM t"), 0); /* the snapshot is pinned now */
    write_rows(db, 1, 200, 0);                              /* ~400 frames > 4 x 20 */
    miaw_checkpoint_stats st;
    miaw_checkpointer_stats(c, &st);
    CU_ASSERT(st.inline_runs > 0);
    CU_ASSERT(st.last_wal >= 80);
    sqlite3_exec(r, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(r);
    miaw_checkpointer_stop(c);
    CU_ASSERT_EQUAL(count(db, "SELECT COUNT(*) FROM t"), 200);
    sqlite3_close(db);
    rm_tmp();
}

/* the server's storage runs one; closed and opened again, the data is there */
static void test_storage_has_one(void)
{
    mkdir_tmp();
    char err[200];
    miaw_storage s;
    CU_ASSERT_EQUAL_FATAL(miaw_storage_open(&s, dir, err, sizeof err), 0);
    CU_ASSERT_PTR_NOT_NULL(s.ckpt);
    CU_ASSERT_EQUAL(miaw_storage_exec(&s, "INSERT INTO instances(id, created_at) VALUES ('a', 1)"), 0);
    miaw_storage_close(&s);
    CU_ASSERT_PTR_NULL(s.ckpt);
    CU_ASSERT_EQUAL_FATAL(miaw_storage_open(&s, dir, err, sizeof err), 0);
    CU_ASSERT_EQUAL(count(s.db, "SELECT COUNT(*) FROM instances WHERE id='a'"), 1);
    miaw_storage_close(&s);
    rm_tmp();
}

MIAW_TESTS("base_checkpoint", MIAW_T(test_worker_keeps_wal_small), MIAW_T(test_hard_limit_inline),
           MIAW_T(test_storage_has_one))
