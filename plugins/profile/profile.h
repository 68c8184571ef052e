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

#include "pics.h"

#define PF_NAME_MAX 25           /* push name, characters */
#define PF_STATUS_MAX 139        /* about text, characters */

typedef struct pf_state {
    miaw_plugin *self;
    const miaw_host_api *api;
    pf_pics pics;          /* the own picture's jobs (pics.c) */
} pf_state;


/* profile.c */
/* The instance's own user JID ("<phone>@s.whatsapp.net", from its ready event) into out:
 * 0, or -1 when it never connected since this plugin loaded and none was stored. */
int pf_own_jid(pf_state *st, const char *inst, char *out, size_t cap);

/* picture.c */
int pf_picture_register(pf_state *st, char *err, size_t n);
void pf_picture_fini(pf_state *st);
#endif
