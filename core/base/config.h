/* core/base/config.h - miaw serve configuration: the YAML file (libyaml), environment
 * overrides (spec 8.1 plus MIAW_*), command-line overrides, validation. Owns
 * miaw_config and every string in it (freed by miaw_config_free). */
#ifndef MIAW_CONFIG_H
#define MIAW_CONFIG_H
#include <stddef.h>
#include <jansson.h>

typedef struct miaw_strlist { char **v; size_t n; } miaw_strlist;

typedef struct miaw_config {
    char *source;            /* file it was read from, or "(defaults)" */
    /* server */
    char *host;
    int port;
    char *base_path;         /* "" or "/sub": prefix of every route (sub-path deployment) */
    char *api_prefix;        /* "/api/v1" */
    long long max_body_bytes;
    int request_timeout_ms;  /* async handlers */
    char *cors_origin;       /* "" = no CORS headers */
    char *tls_cert, *tls_key;
    char *docs_dir;          /* Swagger UI assets (swagger-ui-dist) */
    /* auth */
    char *api_key;           /* "" = generate/load from data_dir */
    miaw_strlist basic_auth; /* "user:pass" */
    /* storage, logs */
    char *data_dir;
    char *log_level;
    int log_json;
    int log_buffer_kb;       /* while the HTTP server listens: log buffer, written at most 5 ms late (http_server.c); 0 = a write per line */
    /* plugins */
    char *plugin_dir;
    miaw_strlist plugins_enabled;
    json_t *plugin_config;   /* object: name -> section (owned) */
    /* webhooks */
    miaw_strlist webhook_urls; /* global default receivers */
    char *webhook_secret;    /* "" = generate/load from data_dir */
    int webhook_timeout_ms, webhook_max_retries, webhook_retry_delay_ms;
    int webhook_concurrency, webhook_per_host;
    /* webhook target policy and outbox quota (webhooks/webhook_policy.c, webhooks.c) */
    miaw_strlist webhook_allow, webhook_deny; /* CIDR ranges; allow overrides the switches */
    int webhook_block_private;  /* refuse loopback, private, ULA, link-local, reserved */
    int webhook_block_metadata; /* refuse link-local and cloud metadata addresses */
    int webhook_https_only;     /* refuse http:// targets */
    int webhook_quota_events;   /* undelivered outbox rows per instance */
    int webhook_quota_mb;       /* undelivered outbox bytes per instance, MiB */
    int webhook_test_max_kb;    /* count x serialized data of one POST .../webhook/test */
    /* whatsapp */
    char *wa_ws_url, *wa_ca_file, *wa_device_name, *auto_reply;
    int account_validation, auto_mark_read, chat_storage;
    int chat_retention_days; /* chat storage rows older than this are deleted; 0 = kept forever */
    char *wa_root_key;       /* Noise certificate root public key (hex/base64), "" = WhatsApp's */
    char *wa_version;        /* client version "a.b.c" */
    int wa_qr_first_ms, wa_qr_next_ms, wa_qr_max;
    int wa_keepalive_ms, wa_dead_ms, wa_handshake_timeout_ms;
    int wa_backoff_min_ms, wa_backoff_max_ms, wa_handshakes_per_sec, wa_prekeys;
    /* observability: GET /metrics, GET {api}/events, the dashboard */
    char *metrics_token;     /* "" = /metrics needs the API key; else this bearer token is accepted too */
    char *dashboard_dir;     /* the dashboard's static files (web/dashboard) */
    int events_max_clients;  /* open event streams at once */
    int events_journal;      /* events no webhook takes are kept in the outbox for the event stream */
    /* media transfers (engine/media*.c) */
    char *wa_media_ca_file;  /* extra CA (PEM) trusted for media hosts, "" = none */
    miaw_strlist wa_media_upload_hosts; /* "host[:port]" tried before media_conn's for uploads */
    int wa_media_timeout_ms; /* connect deadline and longest stall of a transfer */
    int wa_media_max_mb;     /* largest file uploaded or downloaded */
    /* rate limits (http/ratelimit.c; engine sends). 0 = that limit is off */
    int rl_api_per_key;      /* REST requests per minute per API key (admin, scoped) */
    int rl_api_per_addr;     /* REST requests per minute per client address */
    int rl_api_burst;        /* requests that may come at once before the pace applies */
    int rl_send_per_min;     /* messages sent per minute per instance */
    int rl_send_gap_ms;      /* least time between two sends of an instance */
} miaw_config;

/* Defaults, then file (path may be NULL: no file), then environment. On error returns
 * -1 and writes "file:line: key: problem" into err. */
int miaw_config_load(miaw_config *c, const char *path, char *err, size_t errlen);
/* Applies "--port N" style overrides after load; -1 with message on a bad value. */
int miaw_config_set_port(miaw_config *c, const char *v, char *err, size_t errlen);
/* Checks cross-field rules (port range, tls pair, paths); -1 with message. */
int miaw_config_validate(const miaw_config *c, char *err, size_t errlen);
void miaw_config_free(miaw_config *c);
/* The effective settings, no secrets (GET /api/v1/config). New reference. */
json_t *miaw_config_public_json(const miaw_config *c);
#endif
