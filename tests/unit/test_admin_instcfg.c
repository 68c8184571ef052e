/* tests/unit/test_admin_instcfg.c - worker settings and files for `miaw admin`: request
 * validation and merging, GOWA_/MIAW_ defaults, the generated supervisord program config
 * (no tenant value, no secret), the worker's own config file read back by the serve
 * config loader (every value intact, %(here)s and quotes included), masking and
 * redaction, paths, atomic writes, tree removal, per-port locks, port probing, state
 * mapping and uptime text. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin/instcfg.h"
#include "admin/workercfg.h"
#include "base/config.h"
#include "base/paths.h"
#include "base/util.h"
#include "admin/ops.h"
#include "harness.h"

static char g_tmp[256];

static miaw_admin_cfg test_cfg(void)
{
    miaw_admin_cfg c;
    memset(&c, 0, sizeof c);
    c.conf_dir = "/etc/sv/conf.d";
    c.instances_dir = "/data/inst";
    c.log_dir = "/var/log/sv";
    c.lock_dir = g_tmp[0] ? g_tmp : "/tmp";
    c.bin = "/usr/bin/miaw";
    return c;
}

static int apply_str(json_t *st, const char *req_json, const char **field)
{
    char err[256];
    json_t *req = json_loads(req_json, 0, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(req);
    int rc = miaw_inst_apply(st, req, err, sizeof err, field);
    if (rc) CU_ASSERT_TRUE(strlen(err) > 0);
    json_decref(req);
    return rc;
}

static void validation(void)
{
    static const struct { const char *req, *field; } bad[] = {
        {"{\"port\": 80}", "port"}, {"{\"port\": 65536}", "port"}, {"{\"port\": \"3001\"}", "port"},
        {"{\"port\": 3001.5}", "port"}, {"{\"debug\": \"true\"}", "debug"}, {"{\"chat_storage\": 1}", "chat_storage"},
        {"{\"os\": \"\"}", "os"}, {"{\"os\": 7}", "os"}, {"{\"base_path\": \"wa\"}", "base_path"},
        {"{\"base_path\": \"/a//b\"}", "base_path"}, {"{\"base_path\": \"/a/../b\"}", "base_path"},
        {"{\"base_path\": \"/a b\"}", "base_path"}, {"{\"basic_auth\": \"user\"}", "basic_auth"},
        {"{\"basic_auth\": \":pw\"}", "basic_auth"}, {"{\"basic_auth\": \"a:b,c\"}", "basic_auth"},
        {"{\"webhook\": \"ftp://x\"}", "webhook"}, {"{\"webhook\": \"http://a b\"}", "webhook"},
        {"{\"webhook\": \"http://ok,\"}", "webhook"}, {"{\"auto_reply\": \"a\\u0001b\"}", "auto_reply"},
        {"{\"os\": \"a\\nb\"}", "os"}, {"{\"webhook_secret\": \"a\\rb\"}", "webhook_secret"},
        {"{\"api_key\": \"short\"}", "api_key"},
        {"{\"api_key\": \"has space in it..........\"}", "api_key"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *st = json_pack("{s:i,s:s}", "port", 3001, "os", "Chrome");
        const char *field = NULL;
        int rc = apply_str(st, bad[i].req, &field);
        if (rc != -1) fprintf(stderr, "accepted: %s\n", bad[i].req);
        CU_ASSERT_EQUAL(rc, -1);
        CU_ASSERT_PTR_NOT_NULL_FATAL(field);
        if (strcmp(field, bad[i].field)) fprintf(stderr, "case %zu: field %s, want %s\n", i, field, bad[i].field);
        CU_ASSERT_STRING_EQUAL(field, bad[i].field);
        /* nothing merged on failure */
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(st, "os")), "Chrome");
        json_decref(st);
    }
    json_t *st = json_pack("{s:i}", "port", 3001);
    const char *field = NULL;
    CU_ASSERT_EQUAL(apply_str(st, "{\"port\": 3002}", &field), -1); /* port cannot change */
    CU_ASSERT_EQUAL(apply_str(st, "[1]", &field), -1);
    json_decref(st);
}

static void merge(void)
{
    json_t *st = json_pack("{s:i,s:s,s:b,s:s}", "port", 3001, "os", "Chrome", "debug", 0, "webhook", "http://old");
    const char *field = NULL;
    CU_ASSERT_EQUAL(apply_str(st, "{\"debug\": true, \"base_path\": \"/wa/\", \"unknown\": 1, \"basic_auth\": "
                                  "\"a:b,c:d:e\", \"webhook\": null, \"os\": \"Tenant \\\"X\\\"\"}", &field), 0);
    CU_ASSERT_TRUE(json_is_true(json_object_get(st, "debug")));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(st, "base_path")), "/wa"); /* trailing / dropped */
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(st, "webhook")), "");       /* null clears */
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(st, "basic_auth")), "a:b,c:d:e");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(st, "os")), "Tenant \"X\"");
    CU_ASSERT_PTR_NULL(json_object_get(st, "unknown"));
    json_decref(st);
}

static void defaults_from_env(void)
{
    char err[256];
    unsetenv("MIAW_OS");
    setenv("GOWA_OS", "FromGowa", 1);
    setenv("GOWA_DEBUG", "true", 1);
    setenv("MIAW_DEBUG", "false", 1); /* MIAW_* wins over GOWA_* */
    setenv("GOWA_WEBHOOK", "https://hooks.example/x", 1);
    json_t *d = miaw_inst_defaults(err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(d, "os")), "FromGowa");
    CU_ASSERT_TRUE(json_is_false(json_object_get(d, "debug")));
    CU_ASSERT_TRUE(json_is_true(json_object_get(d, "account_validation")));
    CU_ASSERT_TRUE(json_is_true(json_object_get(d, "chat_storage")));
    CU_ASSERT_TRUE(json_is_false(json_object_get(d, "auto_mark_read")));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(d, "webhook_secret")), "secret");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(d, "webhook")), "https://hooks.example/x");
    json_decref(d);
    setenv("GOWA_CHAT_STORAGE", "perhaps", 1);
    CU_ASSERT_PTR_NULL(miaw_inst_defaults(err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "GOWA_CHAT_STORAGE"));
    unsetenv("GOWA_CHAT_STORAGE");
    setenv("MIAW_BASE_PATH", "no-slash", 1);
    CU_ASSERT_PTR_NULL(miaw_inst_defaults(err, sizeof err));
    unsetenv("MIAW_BASE_PATH");
    unsetenv("GOWA_OS"); unsetenv("GOWA_DEBUG"); unsetenv("MIAW_DEBUG"); unsetenv("GOWA_WEBHOOK");
}

static void program_conf(void)
{
    miaw_admin_cfg c = test_cfg();
    char err[256];
    json_t *st = json_pack("{s:i,s:s,s:s,s:s}", "port", 3001, "api_key", "k0123456789abcdef", "auto_reply",
                           "%(here)s", "webhook_secret", "s3cr3t-value");
    char *conf = miaw_inst_program_conf(&c, st, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(conf);
    static const char *want[] = {
        "[program:miaw_3001]\n", "command=/usr/bin/miaw serve --config /data/inst/3001/miaw.yaml\n",
        "directory=/data/inst/3001\n", "autostart=true\n", "autorestart=true\n", "startretries=3\n",
        "stdout_logfile=/var/log/sv/miaw_3001.out.log\n", "stderr_logfile=/var/log/sv/miaw_3001.err.log\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (!strstr(conf, want[i])) fprintf(stderr, "missing: %s\nin:\n%s\n", want[i], conf);
        CU_ASSERT_PTR_NOT_NULL(strstr(conf, want[i]));
    }
    /* nothing of the tenant's reaches supervisord */
    CU_ASSERT_PTR_NULL(strstr(conf, "environment="));
    CU_ASSERT_PTR_NULL(strstr(conf, "k0123456789abcdef"));
    CU_ASSERT_PTR_NULL(strstr(conf, "s3cr3t-value"));
    CU_ASSERT_PTR_NULL(strstr(conf, "%(here)s"));
    free(conf);
    /* a path supervisord cannot carry is refused */
    c.bin = "/opt/my tools/miaw";
    CU_ASSERT_PTR_NULL(miaw_inst_program_conf(&c, st, err, sizeof err));
    json_decref(st);
}

/* the worker's config file, read back by the same loader `miaw serve --config` uses */
static void worker_yaml_round_trip(void)
{
    snprintf(g_tmp, sizeof g_tmp, "/tmp/miaw-test-wyaml-XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(g_tmp));
    miaw_admin_cfg c = test_cfg();
    c.instances_dir = g_tmp;
    miaw_config base;
    char err[512];
    CU_ASSERT_EQUAL_FATAL(miaw_config_load(&base, NULL, err, sizeof err), 0);
    free(base.plugin_dir);
    base.plugin_dir = strdup("/opt/miaw/plugins");
    free(base.wa_ws_url);
    base.wa_ws_url = strdup("ws://127.0.0.1:9/ws/chat");
    c.worker_base = &base;
    const char *tricky = "%(here)s \"quoted\" 'single' ; # not a comment\nline2\t\\ \xc3\xa9 %(ENV_HOME)s";
    json_t *st = json_pack("{s:i,s:s,s:b,s:s,s:b,s:s,s:s,s:b,s:s,s:s,s:b,s:s}", "port", 3001, "api_key",
                           "k0123456789abcdef", "debug", 1, "os", "Say \"hi\" %(here)s", "account_validation", 0,
                           "base_path", "/wa", "auto_reply", tricky, "auto_mark_read", 1, "webhook",
                           "http://a/1, http://b/2", "webhook_secret", "s3 %(here)s \"x\"", "chat_storage", 0,
                           "basic_auth", "u:p%(here)s,v:q");
    char *yaml = miaw_inst_worker_yaml(&c, st, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(yaml);
    char path[512];
    snprintf(path, sizeof path, "%s/w.yaml", g_tmp);
    CU_ASSERT_EQUAL_FATAL(miaw_write_file_atomic(path, yaml, strlen(yaml), 0600), 0);
    free(yaml);
    miaw_config w;
    int rc = miaw_config_load(&w, path, err, sizeof err);
    if (rc) fprintf(stderr, "worker yaml: %s\n", err);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_EQUAL(w.port, 3001);
    CU_ASSERT_STRING_EQUAL(w.host, "127.0.0.1");
    CU_ASSERT_STRING_EQUAL(w.api_key, "k0123456789abcdef");
    CU_ASSERT_STRING_EQUAL(w.auto_reply, tricky);
    CU_ASSERT_STRING_EQUAL(w.wa_device_name, "Say \"hi\" %(here)s");
    CU_ASSERT_STRING_EQUAL(w.webhook_secret, "s3 %(here)s \"x\"");
    CU_ASSERT_STRING_EQUAL(w.base_path, "/wa");
    CU_ASSERT_STRING_EQUAL(w.log_level, "debug");
    CU_ASSERT_STRING_EQUAL(w.plugin_dir, "/opt/miaw/plugins");
    CU_ASSERT_STRING_EQUAL(w.wa_ws_url, "ws://127.0.0.1:9/ws/chat");
    CU_ASSERT_EQUAL(w.account_validation, 0);
    CU_ASSERT_EQUAL(w.auto_mark_read, 1);
    CU_ASSERT_EQUAL(w.chat_storage, 0);
    CU_ASSERT_EQUAL_FATAL(w.webhook_urls.n, 2);
    CU_ASSERT_STRING_EQUAL(w.webhook_urls.v[1], "http://b/2");
    CU_ASSERT_EQUAL_FATAL(w.basic_auth.n, 2);
    CU_ASSERT_STRING_EQUAL(w.basic_auth.v[0], "u:p%(here)s");
    CU_ASSERT_EQUAL(w.plugins_enabled.n, base.plugins_enabled.n);
    char dd[600];
    snprintf(dd, sizeof dd, "%s/3001", g_tmp);
    CU_ASSERT_STRING_EQUAL(w.data_dir, dd);
    miaw_config_free(&w);

    /* masked views and redaction */
    json_t *pub = miaw_inst_public(st);
    CU_ASSERT_PTR_NULL(json_object_get(pub, "api_key"));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(pub, "webhook_secret")), "********");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(pub, "basic_auth")), "u:********,v:********");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(pub, "auto_reply")), tricky);
    json_decref(pub);
    char mk[32];
    miaw_inst_mask_key("k0123456789abcdef", mk, sizeof mk);
    CU_ASSERT_STRING_EQUAL(mk, "****cdef");
    char text[256];
    snprintf(text, sizeof text, "key=k0123456789abcdef secret=s3 %%(here)s \"x\" pw=p%%(here)s end");
    miaw_inst_redact(text, st);
    CU_ASSERT_STRING_EQUAL(text, "key=*** secret=*** pw=*** end");
    json_decref(st);
    miaw_config_free(&base);
    CU_ASSERT_EQUAL(miaw_rm_rf(g_tmp), 0);
    g_tmp[0] = 0;
}

static void touch_file(const char *p)
{
    FILE *f = fopen(p, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fclose(f);
}

/* where a binary finds its plugins and web assets: installed prefix, build tree, neither */
static void install_layout(void)
{
    char t[64], p[512], q[512], want[PATH_MAX];
    snprintf(t, sizeof t, "/tmp/miaw-test-layout-XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(t));
    miaw_layout lay;
    /* installed: <prefix>/bin/miaw, <prefix>/lib/<multiarch>/miaw/plugins, <prefix>/share/miaw/web */
    snprintf(p, sizeof p, "%s/usr/bin", t);
    CU_ASSERT_EQUAL(miaw_mkdir_p(p, 0755), 0);
    snprintf(p, sizeof p, "%s/usr/lib/x86_64-linux-gnu/miaw/plugins", t);
    CU_ASSERT_EQUAL(miaw_mkdir_p(p, 0755), 0);
    snprintf(q, sizeof q, "%s/usr/share/miaw/web", t);
    CU_ASSERT_EQUAL(miaw_mkdir_p(q, 0755), 0);
    snprintf(p, sizeof p, "%s/usr/bin/miaw", t);
    touch_file(p);
    CU_ASSERT_EQUAL(miaw_layout_detect(p, &lay), MIAW_LAYOUT_INSTALLED);
    snprintf(p, sizeof p, "%s/usr/lib/x86_64-linux-gnu/miaw/plugins", t);
    CU_ASSERT_PTR_NOT_NULL_FATAL(realpath(p, want));
    CU_ASSERT_STRING_EQUAL(lay.plugin_dir, want);
    CU_ASSERT_PTR_NOT_NULL_FATAL(realpath(q, want));
    CU_ASSERT_STRING_EQUAL(lay.web_dir, want);
    /* lib/miaw/plugins (no multiarch) works too */
    snprintf(p, sizeof p, "%s/opt/bin", t);
    CU_ASSERT_EQUAL(miaw_mkdir_p(p, 0755), 0);
    snprintf(p, sizeof p, "%s/opt/lib/miaw/plugins", t);
    CU_ASSERT_EQUAL(miaw_mkdir_p(p, 0755), 0);
    snprintf(p, sizeof p, "%s/opt/bin/miaw", t);
    touch_file(p);
    CU_ASSERT_EQUAL(miaw_layout_detect(p, &lay), MIAW_LAYOUT_INSTALLED);
    CU_ASSERT_STRING_EQUAL(lay.web_dir, "");
    /* build tree: <build>/miaw next to <build>/plugins */
    snprintf(p, sizeof p, "%s/b/plugins", t);
    CU_ASSERT_EQUAL(miaw_mkdir_p(p, 0755), 0);
    snprintf(p, sizeof p, "%s/b/miaw", t);
    touch_file(p);
    CU_ASSERT_EQUAL(miaw_layout_detect(p, &lay), MIAW_LAYOUT_BUILD_TREE);
    /* a bin/ without plugins, and a missing binary: unknown, empty paths */
    snprintf(p, sizeof p, "%s/x/bin", t);
    CU_ASSERT_EQUAL(miaw_mkdir_p(p, 0755), 0);
    snprintf(p, sizeof p, "%s/x/bin/miaw", t);
    touch_file(p);
    CU_ASSERT_EQUAL(miaw_layout_detect(p, &lay), MIAW_LAYOUT_UNKNOWN);
    CU_ASSERT_STRING_EQUAL(lay.plugin_dir, "");
    snprintf(p, sizeof p, "%s/nowhere/miaw", t);
    CU_ASSERT_EQUAL(miaw_layout_detect(p, &lay), MIAW_LAYOUT_UNKNOWN);
    CU_ASSERT_EQUAL(miaw_rm_rf(t), 0);
}

static void ports_and_paths(void)
{
    CU_ASSERT_EQUAL(miaw_inst_port_from_str("3001", 4), 3001);
    CU_ASSERT_EQUAL(miaw_inst_port_from_str("1024", 4), 1024);
    CU_ASSERT_EQUAL(miaw_inst_port_from_str("65535", 5), 65535);
    CU_ASSERT_EQUAL(miaw_inst_port_from_str("1023", 4), -2);
    CU_ASSERT_EQUAL(miaw_inst_port_from_str("65536", 5), -2);
    CU_ASSERT_EQUAL(miaw_inst_port_from_str("abc", 3), -1);
    CU_ASSERT_EQUAL(miaw_inst_port_from_str("", 0), -1);
    CU_ASSERT_EQUAL(miaw_inst_port_from_str("-1", 2), -1);
    CU_ASSERT_EQUAL(miaw_inst_port_from_str("99999999", 8), -1);
    miaw_admin_cfg c = test_cfg();
    char p[512];
    CU_ASSERT_EQUAL(miaw_inst_conf_path(&c, 3001, p, sizeof p), 0);
    CU_ASSERT_STRING_EQUAL(p, "/etc/sv/conf.d/miaw-3001.conf");
    CU_ASSERT_EQUAL(miaw_inst_meta_path(&c, 3001, p, sizeof p), 0);
    CU_ASSERT_STRING_EQUAL(p, "/data/inst/3001/admin.json");
    CU_ASSERT_EQUAL(miaw_inst_name(p, 4, 3001), -1); /* too small: refused, not truncated */
    CU_ASSERT_STRING_EQUAL(miaw_op_guide_state("BACKOFF"), "STARTING");
    CU_ASSERT_STRING_EQUAL(miaw_op_guide_state("EXITED"), "STOPPED");
    CU_ASSERT_STRING_EQUAL(miaw_op_guide_state("FATAL"), "FATAL");
    CU_ASSERT_STRING_EQUAL(miaw_op_guide_state("weird"), "UNKNOWN");
    CU_ASSERT_STRING_EQUAL(miaw_op_guide_state(NULL), "UNKNOWN");
    char up[32];
    miaw_op_uptime(up, sizeof up, 0); CU_ASSERT_STRING_EQUAL(up, "0s");
    miaw_op_uptime(up, sizeof up, 5); CU_ASSERT_STRING_EQUAL(up, "5s");
    miaw_op_uptime(up, sizeof up, 125); CU_ASSERT_STRING_EQUAL(up, "2m5s");
    miaw_op_uptime(up, sizeof up, 5025); CU_ASSERT_STRING_EQUAL(up, "1h23m45s");
    miaw_op_uptime(up, sizeof up, -7); CU_ASSERT_STRING_EQUAL(up, "0s");
}

static void files_and_locks(void)
{
    snprintf(g_tmp, sizeof g_tmp, "/tmp/miaw-test-admin-XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(g_tmp));
    char p[512], q[600];
    snprintf(p, sizeof p, "%s/a/b/c", g_tmp);
    CU_ASSERT_EQUAL(miaw_mkdir_p(p, 0700), 0);
    snprintf(q, sizeof q, "%s/file.conf", p);
    CU_ASSERT_EQUAL(miaw_write_file_atomic(q, "one", 3, 0600), 0);
    CU_ASSERT_EQUAL(miaw_write_file_atomic(q, "second", 6, 0600), 0);
    FILE *f = fopen(q, "r");
    char buf[16] = "";
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fread(buf, 1, sizeof buf - 1, f), 6);
    fclose(f);
    CU_ASSERT_STRING_EQUAL(buf, "second");
    struct stat st;
    CU_ASSERT_EQUAL(stat(q, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    CU_ASSERT_EQUAL(miaw_write_file_atomic("/nonexistent-dir/x", "a", 1, 0600), -ENOENT);

    miaw_admin_cfg c = test_cfg();
    int fd = miaw_op_lock(&c, 3001, 0);
    CU_ASSERT_TRUE(fd >= 0);
    int fd2 = miaw_op_lock(&c, 3001, 100); /* held: bounded wait, then busy */
    CU_ASSERT_EQUAL(fd2, -EBUSY);
    int other = miaw_op_lock(&c, 3002, 0); /* other ports are independent */
    CU_ASSERT_TRUE(other >= 0);
    miaw_op_unlock(other);
    miaw_op_unlock(fd);
    fd2 = miaw_op_lock(&c, 3001, 0);
    CU_ASSERT_TRUE(fd2 >= 0);
    /* a lock file unlinked by its holder is not trusted by the next taker */
    char lp[512];
    miaw_inst_lock_path(&c, 3001, lp, sizeof lp);
    unlink(lp);
    int fd3 = miaw_op_lock(&c, 3001, 0);
    CU_ASSERT_TRUE(fd3 >= 0);
    miaw_op_unlock(fd3);
    miaw_op_unlock(fd2);

    snprintf(p, sizeof p, "%s/a", g_tmp);
    CU_ASSERT_EQUAL(miaw_rm_rf(p), 0);
    CU_ASSERT_NOT_EQUAL(stat(p, &st), 0);
    CU_ASSERT_EQUAL(miaw_rm_rf(p), 0); /* already gone is fine */
    CU_ASSERT_EQUAL(miaw_rm_rf(g_tmp), 0);
    g_tmp[0] = 0;
}

static void port_probe(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CU_ASSERT_EQUAL_FATAL(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    CU_ASSERT_EQUAL_FATAL(listen(s, 1), 0);
    socklen_t l = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &l);
    int port = ntohs(a.sin_port);
    CU_ASSERT_EQUAL(miaw_op_port_in_use(port), 1);
    close(s);
    CU_ASSERT_EQUAL(miaw_op_port_in_use(port), 0);
}

MIAW_TESTS("admin_instcfg", MIAW_T(validation), MIAW_T(merge), MIAW_T(defaults_from_env), MIAW_T(program_conf), MIAW_T(worker_yaml_round_trip), MIAW_T(install_layout),
           MIAW_T(ports_and_paths), MIAW_T(files_and_locks), MIAW_T(port_probe))
