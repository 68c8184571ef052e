/* core/webhooks/webhooks.c - webhook module (see webhooks.h): bus subscriber writing the outbox
 * (within the instance's quota), the per-instance webhook routes (config, test,
 * deliveries, replay, status), the waiters of POST .../webhook/test, and a periodic prune
 * of old delivered rows. */
#include "webhooks/webhooks.h"

#include "http/http.h"
#include "http/http_int.h"
#include "base/log.h"
#include "base/util.h"
#include "webhooks/webhook_dispatch.h"
#include "webhooks/webhook_json.h"
#include "webhooks/webhook_policy.h"
#include "webhooks/webhook_space.h"
#include "webhooks/webhook_store.h"
#include "webhooks/webhook_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST_MAX_COUNT 1000
#define PRUNE_EVERY_MS (10 * 60 * 1000)
#define KEEP_DELIVERED_MS (24LL * 3600 * 1000)
#define KEEP_FAILED_MS (30LL * 24 * 3600 * 1000)
#define ENVELOPE_BYTES 160  /* {"event","instanceId","timestamp","data":{..."index","count"}} around data */
#define FULL_RETRY_AFTER "30"

struct waiter {
    miaw_req *req;
    char event_id[31], instance[65];
    struct waiter *next;
};

struct miaw_webhooks {
    const miaw_config *cfg;
    miaw_bus *bus;
    miaw_instances *inst;
    miaw_wh_store *store;
    miaw_wh_dispatch *disp;
    miaw_wh_policy policy;
    miaw_wh_space *space;
    miaw_id sub_events, sub_deleted;
    int force;         /* the next test event ignores webhookEnabled / webhookEvents */
    json_t *captured;  /* borrowed: event ids enqueued while a test route emits */
    struct waiter *waiters;
    uv_timer_t *prune;
};

/* ------------------------------------------------------------ enqueue */
static int wants(const miaw_instance *in, const char *type)
{
    if (!in->webhook_enabled) return 0;
    size_t n = json_array_size(in->webhook_events);
    for (size_t i = 0; i < n; i++) {
        const char *e = json_string_value(json_array_get(in->webhook_events, i));
        if (e && strcmp(e, type) == 0) return 1;
    }
    return n == 0;
}

/* the URLs an instance's events go to: its own, else the global defaults */
static size_t targets(const miaw_webhooks *w, const miaw_instance *in, const char **out, size_t cap)
{
    if (in->webhook_url) {
        out[0] = in->webhook_url;
        return 1;
    }
    size_t n = 0;
    for (size_t i = 0; i < w->cfg->webhook_urls.n && n < cap; i++) out[n++] = w->cfg->webhook_urls.v[i];
    return n;
}

static void on_event(const miaw_event *ev, void *ud)
{
    miaw_webhooks *w = ud;
    if (!ev->instance_id) return;
    const miaw_event_type *t = miaw_bus_find(w->bus, ev->type);
    if (!t || !(t->flags & MIAW_EVENT_F_WEBHOOK)) return;
    miaw_instance *in = miaw_instances_find(w->inst, ev->instance_id);
    if (!in) return;
    int forced = w->force && strcmp(ev->type, "test") == 0;
    const char *urls[16];
    size_t nurl = forced || wants(in, ev->type) ? targets(w, in, urls, 16) : 0;
    if (!nurl && !w->cfg->events_journal) return;
    json_t *env = json_pack("{s:s,s:s,s:I,s:O}", "event", ev->type, "instanceId", in->id, "timestamp",
                            (json_int_t)ev->ts_ms, "data", (json_t *)ev->data);
    size_t len = 0;
    char *body = env ? miaw_wh_json_dumps(env, &len) : NULL;
    json_decref(env);
    miaw_wh_row r = {0};
    if (!body || miaw_wh_event_id(r.event_id, ev->ts_ms) != 0) {
        MIAW_ERR("webhooks", "%s: cannot build the %s webhook", in->id, ev->type);
        free(body);
        return;
    }
    if (!nurl) { /* no webhook takes it: kept for the event stream only (server.events_journal) */
        snprintf(r.instance, sizeof r.instance, "%s", in->id);
        snprintf(r.event, sizeof r.event, "%s", ev->type);
        r.body = body;
        r.body_len = len;
        r.created_at = r.next_at = ev->ts_ms;
        if (miaw_wh_store_journal(w->store, &r) != 0) MIAW_WARN("webhooks", "%s: cannot journal the %s event", in->id, ev->type);
        free(body);
        return;
    }
    if (!miaw_wh_space_fits(w->space, in->id, (int64_t)nurl, (int64_t)(nurl * len))) {
        /* the outbox of this instance is full: refuse rather than grow the disk */
        if (miaw_wh_space_dropped(w->space, in->id))
            MIAW_WARN("webhooks", "%s: the webhook outbox is full (webhook.quota); %s and later events are dropped "
                                  "until deliveries catch up",
                      in->id, ev->type);
        free(body);
        return;
    }
    snprintf(r.instance, sizeof r.instance, "%s", in->id);
    snprintf(r.event, sizeof r.event, "%s", ev->type);
    r.body = body;
    r.body_len = len;
    r.created_at = r.next_at = ev->ts_ms;
    int opened = miaw_wh_store_begin(w->store), ok = (r.seq = miaw_wh_store_next_seq(w->store, in->id)) > 0;
    for (size_t i = 0; ok && i < nurl; i++) {
        r.url = (char *)urls[i];
        ok = miaw_wh_store_insert(w->store, &r) == 0;
    }
    if (miaw_wh_store_end(w->store, opened, ok) != 0) {
        /* nothing stored: the protocol layer must not acknowledge what it could not keep */
        MIAW_ERR("webhooks", "%s: cannot store the %s webhook", in->id, ev->type);
    } else {
        miaw_wh_space_add(w->space, in->id, (int64_t)nurl, (int64_t)(nurl * len));
        for (size_t i = 0; i < nurl; i++) miaw_wh_dispatch_wake(w->disp, in->id, urls[i]);
        if (w->captured) json_array_append_new(w->captured, json_string(r.event_id));
    }
    free(body);
}

static void waiter_answer_gone(miaw_webhooks *w, const char *instance, miaw_err e, const char *msg)
{
    for (struct waiter **pp = &w->waiters; *pp;) {
        struct waiter *x = *pp;
        if (instance && strcmp(x->instance, instance) != 0) {
            pp = &x->next;
            continue;
        }
        *pp = x->next;
        miaw_req_reply_err(x->req, e, json_pack("{s:s}", "eventId", x->event_id), "%s", msg);
        free(x);
    }
}

static void on_deleted(const miaw_event *ev, void *ud)
{
    miaw_webhooks *w = ud;
    if (!ev->instance_id) return;
    miaw_wh_dispatch_drop_instance(w->disp, ev->instance_id);
    /* rows deleted in slices (a big backlog would hold the loop), then the space goes back */
    if (miaw_wh_store_drop_stats(w->store, ev->instance_id) != 0 || miaw_wh_space_purge(w->space, ev->instance_id) != 0)
        MIAW_ERR("webhooks", "%s: cannot purge the outbox", ev->instance_id);
    waiter_answer_gone(w, ev->instance_id, MIAW_ERR_INSTANCE_NOT_FOUND, "the instance was deleted");
}

/* ------------------------------------------------------------ test waiters */
static void on_outcome(void *ud, const miaw_wh_outcome *o)
{
    miaw_webhooks *w = ud;
    if (o->delivered) miaw_wh_space_add(w->space, o->row->instance, -1, -(int64_t)o->row->body_len);
    for (struct waiter **pp = &w->waiters; *pp;) {
        struct waiter *x = *pp;
        if (strcmp(x->event_id, o->row->event_id) != 0) {
            pp = &x->next;
            continue;
        }
        *pp = x->next;
        json_t *d = json_pack("{s:s,s:s,s:b,s:i,s:I,s:I}", "eventId", o->row->event_id, "url", o->row->url,
                              "delivered", o->delivered, "attempt", o->attempt, "latencyMs",
                              (json_int_t)(o->latency_ms + 0.5), "latencyUs", (json_int_t)(o->latency_ms * 1000 + 0.5));
        json_object_set_new(d, "statusCode", o->http_status ? json_integer(o->http_status) : json_null());
        if (o->delivered) {
            miaw_req_reply_data(x->req, 200, d);
        } else {
            char next[40];
            json_object_set_new(d, "error", json_string(o->error ? o->error : "failed"));
            json_object_set_new(d, "willRetry", json_boolean(!o->dead));
            if (!o->dead) {
                miaw_iso8601(next, sizeof next, o->next_at);
                json_object_set_new(d, "nextAttemptAt", json_string(next));
            }
            miaw_req_reply_err(x->req, MIAW_ERR_WEBHOOK_FAILED, d, "the receiver did not accept the test event: %s",
                               o->error ? o->error : "failed");
        }
        free(x);
    }
}

static void on_test_abort(miaw_req *q, int reason, void *ud)
{
    (void)reason;
    miaw_webhooks *w = ud;
    for (struct waiter **pp = &w->waiters; *pp; pp = &(*pp)->next)
        if ((*pp)->req == q) {
            struct waiter *x = *pp;
            *pp = x->next;
            free(x);
            return;
        }
}

/* ------------------------------------------------------------ routes */
static json_t *config_json(miaw_webhooks *w, const miaw_instance *in)
{
    const char *urls[16];
    size_t n = targets(w, in, urls, 16);
    json_t *eff = json_array(), *avail = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(eff, json_string(urls[i]));
    for (const miaw_event_type *t = miaw_bus_types(w->bus); t; t = t->next)
        if (t->flags & MIAW_EVENT_F_WEBHOOK) json_array_append_new(avail, json_string(t->type));
    return json_pack("{s:s,s:o,s:O,s:b,s:o,s:o}", "instanceId", in->id, "webhookUrl",
                     in->webhook_url ? json_string(in->webhook_url) : json_null(), "webhookEvents", in->webhook_events,
                     "webhookEnabled", in->webhook_enabled, "effectiveUrls", eff, "availableEvents", avail);
}

static int h_get(miaw_req *q, void *ud)
{
    miaw_webhooks *w = ud;
    miaw_req_reply_data(q, 200, config_json(w, miaw_instances_find(w->inst, miaw_req_param(q, "instanceId"))));
    return MIAW_OK;
}

static int bad(miaw_req *q, const char *field, const char *msg)
{
    miaw_req_reply_err(q, MIAW_ERR_INVALID_REQUEST, json_pack("{s:s}", "field", field), "'%s' %s", field, msg);
    return MIAW_OK;
}

static int h_put(miaw_req *q, void *ud)
{
    miaw_webhooks *w = ud;
    miaw_instance *in = miaw_instances_find(w->inst, miaw_req_param(q, "instanceId"));
    const json_t *b = miaw_req_body(q), *url = json_object_get(b, "webhookUrl"), *ev = json_object_get(b, "webhookEvents"),
                 *en = json_object_get(b, "webhookEnabled");
    if (url && json_is_string(url) && json_string_length(url) && !miaw_wh_url_valid(json_string_value(url)))
        return bad(q, "webhookUrl", "must be an http or https URL with a host");
    int verdict = url && json_is_string(url) && json_string_length(url)
                      ? miaw_wh_policy_check_url(&w->policy, json_string_value(url))
                      : MIAW_WH_ALLOWED;
    if (verdict != MIAW_WH_ALLOWED) {
        char msg[200];
        snprintf(msg, sizeof msg, "is refused by the webhook target policy: %s", miaw_wh_policy_reason(verdict));
        return bad(q, "webhookUrl", msg);
    }
    size_t i;
    json_t *e;
    json_array_foreach(ev, i, e) {
        const miaw_event_type *t = miaw_bus_find(w->bus, json_string_value(e));
        if (!t || !(t->flags & MIAW_EVENT_F_WEBHOOK)) {
            char field[48], msg[160];
            snprintf(field, sizeof field, "webhookEvents[%zu]", i);
            snprintf(msg, sizeof msg, "is not a known webhook event ('%.64s'); see availableEvents",
                     json_string_value(e));
            return bad(q, field, msg);
        }
    }
    const char *nurl = url ? (json_is_string(url) ? json_string_value(url) : NULL) : in->webhook_url;
    char *keep = nurl ? strdup(nurl) : NULL; /* set_webhook frees the old string first */
    if (miaw_instance_set_webhook(w->inst, in, keep, ev ? json_deep_copy(ev) : NULL,
                                  en ? json_is_true(en) : in->webhook_enabled) != 0) {
        free(keep);
        return miaw_req_reply_err(q, MIAW_ERR_INTERNAL, NULL, "cannot store the webhook configuration"), MIAW_OK;
    }
    free(keep);
    miaw_req_reply_data(q, 200, config_json(w, in));
    return MIAW_OK;
}

static int h_test(miaw_req *q, void *ud)
{
    miaw_webhooks *w = ud;
    miaw_instance *in = miaw_instances_find(w->inst, miaw_req_param(q, "instanceId"));
    const json_t *b = miaw_req_body(q), *cnt = json_object_get(b, "count"), *data = json_object_get(b, "data");
    const char *urls[16];
    size_t nurl = targets(w, in, urls, 16);
    if (!nurl) return bad(q, "webhookUrl", "is not set and no global webhook URL is configured");
    /* one request may queue at most test_max_kb: count x the size of one event */
    json_int_t n = cnt ? json_integer_value(cnt) : 1;
    char *dd = data ? json_dumps(data, JSON_COMPACT) : NULL;
    int64_t per = (int64_t)(dd ? strlen(dd) : 40) + ENVELOPE_BYTES + (int64_t)strlen(in->id);
    free(dd);
    int64_t max = (int64_t)w->cfg->webhook_test_max_kb * 1024;
    if ((int64_t)n * per > max) {
        miaw_req_reply_err(q, MIAW_ERR_INVALID_REQUEST,
                           json_pack("{s:s,s:I,s:I}", "field", cnt ? "count" : "data", "bytes", (json_int_t)(n * per),
                                     "maxBytes", (json_int_t)max),
                           "'%s' too large: count x event size is %lld bytes, at most %lld per request "
                           "(webhook.quota.test_max_kb)",
                           cnt ? "count" : "data", (long long)(n * per), (long long)max);
        return MIAW_OK;
    }
    if (!miaw_wh_space_fits(w->space, in->id, (int64_t)(n * (json_int_t)nurl), (int64_t)(n * per * (int64_t)nurl))) {
        miaw_http_add_header(q, "retry-after", FULL_RETRY_AFTER);
        miaw_req_reply_err(q, MIAW_ERR_RATE_LIMITED, json_pack("{s:o}", "quota", miaw_wh_space_json(w->space, in->id)),
                           "the webhook outbox of this instance is full (webhook.quota); retry when deliveries "
                           "have caught up");
        return MIAW_OK;
    }
    json_t *ids = json_array();
    w->captured = ids;
    if (!cnt) {
        w->force = 1;
        miaw_bus_emit(w->bus, NULL, "test", in->id,
                      data ? json_deep_copy(data) : json_pack("{s:s}", "message", "This is a test event from miaw"));
        w->force = 0;
        w->captured = NULL;
        struct waiter *x = json_array_size(ids) ? calloc(1, sizeof *x) : NULL;
        if (!x) {
            json_decref(ids);
            return miaw_req_reply_err(q, MIAW_ERR_INTERNAL, NULL, "cannot store the test event"), MIAW_OK;
        }
        x->req = q;
        snprintf(x->event_id, sizeof x->event_id, "%s", json_string_value(json_array_get(ids, 0)));
        snprintf(x->instance, sizeof x->instance, "%s", in->id);
        json_decref(ids);
        x->next = w->waiters;
        w->waiters = x;
        miaw_req_suspend(q, on_test_abort, w);
        return MIAW_ASYNC;
    }
    int opened = miaw_wh_store_begin(w->store);
    for (json_int_t i = 0; i < n; i++) {
        json_t *d = data ? json_deep_copy(data) : json_pack("{s:s}", "message", "This is a test event from miaw");
        json_object_set_new(d, "index", json_integer(i + 1));
        json_object_set_new(d, "count", json_integer(n));
        miaw_bus_emit(w->bus, NULL, "test", in->id, d);
    }
    w->captured = NULL;
    if (miaw_wh_store_end(w->store, opened, 1) != 0) {
        json_decref(ids);
        return miaw_req_reply_err(q, MIAW_ERR_UNAVAILABLE, NULL, "cannot store the test events"), MIAW_OK;
    }
    miaw_req_reply_data(q, 202, json_pack("{s:I,s:I,s:o}", "count", n, "queued", (json_int_t)json_array_size(ids),
                                          "eventIds", ids));
    return MIAW_OK;
}

static int h_deliveries(miaw_req *q, void *ud)
{
    miaw_webhooks *w = ud;
    const char *id = miaw_req_param(q, "instanceId"), *st = miaw_req_query(q, "status"),
               *lim = miaw_req_query(q, "limit"), *cur = miaw_req_query(q, "cursor"),
               *pl = miaw_req_query(q, "includePayload");
    int status = -1;
    if (st && *st) {
        if (!strcmp(st, "pending")) status = MIAW_WH_PENDING;
        else if (!strcmp(st, "delivered")) status = MIAW_WH_DELIVERED;
        else if (!strcmp(st, "failed")) status = MIAW_WH_FAILED;
        else return bad(q, "status", "must be one of pending, failed, delivered");
    }
    char *end;
    long limit = 50;
    long long after = 0;
    if (lim && *lim && ((limit = strtol(lim, &end, 10)) < 1 || limit > 500 || *end))
        return bad(q, "limit", "must be an integer from 1 to 500");
    if (cur && *cur && ((after = strtoll(cur, &end, 10)) < 0 || *end))
        return bad(q, "cursor", "must be a cursor returned as nextCursor");
    json_t *items = json_array();
    int64_t last = miaw_wh_store_list(w->store, id, status, after, (int)limit, pl && !strcmp(pl, "true"), items);
    char next[24];
    snprintf(next, sizeof next, "%lld", (long long)last);
    miaw_req_reply_data(q, 200, json_pack("{s:o,s:o}", "items", items, "nextCursor",
                                          json_array_size(items) == (size_t)limit ? json_string(next) : json_null()));
    return MIAW_OK;
}

static void wake_lane(void *ud, const char *instance, const char *url) { miaw_wh_dispatch_wake(ud, instance, url); }

static int h_retry(miaw_req *q, void *ud)
{
    miaw_webhooks *w = ud;
    miaw_instance *in = miaw_instances_find(w->inst, miaw_req_param(q, "instanceId"));
    const char *eid = miaw_req_param(q, "eventId");
    /* a replay goes to the instance's own URL when it has one (it may have been fixed);
     * its delivered rows count against the quota again (dead letters always did) */
    int opened = miaw_wh_store_begin(w->store);
    miaw_wh_space_replaying(w->space, in->id, eid);
    int n = miaw_wh_store_retry(w->store, in->id, eid, in->webhook_url, miaw_now_ms());
    if (miaw_wh_store_end(w->store, opened, n >= 0 || n == -2) != 0 && n > 0) n = -1;
    if (n == -1) miaw_wh_space_reload(w->space, in->id); /* nothing changed: recount (rare) */
    if (n == 0)
        return miaw_req_reply_err(q, MIAW_ERR_NOT_FOUND, json_pack("{s:s}", "eventId", eid),
                                  "no delivery of event '%s' is known for this instance", eid),
               MIAW_OK;
    if (n == -2)
        return miaw_req_reply_err(q, MIAW_ERR_CONFLICT, json_pack("{s:s}", "eventId", eid),
                                  "event '%s' is already pending delivery", eid),
               MIAW_OK;
    if (n < 0) return miaw_req_reply_err(q, MIAW_ERR_UNAVAILABLE, NULL, "cannot update the outbox"), MIAW_OK;
    const char *urls[16];
    size_t nurl = targets(w, in, urls, 16);
    for (size_t i = 0; i < nurl; i++) miaw_wh_dispatch_wake(w->disp, in->id, urls[i]);
    miaw_wh_store_lanes(w->store, wake_lane, w->disp); /* rows kept on an older URL */
    miaw_req_reply_data(q, 202, json_pack("{s:s,s:s,s:i}", "eventId", eid, "status", "pending", "deliveries", n));
    return MIAW_OK;
}

static int h_status(miaw_req *q, void *ud)
{
    miaw_webhooks *w = ud;
    miaw_instance *in = miaw_instances_find(w->inst, miaw_req_param(q, "instanceId"));
    json_t *d = json_pack("{s:s,s:b}", "instanceId", in->id, "webhookEnabled", in->webhook_enabled);
    json_t *c = miaw_wh_store_counts(w->store, in->id), *s = miaw_wh_dispatch_stats(w->disp, in->id);
    json_t *quota = miaw_wh_space_json(w->space, in->id);
    json_object_set_new(d, "droppedOverQuota", json_incref(json_object_get(quota, "droppedOverQuota")));
    json_object_del(quota, "droppedOverQuota");
    json_object_set_new(d, "quota", quota);
    json_object_update(d, c);
    json_object_update(d, s);
    json_decref(c);
    json_decref(s);
    miaw_req_reply_data(q, 200, d);
    return MIAW_OK;
}

/* ------------------------------------------------------------ registration */
static const miaw_field PUT_BODY[] = {
    {.name = "webhookUrl", .type = MIAW_T_STRING, .flags = MIAW_F_NULLABLE | MIAW_F_HAS_MAX, .max = 2048,
     .format = "uri", .description = "http(s) URL for this instance's events; null or \"\" = the global default",
     .example = "\"https://myapp.com/webhook\""},
    {.name = "webhookEvents", .type = MIAW_T_ARRAY, .flags = MIAW_F_HAS_MAX, .max = 64,
     .items = &(const miaw_field){.name = "event", .type = MIAW_T_STRING},
     .description = "events to deliver (see availableEvents); empty = all", .example = "[\"message\",\"qr\"]"},
    {.name = "webhookEnabled", .type = MIAW_T_BOOLEAN, .description = "deliver webhooks for this instance"},
    {0},
};

static const miaw_field TEST_BODY[] = {
    {.name = "count", .type = MIAW_T_INTEGER, .flags = MIAW_F_HAS_MIN | MIAW_F_HAS_MAX, .min = 1, .max = TEST_MAX_COUNT,
     .description = "queue this many test events through the normal pipeline (webhookEvents and webhookEnabled "
                    "apply) and answer 202 at once with their ids",
     .example = "100"},
    {.name = "data", .type = MIAW_T_OBJECT, .description = "the `data` of the test event(s), e.g. a payload your "
                                                           "consumer should parse; default {message}",
     .example = "{\"message\":\"hello\"}"},
    {0},
};

#define WH_CONFIG_EX                                                                                          \
    "{\"instanceId\":\"my-bot-1\",\"webhookUrl\":\"https://myapp.com/webhook\",\"webhookEvents\":[\"message\"]," \
    "\"webhookEnabled\":true,\"effectiveUrls\":[\"https://myapp.com/webhook\"],\"availableEvents\":[\"qr\","     \
    "\"ready\",\"message\"]}"

static int add_routes(miaw_webhooks *w, miaw_router *rt, char *err, size_t errlen)
{
    const miaw_route routes[] = {
        {MIAW_ROUTE_INIT, .method = "GET", .path = "/instances/{instanceId}/webhook", .flags = MIAW_ROUTE_INSTANCE,
         .handler = h_get, .udata = w, .operation_id = "getWebhook", .summary = "Get webhook config", .tag = "Webhooks",
         .description = "The instance's webhookUrl, webhookEvents (empty = all), webhookEnabled, the URLs events "
                        "actually go to (its own, else the global defaults) and the event names it may filter on.",
         .response_example = WH_CONFIG_EX},
        {MIAW_ROUTE_INIT, .method = "PUT", .path = "/instances/{instanceId}/webhook", .flags = MIAW_ROUTE_INSTANCE,
         .handler = h_put, .udata = w, .body = PUT_BODY, .operation_id = "updateWebhook",
         .summary = "Update webhook config", .tag = "Webhooks",
         .description = "Fields absent keep their value. 400 INVALID_REQUEST naming the field for a URL that is "
                        "not http(s) or an unknown event name. Events already queued keep their URL.",
         .response_example = WH_CONFIG_EX},
        {MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/webhook/test",
         .flags = MIAW_ROUTE_INSTANCE, .handler = h_test, .udata = w, .body = TEST_BODY,
         .timeout_ms = (uint32_t)w->cfg->webhook_timeout_ms + 5000, .operation_id = "testWebhook",
         .summary = "Test webhook delivery", .tag = "Webhooks",
         .description = "Without `count`: stores a `test` event (even when webhooks are disabled or filtered), "
                        "waits for its first delivery attempt and answers with the receiver's statusCode and "
                        "latencyMs, or 500 WEBHOOK_FAILED with the same details when the receiver did not answer "
                        "2xx (the event is then retried like any other); `error` is a category (`HTTP 503`, "
                        "`timed out after N ms`, `connection failed`, `blocked by the webhook target policy`), "
                        "never the receiver's body. It is queued behind the instance's "
                        "pending events. With `count` (1-1000): queues that many test events through the normal "
                        "pipeline and answers 202 with their eventIds, for load, ordering and failover checks. "
                        "400 INVALID_REQUEST when count x event size exceeds webhook.quota.test_max_kb; 429 "
                        "RATE_LIMITED with Retry-After when the instance's outbox quota is full.",
         .response_example = "{\"eventId\":\"evt_01JG6Z0000AAAAAAAAAAAAAAAA\",\"url\":\"https://myapp.com/webhook\","
                             "\"delivered\":true,\"attempt\":1,\"latencyMs\":12,\"latencyUs\":12480,\"statusCode\":200}"},
        {MIAW_ROUTE_INIT, .method = "GET", .path = "/instances/{instanceId}/webhook/deliveries",
         .flags = MIAW_ROUTE_INSTANCE, .handler = h_deliveries, .udata = w, .operation_id = "listWebhookDeliveries",
         .summary = "List webhook deliveries", .tag = "Webhooks",
         .description = "Outbox rows, oldest first. ?status=pending|failed|delivered (absent = all; failed = "
                        "dead letters), ?limit=1-500 (50), ?cursor= the nextCursor of the previous page, "
                        "?includePayload=true adds the body sent. Delivered rows are kept 24 h, dead letters 30 days.",
         .response_example = "{\"items\":[{\"eventId\":\"evt_01JG6Z0000AAAAAAAAAAAAAAAA\",\"event\":\"message\","
                             "\"sequence\":42,\"url\":\"https://myapp.com/webhook\",\"status\":\"failed\","
                             "\"attempts\":5,\"createdAt\":\"2025-12-25T10:00:00.000Z\",\"lastAttemptAt\":"
                             "\"2025-12-25T11:21:00.000Z\",\"lastStatusCode\":500,\"lastError\":\"HTTP 500\"}],"
                             "\"nextCursor\":null}"},
        {MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/webhook/deliveries/{eventId}/retry",
         .flags = MIAW_ROUTE_INSTANCE, .handler = h_retry, .udata = w, .operation_id = "retryWebhookDelivery",
         .summary = "Replay a webhook event", .tag = "Webhooks",
         .description = "Makes a dead-lettered (or delivered) event pending again with a fresh attempt count; it "
                        "keeps its event id and sequence. 404 when unknown, 409 when already pending.",
         .response_example = "{\"eventId\":\"evt_01JG6Z0000AAAAAAAAAAAAAAAA\",\"status\":\"pending\","
                             "\"deliveries\":1}"},
        {MIAW_ROUTE_INIT, .method = "GET", .path = "/instances/{instanceId}/webhook/status",
         .flags = MIAW_ROUTE_INSTANCE, .handler = h_status, .udata = w, .operation_id = "getWebhookStatus",
         .summary = "Webhook delivery status", .tag = "Webhooks",
         .description = "queueDepth (pending), deadLetters, delivered and failed totals, lastError, requests "
                        "inFlight, latencyUs (HTTP round trip, microseconds) and lagMs (event to delivery) p50/p99 over the last "
                        "512 deliveries of this process; quota (undelivered events and bytes held against "
                        "maxEvents and maxBytes) and droppedOverQuota (events not stored because it was full).",
         .response_example = "{\"instanceId\":\"my-bot-1\",\"webhookEnabled\":true,\"queueDepth\":0,\"delivered\":"
                             "120,\"failed\":1,\"deadLetters\":1,\"lastError\":null,\"inFlight\":0,\"latencyUs\":"
                             "{\"p50\":3200,\"p99\":15800,\"samples\":120},\"lagMs\":{\"p50\":4,\"p99\":30,"
                             "\"samples\":120},\"quota\":{\"events\":1,\"bytes\":230,\"maxEvents\":100000,"
                             "\"maxBytes\":268435456},\"droppedOverQuota\":0}"},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (miaw_router_add(rt, &routes[i], 0, NULL, err, errlen) != 0) return -1;
    return 0;
}

static void on_prune(uv_timer_t *t)
{
    miaw_webhooks *w = t->data;
    int64_t now = miaw_now_ms();
    int n = miaw_wh_space_prune(w->space, w->store, now - KEEP_DELIVERED_MS, now - KEEP_FAILED_MS);
    if (n > 0) MIAW_DEBUG("webhooks", "pruned %d old outbox rows", n);
}

static void on_closed(uv_handle_t *h) { free(h); }

static int gate(void *ud, const char *instance) { return miaw_wh_space_purging(ud, instance); }

static int exists(void *ud, const char *instance) { return miaw_instances_find(ud, instance) != NULL; }

/* rows of instances that no longer exist (a purge cut by a stop or a crash) are deleted
 * again; the dispatcher does not deliver them meanwhile */
static int purge_orphans(miaw_webhooks *w)
{
    miaw_wh_dispatch_set_gate(w->disp, gate, w->space);
    return miaw_wh_space_purge_orphans(w->space, exists, w->inst);
}

miaw_webhooks *miaw_webhooks_new(uv_loop_t *loop, const miaw_config *cfg, miaw_storage *db, miaw_bus *bus,
                                 miaw_instances *inst, const char *secret, miaw_router *rt, char *err, size_t errlen)
{
    miaw_webhooks *w = calloc(1, sizeof *w);
    if (!w) return snprintf(err, errlen, "out of memory"), NULL;
    w->cfg = cfg;
    w->bus = bus;
    w->inst = inst;
    if (!(w->store = miaw_wh_store_open(db->db))) {
        snprintf(err, errlen, "webhook outbox: cannot open the tables");
        free(w);
        return NULL;
    }
    if (miaw_wh_policy_init(&w->policy, cfg, err, errlen) != 0) {
        miaw_wh_store_close(w->store);
        free(w);
        return NULL;
    }
    if (miaw_wh_policy_check_globals(&w->policy, &cfg->webhook_urls, err, errlen) != 0) {
        miaw_wh_policy_free(&w->policy);
        miaw_wh_store_close(w->store);
        free(w);
        return NULL;
    }
    if (!(w->space = miaw_wh_space_new(loop, db->db, db->ckpt, cfg->webhook_quota_events,
                                       (int64_t)cfg->webhook_quota_mb * 1024 * 1024)) ||
        !(w->disp = miaw_wh_dispatch_new(loop, w->store, cfg, &w->policy, secret, on_outcome, w)) ||
        purge_orphans(w) != 0) {
        snprintf(err, errlen, "webhook dispatcher: cannot start");
        miaw_wh_space_free(w->space);
        miaw_wh_policy_free(&w->policy);
        miaw_wh_store_close(w->store);
        free(w);
        return NULL;
    }
    if (!w->policy.block_private && strcmp(cfg->host, "127.0.0.1") && strcmp(cfg->host, "::1") &&
        strcmp(cfg->host, "localhost"))
        MIAW_WARN("webhooks", "webhook.policy.block_private is off while the API listens on %s: API clients can make "
                  "miaw post to loopback and private addresses (see docs/security-webhooks.md)", cfg->host);
    if (add_routes(w, rt, err, errlen) != 0 ||
        miaw_bus_subscribe(bus, NULL, "*", on_event, w, &w->sub_events) != MIAW_OK ||
        miaw_bus_subscribe(bus, NULL, "instance.deleted", on_deleted, w, &w->sub_deleted) != MIAW_OK) {
        if (!*err) snprintf(err, errlen, "webhooks: cannot subscribe to the event bus");
        miaw_webhooks_free(w);
        return NULL;
    }
    if ((w->prune = malloc(sizeof *w->prune))) {
        uv_timer_init(loop, w->prune);
        w->prune->data = w;
        uv_timer_start(w->prune, on_prune, 5000, PRUNE_EVERY_MS);
        uv_unref((uv_handle_t *)w->prune);
    }
    MIAW_INFO("webhooks", "outbox ready (timeout %d ms, %d attempts, retry unit %d ms, concurrency %d, per host %d)",
              cfg->webhook_timeout_ms, miaw_wh_max_attempts(cfg->webhook_max_retries), cfg->webhook_retry_delay_ms,
              cfg->webhook_concurrency, cfg->webhook_per_host);
    MIAW_INFO("webhooks", "target policy: block_private %d, block_metadata %d, https_only %d, %zu allow, %zu deny; "
              "quota %d events / %d MiB per instance", w->policy.block_private, w->policy.block_metadata,
              w->policy.https_only, w->policy.nallow, w->policy.ndeny, cfg->webhook_quota_events,
              cfg->webhook_quota_mb);
    return w;
}

void miaw_webhooks_free(miaw_webhooks *w)
{
    if (!w) return;
    waiter_answer_gone(w, NULL, MIAW_ERR_UNAVAILABLE, "the server is shutting down; the test event stays queued");
    if (w->sub_events) miaw_bus_unsubscribe(w->bus, NULL, w->sub_events);
    if (w->sub_deleted) miaw_bus_unsubscribe(w->bus, NULL, w->sub_deleted);
    if (w->prune) uv_close((uv_handle_t *)w->prune, on_closed);
    miaw_wh_dispatch_free(w->disp);
    miaw_wh_space_free(w->space);
    miaw_wh_policy_free(&w->policy);
    miaw_wh_store_close(w->store);
    free(w);
}
