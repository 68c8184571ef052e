/* core/engine/engine_appstate.h - app-state sync (syncd) in the engine, internal:
 * engine_appstate_store.c (sqlite: the sync keys the phone shared, and per collection
 * the version, LTHash and index MAC -> value MAC map), engine_appstate.c (key shares
 * and key requests, fetches with the w:sync:app:state IQ, server_sync notifications, full
 * resyncs, the queue), engine_appstate_in.c (applying a fetch answer: snapshots and
 * external mutations downloaded, patches verified, mutations handed to the plugin host)
 * and engine_appstate_out.c (outgoing patches). Not a public interface. */
#ifndef MIAW_ENGINE_APPSTATE_H
#define MIAW_ENGINE_APPSTATE_H
#include <jansson.h>
#include <stdint.h>

#include "base/storage.h"
#include "wa/appstate.h"
#include "wa/node.h"

struct eng_inst;

/* ---- engine_appstate_store.c; 0 or -1 (logged) unless said otherwise ---- */
int eas_store_init(miaw_storage *db);
int eas_key_put(miaw_storage *db, const char *inst, const uint8_t *id, size_t id_len, const uint8_t data[32],
                int64_t ts);
/* 0 and data, MIAW_E_NOTFOUND, or -1 */
int eas_key_get(miaw_storage *db, const char *inst, const uint8_t *id, size_t id_len, uint8_t data[32]);
/* the newest key (highest timestamp, then the last stored): 0, MIAW_E_NOTFOUND or -1 */
int eas_key_latest(miaw_storage *db, const char *inst, uint8_t *id, size_t *id_len, uint8_t data[32]);
long eas_key_count(miaw_storage *db, const char *inst);
/* the stored state of a collection into st (initialised by the caller, replaced): 0; 1
 * when a row was corrupt (st is then empty: the collection needs a full resync); -1 */
int eas_state_load(miaw_storage *db, const char *inst, const char *name, miaw_as_state *st);
/* writes what changed from old to cur (both sorted maps) and the version and hash, in
 * one savepoint */
int eas_state_save(miaw_storage *db, const char *inst, const char *name, const miaw_as_state *old,
                   const miaw_as_state *cur);
void eas_purge(miaw_storage *db, const char *inst);

/* ---- engine_appstate.c ---- */
typedef struct eng_as eng_as;
/* the receiving side of a plugin host: every verified incoming mutation as
 * {collection, operation, index, value, timestamp, version} (borrowed for the call) */
typedef void (*eng_as_tap_fn)(void *ud, const char *inst, const json_t *mutation);
/* an outgoing patch's outcome: MIAW_OK + {collection, version}; MIAW_E_STATE (not
 * connected / no key / closed), MIAW_E_IO (refused), MIAW_E_TIMEOUT, with detail */
typedef void (*eng_as_push_cb)(int status, const json_t *result, const char *detail, void *ud);

void eng_as_free(struct eng_inst *ei);
/* logged in: catch up on every collection when keys are known */
void eng_as_on_login(struct eng_inst *ei);
/* a decrypted Message from the account's own device (padding removed): key shares */
void eng_as_on_own_message(struct eng_inst *ei, const uint8_t *msg, size_t len);
/* <notification type="server_sync"> */
void eng_as_on_server_sync(struct eng_inst *ei, const miaw_node *n);
/* the connection is gone (after its IQ callbacks ran) */
void eng_as_on_conn_lost(struct eng_inst *ei);
/* An outgoing patch from JSON {collection, mutations: [{operation: "set" | "remove",
 * index: [strings], value: SyncActionValue JSON, version?: int}]} (borrowed). 0: cb runs
 * once, later (queued behind fetches and earlier patches; a stale base version is
 * fetched and the patch made again, up to 3 times). Errors, no callback: MIAW_E_INVAL
 * with *field ("collection", "mutations", "mutations[i].index", ...), MIAW_E_STATE (not
 * connected, or no app-state key received yet), MIAW_E_NOMEM. */
int eng_as_push(struct eng_inst *ei, const json_t *patch, eng_as_push_cb cb, void *ud, const char **field, char *err,
                size_t errlen);
/* Fetch collection name (NULL = all) now; full: forget the local state first (a full
 * resync). 0, MIAW_E_INVAL (unknown collection), MIAW_E_STATE (not connected). */
int eng_as_sync(struct eng_inst *ei, const char *name, int full);
/* {keys: n, collections: {name: {version, hash (hex), entries, status}}} (new reference);
 * ei may be NULL (an instance without a running engine: from the database) */
json_t *eng_as_state_json(miaw_storage *db, const char *inst, struct eng_inst *ei);

/* ---- shared by engine_appstate.c and engine_appstate_out.c ---- */
#include "engine/engine_int.h"

#define NCOLL 5 /* miaw_as_collections */
#define MAX_RESYNC 2
#define MAX_PUSH_TRIES 3
#define MAX_MUTATIONS 100

enum { CS_OK, CS_BLOCKED, CS_ERROR };

typedef struct as_push {
    json_t *patch; /* {collection, mutations} (owned) */
    int ci;
    eng_as_push_cb cb;
    void *ud;
    int tries;
    struct as_push *next;
} as_push;

struct eng_as {
    eng_inst *ei;
    miaw_as_state st[NCOLL];
    int loaded[NCOLL], status[NCOLL], resyncs[NCOLL], fetched[NCOLL];
    unsigned fetch_mask; /* collections to fetch */
    int busy;            /* an IQ is in flight */
    as_push *q;          /* patches waiting, oldest first */
    as_push *inflight;
    miaw_as_state next;  /* the state after the patch in flight */
    int key_requested;
    char err[NCOLL][160];
    struct eng_as_job *job; /* a fetch answer being applied (engine_appstate_in.c, owned) */
    uv_timer_t *kick_timer; /* starts a queued patch from the loop (made on the first push; closed at free) */
};
typedef struct eng_as_job eng_as_job;

eng_as *eas_get(eng_inst *ei);          /* made on first use; NULL without memory */
miaw_as_state *eas_coll(eng_as *as, int ci); /* loaded from the database on first use */
int eas_coll_index(const char *name);        /* -1 when unknown */
void eas_push_free(as_push *p);
void eas_kick(eng_as *as);                   /* starts the next fetch or patch if idle */
void eas_resync(eng_as *as, int ci, const char *why);
void eas_send_push(eng_as *as);
int eas_key_fn(void *ud, const uint8_t *id, size_t len, uint8_t kd[32]); /* ud = the eng_inst */
void eas_request_key(eng_as *as, const uint8_t *id, size_t len);
/* engine_appstate_in.c: the fetch IQ's callback (ud = as), and the end of a job in progress */
void eas_on_fetch(miaw_wa_conn *c, const miaw_node *reply, int err, void *ud);
void eas_job_cancel(eng_as *as);
int eas_push_encode(eng_as *as, as_push *p, uint8_t **out, size_t *out_len, char *err, size_t errlen,
                    const uint8_t *key_id, size_t key_id_len, const uint8_t key_data[32], miaw_as_state *st);
#endif
