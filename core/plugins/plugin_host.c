/* core/plugins/plugin_host.c - plugin loading, validation, the host function table and
 * per-plugin bookkeeping (see plugin_host.h). */
#include "plugins/plugin_int.h"

#include "http/http.h"
#include "base/log.h"
#include "base/util.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct ptimer {
    miaw_id id;
    uv_timer_t *t;
    miaw_timer_fn fn;
    void *udata;
    struct miaw_plugin *p;
    int repeat;
    struct ptimer *next;
};

/* ------------------------------------------------------------- host table */
static void h_log(miaw_plugin *p, int level, const char *fmt, ...)
{
    char comp[48];
    snprintf(comp, sizeof comp, "plugin:%s", p ? p->name : "?");
    va_list ap;
    va_start(ap, fmt);
    miaw_vlog(level, comp, fmt, ap);
    va_end(ap);
}

static int64_t h_now_ms(void) { return miaw_now_ms(); }

static int h_route_add(miaw_plugin *p, const miaw_route *r, char *err, size_t errlen)
{
    char tmp[256];
    if (!err) { err = tmp; errlen = sizeof tmp; }
    if (!p || !p->in_init) {
        snprintf(err, errlen, "routes can be added only inside init");
        return MIAW_E_STATE;
    }
    if (!r || r->struct_size < offsetof(miaw_route, response_example) + sizeof(char *) ||
        r->field_size < offsetof(miaw_field, example) + sizeof(char *)) {
        snprintf(err, errlen, "route: struct sizes too small (built against an older SDK?)");
        return MIAW_E_INVAL;
    }
    if (r->flags & ~(MIAW_ROUTE_PUBLIC | MIAW_ROUTE_INSTANCE | MIAW_ROUTE_MULTIPART)) {
        snprintf(err, errlen, "route %s: unknown flags", r->path ? r->path : "");
        return MIAW_E_INVAL;
    }
    int rc = miaw_router_add(p->host->svc.router, r, 0, p, err, errlen);
    if (rc != MIAW_OK) h_log(p, MIAW_LOG_ERR, "route_add: %s", err);
    return rc;
}

static int h_event_declare(miaw_plugin *p, const miaw_event_decl *d, char *err, size_t errlen)
{
    char tmp[256];
    if (!err) { err = tmp; errlen = sizeof tmp; }
    if (!p || !p->in_init) {
        snprintf(err, errlen, "events can be declared only inside init");
        return MIAW_E_STATE;
    }
    if (!d || d->struct_size < sizeof(miaw_event_decl)) return MIAW_E_INVAL;
    return miaw_bus_declare(p->host->svc.bus, p, d->type, d->flags, d->description, err, errlen);
}

static int h_event_subscribe(miaw_plugin *p, const char *pattern, miaw_event_fn fn, void *udata, miaw_id *out)
{
    if (!p || !p->in_init) return MIAW_E_STATE;
    return miaw_bus_subscribe(p->host->svc.bus, p, pattern, fn, udata, out);
}

static int h_event_emit(miaw_plugin *p, const char *type, const char *instance_id, json_t *data)
{
    if (!p) {
        json_decref(data);
        return MIAW_E_INVAL;
    }
    return miaw_bus_emit(p->host->svc.bus, p, type, instance_id, data);
}

static int h_event_unsubscribe(miaw_plugin *p, miaw_id id)
{
    return p ? miaw_bus_unsubscribe(p->host->svc.bus, p, id) : MIAW_E_INVAL;
}

static int h_reply_json(miaw_req *r, int status, json_t *data) { return miaw_req_reply_data(r, status, data); }

static int h_reply_error(miaw_req *r, int status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (status < 400 || status > 599) status = 500;
    return miaw_req_reply_code(r, status, code ? code : "INTERNAL_ERROR", NULL, msg);
}

static json_t *h_instance_get(miaw_plugin *p, const char *id)
{
    if (!p || !id || !p->host->svc.instance_json) return NULL;
    return p->host->svc.instance_json(p->host->svc.instance_udata, id);
}

static json_t *h_kv_get(miaw_plugin *p, const char *inst, const char *key)
{
    return p && key ? miaw_kv_get(p->host->svc.db, p->name, inst, key) : NULL;
}

static int h_kv_put(miaw_plugin *p, const char *inst, const char *key, json_t *v)
{
    int rc = p && key && v ? miaw_kv_put(p->host->svc.db, p->name, inst, key, v) : MIAW_E_INVAL;
    json_decref(v);
    return rc;
}

static int h_kv_del(miaw_plugin *p, const char *inst, const char *key)
{
    return p && key ? miaw_kv_del(p->host->svc.db, p->name, inst, key) : MIAW_E_INVAL;
}

static void timer_unlink(struct ptimer *t)
{
    struct ptimer **pp = &t->p->timers;
    while (*pp && *pp != t) pp = &(*pp)->next;
    if (*pp) *pp = t->next;
    uv_close((uv_handle_t *)t->t, (uv_close_cb)free);
    free(t);
}

static void on_ptimer(uv_timer_t *ut)
{
    struct ptimer *t = ut->data;
    miaw_timer_fn fn = t->fn;
    void *ud = t->udata;
    miaw_id id = t->id;
    if (!t->repeat) timer_unlink(t); /* one-shot: gone before the callback runs */
    fn(id, ud);
}

static int h_timer_start(miaw_plugin *p, uint32_t delay_ms, uint32_t repeat_ms, miaw_timer_fn fn, void *udata,
                         miaw_id *out)
{
    if (!p || !fn) return MIAW_E_INVAL;
    struct ptimer *t = calloc(1, sizeof *t);
    if (!t) return MIAW_E_NOMEM;
    t->t = malloc(sizeof *t->t);
    if (!t->t) {
        free(t);
        return MIAW_E_NOMEM;
    }
    uv_timer_init(p->host->svc.loop, t->t);
    t->t->data = t;
    t->id = ++p->next_timer;
    t->fn = fn;
    t->udata = udata;
    t->p = p;
    t->repeat = repeat_ms != 0;
    t->next = p->timers;
    p->timers = t;
    uv_timer_start(t->t, on_ptimer, delay_ms, repeat_ms);
    if (out) *out = t->id;
    return MIAW_OK;
}

static int h_timer_stop(miaw_plugin *p, miaw_id id)
{
    if (!p) return MIAW_E_INVAL;
    for (struct ptimer *t = p->timers; t; t = t->next)
        if (t->id == id) {
            uv_timer_stop(t->t);
            timer_unlink(t);
            return MIAW_OK;
        }
    return MIAW_E_NOTFOUND;
}

static const miaw_host_api HOST_API = {
    .struct_size = sizeof(miaw_host_api),
    .abi_major = MIAW_ABI_MAJOR,
    .abi_minor = MIAW_ABI_MINOR,
    .server_version = MIAW_VERSION,
    .log = h_log,
    .now_ms = h_now_ms,
    .route_add = h_route_add,
    .event_declare = h_event_declare,
    .event_subscribe = h_event_subscribe,
    .req_param = miaw_req_param,
    .req_query = miaw_req_query,
    .req_header = miaw_req_header,
    .req_body = miaw_req_body,
    .req_id = miaw_req_id,
    .req_suspend = miaw_req_suspend,
    .reply_json = h_reply_json,
    .reply_error = h_reply_error,
    .event_emit = h_event_emit,
    .event_unsubscribe = h_event_unsubscribe,
    .instance_get = h_instance_get,
    .kv_get = h_kv_get,
    .kv_put = h_kv_put,
    .kv_del = h_kv_del,
    .timer_start = h_timer_start,
    .timer_stop = h_timer_stop,
    .send_text = pw_send_text,
    .send_cancel = pw_send_cancel,
    .iq = pw_iq,
    .stanza_send = pw_stanza_send,
    .stanza_subscribe = pw_stanza_subscribe,
    .msg_send = pw_msg_send,
    .msg_get = pw_msg_get,
    .cancel = pw_cancel,
    .reply_status = pw_reply_status,
    .jid_normalize = pw_jid_normalize,
    .media_upload = pw_media_upload,
    .media_download = pw_media_download,
    .msg_list = pw_msg_list,
    .chat_list = pw_chat_list,
    .req_upload = miaw_req_upload,
    .reply_file = miaw_req_reply_file,
    .fetch = pw_fetch,
    .reply_header = miaw_req_add_header,
    .appstate_push = pas_push,
    .appstate_subscribe = pas_subscribe,
    .appstate_unsubscribe = pas_unsubscribe,
    .appstate_sync = pas_sync,
    .appstate_state = pas_state,
};

const miaw_host_api *miaw_plugin_host_api(void) { return &HOST_API; }

/* ------------------------------------------------------------- loading */
miaw_plugin_host *miaw_plugin_host_new(const miaw_plugin_services *svc)
{
    miaw_plugin_host *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->svc = *svc;
    if (h->svc.engine.set_tap) h->svc.engine.set_tap(h->svc.engine.ctx, pw_tap, h);
    if (h->svc.engine.set_appstate_tap) h->svc.engine.set_appstate_tap(h->svc.engine.ctx, pas_tap, h);
    return h;
}

static int valid_name(const char *n)
{
    if (!n || !(*n >= 'a' && *n <= 'z') || strlen(n) > 31) return 0;
    for (const char *c = n; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_')) return 0;
    return 1;
}

/* removes everything the plugin registered; keeps its kv rows */
static void unregister_all(struct miaw_plugin *p)
{
    pw_unload(p);
    pas_unload(p);
    miaw_router_remove_owner(p->host->svc.router, p);
    miaw_bus_remove_owner(p->host->svc.bus, p);
    while (p->timers) {
        uv_timer_stop(p->timers->t);
        timer_unlink(p->timers);
    }
}

static void plugin_destroy(struct miaw_plugin *p)
{
    if (p->initialized && p->desc->fini) p->desc->fini(p->state);
    unregister_all(p);
    if (p->dl) dlclose(p->dl);
    free(p->name);
    free(p->version);
    free(p->description);
    free(p->path);
    free(p);
}

int miaw_plugin_host_load(miaw_plugin_host *h, const char *path, const char *name, const json_t *config,
                          char *err, size_t errlen)
{
    if (!valid_name(name)) {
        snprintf(err, errlen, "plugin name '%s' must match [a-z][a-z0-9_]{0,30}", name ? name : "");
        return -1;
    }
    for (struct miaw_plugin *o = h->plugins; o; o = o->next)
        if (strcmp(o->name, name) == 0) {
            snprintf(err, errlen, "plugin '%s' is already loaded", name);
            return -1;
        }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: no such plugin file", path);
        return -1;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        snprintf(err, errlen, "%s: refused: writable by group or others", path);
        return -1;
    }
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        snprintf(err, errlen, "%s: dlopen failed: %s (check with ldd)", path, dlerror());
        return -1;
    }
    miaw_plugin_entry_fn entry;
    *(void **)&entry = dlsym(dl, MIAW_PLUGIN_ENTRY);
    const miaw_plugin_desc *d = entry ? entry() : NULL;
    const char *why = NULL;
    char whybuf[200];
    if (!entry) why = "no " MIAW_PLUGIN_ENTRY " symbol (not a miaw plugin?)";
    else if (!d) why = "entry returned no descriptor";
    else if (d->magic != MIAW_PLUGIN_MAGIC) why = "bad descriptor magic";
    else if (d->abi_major != MIAW_ABI_MAJOR) {
        snprintf(whybuf, sizeof whybuf, "built for plugin ABI %u.%u, this server speaks %u.%u (major must match)",
                 d->abi_major, d->abi_minor, MIAW_ABI_MAJOR, MIAW_ABI_MINOR);
        why = whybuf;
    } else if (d->abi_minor_required > MIAW_ABI_MINOR) {
        snprintf(whybuf, sizeof whybuf, "needs plugin ABI minor %u, this server has %u.%u", d->abi_minor_required,
                 MIAW_ABI_MAJOR, MIAW_ABI_MINOR);
        why = whybuf;
    } else if (d->struct_size < offsetof(miaw_plugin_desc, fini) + sizeof(void *)) why = "descriptor too small";
    else if (!d->init || !d->fini) why = "descriptor lacks init or fini";
    else if (!d->name || strcmp(d->name, name) != 0) {
        snprintf(whybuf, sizeof whybuf, "descriptor name '%s' differs from the configured name '%s'",
                 d->name ? d->name : "", name);
        why = whybuf;
    }
    if (why) {
        snprintf(err, errlen, "%s: refused: %s", path, why);
        dlclose(dl);
        return -1;
    }
    struct miaw_plugin *p = calloc(1, sizeof *p);
    p->name = strdup(name);
    p->version = strdup(d->version ? d->version : "0");
    p->description = strdup(d->description ? d->description : "");
    p->path = strdup(path);
    p->own.name = p->name;
    p->own.version = p->version;
    p->dl = dl;
    p->desc = d;
    p->abi_minor = d->abi_minor;
    p->host = h;
    json_t *empty = json_object();
    const json_t *cfg = config && json_is_object(config) ? config : empty;
    char perr[512] = "";
    p->in_init = 1;
    int rc = d->init(p, &HOST_API, cfg, &p->state, perr, sizeof perr);
    p->in_init = 0;
    json_decref(empty);
    if (rc != MIAW_OK) {
        snprintf(err, errlen, "%s: init failed (%d): %s", name, rc, *perr ? perr : "no message");
        plugin_destroy(p); /* not initialized: fini is not called */
        return -1;
    }
    p->initialized = 1;
    struct miaw_plugin **pp = &h->plugins;
    while (*pp) pp = &(*pp)->next;
    *pp = p;
    return 0;
}

int miaw_plugin_host_load_all(miaw_plugin_host *h, const char *dir, char *const *names, size_t n,
                              const json_t *config)
{
    int loaded = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4096], err[1024];
        snprintf(path, sizeof path, "%s/%s.so", dir, names[i]);
        if (miaw_plugin_host_load(h, path, names[i], json_object_get(config, names[i]), err, sizeof err) == 0) {
            MIAW_INFO("plugin", "loaded %s from %s", names[i], path);
            loaded++;
        } else {
            MIAW_ERR("plugin", "%s", err);
        }
    }
    return loaded;
}

json_t *miaw_plugin_host_list(const miaw_plugin_host *h)
{
    json_t *a = json_array();
    for (struct miaw_plugin *p = h->plugins; p; p = p->next)
        json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:i}", "name", p->name, "version", p->version,
                                           "description", p->description, "abiMinor", p->abi_minor));
    return a;
}

void miaw_plugin_host_free(miaw_plugin_host *h)
{
    if (!h) return;
    /* unload in reverse load order */
    while (h->plugins) {
        struct miaw_plugin **pp = &h->plugins;
        while ((*pp)->next) pp = &(*pp)->next;
        struct miaw_plugin *p = *pp;
        *pp = NULL;
        plugin_destroy(p);
    }
    if (h->svc.engine.set_tap) h->svc.engine.set_tap(h->svc.engine.ctx, NULL, NULL);
    if (h->svc.engine.set_appstate_tap) h->svc.engine.set_appstate_tap(h->svc.engine.ctx, NULL, NULL);
    pw_host_free(h);
    free(h);
}
