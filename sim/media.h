/* sim/media.h - miaw-sim's media host (facts 10.1, 10.4, 10.5, 14.9): the media_conn IQ
 * (upload auth tokens with a lifetime, the host "127.0.0.1:<port>"), uploads in the shape
 * of WhatsApp's media hosts (POST /mms/<type>/<token>?auth=…&token=…, the body's SHA-256
 * checked against the token, JSON with url, direct_path, handle, object_id), downloads
 * (GET <direct_path>, signed by its oh parameter; single byte ranges), a bounded blob
 * store (in memory, and in <state-dir>/media/ when the simulator has a state directory)
 * that the simulated phones read and write directly. The HTTPS listener and its
 * certificates are media_tls.c's.
 *
 * Ownership: one media host per process (module state, like the one miaw_sim); blobs
 * belong to the store, pointers returned by miaw_sim_media_get stay valid until the next
 * put or close. Loop thread only. */
#ifndef MIAW_SIM_MEDIA_H
#define MIAW_SIM_MEDIA_H
#include <h2o.h>

#include "conn.h"
#include "sim.h"

#define MIAW_SIM_MEDIA_UPLOAD_MAX (16u << 20)  /* bytes per blob */
#define MIAW_SIM_MEDIA_STORE_MAX (256u << 20)  /* bytes held; the oldest blobs go first */
#define MIAW_SIM_MEDIA_OBJECTS_MAX 4096
#define MIAW_SIM_MEDIA_TTL 300                 /* media_conn ttl (seconds) */
#define MIAW_SIM_MEDIA_AUTH_TTL 21600          /* how long an auth token is accepted */

/* Start the store (blobs under <state-dir>/media when sim has a state directory). */
int miaw_sim_media_open(miaw_sim *sim, char *err, size_t errcap);
void miaw_sim_media_close(void);
/* The host clients are told about: "127.0.0.1:<port>" (set by media_tls.c once it
 * listens; "" while there is no media listener). */
void miaw_sim_media_set_host(const char *hostport);
const char *miaw_sim_media_host(void);

/* <iq xmlns="w:m" type="set"><media_conn/></iq>: answered with a fresh auth token, ttl,
 * auth_ttl, max_buckets and the host. 1 when the IQ was this one (answered), else 0. */
int miaw_sim_media_on_iq(miaw_sim_conn *c, const miaw_node *iq);
/* A fresh upload token (the phones use it like clients do). */
const char *miaw_sim_media_new_auth(void);

/* A request on the media listener: upload, download or 404. Always answers. */
void miaw_sim_media_http(h2o_req_t *req);

/* Store a blob for media type `type` (client path segment, e.g. "image") as if uploaded:
 * url (cap >= 256) and direct_path (cap >= 200) filled. 0 or MIAW_E_LIMIT / NOMEM. */
int miaw_sim_media_put(const char *type, const uint8_t *blob, size_t len, char *url, size_t ucap, char *direct_path,
                       size_t dcap);
/* Look a blob up by direct path or URL (the part after the host; query ignored except
 * oh, which must be the store's signature). 0 with *blob and *len borrowed, MIAW_E_NOTFOUND
 * (unknown, evicted, or a wrong signature). */
int miaw_sim_media_get(const char *path_or_url, const uint8_t **blob, size_t *len);

/* {"host","objects","bytes","uploads","downloads","refused"} for /sim/state (new ref). */
void *miaw_sim_media_stats_json(void);
#endif
