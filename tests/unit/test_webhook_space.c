/* tests/unit/test_webhook_space.c - the outbox's disk budget: quota counters loaded from the
 * table (pending and dead letters count, delivered rows do not), kept up to date by add,
 * reloaded after forget; refusal episodes; the database switched to incremental
 * auto-vacuum, a deleted instance's rows deleted in slices (not those of a new instance of
 * the same id), the free pages given back and the WAL truncated through the database's
 * checkpointer (whose worker runs passes meanwhile); and the attempt counted before
 * sending (miaw_wh_store_mark_attempt). */
#include "harness.h"

#include "base/checkpoint.h"
#include "webhooks/webhook_space.h"
#include "webhooks/webhook_store.h"
#include "webhooks/webhook_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void row(miaw_wh_row *r, const char *inst, int64_t seq, char *body)
{
    memset(r, 0, sizeof *r);
    miaw_wh_event_id(r->event_id, 1000 + seq);
    snprintf(r->instance, sizeof r->instance, "%s", inst);
    snprintf(r->event, sizeof r->event, "test");
    r->seq = seq;
    r->url = "http://h/1";
    r->body = body;
    r->body_len = strlen(body);
    r->created_at = r->next_at = 1000;
}

static int64_t pragma(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void test_counters_and_mark(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    sqlite3 *db;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(":memory:", &db), SQLITE_OK);
    miaw_wh_store *st = miaw_wh_store_open(db);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    miaw_wh_row r1, r2, r3;
    row(&r1, "a", 1, "0123456789");
    row(&r2, "a", 2, "01234");
    row(&r3, "b", 1, "0123");
    CU_ASSERT_EQUAL(miaw_wh_store_insert(st, &r1), 0);
    CU_ASSERT_EQUAL(miaw_wh_store_insert(st, &r2), 0);
    CU_ASSERT_EQUAL(miaw_wh_store_insert(st, &r3), 0);
    /* r2 delivered: not counted; r1 pending: counted */
    CU_ASSERT_EQUAL(miaw_wh_store_record(st, &r2, MIAW_WH_DELIVERED, 1, 0, 200, NULL, 1, 2000), 0);

    miaw_wh_space *sp = miaw_wh_space_new(&loop, db, NULL, 3, 30);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    json_t *j = miaw_wh_space_json(sp, "a");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "events")), 1);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "bytes")), 10);
    json_decref(j);
    CU_ASSERT_TRUE(miaw_wh_space_fits(sp, "a", 2, 20));
    CU_ASSERT_FALSE(miaw_wh_space_fits(sp, "a", 3, 1));  /* events */
    CU_ASSERT_FALSE(miaw_wh_space_fits(sp, "a", 1, 21)); /* bytes */
    miaw_wh_space_add(sp, "a", 2, 20);
    CU_ASSERT_FALSE(miaw_wh_space_fits(sp, "a", 1, 0));
    CU_ASSERT_EQUAL(miaw_wh_space_dropped(sp, "a"), 1); /* first of the episode */
    CU_ASSERT_EQUAL(miaw_wh_space_dropped(sp, "a"), 0);
    miaw_wh_space_add(sp, "a", -1, -10); /* one delivered */
    CU_ASSERT_TRUE(miaw_wh_space_fits(sp, "a", 1, 0)); /* the episode ends */
    CU_ASSERT_FALSE(miaw_wh_space_fits(sp, "a", 2, 0));
    CU_ASSERT_EQUAL(miaw_wh_space_dropped(sp, "a"), 1); /* a new one */
    j = miaw_wh_space_json(sp, "a");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "droppedOverQuota")), 3);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "maxEvents")), 3);
    json_decref(j);
    /* reload: the table is the truth again (1 pending row of 10 bytes) */
    miaw_wh_space_reload(sp, "a");
    CU_ASSERT_TRUE(miaw_wh_space_fits(sp, "a", 2, 20));
    CU_ASSERT_FALSE(miaw_wh_space_fits(sp, "a", 3, 0));
    /* another instance has its own counters (b: 1 row of 4 bytes, read at start) */
    CU_ASSERT_TRUE(miaw_wh_space_fits(sp, "b", 2, 26));
    CU_ASSERT_FALSE(miaw_wh_space_fits(sp, "b", 2, 27));
    /* a replay of the delivered r2 counts it again (called before the update) */
    CU_ASSERT_EQUAL(miaw_wh_space_replaying(sp, "a", r2.event_id), 0);
    CU_ASSERT_EQUAL(miaw_wh_store_retry(st, "a", r2.event_id, NULL, 2500), 1);
    CU_ASSERT_FALSE(miaw_wh_space_fits(sp, "a", 2, 0));
    CU_ASSERT_TRUE(miaw_wh_space_fits(sp, "a", 1, 15));
    CU_ASSERT_FALSE(miaw_wh_space_fits(sp, "a", 1, 16));
    /* dead letters pruned stop counting */
    CU_ASSERT_EQUAL(miaw_wh_store_record(st, &r3, MIAW_WH_FAILED, 5, 0, 500, "HTTP 500", 1, 2600), 0);
    CU_ASSERT_EQUAL(miaw_wh_space_prune(sp, st, INT64_MIN, 2700), 1);
    CU_ASSERT_TRUE(miaw_wh_space_fits(sp, "b", 3, 30));
    /* reload_all agrees with the counters kept */
    miaw_wh_space_reload_all(sp);
    CU_ASSERT_TRUE(miaw_wh_space_fits(sp, "b", 3, 30));
    CU_ASSERT_FALSE(miaw_wh_space_fits(sp, "a", 1, 16));
    /* forget (purge): zero */
    miaw_wh_space_forget(sp, "a");
    CU_ASSERT_TRUE(miaw_wh_space_fits(sp, "a", 3, 30));

    /* the attempt is counted before sending: a reload after a crash sees it */
    CU_ASSERT_EQUAL(miaw_wh_store_record(st, &r2, MIAW_WH_DELIVERED, 1, 0, 200, NULL, 1, 2800), 0);
    CU_ASSERT_EQUAL(miaw_wh_store_mark_attempt(st, r1.id, 1, 3000), 0);
    miaw_wh_row h = {0};
    CU_ASSERT_EQUAL(miaw_wh_store_head_row(st, "a", "http://h/1", &h), 1);
    CU_ASSERT_EQUAL(h.id, r1.id);
    CU_ASSERT_EQUAL(h.attempts, 1);
    CU_ASSERT_EQUAL(h.updated_at, 3000);
    miaw_wh_row_clear(&h);
    /* a row no longer pending is not touched */
    CU_ASSERT_EQUAL(miaw_wh_store_mark_attempt(st, r2.id, 7, 3000), 0);
    CU_ASSERT_EQUAL(miaw_wh_store_load(st, r2.id, &h), 1);
    CU_ASSERT_EQUAL(h.attempts, 1);
    miaw_wh_row_clear(&h);

    miaw_wh_space_free(sp);
    uv_run(&loop, UV_RUN_DEFAULT);
    miaw_wh_store_close(st);
    sqlite3_close(db);
    CU_ASSERT_EQUAL(uv_loop_close(&loop), 0);
}

/* the reclaim timer does not keep a loop alive (the server has other handles): this one
 * does, polling until the free list is empty or 10 s pass */
struct watch { sqlite3 *db; miaw_wh_space *sp; int ticks; };
static void on_watch(uv_timer_t *t)
{
    struct watch *w = t->data;
    if ((!miaw_wh_space_purging(w->sp, "big") && pragma(w->db, "PRAGMA freelist_count") == 0) || ++w->ticks > 2000)
        uv_close((uv_handle_t *)t, NULL);
}

static void test_reclaim(void)
{
    char path[] = "/tmp/miaw-wh-space-XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    uv_loop_t loop;
    uv_loop_init(&loop);
    sqlite3 *db;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
    miaw_wh_store *st = miaw_wh_store_open(db);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    /* as the server's storage has: a worker that checkpoints every 100 WAL pages */
    miaw_checkpointer *ck = miaw_checkpointer_start(db, path, 100);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ck);
    miaw_wh_space *sp = miaw_wh_space_new(&loop, db, ck, 1000000, 1LL << 30);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    CU_ASSERT_EQUAL(pragma(db, "PRAGMA auto_vacuum"), 2); /* switched to incremental */
    char *body = malloc(8001);
    memset(body, 'x', 8000);
    body[8000] = 0;
    int opened = miaw_wh_store_begin(st);
    for (int i = 0; i < 600; i++) { /* about 5 MB */
        miaw_wh_row r;
        row(&r, "big", i + 1, body);
        miaw_wh_event_id(r.event_id, 5000 + i);
        CU_ASSERT_EQUAL(miaw_wh_store_insert(st, &r), 0);
    }
    CU_ASSERT_EQUAL(miaw_wh_store_end(st, opened, 1), 0);
    free(body);
    int64_t pages = pragma(db, "PRAGMA page_count");
    /* the instance is deleted; a new one of the same id stores an event at once */
    CU_ASSERT_EQUAL(miaw_wh_space_purge(sp, "big"), 0);
    CU_ASSERT_TRUE(miaw_wh_space_purging(sp, "big"));
    CU_ASSERT_FALSE(miaw_wh_space_purging(sp, "other"));
    miaw_wh_row fresh;
    row(&fresh, "big", 1, "{}");
    miaw_wh_event_id(fresh.event_id, 9999);
    CU_ASSERT_EQUAL(miaw_wh_store_insert(st, &fresh), 0);
    uv_timer_t watch;
    struct watch w = {db, sp, 0};
    uv_timer_init(&loop, &watch);
    watch.data = &w;
    uv_timer_start(&watch, on_watch, 5, 5);
    uv_run(&loop, UV_RUN_DEFAULT); /* the steps run until the free list is empty */
    CU_ASSERT(w.ticks > 1); /* in several steps, not one long one */
    CU_ASSERT_FALSE(miaw_wh_space_purging(sp, "big"));
    CU_ASSERT_EQUAL(pragma(db, "SELECT COUNT(*) FROM webhook_outbox"), 1); /* only the new row */
    miaw_wh_row h = {0};
    CU_ASSERT_EQUAL(miaw_wh_store_head_row(st, "big", "http://h/1", &h), 1);
    CU_ASSERT_EQUAL(h.id, fresh.id);
    miaw_wh_row_clear(&h);
    CU_ASSERT_EQUAL(pragma(db, "PRAGMA freelist_count"), 0);
    CU_ASSERT(pragma(db, "PRAGMA page_count") < pages / 10);
    /* the step that emptied the free list truncated the WAL, through the checkpointer */
    char wal[64], shm[64];
    snprintf(wal, sizeof wal, "%s-wal", path);
    snprintf(shm, sizeof shm, "%s-shm", path);
    struct stat ws;
    CU_ASSERT_EQUAL(stat(wal, &ws), 0);
    CU_ASSERT_EQUAL(ws.st_size, 0);
    miaw_checkpoint_stats cs;
    miaw_checkpointer_stats(ck, &cs);
    CU_ASSERT_EQUAL(cs.truncates, 1);
    CU_ASSERT(cs.runs > 0); /* the worker ran passes meanwhile */
    fprintf(stderr, "  (worker passes %llu, inline %llu)\n", (unsigned long long)cs.runs,
            (unsigned long long)cs.inline_runs);
    miaw_wh_space_free(sp);
    uv_run(&loop, UV_RUN_DEFAULT);
    miaw_checkpointer_stop(ck);
    miaw_wh_store_close(st);
    sqlite3_close(db);
    CU_ASSERT_EQUAL(uv_loop_close(&loop), 0);
    unlink(path);
    unlink(wal);
    unlink(shm);
}

MIAW_TESTS("webhook_space", MIAW_T(test_counters_and_mark), MIAW_T(test_reclaim))
