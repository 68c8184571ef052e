/* core/instances/instances.h - the instance registry: WhatsApp accounts known to this server,
 * persisted in sqlite (table instances) with a session directory each; the REST routes
 * of spec 4.4.1 that manage them (create, list, get, delete). Owns miaw_instance
 * records; the protocol engine attaches its per-instance state through `engine`. */
#ifndef MIAW_INSTANCES_H
#define MIAW_INSTANCES_H
#include <jansson.h>

#include "base/config.h"
#include "bus/events.h"
#include "http/router.h"
#include "base/storage.h"

typedef enum {
    MIAW_ST_DISCONNECTED,
    MIAW_ST_CONNECTING,
    MIAW_ST_QR,
    MIAW_ST_CONNECTED,
    MIAW_ST_LOGGED_OUT,
    MIAW_ST__COUNT
} miaw_inst_state;

typedef struct miaw_instance {
    char id[65];
    int64_t created_ms;
    char *webhook_url;       /* NULL = none (the global default applies) */
    json_t *webhook_events;  /* array of names; empty = all */
    int webhook_enabled;
    miaw_inst_state state;
    char *state_reason;
    void *engine;            /* protocol engine state, owned by the engine */
    struct miaw_inst_json_cache *json_cache; /* owned by the registry (instances.c): the
                                                compact text of miaw_instance_json */
} miaw_instance;

typedef struct miaw_instances miaw_instances;

/* cfg, db, bus borrowed. Loads every persisted instance. NULL with err on failure. */
miaw_instances *miaw_instances_open(const miaw_config *cfg, miaw_storage *db, miaw_bus *bus, char *err,
                                    size_t errlen);
void miaw_instances_free(miaw_instances *r);
/* registers the core routes of the registry; 0 or -1 */
int miaw_instances_routes(miaw_instances *r, miaw_router *rt, char *err, size_t errlen);
miaw_instance *miaw_instances_find(miaw_instances *r, const char *id);
size_t miaw_instances_count(const miaw_instances *r);
/* {"total":N,"disconnected":..,...}; new reference */
json_t *miaw_instances_state_counts(const miaw_instances *r);
/* the API object of spec 4.4.1; new reference */
json_t *miaw_instance_json(const miaw_instances *r, const miaw_instance *in);
/* the same object as compact JSON text (json_dumpb, JSON_COMPACT), kept with the instance
 * and rebuilt when a field it shows differs from the one it was made of (so a field changed
 * anywhere, webhookEvents in place included, is seen); owned by in, valid until the next
 * call for in or its removal. NULL when it cannot be built (out of memory). */
const char *miaw_instance_json_text(const miaw_instances *r, miaw_instance *in, size_t *len);
const char *miaw_inst_state_name(miaw_inst_state s);
/* 1 when id is 1-64 of [A-Za-z0-9_-] */
int miaw_instance_id_valid(const char *id);
/* persists a new webhook config (url may be NULL, events stolen); 0 or -1 */
int miaw_instance_set_webhook(miaw_instances *r, miaw_instance *in, const char *url, json_t *events, int enabled);
/* DELETE /instances/{id} first unlinks the device from the phone through fn (the engine's
 * miaw_engine_unlink semantics: 0 = done_cb(done_ud, ok, why) runs once later, else
 * nothing to unlink now), unless the request says ?keepSession=true. udata borrowed. */
typedef void (*miaw_inst_unlink_done)(void *done_ud, int ok, const char *why);
typedef int (*miaw_inst_unlink_fn)(void *udata, miaw_instance *in, miaw_inst_unlink_done done, void *done_ud);
void miaw_instances_set_unlink(miaw_instances *r, miaw_inst_unlink_fn fn, void *udata);
/* sets state + reason, persists, emits `connection` (webhook) */
void miaw_instance_set_state(miaw_instances *r, miaw_instance *in, miaw_inst_state s, const char *reason);
#endif
