/* core/base/paths.c - install-layout detection for the `miaw` binary: the build tree
 * or an installed prefix (cmake --install, the Debian package), from the binary's own
 * location, so an installed server finds its plugins and web assets without a config
 * naming them. */
#include "base/paths.h"

#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int join(char *out, size_t cap, const char *a, const char *b)
{
    int n = snprintf(out, cap, "%s/%s", a, b);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

/* out = canonical path of p when it is a directory, else "" */
static void dir_or_empty(char *out, const char *p)
{
    char real[PATH_MAX];
    if (is_dir(p) && realpath(p, real) && strlen(real) < MIAW_LAYOUT_PATH_CAP) memcpy(out, real, strlen(real) + 1);
    else out[0] = 0;
}

static void find_installed_plugins(const char *prefix, char *out)
{
    char p[MIAW_LAYOUT_PATH_CAP];
    out[0] = 0;
    if (join(p, sizeof p, prefix, "lib/miaw/plugins") == 0 && is_dir(p)) { dir_or_empty(out, p); return; }
    if (join(p, sizeof p, prefix, "lib/*/miaw/plugins") == 0) {
        glob_t g;
        if (glob(p, GLOB_ONLYDIR | GLOB_NOSORT, NULL, &g) == 0) {
            if (g.gl_pathc > 0) dir_or_empty(out, g.gl_pathv[0]);
            globfree(&g);
            if (out[0]) return;
        }
    }
    if (join(p, sizeof p, prefix, "lib64/miaw/plugins") == 0 && is_dir(p)) dir_or_empty(out, p);
}

miaw_layout_kind miaw_layout_detect(const char *exe, miaw_layout *out)
{
    char self[PATH_MAX], dir[PATH_MAX], p[MIAW_LAYOUT_PATH_CAP];
    memset(out, 0, sizeof *out);
    if (!exe) {
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0) return out->kind;
        self[n] = 0;
    } else if (!realpath(exe, self)) {
        return out->kind;
    }
    snprintf(dir, sizeof dir, "%s", self);
    char *slash = strrchr(dir, '/');
    if (!slash) return out->kind;
    *slash = 0;
    if (!dir[0]) return out->kind;
    if (join(p, sizeof p, dir, "plugins") == 0 && is_dir(p)) {
        out->kind = MIAW_LAYOUT_BUILD_TREE;
        dir_or_empty(out->plugin_dir, p);
        if (join(p, sizeof p, dir, "../web/node_modules") == 0) dir_or_empty(out->web_dir, p);
        return out->kind;
    }
    const char *base = strrchr(dir, '/');
    if (!base || strcmp(base + 1, "bin")) return out->kind;
    char prefix[PATH_MAX];
    snprintf(prefix, sizeof prefix, "%.*s", (int)(base - dir), dir);
    if (!prefix[0]) snprintf(prefix, sizeof prefix, "/");
    find_installed_plugins(prefix, out->plugin_dir);
    if (!out->plugin_dir[0]) return out->kind;
    out->kind = MIAW_LAYOUT_INSTALLED;
    if (join(p, sizeof p, prefix, "share/miaw/web") == 0) dir_or_empty(out->web_dir, p);
    return out->kind;
}
