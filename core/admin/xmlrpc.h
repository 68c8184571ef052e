/* core/admin/xmlrpc.h - the XML-RPC codec used to talk to supervisord: encodes a
 * methodCall from jansson values and decodes a methodResponse (a value or a fault)
 * back into jansson values. Pure functions, no I/O, safe from any thread. */
#ifndef MIAW_ADMIN_XMLRPC_H
#define MIAW_ADMIN_XMLRPC_H
#include <stddef.h>
#include <jansson.h>

/* Type mapping (both directions):
 *   struct <-> object, array <-> array, string <-> string, int/i4/i8 <-> integer,
 *   boolean <-> true/false, double <-> real, nil <-> null.
 *   On decode, dateTime.iso8601 and base64 become strings (their text as sent), and
 *   an untyped <value>text</value> is a string. */

/* Builds a methodCall document. params: an array (or NULL for none); it is only read.
 * Returns a malloc'd NUL-terminated string the caller frees, or NULL when a param
 * has a type XML-RPC cannot carry (or out of memory). */
char *miaw_xmlrpc_encode_call(const char *method, const json_t *params);

/* Encodes one value as <value>...</value> appended to *buf (malloc'd, grown with
 * realloc; len and cap track it). Returns 0, or -1 on an unsupported type / OOM. */
int miaw_xmlrpc_encode_value(char **buf, size_t *len, size_t *cap, const json_t *v);

enum { MIAW_XMLRPC_OK = 0, MIAW_XMLRPC_FAULT = 1, MIAW_XMLRPC_MALFORMED = -1 };

/* Decodes a methodResponse of len bytes (need not be NUL-terminated).
 * MIAW_XMLRPC_OK: *result is a new reference the caller decrefs.
 * MIAW_XMLRPC_FAULT: *fault_code set, *fault_string malloc'd (caller frees).
 * MIAW_XMLRPC_MALFORMED: nothing allocated; err (if non-NULL) says why.
 * Nesting deeper than 64 levels is malformed. */
int miaw_xmlrpc_decode_response(const char *xml, size_t len, json_t **result,
                                int *fault_code, char **fault_string,
                                char *err, size_t errlen);
#endif
