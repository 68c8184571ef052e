/* core/admin/supervisor.c - blocking XML-RPC calls to supervisord over libcurl, with
 * basic auth and a per-call timeout. Thread-safe: one easy handle per call; the caller
 * has run curl_global_init before any thread starts. */
#include "admin/supervisor.h"

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/xmlrpc.h"

#define SV_MAX_REPLY (8u << 20)

static atomic_ulong g_errors;

unsigned long miaw_sv_error_count(void) { return atomic_load(&g_errors); }
void miaw_sv_count_error(void) { atomic_fetch_add(&g_errors, 1); }

typedef struct {
    char *data;
    size_t len;
    int overflow;
} sv_body;

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    sv_body *b = ud;
    size_t add = sz * n;
    if (b->len + add > SV_MAX_REPLY) { b->overflow = 1; return 0; }
    char *nd = realloc(b->data, b->len + add + 1);
    if (!nd) return 0;
    memcpy(nd + b->len, p, add);
    b->data = nd;
    b->len += add;
    b->data[b->len] = 0;
    return add;
}

/* supervisor/xmlrpc.py Faults names, for messages without the fault string */
static const char *fault_name(int fc)
{
    switch (fc) {
    case MIAW_SVF_BAD_NAME: return "BAD_NAME";
    case MIAW_SVF_NO_FILE: return "NO_FILE";
    case MIAW_SVF_NOT_EXECUTABLE: return "NOT_EXECUTABLE";
    case MIAW_SVF_FAILED: return "FAILED";
    case MIAW_SVF_ABNORMAL_TERMINATION: return "ABNORMAL_TERMINATION";
    case MIAW_SVF_SPAWN_ERROR: return "SPAWN_ERROR";
    case MIAW_SVF_ALREADY_STARTED: return "ALREADY_STARTED";
    case MIAW_SVF_NOT_RUNNING: return "NOT_RUNNING";
    case MIAW_SVF_ALREADY_ADDED: return "ALREADY_ADDED";
    case MIAW_SVF_STILL_RUNNING: return "STILL_RUNNING";
    case MIAW_SVF_CANT_REREAD: return "CANT_REREAD";
    default: return "fault";
    }
}

int miaw_sv_call(const miaw_sv_cfg *cfg, const char *method, json_t *params, json_t **result,
                 miaw_sv_err *err)
{
    miaw_sv_err dummy;
    if (!err) err = &dummy;
    memset(err, 0, sizeof *err);
    if (result) *result = NULL;
    char *doc = miaw_xmlrpc_encode_call(method, params);
    json_decref(params);
    if (!doc) {
        err->kind = MIAW_SV_BAD_REPLY;
        snprintf(err->msg, sizeof err->msg, "cannot encode %s call", method);
        miaw_sv_count_error();
        return err->kind;
    }
    CURL *h = curl_easy_init();
    if (!h) {
        free(doc);
        err->kind = MIAW_SV_UNREACHABLE;
        snprintf(err->msg, sizeof err->msg, "curl init failed");
        miaw_sv_count_error();
        return err->kind;
    }
    sv_body body = {0};
    char ebuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: text/xml");
    curl_easy_setopt(h, CURLOPT_URL, cfg->url);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, doc);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(doc));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, cfg->timeout_ms > 0 ? cfg->timeout_ms : 30000L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    if (cfg->user && cfg->user[0]) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, cfg->user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, cfg->pass ? cfg->pass : "");
    }
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    curl_slist_free_all(hdr);
    free(doc);

    if (cc != CURLE_OK) {
        err->kind = cc == CURLE_OPERATION_TIMEDOUT ? MIAW_SV_TIMEOUT : MIAW_SV_UNREACHABLE;
        if (body.overflow) err->kind = MIAW_SV_BAD_REPLY;
        snprintf(err->msg, sizeof err->msg, "%.60s: %.180s", method, ebuf[0] ? ebuf : curl_easy_strerror(cc));
    } else if (status != 200) {
        err->kind = MIAW_SV_REFUSED;
        snprintf(err->msg, sizeof err->msg, "%s: supervisord answered HTTP %ld%s", method, status,
                 status == 401 ? " (bad SUPERVISOR_USER/SUPERVISOR_PASS)" : "");
    } else {
        json_t *v = NULL;
        char *fs = NULL, dmsg[128];
        int fc = 0;
        int rc = miaw_xmlrpc_decode_response(body.data ? body.data : "", body.len, &v, &fc, &fs, dmsg, sizeof dmsg);
        if (rc == MIAW_XMLRPC_OK) {
            if (result) *result = v;
            else json_decref(v);
            err->kind = MIAW_SV_OK;
        } else if (rc == MIAW_XMLRPC_FAULT) {
            err->kind = MIAW_SV_FAULT;
            err->fault_code = fc;
            /* the fault string is never kept: supervisord quotes config lines in it, and a
             * quoted line may hold anything (issue: secrets echoed to clients and logs) */
            snprintf(err->msg, sizeof err->msg, "%s: fault %d (%s)", method, fc, fault_name(fc));
            free(fs);
        } else {
            err->kind = MIAW_SV_BAD_REPLY;
            snprintf(err->msg, sizeof err->msg, "%s: bad XML-RPC reply: %s", method, dmsg);
        }
    }
    free(body.data);
    if (err->kind != MIAW_SV_OK && err->kind != MIAW_SV_FAULT) miaw_sv_count_error();
    return err->kind;
}

int miaw_sv_call0(const miaw_sv_cfg *cfg, const char *method, json_t *params, miaw_sv_err *err)
{
    return miaw_sv_call(cfg, method, params, NULL, err);
}
