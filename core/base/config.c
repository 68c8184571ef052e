/* core/base/config.c - loads miaw_config: defaults, YAML file walked against a key table
 * (errors name file, line and key; unknown keys are errors), environment overrides,
 * validation. Plugin sections (plugins.config.<name>) are converted to JSON as is. */
#include "base/config.h"
#include "base/paths.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

enum kt { K_SECTION, K_STR, K_INT, K_BOOL, K_LIST, K_JSON };
struct key { const char *path; enum kt type; size_t off; long long min, max; };
#define O(f) offsetof(miaw_config, f)
static const struct key KEYS[] = {
    {"server", K_SECTION, 0, 0, 0},
    {"server.host", K_STR, O(host), 0, 0},
    {"server.port", K_INT, O(port), 1, 65535},
    {"server.base_path", K_STR, O(base_path), 0, 0},
    {"server.api_prefix", K_STR, O(api_prefix), 0, 0},
    {"server.max_body_bytes", K_INT, O(max_body_bytes), 1024, 1LL << 30},
    {"server.request_timeout_ms", K_INT, O(request_timeout_ms), 100, 3600000},
    {"server.cors_origin", K_STR, O(cors_origin), 0, 0},
    {"server.docs_dir", K_STR, O(docs_dir), 0, 0},
    {"server.tls", K_SECTION, 0, 0, 0},
    {"server.tls.cert", K_STR, O(tls_cert), 0, 0},
    {"server.tls.key", K_STR, O(tls_key), 0, 0},
    {"auth", K_SECTION, 0, 0, 0},
    {"auth.api_key", K_STR, O(api_key), 0, 0},
    {"auth.metrics_token", K_STR, O(metrics_token), 0, 0},
    {"server.dashboard_dir", K_STR, O(dashboard_dir), 0, 0},
    {"server.events_max_clients", K_INT, O(events_max_clients), 1, 10000},
    {"server.events_journal", K_BOOL, O(events_journal), 0, 0},
    {"auth.basic_auth", K_LIST, O(basic_auth), 0, 0},
    {"data_dir", K_STR, O(data_dir), 0, 0},
    {"log", K_SECTION, 0, 0, 0},
    {"log.level", K_STR, O(log_level), 0, 0},
    {"log.json", K_BOOL, O(log_json), 0, 0},
    {"log.buffer_kb", K_INT, O(log_buffer_kb), 0, 65536},
    {"plugins", K_SECTION, 0, 0, 0},
    {"plugins.dir", K_STR, O(plugin_dir), 0, 0},
    {"plugins.enabled", K_LIST, O(plugins_enabled), 0, 0},
    {"plugins.config", K_JSON, O(plugin_config), 0, 0},
    {"webhook", K_SECTION, 0, 0, 0},
    {"webhook.url", K_LIST, O(webhook_urls), 0, 0},
    {"webhook.secret", K_STR, O(webhook_secret), 0, 0},
    {"webhook.timeout_ms", K_INT, O(webhook_timeout_ms), 100, 600000},
    {"webhook.max_retries", K_INT, O(webhook_max_retries), 1, 100},
    {"webhook.retry_delay_ms", K_INT, O(webhook_retry_delay_ms), 1, 86400000},
    {"webhook.concurrency", K_INT, O(webhook_concurrency), 1, 10000},
    {"webhook.per_host_concurrency", K_INT, O(webhook_per_host), 1, 1000},
    /* webhook target policy (SSRF) and outbox quota */
    {"webhook.policy", K_SECTION, 0, 0, 0},
    {"webhook.policy.block_private", K_BOOL, O(webhook_block_private), 0, 0},
    {"webhook.policy.block_metadata", K_BOOL, O(webhook_block_metadata), 0, 0},
    {"webhook.policy.https_only", K_BOOL, O(webhook_https_only), 0, 0},
    {"webhook.policy.allow", K_LIST, O(webhook_allow), 0, 0},
    {"webhook.policy.deny", K_LIST, O(webhook_deny), 0, 0},
    {"webhook.quota", K_SECTION, 0, 0, 0},
    {"webhook.quota.max_events", K_INT, O(webhook_quota_events), 1, 100000000},
    {"webhook.quota.max_mb", K_INT, O(webhook_quota_mb), 1, 1048576},
    {"webhook.quota.test_max_kb", K_INT, O(webhook_test_max_kb), 1, 1048576},
    {"whatsapp", K_SECTION, 0, 0, 0},
    {"whatsapp.ws_url", K_STR, O(wa_ws_url), 0, 0},
    {"whatsapp.ca_file", K_STR, O(wa_ca_file), 0, 0},
    {"whatsapp.device_name", K_STR, O(wa_device_name), 0, 0},
    {"whatsapp.account_validation", K_BOOL, O(account_validation), 0, 0},
    {"whatsapp.auto_reply", K_STR, O(auto_reply), 0, 0},
    {"whatsapp.auto_mark_read", K_BOOL, O(auto_mark_read), 0, 0},
    {"whatsapp.chat_storage", K_BOOL, O(chat_storage), 0, 0},
    {"whatsapp.chat_storage_retention_days", K_INT, O(chat_retention_days), 0, 36500},
    {"whatsapp.root_key", K_STR, O(wa_root_key), 0, 0},
    {"whatsapp.version", K_STR, O(wa_version), 0, 0},
    {"whatsapp.qr_first_ms", K_INT, O(wa_qr_first_ms), 50, 600000},
    {"whatsapp.qr_next_ms", K_INT, O(wa_qr_next_ms), 50, 600000},
    {"whatsapp.qr_max", K_INT, O(wa_qr_max), 1, 100},
    {"whatsapp.keepalive_ms", K_INT, O(wa_keepalive_ms), 50, 600000},
    {"whatsapp.dead_ms", K_INT, O(wa_dead_ms), 0, 900000},
    {"whatsapp.handshake_timeout_ms", K_INT, O(wa_handshake_timeout_ms), 50, 120000},
    {"whatsapp.backoff_min_ms", K_INT, O(wa_backoff_min_ms), 10, 600000},
    {"whatsapp.backoff_max_ms", K_INT, O(wa_backoff_max_ms), 10, 3600000},
    {"whatsapp.handshakes_per_sec", K_INT, O(wa_handshakes_per_sec), 1, 10000},
    {"whatsapp.prekeys", K_INT, O(wa_prekeys), 1, 2000},
    {"whatsapp.media_ca_file", K_STR, O(wa_media_ca_file), 0, 0},
    {"whatsapp.media_upload_hosts", K_LIST, O(wa_media_upload_hosts), 0, 0},
    {"whatsapp.media_timeout_ms", K_INT, O(wa_media_timeout_ms), 1000, 600000},
    {"whatsapp.media_max_mb", K_INT, O(wa_media_max_mb), 1, 4096},
    /* ---- rate limits (REST per key / per address; sends per instance) ---- */
    {"rate_limit", K_SECTION, 0, 0, 0},
    {"rate_limit.api_per_key_per_minute", K_INT, O(rl_api_per_key), 0, 100000000},
    {"rate_limit.api_per_address_per_minute", K_INT, O(rl_api_per_addr), 0, 100000000},
    {"rate_limit.api_burst", K_INT, O(rl_api_burst), 1, 1000000},
    {"rate_limit.send_per_minute", K_INT, O(rl_send_per_min), 0, 1000000},
    {"rate_limit.send_min_gap_ms", K_INT, O(rl_send_gap_ms), 0, 3600000},
};
#define NKEYS (sizeof KEYS / sizeof KEYS[0])

static const struct key *find_key(const char *path)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(KEYS[i].path, path) == 0) return &KEYS[i];
    return NULL;
}

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = strdup(v ? v : "");
}

static void list_free(miaw_strlist *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static void list_push(miaw_strlist *l, const char *s)
{
    char **v = realloc(l->v, (l->n + 1) * sizeof *v);
    if (!v) return;
    l->v = v;
    l->v[l->n++] = strdup(s);
}

/* comma-separated (env form); empty items dropped, spaces trimmed */
static void list_from_csv(miaw_strlist *l, const char *csv)
{
    list_free(l);
    char *dup = strdup(csv), *save = NULL;
    for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ') t++;
        size_t n = strlen(t);
        while (n && t[n - 1] == ' ') t[--n] = 0;
        if (*t) list_push(l, t);
    }
    free(dup);
}

static int parse_bool(const char *s, int *out)
{
    static const char *yes[] = {"true", "yes", "on", "1"}, *no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) { *out = 1; return 0; }
        if (strcasecmp(s, no[i]) == 0) { *out = 0; return 0; }
    }
    return -1;
}

static int parse_int(const char *s, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) return -1;
    *out = v;
    return 0;
}

static void set_defaults(miaw_config *c)
{
    memset(c, 0, sizeof *c);
    c->source = strdup("(defaults)");
    c->host = strdup("127.0.0.1");
    c->port = 3000;
    c->base_path = strdup("");
    c->api_prefix = strdup("/api/v1");
    c->max_body_bytes = 1 << 20;
    c->request_timeout_ms = 30000;
    c->cors_origin = strdup("");
    c->tls_cert = strdup("");
    c->tls_key = strdup("");
    c->docs_dir = strdup("./web/node_modules/swagger-ui-dist");
    c->api_key = strdup("");
    c->metrics_token = strdup("");
    c->dashboard_dir = strdup("./web/dashboard");
    c->events_max_clients = 64;
    c->events_journal = 1;
    c->data_dir = strdup("./data");
    c->log_level = strdup("info");
    c->log_buffer_kb = 64;
    c->plugin_dir = strdup("./build/plugins");
    const char *def[] = {"messages", "groups", "contacts", "profile", "presence", "business"};
    for (size_t i = 0; i < 6; i++) list_push(&c->plugins_enabled, def[i]);
    c->plugin_config = json_object();
    c->webhook_secret = strdup("");
    c->webhook_timeout_ms = 10000;
    c->webhook_max_retries = 6;
    c->webhook_retry_delay_ms = 60000;
    c->webhook_concurrency = 64;
    c->webhook_per_host = 8;
    /* webhook target policy and outbox quota (see config/miaw.yaml for the reasons) */
    c->webhook_block_private = 0;
    c->webhook_block_metadata = 1;
    c->webhook_https_only = 0;
    c->webhook_quota_events = 100000;
    c->webhook_quota_mb = 256;
    c->webhook_test_max_kb = 1024;
    c->wa_ws_url = strdup("wss://web.whatsapp.com/ws/chat");
    c->wa_ca_file = strdup("");
    c->wa_device_name = strdup("miaw");
    c->auto_reply = strdup("");
    c->chat_storage = 1;
    c->account_validation = 1;
    c->wa_root_key = strdup("");
    c->wa_version = strdup("2.3000.1035194821");
    c->wa_qr_first_ms = 60000;
    c->wa_qr_next_ms = 20000;
    c->wa_qr_max = 6;
    c->wa_keepalive_ms = 25000;
    c->wa_dead_ms = 0; /* 0 = keepalive + 10 s */
    c->wa_handshake_timeout_ms = 20000;
    c->wa_backoff_min_ms = 1000;
    c->wa_backoff_max_ms = 60000;
    c->wa_handshakes_per_sec = 20;
    c->wa_prekeys = 812;
    c->wa_media_ca_file = strdup("");
    c->wa_media_timeout_ms = 30000;
    c->wa_media_max_mb = 2048;
    /* an installed binary (<prefix>/bin/miaw) defaults to its own prefix's plugins and web
     * assets and to a system data directory; the build tree keeps the relative defaults */
    miaw_layout lay;
    if (miaw_layout_detect(NULL, &lay) == MIAW_LAYOUT_INSTALLED) {
        char docs[MIAW_LAYOUT_PATH_CAP + 32];
        set_str(&c->plugin_dir, lay.plugin_dir);
        snprintf(docs, sizeof docs, "%s/swagger-ui-dist", lay.web_dir[0] ? lay.web_dir : "/usr/share/miaw/web");
        set_str(&c->docs_dir, docs);
        set_str(&c->data_dir, MIAW_INSTALLED_DATA_DIR);
    }
    c->rl_api_burst = 20; /* rate limits: off unless configured */
}

/* ---------------------------------------------------------------- YAML walk */
struct ywalk { yaml_document_t *doc; const char *file; miaw_config *c; char *err; size_t errlen; };

static json_t *yaml_to_json(yaml_document_t *doc, yaml_node_t *n, int depth)
{
    if (!n || depth > 32) return json_null();
    switch (n->type) {
    case YAML_SCALAR_NODE: {
        const char *s = (const char *)n->data.scalar.value;
        int b;
        long long i;
        if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
            if (parse_int(s, -(1LL << 62), 1LL << 62, &i) == 0) return json_integer(i);
            if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
                parse_bool(s, &b);
                return json_boolean(b);
            }
            if (strcmp(s, "null") == 0 || strcmp(s, "~") == 0 || !*s) return json_null();
        }
        return json_string(s);
    }
    case YAML_SEQUENCE_NODE: {
        json_t *a = json_array();
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++)
            json_array_append_new(a, yaml_to_json(doc, yaml_document_get_node(doc, *it), depth + 1));
        return a;
    }
    case YAML_MAPPING_NODE: {
        json_t *o = json_object();
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(doc, p->key);
            if (k && k->type == YAML_SCALAR_NODE)
                json_object_set_new(o, (const char *)k->data.scalar.value,
                                    yaml_to_json(doc, yaml_document_get_node(doc, p->value), depth + 1));
        }
        return o;
    }
    default: return json_null();
    }
}

#define YERR(node, ...)                                                                      \
    do {                                                                                     \
        int _n = snprintf(w->err, w->errlen, "%s:%zu: ", w->file, (node)->start_mark.line + 1); \
        if (_n > 0 && (size_t)_n < w->errlen) snprintf(w->err + _n, w->errlen - (size_t)_n, __VA_ARGS__); \
        return -1;                                                                           \
    } while (0)

static int walk_value(struct ywalk *w, const struct key *k, yaml_node_t *v)
{
    char *base = (char *)w->c;
    switch (k->type) {
    case K_SECTION: break; /* handled by caller */
    case K_JSON: {
        if (v->type != YAML_MAPPING_NODE && !(v->type == YAML_SCALAR_NODE && !*v->data.scalar.value))
            YERR(v, "%s: must be a mapping", k->path);
        json_t **dst = (json_t **)(base + k->off);
        json_decref(*dst);
        *dst = v->type == YAML_MAPPING_NODE ? yaml_to_json(w->doc, v, 0) : json_object();
        return 0;
    }
    case K_LIST: {
        miaw_strlist *l = (miaw_strlist *)(base + k->off);
        if (v->type == YAML_SCALAR_NODE) {
            list_from_csv(l, (const char *)v->data.scalar.value);
            return 0;
        }
        if (v->type != YAML_SEQUENCE_NODE) YERR(v, "%s: must be a list of strings", k->path);
        list_free(l);
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
            yaml_node_t *e = yaml_document_get_node(w->doc, *it);
            if (!e || e->type != YAML_SCALAR_NODE) YERR(v, "%s: must be a list of strings", k->path);
            list_push(l, (const char *)e->data.scalar.value);
        }
        return 0;
    }
    default: break;
    }
    if (v->type != YAML_SCALAR_NODE) YERR(v, "%s: must be a single value", k->path);
    const char *s = (const char *)v->data.scalar.value;
    if (k->type == K_STR) {
        set_str((char **)(base + k->off), s);
    } else if (k->type == K_BOOL) {
        int b;
        if (parse_bool(s, &b) != 0) YERR(v, "%s: '%s' is not a boolean (true/false)", k->path, s);
        *(int *)(base + k->off) = b;
    } else if (k->type == K_INT) {
        long long i;
        if (parse_int(s, k->min, k->max, &i) != 0)
            YERR(v, "%s: '%s' is not an integer in %lld..%lld", k->path, s, k->min, k->max);
        if (k->off == O(max_body_bytes)) w->c->max_body_bytes = i;
        else *(int *)(base + k->off) = (int)i;
    }
    return 0;
}

static int walk_map(struct ywalk *w, yaml_node_t *m, const char *prefix)
{
    if (m->type != YAML_MAPPING_NODE) YERR(m, "%s: must be a mapping", *prefix ? prefix : "(top level)");
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(w->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(w->doc, p->value);
        if (!kn || !vn || kn->type != YAML_SCALAR_NODE) YERR(m, "keys must be plain strings");
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", (const char *)kn->data.scalar.value);
        const struct key *k = find_key(path);
        if (!k) YERR(kn, "unknown key '%s'", path);
        if (k->type == K_SECTION) {
            if (vn->type == YAML_SCALAR_NODE && !*vn->data.scalar.value) continue; /* empty section */
            if (walk_map(w, vn, path) != 0) return -1;
        } else if (walk_value(w, k, vn) != 0) {
            return -1;
        }
    }
    return 0;
}

static int load_file(miaw_config *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    int rc = 0;
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errlen, "%s:%zu: YAML syntax error: %s", path, parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "unknown");
        rc = -1;
    } else {
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (root && !(root->type == YAML_SCALAR_NODE && !*root->data.scalar.value)) {
            struct ywalk w = {&doc, path, c, err, errlen};
            rc = walk_map(&w, root, "");
        }
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    fclose(f);
    set_str(&c->source, path);
    return rc;
}

/* ---------------------------------------------------------------- environment */
static int env_int(const char *name, long long min, long long max, int *dst, char *err, size_t errlen)
{
    const char *v = getenv(name);
    if (!v || !*v) return 0;
    long long i;
    if (parse_int(v, min, max, &i) != 0) {
        snprintf(err, errlen, "environment %s: '%s' is not an integer in %lld..%lld", name, v, min, max);
        return -1;
    }
    *dst = (int)i;
    return 0;
}

static int env_bool(const char *name, int *dst, char *err, size_t errlen)
{
    const char *v = getenv(name);
    if (!v || !*v) return 0;
    if (parse_bool(v, dst) != 0) {
        snprintf(err, errlen, "environment %s: '%s' is not a boolean", name, v);
        return -1;
    }
    return 0;
}

static void env_str(const char *name, char **dst)
{
    const char *v = getenv(name);
    if (v && *v) set_str(dst, v);
}

static int apply_env(miaw_config *c, char *err, size_t errlen)
{
    env_str("API_HOST", &c->host);
    env_str("API_KEY", &c->api_key);
    env_str("API_WEBHOOK_SECRET", &c->webhook_secret);
    env_str("CORS_ORIGIN", &c->cors_origin);
    env_str("SESSION_PATH", &c->data_dir);
    env_str("LOG_LEVEL", &c->log_level);
    env_str("MIAW_BASE_PATH", &c->base_path);
    env_str("MIAW_PLUGIN_DIR", &c->plugin_dir);
    env_str("MIAW_DOCS_DIR", &c->docs_dir);
    env_str("MIAW_METRICS_TOKEN", &c->metrics_token);
    env_str("MIAW_DASHBOARD_DIR", &c->dashboard_dir);
    env_str("MIAW_DEVICE_NAME", &c->wa_device_name);
    env_str("MIAW_AUTO_REPLY", &c->auto_reply);
    env_str("WA_WS_URL", &c->wa_ws_url);
    env_str("WA_CA_FILE", &c->wa_ca_file);
    env_str("WA_ROOT_KEY", &c->wa_root_key);
    env_str("WA_VERSION", &c->wa_version);
    env_str("WA_MEDIA_CA_FILE", &c->wa_media_ca_file);
    const char *v;
    if ((v = getenv("MIAW_BASIC_AUTH")) && *v) list_from_csv(&c->basic_auth, v);
    if ((v = getenv("MIAW_WEBHOOK_URL")) && *v) list_from_csv(&c->webhook_urls, v);
    if ((v = getenv("MIAW_PLUGINS")) && *v) list_from_csv(&c->plugins_enabled, v);
    /* webhook target policy and outbox quota; MIAW_WEBHOOK_ALLOW/DENY = "" clears the list */
    if ((v = getenv("MIAW_WEBHOOK_ALLOW"))) list_from_csv(&c->webhook_allow, v);
    if ((v = getenv("MIAW_WEBHOOK_DENY"))) list_from_csv(&c->webhook_deny, v);
    if (env_bool("MIAW_WEBHOOK_BLOCK_PRIVATE", &c->webhook_block_private, err, errlen) ||
        env_bool("MIAW_WEBHOOK_BLOCK_METADATA", &c->webhook_block_metadata, err, errlen) ||
        env_bool("MIAW_WEBHOOK_HTTPS_ONLY", &c->webhook_https_only, err, errlen) ||
        env_int("MIAW_WEBHOOK_QUOTA_EVENTS", 1, 100000000, &c->webhook_quota_events, err, errlen) ||
        env_int("MIAW_WEBHOOK_QUOTA_MB", 1, 1048576, &c->webhook_quota_mb, err, errlen) ||
        env_int("MIAW_WEBHOOK_TEST_MAX_KB", 1, 1048576, &c->webhook_test_max_kb, err, errlen))
        return -1;
    if ((v = getenv("WA_MEDIA_UPLOAD_HOSTS")) && *v) list_from_csv(&c->wa_media_upload_hosts, v);
    int mb = 0;
    if (env_int("API_PORT", 1, 65535, &c->port, err, errlen) ||
        env_int("MIAW_EVENTS_MAX_CLIENTS", 1, 10000, &c->events_max_clients, err, errlen) ||
        env_int("LOG_BUFFER_KB", 0, 65536, &c->log_buffer_kb, err, errlen) ||
        env_bool("MIAW_EVENTS_JOURNAL", &c->events_journal, err, errlen) ||
        env_int("WEBHOOK_TIMEOUT_MS", 100, 600000, &c->webhook_timeout_ms, err, errlen) ||
        env_int("WEBHOOK_MAX_RETRIES", 1, 100, &c->webhook_max_retries, err, errlen) ||
        env_int("WEBHOOK_RETRY_DELAY_MS", 1, 86400000, &c->webhook_retry_delay_ms, err, errlen) ||
        env_int("WEBHOOK_CONCURRENCY", 1, 10000, &c->webhook_concurrency, err, errlen) ||
        env_int("WEBHOOK_PER_HOST_CONCURRENCY", 1, 1000, &c->webhook_per_host, err, errlen) ||
        env_int("MIAW_MAX_BODY_BYTES", 1024, 1 << 30, &mb, err, errlen) ||
        env_int("MIAW_WA_QR_FIRST_MS", 50, 600000, &c->wa_qr_first_ms, err, errlen) ||
        env_int("MIAW_WA_QR_NEXT_MS", 50, 600000, &c->wa_qr_next_ms, err, errlen) ||
        env_int("MIAW_WA_QR_MAX", 1, 100, &c->wa_qr_max, err, errlen) ||
        env_int("MIAW_WA_KEEPALIVE_MS", 50, 600000, &c->wa_keepalive_ms, err, errlen) ||
        env_int("MIAW_WA_DEAD_MS", 50, 900000, &c->wa_dead_ms, err, errlen) ||
        env_int("MIAW_WA_HANDSHAKE_TIMEOUT_MS", 50, 120000, &c->wa_handshake_timeout_ms, err, errlen) ||
        env_int("MIAW_WA_BACKOFF_MIN_MS", 10, 600000, &c->wa_backoff_min_ms, err, errlen) ||
        env_int("MIAW_WA_BACKOFF_MAX_MS", 10, 3600000, &c->wa_backoff_max_ms, err, errlen) ||
        env_int("MIAW_WA_HANDSHAKES_PER_SEC", 1, 10000, &c->wa_handshakes_per_sec, err, errlen) ||
        env_int("MIAW_WA_PREKEYS", 1, 2000, &c->wa_prekeys, err, errlen) ||
        env_int("MIAW_WA_MEDIA_TIMEOUT_MS", 1000, 600000, &c->wa_media_timeout_ms, err, errlen) ||
        env_int("MIAW_WA_MEDIA_MAX_MB", 1, 4096, &c->wa_media_max_mb, err, errlen) ||
        env_int("MIAW_CHAT_RETENTION_DAYS", 0, 36500, &c->chat_retention_days, err, errlen) ||
        env_int("MIAW_RATE_LIMIT_API_PER_KEY", 0, 100000000, &c->rl_api_per_key, err, errlen) ||
        env_int("MIAW_RATE_LIMIT_API_PER_ADDRESS", 0, 100000000, &c->rl_api_per_addr, err, errlen) ||
        env_int("MIAW_RATE_LIMIT_API_BURST", 1, 1000000, &c->rl_api_burst, err, errlen) ||
        env_int("MIAW_RATE_LIMIT_SEND_PER_MINUTE", 0, 1000000, &c->rl_send_per_min, err, errlen) ||
        env_int("MIAW_RATE_LIMIT_SEND_MIN_GAP_MS", 0, 3600000, &c->rl_send_gap_ms, err, errlen) ||
        env_bool("MIAW_ACCOUNT_VALIDATION", &c->account_validation, err, errlen) ||
        env_bool("MIAW_AUTO_MARK_READ", &c->auto_mark_read, err, errlen) ||
        env_bool("MIAW_CHAT_STORAGE", &c->chat_storage, err, errlen))
        return -1;
    if (mb) c->max_body_bytes = mb;
    return 0;
}

int miaw_config_load(miaw_config *c, const char *path, char *err, size_t errlen)
{
    set_defaults(c);
    if (path && load_file(c, path, err, errlen) != 0) return -1;
    return apply_env(c, err, errlen);
}

int miaw_config_set_port(miaw_config *c, const char *v, char *err, size_t errlen)
{
    long long i;
    if (!v || parse_int(v, 1, 65535, &i) != 0) {
        snprintf(err, errlen, "--port: '%s' is not a port number (1..65535)", v ? v : "");
        return -1;
    }
    c->port = (int)i;
    return 0;
}

int miaw_config_validate(const miaw_config *c, char *err, size_t errlen)
{
    if (!*c->tls_cert != !*c->tls_key) {
        snprintf(err, errlen, "%s: server.tls: cert and key must be given together", c->source);
        return -1;
    }
    if (*c->base_path && (c->base_path[0] != '/' || c->base_path[strlen(c->base_path) - 1] == '/')) {
        snprintf(err, errlen, "%s: server.base_path: must start with '/' and not end with one", c->source);
        return -1;
    }
    if (*c->api_prefix && (c->api_prefix[0] != '/' || c->api_prefix[strlen(c->api_prefix) - 1] == '/')) {
        snprintf(err, errlen, "%s: server.api_prefix: must start with '/' and not end with one", c->source);
        return -1;
    }
    if (!*c->data_dir) {
        snprintf(err, errlen, "%s: data_dir: must not be empty", c->source);
        return -1;
    }
    for (size_t i = 0; i < c->basic_auth.n; i++)
        if (!strchr(c->basic_auth.v[i], ':') || c->basic_auth.v[i][0] == ':') {
            snprintf(err, errlen, "%s: auth.basic_auth: entry %zu must be user:password", c->source, i + 1);
            return -1;
        }
    for (size_t i = 0; i < c->webhook_urls.n; i++)
        if (strncmp(c->webhook_urls.v[i], "http://", 7) && strncmp(c->webhook_urls.v[i], "https://", 8)) {
            snprintf(err, errlen, "%s: webhook.url: '%s' must be an http or https URL", c->source,
                     c->webhook_urls.v[i]);
            return -1;
        }
    for (size_t i = 0; i < c->wa_media_upload_hosts.n; i++) {
        const char *h = c->wa_media_upload_hosts.v[i];
        if (!*h || strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") != strlen(h)) {
            snprintf(err, errlen, "%s: whatsapp.media_upload_hosts: '%s' must be host or host:port", c->source, h);
            return -1;
        }
    }
    if (strncmp(c->wa_ws_url, "ws://", 5) && strncmp(c->wa_ws_url, "wss://", 6)) {
        snprintf(err, errlen, "%s: whatsapp.ws_url: must be a ws:// or wss:// URL", c->source);
        return -1;
    }
    static const char *levels[] = {"error", "warn", "warning", "info", "debug", "trace"};
    int ok = 0;
    for (size_t i = 0; i < 6; i++) ok |= strcasecmp(c->log_level, levels[i]) == 0;
    if (!ok) {
        snprintf(err, errlen, "%s: log.level: '%s' is not one of error, warn, info, debug", c->source, c->log_level);
        return -1;
    }
    return 0;
}

void miaw_config_free(miaw_config *c)
{
    char **strs[] = {&c->source, &c->host, &c->base_path, &c->api_prefix, &c->cors_origin,
                     &c->tls_cert, &c->tls_key, &c->docs_dir, &c->api_key, &c->data_dir, &c->log_level,
                     &c->plugin_dir, &c->webhook_secret, &c->wa_ws_url, &c->wa_ca_file,
                     &c->wa_device_name, &c->auto_reply, &c->wa_root_key, &c->wa_version,
                     &c->wa_media_ca_file, &c->metrics_token, &c->dashboard_dir};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        free(*strs[i]);
        *strs[i] = NULL;
    }
    list_free(&c->basic_auth);
    list_free(&c->plugins_enabled);
    list_free(&c->webhook_urls);
    list_free(&c->webhook_allow);
    list_free(&c->webhook_deny);
    list_free(&c->wa_media_upload_hosts);
    json_decref(c->plugin_config);
    c->plugin_config = NULL;
}

static json_t *list_json(const miaw_strlist *l, int users_only)
{
    json_t *a = json_array();
    for (size_t i = 0; i < l->n; i++) {
        if (users_only) {
            const char *colon = strchr(l->v[i], ':');
            json_array_append_new(a, json_stringn(l->v[i], colon ? (size_t)(colon - l->v[i]) : strlen(l->v[i])));
        } else {
            json_array_append_new(a, json_string(l->v[i]));
        }
    }
    return a;
}

json_t *miaw_config_public_json(const miaw_config *c)
{
    return json_pack("{s:i,s:s,s:s,s:s,s:s,s:o,s:s,s:b,s:s,s:b,s:o,s:b,s:i,s:o,s:o,s:s,s:b,s:I,s:{s:i,s:i,s:i}}",
                     "port", c->port, "host", c->host, "basePath", c->base_path, "apiPrefix", c->api_prefix,
                     "logLevel", c->log_level, "plugins", list_json(&c->plugins_enabled, 0),
                     "deviceName", c->wa_device_name, "accountValidation", c->account_validation,
                     "autoReply", c->auto_reply, "autoMarkRead", c->auto_mark_read,
                     "webhookUrls", list_json(&c->webhook_urls, 0),
                     "chatStorage", c->chat_storage, "chatRetentionDays", c->chat_retention_days,
                     "basicAuthUsers", list_json(&c->basic_auth, 1),
                     "tls", json_boolean(*c->tls_cert != 0), "wsUrl", c->wa_ws_url,
                     "corsEnabled", *c->cors_origin != 0, "maxBodyBytes", (json_int_t)c->max_body_bytes,
                     "webhook", "timeoutMs", c->webhook_timeout_ms, "maxRetries", c->webhook_max_retries,
                     "retryDelayMs", c->webhook_retry_delay_ms);
}
