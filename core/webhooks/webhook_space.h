/* core/webhooks/webhook_space.h - the disk budget of the webhook outbox: per-instance quota
 * counters (undelivered events and payload bytes, i.e. pending rows and dead letters),
 * read from the outbox once at start and kept up to date by the webhook module (so no
 * quota check scans the table), the deletion of a deleted instance's rows and the giving
 * back of disk space (row deletes and sqlite incremental vacuum in slices of a few ms on
 * a timer, then a WAL truncation, so the loop is never held for long). Owns its counters,
 * purge jobs and timer; the sqlite handle and the checkpointer are borrowed. Loop thread
 * only. */
#ifndef MIAW_WEBHOOK_SPACE_H
#define MIAW_WEBHOOK_SPACE_H
#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>
#include <uv.h>

#include "base/checkpoint.h"
#include "webhooks/webhook_store.h"

typedef struct miaw_wh_space miaw_wh_space;

/* Switches the database to incremental auto-vacuum when it is not (a one-time VACUUM,
 * logged), reads the undelivered rows of every instance (the outbox tables must exist),
 * then answers quota questions against max_events / max_bytes per instance. ckpt: the
 * checkpointer of db (its worker's passes would make the WAL truncation BUSY), NULL when
 * it has none. NULL on failure. */
miaw_wh_space *miaw_wh_space_new(uv_loop_t *loop, sqlite3 *db, miaw_checkpointer *ckpt, int64_t max_events,
                                 int64_t max_bytes);
/* closes the timer (its memory is released by the loop's close callback) */
void miaw_wh_space_free(miaw_wh_space *s);
/* 1 when `events` more rows holding `bytes` fit within the instance's quota, else 0 */
int miaw_wh_space_fits(miaw_wh_space *s, const char *instance, int64_t events, int64_t bytes);
/* rows stored (positive) or no longer counted (negative: delivered) */
void miaw_wh_space_add(miaw_wh_space *s, const char *instance, int64_t events, int64_t bytes);
/* the instance's rows are gone (purge): its counters restart at zero */
void miaw_wh_space_forget(miaw_wh_space *s, const char *instance);
/* call BEFORE the update: the delivered rows of an event about to become pending again
 * are counted again; 0 or -1 */
int miaw_wh_space_replaying(miaw_wh_space *s, const char *instance, const char *event_id);
/* recounts an instance from the table (after an error left the counters unsure) */
void miaw_wh_space_reload(miaw_wh_space *s, const char *instance);
void miaw_wh_space_reload_all(miaw_wh_space *s);
/* call BEFORE deleting dead letters older than failed_before: they stop counting; 0 or -1 */
int miaw_wh_space_pruning(miaw_wh_space *s, int64_t failed_before);
/* an event refused for lack of room: returns 1 for the first of an episode (to log it;
 * the episode ends when something fits again), 0 after */
int miaw_wh_space_dropped(miaw_wh_space *s, const char *instance);
/* {"events","bytes","maxEvents","maxBytes","droppedOverQuota"} of an instance; new ref */
json_t *miaw_wh_space_json(miaw_wh_space *s, const char *instance);
/* drops delivered rows older than delivered_before and dead letters older than
 * failed_before (ms epoch), uncounting the dead letters, then reclaims the space; rows
 * removed or -1 */
int miaw_wh_space_prune(miaw_wh_space *s, miaw_wh_store *store, int64_t delivered_before, int64_t failed_before);
/* an instance was deleted: its outbox rows (those that exist now) are deleted in slices
 * of a few ms on the timer, then the space is reclaimed; its counters restart at zero.
 * 0 or -1. */
int miaw_wh_space_purge(miaw_wh_space *s, const char *instance);
/* starts a purge for every instance with outbox rows for which exists(ud, id) is 0 (a
 * purge cut by a stop or a crash); 0 or -1 */
int miaw_wh_space_purge_orphans(miaw_wh_space *s, int (*exists)(void *ud, const char *instance), void *ud);
/* 1 while rows of a deleted instance of that id are being deleted (its lanes wait) */
int miaw_wh_space_purging(miaw_wh_space *s, const char *instance);
/* rows were deleted: give the free pages back to the file system in steps of a few MB
 * per loop turn, then truncate the WAL */
void miaw_wh_space_reclaim(miaw_wh_space *s);
#endif
