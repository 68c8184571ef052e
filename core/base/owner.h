/* core/base/owner.h - who registered something (a route, an event type, a subscription):
 * the core (NULL) or a plugin. A struct miaw_plugin begins with a miaw_owner that holds its
 * name and version, so the router, the bus and the OpenAPI generator name owners without
 * depending on the plugin host (layers only depend downward, see tests/check_layers.sh).
 * Owns nothing: the strings belong to the plugin host and live as long as the plugin. */
#ifndef MIAW_OWNER_H
#define MIAW_OWNER_H

struct miaw_plugin;

typedef struct miaw_owner {
    const char *name;    /* plugin name */
    const char *version; /* plugin version */
} miaw_owner;

/* "core" for NULL */
static inline const char *miaw_owner_name(const struct miaw_plugin *p)
{
    return p ? ((const miaw_owner *)(const void *)p)->name : "core";
}
static inline const char *miaw_owner_version(const struct miaw_plugin *p)
{
    return p ? ((const miaw_owner *)(const void *)p)->version : MIAW_VERSION;
}
#endif
