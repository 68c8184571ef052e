/* miaw/plugin_util.h - optional helpers for plugin authors; static inline or macros
 * only, no ABI of their own. */
#ifndef MIAW_PLUGIN_UTIL_H
#define MIAW_PLUGIN_UTIL_H
#include <miaw/plugin.h>
#include <stdio.h>
#include <stdlib.h>

/* Rejects a host whose table is older than the one this plugin was built against
 * only when the plugin needs members past the host's size; use before calling a
 * member added in a later minor: if (!MIAW_HOST_HAS(api, member)) ... */
static inline int miaw_host_compatible(const miaw_host_api *api)
{
    return api && api->abi_major == MIAW_ABI_MAJOR && api->struct_size >= offsetof(miaw_host_api, timer_stop) + sizeof(void *);
}

/* Defines init/fini/descriptor/entry for a plugin whose state is just its handle and
 * the host table, with one hook run inside init (the registration window) to add routes
 * and events: int HOOK(miaw_plugin_base *b, const json_t *config, char *err, size_t n). */
typedef struct miaw_plugin_base { miaw_plugin *self; const miaw_host_api *api; } miaw_plugin_base;

/* As MIAW_DEFINE_PLUGIN, for a plugin that needs host minor MINOR or later (the host
 * refuses to load it on an older server, naming the minor). */
#define MIAW_DEFINE_PLUGIN(NAME, VERSION, DESCRIPTION, HOOK) MIAW_DEFINE_PLUGIN_MIN(NAME, VERSION, DESCRIPTION, 0, HOOK)
#define MIAW_DEFINE_PLUGIN_MIN(NAME, VERSION, DESCRIPTION, MINOR, HOOK)                                   \
    static int miaw__init(miaw_plugin *self, const miaw_host_api *api, const json_t *config, void **out,  \
                          char *err, size_t errlen)                                                      \
    {                                                                                                    \
        if (!miaw_host_compatible(api)) {                                                                \
            snprintf(err, errlen, "host plugin ABI is not compatible");                                  \
            return MIAW_E_NOTSUP;                                                                        \
        }                                                                                                \
        miaw_plugin_base *b = calloc(1, sizeof *b);                                                      \
        if (!b) return MIAW_E_NOMEM;                                                                     \
        b->self = self;                                                                                  \
        b->api = api;                                                                                    \
        int rc = HOOK(b, config, err, errlen);                                                           \
        if (rc != MIAW_OK) {                                                                             \
            free(b);                                                                                     \
            return rc;                                                                                   \
        }                                                                                                \
        *out = b;                                                                                        \
        return MIAW_OK;                                                                                  \
    }                                                                                                    \
    static void miaw__fini(void *st) { free(st); }                                                       \
    static const miaw_plugin_desc miaw__desc = {MIAW_PLUGIN_DESC_INIT, .abi_minor_required = (MINOR),    \
                                                .name = NAME, .version = VERSION,                        \
                                                .description = DESCRIPTION, .init = miaw__init,         \
                                                .fini = miaw__fini};                                     \
    MIAW_EXPORT const miaw_plugin_desc *miaw_plugin_entry(void) { return &miaw__desc; }

#define MIAW_LOGI(api, self, ...) (api)->log((self), MIAW_LOG_INFO, __VA_ARGS__)
#define MIAW_LOGW(api, self, ...) (api)->log((self), MIAW_LOG_WARN, __VA_ARGS__)
#endif
