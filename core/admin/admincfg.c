/* core/admin/admincfg.c - configuration of `miaw admin`: the guide's environment
 * variables (ADMIN_TOKEN, SUPERVISOR_*, INSTANCES_DIR, LOCK_DIR, GOWA_BIN/MIAW_BIN, ...)
 * and command-line flags, with defaults and validation. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin/admin.h"
#include "admin/instcfg.h"
#include "base/paths.h"

static const char USAGE[] =
    "usage: miaw admin [options]\n"
    "  --port N                 listen port (ADMIN_PORT, default 8088)\n"
    "  --host H                 listen address (ADMIN_HOST, default 127.0.0.1)\n"
    "  --supervisor-url U       supervisord XML-RPC (SUPERVISOR_URL, default http://127.0.0.1:9001/RPC2)\n"
    "  --supervisor-user U      (SUPERVISOR_USER, default admin)\n"
    "  --supervisor-pass P      (SUPERVISOR_PASS, default admin)\n"
    "  --supervisor-conf-dir D  program configs (SUPERVISOR_CONF_DIR, default /etc/supervisor/conf.d)\n"
    "  --instances-dir D        worker data (INSTANCES_DIR, default /app/instances)\n"
    "  --supervisor-log-dir D   worker logs (SUPERVISOR_LOG_DIR, default /var/log/supervisor)\n"
    "  --lock-dir D             per-port locks (LOCK_DIR, default /tmp)\n"
    "  --bin PATH               worker binary (MIAW_BIN or GOWA_BIN, default this binary)\n"
    "  --worker-config FILE     miaw.yaml with the operator settings of every worker: plugins,\n"
    "                           web assets, WhatsApp endpoint (MIAW_WORKER_CONFIG; default: the\n"
    "                           built-in defaults, the environment, and the plugins next to --bin)\n"
    "ADMIN_TOKEN (required) is the bearer token of every /admin route.\n";

static char *dup_or(const char *v, const char *def) { return strdup(v && *v ? v : def); }

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = strdup(v);
}

/* absolute, no trailing slash (except "/") */
static int norm_dir(char **p, char *err, size_t errlen, const char *what)
{
    char buf[PATH_MAX];
    const char *s = *p;
    if (!s[0]) { snprintf(err, errlen, "%s must not be empty", what); return -1; }
    if (s[0] != '/') {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd) || snprintf(buf, sizeof buf, "%s/%s", cwd, s) >= (int)sizeof buf) {
            snprintf(err, errlen, "%s: cannot make %s absolute", what, s);
            return -1;
        }
    } else if (snprintf(buf, sizeof buf, "%s", s) >= (int)sizeof buf) {
        snprintf(err, errlen, "%s: path too long", what);
        return -1;
    }
    size_t n = strlen(buf);
    while (n > 1 && buf[n - 1] == '/') buf[--n] = 0;
    if (strpbrk(buf, "\"'\\\n\r;#%")) {
        snprintf(err, errlen, "%s: path %s contains a character supervisord cannot take", what, buf);
        return -1;
    }
    set_str(p, buf);
    return 0;
}

/* *p made absolute against the admin's working directory (workers run elsewhere);
 * "" stays "" */
static int abs_path(char **p, char *err, size_t errlen, const char *what)
{
    if (!(*p)[0] || (*p)[0] == '/') return 0;
    char cwd[PATH_MAX], buf[PATH_MAX + 8];
    if (!getcwd(cwd, sizeof cwd) || snprintf(buf, sizeof buf, "%s/%s", cwd, *p) >= (int)sizeof buf) {
        snprintf(err, errlen, "%s: cannot make %s absolute", what, *p);
        return -1;
    }
    set_str(p, buf);
    return 0;
}

/* the operator settings every worker gets: the worker config file (or defaults + the
 * admin's environment); plugins.dir defaults to the worker binary's own plugins */
static int load_worker_base(miaw_admin_cfg *c, char *err, size_t errlen)
{
    char e2[512];
    c->worker_base = calloc(1, sizeof *c->worker_base);
    if (!c->worker_base) { snprintf(err, errlen, "out of memory"); return -1; }
    miaw_config *w = c->worker_base;
    if (miaw_config_load(w, c->worker_config, e2, sizeof e2)) {
        snprintf(err, errlen, "worker config: %s", e2);
        return -1;
    }
    /* plugins.dir and server.docs_dir still at their built-in defaults (not set by the
     * worker config file nor the environment) become those of the worker binary's own
     * layout: workers run in their data directory, where ./build/plugins means nothing */
    miaw_config d;
    if (miaw_config_load(&d, NULL, e2, sizeof e2)) {
        snprintf(err, errlen, "worker defaults: %s", e2);
        miaw_config_free(&d);
        return -1;
    }
    const char *pd = getenv("MIAW_PLUGIN_DIR"), *dd = getenv("MIAW_DOCS_DIR");
    miaw_layout lay;
    miaw_layout_detect(c->bin, &lay);
    if (!(pd && *pd) && lay.plugin_dir[0] && !strcmp(w->plugin_dir, d.plugin_dir))
        set_str(&w->plugin_dir, lay.plugin_dir);
    if (!(dd && *dd) && lay.web_dir[0] && !strcmp(w->docs_dir, d.docs_dir)) {
        char docs[MIAW_LAYOUT_PATH_CAP + 32];
        snprintf(docs, sizeof docs, "%s/swagger-ui-dist", lay.web_dir);
        set_str(&w->docs_dir, docs);
    }
    miaw_config_free(&d);
    if (abs_path(&w->plugin_dir, err, errlen, "worker plugins.dir") ||
        abs_path(&w->docs_dir, err, errlen, "worker server.docs_dir") ||
        abs_path(&w->wa_ca_file, err, errlen, "worker whatsapp.ca_file") ||
        abs_path(&w->wa_media_ca_file, err, errlen, "worker whatsapp.media_ca_file"))
        return -1;
    return 0;
}

static int parse_long(const char *v, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) return -1;
    *out = x;
    return 0;
}

int miaw_admin_cfg_load(miaw_admin_cfg *c, int argc, char **argv, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->host = dup_or(getenv("ADMIN_HOST"), "127.0.0.1");
    c->token = dup_or(getenv("ADMIN_TOKEN"), "");
    c->sv_url = dup_or(getenv("SUPERVISOR_URL"), "http://127.0.0.1:9001/RPC2");
    c->sv_user = strdup(getenv("SUPERVISOR_USER") ? getenv("SUPERVISOR_USER") : "admin");
    c->sv_pass = strdup(getenv("SUPERVISOR_PASS") ? getenv("SUPERVISOR_PASS") : "admin");
    c->conf_dir = dup_or(getenv("SUPERVISOR_CONF_DIR"), "/etc/supervisor/conf.d");
    c->instances_dir = dup_or(getenv("INSTANCES_DIR"), "/app/instances");
    c->log_dir = dup_or(getenv("SUPERVISOR_LOG_DIR"), "/var/log/supervisor");
    c->lock_dir = dup_or(getenv("LOCK_DIR"), "/tmp");
    const char *bin = getenv("MIAW_BIN") && *getenv("MIAW_BIN") ? getenv("MIAW_BIN") : getenv("GOWA_BIN");
    if (bin && *bin) {
        c->bin = strdup(bin);
    } else {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        self[n > 0 ? n : 0] = 0;
        c->bin = strdup(n > 0 ? self : "miaw");
    }
    const char *wc = getenv("MIAW_WORKER_CONFIG");
    c->worker_config = wc && *wc ? strdup(wc) : NULL;
    const char *audit = getenv("ADMIN_AUDIT_LOG");
    c->audit_log = audit && *audit ? strdup(audit) : NULL;
    c->port = 8088;
    c->sv_timeout_ms = 30000;
    c->lock_wait_ms = 500;
    c->start_wait_ms = 20000;
    long v;
    const char *e;
    if ((e = getenv("ADMIN_PORT")) && *e) {
        if (parse_long(e, 1, 65535, &v)) { snprintf(err, errlen, "ADMIN_PORT: bad port \"%s\"", e); return -1; }
        c->port = (int)v;
    }
    struct { const char *var; long *dst; long lo, hi; } nums[] = {
        {"SUPERVISOR_TIMEOUT_MS", &c->sv_timeout_ms, 100, 600000},
        {"ADMIN_LOCK_WAIT_MS", &c->lock_wait_ms, 0, 600000},
        {"ADMIN_START_WAIT_MS", &c->start_wait_ms, 100, 600000},
    };
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        if ((e = getenv(nums[i].var)) && *e && parse_long(e, nums[i].lo, nums[i].hi, nums[i].dst)) {
            snprintf(err, errlen, "%s: expected a number from %ld to %ld", nums[i].var, nums[i].lo, nums[i].hi);
            return -1;
        }
    }
    struct { const char *flag; char **dst; } sflags[] = {
        {"--host", &c->host}, {"--supervisor-url", &c->sv_url}, {"--supervisor-user", &c->sv_user},
        {"--supervisor-pass", &c->sv_pass}, {"--supervisor-conf-dir", &c->conf_dir}, {"--conf-dir", &c->conf_dir},
        {"--instances-dir", &c->instances_dir}, {"--supervisor-log-dir", &c->log_dir}, {"--log-dir", &c->log_dir},
        {"--lock-dir", &c->lock_dir}, {"--bin", &c->bin}, {"--miaw-bin", &c->bin},
        {"--worker-config", &c->worker_config},
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(USAGE, stdout); return 1; }
        char name[64];
        const char *eq = strchr(a, '=');
        size_t nl = eq ? (size_t)(eq - a) : strlen(a);
        if (nl >= sizeof name) nl = sizeof name - 1;
        memcpy(name, a, nl);
        name[nl] = 0;
        if (eq) val = eq + 1;
        else if (i + 1 < argc) val = argv[i + 1];
        int known = 0;
        if (!strcmp(name, "--port")) {
            known = 1;
            if (!val || parse_long(val, 1, 65535, &v)) { snprintf(err, errlen, "--port: expected 1-65535"); return -1; }
            c->port = (int)v;
        }
        for (size_t k = 0; !known && k < sizeof sflags / sizeof sflags[0]; k++) {
            if (strcmp(name, sflags[k].flag)) continue;
            known = 1;
            if (!val) { snprintf(err, errlen, "%s needs a value", name); return -1; }
            set_str(sflags[k].dst, val);
        }
        if (!known) { snprintf(err, errlen, "unknown option %s (see --help)", a); return -1; }
        if (!eq) i++;
    }
    if (!c->token[0]) { snprintf(err, errlen, "ADMIN_TOKEN environment variable is required"); return -1; }
    if (strncmp(c->sv_url, "http://", 7) && strncmp(c->sv_url, "https://", 8)) {
        snprintf(err, errlen, "SUPERVISOR_URL must be an http:// or https:// URL");
        return -1;
    }
    if (norm_dir(&c->conf_dir, err, errlen, "SUPERVISOR_CONF_DIR") ||
        norm_dir(&c->instances_dir, err, errlen, "INSTANCES_DIR") ||
        norm_dir(&c->log_dir, err, errlen, "SUPERVISOR_LOG_DIR") || norm_dir(&c->lock_dir, err, errlen, "LOCK_DIR") ||
        norm_dir(&c->bin, err, errlen, "MIAW_BIN"))
        return -1;
    if (access(c->bin, X_OK)) {
        snprintf(err, errlen, "MIAW_BIN: %s is not an executable file", c->bin);
        return -1;
    }
    c->defaults = miaw_inst_defaults(err, errlen);
    if (!c->defaults) return -1;
    return load_worker_base(c, err, errlen);
}

void miaw_admin_cfg_free(miaw_admin_cfg *c)
{
    free(c->host); free(c->token); free(c->sv_url); free(c->sv_user); free(c->sv_pass);
    free(c->conf_dir); free(c->instances_dir); free(c->log_dir); free(c->lock_dir); free(c->bin);
    free(c->audit_log);
    free(c->worker_config);
    if (c->worker_base) {
        miaw_config_free(c->worker_base);
        free(c->worker_base);
    }
    json_decref(c->defaults);
    memset(c, 0, sizeof *c);
}
