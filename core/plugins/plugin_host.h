/* core/plugins/plugin_host.h - loads plugins (dlopen, RTLD_LOCAL) from the configured directory
 * when enabled in config, checks their descriptor (magic, ABI major/minor, sizes, name),
 * hands them the host function table, tracks everything each one registers (routes,
 * event types, subscriptions, timers) and removes it all when init fails or at unload.
 * Owns every miaw_plugin. */
#ifndef MIAW_PLUGIN_HOST_H
#define MIAW_PLUGIN_HOST_H
#include <jansson.h>
#include <miaw/plugin.h>
#include <uv.h>

#include "bus/events.h"
#include "http/router.h"
#include "base/storage.h"
#include "plugins/services.h"

typedef struct miaw_plugin_host miaw_plugin_host;

typedef struct miaw_plugin_services {
    uv_loop_t *loop;
    miaw_router *router;   /* borrowed */
    miaw_bus *bus;         /* borrowed */
    miaw_storage *db;      /* borrowed */
    /* new reference to the API object of an instance, or NULL */
    json_t *(*instance_json)(void *udata, const char *instance_id);
    void *instance_udata;
    /* the WhatsApp engine's services (copied); ctx NULL = no engine: the messaging
     * functions of the ABI answer MIAW_E_NOTSUP */
    miaw_engine_services engine;
} miaw_plugin_services;

miaw_plugin_host *miaw_plugin_host_new(const miaw_plugin_services *svc);
/* Loads <dir>/<name>.so for each name; a plugin that fails is logged and skipped.
 * Returns the number loaded. config: object name -> section (borrowed). */
int miaw_plugin_host_load_all(miaw_plugin_host *h, const char *dir, char *const *names, size_t n,
                              const json_t *config);
/* Loads one plugin file under the given name; 0, or -1 with the reason in err. */
int miaw_plugin_host_load(miaw_plugin_host *h, const char *path, const char *name, const json_t *config,
                          char *err, size_t errlen);
/* [{name, version, description, abiMinor}] of loaded plugins; new reference */
json_t *miaw_plugin_host_list(const miaw_plugin_host *h);
/* unloads every plugin (fini, remove registrations, dlclose) and frees the host */
void miaw_plugin_host_free(miaw_plugin_host *h);
/* the host table (exposed for tests) */
const miaw_host_api *miaw_plugin_host_api(void);
#endif
