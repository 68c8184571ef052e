/* core/bus/events.c - event bus (see events.h). */
#include "bus/events.h"

#include "base/log.h"
#include "base/owner.h"
#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sub {
    miaw_id id;
    char *pattern;
    miaw_event_fn fn;
    void *udata;
    struct miaw_plugin *owner;
    int dead;
    struct sub *next;
};

struct queued {
    char *type, *source, *instance;
    json_t *data;
    struct queued *next;
};

struct miaw_bus {
    miaw_event_type *types;
    struct sub *subs;
    struct queued *qhead, *qtail;
    miaw_id next_sub;
    uint64_t next_event;
    int dispatching;
};

miaw_bus *miaw_bus_new(void) { return calloc(1, sizeof(miaw_bus)); }

static void free_dead_subs(miaw_bus *b)
{
    struct sub **pp = &b->subs;
    while (*pp) {
        if ((*pp)->dead) {
            struct sub *d = *pp;
            *pp = d->next;
            free(d->pattern);
            free(d);
        } else {
            pp = &(*pp)->next;
        }
    }
}

void miaw_bus_free(miaw_bus *b)
{
    if (!b) return;
    for (struct sub *s = b->subs; s; s = s->next) s->dead = 1;
    free_dead_subs(b);
    while (b->types) {
        miaw_event_type *t = b->types;
        b->types = t->next;
        free(t->type);
        free(t->description);
        free(t);
    }
    while (b->qhead) {
        struct queued *q = b->qhead;
        b->qhead = q->next;
        free(q->type);
        free(q->source);
        free(q->instance);
        json_decref(q->data);
        free(q);
    }
    free(b);
}

static int valid_name(const char *t)
{
    if (!t || !*t || strlen(t) > 64) return 0;
    for (const char *c = t; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '.')) return 0;
    return 1;
}

const miaw_event_type *miaw_bus_find(const miaw_bus *b, const char *type)
{
    for (miaw_event_type *t = b->types; t; t = t->next)
        if (strcmp(t->type, type) == 0) return t;
    return NULL;
}

const miaw_event_type *miaw_bus_types(const miaw_bus *b) { return b->types; }

int miaw_bus_declare(miaw_bus *b, struct miaw_plugin *owner, const char *type, uint32_t flags,
                     const char *description, char *err, size_t errlen)
{
    if (!valid_name(type)) {
        snprintf(err, errlen, "event type '%s': must be 1-64 of [a-z0-9_.]", type ? type : "");
        return MIAW_E_INVAL;
    }
    if (miaw_bus_find(b, type)) {
        snprintf(err, errlen, "event type '%s' is already declared", type);
        return MIAW_E_EXIST;
    }
    miaw_event_type *t = calloc(1, sizeof *t);
    if (!t) return MIAW_E_NOMEM;
    t->type = strdup(type);
    t->description = strdup(description ? description : "");
    t->flags = flags;
    t->owner = owner;
    miaw_event_type **pp = &b->types;
    while (*pp) pp = &(*pp)->next;
    *pp = t;
    return MIAW_OK;
}

int miaw_bus_subscribe(miaw_bus *b, struct miaw_plugin *owner, const char *pattern, miaw_event_fn fn,
                       void *udata, miaw_id *out)
{
    if (!pattern || !*pattern || !fn) return MIAW_E_INVAL;
    struct sub *s = calloc(1, sizeof *s);
    if (!s) return MIAW_E_NOMEM;
    s->id = ++b->next_sub;
    s->pattern = strdup(pattern);
    s->fn = fn;
    s->udata = udata;
    s->owner = owner;
    struct sub **pp = &b->subs;
    while (*pp) pp = &(*pp)->next;
    *pp = s;
    if (out) *out = s->id;
    return MIAW_OK;
}

int miaw_bus_unsubscribe(miaw_bus *b, struct miaw_plugin *owner, miaw_id id)
{
    for (struct sub *s = b->subs; s; s = s->next)
        if (s->id == id && s->owner == owner && !s->dead) {
            s->dead = 1;
            if (!b->dispatching) free_dead_subs(b);
            return MIAW_OK;
        }
    return MIAW_E_NOTFOUND;
}

static int matches(const char *pattern, const char *type)
{
    size_t n = strlen(pattern);
    if (n && pattern[n - 1] == '*') return strncmp(pattern, type, n - 1) == 0;
    return strcmp(pattern, type) == 0;
}

static void deliver(miaw_bus *b, struct queued *q)
{
    miaw_event ev = {.struct_size = sizeof ev, .type = q->type, .source = q->source,
                     .instance_id = q->instance, .id = ++b->next_event, .ts_ms = miaw_now_ms(), .data = q->data};
    for (struct sub *s = b->subs; s; s = s->next)
        if (!s->dead && matches(s->pattern, q->type)) s->fn(&ev, s->udata);
}

int miaw_bus_emit(miaw_bus *b, struct miaw_plugin *owner, const char *type, const char *instance_id,
                  json_t *data)
{
    const miaw_event_type *t = miaw_bus_find(b, type ? type : "");
    if (!t) {
        json_decref(data);
        return MIAW_E_NOTFOUND;
    }
    if (t->owner != owner) {
        json_decref(data);
        return MIAW_E_AUTH;
    }
    struct queued *q = calloc(1, sizeof *q);
    if (!q) {
        json_decref(data);
        return MIAW_E_NOMEM;
    }
    q->type = strdup(type);
    q->source = strdup(owner ? miaw_owner_name(owner) : "core");
    q->instance = instance_id ? strdup(instance_id) : NULL;
    q->data = data ? data : json_object();
    if (b->qtail) b->qtail->next = q;
    else b->qhead = q;
    b->qtail = q;
    if (b->dispatching) return MIAW_OK;
    b->dispatching = 1;
    while (b->qhead) {
        struct queued *cur = b->qhead;
        b->qhead = cur->next;
        if (!b->qhead) b->qtail = NULL;
        deliver(b, cur);
        free(cur->type);
        free(cur->source);
        free(cur->instance);
        json_decref(cur->data);
        free(cur);
    }
    b->dispatching = 0;
    free_dead_subs(b);
    return MIAW_OK;
}

void miaw_bus_remove_owner(miaw_bus *b, struct miaw_plugin *owner)
{
    for (struct sub *s = b->subs; s; s = s->next)
        if (s->owner == owner) s->dead = 1;
    if (!b->dispatching) free_dead_subs(b);
    miaw_event_type **pp = &b->types;
    while (*pp) {
        if ((*pp)->owner == owner) {
            miaw_event_type *d = *pp;
            *pp = d->next;
            free(d->type);
            free(d->description);
            free(d);
        } else {
            pp = &(*pp)->next;
        }
    }
}

uint64_t miaw_bus_emitted(const miaw_bus *b) { return b->next_event; }
