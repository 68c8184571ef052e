/* core/webhooks/webhook_dispatch.h - the webhook delivery engine on the server loop: lanes (one
 * per instance and target URL, one request in flight each, so an instance's events
 * arrive in order), libcurl multi on the loop (webhook_curl.h), global and per-host
 * concurrency caps, the retry schedule and dead-lettering, latency statistics. Reads
 * and updates rows through the outbox store; keeps in memory only the lanes with
 * pending rows and the row in flight of each. Owns its curl handles and uv handles. */
#ifndef MIAW_WEBHOOK_DISPATCH_H
#define MIAW_WEBHOOK_DISPATCH_H
#include <jansson.h>
#include <uv.h>

#include "base/config.h"
#include "webhooks/webhook_policy.h"
#include "webhooks/webhook_store.h"

typedef struct miaw_wh_dispatch miaw_wh_dispatch;

/* the outcome of one attempt, for observers (the test endpoint); all borrowed */
typedef struct miaw_wh_outcome {
    const miaw_wh_row *row; /* the row as it was sent (attempts = before this one) */
    int attempt;            /* 1-based number of this attempt */
    int delivered, dead;    /* dead: no further attempt (dead-lettered) */
    int http_status;        /* 0 when no HTTP answer */
    const char *error;      /* NULL on success */
    double latency_ms;
    int64_t next_at;        /* next attempt (ms epoch) when neither delivered nor dead */
} miaw_wh_outcome;
typedef void (*miaw_wh_outcome_fn)(void *ud, const miaw_wh_outcome *o);

/* loop, store, cfg, policy borrowed (must outlive the dispatcher); secret copied. Every
 * address a delivery connects to is checked against policy. Discovers the lanes with
 * pending rows (restart resume). NULL on failure. */
miaw_wh_dispatch *miaw_wh_dispatch_new(uv_loop_t *loop, miaw_wh_store *store, const miaw_config *cfg,
                                       const miaw_wh_policy *policy, const char *secret, miaw_wh_outcome_fn fn,
                                       void *ud);
/* cancels what is in flight (those rows stay pending) and closes the handles; the
 * memory of uv handles is released by their close callbacks on the next loop run. */
void miaw_wh_dispatch_free(miaw_wh_dispatch *d);
/* lanes of an instance for which blocked(ud, instance) is 1 do not start requests (the
 * rows of a deleted instance of the same id are being deleted); fn may be NULL */
void miaw_wh_dispatch_set_gate(miaw_wh_dispatch *d, int (*blocked)(void *ud, const char *instance), void *ud);
/* a row became pending in this lane (new event or replay): schedule it */
void miaw_wh_dispatch_wake(miaw_wh_dispatch *d, const char *instance, const char *url);
/* forgets an instance: aborts its requests in flight and drops its lanes and stats */
void miaw_wh_dispatch_drop_instance(miaw_wh_dispatch *d, const char *instance);
/* {"inFlight","latencyUs":{"p50","p99","samples"},"lagMs":{"p50","p99","samples"}} of
 * an instance (latency: HTTP round trip of successful deliveries in microseconds; lag:
 * event creation to delivery in ms), over its last 512 deliveries in this process. */
json_t *miaw_wh_dispatch_stats(miaw_wh_dispatch *d, const char *instance);
/* total requests in flight */
int miaw_wh_dispatch_inflight(const miaw_wh_dispatch *d);
#endif
