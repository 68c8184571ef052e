/* plugins/groups/group_picture.c - POST and DELETE /instances/{instanceId}/groups/{groupJid}/picture:
 * a group's picture through the picture pipeline shared with the profile plugin
 * (plugins/profile/pics.c: base64, url or multipart -> WhatsApp's 640 and 96 px JPEGs ->
 * the w:profile:picture set IQ with target=<group>), its IQ failures mapped like every
 * group operation (a non-admin of a locked group: 403 NOT_GROUP_ADMIN; not a member or
 * no such group: 404). Owns nothing: the jobs are the plugin state's pf_pics. */
#include <miaw/plugin.h>
#include <miaw/plugin_util.h>

#include "groups.h"
#include "pics.h"

static void on_err(const miaw_host_api *api, miaw_req *req, int status, const char *detail, void *ud)
{
    (void)ud;
    grp_err e;
    grp_map_error(status, detail, GRP_CTX_GROUP, &e);
    if (e.field && e.http == 400) api->reply_status(req, MIAW_E_INVAL, e.field, "%s", e.message);
    else api->reply_error(req, e.http, e.code, "%s", e.message);
}

static int h_set(miaw_req *req, void *ud)
{
    grp_state *g = ud;
    char group[96];
    if (grp_path(&g->b, req, group, sizeof group) != MIAW_OK) return MIAW_OK;
    return pf_pics_set(&g->pics, req, group, on_err, NULL);
}

static int h_delete(miaw_req *req, void *ud)
{
    grp_state *g = ud;
    char group[96];
    if (grp_path(&g->b, req, group, sizeof group) != MIAW_OK) return MIAW_OK;
    return pf_pics_delete(&g->pics, req, group, on_err, NULL);
}

int grp_picture_register(grp_state *g, char *err, size_t errlen)
{
    g->pics.api = g->b.api;
    g->pics.self = g->b.self;
    miaw_route rs = {MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/groups/{groupJid}/picture",
                     .flags = MIAW_ROUTE_INSTANCE | MIAW_ROUTE_MULTIPART, .handler = h_set, .udata = g,
                     .body = pf_pics_body, .body_max = 15u << 20, .timeout_ms = 60000, .tag = "Groups",
                     .operation_id = "setGroupPicture", .summary = "Update the group picture",
                     .description = "A JPEG or PNG (at most 10 MiB, at least 96x96) as base64 `image`, a `url`, or a "
                                    "multipart `file`: its centred square is scaled to WhatsApp's 640x640 picture and "
                                    "96x96 preview (JPEG) and set as the group's picture. 403 NOT_GROUP_ADMIN when the "
                                    "group is locked (only admins edit its info) and this account is not an admin; 404 "
                                    "NOT_FOUND when it is not a member or the group does not exist.",
                     .response_example = "{\"id\":\"3\",\"size\":640,\"previewSize\":96,\"bytes\":48210,"
                                         "\"previewBytes\":2874,\"source\":{\"width\":1024,\"height\":768}}"};
    miaw_route rd = {MIAW_ROUTE_INIT, .method = "DELETE", .path = "/instances/{instanceId}/groups/{groupJid}/picture",
                     .flags = MIAW_ROUTE_INSTANCE, .handler = h_delete, .udata = g, .tag = "Groups",
                     .operation_id = "deleteGroupPicture", .summary = "Remove the group picture",
                     .description = "The same permissions as setting it.", .response_example = "{\"removed\":true}"};
    int rc = g->b.api->route_add(g->b.self, &rs, err, errlen);
    if (rc == MIAW_OK) rc = g->b.api->route_add(g->b.self, &rd, err, errlen);
    return rc;
}
