/* core/admin/opsbase.c - the building blocks of the Admin API operations (blocking,
 * run on uv_queue_work threads): results, supervisord calls that tolerate given
 * faults, the worker's files (admin.json, its miaw.yaml, the program config), start
 * and wait for RUNNING, the /health probe (every enabled plugin loaded), rollback of
 * a failed create. */
#include "admin/ops_int.h"

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
#include "admin/workercfg.h"
#include "base/log.h"
#include "base/util.h"

#define NAME_CAP MIAW_OPI_NAME_CAP
#define PATH_CAP MIAW_OPI_PATH_CAP

void miaw_opi_res_set(miaw_op_res *r, int status, const char *code, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
    r->status = status;
    r->code = code;
    snprintf(r->field, sizeof r->field, "%s", field ? field : "");
}

void miaw_opi_sv_fail(miaw_op_res *r, const miaw_sv_err *e)
{
    if (e->kind == MIAW_SV_TIMEOUT)
        miaw_opi_res_set(r, 504, "SUPERVISOR_TIMEOUT", NULL, "Supervisord did not answer in time: %s", e->msg);
    else if (e->kind == MIAW_SV_FAULT)
        miaw_opi_res_set(r, 502, "SUPERVISOR_ERROR", NULL, "Supervisord refused the operation: %s", e->msg);
    else
        miaw_opi_res_set(r, 502, "SUPERVISOR_UNAVAILABLE", NULL, "Failed to connect to supervisord: %s", e->msg);
    MIAW_WARN("admin", "%s", e->msg);
}

miaw_sv_cfg miaw_opi_svc(const miaw_admin_cfg *c)
{
    miaw_sv_cfg s = {c->sv_url, c->sv_user, c->sv_pass, c->sv_timeout_ms};
    return s;
}

/* call expecting success or one of the tolerated fault codes (0-terminated list) */
int miaw_opi_sv_tolerant(const miaw_admin_cfg *c, const char *method, json_t *params, miaw_sv_err *e, ...)
{
    miaw_sv_cfg s = miaw_opi_svc(c);
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



int miaw_opi_file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

json_t *miaw_opi_load_settings(const miaw_admin_cfg *c, int port)
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

int miaw_opi_save_settings(const miaw_admin_cfg *c, int port, const json_t *st, char *err, size_t errlen)
{
    char meta[PATH_CAP], conf[PATH_CAP], wconf[PATH_CAP];
    if (miaw_inst_meta_path(c, port, meta, sizeof meta) || miaw_inst_conf_path(c, port, conf, sizeof conf) ||
        miaw_inst_worker_conf_path(c, port, wconf, sizeof wconf)) {
        snprintf(err, errlen, "path too long");
        return -1;
    }
    char *text = miaw_inst_program_conf(c, st, err, errlen);
    if (!text) return -1;
    char *yaml = miaw_inst_worker_yaml(c, st, err, errlen);
    if (!yaml) { free(text); return -1; }
    char *js = json_dumps(st, JSON_INDENT(2) | JSON_SORT_KEYS);
    int rc = js ? miaw_write_file_atomic(meta, js, strlen(js), 0600) : -ENOMEM;
    if (rc == 0) rc = miaw_write_file_atomic(wconf, yaml, strlen(yaml), 0600);
    if (rc == 0) rc = miaw_write_file_atomic(conf, text, strlen(text), 0600);
    if (rc) snprintf(err, errlen, "cannot write worker config: %s", strerror(-rc));
    free(js);
    free(yaml);
    free(text);
    return rc ? -1 : 0;
}

/* removes the log files and their rotations (miaw_PORT.out.log, .out.log.1, ...) */
void miaw_opi_remove_logs(const miaw_admin_cfg *c, int port)
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

json_t *miaw_opi_inst_json(const miaw_admin_cfg *c, int port, const json_t *info)
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

void miaw_opi_add_detail(json_t *o, int port, const json_t *settings, int show_key)
{
    char name[NAME_CAP];
    miaw_inst_name(name, sizeof name, port);
    json_object_set_new(o, "name", json_string(name));
    if (!settings) return;
    json_object_set_new(o, "config", miaw_inst_public(settings));
    const char *key = json_string_value(json_object_get(settings, "api_key"));
    if (show_key && key) {
        json_object_set_new(o, "api_key", json_string(key));
    } else {
        char masked[32];
        miaw_inst_mask_key(key, masked, sizeof masked);
        json_object_set_new(o, "api_key", json_string(masked));
    }
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, json_string_value(json_object_get(settings, "base_path")) ?
             json_string_value(json_object_get(settings, "base_path")) : "");
    json_object_set_new(o, "url", json_string(url));
}

int miaw_opi_get_info(const miaw_admin_cfg *c, int port, json_t **info, miaw_sv_err *e)
{
    char name[NAME_CAP];
    miaw_inst_name(name, sizeof name, port);
    miaw_sv_cfg s = miaw_opi_svc(c);
    return miaw_sv_call(&s, "supervisor.getProcessInfo", json_pack("[s]", name), info, e);
}

/* last bytes of the worker's stderr log, for start failure messages */
static void err_tail(const miaw_admin_cfg *c, int port, const json_t *st, char *out, size_t cap)
{
    char p[PATH_CAP];
    out[0] = 0;
    if (miaw_inst_log_path(c, port, 1, p, sizeof p)) return;
    /* supervisord copies the worker's stderr into the log from its own loop, possibly
     * after it reported the exit: wait (at most 1 s) until the size holds still */
    struct stat a, b;
    for (int i = 0; i < 10 && stat(p, &a) == 0; i++) {
        miaw_sleep_ms(100);
        if (stat(p, &b) == 0 && b.st_size == a.st_size && b.st_size > 0) break;
    }
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    off_t end = lseek(fd, 0, SEEK_END);
    off_t from = end > (off_t)(cap - 1) ? end - (off_t)(cap - 1) : 0;
    ssize_t n = pread(fd, out, cap - 1, from);
    close(fd);
    if (n < 0) n = 0;
    out[n] = 0;
    for (ssize_t i = 0; i < n; i++)
        if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f) out[i] = ' ';
    miaw_inst_redact(out, st);
}

/* starts the worker (if autostart has not already) and waits for RUNNING */
int miaw_opi_start_and_wait(const miaw_admin_cfg *c, int port, const json_t *st, miaw_op_res *r, const char *what)
{
    char name[NAME_CAP];
    miaw_inst_name(name, sizeof name, port);
    miaw_sv_cfg s = miaw_opi_svc(c);
    miaw_sv_err e;
    int k = miaw_sv_call0(&s, "supervisor.startProcess", json_pack("[sb]", name, 1), &e);
    if (k == MIAW_SV_OK) return 0;
    if (k != MIAW_SV_FAULT) { miaw_opi_sv_fail(r, &e); return -1; }
    if (e.fault_code != MIAW_SVF_ALREADY_STARTED) {
        char tail[200];
        err_tail(c, port, st, tail, sizeof tail);
        miaw_opi_res_set(r, 500, "START_FAILED", NULL, "%s: worker did not start (%s)%s%s", what, e.msg,
                tail[0] ? "; stderr: " : "", tail);
        return -1;
    }
    uint64_t deadline = miaw_mono_ms() + (uint64_t)c->start_wait_ms;
    for (;;) {
        json_t *info = NULL;
        k = miaw_opi_get_info(c, port, &info, &e);
        if (k != MIAW_SV_OK) { miaw_opi_sv_fail(r, &e); return -1; }
        const char *sn = json_string_value(json_object_get(info, "statename"));
        int running = sn && !strcmp(sn, "RUNNING");
        int dead = sn && (!strcmp(sn, "FATAL") || !strcmp(sn, "EXITED") || !strcmp(sn, "STOPPED"));
        char stc[16];
        snprintf(stc, sizeof stc, "%s", sn ? sn : "?");
        json_decref(info);
        if (running) return 0;
        if (dead || miaw_mono_ms() >= deadline) {
            char tail[200];
            err_tail(c, port, st, tail, sizeof tail);
            miaw_opi_res_set(r, 500, "START_FAILED", NULL, "%s: worker is %s, not RUNNING%s%s", what, stc,
                    tail[0] ? "; stderr: " : "", tail);
            return -1;
        }
        miaw_sleep_ms(100);
    }
}

typedef struct { char *d; size_t n; } body_t;

static size_t collect(char *p, size_t sz, size_t n, void *ud)
{
    body_t *b = ud;
    size_t k = sz * n;
    if (b->n + k > 1 << 20) return 0; /* a /health answer is small */
    char *nd = realloc(b->d, b->n + k + 1);
    if (!nd) return 0;
    memcpy(nd + b->n, p, k);
    b->n += k;
    nd[b->n] = 0;
    b->d = nd;
    return k;
}

/* every plugin the worker must load is in /health's data.plugins[].name */
static int plugins_loaded(const miaw_admin_cfg *c, const char *body, char *why, size_t whycap)
{
    json_t *j = json_loads(body ? body : "", 0, NULL);
    json_t *list = json_object_get(json_object_get(j, "data"), "plugins");
    size_t n;
    char *const *want = miaw_inst_enabled_plugins(c, &n);
    int ok = json_is_array(list);
    if (!ok) snprintf(why, whycap, "/health did not list plugins");
    for (size_t i = 0; ok && i < n; i++) {
        int found = 0;
        size_t k;
        json_t *p;
        json_array_foreach(list, k, p) found |= !strcmp(json_string_value(json_object_get(p, "name")) ?
                                                       json_string_value(json_object_get(p, "name")) : "", want[i]);
        if (!found) {
            snprintf(why, whycap, "plugin %.64s is not loaded", want[i]);
            ok = 0;
        }
    }
    json_decref(j);
    return ok;
}

int miaw_opi_probe_health(const miaw_admin_cfg *c, int port, const char *base_path, long budget_ms, char *why,
                          size_t whycap)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s/health", port, base_path ? base_path : "");
    snprintf(why, whycap, "no answer from /health");
    uint64_t deadline = miaw_mono_ms() + (uint64_t)budget_ms;
    do {
        CURL *h = curl_easy_init();
        if (!h) return 0;
        long status = 0;
        body_t b = {0};
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 1000L);
        curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
        if (curl_easy_perform(h) == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(h);
        if (status == 200) {
            /* the plugins are loaded before the listener opens: a 200 without them is final */
            int ok = plugins_loaded(c, b.d, why, whycap);
            free(b.d);
            return ok;
        }
        free(b.d);
        if (status) snprintf(why, whycap, "/health answered HTTP %ld", status);
        miaw_sleep_ms(100);
    } while (miaw_mono_ms() < deadline);
    return 0;
}

/* undoes a create that failed half-way; best effort, never reports */
void miaw_opi_rollback(const miaw_admin_cfg *c, int port)
{
    char name[NAME_CAP], p[PATH_CAP];
    miaw_sv_err e;
    miaw_inst_name(name, sizeof name, port);
    miaw_sv_cfg s = miaw_opi_svc(c);
    miaw_sv_call0(&s, "supervisor.stopProcess", json_pack("[sb]", name, 1), &e);
    miaw_sv_call0(&s, "supervisor.removeProcessGroup", json_pack("[s]", name), &e);
    if (miaw_inst_conf_path(c, port, p, sizeof p) == 0) unlink(p);
    miaw_sv_call0(&s, "supervisor.reloadConfig", NULL, &e);
    if (miaw_inst_data_dir(c, port, p, sizeof p) == 0) miaw_rm_rf(p);
    miaw_opi_remove_logs(c, port);
}

int miaw_opi_lock_or_409(const miaw_admin_cfg *c, int port, miaw_op_res *r)
{
    int fd = miaw_op_lock(c, port, c->lock_wait_ms);
    if (fd == -EBUSY)
        miaw_opi_res_set(r, 409, "PORT_LOCKED", NULL, "Port %d is currently locked by another operation", port);
    else if (fd < 0)
        miaw_opi_res_set(r, 500, "INTERNAL_ERROR", NULL, "Cannot take the lock for port %d: %s", port, strerror(-fd));
    return fd;
}

/* reloadConfig, then (re)adds the group so supervisord runs the new program config */
int miaw_opi_reconcile(const miaw_admin_cfg *c, int port, miaw_op_res *r)
{
    char name[NAME_CAP];
    miaw_inst_name(name, sizeof name, port);
    miaw_sv_err e;
    if (miaw_opi_sv_tolerant(c, "supervisor.reloadConfig", NULL, &e, 0) ||
        miaw_opi_sv_tolerant(c, "supervisor.removeProcessGroup", json_pack("[s]", name), &e, MIAW_SVF_BAD_NAME, 0) ||
        miaw_opi_sv_tolerant(c, "supervisor.addProcessGroup", json_pack("[s]", name), &e, MIAW_SVF_ALREADY_ADDED, 0)) {
        miaw_opi_sv_fail(r, &e);
        return -1;
    }
    return 0;
}

/* finishes create/update: start, wait RUNNING, probe /health, describe */
int miaw_opi_finish(const miaw_admin_cfg *c, int port, const json_t *st, miaw_op_res *r, const char *what,
                    int show_key)
{
    if (miaw_opi_start_and_wait(c, port, st, r, what)) return -1;
    const char *bp = json_string_value(json_object_get(st, "base_path"));
    char why[160];
    int healthy = miaw_opi_probe_health(c, port, bp, c->start_wait_ms < 10000 ? c->start_wait_ms : 10000, why,
                                        sizeof why);
    json_t *info = NULL;
    miaw_sv_err e;
    if (miaw_opi_get_info(c, port, &info, &e) != MIAW_SV_OK) { miaw_opi_sv_fail(r, &e); return -1; }
    r->data = miaw_opi_inst_json(c, port, info);
    json_decref(info);
    miaw_opi_add_detail(r->data, port, st, show_key);
    json_object_set_new(r->data, "healthy", json_boolean(healthy));
    if (!healthy) {
        json_object_set_new(r->data, "health_problem", json_string(why));
        MIAW_WARN("admin", "worker %d is not healthy: %s", port, why);
    }
    return 0;
}
