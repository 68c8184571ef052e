/* core/admin/supervisor.h - the supervisord XML-RPC client: one blocking call per
 * function over libcurl (POST /RPC2, HTTP basic auth, a hard timeout). Meant to run on
 * uv_queue_work threads, never on the loop. Owns the process-wide error counter. */
#ifndef MIAW_ADMIN_SUPERVISOR_H
#define MIAW_ADMIN_SUPERVISOR_H
#include <jansson.h>

typedef struct miaw_sv_cfg {
    const char *url;  /* e.g. http://127.0.0.1:9001/RPC2 (borrowed) */
    const char *user; /* may be "" for no auth (borrowed) */
    const char *pass;
    long timeout_ms;  /* whole-call limit */
} miaw_sv_cfg;

/* supervisord fault codes (supervisor/xmlrpc.py Faults) */
enum {
    MIAW_SVF_BAD_NAME = 10, MIAW_SVF_NO_FILE = 20, MIAW_SVF_NOT_EXECUTABLE = 21, MIAW_SVF_FAILED = 30,
    MIAW_SVF_ABNORMAL_TERMINATION = 40, MIAW_SVF_SPAWN_ERROR = 50, MIAW_SVF_ALREADY_STARTED = 60,
    MIAW_SVF_NOT_RUNNING = 70, MIAW_SVF_ALREADY_ADDED = 90, MIAW_SVF_STILL_RUNNING = 91,
    MIAW_SVF_CANT_REREAD = 92
};

/* outcome kinds of one call */
enum {
    MIAW_SV_OK = 0,
    MIAW_SV_FAULT,       /* supervisord answered with a fault (fault_code) */
    MIAW_SV_UNREACHABLE, /* connect/transport failure */
    MIAW_SV_TIMEOUT,     /* no answer within timeout_ms */
    MIAW_SV_REFUSED,     /* HTTP status other than 200 (e.g. 401 bad credentials) */
    MIAW_SV_BAD_REPLY    /* not a decodable XML-RPC response */
};

typedef struct miaw_sv_err {
    int kind;
    int fault_code;
    char msg[256];
} miaw_sv_err;

/* Calls method with params (an array, stolen; NULL = none). On MIAW_SV_OK *result is a
 * new reference (caller decrefs); otherwise *result is NULL and err says what failed.
 * Every outcome other than OK and FAULT counts as a supervisord error. */
int miaw_sv_call(const miaw_sv_cfg *cfg, const char *method, json_t *params, json_t **result,
                 miaw_sv_err *err);

/* Same, for calls whose result is not needed. */
int miaw_sv_call0(const miaw_sv_cfg *cfg, const char *method, json_t *params, miaw_sv_err *err);

/* total failed calls (transport, timeout, refused, bad reply, faults we did not expect
 * are counted by the caller through miaw_sv_count_error) */
unsigned long miaw_sv_error_count(void);
void miaw_sv_count_error(void);
#endif
