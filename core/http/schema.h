/* core/http/schema.h - request-body schemas (miaw_field lists from the SDK): deep copy of a
 * plugin's declaration, declaration checks, validation of a JSON body with the failing
 * field named, and the JSON Schema (OpenAPI 3.1) rendering. */
#ifndef MIAW_SCHEMA_H
#define MIAW_SCHEMA_H
#include <jansson.h>
#include <miaw/plugin.h>
#include <stddef.h>

/* Deep-copies a zero-terminated field list whose elements are field_size bytes apart
 * (the plugin's sizeof(miaw_field)). Returns a malloc'd list owned by the caller (free
 * with miaw_schema_free), or NULL on allocation failure or when src is NULL. */
miaw_field *miaw_schema_dup(const miaw_field *src, size_t field_size);
void miaw_schema_free(miaw_field *list);
/* Checks a declaration: known types, min <= max, patterns compile, items for arrays.
 * 0 or -1 with a message. */
int miaw_schema_check(const miaw_field *list, char *err, size_t errlen);
/* Validates obj (must be an object) against the property list. On failure returns -1,
 * writes the field path ("webhookEvents[1]", "" for the body itself) and a message. */
int miaw_schema_validate(const miaw_field *props, int strict, const json_t *obj, char *field,
                         size_t fieldlen, char *msg, size_t msglen);
/* {"type":"object","properties":{...},"required":[...]}; new reference */
json_t *miaw_schema_openapi(const miaw_field *props);
#endif
