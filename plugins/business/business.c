/* plugins/business/business.c - the "business" feature area: business profile, catalog and labels (spec Phase 8)
 * Its routes are registered here as the protocol issues implement them; a route
 * exists only when it works, so until then the plugin only announces itself. */
#include <jansson.h>
#include <miaw/plugin.h>
#include <miaw/plugin_util.h>
#include <stdio.h>
#include <stdlib.h>

static int setup(miaw_plugin_base *b, const json_t *config, char *err, size_t errlen)
{
    (void)config;
    (void)err;
    (void)errlen;
    MIAW_LOGI(b->api, b->self, "loaded");
    return MIAW_OK;
}

MIAW_DEFINE_PLUGIN("business", "0.1.0",
                   "no routes yet: business profile, catalog and labels (spec Phase 8) are not implemented", setup)
