/* core/webhooks/webhook_json.h - the webhook body serializer: compact JSON text that JavaScript's
 * JSON.stringify(JSON.parse(text)) reproduces byte for byte (key order as JS objects keep
 * it, JS number formatting, JS string escapes), so a consumer that re-serializes the
 * parsed body (spec 5.3, Appendix A.2) computes the same HMAC as the sender. */
#ifndef MIAW_WEBHOOK_JSON_H
#define MIAW_WEBHOOK_JSON_H
#include <jansson.h>
#include <stddef.h>

#include "base/util.h"

/* Appends the text of v (any JSON value, v borrowed) to b. 0, or -1 on allocation failure. */
int miaw_wh_json_append(miaw_buf *b, const json_t *v);
/* The text as a malloc'd NUL-terminated string (caller frees), length in *len; NULL on failure. */
char *miaw_wh_json_dumps(const json_t *v, size_t *len);
/* Writes a double as JavaScript's Number#toString does (shortest round trip); out >= 32. */
void miaw_wh_js_number(char *out, size_t cap, double d);
#endif
