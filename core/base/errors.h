/* core/base/errors.h - the one place where error codes become HTTP: the spec's Appendix B
 * codes plus the few the server itself needs (NOT_FOUND, METHOD_NOT_ALLOWED, ...). */
#ifndef MIAW_ERRORS_H
#define MIAW_ERRORS_H

typedef enum {
    MIAW_ERR_UNAUTHORIZED,
    MIAW_ERR_INVALID_REQUEST,
    MIAW_ERR_INSTANCE_NOT_FOUND,
    MIAW_ERR_INSTANCE_NOT_CONNECTED,
    MIAW_ERR_WHATSAPP_ERROR,
    MIAW_ERR_WEBHOOK_FAILED,
    MIAW_ERR_RATE_LIMITED,
    MIAW_ERR_NOT_FOUND,
    MIAW_ERR_METHOD_NOT_ALLOWED,
    MIAW_ERR_CONFLICT,
    MIAW_ERR_PAYLOAD_TOO_LARGE,
    MIAW_ERR_UNSUPPORTED_MEDIA_TYPE,
    MIAW_ERR_TIMEOUT,
    MIAW_ERR_UNAVAILABLE,
    MIAW_ERR_INTERNAL,
    MIAW_ERR_NOT_GROUP_ADMIN, /* 403: the group operation needs an admin (plugins/groups) */
    MIAW_ERR__COUNT
} miaw_err;

const char *miaw_err_code(miaw_err e);   /* "INSTANCE_NOT_FOUND" (static) */
int miaw_err_status(miaw_err e);         /* 404 */
const char *miaw_err_description(miaw_err e);
/* code name -> enum; MIAW_ERR__COUNT when unknown */
miaw_err miaw_err_from_code(const char *code);
/* MIAW_E_* (sdk) -> HTTP error */
miaw_err miaw_err_from_status(int miaw_e);
const char *miaw_http_reason(int status);
#endif
