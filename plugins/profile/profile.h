/* plugins/profile/profile.h - shared declarations of the "profile" plugin (spec 4.4.5):
 * its state (host table, the own JID of every instance learnt from the ready event),
 * the picture maker (image.c) and the route modules.
 *
 * Ownership: one pf_state per loaded plugin (profile.c, freed in fini). pf_picture's
 * buffers are malloc'd and freed by pf_picture_free. */
#ifndef MIAW_PLUGIN_PROFILE_H
#define MIAW_PLUGIN_PROFILE_H
#include <jansson.h>
#include <miaw/plugin.h>
#include <stddef.h>
#include <stdint.h>

#define PF_FULL 640              /* WhatsApp's full profile picture, px */
#define PF_PREVIEW 96            /* and its preview */
#define PF_MIN_SIDE 96           /* smaller images are refused */
#define PF_MAX_PIXELS 40000000u  /* decoded pixels at most */
#define PF_INPUT_MAX (10u << 20) /* bytes of the uploaded image */
#define PF_NAME_MAX 25           /* push name, characters */
#define PF_STATUS_MAX 139        /* about text, characters */

typedef struct pf_state {
    miaw_plugin *self;
    const miaw_host_api *api;
    struct pf_job *jobs;   /* picture jobs whose worker thread runs (picture.c) */
    miaw_id poll_timer;
} pf_state;

/* A picture made from a user's image: the 640 JPEG and the 96 preview. */
typedef struct pf_picture {
    uint8_t *image, *preview;
    size_t image_len, preview_len;
    unsigned src_w, src_h;
} pf_picture;

/* image.c: JPEG or PNG bytes -> the two JPEGs (centred square). 0, or -1 with err. */
int pf_picture_make(const uint8_t *in, size_t len, pf_picture *out, char *err, size_t n);
void pf_picture_free(pf_picture *p);

/* profile.c */
/* The instance's own user JID ("<phone>@s.whatsapp.net", from its ready event) into out:
 * 0, or -1 when it never connected since this plugin loaded and none was stored. */
int pf_own_jid(pf_state *st, const char *inst, char *out, size_t cap);
/* {"b64": base64 of the bytes} (new reference) */
json_t *pf_b64_json(const uint8_t *b, size_t n);

/* picture.c */
int pf_picture_register(pf_state *st, char *err, size_t n);
void pf_picture_fini(pf_state *st);
#endif
