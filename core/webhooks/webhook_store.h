/* core/webhooks/webhook_store.h - the durable webhook outbox in sqlite: one row per event and
 * target URL (tables webhook_outbox, webhook_stats, created here), written before
 * delivery starts and updated after each attempt. Owns its prepared statements; the
 * sqlite handle is borrowed from the server's storage. Loop thread only. */
#ifndef MIAW_WEBHOOK_STORE_H
#define MIAW_WEBHOOK_STORE_H
#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>

enum { MIAW_WH_PENDING = 0, MIAW_WH_DELIVERED = 1, MIAW_WH_FAILED = 2 };

typedef struct miaw_wh_row {
    int64_t id;              /* outbox row id: global insertion order */
    int64_t seq;             /* per-instance sequence number (X-Miaw-Sequence) */
    int64_t created_at, next_at, updated_at, latency_ms;
    int status, attempts, last_status;
    char event_id[31], instance[65], event[65];
    char *url, *body, *last_error; /* malloc'd, freed by miaw_wh_row_clear */
    size_t body_len;
} miaw_wh_row;

typedef struct miaw_wh_store miaw_wh_store;

/* creates the tables if needed and prepares statements; db borrowed. NULL on failure. */
miaw_wh_store *miaw_wh_store_open(sqlite3 *db);
void miaw_wh_store_close(miaw_wh_store *s);
void miaw_wh_row_clear(miaw_wh_row *r);

/* opens a transaction unless one is open; returns 1 when it opened one (pass to end) */
int miaw_wh_store_begin(miaw_wh_store *s);
int miaw_wh_store_end(miaw_wh_store *s, int opened, int ok);

/* An event no webhook takes, kept for the event stream only: url "", seq 0 (the
 * per-instance sequence stays the deliveries'), already delivered (never sent, pruned like
 * delivered rows, not counted in the quota or the stats). Sets r->id. 0 or -1. */
int miaw_wh_store_journal(miaw_wh_store *s, miaw_wh_row *r);

/* next per-instance sequence number (persisted); -1 on error */
int64_t miaw_wh_store_next_seq(miaw_wh_store *s, const char *instance);
/* inserts r (status pending); sets r->id. 0 or -1 */
int miaw_wh_store_insert(miaw_wh_store *s, miaw_wh_row *r);
/* the oldest pending row of a lane (instance + url): 1 found, 0 none, -1 error */
int miaw_wh_store_head(miaw_wh_store *s, const char *instance, const char *url, int64_t *id, int64_t *next_at);
/* the oldest pending row of a lane, loaded into r (cleared first): 1, 0 none, -1 error */
int miaw_wh_store_head_row(miaw_wh_store *s, const char *instance, const char *url, miaw_wh_row *r);
/* loads a full row by id into r (cleared first); 1 found, 0 none, -1 error */
int miaw_wh_store_load(miaw_wh_store *s, int64_t id, miaw_wh_row *r);
/* records an attempt's outcome. status: DELIVERED, FAILED (dead letter) or PENDING
 * (retry at next_at). error may be NULL. 0 or -1 */
int miaw_wh_store_record(miaw_wh_store *s, const miaw_wh_row *r, int status, int attempts, int64_t next_at,
                         int http_status, const char *error, int64_t latency_ms, int64_t now);
/* the outcome of one attempt, for miaw_wh_store_record_many; row and error borrowed */
typedef struct miaw_wh_result {
    const miaw_wh_row *row;
    int status, attempts, http_status; /* as miaw_wh_store_record; http_status 0 = none */
    int64_t next_at, latency_ms;
    const char *error;                 /* NULL on success */
} miaw_wh_result;
/* records n outcomes as miaw_wh_store_record does each, inside the open transaction or
 * one of its own, with one update of the delivered / failed totals per instance (n may
 * be large: a quadratic scan over the batch's instances, fine for the few hundred
 * outcomes of one loop turn). 0, or -1 (then nothing of it is kept when it opened the
 * transaction) */
int miaw_wh_store_record_many(miaw_wh_store *s, const miaw_wh_result *v, size_t n, int64_t now);
/* counts an attempt before it is sent (attempts = its 1-based number), so that a crash
 * during delivery does not make the resend claim to be attempt 1 again; 0 or -1 */
int miaw_wh_store_mark_attempt(miaw_wh_store *s, int64_t id, int attempts, int64_t now);
/* calls fn for every (instance, url) with pending rows; 0 or -1 */
int miaw_wh_store_lanes(miaw_wh_store *s, void (*fn)(void *ud, const char *instance, const char *url), void *ud);
/* page of rows of one status (-1 = any) ordered by id, ids > after; items appended to `items`.
 * with_payload adds the parsed body. Returns the last id listed, or 0. */
int64_t miaw_wh_store_list(miaw_wh_store *s, const char *instance, int status, int64_t after, int limit,
                           int with_payload, json_t *items);
/* makes the failed/delivered rows of an event pending again (attempts 0, due now);
 * url non-NULL re-targets them. Returns rows reset, 0 when none exists, -2 when the
 * event exists but is pending, -1 on error. */
int miaw_wh_store_retry(miaw_wh_store *s, const char *instance, const char *event_id, const char *url,
                        int64_t now);
/* counters of an instance: {"pending","delivered","failed","lastError"}; new reference */
json_t *miaw_wh_store_counts(miaw_wh_store *s, const char *instance);
/* pending rows of one lane ahead of row id (for the test endpoint) */
int64_t miaw_wh_store_pending_before(miaw_wh_store *s, const char *instance, const char *url, int64_t id);
/* deletes every row of an instance; 0 or -1 */
int miaw_wh_store_purge(miaw_wh_store *s, const char *instance);
/* deletes the counters and sequence of an instance (its rows are deleted apart); 0 or -1 */
int miaw_wh_store_drop_stats(miaw_wh_store *s, const char *instance);
/* drops delivered rows older than delivered_before and dead letters older than
 * failed_before (ms); rows removed or -1 */
int miaw_wh_store_prune(miaw_wh_store *s, int64_t delivered_before, int64_t failed_before);
#endif
