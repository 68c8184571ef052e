/* core/engine/engine_appstate_in.c - applying the answer of an app-state fetch: for each
 * collection, a snapshot (an external blob reference: downloaded as "md-app-state" media
 * and decoded) and then its patches in order (a patch whose mutations are stored as
 * media is downloaded first), every one verified (core/wa/appstate.h), the mutations
 * handed to the app-state tap, the state saved once per collection; a missing key blocks
 * the collection and is asked for; a MAC or LTHash mismatch starts a full resync. The
 * answer is worked through as a job (struct eng_as_job) that pauses while a download
 * runs; the instance's queue stays busy until the job ends. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "engine/engine_appstate.h"
#include "engine/engine_int.h"
#include "engine/media.h"
#include "wa/proto_json.h"
#include "wa_syncd.pb-c.h"

#define DL_MAX (64u << 20) /* bytes of one downloaded snapshot or mutation list */

struct eng_as_job {
    eng_as *as;
    miaw_node *root;        /* owns the copy of the answer's <sync> */
    const miaw_node *sync;
    const miaw_node *col;   /* the collection being applied (NULL = done) */
    const miaw_node *patch; /* the next patch of col */
    int started, snap_done, stop;
    miaw_as_state work;
    uint8_t *dl;            /* the finished download for the current item */
    size_t dl_len, dl_cap;
    int dl_state;           /* 0 none, 1 running, 2 done, 3 failed */
    uint64_t dl_handle;
};

typedef struct mut_ctx {
    eng_inst *ei;
    uint64_t version;
} mut_ctx;

static void on_mutation(void *ud, const char *collection, const miaw_as_mutation *m)
{
    mut_ctx *mc = ud;
    miaw_engine *e = mc->ei->e;
    if (!e->as_tap) return;
    json_t *idx = m->index_json ? json_incref(m->index_json) : json_string(m->index);
    json_t *j = json_pack("{s:s,s:s,s:o,s:O,s:I,s:I}", "collection", collection, "operation",
                          m->op == MIAW_AS_OP_REMOVE ? "remove" : "set", "index", idx, "value", m->value,
                          "timestamp", (json_int_t)m->timestamp, "version", (json_int_t)mc->version);
    if (j) e->as_tap(e->as_tap_ud, mc->ei->id, j);
    json_decref(j);
}

static void job_free(eng_as_job *j)
{
    miaw_as_state_free(&j->work);
    miaw_node_free(j->root);
    free(j->dl);
    free(j);
}

void eas_job_cancel(eng_as *as)
{
    eng_as_job *j = as->job;
    if (!j) return;
    as->job = NULL;
    if (j->dl_state == 1) eng_media_cancel(as->ei->e, j->dl_handle); /* its callbacks will not run */
    job_free(j);
}

/* ------------------------------------------------------------ downloads */

static int on_chunk(const void *data, size_t len, void *ud)
{
    eng_as_job *j = ud;
    if (j->dl_len + len > DL_MAX) return 1; /* too large: stop */
    if (j->dl_len + len > j->dl_cap) {
        size_t nc = j->dl_cap ? j->dl_cap : 4096;
        while (nc < j->dl_len + len) nc *= 2;
        uint8_t *nb = realloc(j->dl, nc);
        if (!nb) return 1;
        j->dl = nb;
        j->dl_cap = nc;
    }
    memcpy(j->dl + j->dl_len, data, len);
    j->dl_len += len;
    return 0;
}

static void job_run(eng_as_job *j);

static void on_download(int status, const json_t *result, const char *detail, void *ud)
{
    (void)result;
    eng_as_job *j = ud;
    j->dl_state = status == MIAW_OK ? 2 : 3;
    if (status != MIAW_OK)
        MIAW_WARN("engine", "%s: app-state blob download failed: %s", j->as->ei->id, detail ? detail : "?");
    job_run(j);
}

/* starts the download of an ExternalBlobReference (JSON); 0 or -1 */
static int download(eng_as_job *j, const json_t *ref)
{
    eng_inst *ei = j->as->ei;
    json_t *media = json_pack("{s:O?,s:O?,s:O?,s:O?,s:O?}", "directPath", json_object_get(ref, "directPath"), "mediaKey",
                              json_object_get(ref, "mediaKey"), "fileEncSha256", json_object_get(ref, "fileEncSha256"),
                              "fileSha256", json_object_get(ref, "fileSha256"), "fileLength",
                              json_object_get(ref, "fileSizeBytes"));
    char err[200] = "";
    j->dl_len = 0;
    j->dl_state = 1;
    int rc = media ? eng_media_download(ei->e, ei->id, "md-app-state", media, NULL, on_chunk, on_download, j,
                                        &j->dl_handle, err, sizeof err)
                   : MIAW_E_NOMEM;
    json_decref(media);
    if (rc) {
        j->dl_state = 0;
        MIAW_WARN("engine", "%s: app-state blob download not started: %s", ei->id, err);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ applying */

/* a decode result: 0 go on, 1 stop (blocked / error), 2 stop (a full resync started) */
static int outcome(eng_as *as, int ci, int rc, miaw_as_ctx *ctx)
{
    eng_inst *ei = as->ei;
    if (rc == MIAW_OK || rc == MIAW_E_EXIST) return 0;
    if (rc == MIAW_E_NOTFOUND) {
        as->status[ci] = CS_BLOCKED;
        snprintf(as->err[ci], sizeof as->err[ci], "waiting for an app-state key from the phone");
        MIAW_INFO("engine", "%s: app-state %s blocked: key missing", ei->id, miaw_as_collections[ci]);
        eas_request_key(as, ctx->missing_key, ctx->missing_key_len);
        return 1;
    }
    if (rc == MIAW_E_NOMEM) return 1;
    eas_resync(as, ci, ctx->err);
    return 2;
}

static void col_error(eng_as *as, int ci, const char *msg)
{
    as->status[ci] = CS_ERROR;
    snprintf(as->err[ci], sizeof as->err[ci], "%s", msg);
    MIAW_WARN("engine", "%s: app-state %s: %s", as->ei->id, miaw_as_collections[ci], msg);
}

/* the collection is done: keep what verified, and mark it */
static void col_finish(eng_as_job *j, int ci)
{
    eng_as *as = j->as;
    eng_inst *ei = as->ei;
    const char *name = miaw_as_collections[ci];
    if (j->stop != 2 && (j->work.version != as->st[ci].version || memcmp(j->work.hash, as->st[ci].hash, MIAW_AS_HASH_LEN))) {
        if (eas_state_save(ei->e->db, ei->id, name, &as->st[ci], &j->work) == 0) {
            miaw_as_state_free(&as->st[ci]);
            as->st[ci] = j->work;
            miaw_as_state_init(&j->work);
            MIAW_INFO("engine", "%s: app-state %s at version %" PRIu64, ei->id, name, as->st[ci].version);
        }
    }
    if (!j->stop) {
        as->status[ci] = CS_OK;
        as->err[ci][0] = 0;
        as->fetched[ci] = 1;
        if (miaw_node_attr_is(j->col, "has_more_patches", "true")) as->fetch_mask |= 1u << ci;
    }
}

/* the snapshot of the current collection: 0 done (or none), 1 waiting for a download */
static int do_snapshot(eng_as_job *j, int ci)
{
    eng_as *as = j->as;
    const miaw_node *sn = miaw_node_child(j->col, "snapshot");
    size_t len = 0;
    const uint8_t *b = sn ? miaw_node_bytes(sn, &len) : NULL;
    if (j->snap_done || !b || !len) return 0;
    if (j->dl_state == 0) {
        json_t *ref = miaw_pb_json_decode(&miaw__wa__external_blob_reference__descriptor, b, len);
        int rc = ref ? download(j, ref) : -1;
        json_decref(ref);
        if (!rc) return 1;
        col_error(as, ci, ref ? "the snapshot could not be downloaded" : "the snapshot reference is malformed");
        j->stop = 1;
    } else if (j->dl_state == 3) {
        col_error(as, ci, "the snapshot could not be downloaded");
        j->stop = 1;
    } else if (j->dl_state == 2) {
        mut_ctx mc = {as->ei, 0};
        miaw_as_ctx ctx = {.name = miaw_as_collections[ci], .key_fn = eas_key_fn, .key_ud = as->ei,
                           .mut_fn = on_mutation, .mut_ud = &mc};
        Miaw__Wa__SyncdSnapshot *peek =
            (Miaw__Wa__SyncdSnapshot *)miaw_pb_unpack(&miaw__wa__syncd_snapshot__descriptor, j->dl, j->dl_len);
        mc.version = peek && peek->version ? peek->version->version : 0;
        if (peek) protobuf_c_message_free_unpacked(&peek->base, NULL);
        j->stop = outcome(as, ci, miaw_as_decode_snapshot(&ctx, &j->work, j->dl, j->dl_len), &ctx);
        if (!j->stop) MIAW_INFO("engine", "%s: app-state %s restored from a snapshot at version %" PRIu64, as->ei->id,
                                miaw_as_collections[ci], j->work.version);
    }
    j->dl_state = 0;
    j->snap_done = 1;
    return 0;
}

/* the patches of the current collection from j->patch: 0 done, 1 waiting for a download */
static int do_patches(eng_as_job *j, int ci)
{
    eng_as *as = j->as;
    const miaw_node *ps = miaw_node_child(j->col, "patches");
    const miaw_node *parent = ps ? ps : j->col;
    if (!j->patch) j->patch = miaw_node_child(parent, "patch");
    for (; j->patch && !j->stop; j->patch = miaw_node_next(parent, j->patch, "patch")) {
        size_t len = 0;
        const uint8_t *b = miaw_node_bytes(j->patch, &len);
        json_t *ext = NULL;
        uint64_t pv = 0;
        if (!b || miaw_as_patch_peek(b, len, &pv, &ext) != MIAW_OK) {
            eas_resync(as, ci, "a patch that is not a SyncdPatch");
            j->stop = 2;
            break;
        }
        if (ext && pv && pv <= j->work.version) { /* old: no need to download it */
            json_decref(ext);
            continue;
        }
        if (ext && j->dl_state == 0) {
            int rc = download(j, ext);
            json_decref(ext);
            if (!rc) return 1;
            col_error(as, ci, "a patch's mutations could not be downloaded");
            j->stop = 1;
            break;
        }
        json_decref(ext);
        if (j->dl_state == 3) {
            j->dl_state = 0;
            col_error(as, ci, "a patch's mutations could not be downloaded");
            j->stop = 1;
            break;
        }
        mut_ctx mc = {as->ei, pv ? pv : j->work.version + 1};
        miaw_as_ctx ctx = {.name = miaw_as_collections[ci], .key_fn = eas_key_fn, .key_ud = as->ei,
                           .mut_fn = on_mutation, .mut_ud = &mc};
        int have = j->dl_state == 2;
        int rc = miaw_as_decode_patch(&ctx, &j->work, b, len, j->work.version + 1, have ? j->dl : NULL,
                                      have ? j->dl_len : 0);
        j->dl_state = 0;
        j->stop = outcome(as, ci, rc, &ctx);
    }
    return 0;
}

static void job_run(eng_as_job *j)
{
    eng_as *as = j->as;
    while (j->col) {
        int ci = eas_coll_index(miaw_node_attr(j->col, "name"));
        if (ci >= 0 && !j->started) {
            j->started = 1;
            j->snap_done = j->stop = 0;
            j->patch = NULL;
            if (miaw_node_attr_is(j->col, "type", "error") || miaw_node_child(j->col, "error")) {
                const miaw_node *er = miaw_node_child(j->col, "error");
                char m[96];
                snprintf(m, sizeof m, "the server refused the fetch (%s)",
                         er && miaw_node_attr(er, "code") ? miaw_node_attr(er, "code") : "?");
                col_error(as, ci, m);
                j->stop = 3;
            } else if (miaw_as_state_copy(&j->work, eas_coll(as, ci)) != MIAW_OK) {
                j->stop = 3;
            }
        }
        if (ci >= 0 && j->stop != 3) {
            if (do_snapshot(j, ci) || (!j->stop && do_patches(j, ci))) return; /* a download runs */
            col_finish(j, ci);
        }
        miaw_as_state_free(&j->work);
        j->started = 0;
        j->col = miaw_node_next(j->sync, j->col, "collection");
    }
    as->job = NULL;
    as->busy = 0;
    job_free(j);
    eas_kick(as);
}

void eas_on_fetch(miaw_wa_conn *c, const miaw_node *reply, int err, void *ud)
{
    (void)c;
    eng_as *as = ud;
    as->busy = 0;
    if (err == MIAW_E_GONE) return;
    const miaw_node *sync = reply ? miaw_node_child(reply, "sync") : NULL;
    if (err || !reply || !miaw_node_attr_is(reply, "type", "result") || !sync) {
        MIAW_WARN("engine", "%s: app-state fetch failed (%s)", as->ei->id, err ? "timeout" : "server error");
        for (int i = 0; i < NCOLL; i++)
            if (as->status[i] == CS_OK && !as->fetched[i]) as->status[i] = CS_ERROR;
        return;
    }
    eng_as_job *j = calloc(1, sizeof *j);
    miaw_node *root = j ? miaw_node_new("answer") : NULL;
    const miaw_node *copy = root ? miaw_node_add_copy(root, sync) : NULL;
    if (!copy) {
        miaw_node_free(root);
        free(j);
        return;
    }
    j->as = as;
    j->root = root;
    j->sync = copy;
    j->col = miaw_node_child(copy, "collection");
    miaw_as_state_init(&j->work);
    as->job = j;
    as->busy = 1; /* until the job ends */
    job_run(j);
}
