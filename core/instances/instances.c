/* core/instances/instances.c - instance registry and its routes (see instances.h). Records are
 * kept in a sorted array (binary search by id) mirrored in the instances table. */
#include "instances/instances.h"

#include "http/http.h"
#include "base/log.h"
#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct miaw_instances {
    const miaw_config *cfg;
    miaw_storage *db;
    miaw_bus *bus;
    miaw_instance **v;
    size_t n, cap;
    miaw_inst_unlink_fn unlink; /* see miaw_instances_set_unlink */
    void *unlink_ud;
};

void miaw_instances_set_unlink(miaw_instances *r, miaw_inst_unlink_fn fn, void *udata)
{
    r->unlink = fn;
    r->unlink_ud = udata;
}

static const char *STATE_NAMES[MIAW_ST__COUNT] = {"disconnected", "connecting", "qr", "connected", "logged_out"};

const char *miaw_inst_state_name(miaw_inst_state s) { return s < MIAW_ST__COUNT ? STATE_NAMES[s] : "unknown"; }

static miaw_inst_state state_from_name(const char *s)
{
    for (int i = 0; s && i < MIAW_ST__COUNT; i++)
        if (strcmp(s, STATE_NAMES[i]) == 0) return (miaw_inst_state)i;
    return MIAW_ST_DISCONNECTED;
}

int miaw_instance_id_valid(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n < 1 || n > 64) return 0;
    for (const char *c = id; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
            return 0;
    return 1;
}

static size_t lower_bound(const miaw_instances *r, const char *id)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(r->v[mid]->id, id) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

miaw_instance *miaw_instances_find(miaw_instances *r, const char *id)
{
    if (!id) return NULL;
    size_t i = lower_bound(r, id);
    return i < r->n && strcmp(r->v[i]->id, id) == 0 ? r->v[i] : NULL;
}

static int insert(miaw_instances *r, miaw_instance *in)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        miaw_instance **v = realloc(r->v, cap * sizeof *v);
        if (!v) return -1;
        r->v = v;
        r->cap = cap;
    }
    size_t i = lower_bound(r, in->id);
    memmove(r->v + i + 1, r->v + i, (r->n - i) * sizeof *r->v);
    r->v[i] = in;
    r->n++;
    return 0;
}

/* the text of miaw_instance_json_text and the fields it was made of (copies) */
struct miaw_inst_json_cache {
    miaw_inst_state state;
    int webhook_enabled;
    int64_t created_ms;
    char *state_reason, *webhook_url; /* NULL as in the instance */
    json_t *webhook_events;           /* deep copy */
    size_t len;
    char text[];
};

static void json_cache_free(struct miaw_inst_json_cache *c)
{
    if (!c) return;
    free(c->state_reason);
    free(c->webhook_url);
    json_decref(c->webhook_events);
    free(c);
}

static void inst_free(miaw_instance *in)
{
    json_cache_free(in->json_cache);
    free(in->webhook_url);
    free(in->state_reason);
    json_decref(in->webhook_events);
    free(in);
}

size_t miaw_instances_count(const miaw_instances *r) { return r->n; }

static void session_path(const miaw_instances *r, const char *id, char *out, size_t cap)
{
    snprintf(out, cap, "%s/sessions/%s", r->cfg->data_dir, id);
}

json_t *miaw_instance_json(const miaw_instances *r, const miaw_instance *in)
{
    char created[40], sp[4096];
    miaw_iso8601(created, sizeof created, in->created_ms);
    session_path(r, in->id, sp, sizeof sp);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:O,s:b,s:s}", "instanceId", in->id, "status", miaw_inst_state_name(in->state),
                          "sessionPath", sp, "webhookUrl", in->webhook_url ? in->webhook_url : "", "webhookEvents",
                          in->webhook_events, "webhookEnabled", in->webhook_enabled, "createdAt", created);
    if (!in->webhook_url) json_object_set_new(o, "webhookUrl", json_null());
    if (in->state_reason) json_object_set_new(o, "statusReason", json_string(in->state_reason));
    return o;
}

static int str_same(const char *a, const char *b) { return a == b || (a && b && strcmp(a, b) == 0); }

static char *str_copy(const char *s, int *fail)
{
    char *c = s ? strdup(s) : NULL;
    if (s && !c) *fail = 1;
    return c;
}

const char *miaw_instance_json_text(const miaw_instances *r, miaw_instance *in, size_t *len)
{
    struct miaw_inst_json_cache *c = in->json_cache;
    /* id and the data dir (sessionPath) do not change for a record */
    if (c && c->state == in->state && c->webhook_enabled == in->webhook_enabled && c->created_ms == in->created_ms &&
        str_same(c->state_reason, in->state_reason) && str_same(c->webhook_url, in->webhook_url) &&
        (c->webhook_events == in->webhook_events || json_equal(c->webhook_events, in->webhook_events))) {
        *len = c->len;
        return c->text;
    }
    json_cache_free(c);
    in->json_cache = NULL;
    json_t *o = miaw_instance_json(r, in);
    size_t n = o ? json_dumpb(o, NULL, 0, JSON_COMPACT) : 0;
    c = n ? malloc(sizeof *c + n + 1) : NULL;
    if (!c || json_dumpb(o, c->text, n, JSON_COMPACT) != n) {
        free(c);
        json_decref(o);
        return NULL;
    }
    json_decref(o);
    c->text[n] = 0;
    c->len = n;
    c->state = in->state;
    c->webhook_enabled = in->webhook_enabled;
    c->created_ms = in->created_ms;
    int fail = 0;
    c->state_reason = str_copy(in->state_reason, &fail);
    c->webhook_url = str_copy(in->webhook_url, &fail);
    c->webhook_events = in->webhook_events ? json_deep_copy(in->webhook_events) : NULL;
    if (fail || (in->webhook_events && !c->webhook_events)) {
        json_cache_free(c);
        return NULL;
    }
    in->json_cache = c;
    *len = n;
    return c->text;
}

json_t *miaw_instances_state_counts(const miaw_instances *r)
{
    size_t c[MIAW_ST__COUNT] = {0};
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i]->state < MIAW_ST__COUNT) c[r->v[i]->state]++;
    json_t *o = json_pack("{s:I}", "total", (json_int_t)r->n);
    for (int i = 0; i < MIAW_ST__COUNT; i++) json_object_set_new(o, STATE_NAMES[i], json_integer((json_int_t)c[i]));
    return o;
}

/* ------------------------------------------------------------- persistence */
static int load_all(miaw_instances *r, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(r->db->db,
                           "SELECT id, created_at, webhook_url, webhook_events, webhook_enabled, status, status_reason "
                           "FROM instances",
                           -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "instances: %s", sqlite3_errmsg(r->db->db));
        return -1;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        if (!miaw_instance_id_valid(id)) {
            MIAW_WARN("instances", "skipping a stored instance with an invalid id");
            continue;
        }
        miaw_instance *in = calloc(1, sizeof *in);
        snprintf(in->id, sizeof in->id, "%s", id);
        in->created_ms = sqlite3_column_int64(st, 1);
        const char *url = (const char *)sqlite3_column_text(st, 2);
        in->webhook_url = url && *url ? strdup(url) : NULL;
        const char *ev = (const char *)sqlite3_column_text(st, 3);
        in->webhook_events = ev ? json_loads(ev, 0, NULL) : NULL;
        if (!json_is_array(in->webhook_events)) {
            MIAW_WARN("instances", "%s: unreadable webhook_events, using all events", in->id);
            json_decref(in->webhook_events);
            in->webhook_events = json_array();
        }
        in->webhook_enabled = sqlite3_column_int(st, 4);
        /* a fresh process is not connected to anything yet; paired instances reconnect */
        in->state = state_from_name((const char *)sqlite3_column_text(st, 5));
        if (in->state != MIAW_ST_LOGGED_OUT) in->state = MIAW_ST_DISCONNECTED;
        const char *reason = (const char *)sqlite3_column_text(st, 6);
        in->state_reason = reason ? strdup(reason) : NULL;
        insert(r, in);
    }
    sqlite3_finalize(st);
    return 0;
}

static int persist(miaw_instances *r, const miaw_instance *in, int is_new)
{
    sqlite3_stmt *st;
    const char *sql = is_new ? "INSERT INTO instances(id, created_at, webhook_url, webhook_events, webhook_enabled, "
                               "status, status_reason) VALUES(?1,?2,?3,?4,?5,?6,?7)"
                             : "UPDATE instances SET created_at=?2, webhook_url=?3, webhook_events=?4, "
                               "webhook_enabled=?5, status=?6, status_reason=?7 WHERE id=?1";
    if (sqlite3_prepare_v2(r->db->db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
    char *ev = json_dumps(in->webhook_events, JSON_COMPACT);
    sqlite3_bind_text(st, 1, in->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, in->created_ms);
    if (in->webhook_url) sqlite3_bind_text(st, 3, in->webhook_url, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, 3);
    sqlite3_bind_text(st, 4, ev ? ev : "[]", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, in->webhook_enabled);
    sqlite3_bind_text(st, 6, miaw_inst_state_name(in->state), -1, SQLITE_STATIC);
    if (in->state_reason) sqlite3_bind_text(st, 7, in->state_reason, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, 7);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    if (rc) MIAW_ERR("instances", "%s: cannot persist: %s", in->id, sqlite3_errmsg(r->db->db));
    sqlite3_finalize(st);
    free(ev);
    return rc;
}

int miaw_instance_set_webhook(miaw_instances *r, miaw_instance *in, const char *url, json_t *events, int enabled)
{
    free(in->webhook_url);
    in->webhook_url = url && *url ? strdup(url) : NULL;
    if (events) {
        json_decref(in->webhook_events);
        in->webhook_events = events;
    }
    in->webhook_enabled = enabled;
    return persist(r, in, 0);
}

void miaw_instance_set_state(miaw_instances *r, miaw_instance *in, miaw_inst_state s, const char *reason)
{
    in->state = s;
    free(in->state_reason);
    in->state_reason = reason ? strdup(reason) : NULL;
    persist(r, in, 0);
    json_t *d = json_pack("{s:s}", "state", miaw_inst_state_name(s));
    if (reason) json_object_set_new(d, "reason", json_string(reason));
    miaw_bus_emit(r->bus, NULL, "connection", in->id, d);
}

/* ------------------------------------------------------------------ routes */
/* checks webhookUrl / webhookEvents of a body; replies 400 and returns -1 on error */
static int check_webhook_fields(miaw_instances *r, miaw_req *q, const json_t *body)
{
    const json_t *url = json_object_get(body, "webhookUrl");
    if (url && json_is_string(url) && json_string_length(url)) {
        const char *u = json_string_value(url);
        if ((strncmp(u, "http://", 7) || !u[7]) && (strncmp(u, "https://", 8) || !u[8])) {
            miaw_req_reply_err(q, MIAW_ERR_INVALID_REQUEST, json_pack("{s:s}", "field", "webhookUrl"),
                               "'webhookUrl' must be an http or https URL");
            return -1;
        }
    }
    const json_t *ev = json_object_get(body, "webhookEvents");
    size_t i;
    json_t *e;
    json_array_foreach(ev, i, e) {
        const miaw_event_type *t = miaw_bus_find(r->bus, json_string_value(e));
        if (!t || !(t->flags & MIAW_EVENT_F_WEBHOOK)) {
            char field[48];
            snprintf(field, sizeof field, "webhookEvents[%zu]", i);
            miaw_req_reply_err(q, MIAW_ERR_INVALID_REQUEST, json_pack("{s:s}", "field", field),
                               "'%s' is not a known webhook event ('%s')", field, json_string_value(e));
            return -1;
        }
    }
    return 0;
}

static int h_create(miaw_req *q, void *ud)
{
    miaw_instances *r = ud;
    const json_t *body = miaw_req_body(q);
    const char *id = json_string_value(json_object_get(body, "instanceId"));
    char gen[33];
    if (!id) {
        miaw_random_hex(gen, 8);
        id = gen;
    }
    if (check_webhook_fields(r, q, body) != 0) return MIAW_OK;
    if (miaw_instances_find(r, id))
        return miaw_req_reply_err(q, MIAW_ERR_CONFLICT, json_pack("{s:s}", "instanceId", id),
                                  "instance '%s' already exists", id), MIAW_OK;
    miaw_instance *in = calloc(1, sizeof *in);
    snprintf(in->id, sizeof in->id, "%s", id);
    in->created_ms = miaw_now_ms();
    const char *url = json_string_value(json_object_get(body, "webhookUrl"));
    in->webhook_url = url && *url ? strdup(url) : NULL;
    json_t *ev = json_object_get(body, "webhookEvents");
    in->webhook_events = ev ? json_deep_copy(ev) : json_array();
    const json_t *en = json_object_get(body, "webhookEnabled");
    in->webhook_enabled = en ? json_is_true(en) : 1;
    char sp[4096];
    session_path(r, in->id, sp, sizeof sp);
    if (miaw_mkdir_p(sp, 0700) != 0 || persist(r, in, 1) != 0 || insert(r, in) != 0) {
        miaw_rm_rf(sp);
        inst_free(in);
        return miaw_req_reply_err(q, MIAW_ERR_INTERNAL, NULL, "cannot store the instance"), MIAW_OK;
    }
    MIAW_INFO("instances", "created %s", in->id);
    miaw_bus_emit(r->bus, NULL, "instance.created", in->id, miaw_instance_json(r, in));
    miaw_req_reply_data(q, 201, miaw_instance_json(r, in));
    return MIAW_OK;
}

static int h_list(miaw_req *q, void *ud)
{
    miaw_instances *r = ud;
    const char *status = miaw_req_query(q, "status");
    if (status && *status && state_from_name(status) == MIAW_ST_DISCONNECTED && strcmp(status, "disconnected") != 0)
        return miaw_req_reply_err(q, MIAW_ERR_INVALID_REQUEST, json_pack("{s:s}", "field", "status"),
                                  "'status' must be one of disconnected, connecting, qr, connected, logged_out"),
               MIAW_OK;
    json_t *a = json_array();
    for (size_t i = 0; i < r->n; i++)
        if (!status || !*status || strcmp(miaw_inst_state_name(r->v[i]->state), status) == 0)
            json_array_append_new(a, miaw_instance_json(r, r->v[i]));
    miaw_req_reply_data(q, 200, a);
    return MIAW_OK;
}

static int h_get(miaw_req *q, void *ud)
{
    miaw_instances *r = ud;
    miaw_instance *in = miaw_instances_find(r, miaw_req_param(q, "instanceId"));
    size_t n = 0;
    const char *text = miaw_instance_json_text(r, in, &n);
    if (text) miaw_req_reply_data_text(q, 200, text, n); /* the cached text: no jansson per request */
    else miaw_req_reply_data(q, 200, miaw_instance_json(r, in));
    return MIAW_OK;
}

/* removes instance id with its rows and files and answers q (when not NULL) */
static void delete_now(miaw_instances *r, miaw_req *q, const char *id, int unlinked)
{
    size_t i = lower_bound(r, id);
    if (i >= r->n || strcmp(r->v[i]->id, id) != 0) { /* deleted meanwhile by another request */
        if (q) miaw_req_reply_err(q, MIAW_ERR_INSTANCE_NOT_FOUND, json_pack("{s:s}", "instanceId", id),
                                  "instance '%s' does not exist", id);
        return;
    }
    miaw_instance *in = r->v[i];
    /* let the engine, the webhook outbox and plugins drop their state first */
    miaw_bus_emit(r->bus, NULL, "instance.deleted", in->id, json_pack("{s:s}", "instanceId", in->id));
    if (miaw_storage_purge_instance(r->db, in->id) != 0) {
        if (q) miaw_req_reply_err(q, MIAW_ERR_INTERNAL, NULL, "cannot delete the instance's rows");
        return;
    }
    char sp[4096];
    session_path(r, in->id, sp, sizeof sp);
    if (miaw_rm_rf(sp) != 0) MIAW_WARN("instances", "%s: could not remove %s completely", in->id, sp);
    memmove(r->v + i, r->v + i + 1, (r->n - i - 1) * sizeof *r->v);
    r->n--;
    MIAW_INFO("instances", "deleted %s", in->id);
    json_t *d = json_pack("{s:s,s:b,s:b}", "instanceId", in->id, "deleted", 1, "unlinked", unlinked);
    inst_free(in);
    if (q) miaw_req_reply_data(q, 200, d);
    else json_decref(d);
}

typedef struct del_req {
    miaw_instances *r;
    miaw_req *q; /* NULL once the client left: the deletion still completes */
    char id[65];
} del_req;

static void del_abort(miaw_req *q, int reason, void *ud)
{
    (void)q;
    (void)reason;
    ((del_req *)ud)->q = NULL; /* freed by del_unlinked, which always runs */
}

static void del_unlinked(void *ud, int ok, const char *why)
{
    del_req *d = ud;
    if (ok < 0) { /* shutdown: the instance stays */
        free(d);
        return;
    }
    if (!ok) MIAW_WARN("instances", "%s: deleting without unlinking the device: %s", d->id, why ? why : "");
    delete_now(d->r, d->q, d->id, ok);
    free(d);
}

static int h_delete(miaw_req *q, void *ud)
{
    miaw_instances *r = ud;
    const char *id = miaw_req_param(q, "instanceId");
    const char *keep = miaw_req_query(q, "keepSession");
    if (keep && strcmp(keep, "true") && strcmp(keep, "false") && strcmp(keep, "1") && strcmp(keep, "0"))
        return miaw_req_reply_err(q, MIAW_ERR_INVALID_REQUEST, json_pack("{s:s}", "field", "keepSession"),
                                  "keepSession must be true or false"),
               MIAW_OK;
    int keep_session = keep && (!strcmp(keep, "true") || !strcmp(keep, "1"));
    miaw_instance *in = miaw_instances_find(r, id);
    if (!keep_session && r->unlink && in) {
        del_req *d = calloc(1, sizeof *d);
        if (!d) return miaw_req_reply_err(q, MIAW_ERR_INTERNAL, NULL, "out of memory"), MIAW_OK;
        *d = (del_req){.r = r, .q = q};
        snprintf(d->id, sizeof d->id, "%s", id);
        if (r->unlink(r->unlink_ud, in, del_unlinked, d) == 0) {
            if (miaw_req_suspend(q, del_abort, d) != MIAW_OK) d->q = NULL; /* answered by the pipeline */
            return d->q ? MIAW_ASYNC : MIAW_E_NOMEM;
        }
        free(d); /* not connected: nothing can be unlinked now */
    }
    delete_now(r, q, id, 0);
    return MIAW_OK;
}

static const miaw_field CREATE_BODY[] = {
    {.name = "instanceId", .type = MIAW_T_STRING, .pattern = "^[A-Za-z0-9_-]{1,64}$",
     .description = "1-64 of [A-Za-z0-9_-]; generated when absent", .example = "\"my-bot-1\""},
    {.name = "webhookUrl", .type = MIAW_T_STRING, .flags = MIAW_F_NULLABLE | MIAW_F_HAS_MAX, .max = 2048,
     .format = "uri", .description = "http(s) URL receiving this instance's events", .example = "\"https://myapp.com/webhook\""},
    {.name = "webhookEvents", .type = MIAW_T_ARRAY, .flags = MIAW_F_HAS_MAX, .max = 64,
     .items = &(const miaw_field){.name = "event", .type = MIAW_T_STRING},
     .description = "events to deliver; empty or absent = all", .example = "[\"message\",\"qr\",\"ready\"]"},
    {.name = "webhookEnabled", .type = MIAW_T_BOOLEAN, .description = "deliver webhooks (default true)"},
    {0},
};

#define INSTANCE_EXAMPLE                                                                                   \
    "{\"instanceId\":\"my-bot-1\",\"status\":\"disconnected\",\"sessionPath\":\"./data/sessions/my-bot-1\"," \
    "\"webhookUrl\":\"https://myapp.com/webhook\",\"webhookEvents\":[\"message\"],\"webhookEnabled\":true,"  \
    "\"createdAt\":\"2025-12-25T10:00:00.000Z\"}"

int miaw_instances_routes(miaw_instances *r, miaw_router *rt, char *err, size_t errlen)
{
    const miaw_route routes[] = {
        {MIAW_ROUTE_INIT, .method = "POST", .path = "/instances", .handler = h_create, .udata = r, .body = CREATE_BODY,
         .operation_id = "createInstance", .summary = "Create instance", .tag = "Instances",
         .description = "Creates an instance (a WhatsApp account slot). 409 CONFLICT when the id exists.",
         .response_example = INSTANCE_EXAMPLE},
        {MIAW_ROUTE_INIT, .method = "GET", .path = "/instances", .handler = h_list, .udata = r,
         .operation_id = "listInstances", .summary = "List instances", .tag = "Instances",
         .description = "All instances; ?status= filters by connection state.",
         .response_example = "[" INSTANCE_EXAMPLE "]"},
        {MIAW_ROUTE_INIT, .method = "GET", .path = "/instances/{instanceId}", .flags = MIAW_ROUTE_INSTANCE,
         .handler = h_get, .udata = r, .operation_id = "getInstance", .summary = "Get instance details",
         .tag = "Instances", .response_example = INSTANCE_EXAMPLE},
        {MIAW_ROUTE_INIT, .method = "DELETE", .path = "/instances/{instanceId}", .flags = MIAW_ROUTE_INSTANCE,
         .handler = h_delete, .udata = r, .operation_id = "deleteInstance", .summary = "Delete instance",
         .description = "Unlinks the device from the phone when the instance is connected (the phone's linked "
                        "devices no longer show it; `unlinked` says whether that happened), then disconnects and "
                        "removes the instance with all its data (rows and files). `?keepSession=true` skips the "
                        "unlink: the device stays linked on the phone.",
         .tag = "Instances",
         .response_example = "{\"instanceId\":\"my-bot-1\",\"deleted\":true,\"unlinked\":true}"},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (miaw_router_add(rt, &routes[i], 0, NULL, err, errlen) != 0) return -1;
    return 0;
}

miaw_instances *miaw_instances_open(const miaw_config *cfg, miaw_storage *db, miaw_bus *bus, char *err, size_t errlen)
{
    miaw_instances *r = calloc(1, sizeof *r);
    r->cfg = cfg;
    r->db = db;
    r->bus = bus;
    if (load_all(r, err, errlen) != 0) {
        miaw_instances_free(r);
        return NULL;
    }
    return r;
}

void miaw_instances_free(miaw_instances *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) inst_free(r->v[i]);
    free(r->v);
    free(r);
}
