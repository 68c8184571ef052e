/* core/admin/ops.c - the Admin API operations as blocking sequences (run on
 * uv_queue_work threads): per-port flock locks with a bounded wait, config/data/log
 * files, and the supervisord calls (reloadConfig, add/removeProcessGroup,
 * start/stopProcess, getProcessInfo, getAllProcessInfo, getState). */
#include "admin/ops.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "admin/instcfg.h"
#include "admin/supervisor.h"
#include "base/log.h"
#include "base/util.h"

#define NAME_CAP 32
#define PATH_CAP 4096

static void res_set(miaw_op_res *r, int status, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void res_set(miaw_op_res *r, int status, const char *code, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
    r->status = status;
    r->code = code;
    snprintf(r->field, sizeof r->field, "%s", field ? field : "");
}

static void sv_fail(miaw_op_res *r, const miaw_sv_err *e)
{
    if (e->kind == MIAW_SV_TIMEOUT)
        res_set(r, 504, "SUPERVISOR_TIMEOUT", NULL, "Supervisord did not answer in time: %s", e->msg);
    else if (e->kind == MIAW_SV_FAULT)
        res_set(r, 502, "SUPERVISOR_ERROR", NULL, "Supervisord refused the operation: %s", e->msg);
    else
        res_set(r, 502, "SUPERVISOR_UNAVAILABLE", NULL, "Failed to connect to supervisord: %s", e->msg);
    MIAW_WARN("admin", "%s", e->msg);
}

static miaw_sv_cfg svc(const miaw_admin_cfg *c)
{
    miaw_sv_cfg s = {c->sv_url, c->sv_user, c->sv_pass, c->sv_timeout_ms};
    return s;
}

/* call expecting success or one of the tolerated fault codes (0-terminated list) */
static int sv_tolerant(const miaw_admin_cfg *c, const char *method, json_t *params, miaw_sv_err *e, ...)
{
    miaw_sv_cfg s = svc(c);
    int k = miaw_sv_call0(&s, method, params, e);
    if (k != MIAW_SV_FAULT) return k;
    va_list ap;
    va_start(ap, e);
    for (int code; (code = va_arg(ap, int)) != 0;) {
        if (code == e->fault_code) { va_end(ap); return MIAW_SV_OK; }
    }
    va_end(ap);
    miaw_sv_count_error();
    return k;
}

/* ------------------------------------------------------------------ helpers */



static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static json_t *load_settings(const miaw_admin_cfg *c, int port)
{
    char meta[PATH_CAP];
    json_t *s = NULL;
    if (miaw_inst_meta_path(c, port, meta, sizeof meta) == 0) s = json_load_file(meta, 0, NULL);
    if (!json_is_object(s)) {
        json_decref(s);
        s = json_deep_copy(c->defaults);
        json_object_set_new(s, "port", json_integer(port));
    }
    return s;
}

static int save_settings(const miaw_admin_cfg *c, int port, const json_t *st, char *err, size_t errlen)
{
    char meta[PATH_CAP], conf[PATH_CAP];
    if (miaw_inst_meta_path(c, port, meta, sizeof meta) || miaw_inst_conf_path(c, port, conf, sizeof conf)) {
        snprintf(err, errlen, "path too long");
        return -1;
    }
    char *text = miaw_inst_program_conf(c, st, err, errlen);
    if (!text) return -1;
    char *js = json_dumps(st, JSON_INDENT(2) | JSON_SORT_KEYS);
    int rc = js ? miaw_write_file_atomic(meta, js, strlen(js), 0600) : -ENOMEM;
    if (rc == 0) rc = miaw_write_file_atomic(conf, text, strlen(text), 0600);
    if (rc) snprintf(err, errlen, "cannot write worker config: %s", strerror(-rc));
    free(js);
    free(text);
    return rc ? -1 : 0;
}

/* removes the log files and their rotations (miaw_PORT.out.log, .out.log.1, ...) */
static void remove_logs(const miaw_admin_cfg *c, int port)
{
    char pre[64];
    snprintf(pre, sizeof pre, "miaw_%d.", port);
    DIR *d = opendir(c->log_dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, pre, strlen(pre))) continue;
        const char *rest = de->d_name + strlen(pre);
        if (strncmp(rest, "out.log", 7) && strncmp(rest, "err.log", 7)) continue;
        char p[PATH_CAP];
        if (snprintf(p, sizeof p, "%s/%s", c->log_dir, de->d_name) < (int)sizeof p) unlink(p);
    }
    closedir(d);
}

static json_t *inst_json(const miaw_admin_cfg *c, int port, const json_t *info)
{
    char out[PATH_CAP], err[PATH_CAP], up[32] = "0s";
    miaw_inst_log_path(c, port, 0, out, sizeof out);
    miaw_inst_log_path(c, port, 1, err, sizeof err);
    const char *state = info ? miaw_op_guide_state(json_string_value(json_object_get(info, "statename"))) : "UNKNOWN";
    json_int_t pid = info ? json_integer_value(json_object_get(info, "pid")) : 0;
    if (info && !strcmp(state, "RUNNING")) {
        json_int_t now = json_integer_value(json_object_get(info, "now"));
        json_int_t start = json_integer_value(json_object_get(info, "start"));
        miaw_op_uptime(up, sizeof up, (long long)(now - start));
    }
    return json_pack("{s:i,s:s,s:I,s:s,s:{s:s,s:s}}", "port", port, "state", state, "pid", (json_int_t)pid,
                     "uptime", up, "logs", "stdout", out, "stderr", err);
}

/* adds name, config (no api_key) and api_key to an instance object */
static void add_detail(json_t *o, int port, const json_t *settings)
{
    char name[NAME_CAP];
    miaw_inst_name(name, sizeof name, port);
    json_object_set_new(o, "name", json_string(name));
    if (!settings) return;
    json_t *cfg = json_deep_copy(settings);
    json_object_del(cfg, "api_key");
    json_object_set_new(o, "config", cfg);
    json_object_set(o, "api_key", json_object_get(settings, "api_key"));
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, json_string_value(json_object_get(settings, "base_path")) ?
             json_string_value(json_object_get(settings, "base_path")) : "");
    json_object_set_new(o, "url", json_string(url));
}

static int get_info(const miaw_admin_cfg *c, int port, json_t **info, miaw_sv_err *e)
{
    char name[NAME_CAP];
    miaw_inst_name(name, sizeof name, port);
    miaw_sv_cfg s = svc(c);
    return miaw_sv_call(&s, "supervisor.getProcessInfo", json_pack("[s]", name), info, e);
}

/* last bytes of the worker's stderr log, for start failure messages */
static void err_tail(const miaw_admin_cfg *c, int port, char *out, size_t cap)
{
    char p[PATH_CAP];
    out[0] = 0;
    if (miaw_inst_log_path(c, port, 1, p, sizeof p)) return;
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    off_t end = lseek(fd, 0, SEEK_END);
    off_t from = end > (off_t)(cap - 1) ? end - (off_t)(cap - 1) : 0;
    ssize_t n = pread(fd, out, cap - 1, from);
    close(fd);
    if (n < 0) n = 0;
    out[n] = 0;
    for (ssize_t i = 0; i < n; i++) if (out[i] == '\n' || out[i] == '\r' || out[i] == '\t') out[i] = ' ';
}

/* starts the worker (if autostart has not already) and waits for RUNNING */
static int start_and_wait(const miaw_admin_cfg *c, int port, miaw_op_res *r, const char *what)
{
    char name[NAME_CAP];
    miaw_inst_name(name, sizeof name, port);
    miaw_sv_cfg s = svc(c);
    miaw_sv_err e;
    int k = miaw_sv_call0(&s, "supervisor.startProcess", json_pack("[sb]", name, 1), &e);
    if (k == MIAW_SV_OK) return 0;
    if (k != MIAW_SV_FAULT) { sv_fail(r, &e); return -1; }
    if (e.fault_code != MIAW_SVF_ALREADY_STARTED) {
        char tail[200];
        err_tail(c, port, tail, sizeof tail);
        res_set(r, 500, "START_FAILED", NULL, "%s: worker did not start (%s)%s%s", what, e.msg,
                tail[0] ? "; stderr: " : "", tail);
        return -1;
    }
    uint64_t deadline = miaw_mono_ms() + (uint64_t)c->start_wait_ms;
    for (;;) {
        json_t *info = NULL;
        k = get_info(c, port, &info, &e);
        if (k != MIAW_SV_OK) { sv_fail(r, &e); return -1; }
        const char *st = json_string_value(json_object_get(info, "statename"));
        int running = st && !strcmp(st, "RUNNING");
        int dead = st && (!strcmp(st, "FATAL") || !strcmp(st, "EXITED") || !strcmp(st, "STOPPED"));
        char stc[16];
        snprintf(stc, sizeof stc, "%s", st ? st : "?");
        json_decref(info);
        if (running) return 0;
        if (dead || miaw_mono_ms() >= deadline) {
            char tail[200];
            err_tail(c, port, tail, sizeof tail);
            res_set(r, 500, "START_FAILED", NULL, "%s: worker is %s, not RUNNING%s%s", what, stc,
                    tail[0] ? "; stderr: " : "", tail);
            return -1;
        }
        miaw_sleep_ms(100);
    }
}

static size_t discard(char *p, size_t sz, size_t n, void *ud)
{
    (void)p; (void)ud;
    return sz * n;
}

/* polls the worker's GET {base_path}/health until 200 or the budget runs out */
static int probe_health(int port, const char *base_path, long budget_ms)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s/health", port, base_path ? base_path : "");
    uint64_t deadline = miaw_mono_ms() + (uint64_t)budget_ms;
    do {
        CURL *h = curl_easy_init();
        if (!h) return 0;
        long status = 0;
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 1000L);
        curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
        if (curl_easy_perform(h) == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(h);
        if (status == 200) return 1;
        miaw_sleep_ms(100);
    } while (miaw_mono_ms() < deadline);
    return 0;
}

/* undoes a create that failed half-way; best effort, never reports */
static void rollback(const miaw_admin_cfg *c, int port)
{
    char name[NAME_CAP], p[PATH_CAP];
    miaw_sv_err e;
    miaw_inst_name(name, sizeof name, port);
    miaw_sv_cfg s = svc(c);
    miaw_sv_call0(&s, "supervisor.stopProcess", json_pack("[sb]", name, 1), &e);
    miaw_sv_call0(&s, "supervisor.removeProcessGroup", json_pack("[s]", name), &e);
    if (miaw_inst_conf_path(c, port, p, sizeof p) == 0) unlink(p);
    miaw_sv_call0(&s, "supervisor.reloadConfig", NULL, &e);
    if (miaw_inst_data_dir(c, port, p, sizeof p) == 0) miaw_rm_rf(p);
    remove_logs(c, port);
}

static int lock_or_409(const miaw_admin_cfg *c, int port, miaw_op_res *r)
{
    int fd = miaw_op_lock(c, port, c->lock_wait_ms);
    if (fd == -EBUSY)
        res_set(r, 409, "PORT_LOCKED", NULL, "Port %d is currently locked by another operation", port);
    else if (fd < 0)
        res_set(r, 500, "INTERNAL_ERROR", NULL, "Cannot take the lock for port %d: %s", port, strerror(-fd));
    return fd;
}

/* reloadConfig, then (re)adds the group so supervisord runs the new program config */
static int reconcile(const miaw_admin_cfg *c, int port, miaw_op_res *r)
{
    char name[NAME_CAP];
    miaw_inst_name(name, sizeof name, port);
    miaw_sv_err e;
    if (sv_tolerant(c, "supervisor.reloadConfig", NULL, &e, 0) ||
        sv_tolerant(c, "supervisor.removeProcessGroup", json_pack("[s]", name), &e, MIAW_SVF_BAD_NAME, 0) ||
        sv_tolerant(c, "supervisor.addProcessGroup", json_pack("[s]", name), &e, MIAW_SVF_ALREADY_ADDED, 0)) {
        sv_fail(r, &e);
        return -1;
    }
    return 0;
}

/* finishes create/update: start, wait RUNNING, probe /health, describe */
static int finish(const miaw_admin_cfg *c, int port, const json_t *st, miaw_op_res *r, const char *what)
{
    if (start_and_wait(c, port, r, what)) return -1;
    const char *bp = json_string_value(json_object_get(st, "base_path"));
    int healthy = probe_health(port, bp, c->start_wait_ms < 10000 ? c->start_wait_ms : 10000);
    json_t *info = NULL;
    miaw_sv_err e;
    if (get_info(c, port, &info, &e) != MIAW_SV_OK) { sv_fail(r, &e); return -1; }
    r->data = inst_json(c, port, info);
    json_decref(info);
    add_detail(r->data, port, st);
    json_object_set_new(r->data, "healthy", json_boolean(healthy));
    return 0;
}

/* ------------------------------------------------------------------ operations */

void miaw_op_create(const miaw_admin_cfg *c, const json_t *req, miaw_op_res *r)
{
    char err[320], p[PATH_CAP];
    const char *field = NULL;
    memset(r, 0, sizeof *r);
    if (!json_is_object(req)) { res_set(r, 400, "INVALID_REQUEST", "body", "Request body must be a JSON object"); return; }
    if (!json_object_get(req, "port")) { res_set(r, 400, "INVALID_REQUEST", "port", "port: is required"); return; }
    json_t *st = json_deep_copy(c->defaults);
    if (miaw_inst_apply(st, req, err, sizeof err, &field)) {
        res_set(r, 400, "INVALID_REQUEST", field, "%s", err);
        json_decref(st);
        return;
    }
    int port = (int)json_integer_value(json_object_get(st, "port"));
    if (!json_is_string(json_object_get(st, "api_key"))) {
        unsigned char rnd[24];
        char hex[49];
        if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
            res_set(r, 500, "INTERNAL_ERROR", NULL, "no randomness for the worker API key");
            json_decref(st);
            return;
        }
        for (size_t i = 0; i < sizeof rnd; i++) snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
        json_object_set_new(st, "api_key", json_string(hex));
    }
    int fd = lock_or_409(c, port, r);
    if (fd < 0) { json_decref(st); return; }

    json_t *info = NULL;
    miaw_sv_err e;
    if (miaw_inst_conf_path(c, port, p, sizeof p) == 0 && file_exists(p)) {
        res_set(r, 409, "INSTANCE_EXISTS", "port", "Instance on port %d already exists", port);
        goto out;
    }
    int k = get_info(c, port, &info, &e);
    json_decref(info);
    if (k == MIAW_SV_OK) {
        res_set(r, 409, "INSTANCE_EXISTS", "port", "Instance on port %d already exists in supervisord", port);
        goto out;
    }
    if (k != MIAW_SV_FAULT || e.fault_code != MIAW_SVF_BAD_NAME) {
        if (k == MIAW_SV_FAULT) miaw_sv_count_error();
        sv_fail(r, &e);
        goto out;
    }
    if (miaw_op_port_in_use(port)) {
        res_set(r, 409, "PORT_IN_USE", "port", "Port %d is already in use by another process", port);
        goto out;
    }
    int rc = 0;
    if (miaw_inst_data_dir(c, port, p, sizeof p) || (rc = miaw_mkdir_p(p, 0700)) ||
        (rc = miaw_mkdir_p(c->log_dir, 0755)) || (rc = miaw_mkdir_p(c->conf_dir, 0755))) {
        res_set(r, 500, "INTERNAL_ERROR", NULL, "Instance creation failed: cannot create directories: %s",
                strerror(rc ? -rc : ENAMETOOLONG));
        goto out;
    }
    if (save_settings(c, port, st, err, sizeof err)) {
        res_set(r, 500, "INTERNAL_ERROR", NULL, "Instance creation failed: %s", err);
        rollback(c, port);
        goto out;
    }
    if (reconcile(c, port, r) || finish(c, port, st, r, "Instance creation failed")) {
        rollback(c, port);
        goto out;
    }
    res_set(r, 201, NULL, NULL, "Instance created successfully");
out:
    miaw_op_unlock(fd);
    json_decref(st);
}

void miaw_op_update(const miaw_admin_cfg *c, int port, const json_t *req, miaw_op_res *r)
{
    char err[320], p[PATH_CAP], name[NAME_CAP];
    const char *field = NULL;
    memset(r, 0, sizeof *r);
    if (!json_is_object(req)) { res_set(r, 400, "INVALID_REQUEST", "body", "Request body must be a JSON object"); return; }
    /* validate before touching anything (a scratch merge) */
    json_t *scratch = json_pack("{s:i}", "port", port);
    int bad = miaw_inst_apply(scratch, req, err, sizeof err, &field);
    json_decref(scratch);
    if (bad) { res_set(r, 400, "INVALID_REQUEST", field, "%s", err); return; }
    int fd = lock_or_409(c, port, r);
    if (fd < 0) return;
    json_t *st = NULL;
    miaw_sv_err e;
    miaw_inst_name(name, sizeof name, port);
    if (miaw_inst_conf_path(c, port, p, sizeof p) || !file_exists(p)) {
        res_set(r, 404, "INSTANCE_NOT_FOUND", NULL, "Instance on port %d not found", port);
        goto out;
    }
    st = load_settings(c, port);
    if (miaw_inst_apply(st, req, err, sizeof err, &field)) {
        res_set(r, 400, "INVALID_REQUEST", field, "%s", err);
        goto out;
    }
    if (!json_is_string(json_object_get(st, "api_key"))) {
        res_set(r, 500, "INTERNAL_ERROR", NULL, "Update failed: the worker's stored settings have no api_key");
        goto out;
    }
    /* the guide's steps: lock (held), stop, rewrite atomically, reconcile, start, wait RUNNING */
    if (sv_tolerant(c, "supervisor.stopProcess", json_pack("[sb]", name, 1), &e, MIAW_SVF_NOT_RUNNING,
                    MIAW_SVF_BAD_NAME, 0)) {
        sv_fail(r, &e);
        goto out;
    }
    if (save_settings(c, port, st, err, sizeof err)) {
        res_set(r, 500, "INTERNAL_ERROR", NULL, "Update failed: %s", err);
        goto out;
    }
    if (reconcile(c, port, r) || finish(c, port, st, r, "Update failed")) goto out;
    res_set(r, 200, NULL, NULL, "Instance configuration updated successfully");
out:
    miaw_op_unlock(fd);
    json_decref(st);
}

void miaw_op_delete(const miaw_admin_cfg *c, int port, miaw_op_res *r)
{
    char p[PATH_CAP], name[NAME_CAP];
    memset(r, 0, sizeof *r);
    int fd = lock_or_409(c, port, r);
    if (fd < 0) return;
    miaw_sv_err e;
    json_t *info = NULL;
    miaw_inst_name(name, sizeof name, port);
    int have_conf = miaw_inst_conf_path(c, port, p, sizeof p) == 0 && file_exists(p);
    int k = get_info(c, port, &info, &e);
    json_decref(info);
    if (k != MIAW_SV_OK && !(k == MIAW_SV_FAULT && e.fault_code == MIAW_SVF_BAD_NAME)) {
        if (k == MIAW_SV_FAULT) miaw_sv_count_error();
        sv_fail(r, &e);
        miaw_op_unlock(fd);
        return;
    }
    if (!have_conf && k != MIAW_SV_OK) {
        res_set(r, 404, "INSTANCE_NOT_FOUND", NULL, "Instance on port %d not found", port);
        miaw_op_unlock(fd);
        return;
    }
    if (sv_tolerant(c, "supervisor.stopProcess", json_pack("[sb]", name, 1), &e, MIAW_SVF_NOT_RUNNING,
                    MIAW_SVF_BAD_NAME, 0) ||
        sv_tolerant(c, "supervisor.removeProcessGroup", json_pack("[s]", name), &e, MIAW_SVF_BAD_NAME, 0)) {
        sv_fail(r, &e);
        miaw_op_unlock(fd);
        return;
    }
    int rc = 0;
    if (have_conf && unlink(p) && errno != ENOENT) rc = -errno;
    /* let supervisord forget the program section; a failure here leaves nothing running */
    if (sv_tolerant(c, "supervisor.reloadConfig", NULL, &e, 0)) MIAW_WARN("admin", "delete %d: %s", port, e.msg);
    if (rc == 0 && miaw_inst_data_dir(c, port, p, sizeof p) == 0) rc = miaw_rm_rf(p);
    remove_logs(c, port);
    if (rc) {
        res_set(r, 500, "INTERNAL_ERROR", NULL, "Deletion failed: %s", strerror(-rc));
        miaw_op_unlock(fd);
        return;
    }
    if (miaw_inst_lock_path(c, port, p, sizeof p) == 0) unlink(p); /* waiters re-check the inode */
    miaw_op_unlock(fd);
    res_set(r, 200, NULL, NULL, "Instance deleted successfully");
}

void miaw_op_get(const miaw_admin_cfg *c, int port, miaw_op_res *r)
{
    char p[PATH_CAP];
    memset(r, 0, sizeof *r);
    int have_conf = miaw_inst_conf_path(c, port, p, sizeof p) == 0 && file_exists(p);
    json_t *info = NULL;
    miaw_sv_err e;
    int k = get_info(c, port, &info, &e);
    if (k != MIAW_SV_OK && !(k == MIAW_SV_FAULT && e.fault_code == MIAW_SVF_BAD_NAME)) {
        if (k == MIAW_SV_FAULT) miaw_sv_count_error();
        sv_fail(r, &e);
        return;
    }
    if (!have_conf && !info) {
        res_set(r, 404, "INSTANCE_NOT_FOUND", NULL, "Instance on port %d not found", port);
        return;
    }
    r->data = inst_json(c, port, info);
    json_decref(info);
    if (have_conf) {
        json_t *st = load_settings(c, port);
        add_detail(r->data, port, st);
        json_decref(st);
    } else {
        add_detail(r->data, port, NULL);
    }
    res_set(r, 200, NULL, NULL, "Instance retrieved successfully");
}

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

void miaw_op_list(const miaw_admin_cfg *c, miaw_op_res *r)
{
    memset(r, 0, sizeof *r);
    json_t *all = NULL;
    miaw_sv_err e;
    miaw_sv_cfg s = svc(c);
    if (miaw_sv_call(&s, "supervisor.getAllProcessInfo", NULL, &all, &e) != MIAW_SV_OK) {
        if (e.kind == MIAW_SV_FAULT) miaw_sv_count_error();
        sv_fail(r, &e);
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
        json_t *o = inst_json(c, ports[j], info);
        json_object_set_new(o, "name", json_string(name));
        json_array_append_new(arr, o);
    }
    json_decref(all);
    r->data = arr;
    res_set(r, 200, NULL, NULL, "Instances retrieved successfully");
}

int miaw_op_supervisor_ready(const miaw_admin_cfg *c, char *why, size_t cap)
{
    miaw_sv_cfg s = svc(c);
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
    miaw_sv_cfg s = svc(c);
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
