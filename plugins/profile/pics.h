/* plugins/profile/pics.h - setting a WhatsApp picture from a user's image, shared by the
 * profile plugin (the account's own picture) and the groups plugin (a group's picture,
 * which compiles pics.c and image.c in through plugins/groups/deps.cmake): the image comes
 * as base64 (`image`), a URL (`url`, the host's fetch) or a multipart `file`; a worker
 * thread makes the 640 and 96 px square JPEGs (image.c) while the loop polls it; then the
 * w:profile:picture set IQ carries them, with target=<group> for a group. Removal is the
 * same IQ without a picture.
 *
 * Ownership: a pf_pics lives in its plugin's state (zeroed, then api and self set); it
 * owns its jobs until each is answered (or its worker ended after the client left).
 * pf_pics_fini joins what is left. pf_picture's buffers are malloc'd, freed by
 * pf_picture_free. Loop thread only, except the worker. */
#ifndef MIAW_PLUGIN_PROFILE_PICS_H
#define MIAW_PLUGIN_PROFILE_PICS_H
#include <jansson.h>
#include <miaw/plugin.h>
#include <stddef.h>
#include <stdint.h>

#define PF_FULL 640              /* WhatsApp's full profile picture, px */
#define PF_PREVIEW 96            /* and its preview */
#define PF_MIN_SIDE 96           /* smaller images are refused */
#define PF_MAX_PIXELS 40000000u  /* decoded pixels at most */
#define PF_INPUT_MAX (10u << 20) /* bytes of the uploaded image */

/* A picture made from a user's image: the 640 JPEG and the 96 preview. */
typedef struct pf_picture {
    uint8_t *image, *preview;
    size_t image_len, preview_len;
    unsigned src_w, src_h;
} pf_picture;

/* image.c: JPEG or PNG bytes -> the two JPEGs (centred square). 0, or -1 with err. */
int pf_picture_make(const uint8_t *in, size_t len, pf_picture *out, char *err, size_t n);
void pf_picture_free(pf_picture *p);

/* An IQ failure answered the caller's way (e.g. NOT_GROUP_ADMIN); NULL = reply_status. */
typedef void (*pf_pics_err_fn)(const miaw_host_api *api, miaw_req *req, int status, const char *detail, void *ud);

typedef struct pf_pics {
    const miaw_host_api *api;
    miaw_plugin *self;
    struct pf_job *jobs; /* jobs in flight */
    miaw_id poll_timer;  /* while a worker runs */
} pf_pics;

/* Handle POST .../picture for req (its body or file part): target NULL = the account's
 * own picture, else a group JID (copied). on_err/ud for IQ failures (ud must outlive the
 * request). Returns what the route handler returns (MIAW_ASYNC or MIAW_OK once answered). */
int pf_pics_set(pf_pics *ps, miaw_req *req, const char *target, pf_pics_err_fn on_err, void *ud);
/* DELETE .../picture: the set IQ without a picture. */
int pf_pics_delete(pf_pics *ps, miaw_req *req, const char *target, pf_pics_err_fn on_err, void *ud);
/* Unload: the host aborted every request; wait for the worker threads still running. */
void pf_pics_fini(pf_pics *ps);
/* The route body both plugins declare (image, url; the file part is multipart). */
extern const miaw_field pf_pics_body[];
#endif
