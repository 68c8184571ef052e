/* tests/unit/test_base_checkpoint.c - WAL checkpoints on a worker thread: the worker (not
 * the committing thread, not SQLite's automatic checkpoint) copies the WAL into the
 * database, the WAL stops growing, every committed row is there for a fresh connection;
 * past the hard limit the committing thread checkpoints itself; a TRUNCATE asked for
 * while the worker is in a pass waits for that pass and leaves a WAL of 0 bytes (a plain
 * one gets BUSY); the server's storage starts one and stops it on close with the data
 * intact. */
#include "harness.h"

#include "base/checkpoint.h"
#include "base/storage.h"

#include <pthread.h>
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

/* ------------------------------------------------------------ a gate in the file layer
 * A VFS over the default one that, when armed, holds the first write to a main database
 * file made by another thread than the test's (the checkpoint worker copying WAL frames
 * into the database) until the test opens the gate: the worker is then inside a pass,
 * holding the checkpoint lock, for as long as the test wants. */
struct gfile { sqlite3_file base; sqlite3_file *real; int main_db; };
static sqlite3_vfs *g_real, g_vfs;
static sqlite3_io_methods g_io;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static pthread_t g_test;
static int g_armed, g_held, g_opened; /* g_held: a write waits at the gate; g_opened: it was let go */

#define REAL(f) (((struct gfile *)(f))->real)
static int g_close(sqlite3_file *f) { return REAL(f)->pMethods->xClose(REAL(f)); }
static int g_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o) { return REAL(f)->pMethods->xRead(REAL(f), b, n, o); }
static int g_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o)
{
    if (((struct gfile *)f)->main_db && !pthread_equal(pthread_self(), g_test)) {
        pthread_mutex_lock(&g_mu);
        if (g_armed) {
            g_held = 1;
            pthread_cond_broadcast(&g_cv);
            while (g_armed) pthread_cond_wait(&g_cv, &g_mu);
        }
        pthread_mutex_unlock(&g_mu);
    }
    return REAL(f)->pMethods->xWrite(REAL(f), b, n, o);
}
static int g_truncate(sqlite3_file *f, sqlite3_int64 n) { return REAL(f)->pMethods->xTruncate(REAL(f), n); }
static int g_sync(sqlite3_file *f, int fl) { return REAL(f)->pMethods->xSync(REAL(f), fl); }
static int g_size(sqlite3_file *f, sqlite3_int64 *n) { return REAL(f)->pMethods->xFileSize(REAL(f), n); }
static int g_lock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xLock(REAL(f), l); }
static int g_unlock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xUnlock(REAL(f), l); }
static int g_reserved(sqlite3_file *f, int *r) { return REAL(f)->pMethods->xCheckReservedLock(REAL(f), r); }
static int g_fcntl(sqlite3_file *f, int op, void *a) { return REAL(f)->pMethods->xFileControl(REAL(f), op, a); }
static int g_sector(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int g_dev(sqlite3_file *f) { return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }
static int g_shmmap(sqlite3_file *f, int pg, int sz, int ext, void volatile **pp)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, ext, pp);
}
static int g_shmlock(sqlite3_file *f, int off, int n, int fl) { return REAL(f)->pMethods->xShmLock(REAL(f), off, n, fl); }
static void g_shmbarrier(sqlite3_file *f) { REAL(f)->pMethods->xShmBarrier(REAL(f)); }
static int g_shmunmap(sqlite3_file *f, int del) { return REAL(f)->pMethods->xShmUnmap(REAL(f), del); }
static int g_fetch(sqlite3_file *f, sqlite3_int64 o, int n, void **pp) { return REAL(f)->pMethods->xFetch(REAL(f), o, n, pp); }
static int g_unfetch(sqlite3_file *f, sqlite3_int64 o, void *p) { return REAL(f)->pMethods->xUnfetch(REAL(f), o, p); }

static int g_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out)
{
    (void)v;
    struct gfile *g = (struct gfile *)f;
    g->real = (sqlite3_file *)(g + 1);
    g->main_db = (flags & SQLITE_OPEN_MAIN_DB) != 0;
    int rc = g_real->xOpen(g_real, name, g->real, flags, out);
    f->pMethods = rc == SQLITE_OK && g->real->pMethods ? &g_io : NULL;
    if (f->pMethods) g_io.iVersion = g->real->pMethods->iVersion;
    return rc;
}

/* the gate becomes the default VFS (the worker opens its connection with the default) */
static void gate_install(void)
{
    g_real = sqlite3_vfs_find(NULL);
    g_vfs = *g_real;
    g_vfs.zName = "miaw-test-gate";
    g_vfs.pNext = NULL;
    g_vfs.szOsFile = (int)sizeof(struct gfile) + g_real->szOsFile;
    g_vfs.xOpen = g_open;
    g_io = (sqlite3_io_methods){3, g_close, g_read, g_write, g_truncate, g_sync, g_size, g_lock, g_unlock,
                                g_reserved, g_fcntl, g_sector, g_dev, g_shmmap, g_shmlock, g_shmbarrier,
                                g_shmunmap, g_fetch, g_unfetch};
    g_test = pthread_self();
    g_armed = g_held = g_opened = 0;
    CU_ASSERT_EQUAL_FATAL(sqlite3_vfs_register(&g_vfs, 1), SQLITE_OK);
}

static int gate_wait_held(int ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&g_mu);
    while (!g_held && pthread_cond_timedwait(&g_cv, &g_mu, &until) == 0) {}
    int held = g_held;
    pthread_mutex_unlock(&g_mu);
    return held;
}

static void gate_open(void)
{
    pthread_mutex_lock(&g_mu);
    g_opened = 1;
    g_armed = 0;
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
}

static void *gate_open_later(void *arg)
{
    (void)arg;
    nap_ms(200);
    gate_open();
    return NULL;
}

/* the worker is held inside a pass (checkpoint lock taken, frames being copied): a plain
 * TRUNCATE on the writer gets BUSY at once - what the outbox's final truncation got -
 * while miaw_checkpointer_truncate waits for the pass to end and then truncates the WAL
 * to 0 bytes, every row still there */
static void test_truncate_waits_for_pass(void)
{
    mkdir_tmp();
    gate_install();
    sqlite3 *db = open_db();
    char p[128];
    snprintf(p, sizeof p, "%s/t.db", dir);
    miaw_checkpointer *c = miaw_checkpointer_start(db, p, 50);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    pthread_mutex_lock(&g_mu);
    g_armed = 1;
    pthread_mutex_unlock(&g_mu);
    /* commits of ~2-3 frames each until the worker (woken at 50) is held; at most 60, so
     * the WAL stays below the hard limit (200), where this thread would wait for it */
    int rows = 0;
    while (rows < 60 && !gate_wait_held(rows < 15 ? 0 : 20)) write_rows(db, ++rows, 1, 0);
    CU_ASSERT_FATAL(gate_wait_held(5000));
    CU_ASSERT(fsize("t.db-wal") > 0);
    CU_ASSERT_EQUAL(sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL), SQLITE_BUSY);
    pthread_t th;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, gate_open_later, NULL), 0);
    int rc = miaw_checkpointer_truncate(c, db);
    pthread_mutex_lock(&g_mu);
    int opened = g_opened;
    pthread_mutex_unlock(&g_mu);
    CU_ASSERT_EQUAL(rc, SQLITE_OK);
    CU_ASSERT(opened); /* it returned only after the worker's pass could end */
    CU_ASSERT_EQUAL(fsize("t.db-wal"), 0);
    pthread_join(th, NULL);
    miaw_checkpoint_stats st;
    miaw_checkpointer_stats(c, &st);
    CU_ASSERT(st.runs >= 1);
    CU_ASSERT_EQUAL(st.truncates, 1);
    /* the data is in the database file: a fresh connection sees every row */
    sqlite3 *r;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(p, &r, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    CU_ASSERT_EQUAL(count(r, "SELECT COUNT(*) FROM t"), rows);
    sqlite3_close(r);
    /* the writer goes on; without a checkpointer the call is a plain TRUNCATE */
    miaw_checkpointer_stop(c);
    write_rows(db, rows + 1, 5, 0);
    CU_ASSERT(fsize("t.db-wal") > 0);
    CU_ASSERT_EQUAL(miaw_checkpointer_truncate(NULL, db), SQLITE_OK);
    CU_ASSERT_EQUAL(fsize("t.db-wal"), 0);
    CU_ASSERT_EQUAL(count(db, "SELECT COUNT(*) FROM t"), rows + 5);
    sqlite3_close(db);
    CU_ASSERT_EQUAL(sqlite3_vfs_unregister(&g_vfs), SQLITE_OK);
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
           MIAW_T(test_truncate_waits_for_pass), MIAW_T(test_storage_has_one))
