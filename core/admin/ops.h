/* core/admin/ops.h - the Admin API operations (create, list, get, update, delete,
 * readiness, worker counts), each a blocking sequence of file work and supervisord
 * calls run on a uv_queue_work thread. Owns per-port locking (flock in LOCK_DIR). */
#ifndef MIAW_ADMIN_OPS_H
#define MIAW_ADMIN_OPS_H
#include <jansson.h>

#include "admin/admin.h"

typedef struct miaw_op_res {
    int status;        /* HTTP status */
    json_t *data;      /* owned by the result; NULL when the answer has no data */
    const char *code;  /* NULL on success, else a static error code (INVALID_REQUEST, ...) */
    char message[320]; /* success or error message */
    char field[32];    /* the request field that failed validation, or "" */
} miaw_op_res;

/* req: the parsed body (borrowed). Each fills r; caller frees r->data. */
void miaw_op_create(const miaw_admin_cfg *c, const json_t *req, miaw_op_res *r);
void miaw_op_update(const miaw_admin_cfg *c, int port, const json_t *req, miaw_op_res *r);
void miaw_op_delete(const miaw_admin_cfg *c, int port, miaw_op_res *r);
void miaw_op_get(const miaw_admin_cfg *c, int port, miaw_op_res *r);
void miaw_op_list(const miaw_admin_cfg *c, miaw_op_res *r);

/* supervisord reachable and RUNNING: 1 yes, 0 no (reason in why). */
int miaw_op_supervisor_ready(const miaw_admin_cfg *c, char *why, size_t cap);

/* Workers (programs named miaw_*) by guide state: object state -> count, new ref; NULL
 * when supervisord cannot be asked. */
json_t *miaw_op_state_counts(const miaw_admin_cfg *c);

/* Per-port lock: returns an fd holding flock(LOCK_EX) on LOCK_DIR/miaw.PORT.lock, or
 * -EBUSY after wait_ms, or another -errno. Release with miaw_op_unlock. */
int miaw_op_lock(const miaw_admin_cfg *c, int port, long wait_ms);
void miaw_op_unlock(int fd);

/* 1 when something listens on port (bind to 0.0.0.0 fails), else 0 */
int miaw_op_port_in_use(int port);

/* supervisord state name -> guide state (RUNNING/STOPPED/STARTING/FATAL/UNKNOWN) */
const char *miaw_op_guide_state(const char *statename);
/* Go-style duration: 0s, 5s, 3m2s, 1h23m45s (out >= 32) */
void miaw_op_uptime(char *out, size_t cap, long long secs);
#endif
