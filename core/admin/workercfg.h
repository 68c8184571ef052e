/* core/admin/workercfg.h - what a worker reads and what clients see of it: the
 * worker's own config file (YAML, 0600, its `miaw serve --config`), which carries
 * every tenant value and secret so supervisord never parses one; the masked public
 * view of settings; redaction of secrets from texts (worker stderr). Callers own
 * the strings and references these return. */
#ifndef MIAW_ADMIN_WORKERCFG_H
#define MIAW_ADMIN_WORKERCFG_H
#include <stddef.h>
#include <jansson.h>

#include "admin/admin.h"

/* The worker's config file for settings st (port and api_key required): server,
 * auth, data_dir, log, plugins (dir, enabled, config from c->worker_base), webhook and
 * whatsapp sections. Every string is written as a YAML double-quoted scalar (JSON
 * escaping), so no value can change the file's structure. malloc'd text, or NULL with
 * a reason in err. */
char *miaw_inst_worker_yaml(const miaw_admin_cfg *c, const json_t *st, char *err, size_t errlen);

/* Settings as answered to clients: api_key removed, webhook_secret masked
 * ("********" when set, "" when not), basic_auth passwords masked ("user:********").
 * New reference. */
json_t *miaw_inst_public(const json_t *st);

/* "****" + the last 4 characters of key (out >= 16), "" for a NULL/short key */
void miaw_inst_mask_key(const char *key, char *out, size_t cap);

/* Replaces, in text (NUL-terminated, edited in place), every occurrence of the
 * settings' secrets (api_key, webhook_secret, basic_auth passwords) with "***". */
void miaw_inst_redact(char *text, const json_t *st);

/* Plugin names the worker must have loaded to count as healthy (the enabled list of
 * c->worker_base): borrowed, n in *n. */
char *const *miaw_inst_enabled_plugins(const miaw_admin_cfg *c, size_t *n);
#endif
