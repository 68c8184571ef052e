/* core/server.c - `miaw serve` wiring and lifecycle (see server.h): the core routes that
 * belong to no other module (health, effective config, plugin list) live here too. */
#include "server.h"

#include "engine/engine.h" /* protocol engine (instance connections) */
#include "bus/events.h"
#include "http/http.h"
#include "instances/instances.h"
#include "base/log.h"
#include "base/memstats.h"
#include <malloc.h>
#include "http/openapi.h"
#include "http/metrics.h"
#include "http/events_stream.h"
#include "http/dashboard.h"
#include "base/metrics.h"
#include "plugins/plugin_host.h"
#include "plugins/services.h"
#include "http/router.h"
#include "base/secrets.h"
#include "base/storage.h"
#include "http/apikeys.h"
#include "base/util.h"
#include "webhooks/webhooks.h"

#include <openssl/sha.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct miaw_server {
    miaw_config *cfg;
    uv_loop_t *loop;
    miaw_storage db;
    miaw_bus *bus;
    miaw_router router;
    miaw_instances *inst;
    miaw_webhooks *wh;
    miaw_events_stream *events; /* GET /events (after wh: its bus subscription follows the outbox's) */
    miaw_engine *engine; /* protocol engine */
    miaw_plugin_host *plugins;
    miaw_http *http;
    char *api_key, *webhook_secret;
    miaw_apikeys *keys; /* scoped API keys (http/apikeys.c) */
    uint64_t started_mono;
    uv_signal_t sigint, sigterm, sigusr1;
    uv_timer_t trim; /* gives free heap back to the system every minute */
} miaw_server;

/* the events of spec 5.1, emitted by the core and its protocol engine */
static const struct { const char *type, *desc; uint32_t flags; } CORE_EVENTS[] = {
    {"qr", "A QR code to scan is available: {qr}", MIAW_EVENT_F_WEBHOOK},
    {"ready", "The instance is connected and logged in: {instanceId, connectedAt}", MIAW_EVENT_F_WEBHOOK},
    {"message", "A message was received (or sent from another device of the account)", MIAW_EVENT_F_WEBHOOK},
    /* message_edit, message_delete, message_reaction (and message_ack) are declared by the
     * messages plugin, which derives them from `message` and receipts; `presence` by the
     * presence plugin, from the <presence> and <chatstate> stanzas */
    {"connection", "The connection state changed: {state, reason}", MIAW_EVENT_F_WEBHOOK},
    {"disconnected", "The instance was disconnected: {reason}", MIAW_EVENT_F_WEBHOOK},
    {"reconnecting", "The instance is reconnecting: {attempt}", MIAW_EVENT_F_WEBHOOK},
    {"error", "An instance error: {error}", MIAW_EVENT_F_WEBHOOK},
    {"test", "Sent by POST /instances/{instanceId}/webhook/test", MIAW_EVENT_F_WEBHOOK},
    {"instance.created", "internal: an instance was created", 0},
    {"instance.deleted", "internal: an instance is being deleted; drop its state", 0},
};

static int exists_cb(void *ud, const char *id) { return miaw_instances_find(ud, id) != NULL; }

static json_t *state_counts_cb(void *ud) { return miaw_instances_state_counts(ud); }

static json_t *instance_json_cb(void *ud, const char *id)
{
    miaw_instance *in = miaw_instances_find(ud, id);
    return in ? miaw_instance_json(ud, in) : NULL;
}

/* ------------------------------------------------------------------ routes */
static int h_health(miaw_req *q, void *ud)
{
    miaw_server *s = ud;
    json_t *d = json_pack("{s:s,s:s,s:I,s:o,s:o}", "status", "ok", "version", MIAW_VERSION, "uptime",
                          (json_int_t)((miaw_mono_ms() - s->started_mono) / 1000), "instances",
                          miaw_instances_state_counts(s->inst), "plugins", miaw_plugin_host_list(s->plugins));
    miaw_req_reply_data(q, 200, d);
    return MIAW_OK;
}

static int h_config(miaw_req *q, void *ud)
{
    miaw_server *s = ud;
    json_t *d = miaw_config_public_json(s->cfg);
    /* show which secret is in effect without revealing it */
    unsigned char md[SHA256_DIGEST_LENGTH];
    char hex[2 * SHA256_DIGEST_LENGTH + 1];
    SHA256((const unsigned char *)s->webhook_secret, strlen(s->webhook_secret), md);
    miaw_hex(hex, md, sizeof md);
    hex[16] = 0;
    json_object_set_new(d, "webhookSecretSha256", json_string(hex));
    miaw_req_reply_data(q, 200, d);
    return MIAW_OK;
}

static int h_plugins(miaw_req *q, void *ud)
{
    miaw_server *s = ud;
    miaw_req_reply_data(q, 200, miaw_plugin_host_list(s->plugins));
    return MIAW_OK;
}

static int core_routes(miaw_server *s, char *err, size_t errlen)
{
    const char *health_ex = "{\"status\":\"ok\",\"version\":\"" MIAW_VERSION "\",\"uptime\":12,\"instances\":"
                            "{\"total\":1,\"disconnected\":1,\"connecting\":0,\"qr\":0,\"connected\":0,\"logged_out\":0}}";
    const miaw_route health = {MIAW_ROUTE_INIT, .method = "GET", .path = "/health", .flags = MIAW_ROUTE_PUBLIC,
                               .handler = h_health, .udata = s, .operation_id = "getHealth", .summary = "API health check",
                               .description = "Status, version, uptime in seconds and instances by state. No auth; "
                                              "also served at the root (/health).",
                               .tag = "Health", .response_example = health_ex};
    const miaw_route cfg = {MIAW_ROUTE_INIT, .method = "GET", .path = "/config", .handler = h_config, .udata = s,
                            .operation_id = "getConfig", .summary = "Effective server settings (no secrets)",
                            .tag = "Health"};
    const miaw_route plugins = {MIAW_ROUTE_INIT, .method = "GET", .path = "/plugins", .handler = h_plugins, .udata = s,
                                .operation_id = "listPlugins", .summary = "Loaded plugins", .tag = "Health"};
    miaw_route health_root = health;
    health_root.operation_id = "getHealthRoot";
    if (miaw_router_add(&s->router, &health, 0, NULL, err, errlen) ||
        miaw_router_add(&s->router, &health_root, MIAW_ROUTE_ROOT, NULL, err, errlen) ||
        miaw_router_add(&s->router, &cfg, 0, NULL, err, errlen) ||
        miaw_router_add(&s->router, &plugins, 0, NULL, err, errlen))
        return -1;
    if (miaw_instances_routes(s->inst, &s->router, err, errlen) != 0) return -1;
    if (miaw_apikeys_routes(s->keys, &s->router, err, errlen) != 0) return -1;
    return miaw_openapi_routes(&s->router, s->bus, s->cfg, err, errlen);
}

/* instance routes a scoped API key never reaches, whatever its permissions: deleting the
 * instance and its webhook settings (a webhook URL decides where the data goes) */
static void admin_only(miaw_router *rt)
{
    static const char *const R[][2] = {{"DELETE", "/instances/{instanceId}"},
                                       {"POST", "/instances/{instanceId}/logout"},
                                       {"GET", "/instances/{instanceId}/webhook"},
                                       {"PUT", "/instances/{instanceId}/webhook"},
                                       {"POST", "/instances/{instanceId}/webhook/test"},
                                       {"GET", "/instances/{instanceId}/webhook/deliveries"},
                                       {"POST", "/instances/{instanceId}/webhook/deliveries/{eventId}/retry"}};
    for (size_t i = 0; i < sizeof R / sizeof R[0]; i++) miaw_router_set_flags(rt, R[i][0], R[i][1], MIAW_ROUTE_ADMIN);
}

/* ------------------------------------------------------------------ lifecycle */
static void on_signal(uv_signal_t *h, int sig)
{
    miaw_server *s = h->data;
    MIAW_INFO("server", "signal %d: shutting down", sig);
    miaw_http_close(s->http);
    uv_stop(s->loop);
}

/* SIGUSR1: one log line with where the memory goes (memstats.h), per instance too */
static void on_sigusr1(uv_signal_t *h, int sig)
{
    (void)sig;
    miaw_server *s = h->data;
    miaw_memstats m;
    char line[512];
    miaw_memstats_read(&m);
    MIAW_INFO("server", "memory: %s", miaw_memstats_format(&m, (long)miaw_instances_count(s->inst), line, sizeof line));
    /* what of the resident set is free heap malloc kept: give it back, measure again */
    uint64_t t0 = uv_hrtime();
    malloc_trim(0);
    double ms = (double)(uv_hrtime() - t0) / 1e6;
    miaw_memstats_read(&m);
    MIAW_INFO("server", "memory after malloc_trim (%.1f ms): %s", ms,
              miaw_memstats_format(&m, (long)miaw_instances_count(s->inst), line, sizeof line));
}

/* A burst (thousands of handshakes, a history sync) leaves free heap malloc keeps; idle
 * accounts should not pay for it. A fraction of a millisecond per call at 300 instances. */
static void on_trim(uv_timer_t *t)
{
    (void)t;
    malloc_trim(0);
}

/* glibc hands the free top of the heap back to the kernel as soon as it passes 128 KiB
 * (M_TRIM_THRESHOLD). Under h2 load the top swings past that every few dozen requests (h2o's
 * per-connection buffers come and go there), so the heap shrank with a brk and grew back
 * page by page: 0.21 page faults per h2c request, ~2 µs of kernel time per request more than
 * the bare h2o handler (bench/http prints faults, system time and switches per request).
 * The heap keeps up to 8 MiB free at its top now, and allocations up to 1 MiB come from it;
 * the minute trim timer below still gives the free pages back. Fixing either threshold also
 * stops glibc's dynamic raise of them. A user's GLIBC_TUNABLES malloc settings win. */
static void malloc_tuning(void)
{
    const char *t = getenv("GLIBC_TUNABLES");
    if (t && (strstr(t, "glibc.malloc.trim_threshold") || strstr(t, "glibc.malloc.mmap_threshold"))) return;
    mallopt(M_TRIM_THRESHOLD, 8 << 20);
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

int miaw_server_run(miaw_config *cfg)
{
    char err[1024];
    miaw_log_set_level_name(cfg->log_level);
    miaw_log_set_json(cfg->log_json);
    signal(SIGPIPE, SIG_IGN);
    malloc_tuning();
    miaw_server s = {0};
    s.cfg = cfg;
    s.started_mono = miaw_mono_ms();
    s.loop = uv_default_loop();
    int rc = 1, gen = 0;
    if (miaw_storage_open(&s.db, cfg->data_dir, err, sizeof err) != 0) {
        MIAW_ERR("server", "%s", err);
        return 1;
    }
    if (miaw_secret_resolve(cfg->data_dir, "api_key", cfg->api_key, &s.api_key, &gen, err, sizeof err) != 0) {
        MIAW_ERR("server", "%s", err);
        goto out;
    }
    if (gen)
        fprintf(stderr, "\n  Generated an API key (stored in %s/api_key, shown only now):\n\n    %s\n\n", cfg->data_dir,
                s.api_key);
    if (miaw_secret_resolve(cfg->data_dir, "webhook_secret", cfg->webhook_secret, &s.webhook_secret, &gen, err,
                            sizeof err) != 0) {
        MIAW_ERR("server", "%s", err);
        goto out;
    }
    if (gen) MIAW_INFO("server", "generated a webhook signing secret, stored in %s/webhook_secret", cfg->data_dir);
    s.bus = miaw_bus_new();
    for (size_t i = 0; i < sizeof CORE_EVENTS / sizeof CORE_EVENTS[0]; i++)
        miaw_bus_declare(s.bus, NULL, CORE_EVENTS[i].type, CORE_EVENTS[i].flags, CORE_EVENTS[i].desc, err, sizeof err);
    s.inst = miaw_instances_open(cfg, &s.db, s.bus, err, sizeof err);
    if (!s.inst) {
        MIAW_ERR("server", "%s", err);
        goto out;
    }
    s.keys = miaw_apikeys_new(&s.db, err, sizeof err);
    if (!s.keys) {
        MIAW_ERR("server", "%s", err);
        goto out;
    }
    if (core_routes(&s, err, sizeof err) != 0) {
        MIAW_ERR("server", "core routes: %s", err);
        goto out;
    }
    s.wh = miaw_webhooks_new(s.loop, cfg, &s.db, s.bus, s.inst, s.webhook_secret, &s.router, err, sizeof err);
    if (!s.wh) {
        MIAW_ERR("server", "webhooks: %s", err);
        goto out;
    }
    s.events = miaw_events_stream_new(s.loop, cfg, s.bus, &s.db, exists_cb, s.inst, &s.router, err, sizeof err);
    if (!s.events) {
        MIAW_ERR("server", "event stream: %s", err);
        goto out;
    }
    miaw_metrics_src ms = {.cfg = cfg, .state_counts = state_counts_cb, .state_ud = s.inst, .db = &s.db,
                           .started_mono = s.started_mono,
                           .stream_clients = miaw_events_stream_clients, .stream_ud = s.events};
    if (miaw_metrics_routes(&s.router, &ms, err, sizeof err) != 0 ||
        miaw_dashboard_routes(&s.router, cfg, err, sizeof err) != 0) {
        MIAW_ERR("server", "metrics / dashboard routes: %s", err);
        goto out;
    }
    admin_only(&s.router);
    /* protocol engine: after the registry and the webhook subscriber (it emits at start) */
    s.engine = miaw_engine_new(s.loop, cfg, &s.db, s.bus, s.inst, &s.router, NULL, err, sizeof err);
    if (!s.engine) {
        MIAW_ERR("server", "engine: %s", err);
        goto out;
    }
    miaw_plugin_services svc = {.loop = s.loop, .router = &s.router, .bus = s.bus, .db = &s.db,
                                .instance_json = instance_json_cb, .instance_udata = s.inst};
    miaw_engine_services_fill(s.engine, &svc.engine);
    s.plugins = miaw_plugin_host_new(&svc);
    miaw_plugin_host_load_all(s.plugins, cfg->plugin_dir, cfg->plugins_enabled.v, cfg->plugins_enabled.n,
                              cfg->plugin_config);
    s.http = miaw_http_new(s.loop, cfg, &s.router, s.api_key, exists_cb, s.inst);
    miaw_http_set_keys(s.http, s.keys);
    int port = 0;
    if (miaw_http_listen(s.http, &port, err, sizeof err) != 0) {
        MIAW_ERR("server", "%s", err);
        goto out;
    }
    MIAW_INFO("server", "miaw %s listening on %s://%s:%d%s (%zu instances, %zu routes)", MIAW_VERSION,
              *cfg->tls_cert ? "https" : "http", cfg->host, port, cfg->base_path, miaw_instances_count(s.inst),
              s.router.count);
    uv_signal_init(s.loop, &s.sigint);
    uv_signal_init(s.loop, &s.sigterm);
    s.sigint.data = s.sigterm.data = &s;
    uv_signal_start(&s.sigint, on_signal, SIGINT);
    uv_signal_start(&s.sigterm, on_signal, SIGTERM);
    uv_signal_init(s.loop, &s.sigusr1);
    s.sigusr1.data = &s;
    uv_signal_start(&s.sigusr1, on_sigusr1, SIGUSR1);
    uv_timer_init(s.loop, &s.trim);
    uv_timer_start(&s.trim, on_trim, 60000, 60000);
    uv_unref((uv_handle_t *)&s.trim);
    uv_run(s.loop, UV_RUN_DEFAULT);
    rc = 0;
out:
    /* first the clients: open connections end and pending requests are aborted while the
     * plugins that own them are still loaded */
    if (s.http && miaw_http_drain(s.http, 2000) != 0) MIAW_WARN("server", "connections still open after 2 s");
    miaw_plugin_host_free(s.plugins);
    s.plugins = NULL;
    miaw_engine_free(s.engine); /* protocol engine; its handles close in the runs below */
    miaw_webhooks_free(s.wh);
    /* h2o closes its own handles in context dispose; everything else is closed here */
    miaw_http_free(s.http);
    s.http = NULL;
    miaw_events_stream_free(s.events); /* its streams went with the HTTP server */
    uv_run(s.loop, UV_RUN_NOWAIT);
    uv_walk(s.loop, close_walk, NULL);
    uv_run(s.loop, UV_RUN_DEFAULT);
    miaw_router_free(&s.router);
    miaw_apikeys_free(s.keys);
    miaw_instances_free(s.inst);
    miaw_bus_free(s.bus);
    miaw_metrics_free();
    miaw_storage_close(&s.db);
    free(s.api_key);
    free(s.webhook_secret);
    uv_loop_close(s.loop);
    return rc;
}
