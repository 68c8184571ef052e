/* miaw/plugin_util.h - optional helpers for plugin authors; static inline or macros
 * only, no ABI of their own. */
#ifndef MIAW_PLUGIN_UTIL_H
#define MIAW_PLUGIN_UTIL_H
#include <miaw/plugin.h>

/* Rejects a host whose table is older than the one this plugin was built against
 * only when the plugin needs members past the host's size; use before calling a
 * member added in a later minor: if (!MIAW_HOST_HAS(api, member)) ... */
static inline int miaw_host_compatible(const miaw_host_api *api)
{
    return api && api->abi_major == MIAW_ABI_MAJOR && api->struct_size >= offsetof(miaw_host_api, timer_stop) + sizeof(void *);
}

#define MIAW_LOGI(api, self, ...) (api)->log((self), MIAW_LOG_INFO, __VA_ARGS__)
#define MIAW_LOGW(api, self, ...) (api)->log((self), MIAW_LOG_WARN, __VA_ARGS__)
#endif
