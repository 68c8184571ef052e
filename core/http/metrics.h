/* core/http/metrics.h - GET /metrics: the Prometheus text exposition of the registry in
 * base/metrics.h plus the gauges read at scrape time (instances by state, webhook queue,
 * event streams, database size, RSS, open fds, uptime). Authorized by the API key or, when
 * auth.metrics_token is set, that bearer token. Owns nothing; src is copied. */
#ifndef MIAW_HTTP_METRICS_H
#define MIAW_HTTP_METRICS_H
#include <stddef.h>
#include <stdint.h>

#include "base/config.h"
#include "base/storage.h"
#include "http/router.h"
#include <jansson.h>

typedef struct miaw_metrics_src {
    const miaw_config *cfg;   /* borrowed, outlive the route */
    /* instances by state: {"total":N,"<state>":n,...} (new reference; "total" is skipped) */
    json_t *(*state_counts)(void *ud);
    void *state_ud;
    miaw_storage *db;
    uint64_t started_mono;    /* miaw_mono_ms() at start */
    size_t (*stream_clients)(void *ud); /* open event streams (may be NULL) */
    void *stream_ud;
} miaw_metrics_src;

/* registers GET /metrics (at the root, under base_path); 0 or -1 with err */
int miaw_metrics_routes(miaw_router *rt, const miaw_metrics_src *src, char *err, size_t errlen);
#endif
