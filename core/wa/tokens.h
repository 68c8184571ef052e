/* core/wa/tokens.h - the WhatsApp binary-node token dictionaries, version 3: the
 * single-byte list (236 entries) and the four double-byte lists (256 entries each),
 * lookup by index and by string. Owns only static, read-only tables. */
#ifndef MIAW_WA_TOKENS_H
#define MIAW_WA_TOKENS_H
#include <stddef.h>
#include <stdint.h>

#define MIAW_TOKEN_DICT_VERSION 3
#define MIAW_TOKEN_SINGLE_COUNT 236 /* index 0 is "" and never used on the wire */
#define MIAW_TOKEN_DOUBLE_DICTS 4
#define MIAW_TOKEN_DOUBLE_COUNT 256 /* entries per double-byte dictionary */

/* Single-byte token for index 1..235; NULL for any other index. Static string. */
const char *miaw_token_single(unsigned index);
/* Double-byte token dict 0..3, index 0..255; NULL when out of range. Static string. */
const char *miaw_token_double(unsigned dict, unsigned index);

/* String -> token. Returns 1 for a single-byte token (*index set, *dict = -1),
 * 2 for a double-byte token (*dict 0..3, *index), 0 when s is not a token.
 * s need not be NUL-terminated (len bytes). "" is never a token. Thread-safe. */
int miaw_token_lookup(const char *s, size_t len, int *dict, unsigned *index);
#endif
