/* plugins/profile/profile.c - the "profile" feature area: profile name, status and picture (spec 4.4.5)
 * Its routes are registered here as the protocol issues implement them; a route
 * exists only when it works, so until then the plugin only announces itself. */
#include <jansson.h>
#include <miaw/plugin.h>
#include <miaw/plugin_util.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct state { miaw_plugin *self; const miaw_host_api *api; } state;

static int init(miaw_plugin *self, const miaw_host_api *api, const json_t *config, void **out, char *err,
                size_t errlen)
{
    (void)config;
    if (!miaw_host_compatible(api)) {
        snprintf(err, errlen, "host plugin ABI is not compatible");
        return MIAW_E_NOTSUP;
    }
    state *s = calloc(1, sizeof *s);
    if (!s) return MIAW_E_NOMEM;
    s->self = self;
    s->api = api;
    MIAW_LOGI(api, self, "loaded");
    *out = s;
    return MIAW_OK;
}

static void fini(void *st) { free(st); }

static const miaw_plugin_desc DESC = {
    MIAW_PLUGIN_DESC_INIT,
    .name = "profile",
    .version = "0.1.0",
    .description = "profile name, status and picture (spec 4.4.5)",
    .init = init,
    .fini = fini,
};

MIAW_EXPORT const miaw_plugin_desc *miaw_plugin_entry(void) { return &DESC; }
