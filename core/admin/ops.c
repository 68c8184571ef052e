/* core/admin/ops.c - the Admin API operations create, delete, get and list, plus
 * supervisord readiness and worker counts, as blocking sequences run on uv_queue_work
 * threads (update is in opsupdate.c, the building blocks in opsbase.c). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "admin/instcfg.h"
#include "admin/ops_int.h"
#include "admin/supervisor.h"
#include "base/log.h"
#include "base/util.h"

#define NAME_CAP MIAW_OPI_NAME_CAP
#define PATH_CAP MIAW_OPI_PATH_CAP

/* ------------------------------------------------------------------ operations */

void miaw_op_create(const miaw_admin_cfg *c, const json_t *req, miaw_op_res *r)
{
    char err[320], p[PATH_CAP];
    const char *field = NULL;
    memset(r, 0, sizeof *r);
    if (!json_is_object(req)) { miaw_opi_res_set(r, 400, "INVALID_REQUEST", "body", "Request body must be a JSON object"); return; }
    if (!json_object_get(req, "port")) { miaw_opi_res_set(r, 400, "INVALID_REQUEST", "port", "port: is required"); return; }
    json_t *st = json_deep_copy(c->defaults);
    if (miaw_inst_apply(st, req, err, sizeof err, &field)) {
        miaw_opi_res_set(r, 400, "INVALID_REQUEST", field, "%s", err);
        json_decref(st);
        return;
    }
    int port = (int)json_integer_value(json_object_get(st, "port"));
    /* a key the admin makes up is shown once, in this answer; a key the client gave is
     * never echoed */
    int generated = !json_is_string(json_object_get(st, "api_key"));
    if (generated) {
        unsigned char rnd[24];
        char hex[49];
        if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
            miaw_opi_res_set(r, 500, "INTERNAL_ERROR", NULL, "no randomness for the worker API key");
            json_decref(st);
            return;
        }
        for (size_t i = 0; i < sizeof rnd; i++) snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
        json_object_set_new(st, "api_key", json_string(hex));
    }
    int fd = miaw_opi_lock_or_409(c, port, r);
    if (fd < 0) { json_decref(st); return; }

    json_t *info = NULL;
    miaw_sv_err e;
    if (miaw_inst_conf_path(c, port, p, sizeof p) == 0 && miaw_opi_file_exists(p)) {
        miaw_opi_res_set(r, 409, "INSTANCE_EXISTS", "port", "Instance on port %d already exists", port);
        goto out;
    }
    int k = miaw_opi_get_info(c, port, &info, &e);
    json_decref(info);
    if (k == MIAW_SV_OK) {
        miaw_opi_res_set(r, 409, "INSTANCE_EXISTS", "port", "Instance on port %d already exists in supervisord", port);
        goto out;
    }
    if (k != MIAW_SV_FAULT || e.fault_code != MIAW_SVF_BAD_NAME) {
        if (k == MIAW_SV_FAULT) miaw_sv_count_error();
        miaw_opi_sv_fail(r, &e);
        goto out;
    }
    if (miaw_op_port_in_use(port)) {
        miaw_opi_res_set(r, 409, "PORT_IN_USE", "port", "Port %d is already in use by another process", port);
        goto out;
    }
    int rc = 0;
    if (miaw_inst_data_dir(c, port, p, sizeof p) || (rc = miaw_mkdir_p(p, 0700)) ||
        (rc = miaw_mkdir_p(c->log_dir, 0755)) || (rc = miaw_mkdir_p(c->conf_dir, 0755))) {
        miaw_opi_res_set(r, 500, "INTERNAL_ERROR", NULL, "Instance creation failed: cannot create directories: %s",
                strerror(rc ? -rc : ENAMETOOLONG));
        goto out;
    }
    if (miaw_opi_save_settings(c, port, st, err, sizeof err)) {
        miaw_opi_res_set(r, 500, "INTERNAL_ERROR", NULL, "Instance creation failed: %s", err);
        miaw_opi_rollback(c, port);
        goto out;
    }
    if (miaw_opi_reconcile(c, port, r) || miaw_opi_finish(c, port, st, r, "Instance creation failed", generated)) {
        miaw_opi_rollback(c, port);
        goto out;
    }
    miaw_opi_res_set(r, 201, NULL, NULL, "Instance created successfully");
out:
    miaw_op_unlock(fd);
    json_decref(st);
}

void miaw_op_delete(const miaw_admin_cfg *c, int port, miaw_op_res *r)
{
    char p[PATH_CAP], name[NAME_CAP];
    memset(r, 0, sizeof *r);
    int fd = miaw_opi_lock_or_409(c, port, r);
    if (fd < 0) return;
    miaw_sv_err e;
    json_t *info = NULL;
    miaw_inst_name(name, sizeof name, port);
    int have_conf = miaw_inst_conf_path(c, port, p, sizeof p) == 0 && miaw_opi_file_exists(p);
    int k = miaw_opi_get_info(c, port, &info, &e);
    json_decref(info);
    if (k != MIAW_SV_OK && !(k == MIAW_SV_FAULT && e.fault_code == MIAW_SVF_BAD_NAME)) {
        if (k == MIAW_SV_FAULT) miaw_sv_count_error();
        miaw_opi_sv_fail(r, &e);
        miaw_op_unlock(fd);
        return;
    }
    if (!have_conf && k != MIAW_SV_OK) {
        miaw_opi_res_set(r, 404, "INSTANCE_NOT_FOUND", NULL, "Instance on port %d not found", port);
        miaw_op_unlock(fd);
        return;
    }
    if (miaw_opi_sv_tolerant(c, "supervisor.stopProcess", json_pack("[sb]", name, 1), &e, MIAW_SVF_NOT_RUNNING,
                    MIAW_SVF_BAD_NAME, 0) ||
        miaw_opi_sv_tolerant(c, "supervisor.removeProcessGroup", json_pack("[s]", name), &e, MIAW_SVF_BAD_NAME, 0)) {
        miaw_opi_sv_fail(r, &e);
        miaw_op_unlock(fd);
        return;
    }
    int rc = 0;
    if (have_conf && unlink(p) && errno != ENOENT) rc = -errno;
    /* let supervisord forget the program section; a failure here leaves nothing running */
    if (miaw_opi_sv_tolerant(c, "supervisor.reloadConfig", NULL, &e, 0)) MIAW_WARN("admin", "delete %d: %s", port, e.msg);
    if (rc == 0 && miaw_inst_data_dir(c, port, p, sizeof p) == 0) rc = miaw_rm_rf(p);
    miaw_opi_remove_logs(c, port);
    if (rc) {
        miaw_opi_res_set(r, 500, "INTERNAL_ERROR", NULL, "Deletion failed: %s", strerror(-rc));
        miaw_op_unlock(fd);
        return;
    }
    if (miaw_inst_lock_path(c, port, p, sizeof p) == 0) unlink(p); /* waiters re-check the inode */
    miaw_op_unlock(fd);
    miaw_opi_res_set(r, 200, NULL, NULL, "Instance deleted successfully");
}

void miaw_op_get(const miaw_admin_cfg *c, int port, miaw_op_res *r)
{
    char p[PATH_CAP];
    memset(r, 0, sizeof *r);
    int have_conf = miaw_inst_conf_path(c, port, p, sizeof p) == 0 && miaw_opi_file_exists(p);
    json_t *info = NULL;
    miaw_sv_err e;
    int k = miaw_opi_get_info(c, port, &info, &e);
    if (k != MIAW_SV_OK && !(k == MIAW_SV_FAULT && e.fault_code == MIAW_SVF_BAD_NAME)) {
        if (k == MIAW_SV_FAULT) miaw_sv_count_error();
        miaw_opi_sv_fail(r, &e);
        return;
    }
    if (!have_conf && !info) {
        miaw_opi_res_set(r, 404, "INSTANCE_NOT_FOUND", NULL, "Instance on port %d not found", port);
        return;
    }
    r->data = miaw_opi_inst_json(c, port, info);
    json_decref(info);
    if (have_conf) {
        json_t *st = miaw_opi_load_settings(c, port);
        miaw_opi_add_detail(r->data, port, st, 0);
        json_decref(st);
    } else {
        miaw_opi_add_detail(r->data, port, NULL, 0);
    }
    miaw_opi_res_set(r, 200, NULL, NULL, "Instance retrieved successfully");
}

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

void miaw_op_list(const miaw_admin_cfg *c, miaw_op_res *r)
{
    memset(r, 0, sizeof *r);
    json_t *all = NULL;
    miaw_sv_err e;
    miaw_sv_cfg s = miaw_opi_svc(c);
    if (miaw_sv_call(&s, "supervisor.getAllProcessInfo", NULL, &all, &e) != MIAW_SV_OK) {
        if (e.kind == MIAW_SV_FAULT) miaw_sv_count_error();
        miaw_opi_sv_fail(r, &e);
        return;
    }
    int ports[4096];
    size_t n = 0;
    size_t i;
    json_t *pi;
    json_array_foreach(all, i, pi) {
        int port;
        char tail;
        const char *nm = json_string_value(json_object_get(pi, "name"));
        if (nm && sscanf(nm, "miaw_%d%c", &port, &tail) == 1 && n < 4096) ports[n++] = port;
    }
    DIR *d = opendir(c->conf_dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        int port;
        char rest[8] = "";
        if (sscanf(de->d_name, "miaw-%d.%7s", &port, rest) == 2 && !strcmp(rest, "conf") && n < 4096) {
            int dup = 0;
            for (size_t j = 0; j < n; j++) dup |= ports[j] == port;
            if (!dup) ports[n++] = port;
        }
    }
    if (d) closedir(d);
    qsort(ports, n, sizeof ports[0], cmp_int);
    json_t *arr = json_array();
    for (size_t j = 0; j < n; j++) {
        char name[NAME_CAP];
        miaw_inst_name(name, sizeof name, ports[j]);
        json_t *info = NULL;
        json_array_foreach(all, i, pi) {
            if (!strcmp(json_string_value(json_object_get(pi, "name")) ? json_string_value(json_object_get(pi, "name")) : "", name))
                info = pi;
        }
        json_t *o = miaw_opi_inst_json(c, ports[j], info);
        json_object_set_new(o, "name", json_string(name));
        json_array_append_new(arr, o);
    }
    json_decref(all);
    r->data = arr;
    miaw_opi_res_set(r, 200, NULL, NULL, "Instances retrieved successfully");
}

int miaw_op_supervisor_ready(const miaw_admin_cfg *c, char *why, size_t cap)
{
    miaw_sv_cfg s = miaw_opi_svc(c);
    miaw_sv_err e;
    json_t *st = NULL;
    if (miaw_sv_call(&s, "supervisor.getState", NULL, &st, &e) != MIAW_SV_OK) {
        snprintf(why, cap, "%s", e.msg);
        return 0;
    }
    const char *name = json_string_value(json_object_get(st, "statename"));
    int ok = name && !strcmp(name, "RUNNING");
    if (!ok) snprintf(why, cap, "supervisord state is %s", name ? name : "unknown");
    json_decref(st);
    return ok;
}

json_t *miaw_op_state_counts(const miaw_admin_cfg *c)
{
    miaw_sv_cfg s = miaw_opi_svc(c);
    miaw_sv_err e;
    json_t *all = NULL;
    if (miaw_sv_call(&s, "supervisor.getAllProcessInfo", NULL, &all, &e) != MIAW_SV_OK) return NULL;
    json_t *counts = json_pack("{s:i,s:i,s:i,s:i,s:i}", "RUNNING", 0, "STOPPED", 0, "STARTING", 0, "FATAL", 0,
                               "UNKNOWN", 0);
    size_t i;
    json_t *pi;
    json_array_foreach(all, i, pi) {
        const char *nm = json_string_value(json_object_get(pi, "name"));
        if (!nm || strncmp(nm, "miaw_", 5)) continue;
        const char *g = miaw_op_guide_state(json_string_value(json_object_get(pi, "statename")));
        json_object_set_new(counts, g, json_integer(json_integer_value(json_object_get(counts, g)) + 1));
    }
    json_decref(all);
    return counts;
}
