/* core/base/secrets.h - the API key and the webhook signing secret: taken from config when
 * set, else read from <data_dir>/<name> (0600), else generated (32 random bytes, hex),
 * stored 0600 and announced once on stderr. */
#ifndef MIAW_SECRETS_H
#define MIAW_SECRETS_H
#include <stddef.h>

/* configured may be "" or NULL. *out is malloc'd (caller frees); *generated tells
 * whether it was created now. 0, or -1 with message. */
int miaw_secret_resolve(const char *data_dir, const char *name, const char *configured, char **out,
                        int *generated, char *err, size_t errlen);
#endif
