/* core/admin/instcfg.h - one worker's settings: defaults from the environment, request
 * validation and merging (the guide's fields), the generated supervisord program
 * config, file helpers (atomic write, tree removal) and the worker's paths.
 * Settings are a jansson object; callers own the references they get. */
#ifndef MIAW_ADMIN_INSTCFG_H
#define MIAW_ADMIN_INSTCFG_H
#include <stddef.h>
#include <jansson.h>

#include "admin/admin.h"

#define MIAW_INST_PORT_MIN 1024
#define MIAW_INST_PORT_MAX 65535

/* Defaults for new workers: debug false, os "Chrome", account_validation true,
 * auto_mark_read false, chat_storage true, webhook_secret "secret", strings "";
 * overridden by GOWA_* and then MIAW_* variables (getenv). New reference.
 * On a bad boolean value returns NULL and names the variable in err. */
json_t *miaw_inst_defaults(char *err, size_t errlen);

/* Port from a path segment: the port, -1 when not a decimal number, -2 when out of
 * 1024-65535. */
int miaw_inst_port_from_str(const char *s, size_t n);

/* Validates every known field of req (an object) and merges it into settings.
 * Unknown fields are ignored; null clears a string field. Returns 0, or -1 with a
 * message in err and the failing field name in *field (static string). "port" in req
 * is validated and must equal settings' port when settings already has one. */
int miaw_inst_apply(json_t *settings, const json_t *req, char *err, size_t errlen, const char **field);

/* Checks a settings value has no control characters (auto_reply may hold line breaks
 * and tabs; that is checked by miaw_inst_apply). Values never reach supervisord: they go
 * to the worker's own config file. Returns NULL when fine, else a static reason. */
const char *miaw_inst_conf_unsafe(const char *s);

/* The worker's paths and names (out buffers of cap bytes; 0 or -1 when too long). */
int miaw_inst_name(char *out, size_t cap, int port);                                /* miaw_3001 */
int miaw_inst_conf_path(const miaw_admin_cfg *c, int port, char *out, size_t cap); /* DIR/miaw-3001.conf */
int miaw_inst_data_dir(const miaw_admin_cfg *c, int port, char *out, size_t cap);
int miaw_inst_worker_conf_path(const miaw_admin_cfg *c, int port, char *out, size_t cap); /* DATA/miaw.yaml */
int miaw_inst_meta_path(const miaw_admin_cfg *c, int port, char *out, size_t cap); /* DATA/admin.json */
int miaw_inst_log_path(const miaw_admin_cfg *c, int port, int err, char *out, size_t cap);
int miaw_inst_lock_path(const miaw_admin_cfg *c, int port, char *out, size_t cap);  /* miaw.3001.lock */

/* The [program:miaw_PORT] section for settings (which must hold port): runs
 * `<bin> serve --config DATA/miaw.yaml` in the data directory; carries no tenant value
 * and no secret (no environment=). malloc'd string the caller frees, or NULL when a
 * path cannot be written safely (reason in err). */
char *miaw_inst_program_conf(const miaw_admin_cfg *c, const json_t *settings, char *err, size_t errlen);

#endif
