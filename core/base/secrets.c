/* core/base/secrets.c - API key / webhook secret resolution (see secrets.h). */
#include "base/secrets.h"

#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int miaw_secret_resolve(const char *data_dir, const char *name, const char *configured, char **out,
                        int *generated, char *err, size_t errlen)
{
    *generated = 0;
    if (configured && *configured) {
        *out = strdup(configured);
        return 0;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", data_dir, name);
    char *txt = NULL;
    size_t len = 0;
    if (miaw_read_file(path, &txt, &len) == 0) {
        while (len && (txt[len - 1] == '\n' || txt[len - 1] == '\r' || txt[len - 1] == ' ')) txt[--len] = 0;
        if (len >= 16) {
            struct stat st;
            if (stat(path, &st) == 0 && (st.st_mode & 077)) chmod(path, 0600);
            *out = txt;
            return 0;
        }
        free(txt);
        snprintf(err, errlen, "%s: stored secret is too short (delete the file to generate a new one)", path);
        return -1;
    }
    char hex[65];
    if (miaw_random_hex(hex, 32) != 0) {
        snprintf(err, errlen, "cannot generate a random %s", name);
        return -1;
    }
    if (miaw_mkdir_p(data_dir, 0700) != 0 || miaw_write_file_atomic(path, hex, 64, 0600) != 0) {
        snprintf(err, errlen, "%s: cannot store the generated secret", path);
        return -1;
    }
    *out = strdup(hex);
    *generated = 1;
    return 0;
}
