/* core/admin/admin.h - `miaw admin`: the Admin API that creates, updates and deletes
 * `miaw serve` worker processes through supervisord. Declares the entry point and the
 * admin configuration (environment + flags). miaw_admin_cfg owns every string in it. */
#ifndef MIAW_ADMIN_H
#define MIAW_ADMIN_H
#include <jansson.h>

#include "base/config.h"

typedef struct miaw_admin_cfg {
    char *host;            /* ADMIN_HOST / --host, default 127.0.0.1 */
    int port;              /* ADMIN_PORT / --port, default 8088 */
    char *token;           /* ADMIN_TOKEN, required */
    char *sv_url, *sv_user, *sv_pass; /* SUPERVISOR_URL/USER/PASS */
    long sv_timeout_ms;    /* SUPERVISOR_TIMEOUT_MS, default 30000 */
    char *conf_dir;        /* SUPERVISOR_CONF_DIR (no trailing slash) */
    char *instances_dir;   /* INSTANCES_DIR */
    char *log_dir;         /* SUPERVISOR_LOG_DIR */
    char *lock_dir;        /* LOCK_DIR */
    char *bin;             /* MIAW_BIN (alias GOWA_BIN), default the running binary */
    long lock_wait_ms;     /* ADMIN_LOCK_WAIT_MS, default 500: bounded wait for a port lock */
    long start_wait_ms;    /* ADMIN_START_WAIT_MS, default 20000: wait for RUNNING */
    char *audit_log;       /* ADMIN_AUDIT_LOG: extra file for audit lines, NULL = stdout only */
    json_t *defaults;      /* instance defaults from GOWA_* / MIAW_* (owned) */
    char *worker_config;   /* MIAW_WORKER_CONFIG / --worker-config: a miaw.yaml whose operator
                              settings every worker gets; NULL = defaults + environment */
    miaw_config *worker_base; /* loaded from worker_config (or defaults + the admin's
                              environment), paths made absolute; plugins.dir defaults to the
                              worker binary's own plugins (build tree or install prefix).
                              Owned (miaw_config_free + free) */
} miaw_admin_cfg;

/* `miaw admin [--port N] [--host H] [--supervisor-url U] ...`; argv[0] is "admin".
 * Runs until SIGINT/SIGTERM. Returns the process exit code. */
int miaw_admin_main(int argc, char **argv);

/* Environment first, then flags. Returns 0, 1 when --help was printed, or -1 with a
 * message in err (e.g. "ADMIN_TOKEN environment variable is required"). */
int miaw_admin_cfg_load(miaw_admin_cfg *c, int argc, char **argv, char *err, size_t errlen);
void miaw_admin_cfg_free(miaw_admin_cfg *c);
#endif
