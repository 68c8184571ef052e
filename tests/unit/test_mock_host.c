/* tests/unit/test_mock_host.c - the SDK's mock host (miaw/mock_host.h) where the messages
 * plugin does not reach it, with two probe plugins compiled into this test: loading checks,
 * route matching and the host's body checks, reply_status and jid_normalize tables, ABI
 * misuse reports, stanza subscription filters, events both ways (queued, never recursive),
 * timers on the virtual clock and request timeouts, kv, every engine call (iq, msg_send with
 * opts and bytes, send_text, stanza_send, media up and down) with its completion rules, and
 * unloading with calls in flight (no callback afterwards). */
#include "harness.h"

#include <jansson.h>
#include <miaw/mock_host.h>
#include <miaw/plugin_util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ================================================================ the probe plugin */
typedef struct probe {
    miaw_plugin *self;
    const miaw_host_api *api;
    int in_call;        /* set around calls that start asynchronous work */
    json_t *timer_log;  /* [[timer id, now_ms], ...] */
    char order[256];    /* event handlers in the order they ran */
    int stanza_hits[5];
    char last_stanza_inst[32];
    char last_stanza_tag[32];
    char chunks[256];
    int chunk_stop;
    struct pending *orphans[8]; /* the "all" op's callback data (no request): freed at fini */
    int norphans;
    miaw_req *kept; /* /probe/misuse/keep: a request kept past its abort (wrong) */
} probe;

static int g_callbacks;     /* engine callbacks run (survives the plugin's state) */
static int g_inside;        /* callbacks that ran inside the call that started them */
static int g_fini;          /* fini calls */
static int g_aborts;        /* on_abort calls */
static int g_probe2_events; /* probe2's "*" subscription */

typedef struct pending {
    probe *pr;
    miaw_req *req;
    miaw_id handle;
} pending;

static pending *pend(probe *pr, miaw_req *req)
{
    pending *p = calloc(1, sizeof *p);
    p->pr = pr;
    p->req = req;
    if (!req) pr->orphans[pr->norphans++] = p;
    return p;
}

/* a callback is done with p: freed unless the plugin's state owns it */
static void unpend(pending *p)
{
    if (p->req) free(p);
}

static void on_abort(miaw_req *req, int reason, void *ud)
{
    (void)req;
    (void)reason;
    pending *p = ud;
    g_aborts++;
    p->pr->api->cancel(p->pr->self, p->handle);
    free(p);
}

static void note_callback(probe *pr)
{
    g_callbacks++;
    if (pr->in_call) g_inside++;
}

static void on_iq(int status, const json_t *reply, const char *detail, void *ud)
{
    pending *p = ud;
    note_callback(p->pr);
    if (p->req)
        p->pr->api->reply_json(p->req, 200, json_pack("{s:i,s:s?,s:O?}", "status", status, "detail", detail, "reply",
                                                      (json_t *)reply));
    unpend(p);
}

static void on_sent(int status, const char *id, int64_t ts, const char *detail, void *ud)
{
    pending *p = ud;
    note_callback(p->pr);
    if (p->req)
        p->pr->api->reply_json(p->req, 200, json_pack("{s:i,s:s?,s:I,s:s?}", "status", status, "id", id, "ts",
                                                      (json_int_t)ts, "detail", detail));
    unpend(p);
}

static void on_media(int status, const json_t *result, const char *detail, void *ud)
{
    pending *p = ud;
    note_callback(p->pr);
    if (p->req)
        p->pr->api->reply_json(p->req, 200, json_pack("{s:i,s:O?,s:s?,s:s}", "status", status, "result",
                                                      (json_t *)result, "detail", detail, "chunks", p->pr->chunks));
    unpend(p);
}

static int on_chunk(const void *data, size_t len, void *ud)
{
    pending *p = ud;
    note_callback(p->pr);
    size_t o = strlen(p->pr->chunks);
    if (o + len < sizeof p->pr->chunks) {
        memcpy(p->pr->chunks + o, data, len);
        p->pr->chunks[o + len] = 0;
    }
    return p->pr->chunk_stop;
}

static void on_timer(miaw_id id, void *ud)
{
    probe *pr = ud;
    json_array_append_new(pr->timer_log, json_pack("[I,I]", (json_int_t)id, (json_int_t)pr->api->now_ms()));
}

/* POST /instances/{instanceId}/probe/work {op, inst?, path?}: one engine call per op */
static int h_work(miaw_req *req, void *ud)
{
    probe *pr = ud;
    const miaw_host_api *api = pr->api;
    const json_t *b = api->req_body(req);
    const char *op = json_string_value(json_object_get(b, "op"));
    const char *inst = json_string_value(json_object_get(b, "inst"));
    if (!inst) inst = api->req_param(req, "instanceId");
    char err[256] = "";
    const char *field = NULL;
    int rc = MIAW_E_INVAL;
    pending *p = pend(pr, req);
    pr->in_call = 1;
    if (!strcmp(op, "iq") || !strcmp(op, "iq_cancel")) {
        json_t *n = json_pack("{s:s,s:{s:s,s:s},s:[{s:s}]}", "tag", "iq", "attrs", "type", "get", "xmlns", "w:g2",
                              "content", "tag", "participating");
        rc = api->iq(pr->self, inst, n, 0, on_iq, p, &p->handle, err, sizeof err);
        json_decref(n);
        if (!rc && !strcmp(op, "iq_cancel")) {
            api->cancel(pr->self, p->handle);
            free(p);
            p = NULL;
            pr->in_call = 0;
            return api->reply_json(req, 200, json_object()), MIAW_OK;
        }
    } else if (!strcmp(op, "iq_bad")) {
        rc = api->iq(pr->self, inst, json_object_get(b, "node"), 0, on_iq, p, &p->handle, err, sizeof err);
    } else if (!strcmp(op, "send") || !strcmp(op, "send_bad")) {
        json_t *nodes = !strcmp(op, "send")
                            ? json_pack("[{s:s,s:{s:s}}]", "tag", "meta", "attrs", "polltype", "creation")
                            : json_pack("[{s:s,s:i}]", "tag", "meta", "content", 5);
        miaw_msg_opts o = {sizeof o, .message_id = json_string_value(json_object_get(b, "id")), .type = "poll",
                           .nodes = nodes, .timeout_ms = 5000, .flags = MIAW_MSG_F_NO_STORE};
        json_t *msg = json_pack("{s:s}", "conversation", "poll?");
        rc = api->msg_send(pr->self, inst, "15550001111", msg, NULL, 0, &o, on_sent, p, &p->handle, &field, err,
                           sizeof err);
        json_decref(msg);
        json_decref(nodes);
    } else if (!strcmp(op, "send_bytes")) {
        rc = api->msg_send(pr->self, inst, "15550001111@s.whatsapp.net", NULL, "\x0a\x02hi", 4, NULL, on_sent, p,
                           &p->handle, &field, err, sizeof err);
    } else if (!strcmp(op, "text")) {
        rc = api->send_text(pr->self, inst, json_string_value(json_object_get(b, "to")), "hello", "Q1", on_sent, p,
                            &p->handle, &field, err, sizeof err);
    } else if (!strcmp(op, "upload")) {
        rc = api->media_upload(pr->self, inst, json_string_value(json_object_get(b, "type")), "hello", 5, NULL,
                               on_media, p, &p->handle, err, sizeof err);
    } else if (!strcmp(op, "download") || !strcmp(op, "download_stop") || !strcmp(op, "download_path")) {
        pr->chunks[0] = 0;
        pr->chunk_stop = !strcmp(op, "download_stop");
        json_t *media = json_pack("{s:s,s:s}", "directPath", "/v/x", "mediaKey", "AAAA");
        const char *path = json_string_value(json_object_get(b, "path"));
        rc = api->media_download(pr->self, inst, "document", media, path, path ? NULL : on_chunk, on_media, p,
                                 &p->handle, err, sizeof err);
        json_decref(media);
    } else if (!strcmp(op, "stanza")) {
        free(p);
        p = NULL;
        rc = api->stanza_send(pr->self, inst, json_object_get(b, "node"), err, sizeof err);
        pr->in_call = 0;
        if (rc) return api->reply_status(req, rc, NULL, "%s", err), MIAW_OK;
        return api->reply_json(req, 200, json_object()), MIAW_OK;
    } else if (!strcmp(op, "all")) { /* several calls in flight and a timer; answered at once */
        free(p);
        p = NULL;
        json_t *n = json_pack("{s:s,s:{s:s}}", "tag", "iq", "attrs", "type", "get");
        json_t *msg = json_pack("{s:s}", "conversation", "x");
        json_t *media = json_pack("{s:s}", "directPath", "/v/x");
        int r1 = api->iq(pr->self, inst, n, 0, on_iq, pend(pr, NULL), NULL, err, sizeof err);
        int r2 = api->msg_send(pr->self, inst, "15550001111", msg, NULL, 0, NULL, on_sent, pend(pr, NULL), NULL,
                               NULL, err, sizeof err);
        int r3 = api->media_upload(pr->self, inst, "image", "x", 1, NULL, on_media, pend(pr, NULL), NULL, err,
                                   sizeof err);
        int r4 = api->media_download(pr->self, inst, "image", media, NULL, on_chunk, on_media, pend(pr, NULL), NULL,
                                     err, sizeof err);
        int r5 = api->send_text(pr->self, inst, "15550001111", "t", NULL, on_sent, pend(pr, NULL), NULL, NULL, err,
                                sizeof err);
        int r6 = api->timer_start(pr->self, 10, 10, on_timer, pr, NULL);
        json_decref(n);
        json_decref(msg);
        json_decref(media);
        pr->in_call = 0;
        return api->reply_json(req, 202, json_pack("[i,i,i,i,i,i]", r1, r2, r3, r4, r5, r6)), MIAW_OK;
    } else if (!strcmp(op, "get")) {
        free(p);
        pr->in_call = 0;
        json_t *g = api->msg_get(pr->self, inst, json_string_value(json_object_get(b, "id")));
        return api->reply_json(req, 200, g), MIAW_OK;
    } else if (!strcmp(op, "inst")) {
        free(p);
        pr->in_call = 0;
        return api->reply_json(req, 200, api->instance_get(pr->self, inst)), MIAW_OK;
    } else if (!strcmp(op, "late")) { /* registration outside init */
        free(p);
        pr->in_call = 0;
        miaw_route r = {MIAW_ROUTE_INIT, .method = "GET", .path = "/late", .handler = h_work};
        miaw_stanza_filter f = {sizeof f, .tag = "x"};
        miaw_event_decl d = {sizeof d, "probe.late", 0, ""};
        return api->reply_json(req, 200,
                               json_pack("[i,i,i,i]", api->route_add(pr->self, &r, NULL, 0),
                                         api->stanza_subscribe(pr->self, &f, (miaw_stanza_fn)NULL, NULL, NULL),
                                         api->event_declare(pr->self, &d, NULL, 0),
                                         api->event_subscribe(pr->self, "x", NULL, NULL, NULL))),
               MIAW_OK;
    }
    pr->in_call = 0;
    if (rc != MIAW_OK) {
        free(p);
        return api->reply_status(req, rc, field, "%s", err), MIAW_OK;
    }
    api->req_suspend(req, on_abort, p);
    return MIAW_ASYNC;
}

/* GET /probe/echo/{a}/{b}?q=..: parameters, query, headers, id */
static int h_echo(miaw_req *req, void *ud)
{
    probe *pr = ud;
    const miaw_host_api *api = pr->api;
    return api->reply_json(req, 200,
                           json_pack("{s:s?,s:s?,s:s?,s:s?,s:s?,s:b}", "a", api->req_param(req, "a"), "b",
                                     api->req_param(req, "b"), "q", api->req_query(req, "q"), "h",
                                     api->req_header(req, "x-test"), "id", api->req_id(req), "body",
                                     api->req_body(req) != NULL)),
           MIAW_OK;
}

static int h_fixed(miaw_req *req, void *ud)
{
    probe *pr = ud;
    return pr->api->reply_json(req, 201, json_pack("{s:b,s:s}", "literal", 1, "b", pr->api->req_param(req, "b"))),
           MIAW_OK;
}

static int h_status(miaw_req *req, void *ud)
{
    probe *pr = ud;
    int st = atoi(pr->api->req_param(req, "st"));
    return pr->api->reply_status(req, st, "f", "%s", ""), MIAW_OK;
}

static int h_ret(miaw_req *req, void *ud)
{
    probe *pr = ud;
    return atoi(pr->api->req_param(req, "st"));
}

static void keep_abort(miaw_req *req, int reason, void *ud)
{
    probe *pr = ud;
    (void)reason;
    g_aborts++;
    if (pr->api->req_param(req, "how")) strcat(pr->order, "abort-read,");
}

static int h_misuse(miaw_req *req, void *ud)
{
    probe *pr = ud;
    const char *how = pr->api->req_param(req, "how");
    if (!strcmp(how, "twice")) {
        pr->api->reply_json(req, 200, json_object());
        pr->api->reply_error(req, 500, "X", "second");
        return MIAW_OK;
    }
    if (!strcmp(how, "async")) return MIAW_ASYNC;
    if (!strcmp(how, "keep")) { /* reads itself inside on_abort (fine), and is kept after it (wrong) */
        pr->kept = req;
        pr->api->req_suspend(req, keep_abort, pr);
        return MIAW_ASYNC;
    }
    if (!strcmp(how, "touch")) {
        const char *v = pr->api->req_param(pr->kept, "how");
        int rc = pr->api->reply_json(pr->kept, 200, json_object());
        return pr->api->reply_json(req, 200, json_pack("{s:b,s:i}", "param", v != NULL, "rc", rc)), MIAW_OK;
    }
    if (!strcmp(how, "error")) return pr->api->reply_error(req, 302, NULL, "odd %d", 1), MIAW_OK;
    return MIAW_OK; /* "none": no answer */
}

/* POST /probe/later {delay}: answers from a timer (hello.c's pattern) */
typedef struct later {
    probe *pr;
    miaw_req *req;
    miaw_id timer;
} later;

static void later_fire(miaw_id id, void *ud)
{
    (void)id;
    later *l = ud;
    l->pr->api->reply_json(l->req, 200, json_pack("{s:I}", "at", (json_int_t)l->pr->api->now_ms()));
    free(l);
}

static void later_abort(miaw_req *req, int reason, void *ud)
{
    (void)req;
    later *l = ud;
    g_aborts++;
    json_array_append_new(l->pr->timer_log, json_pack("[s,i]", "abort", reason));
    l->pr->api->timer_stop(l->pr->self, l->timer);
    free(l);
}

static int h_later(miaw_req *req, void *ud)
{
    probe *pr = ud;
    later *l = calloc(1, sizeof *l);
    l->pr = pr;
    l->req = req;
    pr->api->req_suspend(req, later_abort, l);
    pr->api->timer_start(pr->self, (uint32_t)json_integer_value(json_object_get(pr->api->req_body(req), "delay")), 0,
                         later_fire, l, &l->timer);
    return MIAW_ASYNC;
}

/* POST /probe/timers {delay, repeat} -> {id}; DELETE /probe/timers/{id} -> {rc} */
static int h_timer_start(miaw_req *req, void *ud)
{
    probe *pr = ud;
    const json_t *b = pr->api->req_body(req);
    miaw_id id = 0;
    int rc = pr->api->timer_start(pr->self, (uint32_t)json_integer_value(json_object_get(b, "delay")),
                                  (uint32_t)json_integer_value(json_object_get(b, "repeat")), on_timer, pr, &id);
    return pr->api->reply_json(req, 200, json_pack("{s:i,s:I}", "rc", rc, "id", (json_int_t)id)), MIAW_OK;
}

static int h_timer_stop(miaw_req *req, void *ud)
{
    probe *pr = ud;
    int rc = pr->api->timer_stop(pr->self, (miaw_id)strtoull(pr->api->req_param(req, "id"), NULL, 10));
    return pr->api->reply_json(req, 200, json_pack("{s:i}", "rc", rc)), MIAW_OK;
}

/* /probe/kv/{inst}/{key}: GET, PUT {value}, DELETE; inst "-" = global */
static int h_kv(miaw_req *req, void *ud)
{
    probe *pr = ud;
    const miaw_host_api *api = pr->api;
    const char *inst = api->req_param(req, "inst"), *key = api->req_param(req, "key");
    if (!strcmp(inst, "-")) inst = "";
    const json_t *b = api->req_body(req);
    if (b) return api->reply_json(req, 200, json_pack("{s:i}", "rc", api->kv_put(pr->self, inst, key,
                                                                                  json_deep_copy(json_object_get(b, "value"))))),
           MIAW_OK;
    if (!strcmp(api->req_query(req, "del") ? "1" : "0", "1"))
        return api->reply_json(req, 200, json_pack("{s:i}", "rc", api->kv_del(pr->self, inst, key))), MIAW_OK;
    return api->reply_json(req, 200, json_pack("{s:o?}", "value", api->kv_get(pr->self, inst, key))), MIAW_OK;
}

static void on_message_event(const miaw_event *ev, void *ud)
{
    probe *pr = ud;
    strcat(pr->order, "message,");
    int rc = pr->api->event_emit(pr->self, "probe.seen", ev->instance_id,
                                 json_pack("{s:O,s:s}", "raw", (json_t *)ev->data, "source", ev->source));
    strcat(pr->order, rc == MIAW_OK ? "emitted," : "emit-failed,");
}

static void on_probe_event(const miaw_event *ev, void *ud)
{
    probe *pr = ud;
    strcat(pr->order, ev->type);
    strcat(pr->order, ",");
}

static void on_stanza(const char *inst, const json_t *node, void *ud)
{
    int *hit = ud; /* one of probe.stanza_hits */
    (*hit)++;
    (void)inst;
    (void)node;
}

static probe *g_probe; /* for the stanza handler's last-seen fields */

static void on_stanza_seen(const char *inst, const json_t *node, void *ud)
{
    (void)ud;
    snprintf(g_probe->last_stanza_inst, sizeof g_probe->last_stanza_inst, "%s", inst);
    snprintf(g_probe->last_stanza_tag, sizeof g_probe->last_stanza_tag, "%s",
             json_string_value(json_object_get(node, "tag")));
}

static const char *const KINDS[] = {"a", "b", NULL};
static const miaw_field LOC[] = {{.name = "lat", .type = MIAW_T_NUMBER, .flags = MIAW_F_REQUIRED}, {0}};
static const miaw_field TAG = {.type = MIAW_T_STRING, .flags = MIAW_F_NONEMPTY};
static const miaw_field SCHEMA[] = {
    {.name = "name", .type = MIAW_T_STRING, .flags = MIAW_F_REQUIRED | MIAW_F_HAS_MAX, .max = 5},
    {.name = "kind", .type = MIAW_T_STRING, .enum_values = KINDS},
    {.name = "n", .type = MIAW_T_INTEGER, .flags = MIAW_F_HAS_MIN | MIAW_F_HAS_MAX, .min = 1, .max = 10},
    {.name = "tags", .type = MIAW_T_ARRAY, .flags = MIAW_F_HAS_MAX, .max = 2, .items = &TAG},
    {.name = "loc", .type = MIAW_T_OBJECT, .flags = MIAW_F_STRICT, .props = LOC},
    {.name = "url", .type = MIAW_T_STRING, .format = "uri"},
    {.name = "code", .type = MIAW_T_STRING, .pattern = "^[A-Z]+$"},
    {.name = "opt", .type = MIAW_T_STRING, .flags = MIAW_F_NULLABLE},
    {0},
};
static const miaw_field WORK[] = {{.name = "op", .type = MIAW_T_STRING, .flags = MIAW_F_REQUIRED}, {0}};
static const miaw_field ANY_BODY[] = {{0}};

static int probe_init(miaw_plugin *self, const miaw_host_api *api, const json_t *config, void **state, char *err,
                      size_t errlen)
{
    if (json_is_true(json_object_get(config, "fail"))) { /* registers, then fails: the host cleans up */
        miaw_route r = {MIAW_ROUTE_INIT, .method = "GET", .path = "/probe/echo/{a}/{b}", .handler = h_echo};
        api->route_add(self, &r, err, errlen);
        snprintf(err, errlen, "configured to fail");
        return MIAW_E_INVAL;
    }
    probe *pr = calloc(1, sizeof *pr);
    pr->self = self;
    pr->api = api;
    pr->timer_log = json_array();
    g_probe = pr;
    const miaw_route routes[] = {
        {MIAW_ROUTE_INIT, .method = "GET", .path = "/probe/echo/{a}/{b}", .handler = h_echo, .udata = pr},
        {MIAW_ROUTE_INIT, .method = "GET", .path = "/probe/echo/fixed/{b}", .handler = h_fixed, .udata = pr},
        {MIAW_ROUTE_INIT, .method = "POST", .path = "/probe/echo/{a}/{b}", .handler = h_echo, .udata = pr,
         .body = SCHEMA, .body_max = 256},
        {MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/probe/work",
         .flags = MIAW_ROUTE_INSTANCE, .handler = h_work, .udata = pr, .body = WORK},
        {MIAW_ROUTE_INIT, .method = "GET", .path = "/probe/status/{st}", .handler = h_status, .udata = pr},
        {MIAW_ROUTE_INIT, .method = "GET", .path = "/probe/ret/{st}", .handler = h_ret, .udata = pr},
        {MIAW_ROUTE_INIT, .method = "GET", .path = "/probe/misuse/{how}", .handler = h_misuse, .udata = pr},
        {MIAW_ROUTE_INIT, .method = "POST", .path = "/probe/later", .handler = h_later, .udata = pr,
         .body = ANY_BODY, .timeout_ms = 1000},
        {MIAW_ROUTE_INIT, .method = "POST", .path = "/probe/timers", .handler = h_timer_start, .udata = pr,
         .body = ANY_BODY},
        {MIAW_ROUTE_INIT, .method = "DELETE", .path = "/probe/timers/{id}", .handler = h_timer_stop, .udata = pr},
        {MIAW_ROUTE_INIT, .method = "GET", .path = "/probe/kv/{inst}/{key}", .handler = h_kv, .udata = pr},
        {MIAW_ROUTE_INIT, .method = "PUT", .path = "/probe/kv/{inst}/{key}", .handler = h_kv, .udata = pr,
         .body = ANY_BODY},
    };
    int rc = MIAW_OK;
    for (size_t i = 0; !rc && i < sizeof routes / sizeof routes[0]; i++) rc = api->route_add(self, &routes[i], err, errlen);
    /* a duplicate and a bad route are refused */
    miaw_route dup = routes[0];
    dup.path = "/probe/echo/{x}/{y}";
    if (!rc && api->route_add(self, &dup, err, errlen) != MIAW_E_EXIST) rc = MIAW_E_INTERNAL;
    miaw_route bad = {MIAW_ROUTE_INIT, .method = "GET", .path = "/x/{instanceId}/y", .flags = 1u << 7, .handler = h_echo};
    if (!rc && api->route_add(self, &bad, err, errlen) != MIAW_E_INVAL) rc = MIAW_E_INTERNAL;
    miaw_event_decl d = {sizeof d, "probe.seen", MIAW_EVENT_F_WEBHOOK, "seen"};
    if (!rc) rc = api->event_declare(self, &d, err, errlen);
    if (!rc && api->event_declare(self, &d, err, errlen) != MIAW_E_EXIST) rc = MIAW_E_INTERNAL;
    if (!rc) rc = api->event_subscribe(self, "message", on_message_event, pr, NULL);
    if (!rc) rc = api->event_subscribe(self, "probe.*", on_probe_event, pr, NULL);
    const miaw_stanza_filter F[5] = {
        {sizeof(miaw_stanza_filter), .tag = "notification", .type = "w:gp2"},
        {sizeof(miaw_stanza_filter), .tag = "presence"},
        {sizeof(miaw_stanza_filter), .xmlns = "urn:xmpp:ping"},
        {sizeof(miaw_stanza_filter), .child = "picture"},
        {sizeof(miaw_stanza_filter), .tag = "notification", .type = "w:gp2", .child = "add"},
    };
    for (int i = 0; !rc && i < 5; i++) rc = api->stanza_subscribe(self, &F[i], on_stanza, &pr->stanza_hits[i], NULL);
    miaw_stanza_filter all = {.struct_size = sizeof all};
    if (!rc) rc = api->stanza_subscribe(self, &all, on_stanza_seen, NULL, NULL);
    if (rc) {
        json_decref(pr->timer_log);
        free(pr);
        return rc;
    }
    *state = pr;
    return MIAW_OK;
}

static void probe_fini(void *state)
{
    probe *pr = state;
    g_fini++;
    for (int i = 0; i < pr->norphans; i++) free(pr->orphans[i]);
    json_decref(pr->timer_log);
    free(pr);
    g_probe = NULL;
}

static const miaw_plugin_desc PROBE = {MIAW_PLUGIN_DESC_INIT, .abi_minor_required = 2, .name = "probe",
                                       .version = "1.0", .description = "mock host probe", .init = probe_init,
                                       .fini = probe_fini};

/* probe2: subscribes to everything; its route tries to emit others' and unknown types */
static void on_any(const miaw_event *ev, void *ud)
{
    (void)ev;
    (void)ud;
    g_probe2_events++;
}

static int h_p2(miaw_req *req, void *ud)
{
    miaw_plugin_base *b = ud;
    int a = b->api->event_emit(b->self, "probe.seen", NULL, json_object());
    int c = b->api->event_emit(b->self, "nobody.declared", NULL, NULL);
    return b->api->reply_json(req, 200, json_pack("[i,i]", a, c)), MIAW_OK;
}

static int p2_init(miaw_plugin *self, const miaw_host_api *api, const json_t *config, void **state, char *err,
                   size_t errlen)
{
    (void)config;
    miaw_plugin_base *b = calloc(1, sizeof *b);
    b->self = self;
    b->api = api;
    miaw_route r = {MIAW_ROUTE_INIT, .method = "GET", .path = "/probe2/emit", .handler = h_p2, .udata = b};
    int rc = api->route_add(self, &r, err, errlen);
    if (!rc) rc = api->event_subscribe(self, "*", on_any, NULL, NULL);
    if (rc) {
        free(b);
        return rc;
    }
    *state = b;
    return MIAW_OK;
}

static void p2_fini(void *state) { free(state); }

static const miaw_plugin_desc PROBE2 = {MIAW_PLUGIN_DESC_INIT, .name = "probe2", .version = "1.0",
                                        .init = p2_init, .fini = p2_fini};

/* ================================================================ helpers */
static miaw_mock *setup(void)
{
    g_callbacks = g_inside = g_fini = g_aborts = g_probe2_events = 0;
    miaw_mock *m = miaw_mock_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    char err[256] = "";
    miaw_plugin *p = miaw_mock_load_desc(m, &PROBE, "{\"x\":1}", err, sizeof err);
    if (!p) fprintf(stderr, "\nload: %s\n", err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(miaw_mock_load_desc(m, &PROBE2, NULL, err, sizeof err));
    CU_ASSERT_EQUAL(miaw_mock_put_instance(m, "i1", NULL), MIAW_OK);
    return m;
}

static void teardown(miaw_mock *m, size_t violations)
{
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_violations(m)), violations);
    CU_ASSERT_EQUAL(g_inside, 0);
    miaw_mock_free(m);
}

static probe *state(miaw_mock *m) { return miaw_mock_plugin_state(miaw_mock_plugin(m, "probe")); }

/* POST .../probe/work with body; returns the status */
static int work(miaw_mock *m, const char *body, miaw_mock_reply *r)
{
    return miaw_mock_call(m, "POST", "/instances/i1/probe/work", body, r);
}

static int call_simple(miaw_mock *m, const char *method, const char *path, const char *body, json_t **data)
{
    miaw_mock_reply r = {0};
    int st = miaw_mock_call(m, method, path, body, &r);
    if (data) *data = json_incref((json_t *)miaw_mock_get(r.json, "data"));
    miaw_mock_reply_clear(&r);
    return st;
}

/* ================================================================ tests */
static void test_loading(void)
{
    miaw_mock *m = miaw_mock_new();
    char err[512];
    CU_ASSERT_PTR_NULL(miaw_mock_load(m, "/nonexistent/x.so", NULL, NULL, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "dlopen failed"));
    miaw_plugin_desc d = PROBE;
    d.magic = 1;
    CU_ASSERT_PTR_NULL(miaw_mock_load_desc(m, &d, NULL, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "magic"));
    d = PROBE;
    d.abi_major = 2;
    CU_ASSERT_PTR_NULL(miaw_mock_load_desc(m, &d, NULL, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "major"));
    d = PROBE;
    d.abi_minor_required = 9;
    CU_ASSERT_PTR_NULL(miaw_mock_load_desc(m, &d, NULL, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "minor 9"));
    d = PROBE;
    d.fini = NULL;
    CU_ASSERT_PTR_NULL(miaw_mock_load_desc(m, &d, NULL, err, sizeof err));
    d = PROBE;
    d.name = "Bad-Name";
    CU_ASSERT_PTR_NULL(miaw_mock_load_desc(m, &d, NULL, err, sizeof err));
    CU_ASSERT_PTR_NULL(miaw_mock_load_desc(m, &PROBE, "[1]", err, sizeof err));
    CU_ASSERT_PTR_NULL(miaw_mock_load_desc(m, &PROBE, "{nope", err, sizeof err));
    /* init fails after registering a route: the route goes, fini is not called */
    g_fini = 0;
    CU_ASSERT_PTR_NULL(miaw_mock_load_desc(m, &PROBE, "{\"fail\":true}", err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "configured to fail"));
    json_t *routes = miaw_mock_routes(m);
    CU_ASSERT_EQUAL(json_array_size(routes), 0);
    json_decref(routes);
    CU_ASSERT_EQUAL(g_fini, 0);
    /* loads once; a second load of the name is refused */
    miaw_plugin *p = miaw_mock_load_desc(m, &PROBE, NULL, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_PTR_NULL(miaw_mock_load_desc(m, &PROBE, NULL, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "already loaded"));
    routes = miaw_mock_routes(m);
    CU_ASSERT_EQUAL(json_array_size(routes), 12);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(routes, "[0].plugin"), "probe");
    json_decref(routes);
    CU_ASSERT_PTR_EQUAL(miaw_mock_plugin(m, "probe"), p);
    /* registration outside init is refused */
    CU_ASSERT_EQUAL(miaw_mock_put_instance(m, "i1", NULL), MIAW_OK);
    json_t *d2 = NULL;
    CU_ASSERT_EQUAL(call_simple(m, "POST", "/instances/i1/probe/work", "{\"op\":\"late\"}", &d2), 200);
    json_t *want = json_pack("[i,i,i,i]", MIAW_E_STATE, MIAW_E_STATE, MIAW_E_STATE, MIAW_E_STATE);
    CU_ASSERT_TRUE(json_equal(d2, want));
    json_decref(want);
    json_decref(d2);
    miaw_mock_unload(m, p);
    CU_ASSERT_EQUAL(g_fini, 1);
    CU_ASSERT_PTR_NULL(miaw_mock_plugin(m, "probe"));
    miaw_mock_free(m);

    /* an older host: the table shrinks, plugins needing 1.2 are refused */
    m = miaw_mock_new();
    CU_ASSERT_EQUAL(miaw_mock_set_abi_minor(m, 1), MIAW_OK);
    const miaw_host_api *api = miaw_mock_api(m);
    CU_ASSERT_TRUE(MIAW_HOST_HAS(api, send_text));
    CU_ASSERT_FALSE(MIAW_HOST_HAS(api, msg_send));
    CU_ASSERT_EQUAL(api->abi_minor, 1);
    CU_ASSERT_PTR_NULL(miaw_mock_load_desc(m, &PROBE, NULL, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(miaw_mock_load_desc(m, &PROBE2, NULL, err, sizeof err));
    CU_ASSERT_EQUAL(miaw_mock_set_abi_minor(m, MIAW_ABI_MINOR + 1), MIAW_E_INVAL); /* a minor this SDK does not know */
    miaw_mock_free(m);
}

static void test_routes_and_bodies(void)
{
    miaw_mock *m = setup();
    miaw_mock_reply r = {0};
    const char *hdr[] = {"X-Test: yes", "Content-Type: application/json", NULL};
    CU_ASSERT_EQUAL(miaw_mock_call_h(m, "GET", "/probe/echo/h%C3%A9llo/two?z=1&q=a+b%21&q=2", hdr, NULL, &r), 200);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.a"), "h\xc3\xa9llo");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.b"), "two");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.q"), "a b!");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.h"), "yes");
    CU_ASSERT_PTR_NOT_NULL(miaw_mock_str(r.json, "data.id"));
    CU_ASSERT_EQUAL(json_is_false(miaw_mock_get(r.json, "data.body")), 1); /* no schema: no body read */
    CU_ASSERT_PTR_NOT_NULL(strstr(r.text, "\"success\":true"));
    miaw_mock_reply_clear(&r);
    /* literal segments win */
    CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", "/probe/echo/fixed/x", NULL, &r), 201);
    CU_ASSERT_EQUAL(json_is_true(miaw_mock_get(r.json, "data.literal")), 1);
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", "/probe/echo/a%00b/x", NULL, &r), 404);
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(miaw_mock_call(m, "DELETE", "/probe/echo/a/b", NULL, &r), 405);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "error.details.allow"), "GET, POST");
    miaw_mock_reply_clear(&r);

    /* the schema checks, with details.field */
    static const struct {
        const char *body;
        const char *field;
    } BAD[] = {
        {"{}", "name"},
        {"{\"name\":\"toolong\"}", "name"},
        {"{\"name\":1}", "name"},
        {"{\"name\":null}", "name"},
        {"{\"name\":\"a\",\"kind\":\"c\"}", "kind"},
        {"{\"name\":\"a\",\"n\":1.5}", "n"},
        {"{\"name\":\"a\",\"n\":0}", "n"},
        {"{\"name\":\"a\",\"n\":11}", "n"},
        {"{\"name\":\"a\",\"tags\":[\"x\",\"\"]}", "tags[1]"},
        {"{\"name\":\"a\",\"tags\":[\"x\",\"y\",\"z\"]}", "tags"},
        {"{\"name\":\"a\",\"loc\":{}}", "loc.lat"},
        {"{\"name\":\"a\",\"loc\":{\"lat\":1,\"x\":2}}", "loc.x"},
        {"{\"name\":\"a\",\"url\":\"ftp://x\"}", "url"},
        {"{\"name\":\"a\",\"code\":\"abc\"}", "code"},
        {"{\"name\":\"a\",\"name\":\"b\"}", "body"},
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        int st = miaw_mock_call(m, "POST", "/probe/echo/a/b", BAD[i].body, &r);
        if (st != 400) fprintf(stderr, "\n%s -> %s\n", BAD[i].body, r.text);
        CU_ASSERT_EQUAL(st, 400);
        CU_ASSERT_STRING_EQUAL(miaw_mock_reply_code(&r), "INVALID_REQUEST");
        CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "error.details.field"), BAD[i].field);
        miaw_mock_reply_clear(&r);
    }
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", "/probe/echo/a/b",
                                   "{\"name\":\"a\",\"kind\":\"b\",\"n\":10,\"tags\":[\"x\"],\"loc\":{\"lat\":1.5},"
                                   "\"url\":\"https://x\",\"code\":\"AB\",\"opt\":null,\"extra\":1}",
                                   &r),
                    200);
    CU_ASSERT_EQUAL(json_is_true(miaw_mock_get(r.json, "data.body")), 1);
    miaw_mock_reply_clear(&r);
    char big[400];
    snprintf(big, sizeof big, "{\"name\":\"a\",\"opt\":\"%0300d\"}", 0);
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", "/probe/echo/a/b", big, &r), 413);
    CU_ASSERT_STRING_EQUAL(miaw_mock_reply_code(&r), "PAYLOAD_TOO_LARGE");
    miaw_mock_reply_clear(&r);
    const char *text[] = {"Content-Type: text/plain", NULL};
    CU_ASSERT_EQUAL(miaw_mock_call_h(m, "POST", "/probe/echo/a/b", text, "name=a", &r), 415);
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", "/probe/echo/a/b", "name=a", &r), 400);
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.json, "error.details.line")), 1);
    miaw_mock_reply_clear(&r);
    /* an empty body is {} */
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", "/probe/echo/a/b", NULL, &r), 400);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "error.details.field"), "name");
    miaw_mock_reply_clear(&r);
    /* instance routes */
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", "/instances/zz/probe/work", "{\"op\":\"inst\"}", &r), 404);
    CU_ASSERT_STRING_EQUAL(miaw_mock_reply_code(&r), "INSTANCE_NOT_FOUND");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "error.details.instanceId"), "zz");
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(miaw_mock_put_instance(m, "i9", "{\"status\":\"qr\",\"webhookUrl\":null}"), MIAW_OK);
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", "/instances/i9/probe/work", "{\"op\":\"inst\"}", &r), 200);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.instanceId"), "i9");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.status"), "qr");
    miaw_mock_reply_clear(&r);
    teardown(m, 0);
}

static void test_status_tables(void)
{
    static const struct {
        int st;
        int http;
        const char *code;
    } T[] = {
        {MIAW_E_INVAL, 400, "INVALID_REQUEST"},   {MIAW_E_NOTFOUND, 404, "NOT_FOUND"},
        {MIAW_E_EXIST, 409, "CONFLICT"},         {MIAW_E_STATE, 503, "INSTANCE_NOT_CONNECTED"},
        {MIAW_E_TIMEOUT, 504, "TIMEOUT"},        {MIAW_E_LIMIT, 429, "RATE_LIMITED"},
        {MIAW_E_AUTH, 401, "UNAUTHORIZED"},      {MIAW_E_IO, 500, "WHATSAPP_ERROR"},
        {MIAW_E_NOTSUP, 503, "SERVICE_UNAVAILABLE"}, {MIAW_E_INTERNAL, 500, "INTERNAL_ERROR"},
        {MIAW_E_NOMEM, 500, "INTERNAL_ERROR"},
    };
    miaw_mock *m = setup();
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++) {
        char path[64];
        miaw_mock_reply r = {0};
        snprintf(path, sizeof path, "/probe/status/%d", T[i].st);
        CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", path, NULL, &r), T[i].http);
        CU_ASSERT_STRING_EQUAL(miaw_mock_reply_code(&r), T[i].code);
        CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "error.details.field"), "f");
        CU_ASSERT_TRUE(strlen(miaw_mock_str(r.json, "error.message")) > 0);
        miaw_mock_reply_clear(&r);
    }
    /* a handler's negative return without an answer */
    static const struct {
        int st;
        int http;
        const char *code;
    } R[] = {{MIAW_E_INVAL, 400, "INVALID_REQUEST"}, {MIAW_E_TIMEOUT, 504, "TIMEOUT"},
             {MIAW_E_LIMIT, 503, "SERVICE_UNAVAILABLE"}, {MIAW_E_IO, 500, "INTERNAL_ERROR"}};
    for (size_t i = 0; i < sizeof R / sizeof R[0]; i++) {
        char path[64];
        miaw_mock_reply r = {0};
        snprintf(path, sizeof path, "/probe/ret/%d", R[i].st);
        CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", path, NULL, &r), R[i].http);
        CU_ASSERT_STRING_EQUAL(miaw_mock_reply_code(&r), R[i].code);
        miaw_mock_reply_clear(&r);
    }
    /* jid_normalize: the server's rules */
    static const char *J[][2] = {
        {"+1 (555) 123-4567", "15551234567@s.whatsapp.net"},
        {"6281234567890", "6281234567890@s.whatsapp.net"},
        {"62.812.345", "62812345@s.whatsapp.net"},
        {"6281234567890@c.us", "6281234567890@s.whatsapp.net"},
        {"6281234567890@s.whatsapp.net", "6281234567890@s.whatsapp.net"},
        {"6281234567890:0@s.whatsapp.net", "6281234567890@s.whatsapp.net"},
        {"123456789012345@lid", "123456789012345@lid"},
        {"120363025246125244@g.us", "120363025246125244@g.us"},
        {"6281234567890-1600000000@g.us", "6281234567890-1600000000@g.us"},
        {"12345", "12345@s.whatsapp.net"},
        {"12345678901234567890", "12345678901234567890@s.whatsapp.net"},
        {"1234", NULL},
        {"123456789012345678901", NULL},
        {"0812345678", NULL},
        {"+62 812 abc", NULL},
        {"", NULL},
        {"62812@", NULL},
        {"@s.whatsapp.net", NULL},
        {"62812345@example.com", NULL},
        {"62-812345@s.whatsapp.net", NULL},
        {"62812345:2@s.whatsapp.net", NULL},
        {"0812345@c.us", NULL},
        {"abc@lid", NULL},
        {"12-34@lid", NULL},
        {"ab@g.us", NULL},
        {"1@2@g.us", NULL},
        {"status@broadcast", NULL},
    };
    const miaw_host_api *api = miaw_mock_api(m);
    for (size_t i = 0; i < sizeof J / sizeof J[0]; i++) {
        char out[128] = "";
        int rc = api->jid_normalize(J[i][0], out, sizeof out);
        if ((rc == MIAW_OK) != (J[i][1] != NULL)) fprintf(stderr, "\njid_normalize(%s) = %d %s\n", J[i][0], rc, out);
        CU_ASSERT_EQUAL(rc, J[i][1] ? MIAW_OK : MIAW_E_INVAL);
        if (J[i][1]) CU_ASSERT_STRING_EQUAL(out, J[i][1]);
    }
    char small[8];
    CU_ASSERT_EQUAL(api->jid_normalize("6281234567890", small, sizeof small), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(api->jid_normalize(NULL, small, sizeof small), MIAW_E_INVAL);
    teardown(m, 0);
}

static void test_violations(void)
{
    miaw_mock *m = setup();
    miaw_mock_reply r = {0};
    CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", "/probe/misuse/twice", NULL, &r), 200);
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_violations(m)), 1);
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", "/probe/misuse/async", NULL, &r), 500);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "error.message"), "handler error");
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", "/probe/misuse/none", NULL, &r), 500);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "error.message"), "handler did not answer");
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", "/probe/misuse/error", NULL, &r), 500); /* 302 is no error status */
    CU_ASSERT_STRING_EQUAL(miaw_mock_reply_code(&r), "INTERNAL_ERROR");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "error.message"), "odd 1");
    miaw_mock_reply_clear(&r);
    /* a request is readable inside on_abort, dead after it */
    CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", "/probe/misuse/keep", NULL, &r), 0);
    CU_ASSERT_EQUAL(miaw_mock_abort(m, &r), MIAW_OK);
    CU_ASSERT_STRING_EQUAL(state(m)->order, "abort-read,");
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_violations(m)), 3);
    miaw_mock_reply r2 = {0};
    CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", "/probe/misuse/touch", NULL, &r2), 200);
    CU_ASSERT_EQUAL(json_is_false(miaw_mock_get(r2.json, "data.param")), 1);
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r2.json, "data.rc")), MIAW_E_GONE);
    CU_ASSERT_EQUAL(r.status, 0); /* the late answer went nowhere */
    miaw_mock_reply_clear(&r);
    miaw_mock_reply_clear(&r2);
    /* a reply struct reused while its request is pending: the old answer goes nowhere */
    CU_ASSERT_EQUAL(miaw_mock_put_instance(m, "i1", NULL), MIAW_OK);
    CU_ASSERT_EQUAL(work(m, "{\"op\":\"iq\"}", &r), 0);
    CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", "/probe/status/-3", NULL, &r), 404);
    CU_ASSERT_EQUAL(miaw_mock_complete_iq(m, 0, MIAW_OK, NULL, NULL), MIAW_OK);
    CU_ASSERT_EQUAL(r.status, 404);
    CU_ASSERT_STRING_EQUAL(miaw_mock_reply_code(&r), "NOT_FOUND");
    miaw_mock_reply_clear(&r);
    teardown(m, 5);
}

static void test_stanza_filters(void)
{
    miaw_mock *m = setup();
    probe *pr = state(m);
    static const struct {
        const char *node;
        int calls; /* including the catch-all subscription */
        int hits[5];
    } S[] = {
        {"{\"tag\":\"notification\",\"attrs\":{\"type\":\"w:gp2\",\"from\":{\"jid\":\"123-456@g.us\"}},"
         "\"content\":[{\"tag\":\"add\"}]}",
         3, {1, 0, 0, 0, 1}},
        {"{\"tag\":\"notification\",\"attrs\":{\"type\":\"picture\"},\"content\":[{\"tag\":\"picture\"}]}", 2,
         {0, 0, 0, 1, 0}},
        {"{\"tag\":\"presence\",\"attrs\":{\"from\":{\"jid\":\"1555@s.whatsapp.net\"}}}", 2, {0, 1, 0, 0, 0}},
        {"{\"tag\":\"iq\",\"attrs\":{\"type\":\"get\",\"xmlns\":\"urn:xmpp:ping\"}}", 2, {0, 0, 1, 0, 0}},
        {"{\"tag\":\"receipt\",\"attrs\":{\"type\":\"read\"}}", 1, {0, 0, 0, 0, 0}},
        {"{\"tag\":\"notification\",\"attrs\":{\"type\":\"w:gp2\"},\"content\":[{\"tag\":\"remove\"},"
         "{\"tag\":\"add\"}]}",
         2, {1, 0, 0, 0, 0}},
        {"{\"tag\":\"notification\",\"attrs\":{\"type\":\"w:gp2\"},\"content\":\"text\"}", 2, {1, 0, 0, 0, 0}},
        {"{\"tag\":\"message\",\"content\":[{\"tag\":\"picture\"}]}", 2, {0, 0, 0, 1, 0}},
    };
    for (size_t i = 0; i < sizeof S / sizeof S[0]; i++) {
        memset(pr->stanza_hits, 0, sizeof pr->stanza_hits);
        int calls = miaw_mock_deliver(m, "i1", S[i].node);
        if (calls != S[i].calls) fprintf(stderr, "\nstanza %zu: %d calls\n", i, calls);
        CU_ASSERT_EQUAL(calls, S[i].calls);
        for (int k = 0; k < 5; k++) CU_ASSERT_EQUAL(pr->stanza_hits[k], S[i].hits[k]);
    }
    CU_ASSERT_EQUAL(miaw_mock_deliver(m, "i7", "{\"tag\":\"call\"}"), 1);
    CU_ASSERT_STRING_EQUAL(pr->last_stanza_inst, "i7");
    CU_ASSERT_STRING_EQUAL(pr->last_stanza_tag, "call");
    CU_ASSERT_EQUAL(miaw_mock_deliver(m, "i1", "{\"attrs\":{}}"), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(miaw_mock_deliver(m, "i1", "{oops"), MIAW_E_INVAL);
    teardown(m, 0);
}

static void test_events_both_ways(void)
{
    miaw_mock *m = setup();
    probe *pr = state(m);
    /* core -> plugin: "message" runs the probe's handler and probe2's "*"; the probe emits
     * probe.seen from inside its handler: queued, delivered after it (never recursive) */
    int calls = miaw_mock_emit(m, "message", "i1", "{\"from\":\"1555@s.whatsapp.net\",\"text\":\"hi\"}");
    CU_ASSERT_EQUAL(calls, 4); /* message: probe + probe2; probe.seen: probe.* + probe2 */
    CU_ASSERT_STRING_EQUAL(pr->order, "message,emitted,probe.seen,");
    CU_ASSERT_EQUAL(g_probe2_events, 2);
    /* plugin -> test: the emitted event */
    const json_t *ev = miaw_mock_events(m);
    CU_ASSERT_EQUAL_FATAL(json_array_size(ev), 1);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(ev, "[0].type"), "probe.seen");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(ev, "[0].source"), "probe");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(ev, "[0].instanceId"), "i1");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(ev, "[0].data.raw.text"), "hi");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(ev, "[0].data.source"), "core");
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(ev, "[0].tsMs")), miaw_mock_now(m));
    /* events nobody subscribed to exactly; prefix patterns */
    CU_ASSERT_EQUAL(miaw_mock_emit(m, "qr", NULL, NULL), 1); /* probe2's "*" */
    CU_ASSERT_EQUAL(miaw_mock_emit(m, "Bad Name", NULL, NULL), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(miaw_mock_emit(m, "qr", NULL, "{bad"), MIAW_E_INVAL);
    /* only the declarer emits a type; undeclared types are refused */
    json_t *d = NULL;
    CU_ASSERT_EQUAL(call_simple(m, "GET", "/probe2/emit", NULL, &d), 200);
    json_t *want = json_pack("[i,i]", MIAW_E_AUTH, MIAW_E_NOTFOUND);
    CU_ASSERT_TRUE(json_equal(d, want));
    json_decref(want);
    json_decref(d);
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_events(m)), 1);
    teardown(m, 0);
}

static void test_timers(void)
{
    miaw_mock *m = setup();
    probe *pr = state(m);
    int64_t t0 = miaw_mock_now(m);
    json_t *d = NULL;
    CU_ASSERT_EQUAL(call_simple(m, "POST", "/probe/timers", "{\"delay\":100,\"repeat\":0}", &d), 200);
    json_int_t one = json_integer_value(json_object_get(d, "id"));
    json_decref(d);
    CU_ASSERT_EQUAL(call_simple(m, "POST", "/probe/timers", "{\"delay\":50,\"repeat\":30}", &d), 200);
    json_int_t rep = json_integer_value(json_object_get(d, "id"));
    json_decref(d);
    CU_ASSERT_NOT_EQUAL(one, rep);
    CU_ASSERT_EQUAL(miaw_mock_timer_count(m), 2);
    CU_ASSERT_EQUAL(miaw_mock_run_timers(m, 49), 0);
    CU_ASSERT_EQUAL(miaw_mock_run_timers(m, 1), 1);
    CU_ASSERT_EQUAL(miaw_mock_run_timers(m, 50), 2);
    CU_ASSERT_EQUAL(miaw_mock_run_timers(m, 40), 2);
    CU_ASSERT_EQUAL(miaw_mock_now(m), t0 + 140);
    /* in time order, each seeing the clock at its due time */
    json_t *want = json_pack("[[I,I],[I,I],[I,I],[I,I],[I,I]]", rep, t0 + 50, rep, t0 + 80, one, t0 + 100, rep,
                             t0 + 110, rep, t0 + 140);
    CU_ASSERT_TRUE(json_equal(pr->timer_log, want));
    json_decref(want);
    CU_ASSERT_EQUAL(miaw_mock_timer_count(m), 1);
    char path[64];
    snprintf(path, sizeof path, "/probe/timers/%lld", (long long)rep);
    CU_ASSERT_EQUAL(call_simple(m, "DELETE", path, NULL, &d), 200);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(d, "rc")), MIAW_OK);
    json_decref(d);
    CU_ASSERT_EQUAL(call_simple(m, "DELETE", path, NULL, &d), 200);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(d, "rc")), MIAW_E_NOTFOUND);
    json_decref(d);
    CU_ASSERT_EQUAL(miaw_mock_timer_count(m), 0);
    CU_ASSERT_EQUAL(miaw_mock_run_timers(m, 100000), 0);
    /* delay 0 fires on the next turn, not inside timer_start */
    CU_ASSERT_EQUAL(call_simple(m, "POST", "/probe/timers", "{\"delay\":0}", NULL), 200);
    size_t before = json_array_size(pr->timer_log);
    CU_ASSERT_EQUAL(miaw_mock_run_timers(m, 0), 1);
    CU_ASSERT_EQUAL(json_array_size(pr->timer_log), before + 1);

    /* a request answered from a timer, and one whose route times out first (1 s) */
    miaw_mock_reply r = {0}, r2 = {0};
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", "/probe/later", "{\"delay\":10}", &r), 0);
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", "/probe/later", "{\"delay\":5000}", &r2), 0);
    CU_ASSERT_EQUAL(miaw_mock_run_timers(m, 10), 1);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.json, "data.at")), miaw_mock_now(m));
    CU_ASSERT_TRUE(r2.pending);
    CU_ASSERT_EQUAL(miaw_mock_run_timers(m, 990), 1);
    CU_ASSERT_EQUAL(r2.status, 504);
    CU_ASSERT_TRUE(r2.aborted);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r2.json, "error.message"), "the operation did not complete within 1000 ms");
    CU_ASSERT_EQUAL(g_aborts, 1);
    CU_ASSERT_EQUAL(miaw_mock_timer_count(m), 0); /* on_abort stopped its timer */
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(pr->timer_log, "[6][1]")), MIAW_E_TIMEOUT);
    miaw_mock_reply_clear(&r);
    miaw_mock_reply_clear(&r2);
    /* a client that leaves */
    CU_ASSERT_EQUAL(miaw_mock_call(m, "POST", "/probe/later", "{\"delay\":500}", &r), 0);
    CU_ASSERT_EQUAL(miaw_mock_abort(m, &r), MIAW_OK);
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(pr->timer_log, "[7][1]")), MIAW_E_GONE);
    CU_ASSERT_EQUAL(miaw_mock_run_timers(m, 5000), 0);
    CU_ASSERT_EQUAL(r.status, 0);
    miaw_mock_reply_clear(&r);
    teardown(m, 0);
}

static void test_kv(void)
{
    miaw_mock *m = setup();
    json_t *d = NULL;
    CU_ASSERT_EQUAL(miaw_mock_kv_put(m, "probe", "i1", "k", "{\"a\":1}"), MIAW_OK);
    CU_ASSERT_EQUAL(call_simple(m, "GET", "/probe/kv/i1/k", NULL, &d), 200);
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(d, "value.a")), 1);
    json_decref(d);
    CU_ASSERT_EQUAL(call_simple(m, "GET", "/probe/kv/i2/k", NULL, &d), 200); /* scoped by instance */
    CU_ASSERT_TRUE(json_is_null(json_object_get(d, "value")));
    json_decref(d);
    CU_ASSERT_EQUAL(call_simple(m, "PUT", "/probe/kv/i1/list", "{\"value\":[1,2]}", NULL), 200);
    CU_ASSERT_EQUAL(call_simple(m, "PUT", "/probe/kv/-/g", "{\"value\":\"x\"}", NULL), 200);
    json_t *want = json_pack("[i,i]", 1, 2);
    CU_ASSERT_TRUE(json_equal(miaw_mock_kv(m, "probe", "i1", "list"), want));
    json_decref(want);
    CU_ASSERT_STRING_EQUAL(json_string_value(miaw_mock_kv(m, "probe", NULL, "g")), "x");
    CU_ASSERT_STRING_EQUAL(json_string_value(miaw_mock_kv(m, "probe", "", "g")), "x");
    CU_ASSERT_PTR_NULL(miaw_mock_kv(m, "probe2", NULL, "g")); /* private to the plugin */
    CU_ASSERT_EQUAL(call_simple(m, "PUT", "/probe/kv/-/g", "{\"value\":null}", NULL), 200);
    CU_ASSERT_TRUE(json_is_null(miaw_mock_kv(m, "probe", "", "g")));
    CU_ASSERT_EQUAL(call_simple(m, "GET", "/probe/kv/i1/k?del=1", NULL, &d), 200);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(d, "rc")), MIAW_OK);
    json_decref(d);
    CU_ASSERT_EQUAL(call_simple(m, "GET", "/probe/kv/i1/k?del=1", NULL, &d), 200);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(d, "rc")), MIAW_E_NOTFOUND);
    json_decref(d);
    CU_ASSERT_PTR_NULL(miaw_mock_kv(m, "probe", "i1", "k"));
    /* rows go with their instance; global rows stay */
    CU_ASSERT_EQUAL(miaw_mock_del_instance(m, "i1"), MIAW_OK);
    CU_ASSERT_PTR_NULL(miaw_mock_kv(m, "probe", "i1", "list"));
    CU_ASSERT_PTR_NOT_NULL(miaw_mock_kv(m, "probe", "", "g"));
    CU_ASSERT_EQUAL(miaw_mock_del_instance(m, "i1"), MIAW_E_NOTFOUND);
    CU_ASSERT_EQUAL(miaw_mock_kv_put(m, "probe", NULL, "g", NULL), MIAW_OK);
    CU_ASSERT_PTR_NULL(miaw_mock_kv(m, "probe", "", "g"));
    teardown(m, 0);
}

static void test_iq(void)
{
    miaw_mock *m = setup();
    miaw_mock_reply r = {0};
    CU_ASSERT_EQUAL(work(m, "{\"op\":\"iq\"}", &r), 0);
    const json_t *iq = json_array_get(miaw_mock_iqs(m), 0);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(iq, "node.tag"), "iq");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(iq, "node.attrs.xmlns"), "w:g2");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(iq, "node.attrs.to.jid"), "s.whatsapp.net");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(iq, "node.content[0].tag"), "participating");
    const char *id = miaw_mock_str(iq, "node.attrs.id");
    CU_ASSERT_PTR_NOT_NULL_FATAL(id);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(iq, "timeoutMs")), 20000);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(iq, "instance"), "i1");
    CU_ASSERT_EQUAL(g_callbacks, 0); /* never inside the call */
    CU_ASSERT_EQUAL(miaw_mock_complete_iq(m, 0, MIAW_OK, NULL, NULL), MIAW_OK);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.json, "data.status")), MIAW_OK);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.reply.attrs.type"), "result");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.reply.attrs.id"), id);
    CU_ASSERT_EQUAL(miaw_mock_complete_iq(m, 0, MIAW_OK, NULL, NULL), MIAW_E_STATE);
    miaw_mock_reply_clear(&r);
    /* the server answers type=error */
    CU_ASSERT_EQUAL(work(m, "{\"op\":\"iq\"}", &r), 0);
    CU_ASSERT_EQUAL(miaw_mock_complete_iq(m, 1, MIAW_E_IO,
                                          "{\"tag\":\"iq\",\"attrs\":{\"type\":\"error\"},\"content\":[{\"tag\":"
                                          "\"error\",\"attrs\":{\"code\":\"404\",\"text\":\"item-not-found\"}}]}",
                                          NULL),
                    MIAW_OK);
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.json, "data.status")), MIAW_E_IO);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.detail"), "404 item-not-found");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.reply.attrs.type"), "error");
    miaw_mock_reply_clear(&r);
    /* no answer in 20 s; the connection closes */
    CU_ASSERT_EQUAL(work(m, "{\"op\":\"iq\"}", &r), 0);
    CU_ASSERT_EQUAL(miaw_mock_run_timers(m, 20000), 1);
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.json, "data.status")), MIAW_E_TIMEOUT);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.detail"), "the server did not answer in time");
    CU_ASSERT_TRUE(json_is_null(miaw_mock_get(r.json, "data.reply")));
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(work(m, "{\"op\":\"iq\"}", &r), 0);
    CU_ASSERT_EQUAL(miaw_mock_complete_iq(m, 3, MIAW_E_GONE, NULL, NULL), MIAW_OK);
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.json, "data.status")), MIAW_E_STATE);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.detail"), "the connection closed");
    miaw_mock_reply_clear(&r);
    /* cancelled right away: never called back */
    CU_ASSERT_EQUAL(work(m, "{\"op\":\"iq_cancel\"}", &r), 200);
    miaw_mock_reply_clear(&r);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(miaw_mock_iqs(m), "[4].state"), "cancelled");
    int before = g_callbacks;
    CU_ASSERT_EQUAL(miaw_mock_complete_iq(m, 4, MIAW_OK, NULL, NULL), MIAW_E_GONE);
    CU_ASSERT_EQUAL(miaw_mock_run_timers(m, 60000), 0);
    CU_ASSERT_EQUAL(g_callbacks, before);
    CU_ASSERT_EQUAL(miaw_mock_complete_iq(m, 5, MIAW_OK, NULL, NULL), MIAW_E_NOTFOUND);
    /* refused calls: bad nodes, wrong tag, unknown or disconnected instance, scripted */
    CU_ASSERT_EQUAL(work(m, "{\"op\":\"iq_bad\",\"node\":{\"tag\":\"message\"}}", &r), 400);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "error.message"), "tag: an iq is needed, not <message>");
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(work(m, "{\"op\":\"iq_bad\",\"node\":{\"tag\":\"iq\",\"content\":[{\"tag\":\"a\",\"attrs\":"
                            "{\"to\":{\"jid\":5}}}]}}",
                         &r),
                    400);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "error.message"), "content[0].attrs.to: not a valid JID");
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(work(m, "{\"op\":\"iq_bad\",\"node\":{\"tag\":\"iq\",\"kids\":[]}}", &r), 400);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "error.message"),
                           "kids: unknown key (a node has tag, attrs and content)");
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(work(m, "{\"op\":\"iq\",\"inst\":\"ghost\"}", &r), 404);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "error.message"), "no such instance");
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(miaw_mock_put_instance(m, "off", "{\"status\":\"disconnected\"}"), MIAW_OK);
    CU_ASSERT_EQUAL(work(m, "{\"op\":\"iq\",\"inst\":\"off\"}", &r), 503);
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(miaw_mock_refuse(m, "iq", MIAW_E_LIMIT, NULL, "slow down"), MIAW_OK);
    CU_ASSERT_EQUAL(work(m, "{\"op\":\"iq\"}", &r), 429);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "error.message"), "slow down");
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(miaw_mock_refuse(m, "nope", MIAW_E_LIMIT, NULL, NULL), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_iqs(m)), 5);
    teardown(m, 0);
}

static void test_sends(void)
{
    miaw_mock *m = setup();
    miaw_mock_reply r = {0};
    /* msg_send with every option */
    CU_ASSERT_EQUAL(work(m, "{\"op\":\"send\",\"id\":\"ABCD\"}", &r), 0);
    const json_t *s = json_array_get(miaw_mock_sends(m), 0);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "jid"), "15550001111@s.whatsapp.net");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "id"), "ABCD");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "opts.messageId"), "ABCD");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "opts.type"), "poll");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "opts.nodes[0].attrs.polltype"), "creation");
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(s, "opts.timeoutMs")), 5000);
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(s, "opts.flags")), MIAW_MSG_F_NO_STORE);
    CU_ASSERT_TRUE(json_is_null(miaw_mock_get(s, "opts.edit"))); /* unset: null */
    CU_ASSERT_EQUAL(miaw_mock_complete_send(m, 0, MIAW_OK, NULL, 1700000000, NULL), MIAW_OK);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.id"), "ABCD");
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.json, "data.ts")), 1700000000);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(s, "result.messageId"), "ABCD");
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(work(m, "{\"op\":\"get\",\"id\":\"ABCD\"}", &r), 200); /* MIAW_MSG_F_NO_STORE */
    CU_ASSERT_TRUE(json_is_null(json_object_get(r.json, "data")));
    miaw_mock_reply_clear(&r);
    /* its own 5 s timeout */
    CU_ASSERT_EQUAL(work(m, "{\"op\":\"send\"}", &r), 0);
    CU_ASSERT_EQUAL(miaw_mock_run_timers(m, 5000), 1);
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.json, "data.status")), MIAW_E_TIMEOUT);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.id"), miaw_mock_str(miaw_mock_sends(m), "[1].id"));
    miaw_mock_reply_clear(&r);
    /* bytes */
    CU_ASSERT_EQUAL(work(m, "{\"op\":\"send_bytes\"}", &r), 0);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(miaw_mock_sends(m), "[2].bytes"), "CgJoaQ==");
    CU_ASSERT_PTR_NULL(miaw_mock_get(miaw_mock_sends(m), "[2].message"));
    CU_ASSERT_EQUAL(miaw_mock_complete_send(m, 2, MIAW_OK, "B1", 0, NULL), MIAW_OK);
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(work(m, "{\"op\":\"get\",\"id\":\"B1\"}", &r), 200); /* stored, without JSON */
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.chat"), "15550001111@s.whatsapp.net");
    CU_ASSERT_EQUAL(json_is_true(miaw_mock_get(r.json, "data.fromMe")), 1);
    CU_ASSERT_TRUE(json_is_null(miaw_mock_get(r.json, "data.message")));
    miaw_mock_reply_clear(&r);
    /* refused: bad nodes, a too long id */
    CU_ASSERT_EQUAL(work(m, "{\"op\":\"send_bad\"}", &r), 400);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "error.details.field"), "opts.nodes");
    CU_ASSERT_PTR_NOT_NULL(strstr(miaw_mock_str(r.json, "error.message"), "opts.nodes[0].content"));
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(work(m, "{\"op\":\"send\",\"id\":\"ABCDEFGHIJKLMNOPQRSTUVWXYZ\"}", &r), 400);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "error.details.field"), "opts.message_id");
    miaw_mock_reply_clear(&r);
    /* send_text (1.1) */
    CU_ASSERT_EQUAL(work(m, "{\"op\":\"text\",\"to\":\"+1 555 000 2222\"}", &r), 0);
    const json_t *t = json_array_get(miaw_mock_sends(m), 3);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(t, "kind"), "send_text");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(t, "text"), "hello");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(t, "quotedId"), "Q1");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(t, "jid"), "15550002222@s.whatsapp.net");
    CU_ASSERT_EQUAL(miaw_mock_complete_send(m, 3, MIAW_E_NOTFOUND, NULL, 0, NULL), MIAW_OK);
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.json, "data.status")), MIAW_E_NOTFOUND);
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.json, "data.ts")), 0);
    CU_ASSERT_PTR_NOT_NULL(miaw_mock_str(r.json, "data.detail"));
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(work(m, "{\"op\":\"text\",\"to\":\"12\"}", &r), 400);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "error.details.field"), "to");
    miaw_mock_reply_clear(&r);
    /* stanza_send: synchronous, recorded */
    CU_ASSERT_EQUAL(work(m, "{\"op\":\"stanza\",\"node\":{\"tag\":\"presence\",\"attrs\":{\"type\":\"available\"}}}",
                         &r),
                    200);
    miaw_mock_reply_clear(&r);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(miaw_mock_stanzas(m), "[0].node.attrs.type"), "available");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(miaw_mock_stanzas(m), "[0].plugin"), "probe");
    CU_ASSERT_EQUAL(work(m, "{\"op\":\"stanza\",\"node\":{\"tag\":\"\"}}", &r), 400);
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(miaw_mock_set_connected(m, "i1", 0), MIAW_OK);
    CU_ASSERT_EQUAL(work(m, "{\"op\":\"stanza\",\"node\":{\"tag\":\"presence\"}}", &r), 503);
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(work(m, "{\"op\":\"send\"}", &r), 503);
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(work(m, "{\"op\":\"send\",\"inst\":\"ghost\"}", &r), 404);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "error.message"), "instance 'ghost' not found");
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_stanzas(m)), 1);
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_sends(m)), 4);
    teardown(m, 0);
}

static void test_media(void)
{
    miaw_mock *m = setup();
    probe *pr = state(m);
    miaw_mock_reply r = {0};
    CU_ASSERT_EQUAL(work(m, "{\"op\":\"upload\",\"type\":\"image\"}", &r), 0);
    const json_t *u = json_array_get(miaw_mock_media(m), 0);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(u, "kind"), "upload");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(u, "data"), "aGVsbG8=");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(u, "length")), 5);
    CU_ASSERT_EQUAL(miaw_mock_complete_media(m, 0, MIAW_OK, NULL, NULL), MIAW_OK);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.result.fileLength"), "5");
    CU_ASSERT_PTR_NOT_NULL(miaw_mock_str(r.json, "data.result.directPath"));
    CU_ASSERT_PTR_NOT_NULL(miaw_mock_str(r.json, "data.result.url"));
    CU_ASSERT_EQUAL(strlen(miaw_mock_str(r.json, "data.result.mediaKey")), 44);
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(work(m, "{\"op\":\"upload\",\"type\":\"gif\"}", &r), 400);
    miaw_mock_reply_clear(&r);
    /* download to a chunk callback */
    CU_ASSERT_EQUAL(work(m, "{\"op\":\"download\"}", &r), 0);
    CU_ASSERT_EQUAL(json_is_true(miaw_mock_get(miaw_mock_media(m), "[1].chunk")), 1);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(miaw_mock_media(m), "[1].media.directPath"), "/v/x");
    CU_ASSERT_EQUAL(miaw_mock_media_feed(m, 1, "abc", 3), MIAW_OK);
    CU_ASSERT_EQUAL(miaw_mock_media_feed(m, 1, "def", 3), MIAW_OK);
    CU_ASSERT_STRING_EQUAL(pr->chunks, "abcdef");
    CU_ASSERT_TRUE(r.pending);
    CU_ASSERT_EQUAL(miaw_mock_complete_media(m, 1, MIAW_OK, NULL, NULL), MIAW_OK);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.result.fileLength"), "6");
    CU_ASSERT_EQUAL(miaw_mock_media_feed(m, 1, "x", 1), MIAW_E_STATE);
    CU_ASSERT_EQUAL(miaw_mock_media_feed(m, 0, "x", 1), MIAW_E_INVAL); /* an upload */
    miaw_mock_reply_clear(&r);
    /* the plugin stops it */
    CU_ASSERT_EQUAL(work(m, "{\"op\":\"download_stop\"}", &r), 0);
    CU_ASSERT_EQUAL(miaw_mock_media_feed(m, 2, "zz", 2), MIAW_E_INTERNAL);
    CU_ASSERT_EQUAL(json_integer_value(miaw_mock_get(r.json, "data.status")), MIAW_E_INTERNAL);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.detail"), "stopped by the plugin");
    miaw_mock_reply_clear(&r);
    /* download to a file: written under a temporary name, renamed when complete */
    char dir[] = "/tmp/miaw-mock-XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char path[128], part[140], body[256];
    snprintf(path, sizeof path, "%s/file.bin", dir);
    snprintf(part, sizeof part, "%s.part", path);
    snprintf(body, sizeof body, "{\"op\":\"download_path\",\"path\":\"%s\"}", path);
    CU_ASSERT_EQUAL(work(m, body, &r), 0);
    CU_ASSERT_EQUAL(miaw_mock_media_feed(m, 3, "0123", 4), MIAW_OK);
    CU_ASSERT_EQUAL(access(part, F_OK), 0);
    CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0);
    CU_ASSERT_EQUAL(miaw_mock_complete_media(m, 3, MIAW_OK, NULL, NULL), MIAW_OK);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.result.fileLength"), "4");
    char got[16] = "";
    FILE *f = fopen(path, "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fread(got, 1, sizeof got - 1, f), 4);
    fclose(f);
    CU_ASSERT_STRING_EQUAL(got, "0123");
    CU_ASSERT_NOT_EQUAL(access(part, F_OK), 0);
    miaw_mock_reply_clear(&r);
    /* a failed one leaves nothing */
    remove(path);
    CU_ASSERT_EQUAL(work(m, body, &r), 0);
    CU_ASSERT_EQUAL(miaw_mock_media_feed(m, 4, "01", 2), MIAW_OK);
    CU_ASSERT_EQUAL(miaw_mock_complete_media(m, 4, MIAW_E_IO, NULL, "MAC check failed"), MIAW_OK);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(r.json, "data.detail"), "MAC check failed");
    CU_ASSERT_TRUE(json_is_null(miaw_mock_get(r.json, "data.result")) || !miaw_mock_get(r.json, "data.result"));
    CU_ASSERT_NOT_EQUAL(access(part, F_OK), 0);
    CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0);
    miaw_mock_reply_clear(&r);
    rmdir(dir);
    teardown(m, 0);
}

/* unload with calls in flight: fini runs, then nothing of the plugin is ever called again */
static void test_unload_in_flight(void)
{
    miaw_mock *m = setup();
    miaw_mock_reply r = {0}, pending_req = {0};
    CU_ASSERT_EQUAL(work(m, "{\"op\":\"all\"}", &r), 202);
    json_t *want = json_pack("[i,i,i,i,i,i]", 0, 0, 0, 0, 0, 0);
    CU_ASSERT_TRUE(json_equal(miaw_mock_get(r.json, "data"), want));
    json_decref(want);
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(work(m, "{\"op\":\"iq\"}", &pending_req), 0);
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_iqs(m)), 2);
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_sends(m)), 2);
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_media(m)), 2);
    CU_ASSERT_EQUAL(miaw_mock_timer_count(m), 1);
    CU_ASSERT_EQUAL(miaw_mock_run_timers(m, 10), 1);

    miaw_mock_unload(m, miaw_mock_plugin(m, "probe"));
    CU_ASSERT_EQUAL(g_fini, 1);
    CU_ASSERT_EQUAL(g_aborts, 1); /* the pending request was aborted first */
    CU_ASSERT_TRUE(pending_req.aborted);
    CU_ASSERT_FALSE(pending_req.pending);
    int before = g_callbacks;
    for (size_t i = 0; i < 2; i++) {
        CU_ASSERT_STRING_EQUAL(miaw_mock_str(json_array_get(miaw_mock_iqs(m), i), "state"), "cancelled");
        CU_ASSERT_STRING_EQUAL(miaw_mock_str(json_array_get(miaw_mock_sends(m), i), "state"), "cancelled");
        CU_ASSERT_STRING_EQUAL(miaw_mock_str(json_array_get(miaw_mock_media(m), i), "state"), "cancelled");
        CU_ASSERT_EQUAL(miaw_mock_complete_iq(m, i, MIAW_OK, NULL, NULL), MIAW_E_GONE);
        CU_ASSERT_EQUAL(miaw_mock_complete_send(m, i, MIAW_OK, NULL, 0, NULL), MIAW_E_GONE);
        CU_ASSERT_EQUAL(miaw_mock_complete_media(m, i, MIAW_OK, NULL, NULL), MIAW_E_GONE);
    }
    CU_ASSERT_EQUAL(miaw_mock_media_feed(m, 1, "x", 1), MIAW_E_GONE);
    CU_ASSERT_EQUAL(miaw_mock_timer_count(m), 0);
    CU_ASSERT_EQUAL(miaw_mock_run_timers(m, 100000), 0);
    CU_ASSERT_EQUAL(miaw_mock_deliver(m, "i1", "{\"tag\":\"presence\"}"), 0);
    CU_ASSERT_EQUAL(miaw_mock_emit(m, "message", "i1", NULL), 1); /* probe2 only */
    CU_ASSERT_EQUAL(g_callbacks, before);
    CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", "/probe/status/-1", NULL, &r), 404);
    miaw_mock_reply_clear(&r);
    json_t *routes = miaw_mock_routes(m);
    CU_ASSERT_EQUAL(json_array_size(routes), 1);
    json_decref(routes);
    /* the type is free again once its declarer is gone */
    json_t *d = NULL;
    CU_ASSERT_EQUAL(call_simple(m, "GET", "/probe2/emit", NULL, &d), 200);
    CU_ASSERT_EQUAL(json_integer_value(json_array_get(d, 0)), MIAW_E_NOTFOUND);
    json_decref(d);
    miaw_mock_reply_clear(&pending_req);
    teardown(m, 0);

    /* freeing the mock with a request pending does the same */
    m = setup();
    CU_ASSERT_EQUAL(work(m, "{\"op\":\"send\"}", &pending_req), 0);
    miaw_mock_free(m);
    CU_ASSERT_EQUAL(g_fini, 1);
    CU_ASSERT_EQUAL(g_aborts, 1);
    CU_ASSERT_TRUE(pending_req.aborted);
    miaw_mock_reply_clear(&pending_req);
}

static void test_helpers(void)
{
    json_t *j = json_loads("{\"a\":{\"b\":[{\"c\":\"x\"},[1,\"y\"]]},\"d.e\":1}", 0, NULL);
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(j, "a.b[0].c"), "x");
    CU_ASSERT_STRING_EQUAL(miaw_mock_str(j, "a.b[1][1]"), "y");
    CU_ASSERT_PTR_NULL(miaw_mock_get(j, "a.b[2]"));
    CU_ASSERT_PTR_NULL(miaw_mock_get(j, "a.b[x]"));
    CU_ASSERT_PTR_NULL(miaw_mock_str(j, "a.b"));
    CU_ASSERT_PTR_NULL(miaw_mock_get(NULL, "a"));
    CU_ASSERT_PTR_EQUAL(miaw_mock_get(j, ""), j);
    json_decref(j);
    miaw_mock *m = miaw_mock_new();
    CU_ASSERT_EQUAL(miaw_mock_api(m)->now_ms(), 1735118400000LL);
    CU_ASSERT_EQUAL(miaw_mock_put_instance(m, "i1", "[1]"), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(miaw_mock_put_instance(m, "i1", "{\"webhookUrl\":null}"), MIAW_OK); /* status defaults */
    miaw_mock *m2 = miaw_mock_new();
    miaw_mock_run_timers(m2, 5);
    CU_ASSERT_EQUAL(miaw_mock_api(m)->now_ms(), 1735118400005LL); /* the newest mock's clock */
    miaw_mock_free(m2);
    CU_ASSERT_EQUAL(miaw_mock_api(m)->now_ms(), 1735118400000LL);
    CU_ASSERT_EQUAL(miaw_mock_put_instance(m, "", NULL), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(miaw_mock_set_connected(m, "zz", 1), MIAW_E_NOTFOUND);
    CU_ASSERT_EQUAL(miaw_mock_put_message(m, "i1", "x", "1"), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(miaw_mock_complete_send(m, 0, MIAW_OK, NULL, 0, NULL), MIAW_E_NOTFOUND);
    miaw_mock_reply r = {0};
    CU_ASSERT_EQUAL(miaw_mock_call(m, "GET", "/", NULL, &r), 404);
    CU_ASSERT_EQUAL(miaw_mock_abort(m, &r), MIAW_E_STATE);
    CU_ASSERT_EQUAL(miaw_mock_timeout(m, &r), MIAW_E_STATE);
    miaw_mock_reply_clear(&r);
    CU_ASSERT_EQUAL(json_array_size(miaw_mock_logs(m)), 0);
    miaw_mock_free(m);
}

MIAW_TESTS("mock_host", MIAW_T(test_loading), MIAW_T(test_routes_and_bodies), MIAW_T(test_status_tables),
           MIAW_T(test_violations), MIAW_T(test_stanza_filters), MIAW_T(test_events_both_ways), MIAW_T(test_timers),
           MIAW_T(test_kv), MIAW_T(test_iq), MIAW_T(test_sends), MIAW_T(test_media), MIAW_T(test_unload_in_flight),
           MIAW_T(test_helpers))
