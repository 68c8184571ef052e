/* core/http/jsonout.h - a fast compact JSON encoder for answers: the bytes jansson's
 * json_dumpb(doc, JSON_COMPACT | JSON_ENCODE_ANY) gives, for the documents it can write
 * exactly (ASCII strings, integers, true/false/null, objects and arrays); the caller falls
 * back to jansson for the rest. Owns nothing. */
#ifndef MIAW_HTTP_JSONOUT_H
#define MIAW_HTTP_JSONOUT_H
#include <jansson.h>
#include <stddef.h>

/* Writes doc (borrowed) into out (cap bytes, not NUL-terminated). Its length, or 0 when
 * it does not fit or holds something it leaves to jansson (a real, a string with a byte
 * above 0x7f, nesting deeper than 32 levels). */
size_t miaw_json_compact(const json_t *doc, char *out, size_t cap);
#endif
