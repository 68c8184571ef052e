/* core/webhooks/webhook_space.c - outbox quota counters and disk space reclaim (see
 * webhook_space.h). */
#include "webhooks/webhook_space.h"

#include "base/log.h"
#include "base/util.h"
#include "webhooks/webhook_htab.h"
#include "webhooks/webhook_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECLAIM_PAGES 256  /* pages given back per step (1 MiB with 4 KiB pages) */
#define RECLAIM_GAP_MS 1   /* loop turns left to others between two steps */
#define TRUNCATE_TRIES 5   /* the final WAL truncation, BUSY (a reader of another connection): 5 x */
#define TRUNCATE_RETRY_MS 100
/* rows deleted per statement (in index order: an ORDER BY id would sort every row of the
 * instance at each statement) */
#define PURGE_BATCH "16"
#define PURGE_SLICE_MS 5   /* longest run of deletions between two loop turns */

struct usage {
    int64_t events, bytes, dropped;
    int full; /* an episode of refusals is going on (logged once) */
};

/* outbox rows of a deleted instance, deleted a few at a time: ids up to max_id only, so
 * the events of an instance created again under the same id are not touched */
struct purge {
    char *instance;
    int64_t max_id;
    struct purge *next;
};

struct miaw_wh_space {
    sqlite3 *db;
    miaw_checkpointer *ckpt; /* db's (NULL: none) */
    int64_t max_events, max_bytes;
    miaw_wh_htab use;
    uv_timer_t *timer;
    int reclaiming;
    int truncate_tries; /* BUSY answers to the final WAL truncation so far */
    struct purge *jobs; /* deleted instances whose rows are being deleted, in order */
};

static int preload(miaw_wh_space *s);

static int exec1(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK) return 0;
    MIAW_WARN("webhooks", "%s: %s", sql, msg ? msg : "error");
    sqlite3_free(msg);
    return -1;
}

static int64_t pragma_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

miaw_wh_space *miaw_wh_space_new(uv_loop_t *loop, sqlite3 *db, miaw_checkpointer *ckpt, int64_t max_events,
                                 int64_t max_bytes)
{
    miaw_wh_space *s = calloc(1, sizeof *s);
    if (!s || !(s->timer = malloc(sizeof *s->timer))) {
        free(s);
        return NULL;
    }
    s->db = db;
    s->ckpt = ckpt;
    s->max_events = max_events;
    s->max_bytes = max_bytes;
    uv_timer_init(loop, s->timer);
    s->timer->data = s;
    uv_unref((uv_handle_t *)s->timer);
    /* without incremental auto-vacuum the pages of deleted rows stay in the file for
     * ever (reused, never returned); the mode only takes effect through one VACUUM */
    if (pragma_int(db, "PRAGMA auto_vacuum") != 2) {
        uint64_t t0 = uv_hrtime();
        if (exec1(db, "PRAGMA auto_vacuum=INCREMENTAL") == 0 && exec1(db, "VACUUM") == 0)
            MIAW_INFO("webhooks", "database switched to incremental vacuum (once, %.0f ms)",
                      (double)(uv_hrtime() - t0) / 1e6);
        else
            MIAW_WARN("webhooks", "cannot switch the database to incremental vacuum: deleted outbox rows will "
                                  "be reused but not returned to the file system");
    }
    if (preload(s) != 0) {
        MIAW_ERR("webhooks", "outbox quota: cannot read the outbox: %s", sqlite3_errmsg(db));
        miaw_wh_space_free(s);
        return NULL;
    }
    return s;
}

static void on_closed(uv_handle_t *h) { free(h); }

void miaw_wh_space_free(miaw_wh_space *s)
{
    if (!s) return;
    uv_close((uv_handle_t *)s->timer, on_closed);
    while (s->jobs) { /* unfinished: the rest is found again at the next start (orphans) */
        struct purge *j = s->jobs;
        s->jobs = j->next;
        free(j->instance);
        free(j);
    }
    miaw_wh_hfree(&s->use, free);
    free(s);
}

/* the counters of an instance; created at zero (everything undelivered was counted by
 * the preload at start and kept up to date since) */
static struct usage *usage_get(miaw_wh_space *s, const char *instance)
{
    struct usage *u = miaw_wh_hget(&s->use, instance);
    if (u) return u;
    if (!(u = calloc(1, sizeof *u))) return NULL;
    if (miaw_wh_hput(&s->use, instance, u) != 0) {
        free(u);
        return NULL;
    }
    return u;
}

/* adds (sign 1) or subtracts (-1) the rows the statement selects: instance, count, bytes */
static int apply_rows(miaw_wh_space *s, sqlite3_stmt *st, int sign)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *inst = (const char *)sqlite3_column_text(st, 0);
        struct usage *u = inst ? usage_get(s, inst) : NULL;
        if (!u) continue;
        u->events += sign * sqlite3_column_int64(st, 1);
        u->bytes += sign * sqlite3_column_int64(st, 2);
        if (u->events < 0) u->events = 0;
        if (u->bytes < 0) u->bytes = 0;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

#define SUM_COLS "instance, COUNT(*), COALESCE(SUM(length(CAST(body AS BLOB))),0)"

/* undelivered rows (pending and dead letters, status 0 and 2) of every instance, read once
 * at start, before the server serves: no later quota check scans the table */
static int preload(miaw_wh_space *s)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT " SUM_COLS " FROM webhook_outbox WHERE status<>1 GROUP BY instance", -1,
                           &st, NULL) != SQLITE_OK)
        return -1;
    return apply_rows(s, st, 1);
}

int miaw_wh_space_replaying(miaw_wh_space *s, const char *instance, const char *event_id)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT " SUM_COLS " FROM webhook_outbox WHERE instance=?1 AND event_id=?2 AND "
                                  "status=1 GROUP BY instance",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, instance, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, event_id, -1, SQLITE_TRANSIENT);
    return apply_rows(s, st, 1);
}

void miaw_wh_space_reload(miaw_wh_space *s, const char *instance)
{
    miaw_wh_space_forget(s, instance);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT " SUM_COLS " FROM webhook_outbox WHERE instance=?1 AND status<>1 "
                                  "GROUP BY instance",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_text(st, 1, instance, -1, SQLITE_TRANSIENT);
    apply_rows(s, st, 1);
}

void miaw_wh_space_reload_all(miaw_wh_space *s)
{
    miaw_wh_hfree(&s->use, free);
    memset(&s->use, 0, sizeof s->use);
    if (preload(s) != 0) MIAW_ERR("webhooks", "outbox quota: cannot read the outbox: %s", sqlite3_errmsg(s->db));
}

int miaw_wh_space_prune(miaw_wh_space *s, miaw_wh_store *store, int64_t delivered_before, int64_t failed_before)
{
    int nd = miaw_wh_store_prune(store, delivered_before, INT64_MIN);
    /* dead letters count against the quota: uncounted in the same transaction */
    int opened = miaw_wh_store_begin(store);
    int nf = miaw_wh_space_pruning(s, failed_before) == 0 ? miaw_wh_store_prune(store, INT64_MIN, failed_before) : -1;
    if (miaw_wh_store_end(store, opened, nf >= 0) != 0) {
        nf = -1;
        miaw_wh_space_reload_all(s); /* nothing deleted: recount */
    }
    int n = (nd > 0 ? nd : 0) + (nf > 0 ? nf : 0);
    if (n > 0) miaw_wh_space_reclaim(s);
    return nd < 0 && nf < 0 ? -1 : n;
}

int miaw_wh_space_pruning(miaw_wh_space *s, int64_t failed_before)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT " SUM_COLS " FROM webhook_outbox WHERE status=2 AND updated_at<?1 "
                                  "GROUP BY instance",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, failed_before);
    return apply_rows(s, st, -1);
}

int miaw_wh_space_fits(miaw_wh_space *s, const char *instance, int64_t events, int64_t bytes)
{
    struct usage *u = usage_get(s, instance);
    if (!u) return 0; /* cannot tell: refuse rather than grow blind */
    int fits = u->events + events <= s->max_events && u->bytes + bytes <= s->max_bytes;
    if (fits) u->full = 0;
    return fits;
}

void miaw_wh_space_add(miaw_wh_space *s, const char *instance, int64_t events, int64_t bytes)
{
    struct usage *u = usage_get(s, instance);
    if (!u) return;
    u->events += events;
    u->bytes += bytes;
    if (u->events < 0) u->events = 0;
    if (u->bytes < 0) u->bytes = 0;
}

void miaw_wh_space_forget(miaw_wh_space *s, const char *instance)
{
    struct usage *u = miaw_wh_hget(&s->use, instance);
    if (!u) return;
    miaw_wh_hdel(&s->use, instance);
    free(u);
}

int miaw_wh_space_dropped(miaw_wh_space *s, const char *instance)
{
    struct usage *u = usage_get(s, instance);
    if (!u) return 1;
    u->dropped++;
    int first = !u->full;
    u->full = 1;
    return first;
}

json_t *miaw_wh_space_json(miaw_wh_space *s, const char *instance)
{
    struct usage *u = usage_get(s, instance);
    return json_pack("{s:I,s:I,s:I,s:I,s:I}", "events", (json_int_t)(u ? u->events : 0), "bytes",
                     (json_int_t)(u ? u->bytes : 0), "maxEvents", (json_int_t)s->max_events, "maxBytes",
                     (json_int_t)s->max_bytes, "droppedOverQuota", (json_int_t)(u ? u->dropped : 0));
}

/* deletes rows of the first job for about PURGE_SLICE_MS; 1 when the job is finished */
static int purge_slice(miaw_wh_space *s)
{
    struct purge *j = s->jobs;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "DELETE FROM webhook_outbox WHERE id IN (SELECT id FROM webhook_outbox WHERE "
                                  "instance=?1 AND id<=?2 LIMIT " PURGE_BATCH ")",
                           -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(st, 1, j->instance, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, j->max_id);
    uint64_t t0 = uv_hrtime();
    int done = 0, rc;
    do {
        rc = sqlite3_step(st);
        done = rc != SQLITE_DONE || sqlite3_changes(s->db) < atoi(PURGE_BATCH);
        sqlite3_reset(st);
    } while (!done && uv_hrtime() - t0 < PURGE_SLICE_MS * 1000000ull);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        MIAW_WARN("webhooks", "%s: outbox purge: %s (retried)", j->instance, sqlite3_errmsg(s->db));
        return 0;
    }
    return done;
}

/* one step of the background work: purge slices first, then reclaim steps of at most
 * RECLAIM_PAGES free pages, with loop turns in between */
static void on_step(uv_timer_t *t)
{
    miaw_wh_space *s = t->data;
    if (!sqlite3_get_autocommit(s->db)) { /* someone's transaction is open: later */
        uv_timer_start(s->timer, on_step, 50, 0);
        return;
    }
    if (s->jobs) {
        if (purge_slice(s)) {
            struct purge *j = s->jobs;
            s->jobs = j->next;
            MIAW_DEBUG("webhooks", "%s: outbox rows deleted", j->instance);
            free(j->instance);
            free(j);
            s->reclaiming = 1;
        }
        uv_timer_start(s->timer, on_step, RECLAIM_GAP_MS, 0);
        return;
    }
    if (!s->reclaiming) return;
    int64_t free_pages = pragma_int(s->db, "PRAGMA freelist_count");
    if (free_pages > 0) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA incremental_vacuum(%d)", RECLAIM_PAGES);
        if (exec1(s->db, sql) == 0 && free_pages > RECLAIM_PAGES) {
            uv_timer_start(s->timer, on_step, RECLAIM_GAP_MS, 0);
            return;
        }
    }
    /* the WAL keeps its largest size unless truncated; done once the free list is empty.
     * A pass of the storage's checkpoint worker would make it BUSY at once (SQLite does
     * not wait for another checkpointer): the checkpointer waits for that pass to end and
     * keeps the worker out. What can still make it BUSY is beyond the checkpointer (a
     * reader of another connection outlasting the busy timeout, another process's
     * checkpoint): tried again a few times, then left as it is (logged) */
    int rc = miaw_checkpointer_truncate(s->ckpt, s->db);
    if (rc == SQLITE_BUSY && ++s->truncate_tries < TRUNCATE_TRIES) {
        uv_timer_start(s->timer, on_step, TRUNCATE_RETRY_MS, 0);
        return;
    }
    if (rc != SQLITE_OK) MIAW_WARN("webhooks", "outbox: the WAL was not truncated: %s", sqlite3_errmsg(s->db));
    s->truncate_tries = 0;
    s->reclaiming = 0;
}

void miaw_wh_space_reclaim(miaw_wh_space *s)
{
    if (s->reclaiming) return;
    s->reclaiming = 1;
    if (!s->jobs) uv_timer_start(s->timer, on_step, 0, 0);
}

int miaw_wh_space_purge(miaw_wh_space *s, const char *instance)
{
    struct purge *j = calloc(1, sizeof *j);
    if (!j || !(j->instance = strdup(instance))) {
        free(j);
        return -1;
    }
    j->max_id = pragma_int(s->db, "SELECT COALESCE(MAX(id),0) FROM webhook_outbox");
    struct purge **pp = &s->jobs;
    while (*pp) pp = &(*pp)->next;
    *pp = j;
    miaw_wh_space_forget(s, instance); /* its rows no longer count */
    uv_timer_start(s->timer, on_step, 0, 0);
    return 0;
}

int miaw_wh_space_purge_orphans(miaw_wh_space *s, int (*exists)(void *ud, const char *instance), void *ud)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT DISTINCT instance FROM webhook_outbox", -1, &st, NULL) != SQLITE_OK)
        return -1;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        if (id && !exists(ud, id) && miaw_wh_space_purge(s, id) == 0)
            MIAW_INFO("webhooks", "%s: deleting the outbox rows left by this deleted instance", id);
    }
    sqlite3_finalize(st);
    return 0;
}

int miaw_wh_space_purging(miaw_wh_space *s, const char *instance)
{
    for (struct purge *j = s->jobs; j; j = j->next)
        if (strcmp(j->instance, instance) == 0) return 1;
    return 0;
}
