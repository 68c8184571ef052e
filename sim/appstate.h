/* sim/appstate.h - the simulator's app-state sync (syncd) server and the phone's side of
 * it. Server (appstate.c): per account and collection (critical_block,
 * critical_unblock_low, regular_high, regular_low, regular) a version, every patch
 * accepted (version-stamped), the live records (index MAC -> SyncdRecord) and the last
 * snapshot MAC; the `w:sync:app:state` IQ (fetch patches after a version, or, when the
 * account is set so, a snapshot and patches whose mutations are external blobs, both
 * stored on the media host as "md-app-state"; upload a patch at the current version:
 * 409 when stale) and `server_sync` notifications to the
 * account's other companions. Like the real server it never decrypts. Phone
 * (appstate_phone.c): holds the account's app-state sync key (derived from its identity,
 * so stable across restarts with --state-dir), shares it with each companion by an
 * `appStateSyncKeyShare` protocol message when the companion logs in, decodes (and so
 * verifies) every patch the server accepts, keeping its own LTHash per collection and a
 * log of the mutations, and creates mutations through the control API.
 *
 * Ownership: everything lives in the account's `appstate` slot (owned, freed by
 * miaw_sim_appstate_free). Not persisted: a restarted simulator starts with empty
 * collections. Loop thread only. */
#ifndef MIAW_SIM_APPSTATE_H
#define MIAW_SIM_APPSTATE_H
#include <h2o.h>

#include "conn.h"
#include "wa/appstate.h"

typedef struct sim_as_patch {
    uint64_t version;
    uint8_t *b; /* SyncdPatch bytes, version set (owned) */
    size_t n;
} sim_as_patch;

typedef struct sim_as_rec {
    uint8_t im[32]; /* index MAC */
    uint8_t *b;     /* SyncdRecord bytes (owned) */
    size_t n;
} sim_as_rec;

typedef struct sim_as_coll {
    uint64_t version;
    sim_as_patch *p;
    size_t np, capp;
    sim_as_rec *r;
    size_t nr, capr;
    miaw_as_state phone; /* the phone's decoded state of the collection */
    uint8_t smac[32];    /* the last patch's snapshot MAC and key id: a snapshot's */
    uint8_t kid[64];
    size_t kidn;
} sim_as_coll;

typedef struct miaw_sim_as {
    sim_as_coll c[5];      /* in miaw_as_collections order */
    uint8_t key_id[6];
    uint8_t key_data[32];
    uint32_t shared[MIAW_SIM_MAX_DEVICES * 4]; /* devices the key went to in this run */
    size_t nshared;
    void *log;             /* json_t array: mutations the phone decoded (last 1000) */
    int snapshots;         /* serve snapshots (as media) when a client asks for one */
    int external;          /* serve patches with their mutations stored as media */
    int quiet;             /* send no server_sync notifications (a lost notification) */
} miaw_sim_as;

/* a's app-state (created on first use; NULL when out of memory) */
miaw_sim_as *miaw_sim_appstate_get(miaw_sim_account *a);
void miaw_sim_appstate_free(miaw_sim_account *a);
/* index into miaw_as_collections, or -1 */
int miaw_sim_appstate_coll(const char *name);

/* <iq xmlns="w:sync:app:state"> from a logged-in companion: answered. 1 when handled. */
int miaw_sim_appstate_on_iq(miaw_sim_conn *c, const miaw_node *iq);
/* Store patch (bytes) as the next version of collection ci of a, sent by device dev, if
 * its base version is the current one: 0 and *newv; MIAW_E_EXIST (stale: conflict),
 * MIAW_E_INVAL (not a patch) with *why. The phone decodes it and the other companions
 * get a server_sync notification. */
int miaw_sim_appstate_accept(miaw_sim *sim, miaw_sim_account *a, int ci, uint32_t dev, uint64_t base,
                             const uint8_t *patch, size_t len, uint64_t *newv, const char **why);

/* appstate_phone.c */
/* the phone decodes an accepted patch (its log gets the mutations or the error) */
void miaw_sim_appstate_phone_apply(miaw_sim_account *a, int ci, uint32_t dev, const uint8_t *patch, size_t len);
/* companion dev of a logged in: the phone shares the key unless it did in this run */
void miaw_sim_appstate_on_login(miaw_sim *sim, miaw_sim_account *a, uint32_t dev);
/* companion dev of a asked for the key (appStateSyncKeyRequest): the phone shares it */
void miaw_sim_appstate_on_key_request(miaw_sim *sim, miaw_sim_account *a, uint32_t dev);
/* POST / GET /sim/accounts/{phone}/appstate: 1 when the path was one (answered) */
int miaw_sim_appstate_control(miaw_sim *sim, h2o_req_t *req);
#endif
