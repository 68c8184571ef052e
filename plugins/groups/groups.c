/* plugins/groups/groups.c - the "groups" feature area (spec 4.4.4), on the generic
 * engine services of plugin ABI 1.2 only (iq, stanza_subscribe, event_declare/emit,
 * kv, reply_status, jid_normalize): registration of the routes (group_routes.c,
 * group_invite.c) and of the events with their w:gp2 subscription (group_events.c).
 * Group messages need nothing here: msg_send takes a group JID (the engine does the
 * sender keys); group pictures (group_picture.c) through the profile plugin's picture
 * pipeline compiled in. State: grp_state (groups.h), freed by fini after the picture
 * workers are joined. */
#include <jansson.h>
#include <miaw/plugin.h>
#include <miaw/plugin_util.h>
#include <stdio.h>
#include <stdlib.h>

#include "groups.h"

static int grp_init(miaw_plugin *self, const miaw_host_api *api, const json_t *config, void **out, char *err,
                    size_t errlen)
{
    (void)config;
    if (!miaw_host_compatible(api)) {
        snprintf(err, errlen, "host plugin ABI is not compatible");
        return MIAW_E_NOTSUP;
    }
    grp_state *g = calloc(1, sizeof *g);
    if (!g) return MIAW_E_NOMEM;
    g->b.self = self;
    g->b.api = api;
    int rc = grp_routes_register(&g->b, err, errlen);
    if (rc == MIAW_OK) rc = grp_invite_register(&g->b, err, errlen);
    if (rc == MIAW_OK) rc = grp_events_register(&g->b, err, errlen);
    if (rc == MIAW_OK && MIAW_HOST_HAS(api, req_upload)) rc = grp_picture_register(g, err, errlen);
    if (rc != MIAW_OK) {
        free(g);
        return rc;
    }
    *out = g;
    return MIAW_OK;
}

static void grp_fini(void *state)
{
    grp_state *g = state;
    if (!g) return;
    pf_pics_fini(&g->pics); /* the host aborted the requests: join the workers still running */
    free(g);
}

static const miaw_plugin_desc DESC = {
    MIAW_PLUGIN_DESC_INIT, .abi_minor_required = 2, .name = "groups", .version = "1.1.0",
    .description = "create, list, update and leave groups; add, remove, promote and demote participants; group "
                   "pictures; invite links, joining and join requests; group events (spec 4.4.4)",
    .init = grp_init, .fini = grp_fini,
};
MIAW_EXPORT const miaw_plugin_desc *miaw_plugin_entry(void) { return &DESC; }
