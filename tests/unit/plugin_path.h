/* tests/unit/plugin_path.h - where a plugin unit test finds the shared object it loads on
 * the mock host: $MIAW_PLUGIN_DIR/<name>.so, else <dir of the test binary>/../plugins/<name>.so
 * (the build tree), else build/plugins/<name>.so. */
#ifndef MIAW_TEST_PLUGIN_PATH_H
#define MIAW_TEST_PLUGIN_PATH_H
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The path (a static buffer: valid until the next call). */
static inline const char *miaw_test_plugin_path(const char *name)
{
    static char path[PATH_MAX + 64];
    const char *env = getenv("MIAW_PLUGIN_DIR");
    char exe[PATH_MAX];
    ssize_t n = env ? 0 : readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (env) snprintf(path, sizeof path, "%s/%s.so", env, name);
    else if (n <= 0) snprintf(path, sizeof path, "build/plugins/%s.so", name);
    else {
        exe[n] = 0;
        snprintf(path, sizeof path, "%s/../plugins/%s.so", dirname(exe), name);
    }
    return path;
}
#endif
