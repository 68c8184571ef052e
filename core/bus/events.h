/* core/bus/events.h - the event bus shared by the core, plugins and the webhook dispatcher:
 * declared event types, subscriptions by pattern, emission with in-order, non-recursive
 * dispatch (events emitted by a handler are queued and delivered after it). Owns the
 * declarations, subscriptions and queued events. Single-threaded (the loop). */
#ifndef MIAW_EVENTS_H
#define MIAW_EVENTS_H
#include <jansson.h>
#include <miaw/plugin.h>

struct miaw_plugin;
typedef struct miaw_bus miaw_bus;

typedef struct miaw_event_type {
    char *type, *description;
    uint32_t flags;
    struct miaw_plugin *owner; /* NULL = core */
    struct miaw_event_type *next;
} miaw_event_type;

miaw_bus *miaw_bus_new(void);
void miaw_bus_free(miaw_bus *b);
/* MIAW_E_EXIST if declared by someone else, MIAW_E_INVAL for a bad name */
int miaw_bus_declare(miaw_bus *b, struct miaw_plugin *owner, const char *type, uint32_t flags,
                     const char *description, char *err, size_t errlen);
const miaw_event_type *miaw_bus_types(const miaw_bus *b); /* list head, borrowed */
const miaw_event_type *miaw_bus_find(const miaw_bus *b, const char *type);
/* pattern: exact type, "prefix*" or "*" */
int miaw_bus_subscribe(miaw_bus *b, struct miaw_plugin *owner, const char *pattern, miaw_event_fn fn,
                       void *udata, miaw_id *out);
int miaw_bus_unsubscribe(miaw_bus *b, struct miaw_plugin *owner, miaw_id id);
/* data is stolen (NULL = empty object). instance_id may be NULL. Only the owner of a
 * declared type may emit it (MIAW_E_AUTH otherwise, MIAW_E_NOTFOUND if undeclared). */
int miaw_bus_emit(miaw_bus *b, struct miaw_plugin *owner, const char *type, const char *instance_id,
                  json_t *data);
/* drops the owner's subscriptions and declarations (plugin unload) */
void miaw_bus_remove_owner(miaw_bus *b, struct miaw_plugin *owner);
uint64_t miaw_bus_emitted(const miaw_bus *b);
#endif
