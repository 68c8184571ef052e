/* core/http/apikeys.h - scoped API keys: keys made through the API (POST /keys) that are
 * valid for one or more instances with read and/or send permission. A key is shown once,
 * at creation; only its id and the SHA-256 of its secret are stored (table api_keys of
 * the server database), and it can be listed (without secret) and revoked. The global
 * API key stays the admin key and is not managed here. Owns every key record (an
 * in-memory copy of the table); the storage is borrowed. Loop thread only. */
#ifndef MIAW_APIKEYS_H
#define MIAW_APIKEYS_H
#include <stddef.h>

#include "base/storage.h"
#include "http/router.h"

#define MIAW_KEY_PERM_READ (1u << 0) /* GET on the key's instances            */
#define MIAW_KEY_PERM_SEND (1u << 1) /* other methods on the key's instances  */

typedef struct miaw_apikeys miaw_apikeys;

/* loads the keys (creating the table when needed); db borrowed, must outlive the set.
 * NULL with a message on a storage error. */
miaw_apikeys *miaw_apikeys_new(miaw_storage *db, char *err, size_t errlen);
void miaw_apikeys_free(miaw_apikeys *k);
/* 0 when token is a live scoped key: its id copied to id, its MIAW_KEY_PERM_* to *perms;
 * -1 otherwise (constant-time compare of the secret's hash) */
int miaw_apikeys_check(const miaw_apikeys *k, const char *token, char *id, size_t idlen, unsigned *perms);
/* 1 when key `id` is valid for the instance */
int miaw_apikeys_allows(const miaw_apikeys *k, const char *id, const char *instance);
size_t miaw_apikeys_count(const miaw_apikeys *k);
/* registers POST /keys, GET /keys and DELETE /keys/{keyId} (admin key only) */
int miaw_apikeys_routes(miaw_apikeys *k, miaw_router *rt, char *err, size_t errlen);
#endif
