/* plugins/groups/groups.c - the "groups" feature area (spec 4.4.4), on the generic
 * engine services of plugin ABI 1.2 only (iq, stanza_subscribe, event_declare/emit,
 * kv, reply_status, jid_normalize): registration of the routes (group_routes.c,
 * group_invite.c) and of the events with their w:gp2 subscription (group_events.c).
 * Group messages need nothing here: msg_send takes a group JID (the engine does the
 * sender keys). State: only miaw_plugin_base, freed by the descriptor's fini. */
#include <jansson.h>
#include <miaw/plugin.h>
#include <miaw/plugin_util.h>
#include <stdio.h>
#include <stdlib.h>

#include "groups.h"

static int setup(miaw_plugin_base *b, const json_t *config, char *err, size_t errlen)
{
    (void)config;
    int rc = grp_routes_register(b, err, errlen);
    if (rc == MIAW_OK) rc = grp_invite_register(b, err, errlen);
    if (rc == MIAW_OK) rc = grp_events_register(b, err, errlen);
    return rc;
}

MIAW_DEFINE_PLUGIN_MIN("groups", "1.0.0",
                       "create, list, update and leave groups; add, remove, promote and demote participants; "
                       "invite links, joining and join requests; group events (spec 4.4.4)",
                       2, setup)
