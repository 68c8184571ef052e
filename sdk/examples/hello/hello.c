/* sdk/examples/hello/hello.c - an example third-party miaw plugin. It builds with only
 * the installed SDK (pkg-config miaw-plugin) and shows the whole ABI surface a plugin
 * usually needs: a descriptor, init/fini, a route with a validated body, per-plugin
 * storage, an event it declares and emits, and a subscription to core events.
 *
 *   POST /api/v1/instances/{instanceId}/hello {"name":"Ada"}
 *     -> {"success":true,"data":{"greeting":"Hello, Ada!","count":N,"instance":{...}}}
 *   POST /api/v1/hello/later {"name":"Ada","delayMs":200}
 *     -> answered asynchronously after delayMs (shows req_suspend, timers, on_abort)
 *   GET  /api/v1/hello/stats -> {"success":true,"data":{"greetings":N,"instancesCreated":M}} */
#include <jansson.h>
#include <miaw/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct hello {
    miaw_plugin *self;
    const miaw_host_api *api;
    char greeting[64];
    long created_seen;
} hello;

static int on_hello(miaw_req *req, void *udata)
{
    hello *h = udata;
    const char *inst = h->api->req_param(req, "instanceId");
    const char *name = json_string_value(json_object_get(h->api->req_body(req), "name"));
    /* count greetings per instance in the plugin's key/value store */
    json_t *prev = h->api->kv_get(h->self, inst, "count");
    json_int_t count = (prev ? json_integer_value(prev) : 0) + 1;
    json_decref(prev);
    h->api->kv_put(h->self, inst, "count", json_integer(count));
    char text[256];
    snprintf(text, sizeof text, "%s, %s!", h->greeting, name);
    h->api->event_emit(h->self, "hello.greeted", inst, json_pack("{s:s}", "name", name));
    json_t *instance = h->api->instance_get(h->self, inst);
    return h->api->reply_json(req, 200, json_pack("{s:s,s:I,s:o}", "greeting", text, "count", count, "instance",
                                                  instance ? instance : json_null()));
}

/* one pending asynchronous greeting: the request stays valid until we answer it or the
 * host calls on_abort (client gone, or the route's timeout answered 504) */
typedef struct later {
    hello *h;
    miaw_req *req;
    miaw_id timer;
    char name[101];
} later;

static void later_fire(miaw_id timer, void *udata)
{
    (void)timer;
    later *l = udata;
    char text[256];
    snprintf(text, sizeof text, "%s, %s! (later)", l->h->greeting, l->name);
    l->h->api->reply_json(l->req, 200, json_pack("{s:s}", "greeting", text));
    free(l);
}

static void later_abort(miaw_req *req, int reason, void *udata)
{
    (void)req;
    (void)reason;
    later *l = udata;
    l->h->api->timer_stop(l->h->self, l->timer); /* never touch req again */
    free(l);
}

static int on_later(miaw_req *req, void *udata)
{
    hello *h = udata;
    const json_t *body = h->api->req_body(req);
    later *l = calloc(1, sizeof *l);
    if (!l) return MIAW_E_NOMEM;
    l->h = h;
    l->req = req;
    snprintf(l->name, sizeof l->name, "%s", json_string_value(json_object_get(body, "name")));
    json_int_t delay = json_integer_value(json_object_get(body, "delayMs"));
    int rc = h->api->req_suspend(req, later_abort, l);
    if (rc == MIAW_OK) rc = h->api->timer_start(h->self, (uint32_t)delay, 0, later_fire, l, &l->timer);
    if (rc != MIAW_OK) {
        free(l);
        return rc;
    }
    return MIAW_ASYNC;
}

static int on_stats(miaw_req *req, void *udata)
{
    hello *h = udata;
    json_t *total = h->api->kv_get(h->self, "", "total");
    json_t *d = json_pack("{s:I,s:i}", "greetings", total ? json_integer_value(total) : 0, "instancesCreated",
                          (int)h->created_seen);
    json_decref(total);
    return h->api->reply_json(req, 200, d);
}

static void on_event(const miaw_event *ev, void *udata)
{
    hello *h = udata;
    if (strcmp(ev->type, "instance.created") == 0) h->created_seen++;
    if (strcmp(ev->type, "hello.greeted") == 0) {
        json_t *t = h->api->kv_get(h->self, "", "total");
        h->api->kv_put(h->self, "", "total", json_integer((t ? json_integer_value(t) : 0) + 1));
        json_decref(t);
    }
}

static const miaw_field HELLO_BODY[] = {
    {.name = "name", .type = MIAW_T_STRING, .flags = MIAW_F_REQUIRED | MIAW_F_NONEMPTY | MIAW_F_HAS_MAX, .max = 100,
     .description = "who to greet", .example = "\"Ada\""},
    {0},
};

static const miaw_field LATER_BODY[] = {
    {.name = "name", .type = MIAW_T_STRING, .flags = MIAW_F_REQUIRED | MIAW_F_NONEMPTY | MIAW_F_HAS_MAX, .max = 100},
    {.name = "delayMs", .type = MIAW_T_INTEGER, .flags = MIAW_F_REQUIRED | MIAW_F_HAS_MIN | MIAW_F_HAS_MAX, .min = 0,
     .max = 60000, .description = "answer after this many milliseconds"},
    {0},
};

static int hello_init(miaw_plugin *self, const miaw_host_api *api, const json_t *config, void **state, char *err,
                      size_t errlen)
{
    if (api->abi_major != MIAW_ABI_MAJOR) {
        snprintf(err, errlen, "host ABI %u, plugin built for %u", api->abi_major, MIAW_ABI_MAJOR);
        return MIAW_E_NOTSUP;
    }
    hello *h = calloc(1, sizeof *h);
    if (!h) return MIAW_E_NOMEM;
    h->self = self;
    h->api = api;
    const char *g = json_string_value(json_object_get(config, "greeting"));
    snprintf(h->greeting, sizeof h->greeting, "%s", g ? g : "Hello");
    if (json_is_true(json_object_get(config, "fail_init"))) {
        snprintf(err, errlen, "fail_init is set in the plugin's config");
        free(h);
        return MIAW_E_INVAL;
    }
    const miaw_route routes[] = {
        {MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/hello", .flags = MIAW_ROUTE_INSTANCE,
         .handler = on_hello, .udata = h, .body = HELLO_BODY, .summary = "Greet someone from an instance",
         .tag = "Hello", .response_example = "{\"greeting\":\"Hello, Ada!\",\"count\":1}"},
        {MIAW_ROUTE_INIT, .method = "POST", .path = "/hello/later", .handler = on_later, .udata = h,
         .body = LATER_BODY, .timeout_ms = 1000, .summary = "Greet after a delay (asynchronous answer)",
         .description = "Answers after delayMs; over 1000 ms the host answers 504 TIMEOUT.", .tag = "Hello"},
        {MIAW_ROUTE_INIT, .method = "GET", .path = "/hello/stats", .handler = on_stats, .udata = h,
         .summary = "Greeting statistics", .tag = "Hello"},
    };
    const miaw_event_decl decl = {.struct_size = sizeof decl, .type = "hello.greeted", .flags = MIAW_EVENT_F_WEBHOOK,
                                  .description = "Someone was greeted: {name}"};
    int rc;
    if ((rc = api->event_declare(self, &decl, err, errlen)) != MIAW_OK) goto fail;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if ((rc = api->route_add(self, &routes[i], err, errlen)) != MIAW_OK) goto fail;
    if ((rc = api->event_subscribe(self, "instance.created", on_event, h, NULL)) != MIAW_OK ||
        (rc = api->event_subscribe(self, "hello.*", on_event, h, NULL)) != MIAW_OK)
        goto fail;
    api->log(self, MIAW_LOG_INFO, "ready (greeting '%s')", h->greeting);
    *state = h;
    return MIAW_OK;
fail:
    free(h); /* the host removes what was registered */
    return rc;
}

static void hello_fini(void *state) { free(state); }

static const miaw_plugin_desc DESC = {
    MIAW_PLUGIN_DESC_INIT,
    .name = "hello",
    .version = "1.0.0",
    .description = "Example plugin: greets from an instance",
    .init = hello_init,
    .fini = hello_fini,
};

MIAW_EXPORT const miaw_plugin_desc *miaw_plugin_entry(void) { return &DESC; }
