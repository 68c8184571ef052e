/* core/base/checkpoint.c - WAL checkpoints on a worker thread (see checkpoint.h). The
 * writer's WAL hook only compares the WAL's size with the thresholds and signals; the
 * worker runs PASSIVE checkpoints on its own connection until the WAL is below the
 * threshold or a pass copies nothing new (a reader or the writer holds the rest). The
 * writer restarts the WAL from its beginning at its next transaction after a complete
 * checkpoint, so the file stops growing. The writer's own checkpoints (past the hard
 * limit, TRUNCATE on request) wait for the worker's pass and keep the worker out. */
#include "base/checkpoint.h"

#include "base/log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct miaw_checkpointer {
    sqlite3 *writer, *db; /* db: the worker's own connection */
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv, idle; /* cv: wakes the worker; idle: its pass is over */
    int pages, hard;
    int want, quit, busy; /* guarded by mu; busy: a pass runs (the worker's or the writer's) */
    int waiting;          /* guarded by mu: the writer waits for the worker's pass to end */
    miaw_checkpoint_stats st; /* guarded by mu */
};

/* on the writer's thread, mu held: waits for the worker's pass to end (the worker stops
 * after the pass it is in) and keeps the worker out until release */
static void hold(miaw_checkpointer *c)
{
    c->waiting++;
    while (c->busy) pthread_cond_wait(&c->idle, &c->mu);
    c->waiting--;
    c->busy = 1;
}

/* mu held: the writer's checkpoint is over */
static void release(miaw_checkpointer *c)
{
    c->busy = 0;
    pthread_cond_signal(&c->cv); /* a wake-up asked for meanwhile */
}

/* on the writer's thread after each commit: n = frames in the WAL now */
static int on_wal(void *ud, sqlite3 *db, const char *name, int n)
{
    miaw_checkpointer *c = ud;
    int run_here = 0;
    pthread_mutex_lock(&c->mu);
    c->st.last_wal = n;
    if (n >= c->pages && !c->busy && !c->want) {
        c->want = 1;
        pthread_cond_signal(&c->cv);
    }
    if (n >= c->hard) {
        /* the worker cannot keep up (a writer that never pauses leaves it behind: the WAL
         * starts over only after a checkpoint that copied everything). Wait for its pass
         * to end and keep it out: between two transactions of the only writer, with no
         * other checkpointer, this one copies everything and the next transaction starts
         * the WAL over */
        hold(c);
        run_here = 1;
        c->st.inline_runs++;
    }
    pthread_mutex_unlock(&c->mu);
    if (run_here) {
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_lock(&c->mu);
        release(c);
        pthread_mutex_unlock(&c->mu);
    }
    return SQLITE_OK;
}

static void *worker(void *arg)
{
    miaw_checkpointer *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        /* busy here: the writer runs one of its own (past the hard limit) */
        while (!c->quit && (!c->want || c->busy)) pthread_cond_wait(&c->cv, &c->mu);
        if (c->quit) break;
        c->want = 0;
        c->busy = 1;
        pthread_mutex_unlock(&c->mu);
        int log = 0, done = 0, prev = -1;
        /* a pass copies what was committed when it began; more passes while each one
         * makes progress and leaves frames behind */
        for (int pass = 0; pass < 4; pass++) {
            int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
            if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
                MIAW_WARN("db", "background checkpoint: %s", sqlite3_errmsg(c->db));
                break;
            }
            pthread_mutex_lock(&c->mu);
            c->st.runs++;
            if (done > 0 && done > prev) c->st.copied += (uint64_t)(done - (prev > 0 ? prev : 0));
            int yield = c->waiting; /* the writer runs one of its own next: no more passes */
            pthread_mutex_unlock(&c->mu);
            if (done >= log || done == prev || yield) break;
            prev = done;
        }
        pthread_mutex_lock(&c->mu);
        c->busy = 0;
        pthread_cond_broadcast(&c->idle);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

miaw_checkpointer *miaw_checkpointer_start(sqlite3 *db, const char *path, int pages)
{
    miaw_checkpointer *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->writer = db;
    c->pages = pages > 0 ? pages : 1000;
    c->hard = c->pages * 4;
    if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        MIAW_WARN("db", "background checkpoints off: %s", c->db ? sqlite3_errmsg(c->db) : "cannot open");
        sqlite3_close(c->db);
        free(c);
        return NULL;
    }
    sqlite3_busy_timeout(c->db, 0);
    /* a connection learns that the file is in WAL mode at its first read; until then a
     * checkpoint is a no-op */
    sqlite3_exec(c->db, "SELECT COUNT(*) FROM sqlite_master", NULL, NULL, NULL);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    pthread_cond_init(&c->idle, NULL);
    if (pthread_create(&c->th, NULL, worker, c) != 0) {
        MIAW_WARN("db", "background checkpoints off: no thread");
        pthread_cond_destroy(&c->cv);
        pthread_cond_destroy(&c->idle);
        pthread_mutex_destroy(&c->mu);
        sqlite3_close(c->db);
        free(c);
        return NULL;
    }
    sqlite3_wal_hook(db, on_wal, c); /* replaces the automatic checkpoint */
    return c;
}

void miaw_checkpointer_stop(miaw_checkpointer *c)
{
    if (!c) return;
    sqlite3_wal_autocheckpoint(c->writer, 1000); /* SQLite's own hook again */
    pthread_mutex_lock(&c->mu);
    c->quit = 1;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->th, NULL);
    sqlite3_close(c->db);
    pthread_cond_destroy(&c->cv);
    pthread_cond_destroy(&c->idle);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void miaw_checkpointer_stats(miaw_checkpointer *c, miaw_checkpoint_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    *out = c->st;
    pthread_mutex_unlock(&c->mu);
}

int miaw_checkpointer_truncate(miaw_checkpointer *c, sqlite3 *db)
{
    if (!c) return sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    pthread_mutex_lock(&c->mu);
    hold(c);
    c->st.truncates++;
    pthread_mutex_unlock(&c->mu);
    int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    pthread_mutex_lock(&c->mu);
    release(c);
    pthread_mutex_unlock(&c->mu);
    return rc;
}
