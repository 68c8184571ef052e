/* core/http/metrics.c - GET /metrics (see metrics.h): authorization (API key or the
 * metrics token), the gauges read at scrape time and the registry's counters and
 * histograms, in the Prometheus text format 0.0.4. */
#include "http/metrics.h"

#include "base/log.h"
#include "base/metrics.h"
#include "base/util.h"
#include "http/http.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static miaw_metrics_src g_src;

/* the metrics token as a bearer token, when one is configured */
static int token_ok(miaw_req *q)
{
    const char *tok = g_src.cfg->metrics_token;
    const char *v = miaw_req_header(q, "authorization");
    if (!tok || !*tok || !v || strncasecmp(v, "Bearer ", 7) != 0) return 0;
    v += 7;
    while (*v == ' ') v++;
    return miaw_ct_equal(v, strlen(v), tok, strlen(tok));
}

#define P(...)                                                                                                      \
    do {                                                                                                            \
        if (miaw_metrics_printf(buf, len, cap, __VA_ARGS__) != 0) return -1;                                        \
    } while (0)

static int gauge(char **buf, size_t *len, size_t *cap, const char *name, const char *help, double v)
{
    P("# HELP %s %s\n# TYPE %s gauge\n%s %.15g\n", name, help, name, name, v);
    return 0;
}

static int instances_gauges(char **buf, size_t *len, size_t *cap)
{
    json_t *c = g_src.state_counts ? g_src.state_counts(g_src.state_ud) : NULL;
    const char *k;
    json_t *v;
    char esc[128];
    P("# HELP miaw_instances Instances by connection state.\n# TYPE miaw_instances gauge\n");
    json_object_foreach(c, k, v) {
        if (!strcmp(k, "total") || !json_is_integer(v) || miaw_metrics_escape(k, esc, sizeof esc) != 0) continue;
        if (miaw_metrics_printf(buf, len, cap, "miaw_instances{state=\"%s\"} %lld\n", esc,
                                (long long)json_integer_value(v)) != 0) {
            json_decref(c);
            return -1;
        }
    }
    json_decref(c);
    return 0;
}

/* outbox rows by status (0 pending, 2 failed = dead letters); -1 when unreadable */
static void outbox_counts(long long *pending, long long *dead)
{
    sqlite3_stmt *st = NULL;
    *pending = *dead = -1;
    if (sqlite3_prepare_v2(g_src.db->db, "SELECT status, COUNT(*) FROM webhook_outbox WHERE status<>1 GROUP BY status",
                           -1, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return;
    }
    *pending = *dead = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int s = sqlite3_column_int(st, 0);
        long long n = sqlite3_column_int64(st, 1);
        if (s == 0) *pending = n;
        else if (s == 2) *dead = n;
    }
    sqlite3_finalize(st);
}

static long long file_size(const char *path, const char *suffix)
{
    char p[4096];
    struct stat sb;
    snprintf(p, sizeof p, "%s%s", path, suffix);
    return stat(p, &sb) == 0 ? (long long)sb.st_size : 0;
}

static long long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long long size = 0, rss = -1;
    if (!f) return -1;
    if (fscanf(f, "%lld %lld", &size, &rss) != 2) rss = -1;
    fclose(f);
    return rss < 0 ? -1 : rss * sysconf(_SC_PAGESIZE);
}

static long long open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    long long n = 0;
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n - 1; /* the directory stream's own descriptor */
}

static int render(char **buf, size_t *len, size_t *cap)
{
    P("# HELP miaw_build_info The running version.\n# TYPE miaw_build_info gauge\nmiaw_build_info{version=\"%s\"} 1\n",
      MIAW_VERSION);
    if (gauge(buf, len, cap, "miaw_uptime_seconds", "Seconds since the server started.",
              (double)(miaw_mono_ms() - g_src.started_mono) / 1000.0))
        return -1;
    if (instances_gauges(buf, len, cap)) return -1;
    long long pending, dead;
    outbox_counts(&pending, &dead);
    if (pending >= 0 &&
        (gauge(buf, len, cap, "miaw_webhook_queue_depth", "Webhook deliveries waiting in the outbox (pending).",
               (double)pending) ||
         gauge(buf, len, cap, "miaw_webhook_dead_letters", "Webhook deliveries that gave up (dead letters kept).",
               (double)dead)))
        return -1;
    if (g_src.stream_clients &&
        gauge(buf, len, cap, "miaw_event_streams", "Open event streams (GET /events).",
              (double)g_src.stream_clients(g_src.stream_ud)))
        return -1;
    if (g_src.db->path &&
        gauge(buf, len, cap, "miaw_database_size_bytes", "Size of the sqlite database with its write-ahead log.",
              (double)(file_size(g_src.db->path, "") + file_size(g_src.db->path, "-wal"))))
        return -1;
    if (g_src.db->ckpt) { /* the checkpoint thread (core/base/checkpoint.c) */
        miaw_checkpoint_stats cs;
        miaw_checkpointer_stats(g_src.db->ckpt, &cs);
        P("# HELP miaw_database_checkpoints_total WAL checkpoint passes, by the checkpoint thread, inline (the WAL "
          "passed its hard limit) or a truncation asked for (the outbox after an instance was deleted).\n"
          "# TYPE miaw_database_checkpoints_total counter\n"
          "miaw_database_checkpoints_total{by=\"thread\"} %llu\nmiaw_database_checkpoints_total{by=\"inline\"} %llu\n"
          "miaw_database_checkpoints_total{by=\"truncate\"} %llu\n",
          (unsigned long long)cs.runs, (unsigned long long)cs.inline_runs, (unsigned long long)cs.truncates);
        if (gauge(buf, len, cap, "miaw_database_wal_frames", "Frames in the write-ahead log after the last commit.",
                  (double)cs.last_wal))
            return -1;
    }
    long long rss = rss_bytes(), fds = open_fds();
    if (rss >= 0 && gauge(buf, len, cap, "miaw_process_resident_memory_bytes", "Resident memory of the process.",
                          (double)rss))
        return -1;
    if (fds >= 0 && gauge(buf, len, cap, "miaw_process_open_fds", "Open file descriptors of the process.", (double)fds))
        return -1;
    return miaw_metrics_render(buf, len, cap);
}

static int h_metrics(miaw_req *q, void *ud)
{
    (void)ud;
    if (!token_ok(q) && !miaw_req_authorized(q))
        return miaw_req_reply_err(q, MIAW_ERR_UNAUTHORIZED, NULL,
                                  "missing or invalid API key (or metrics token, auth.metrics_token)"),
               MIAW_OK;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    if (render(&buf, &len, &cap) != 0) {
        free(buf);
        return miaw_req_reply_err(q, MIAW_ERR_INTERNAL, NULL, "out of memory"), MIAW_OK;
    }
    miaw_req_reply_raw(q, 200, "text/plain; version=0.0.4; charset=utf-8", buf, len, "no-store");
    free(buf);
    return MIAW_OK;
}

int miaw_metrics_routes(miaw_router *rt, const miaw_metrics_src *src, char *err, size_t errlen)
{
    g_src = *src;
    const miaw_route r = {
        MIAW_ROUTE_INIT, .method = "GET", .path = "/metrics", .flags = MIAW_ROUTE_PUBLIC, .handler = h_metrics,
        .operation_id = "getMetrics", .summary = "Prometheus metrics",
        .description = "Prometheus text format 0.0.4, served at the root (`{base_path}/metrics`, not under the API "
                       "prefix). Needs the API key, or the bearer token of `auth.metrics_token` "
                       "(MIAW_METRICS_TOKEN) when set. Families (all `miaw_`): instances{state}, "
                       "messages_sent_total{type}, messages_send_failed_total{reason}, "
                       "messages_received_total{type,chat}, message_send_duration_seconds (histogram), "
                       "reconnects_total, webhook_queue_depth, webhook_dead_letters, "
                       "webhook_deliveries_total{result}, webhook_delivery_duration_seconds (histogram), "
                       "http_requests_total{method,route,status}, http_request_duration_seconds{method,route} "
                       "(histogram), event_streams, database_size_bytes, process_resident_memory_bytes, "
                       "process_open_fds, uptime_seconds, build_info{version}.",
        .tag = "Health"};
    return miaw_router_add(rt, &r, MIAW_ROUTE_ROOT, NULL, err, errlen);
}
