/* core/http/events_stream.h - GET {api_prefix}/events: the bus's public events (those
 * webhooks carry) as Server-Sent Events, filtered by instance and event type, resumable:
 * an event kept in the webhook outbox carries the outbox row id as its SSE `id`, and a
 * client that comes back with `Last-Event-ID` (header, or ?lastEventId=) first gets every
 * outbox event after it, then the live ones. The same route speaks WebSocket to an HTTP/1.1
 * Upgrade (events_ws.c). Owns the hub, its bus subscription, its timer
 * and the list of open streams (each stream lives in its h2o request's pool). */
#ifndef MIAW_EVENTS_STREAM_H
#define MIAW_EVENTS_STREAM_H
#include <stddef.h>
#include <uv.h>

#include "base/config.h"
#include "base/storage.h"
#include "bus/events.h"
#include "http/http.h"
#include "http/router.h"

typedef struct miaw_events_stream miaw_events_stream;

/* subscribes to the bus (after the webhook module, so an event's outbox row exists when it
 * is streamed) and registers the route; exists tells whether an instance id exists (the
 * ?instanceId filter); everything borrowed must outlive the hub.
 * NULL with err on failure. */
miaw_events_stream *miaw_events_stream_new(uv_loop_t *loop, const miaw_config *cfg, miaw_bus *bus, miaw_storage *db,
                                           miaw_instance_exists_fn exists, void *exists_ud, miaw_router *rt, char *err,
                                           size_t errlen);
/* open streams (the metrics gauge); ud is the hub */
size_t miaw_events_stream_clients(void *ud);
/* after the HTTP server is freed: streams still listed are detached; the timer closes on
 * the next loop run */
void miaw_events_stream_free(miaw_events_stream *s);
#endif
