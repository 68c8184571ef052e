/* core/admin/opsupdate.c - PATCH /admin/instances/{port} as one transaction: validate,
 * lock, snapshot the worker's three files (admin.json, miaw.yaml, program config) and
 * its running state, stop, rewrite, reconcile, start, wait RUNNING. On any failure
 * after the stop the snapshot is written back, supervisord reconciled and the worker
 * started again if it was running, so a failed update leaves the worker as it was. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin/instcfg.h"
#include "admin/ops_int.h"
#include "base/log.h"
#include "base/util.h"

#define NAME_CAP MIAW_OPI_NAME_CAP
#define PATH_CAP MIAW_OPI_PATH_CAP

enum { F_META, F_WORKER, F_PROGRAM, F_N };

typedef struct {
    char path[F_N][PATH_CAP];
    char *data[F_N]; /* NULL: the file did not exist */
    size_t len[F_N];
    int was_running;
} snapshot_t;

static int snap_take(const miaw_admin_cfg *c, int port, snapshot_t *s)
{
    memset(s, 0, sizeof *s);
    if (miaw_inst_meta_path(c, port, s->path[F_META], PATH_CAP) ||
        miaw_inst_worker_conf_path(c, port, s->path[F_WORKER], PATH_CAP) ||
        miaw_inst_conf_path(c, port, s->path[F_PROGRAM], PATH_CAP))
        return -ENAMETOOLONG;
    for (int i = 0; i < F_N; i++) {
        int rc = miaw_read_file(s->path[i], &s->data[i], &s->len[i]);
        if (rc == -ENOENT) s->data[i] = NULL;
        else if (rc) return rc;
    }
    json_t *info = NULL;
    miaw_sv_err e;
    if (miaw_opi_get_info(c, port, &info, &e) == MIAW_SV_OK) {
        const char *sn = json_string_value(json_object_get(info, "statename"));
        s->was_running = sn && (!strcmp(sn, "RUNNING") || !strcmp(sn, "STARTING") || !strcmp(sn, "BACKOFF"));
    }
    json_decref(info);
    return 0;
}

static void snap_free(snapshot_t *s)
{
    for (int i = 0; i < F_N; i++) free(s->data[i]);
}

/* writes the snapshot back, reconciles and restarts the worker if it ran; appends
 * what happened to r's message */
static void snap_restore(const miaw_admin_cfg *c, int port, const snapshot_t *s, const json_t *old, miaw_op_res *r)
{
    int files_ok = 1;
    for (int i = 0; i < F_N; i++) {
        int rc = s->data[i] ? miaw_write_file_atomic(s->path[i], s->data[i], s->len[i], 0600)
                            : (unlink(s->path[i]) && errno != ENOENT ? -errno : 0);
        if (rc) files_ok = 0;
    }
    miaw_op_res tmp;
    memset(&tmp, 0, sizeof tmp);
    /* a failed start may leave supervisord retrying (BACKOFF): stop it before the group
     * is replaced */
    char name[NAME_CAP];
    miaw_sv_err e;
    miaw_inst_name(name, sizeof name, port);
    miaw_opi_sv_tolerant(c, "supervisor.stopProcess", json_pack("[sb]", name, 1), &e, MIAW_SVF_NOT_RUNNING,
                         MIAW_SVF_BAD_NAME, 0);
    int back = files_ok && miaw_opi_reconcile(c, port, &tmp) == 0;
    if (back && s->was_running) {
        back = miaw_opi_start_and_wait(c, port, old, &tmp, "Restore") == 0;
    } else if (back) {
        /* it was stopped before: autostart may have started it on re-add */
        miaw_opi_sv_tolerant(c, "supervisor.stopProcess", json_pack("[sb]", name, 1), &e, MIAW_SVF_NOT_RUNNING,
                             MIAW_SVF_BAD_NAME, 0);
    }
    json_decref(tmp.data);
    size_t n = strlen(r->message);
    snprintf(r->message + n, sizeof r->message - n, "%s",
             !files_ok ? "; the previous configuration could not be written back"
             : !back   ? "; the previous configuration was restored but the worker did not come back"
             : s->was_running ? "; the previous configuration was restored and the worker restarted"
                              : "; the previous configuration was restored");
    MIAW_WARN("admin", "update %d failed; restore: %s", port, !files_ok ? "files failed" : back ? "ok" : "worker down");
}

void miaw_op_update(const miaw_admin_cfg *c, int port, const json_t *req, miaw_op_res *r)
{
    char err[320], p[PATH_CAP], name[NAME_CAP];
    const char *field = NULL;
    memset(r, 0, sizeof *r);
    if (!json_is_object(req)) {
        miaw_opi_res_set(r, 400, "INVALID_REQUEST", "body", "Request body must be a JSON object");
        return;
    }
    /* validate before touching anything (a scratch merge) */
    json_t *scratch = json_pack("{s:i}", "port", port);
    int bad = miaw_inst_apply(scratch, req, err, sizeof err, &field);
    json_decref(scratch);
    if (bad) { miaw_opi_res_set(r, 400, "INVALID_REQUEST", field, "%s", err); return; }
    int fd = miaw_opi_lock_or_409(c, port, r);
    if (fd < 0) return;
    json_t *st = NULL, *old = NULL;
    miaw_sv_err e;
    snapshot_t snap;
    int have_snap = 0;
    miaw_inst_name(name, sizeof name, port);
    if (miaw_inst_conf_path(c, port, p, sizeof p) || !miaw_opi_file_exists(p)) {
        miaw_opi_res_set(r, 404, "INSTANCE_NOT_FOUND", NULL, "Instance on port %d not found", port);
        goto out;
    }
    old = miaw_opi_load_settings(c, port);
    st = json_deep_copy(old);
    if (miaw_inst_apply(st, req, err, sizeof err, &field)) {
        miaw_opi_res_set(r, 400, "INVALID_REQUEST", field, "%s", err);
        goto out;
    }
    if (!json_is_string(json_object_get(st, "api_key"))) {
        miaw_opi_res_set(r, 500, "INTERNAL_ERROR", NULL, "Update failed: the worker's stored settings have no api_key");
        goto out;
    }
    int src = snap_take(c, port, &snap);
    have_snap = 1;
    if (src) {
        miaw_opi_res_set(r, 500, "INTERNAL_ERROR", NULL, "Update failed: cannot read the current config: %s",
                         strerror(-src));
        goto out;
    }
    /* the guide's steps: lock (held), stop, rewrite atomically, reconcile, start, wait RUNNING */
    if (miaw_opi_sv_tolerant(c, "supervisor.stopProcess", json_pack("[sb]", name, 1), &e, MIAW_SVF_NOT_RUNNING,
                             MIAW_SVF_BAD_NAME, 0)) {
        miaw_opi_sv_fail(r, &e);
        snap_restore(c, port, &snap, old, r);
        goto out;
    }
    if (miaw_opi_save_settings(c, port, st, err, sizeof err)) {
        miaw_opi_res_set(r, 500, "INTERNAL_ERROR", NULL, "Update failed: %s", err);
        snap_restore(c, port, &snap, old, r);
        goto out;
    }
    if (miaw_opi_reconcile(c, port, r) || miaw_opi_finish(c, port, st, r, "Update failed", 0)) {
        json_decref(r->data);
        r->data = NULL;
        snap_restore(c, port, &snap, old, r);
        goto out;
    }
    miaw_opi_res_set(r, 200, NULL, NULL, "Instance configuration updated successfully");
out:
    if (have_snap) snap_free(&snap);
    miaw_op_unlock(fd);
    json_decref(st);
    json_decref(old);
}
