/* core/base/errors.c - error code table (spec Appendix B and server-level codes). */
#include "base/errors.h"

#include <miaw/status.h>
#include <string.h>

static const struct { const char *code; int status; const char *desc; } T[MIAW_ERR__COUNT] = {
    [MIAW_ERR_UNAUTHORIZED] = {"UNAUTHORIZED", 401, "Invalid or missing API key"},
    [MIAW_ERR_INVALID_REQUEST] = {"INVALID_REQUEST", 400, "Request validation failed"},
    [MIAW_ERR_INSTANCE_NOT_FOUND] = {"INSTANCE_NOT_FOUND", 404, "Instance does not exist"},
    [MIAW_ERR_INSTANCE_NOT_CONNECTED] = {"INSTANCE_NOT_CONNECTED", 503, "Instance not connected to WhatsApp"},
    [MIAW_ERR_WHATSAPP_ERROR] = {"WHATSAPP_ERROR", 500, "WhatsApp operation failed"},
    [MIAW_ERR_WEBHOOK_FAILED] = {"WEBHOOK_FAILED", 500, "Webhook delivery failed"},
    [MIAW_ERR_RATE_LIMITED] = {"RATE_LIMITED", 429, "Too many requests"},
    [MIAW_ERR_NOT_FOUND] = {"NOT_FOUND", 404, "No such route or resource"},
    [MIAW_ERR_METHOD_NOT_ALLOWED] = {"METHOD_NOT_ALLOWED", 405, "Method not allowed on this route"},
    [MIAW_ERR_CONFLICT] = {"CONFLICT", 409, "Resource already exists or is busy"},
    [MIAW_ERR_PAYLOAD_TOO_LARGE] = {"PAYLOAD_TOO_LARGE", 413, "Request body too large"},
    [MIAW_ERR_UNSUPPORTED_MEDIA_TYPE] = {"UNSUPPORTED_MEDIA_TYPE", 415, "Body must be application/json"},
    [MIAW_ERR_TIMEOUT] = {"TIMEOUT", 504, "The operation did not complete in time"},
    [MIAW_ERR_UNAVAILABLE] = {"SERVICE_UNAVAILABLE", 503, "Temporarily unable to take the request"},
    [MIAW_ERR_INTERNAL] = {"INTERNAL_ERROR", 500, "Internal error"},
    [MIAW_ERR_NOT_GROUP_ADMIN] = {"NOT_GROUP_ADMIN", 403, "Only an admin of the group may do this"},
};

const char *miaw_err_code(miaw_err e) { return e < MIAW_ERR__COUNT ? T[e].code : "INTERNAL_ERROR"; }
int miaw_err_status(miaw_err e) { return e < MIAW_ERR__COUNT ? T[e].status : 500; }
const char *miaw_err_description(miaw_err e) { return e < MIAW_ERR__COUNT ? T[e].desc : ""; }

miaw_err miaw_err_from_code(const char *code)
{
    for (int i = 0; code && i < MIAW_ERR__COUNT; i++)
        if (strcmp(T[i].code, code) == 0) return (miaw_err)i;
    return MIAW_ERR__COUNT;
}

miaw_err miaw_err_from_status(int st)
{
    switch (st) {
    case MIAW_E_INVAL: return MIAW_ERR_INVALID_REQUEST;
    case MIAW_E_NOTFOUND: return MIAW_ERR_NOT_FOUND;
    case MIAW_E_EXIST: return MIAW_ERR_CONFLICT;
    case MIAW_E_STATE: return MIAW_ERR_INSTANCE_NOT_CONNECTED;
    case MIAW_E_TIMEOUT: return MIAW_ERR_TIMEOUT;
    case MIAW_E_LIMIT: return MIAW_ERR_UNAVAILABLE;
    case MIAW_E_AUTH: return MIAW_ERR_UNAUTHORIZED;
    default: return MIAW_ERR_INTERNAL;
    }
}

const char *miaw_http_reason(int s)
{
    switch (s) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
    }
}
