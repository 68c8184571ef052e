/* core/webhooks/webhooks.h - the webhook module: subscribes to the event bus and writes every
 * webhook event of an instance (spec 5.1, filtered by its webhookEvents and
 * webhookEnabled) into the durable outbox before delivery, drives the dispatcher, and
 * serves the routes of spec 4.4.7 plus deliveries, replay and status. Owns the outbox
 * store, the dispatcher, its bus subscriptions and suspended test requests. */
#ifndef MIAW_WEBHOOKS_H
#define MIAW_WEBHOOKS_H
#include <uv.h>

#include "base/config.h"
#include "bus/events.h"
#include "instances/instances.h"
#include "http/router.h"
#include "base/storage.h"

typedef struct miaw_webhooks miaw_webhooks;

/* Everything borrowed must outlive the module; secret is copied. Creates the outbox
 * tables, registers the routes on rt (owner NULL), subscribes to the bus and resumes
 * pending deliveries. NULL with a message on failure. */
miaw_webhooks *miaw_webhooks_new(uv_loop_t *loop, const miaw_config *cfg, miaw_storage *db, miaw_bus *bus,
                                 miaw_instances *inst, const char *secret, miaw_router *rt, char *err, size_t errlen);
/* Answers suspended test requests (503), stops deliveries (their rows stay pending for
 * the next start) and closes handles; call while the loop can still run close callbacks. */
void miaw_webhooks_free(miaw_webhooks *w);
#endif
