/* core/plugins/plugin_appstate.c - the host functions of plugin ABI 1.4: app-state sync
 * as a generic service (appstate_push, appstate_subscribe / _unsubscribe, appstate_sync,
 * appstate_state) over the engine's services table (plugins/services.h). Pushes in
 * flight are plugin_wa.c's call records (cancelled and unloaded like IQs); this file owns
 * the app-state subscriptions of all plugins (struct pas_sub). Loop thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/plugin_int.h"

#define ERRBUF(err, errlen)     \
    char tmp_[256];             \
    if (!(err)) {               \
        (err) = tmp_;           \
        (errlen) = sizeof tmp_; \
    }                           \
    (err)[0] = 0

struct pas_sub {
    miaw_id id;
    struct miaw_plugin *p;
    char *collection; /* NULL = all */
    miaw_appstate_fn fn;
    void *udata;
    struct pas_sub *next;
};

static const char *const COLLS[] = {"critical_block", "critical_unblock_low", "regular_high", "regular_low",
                                    "regular"};

static int valid_coll(const char *c)
{
    for (size_t i = 0; c && i < sizeof COLLS / sizeof COLLS[0]; i++)
        if (!strcmp(c, COLLS[i])) return 1;
    return 0;
}

static const miaw_engine_services *svc_of(struct miaw_plugin *p)
{
    return p && p->host->svc.engine.ctx ? &p->host->svc.engine : NULL;
}

static void on_push(int status, const json_t *result, const char *detail, void *ud)
{
    pw_call_appstate_done(ud, status, result, detail);
}

int pas_push(miaw_plugin *p, const char *instance_id, const json_t *patch, miaw_appstate_push_fn cb, void *udata,
             miaw_id *handle, const char **field, char *err, size_t errlen)
{
    ERRBUF(err, errlen);
    if (field) *field = NULL;
    if (!p || !cb || !patch) return snprintf(err, errlen, "missing argument"), MIAW_E_INVAL;
    const miaw_engine_services *s = svc_of(p);
    if (!s || !s->appstate_push) return snprintf(err, errlen, "app-state sync is not available"), MIAW_E_NOTSUP;
    if (!instance_id) return snprintf(err, errlen, "missing instance id"), MIAW_E_INVAL;
    miaw_id id = 0;
    struct pcall *c = pw_call_appstate(p, cb, udata, &id);
    if (!c) return snprintf(err, errlen, "out of memory"), MIAW_E_NOMEM;
    int rc = s->appstate_push(s->ctx, instance_id, patch, on_push, c, field, err, errlen);
    if (rc) {
        pw_call_drop(c);
        return rc;
    }
    if (handle) *handle = id;
    return MIAW_OK;
}

int pas_subscribe(miaw_plugin *p, const char *collection, miaw_appstate_fn fn, void *udata, miaw_id *out)
{
    if (!p || !fn || (collection && !valid_coll(collection))) return MIAW_E_INVAL;
    struct pas_sub *s = calloc(1, sizeof *s);
    if (!s || (collection && !(s->collection = strdup(collection)))) {
        free(s);
        return MIAW_E_NOMEM;
    }
    s->id = ++p->host->next_call;
    s->p = p;
    s->fn = fn;
    s->udata = udata;
    struct pas_sub **pp = &p->host->as_subs; /* in subscription order */
    while (*pp) pp = &(*pp)->next;
    *pp = s;
    if (out) *out = s->id;
    return MIAW_OK;
}

int pas_unsubscribe(miaw_plugin *p, miaw_id sub)
{
    if (!p) return MIAW_E_INVAL;
    for (struct pas_sub **pp = &p->host->as_subs; *pp; pp = &(*pp)->next)
        if ((*pp)->p == p && (*pp)->id == sub) {
            struct pas_sub *s = *pp;
            s->p = NULL; /* freed by the dispatch loop if it is running, else now */
            *pp = s->next;
            free(s->collection);
            free(s);
            return MIAW_OK;
        }
    return MIAW_E_NOTFOUND;
}

void pas_unload(miaw_plugin *p)
{
    struct pas_sub **pp = &p->host->as_subs;
    while (*pp) {
        struct pas_sub *s = *pp;
        if (s->p != p) {
            pp = &s->next;
            continue;
        }
        *pp = s->next;
        free(s->collection);
        free(s);
    }
}

void pas_tap(void *host, const char *instance_id, const json_t *mutation)
{
    miaw_plugin_host *h = host;
    const char *coll = json_string_value(json_object_get(mutation, "collection"));
    /* a callback may unsubscribe itself (or another): walk by id, re-finding the next one */
    miaw_id last = 0;
    for (;;) {
        struct pas_sub *s = h->as_subs;
        while (s && s->id <= last) s = s->next;
        if (!s) return;
        last = s->id;
        if (s->collection && (!coll || strcmp(s->collection, coll))) continue;
        s->fn(instance_id, mutation, s->udata);
    }
}

int pas_sync(miaw_plugin *p, const char *instance_id, const char *collection, int full, char *err, size_t errlen)
{
    ERRBUF(err, errlen);
    const miaw_engine_services *s = svc_of(p);
    if (!s || !s->appstate_sync) return snprintf(err, errlen, "app-state sync is not available"), MIAW_E_NOTSUP;
    if (!instance_id) return snprintf(err, errlen, "missing instance id"), MIAW_E_INVAL;
    if (collection && !valid_coll(collection)) return snprintf(err, errlen, "unknown app-state collection"), MIAW_E_INVAL;
    return s->appstate_sync(s->ctx, instance_id, collection, full, err, errlen);
}

json_t *pas_state(miaw_plugin *p, const char *instance_id)
{
    const miaw_engine_services *s = svc_of(p);
    return s && s->appstate_state && instance_id ? s->appstate_state(s->ctx, instance_id) : NULL;
}
