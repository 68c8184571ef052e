/* core/webhooks/webhook_store.c - webhook outbox tables and queries (see webhook_store.h). The
 * lane index (instance, status, url, id) serves the head-of-lane query the dispatcher
 * runs after each delivery. */
#include "webhooks/webhook_store.h"

#include "base/log.h"
#include "base/util.h"
#include "webhooks/webhook_htab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *SCHEMA =
    "CREATE TABLE IF NOT EXISTS webhook_outbox ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  event_id TEXT NOT NULL, instance TEXT NOT NULL, seq INTEGER NOT NULL, event TEXT NOT NULL,"
    "  url TEXT NOT NULL, body TEXT NOT NULL, created_at INTEGER NOT NULL,"
    "  status INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL,"
    "  last_status INTEGER, last_error TEXT, updated_at INTEGER, latency_ms INTEGER,"
    "  UNIQUE(event_id, url));"
    /* rows not delivered yet (pending 0, dead letters 2) only: a delivery deletes its entry
     * and inserts none (an index over every status moved it, two more pages per commit),
     * and the index stays as small as the backlog. Queries name "status<>1" to use it. */
    "DROP INDEX IF EXISTS webhook_outbox_lane;"
    "CREATE INDEX IF NOT EXISTS webhook_outbox_open ON webhook_outbox(instance, status, url, id) WHERE status<>1;"
    "CREATE INDEX IF NOT EXISTS webhook_outbox_event ON webhook_outbox(instance, event_id);"
    "CREATE TABLE IF NOT EXISTS webhook_stats ("
    "  instance TEXT PRIMARY KEY, last_seq INTEGER NOT NULL DEFAULT 0,"
    "  delivered INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0,"
    "  last_error TEXT, last_error_at INTEGER, last_error_event TEXT);";

enum { Q_SEQ, Q_INS, Q_HEAD, Q_HEADROW, Q_LOAD, Q_REC, Q_OKSTAT, Q_FAILSTAT, Q_ERRSTAT, Q_MARK, Q_JOURNAL, Q_BEGIN,
       Q_COMMIT, Q_ROLLBACK, Q_SEQSET, Q__N };
static const char *SQL[Q__N] = {
    "SELECT last_seq FROM webhook_stats WHERE instance=?1",
    "INSERT INTO webhook_outbox(event_id, instance, seq, event, url, body, created_at, next_at) "
    "VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
    "SELECT id, next_at FROM webhook_outbox WHERE instance=?1 AND status=0 AND status<>1 AND url=?2 ORDER BY id "
    "LIMIT 1",
    "SELECT id, event_id, instance, seq, event, url, body, created_at, status, attempts, next_at, last_status, "
    "last_error, updated_at, latency_ms FROM webhook_outbox WHERE instance=?1 AND status=0 AND status<>1 AND url=?2 "
    "ORDER BY id LIMIT 1",
    "SELECT id, event_id, instance, seq, event, url, body, created_at, status, attempts, next_at, last_status, "
    "last_error, updated_at, latency_ms FROM webhook_outbox WHERE id=?1",
    "UPDATE webhook_outbox SET status=?2, attempts=?3, next_at=?4, last_status=?5, last_error=?6, updated_at=?7, "
    "latency_ms=?8 WHERE id=?1",
    "UPDATE webhook_stats SET delivered = delivered + ?2 WHERE instance=?1",
    "UPDATE webhook_stats SET failed = failed + ?2 WHERE instance=?1",
    "UPDATE webhook_stats SET last_error=?2, last_error_at=?3, last_error_event=?4 WHERE instance=?1",
    "UPDATE webhook_outbox SET attempts=?2, updated_at=?3 WHERE id=?1 AND status=0",
    "INSERT INTO webhook_outbox(event_id, instance, seq, event, url, body, created_at, next_at, status, updated_at) "
    "VALUES(?1,?2,0,?3,'',?4,?5,?5,1,?5)",
    /* transaction control kept prepared too: a delivery commits once per loop turn */
    "BEGIN", "COMMIT", "ROLLBACK",
    "INSERT INTO webhook_stats(instance, last_seq) VALUES(?1, ?2) "
    "ON CONFLICT(instance) DO UPDATE SET last_seq = excluded.last_seq",
};

/* the last sequence number of an instance, as the open transaction will leave it */
struct seqc {
    int64_t last;
    int dirty;               /* not written yet: written by miaw_wh_store_end before COMMIT */
    struct seqc *next_dirty;
    char instance[65];
};

struct miaw_wh_store {
    sqlite3 *db;
    sqlite3_stmt *q[Q__N];
    miaw_wh_htab seqs;       /* instance -> struct seqc */
    struct seqc *dirty;
    int own_tx;              /* the open transaction was opened by miaw_wh_store_begin */
};

miaw_wh_store *miaw_wh_store_open(sqlite3 *db)
{
    char *msg = NULL;
    if (sqlite3_exec(db, SCHEMA, NULL, NULL, &msg) != SQLITE_OK) {
        MIAW_ERR("webhooks", "outbox schema: %s", msg ? msg : "error");
        sqlite3_free(msg);
        return NULL;
    }
    miaw_wh_store *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->db = db;
    for (int i = 0; i < Q__N; i++)
        if (sqlite3_prepare_v3(db, SQL[i], -1, SQLITE_PREPARE_PERSISTENT, &s->q[i], NULL) != SQLITE_OK) {
            MIAW_ERR("webhooks", "prepare: %s", sqlite3_errmsg(db));
            miaw_wh_store_close(s);
            return NULL;
        }
    return s;
}

void miaw_wh_store_close(miaw_wh_store *s)
{
    if (!s) return;
    for (int i = 0; i < Q__N; i++) sqlite3_finalize(s->q[i]);
    miaw_wh_hfree(&s->seqs, free);
    free(s);
}

/* forgets the cached sequence numbers (after a rollback, or of one deleted instance):
 * they are read again from webhook_stats */
static void seqs_forget(miaw_wh_store *s, const char *instance)
{
    if (!instance) {
        s->dirty = NULL;
        miaw_wh_hfree(&s->seqs, free);
        memset(&s->seqs, 0, sizeof s->seqs);
        return;
    }
    struct seqc *c = miaw_wh_hget(&s->seqs, instance);
    if (!c) return;
    for (struct seqc **pp = &s->dirty; *pp; pp = &(*pp)->next_dirty)
        if (*pp == c) {
            *pp = c->next_dirty;
            break;
        }
    miaw_wh_hdel(&s->seqs, instance);
    free(c);
}

void miaw_wh_row_clear(miaw_wh_row *r)
{
    free(r->url);
    free(r->body);
    free(r->last_error);
    memset(r, 0, sizeof *r);
}

/* runs a prepared statement to completion; 0 or -1 */
static int step_done(miaw_wh_store *s, sqlite3_stmt *st);

int miaw_wh_store_begin(miaw_wh_store *s)
{
    if (!sqlite3_get_autocommit(s->db)) return 0;
    if (step_done(s, s->q[Q_BEGIN]) != 0) return 0;
    s->own_tx = 1;
    return 1;
}

static int seq_write(miaw_wh_store *s, const struct seqc *c)
{
    sqlite3_bind_text(s->q[Q_SEQSET], 1, c->instance, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s->q[Q_SEQSET], 2, c->last);
    return step_done(s, s->q[Q_SEQSET]);
}

int miaw_wh_store_end(miaw_wh_store *s, int opened, int ok)
{
    if (!opened) return ok ? 0 : -1;
    /* the sequence numbers taken in this transaction: one write per instance */
    for (struct seqc *c = s->dirty; ok && c; c = c->next_dirty) ok = seq_write(s, c) == 0;
    for (struct seqc *c = s->dirty; c; c = c->next_dirty) c->dirty = 0;
    s->dirty = NULL;
    s->own_tx = 0;
    if (ok && step_done(s, s->q[Q_COMMIT]) == 0) return 0;
    if (!sqlite3_get_autocommit(s->db)) step_done(s, s->q[Q_ROLLBACK]);
    seqs_forget(s, NULL);
    return -1;
}

static int step_done(miaw_wh_store *s, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) return 0;
    MIAW_ERR("webhooks", "outbox: %s", sqlite3_errmsg(s->db));
    return -1;
}

int64_t miaw_wh_store_next_seq(miaw_wh_store *s, const char *instance)
{
    struct seqc *c = miaw_wh_hget(&s->seqs, instance);
    if (!c) {
        sqlite3_stmt *st = s->q[Q_SEQ];
        sqlite3_bind_text(st, 1, instance, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        int64_t last = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            MIAW_ERR("webhooks", "sequence: %s", sqlite3_errmsg(s->db));
            return -1;
        }
        if (!(c = calloc(1, sizeof *c))) return -1;
        snprintf(c->instance, sizeof c->instance, "%s", instance);
        c->last = last;
        if (miaw_wh_hput(&s->seqs, instance, c) != 0) {
            free(c);
            return -1;
        }
    }
    c->last++;
    if (s->own_tx && !sqlite3_get_autocommit(s->db)) { /* written once, before this transaction's COMMIT */
        if (!c->dirty) {
            c->dirty = 1;
            c->next_dirty = s->dirty;
            s->dirty = c;
        }
        return c->last;
    }
    /* a transaction of someone else's, or none: written now */
    if (seq_write(s, c) != 0) {
        seqs_forget(s, instance);
        return -1;
    }
    return c->last;
}

int miaw_wh_store_insert(miaw_wh_store *s, miaw_wh_row *r)
{
    sqlite3_stmt *st = s->q[Q_INS];
    sqlite3_bind_text(st, 1, r->event_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->instance, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, r->seq);
    sqlite3_bind_text(st, 4, r->event, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, r->url, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, r->body, (int)r->body_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, r->created_at);
    sqlite3_bind_int64(st, 8, r->next_at);
    if (step_done(s, st) != 0) return -1;
    r->id = sqlite3_last_insert_rowid(s->db);
    return 0;
}

int miaw_wh_store_journal(miaw_wh_store *s, miaw_wh_row *r)
{
    sqlite3_stmt *st = s->q[Q_JOURNAL];
    sqlite3_bind_text(st, 1, r->event_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->instance, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->event, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->body, (int)r->body_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, r->created_at);
    if (step_done(s, st) != 0) return -1;
    r->id = sqlite3_last_insert_rowid(s->db);
    return 0;
}

int miaw_wh_store_head(miaw_wh_store *s, const char *instance, const char *url, int64_t *id, int64_t *next_at)
{
    sqlite3_stmt *st = s->q[Q_HEAD];
    sqlite3_bind_text(st, 1, instance, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, url, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        *next_at = sqlite3_column_int64(st, 1);
        found = 1;
    } else if (rc != SQLITE_DONE) {
        found = -1;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return found;
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    return t ? strdup(t) : NULL;
}

static void fill_row(sqlite3_stmt *st, miaw_wh_row *r)
{
    r->id = sqlite3_column_int64(st, 0);
    snprintf(r->event_id, sizeof r->event_id, "%s", (const char *)sqlite3_column_text(st, 1));
    snprintf(r->instance, sizeof r->instance, "%s", (const char *)sqlite3_column_text(st, 2));
    r->seq = sqlite3_column_int64(st, 3);
    snprintf(r->event, sizeof r->event, "%s", (const char *)sqlite3_column_text(st, 4));
    r->url = col_dup(st, 5);
    r->body = col_dup(st, 6);
    r->body_len = (size_t)sqlite3_column_bytes(st, 6);
    r->created_at = sqlite3_column_int64(st, 7);
    r->status = sqlite3_column_int(st, 8);
    r->attempts = sqlite3_column_int(st, 9);
    r->next_at = sqlite3_column_int64(st, 10);
    r->last_status = sqlite3_column_int(st, 11);
    r->last_error = col_dup(st, 12);
    r->updated_at = sqlite3_column_int64(st, 13);
    r->latency_ms = sqlite3_column_int64(st, 14);
}

/* one row of the bound statement st into r, st reset: 1, 0 (none), -1 (error or a row
 * without url/body) */
static int load_row(sqlite3_stmt *st, miaw_wh_row *r)
{
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW) {
        fill_row(st, r);
        found = r->url && r->body ? 1 : -1;
    } else if (rc != SQLITE_DONE) {
        found = -1;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return found;
}

int miaw_wh_store_load(miaw_wh_store *s, int64_t id, miaw_wh_row *r)
{
    miaw_wh_row_clear(r);
    sqlite3_stmt *st = s->q[Q_LOAD];
    sqlite3_bind_int64(st, 1, id);
    return load_row(st, r);
}

int miaw_wh_store_head_row(miaw_wh_store *s, const char *instance, const char *url, miaw_wh_row *r)
{
    miaw_wh_row_clear(r);
    sqlite3_stmt *st = s->q[Q_HEADROW];
    sqlite3_bind_text(st, 1, instance, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, url, -1, SQLITE_STATIC);
    return load_row(st, r);
}

/* one outcome's row update and error counters, inside the caller's transaction */
static int record_row(miaw_wh_store *s, const miaw_wh_result *x, int64_t now)
{
    sqlite3_stmt *st = s->q[Q_REC];
    sqlite3_bind_int64(st, 1, x->row->id);
    sqlite3_bind_int(st, 2, x->status);
    sqlite3_bind_int(st, 3, x->attempts);
    sqlite3_bind_int64(st, 4, x->next_at);
    if (x->http_status) sqlite3_bind_int(st, 5, x->http_status);
    if (x->error) sqlite3_bind_text(st, 6, x->error, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, now);
    sqlite3_bind_int64(st, 8, x->latency_ms);
    if (step_done(s, st) != 0) return -1;
    if (!x->error) return 0;
    st = s->q[Q_ERRSTAT];
    sqlite3_bind_text(st, 1, x->row->instance, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, x->error, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_text(st, 4, x->row->event_id, -1, SQLITE_STATIC);
    return step_done(s, st);
}

static int add_count(miaw_wh_store *s, int q, const char *instance, int64_t n)
{
    if (n == 0) return 0;
    sqlite3_bind_text(s->q[q], 1, instance, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s->q[q], 2, n);
    return step_done(s, s->q[q]);
}

int miaw_wh_store_record_many(miaw_wh_store *s, const miaw_wh_result *v, size_t n, int64_t now)
{
    int opened = miaw_wh_store_begin(s), ok = 1;
    for (size_t i = 0; ok && i < n; i++) ok = record_row(s, &v[i], now) == 0;
    /* the delivered / failed totals: one update per instance, however many outcomes it
     * has in the batch (first occurrence of each instance sums the rest) */
    for (size_t i = 0; ok && i < n; i++) {
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++) seen = strcmp(v[j].row->instance, v[i].row->instance) == 0;
        if (seen) continue;
        int64_t okn = 0, failn = 0;
        for (size_t j = i; j < n; j++) {
            if (strcmp(v[j].row->instance, v[i].row->instance) != 0) continue;
            okn += v[j].status == MIAW_WH_DELIVERED;
            failn += v[j].status == MIAW_WH_FAILED;
        }
        ok = add_count(s, Q_OKSTAT, v[i].row->instance, okn) == 0 &&
             add_count(s, Q_FAILSTAT, v[i].row->instance, failn) == 0;
    }
    return miaw_wh_store_end(s, opened, ok);
}

int miaw_wh_store_record(miaw_wh_store *s, const miaw_wh_row *r, int status, int attempts, int64_t next_at,
                         int http_status, const char *error, int64_t latency_ms, int64_t now)
{
    miaw_wh_result x = {.row = r, .status = status, .attempts = attempts, .next_at = next_at,
                        .http_status = http_status, .error = error, .latency_ms = latency_ms};
    return miaw_wh_store_record_many(s, &x, 1, now);
}

int miaw_wh_store_mark_attempt(miaw_wh_store *s, int64_t id, int attempts, int64_t now)
{
    sqlite3_stmt *st = s->q[Q_MARK];
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, attempts);
    sqlite3_bind_int64(st, 3, now);
    return step_done(s, st);
}

int miaw_wh_store_lanes(miaw_wh_store *s, void (*fn)(void *ud, const char *instance, const char *url), void *ud)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT DISTINCT instance, url FROM webhook_outbox WHERE status=0 AND status<>1", -1,
                           &st, NULL) != SQLITE_OK)
        return -1;
    while (sqlite3_step(st) == SQLITE_ROW)
        fn(ud, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1));
    sqlite3_finalize(st);
    return 0;
}

static const char *STATUS_NAMES[] = {"pending", "delivered", "failed"};

int64_t miaw_wh_store_list(miaw_wh_store *s, const char *instance, int status, int64_t after, int limit,
                           int with_payload, json_t *items)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id, event_id, instance, seq, event, url, body, created_at, status, attempts, "
                           "next_at, last_status, last_error, updated_at, latency_ms FROM webhook_outbox "
                           "WHERE instance=?1 AND url<>'' AND (?2 < 0 OR status=?2) AND id>?3 ORDER BY id LIMIT ?4",
                           -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(st, 1, instance, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, status);
    sqlite3_bind_int64(st, 3, after);
    sqlite3_bind_int(st, 4, limit);
    int64_t last = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        miaw_wh_row r = {0};
        fill_row(st, &r);
        char created[40], updated[40], next[40];
        miaw_iso8601(created, sizeof created, r.created_at);
        json_t *o = json_pack("{s:s,s:s,s:I,s:s,s:s,s:i,s:s}", "eventId", r.event_id, "event", r.event, "sequence",
                              (json_int_t)r.seq, "url", r.url ? r.url : "", "status",
                              STATUS_NAMES[r.status >= 0 && r.status <= 2 ? r.status : 0], "attempts", r.attempts,
                              "createdAt", created);
        if (r.status == MIAW_WH_PENDING) {
            miaw_iso8601(next, sizeof next, r.next_at);
            json_object_set_new(o, "nextAttemptAt", json_string(next));
        }
        if (r.attempts) {
            miaw_iso8601(updated, sizeof updated, r.updated_at);
            json_object_set_new(o, "lastAttemptAt", json_string(updated));
            json_object_set_new(o, "lastStatusCode", r.last_status ? json_integer(r.last_status) : json_null());
            json_object_set_new(o, "lastError", r.last_error ? json_string(r.last_error) : json_null());
            if (r.status == MIAW_WH_DELIVERED) json_object_set_new(o, "latencyMs", json_integer(r.latency_ms));
        }
        if (with_payload) json_object_set_new(o, "payload", r.body ? json_loads(r.body, 0, NULL) : json_null());
        json_array_append_new(items, o);
        last = r.id;
        miaw_wh_row_clear(&r);
    }
    sqlite3_finalize(st);
    return last;
}

int miaw_wh_store_retry(miaw_wh_store *s, const char *instance, const char *event_id, const char *url, int64_t now)
{
    sqlite3_stmt *st;
    int total = 0, pending = 0;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT COUNT(*), COALESCE(SUM(status=0),0) FROM webhook_outbox WHERE instance=?1 AND "
                           "event_id=?2 AND url<>''", /* journal rows (url '') are never sent */
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, instance, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, event_id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        total = sqlite3_column_int(st, 0);
        pending = sqlite3_column_int(st, 1);
    }
    sqlite3_finalize(st);
    if (total == 0) return 0;
    if (pending == total) return -2;
    if (sqlite3_prepare_v2(s->db,
                           "UPDATE webhook_outbox SET status=0, attempts=0, next_at=?3, url=COALESCE(?4, url) "
                           "WHERE instance=?1 AND event_id=?2 AND status<>0 AND url<>''",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, instance, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, event_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    if (url) sqlite3_bind_text(st, 4, url, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? sqlite3_changes(s->db) : -1;
    sqlite3_finalize(st);
    return rc;
}

json_t *miaw_wh_store_counts(miaw_wh_store *s, const char *instance)
{
    sqlite3_stmt *st;
    json_int_t pending = 0, delivered = 0, failed = 0, dead = 0;
    json_t *last = json_null();
    if (sqlite3_prepare_v2(s->db, "SELECT COALESCE(SUM(status=0),0), COALESCE(SUM(status=2),0) FROM webhook_outbox "
                                  "WHERE instance=?1 AND status<>1",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, instance, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            pending = sqlite3_column_int64(st, 0);
            dead = sqlite3_column_int64(st, 1);
        }
        sqlite3_finalize(st);
    }
    if (sqlite3_prepare_v2(s->db, "SELECT delivered, failed, last_error, last_error_at, last_error_event FROM "
                                  "webhook_stats WHERE instance=?1",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, instance, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            delivered = sqlite3_column_int64(st, 0);
            failed = sqlite3_column_int64(st, 1);
            if (sqlite3_column_type(st, 2) != SQLITE_NULL) {
                char at[40];
                miaw_iso8601(at, sizeof at, sqlite3_column_int64(st, 3));
                last = json_pack("{s:s,s:s,s:s}", "message", (const char *)sqlite3_column_text(st, 2), "at", at,
                                 "eventId", (const char *)sqlite3_column_text(st, 4));
            }
        }
        sqlite3_finalize(st);
    }
    return json_pack("{s:I,s:I,s:I,s:I,s:o}", "queueDepth", pending, "delivered", delivered, "failed", failed,
                     "deadLetters", dead, "lastError", last);
}

int64_t miaw_wh_store_pending_before(miaw_wh_store *s, const char *instance, const char *url, int64_t id)
{
    sqlite3_stmt *st;
    int64_t n = 0;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT COUNT(*) FROM webhook_outbox WHERE instance=?1 AND status=0 AND status<>1 AND url=?2 "
                           "AND id<?3",
                           -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(st, 1, instance, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, url, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, id);
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static int run1(miaw_wh_store *s, const char *sql, const char *text, int64_t a, int64_t b)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
    if (text) sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
    else {
        sqlite3_bind_int64(st, 1, a);
        sqlite3_bind_int64(st, 2, b);
    }
    int rc = sqlite3_step(st) == SQLITE_DONE ? sqlite3_changes(s->db) : -1;
    sqlite3_finalize(st);
    return rc;
}

int miaw_wh_store_purge(miaw_wh_store *s, const char *instance)
{
    seqs_forget(s, instance);
    int opened = miaw_wh_store_begin(s);
    int ok = run1(s, "DELETE FROM webhook_outbox WHERE instance=?1", instance, 0, 0) >= 0 &&
             run1(s, "DELETE FROM webhook_stats WHERE instance=?1", instance, 0, 0) >= 0;
    return miaw_wh_store_end(s, opened, ok);
}

int miaw_wh_store_drop_stats(miaw_wh_store *s, const char *instance)
{
    seqs_forget(s, instance);
    return run1(s, "DELETE FROM webhook_stats WHERE instance=?1", instance, 0, 0) >= 0 ? 0 : -1;
}

int miaw_wh_store_prune(miaw_wh_store *s, int64_t delivered_before, int64_t failed_before)
{
    return run1(s,
                "DELETE FROM webhook_outbox WHERE (status=1 AND updated_at<?1) OR (status=2 AND updated_at<?2)",
                NULL, delivered_before, failed_before);
}
