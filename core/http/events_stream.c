/* core/http/events_stream.c - GET {api_prefix}/events as Server-Sent Events (see
 * events_stream.h): the route (filters, Last-Event-ID, the client cap), the replay from
 * the webhook outbox (read only), live events from the bus, and each stream's output
 * queue on an h2o generator (one buffer in flight, the next one filling; a client that
 * lets more than STREAM_MAX_QUEUED bytes pile up is closed and resumes by its last id).
 * A 1 s hub timer sends `: ping` comments every PING_MS and notices HTTP/1.x clients
 * that left. The WebSocket variant of the same stream is events_ws.c. */
#include "http/events_int.h"

#include "base/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define TICK_MS 1000
#define STREAM_MAX_QUEUED (4u << 20)
#define REPLAY_BATCH 500
#define REPLAY_MAX 20000

size_t miaw_events_stream_clients(void *ud) { return ud ? ((miaw_events_stream *)ud)->n : 0; }

/* ------------------------------------------------------------ output */
void evs_unlink(stream *s)
{
    miaw_events_stream *h = s->hub;
    if (!h) return;
    if (s->prev) s->prev->next = s->next;
    else h->list = s->next;
    if (s->next) s->next->prev = s->prev;
    s->prev = s->next = NULL;
    s->hub = NULL;
    h->n--;
}

void evs_link(miaw_events_stream *h, stream *s)
{
    s->hub = h;
    s->prev = NULL;
    s->next = h->list;
    if (h->list) h->list->prev = s;
    h->list = s;
    h->n++;
}

static void flush(stream *s)
{
    if (s->ws) {
        evs_ws_flush(s);
        return;
    }
    if (s->sending || s->gone || !s->req) return;
    if (s->ending) { /* the queue overflowed: end the answer; the client resumes by its last id */
        s->sending = 1;
        h2o_send(s->req, NULL, 0, H2O_SEND_STATE_FINAL);
        return;
    }
    if (!s->qlen) return;
    free(s->out);
    s->out = s->q;
    h2o_iovec_t v = h2o_iovec_init(s->out, s->qlen);
    s->q = NULL;
    s->qlen = s->qcap = 0;
    s->sending = 1;
    if (s->hub) s->last_write = uv_now(s->hub->loop);
    h2o_send(s->req, &v, 1, H2O_SEND_STATE_IN_PROGRESS);
}

void evs_push(stream *s, const char *data, size_t len)
{
    if (s->gone || s->ending) return;
    if (s->qlen + len > STREAM_MAX_QUEUED) {
        MIAW_WARN("events", "an event stream fell %u bytes behind; closing it (the client resumes by Last-Event-ID)",
                  STREAM_MAX_QUEUED);
        free(s->q);
        s->q = NULL;
        s->qlen = s->qcap = 0;
        s->ending = 1;
        if (!s->ws) evs_unlink(s); /* a WS stream is closed by the hub's tick */
        flush(s);
        return;
    }
    if (s->qlen + len > s->qcap) {
        size_t cap = s->qcap ? s->qcap : 4096;
        while (cap < s->qlen + len) cap *= 2;
        char *n = realloc(s->q, cap);
        if (!n) return;
        s->q = n;
        s->qcap = cap;
    }
    memcpy(s->q + s->qlen, data, len);
    s->qlen += len;
    flush(s);
}

static void on_proceed(h2o_generator_t *g, h2o_req_t *req)
{
    (void)req;
    stream *s = (stream *)g;
    s->sending = 0;
    free(s->out);
    s->out = NULL;
    flush(s);
}

static void on_stop(h2o_generator_t *g, h2o_req_t *req)
{
    (void)req;
    stream *s = (stream *)g;
    s->gone = 1;
    evs_unlink(s);
}

static void on_dispose(void *p)
{
    stream *s = p;
    evs_unlink(s);
    s->gone = 1;
    s->req = NULL;
    free(s->out);
    free(s->q);
    s->out = s->q = NULL;
}

/* ------------------------------------------------------------ events */
static int in_list(char *const *v, size_t n, const char *x)
{
    if (!n) return 1;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i], x)) return 1;
    return 0;
}

static int wanted(const stream *s, const char *instance, const char *type)
{
    return in_list(s->inst, s->ninst, instance) && in_list(s->types, s->ntypes, type);
}

/* one SSE message: [id: N] event: T data: BODY (one line: compact JSON has no line break) */
static void push_event(stream *s, long long id, const char *type, const char *body)
{
    if (s->ws) {
        evs_ws_event(s, id, type, body);
        return;
    }
    size_t bl = strlen(body), n = bl + strlen(type) + 64;
    char *m = malloc(n);
    if (!m) return;
    int k = id > 0 ? snprintf(m, n, "id: %lld\nevent: %s\ndata: ", id, type) : snprintf(m, n, "event: %s\ndata: ", type);
    if (k < 0 || (size_t)k + bl + 3 > n) {
        free(m);
        return;
    }
    memcpy(m + k, body, bl);
    memcpy(m + k + bl, "\n\n", 2);
    evs_push(s, m, (size_t)k + bl + 2);
    free(m);
}

/* the outbox row of the event just emitted (the webhook module stored it before us): its
 * id (the smallest of its rows, one per URL) and body; 1 found, 0 not kept there */
static int outbox_row(miaw_events_stream *h, const miaw_event *ev, long long *id, char **body)
{
    static const char *SQL = "SELECT MIN(o.id), o.body, o.event, o.created_at FROM webhook_outbox o WHERE "
                             "o.instance=?1 AND o.event_id=(SELECT event_id FROM webhook_outbox WHERE instance=?1 "
                             "ORDER BY id DESC LIMIT 1)";
    sqlite3_stmt *st = NULL;
    int found = 0;
    if (sqlite3_prepare_v2(h->db->db, SQL, -1, &st, NULL) != SQLITE_OK) goto out;
    sqlite3_bind_text(st, 1, ev->instance_id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        const char *t = (const char *)sqlite3_column_text(st, 2);
        if (t && !strcmp(t, ev->type) && sqlite3_column_int64(st, 3) == ev->ts_ms) {
            *id = sqlite3_column_int64(st, 0);
            const char *b = (const char *)sqlite3_column_text(st, 1);
            *body = b ? strdup(b) : NULL;
            found = *body != NULL;
        }
    }
out:
    sqlite3_finalize(st);
    return found;
}

static void on_event(const miaw_event *ev, void *ud)
{
    miaw_events_stream *h = ud;
    if (!h->list || !ev->instance_id) return;
    const miaw_event_type *t = miaw_bus_find(h->bus, ev->type);
    if (!t || !(t->flags & MIAW_EVENT_F_WEBHOOK)) return; /* internal events stay inside */
    int any = 0;
    for (stream *s = h->list; s && !any; s = s->next) any = wanted(s, ev->instance_id, ev->type);
    if (!any) return;
    long long id = 0;
    char *body = NULL;
    if (!outbox_row(h, ev, &id, &body)) {
        json_t *env = json_pack("{s:s,s:s,s:I,s:O}", "event", ev->type, "instanceId", ev->instance_id, "timestamp",
                                (json_int_t)ev->ts_ms, "data", ev->data ? (json_t *)ev->data : json_null());
        body = env ? json_dumps(env, JSON_COMPACT) : NULL;
        json_decref(env);
        id = 0;
    }
    if (!body) return;
    for (stream *s = h->list, *nx; s; s = nx) {
        nx = s->next; /* push may unlink s */
        if (wanted(s, ev->instance_id, ev->type)) push_event(s, id, ev->type, body);
    }
    free(body);
}

/* the outbox events after `after` that s wants, oldest first (REPLAY_MAX at most) */
void evs_replay(miaw_events_stream *h, stream *s, long long after)
{
    static const char *SQL = "SELECT MIN(id) AS mid, instance, event, body FROM webhook_outbox WHERE id > ?1 "
                             "GROUP BY instance, event_id ORDER BY mid LIMIT ?2";
    size_t sent = 0;
    for (;;) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(h->db->db, SQL, -1, &st, NULL) != SQLITE_OK) {
            sqlite3_finalize(st);
            return;
        }
        sqlite3_bind_int64(st, 1, after);
        sqlite3_bind_int(st, 2, REPLAY_BATCH);
        int rows = 0;
        while (sqlite3_step(st) == SQLITE_ROW) {
            rows++;
            after = sqlite3_column_int64(st, 0);
            const char *in = (const char *)sqlite3_column_text(st, 1), *ty = (const char *)sqlite3_column_text(st, 2),
                       *body = (const char *)sqlite3_column_text(st, 3);
            if (in && ty && body && wanted(s, in, ty) && sent < REPLAY_MAX) {
                push_event(s, after, ty, body);
                sent++;
            }
        }
        sqlite3_finalize(st);
        if (rows < REPLAY_BATCH || sent >= REPLAY_MAX || s->ending) break;
    }
    if (sent >= REPLAY_MAX) push_event(s, 0, "truncated", "{\"reason\":\"replay limit reached; resume with the last id\"}");
}

/* ------------------------------------------------------------ timer */
static int h1_gone(h2o_req_t *q)
{
    if (!q || q->version >= 0x200 || !q->conn || !q->conn->callbacks->get_socket) return 0;
    h2o_socket_t *so = q->conn->callbacks->get_socket(q->conn);
    int fd = so ? h2o_socket_get_fd(so) : -1;
    if (fd < 0) return 0;
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static void on_tick(uv_timer_t *t)
{
    miaw_events_stream *h = t->data;
    uint64_t now = uv_now(h->loop);
    for (stream *s = h->list, *nx; s; s = nx) {
        nx = s->next;
        if (s->ws) {
            evs_ws_tick(s, now);
        } else if (h1_gone(s->req)) { /* the peer closed: end the answer so h2o frees the request */
            evs_unlink(s);
            s->ending = 1;
            flush(s);
        } else if (now - s->last_write >= PING_MS && !s->sending) {
            static const char ping[] = ": ping\n\n";
            evs_push(s, ping, sizeof ping - 1);
        }
    }
}

/* ------------------------------------------------------------ route */
/* splits a comma-separated list into pool strings; -1 when it has more than MAX_FILTERS or
 * an empty item, else the count */
static int split(h2o_mem_pool_t *pool, const char *v, char **out)
{
    size_t n = 0;
    if (!v) return 0;
    char *d = h2o_strdup(pool, v, SIZE_MAX).base;
    for (char *p = d;;) {
        char *c = strchr(p, ',');
        if (c) *c = 0;
        if (!*p || n == MAX_FILTERS) return -1;
        out[n++] = p;
        if (!c) break;
        p = c + 1;
    }
    return (int)n;
}

static int h_events(miaw_req *r, void *ud)
{
    miaw_events_stream *h = ud;
    h2o_req_t *q = r->h2o;
    char *inst[MAX_FILTERS], *types[MAX_FILTERS];
    int ni = split(&q->pool, miaw_req_query(r, "instanceId"), inst);
    int nt = split(&q->pool, miaw_req_query(r, "events"), types);
    if (ni < 0 || nt < 0)
        return miaw_req_reply_err(r, MIAW_ERR_INVALID_REQUEST, json_pack("{s:s}", "field", ni < 0 ? "instanceId" : "events"),
                                  "a comma-separated list of 1-%d non-empty names", MAX_FILTERS),
               MIAW_OK;
    for (int i = 0; i < ni; i++)
        if (!h->exists(h->exists_ud, inst[i]))
            return miaw_req_reply_err(r, MIAW_ERR_INSTANCE_NOT_FOUND, json_pack("{s:s}", "instanceId", inst[i]),
                                      "instance '%s' does not exist", inst[i]),
                   MIAW_OK;
    for (int i = 0; i < nt; i++) {
        const miaw_event_type *t = miaw_bus_find(h->bus, types[i]);
        if (!t || !(t->flags & MIAW_EVENT_F_WEBHOOK))
            return miaw_req_reply_err(r, MIAW_ERR_INVALID_REQUEST, json_pack("{s:s,s:s}", "field", "events", "event", types[i]),
                                      "unknown event type '%s' (GET /openapi.json lists them)", types[i]),
                   MIAW_OK;
    }
    const char *last = miaw_req_header(r, "last-event-id");
    if (!last) last = miaw_req_query(r, "lastEventId");
    long long after = -1;
    if (last && *last) {
        char *end;
        errno = 0;
        after = strtoll(last, &end, 10);
        if (*end || errno || after < 0 || !(last[0] >= '0' && last[0] <= '9'))
            return miaw_req_reply_err(r, MIAW_ERR_INVALID_REQUEST, json_pack("{s:s}", "field", "Last-Event-ID"),
                                      "Last-Event-ID must be an event id of this stream (a non-negative integer)"),
                   MIAW_OK;
    }
    if (h->n >= (size_t)h->cfg->events_max_clients)
        return miaw_req_reply_err(r, MIAW_ERR_UNAVAILABLE, json_pack("{s:i}", "limit", h->cfg->events_max_clients),
                                  "too many open event streams (server.events_max_clients = %d)",
                                  h->cfg->events_max_clients),
               MIAW_OK;
    if (evs_ws_maybe(h, r, inst, (size_t)ni, types, (size_t)nt, after)) return MIAW_OK;
    if (!strcmp(r->method, "HEAD")) { /* the headers only: no stream to keep open */
        miaw_req_reply_raw(r, 200, "text/event-stream; charset=utf-8", "", 0, "no-store");
        return MIAW_OK;
    }
    stream *s = h2o_mem_alloc_shared(&q->pool, sizeof *s, on_dispose);
    memset(s, 0, sizeof *s);
    s->super.proceed = on_proceed;
    s->super.stop = on_stop;
    s->req = q;
    memcpy(s->inst, inst, (size_t)ni * sizeof *inst);
    memcpy(s->types, types, (size_t)nt * sizeof *types);
    s->ninst = (size_t)ni;
    s->ntypes = (size_t)nt;
    r->answered = 1;
    miaw_http_stop_timer(r);
    q->res.status = 200;
    q->res.reason = "OK";
    miaw_http_add_header(r, "content-type", "text/event-stream; charset=utf-8");
    miaw_http_add_header(r, "cache-control", "no-store");
    miaw_http_add_header(r, "x-accel-buffering", "no");
    miaw_http_add_header(r, "x-request-id", r->id);
    miaw_http_add_cors(r);
    miaw_http_log_request(r, 200);
    h2o_start_response(q, &s->super);
    evs_link(h, s);
    static const char hello[] = "retry: 2000\n: miaw event stream\n\n";
    evs_push(s, hello, sizeof hello - 1);
    if (after >= 0) evs_replay(h, s, after);
    return MIAW_OK;
}

miaw_events_stream *miaw_events_stream_new(uv_loop_t *loop, const miaw_config *cfg, miaw_bus *bus, miaw_storage *db,
                                           miaw_instance_exists_fn exists, void *exists_ud, miaw_router *rt, char *err,
                                           size_t errlen)
{
    miaw_events_stream *h = calloc(1, sizeof *h);
    uv_timer_t *t = malloc(sizeof *t);
    if (errlen) err[0] = 0;
    if (!h || !t) {
        free(h);
        free(t);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    *h = (miaw_events_stream){.loop = loop, .cfg = cfg, .bus = bus, .db = db, .exists = exists, .exists_ud = exists_ud,
                              .timer = t};
    const miaw_route r = {
        MIAW_ROUTE_INIT, .method = "GET", .path = "/events", .handler = h_events, .udata = h,
        .operation_id = "streamEvents", .summary = "Live event stream (Server-Sent Events)",
        .description =
            "`text/event-stream` of the events webhooks carry (the `webhooks` of this document), for clients without a "
            "public webhook URL. Each message is `event: <type>` and `data: <the webhook body>` (one line of JSON: "
            "`{event, instanceId, timestamp, data}`). Filters: `?instanceId=a,b` and `?events=message,qr` "
            "(comma-separated; none = all). Every event is kept in the webhook outbox (those no webhook takes as "
            "journal rows that are never sent, unless server.events_journal is off) and carries `id: <outbox id>`; "
            "reconnecting with the `Last-Event-ID` header (or `?lastEventId=`) first replays every outbox event "
            "after that id (those still kept: 24 h), then goes on live, so nothing is missed across a reconnect. "
            "With the journal off, events no webhook takes are streamed live without an id. `: ping` comments every 15 s. 400 bad filter or Last-Event-ID, 404 "
            "unknown instance, 503 when server.events_max_clients streams are open. Same auth as every route "
            "(browsers: fetch() with the Authorization header; EventSource cannot send it). WebSocket variant: the "
            "same URL with an HTTP/1.1 `Upgrade: websocket` handshake (101), same filters and Last-Event-ID; one "
            "text frame per event, `{\"id\":<outbox id or null>,\"event\":<type>,\"data\":<the webhook body>}`, "
            "ping frames every 15 s; client frames other than close/ping/pong are ignored.",
        .tag = "Events"};
    if (miaw_router_add(rt, &r, 0, NULL, err, errlen) != 0 ||
        miaw_bus_subscribe(bus, NULL, "*", on_event, h, &h->sub) != 0) {
        if (!*err) snprintf(err, errlen, "cannot subscribe to the bus");
        free(t);
        free(h);
        return NULL;
    }
    uv_timer_init(loop, t);
    t->data = h;
    uv_timer_start(t, on_tick, TICK_MS, TICK_MS);
    uv_unref((uv_handle_t *)t);
    return h;
}

void miaw_events_stream_free(miaw_events_stream *h)
{
    if (!h) return;
    while (h->list) evs_unlink(h->list);
    miaw_bus_unsubscribe(h->bus, NULL, h->sub);
    uv_timer_stop(h->timer);
    uv_close((uv_handle_t *)h->timer, (uv_close_cb)free);
    free(h);
}
