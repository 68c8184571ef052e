/* core/admin/ops_int.h - helpers shared by the admin operation files (opsbase.c,
 * ops.c, opsupdate.c): result filling, supervisord calls, the worker's files, start
 * and health probing. Internal to core/admin. json_t results are new references the
 * caller owns; json_t parameters are borrowed. */
#ifndef MIAW_ADMIN_OPS_INT_H
#define MIAW_ADMIN_OPS_INT_H
#include <stddef.h>
#include <jansson.h>

#include "admin/ops.h"
#include "admin/supervisor.h"

#define MIAW_OPI_NAME_CAP 32
#define MIAW_OPI_PATH_CAP 4096

void miaw_opi_res_set(miaw_op_res *r, int status, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* 502/504 from a failed supervisord call; the message never carries a fault string */
void miaw_opi_sv_fail(miaw_op_res *r, const miaw_sv_err *e);
miaw_sv_cfg miaw_opi_svc(const miaw_admin_cfg *c);
/* call expecting success or one of the tolerated fault codes (0-terminated list) */
int miaw_opi_sv_tolerant(const miaw_admin_cfg *c, const char *method, json_t *params, miaw_sv_err *e, ...);
int miaw_opi_file_exists(const char *p);
/* the stored settings (admin.json), or the defaults with the port */
json_t *miaw_opi_load_settings(const miaw_admin_cfg *c, int port);
/* writes admin.json, the worker's miaw.yaml and the program config (each 0600, atomic) */
int miaw_opi_save_settings(const miaw_admin_cfg *c, int port, const json_t *st, char *err, size_t errlen);
void miaw_opi_remove_logs(const miaw_admin_cfg *c, int port);
json_t *miaw_opi_inst_json(const miaw_admin_cfg *c, int port, const json_t *info);
/* adds name, url, config (masked) and api_key (masked unless show_key) to o */
void miaw_opi_add_detail(json_t *o, int port, const json_t *settings, int show_key);
int miaw_opi_get_info(const miaw_admin_cfg *c, int port, json_t **info, miaw_sv_err *e);
/* startProcess + wait for RUNNING; st (may be NULL) redacts the stderr tail quoted */
int miaw_opi_start_and_wait(const miaw_admin_cfg *c, int port, const json_t *st, miaw_op_res *r, const char *what);
/* 1 when GET {base_path}/health answers 200 listing every plugin the worker must load
 * within budget_ms; 0 otherwise with the reason in why */
int miaw_opi_probe_health(const miaw_admin_cfg *c, int port, const char *base_path, long budget_ms, char *why,
                          size_t whycap);
void miaw_opi_rollback(const miaw_admin_cfg *c, int port);
int miaw_opi_lock_or_409(const miaw_admin_cfg *c, int port, miaw_op_res *r);
int miaw_opi_reconcile(const miaw_admin_cfg *c, int port, miaw_op_res *r);
/* start, wait RUNNING, probe health, describe into r->data */
int miaw_opi_finish(const miaw_admin_cfg *c, int port, const json_t *st, miaw_op_res *r, const char *what,
                    int show_key);
#endif
