/* plugins/profile/picture.c - POST and DELETE /profile/picture: the account's own picture
 * through the shared pipeline of pics.c (base64, url or multipart file -> 640 and 96 px
 * JPEGs -> the w:profile:picture set IQ). Owns nothing beyond st->pics' jobs. */
#include "profile.h"

static int h_set(miaw_req *req, void *ud)
{
    pf_state *st = ud;
    return pf_pics_set(&st->pics, req, NULL, NULL, NULL);
}

static int h_delete(miaw_req *req, void *ud)
{
    pf_state *st = ud;
    return pf_pics_delete(&st->pics, req, NULL, NULL, NULL);
}

int pf_picture_register(pf_state *st, char *err, size_t n)
{
    miaw_route rs = {MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/profile/picture",
                     .flags = MIAW_ROUTE_INSTANCE | MIAW_ROUTE_MULTIPART, .handler = h_set, .udata = st,
                     .body = pf_pics_body, .body_max = 15u << 20, .timeout_ms = 60000, .tag = "Profile",
                     .operation_id = "setProfilePicture", .summary = "Update the profile picture",
                     .description = "A JPEG or PNG (at most 10 MiB, at least 96x96) as base64 `image`, a `url`, or a "
                                    "multipart `file`: its centred square is scaled to WhatsApp's 640x640 picture and "
                                    "96x96 preview (JPEG) and set.",
                     .response_example = "{\"id\":\"3\",\"size\":640,\"previewSize\":96,\"bytes\":48210,"
                                         "\"previewBytes\":2874,\"source\":{\"width\":1024,\"height\":768}}"};
    miaw_route rd = {MIAW_ROUTE_INIT, .method = "DELETE", .path = "/instances/{instanceId}/profile/picture",
                     .flags = MIAW_ROUTE_INSTANCE, .handler = h_delete, .udata = st, .tag = "Profile",
                     .operation_id = "deleteProfilePicture", .summary = "Remove the profile picture",
                     .response_example = "{\"removed\":true}"};
    int rc = st->api->route_add(st->self, &rs, err, n);
    if (rc == MIAW_OK) rc = st->api->route_add(st->self, &rd, err, n);
    return rc;
}

void pf_picture_fini(pf_state *st) { pf_pics_fini(&st->pics); }
