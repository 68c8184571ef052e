/* core/base/checkpoint.h - WAL checkpoints of a database on a thread of their own, off
 * the loop thread. SQLite's default runs a checkpoint inside whichever COMMIT crosses
 * 1000 WAL pages: the loop then copies pages into the database file and waits for its
 * fsync. Started on a connection, this replaces that: the connection's commits only
 * report the WAL's size (a WAL hook), and a worker thread with its own connection to the
 * same file runs PASSIVE checkpoints (they never block the writer). If the WAL still
 * grows past a hard limit (the worker cannot keep up: the WAL starts over only after a
 * checkpoint that copied everything, which a writer that never pauses keeps from
 * happening; or a reader pins old frames) the committing thread waits for the worker's
 * pass to end and runs one itself, as SQLite would have. The writer's thread can ask for a
 * TRUNCATE checkpoint the same way (miaw_checkpointer_truncate).
 * Ownership: the checkpointer owns its thread and its connection; the writer connection
 * is borrowed and must stay open until miaw_checkpointer_stop returns. */
#ifndef MIAW_CHECKPOINT_H
#define MIAW_CHECKPOINT_H
#include <sqlite3.h>
#include <stdint.h>

typedef struct miaw_checkpointer miaw_checkpointer;

typedef struct miaw_checkpoint_stats {
    uint64_t runs;        /* checkpoint passes run by the worker */
    uint64_t inline_runs; /* run by the committing thread (WAL past the hard limit) */
    uint64_t truncates;   /* TRUNCATE checkpoints asked for (miaw_checkpointer_truncate) */
    uint64_t copied;      /* WAL frames the worker's passes found in the database (about what it copied) */
    int last_wal;         /* WAL frames reported by the last commit */
} miaw_checkpoint_stats;

/* db: the writer connection (WAL mode); path: its database file; pages: WAL size that
 * wakes the worker (<= 0: 1000); the hard limit is 4 times that. NULL when the worker
 * cannot start (the connection keeps SQLite's own automatic checkpoints then). */
miaw_checkpointer *miaw_checkpointer_start(sqlite3 *db, const char *path, int pages);
/* joins the worker, closes its connection, gives the writer back SQLite's automatic
 * checkpoints. NULL is a no-op. */
void miaw_checkpointer_stop(miaw_checkpointer *c);
void miaw_checkpointer_stats(miaw_checkpointer *c, miaw_checkpoint_stats *out);
/* a TRUNCATE checkpoint (the WAL copied into the database, then cut to 0 bytes) on db,
 * the writer connection c was started on, on the writer's thread, outside a transaction.
 * A TRUNCATE beside another connection's checkpoint gets SQLITE_BUSY at once (SQLite
 * does not wait for the checkpoint lock), so this waits until the worker's pass ends
 * (the worker stops after the pass it is in; this blocks the calling thread for that
 * long) and keeps the worker out while it runs. c NULL (no worker): a plain TRUNCATE.
 * Returns SQLite's code: SQLITE_OK (the WAL file is 0 bytes); SQLITE_BUSY when
 * something the checkpointer does not control holds on: a reader of another connection
 * using the WAL (after db's busy handler gave up) or a checkpoint of another process;
 * another error code otherwise (e.g. SQLITE_LOCKED inside a transaction of db). */
int miaw_checkpointer_truncate(miaw_checkpointer *c, sqlite3 *db);
#endif
