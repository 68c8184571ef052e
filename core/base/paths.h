/* core/base/paths.h - where a `miaw` binary finds its plugins and web assets: in the
 * build tree (<build>/miaw next to <build>/plugins) or installed (<prefix>/bin/miaw with
 * <prefix>/<libdir>/miaw/plugins and <prefix>/share/miaw/web). Plain buffers, no
 * allocation; nothing to free. */
#ifndef MIAW_PATHS_H
#define MIAW_PATHS_H
#include <stddef.h>

#define MIAW_LAYOUT_PATH_CAP 4096

/* The default data directory of an installed server (overridable: data_dir,
 * SESSION_PATH). */
#define MIAW_INSTALLED_DATA_DIR "/var/lib/miaw"

typedef enum { MIAW_LAYOUT_UNKNOWN = 0, MIAW_LAYOUT_BUILD_TREE, MIAW_LAYOUT_INSTALLED } miaw_layout_kind;

typedef struct miaw_layout {
    miaw_layout_kind kind;
    char plugin_dir[MIAW_LAYOUT_PATH_CAP]; /* "" when not found */
    char web_dir[MIAW_LAYOUT_PATH_CAP];    /* the served web asset tree ("" when not found):
                                              swagger-ui-dist/, dashboard/, ... */
} miaw_layout;

/* Layout of the binary at exe (an absolute path; NULL = this process, /proc/self/exe).
 * Build tree: dirname(exe)/plugins is a directory; web_dir = dirname(exe)/../web/node_modules
 * when present. Installed: dirname(exe) is named "bin" and <prefix>/lib/miaw/plugins,
 * <prefix>/lib/<multiarch>/miaw/plugins or <prefix>/lib64/miaw/plugins exists; web_dir =
 * <prefix>/share/miaw/web when present. Otherwise kind is MIAW_LAYOUT_UNKNOWN and both
 * paths are "". Always fills *out; returns out->kind. */
miaw_layout_kind miaw_layout_detect(const char *exe, miaw_layout *out);
#endif
