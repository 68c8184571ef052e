/* sim/main.c - the miaw-sim executable: command line, the h2o (libuv) HTTP server that
 * carries both the WebSocket endpoint /ws/chat and the /sim control API, signals and
 * the start-up banner with the certificate root. Owns the loop, listener and h2o setup. */
#include <h2o.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "conn.h"
#include "control.h"
#include "profile.h"
#include "http/listen_util.h"
#include "base/log.h"
#include "media.h"
#include "media_tls.h"
#include "phone.h"
#include "state.h"

static miaw_sim g_sim;
static h2o_globalconf_t g_conf;
static h2o_context_t g_ctx;
static h2o_accept_ctx_t g_accept;
static uv_tcp_t g_listener;

static void usage(FILE *f)
{
    fprintf(f, "usage: miaw-sim --listen HOST:PORT [--state-dir DIR] [--media-listen HOST:PORT] [--log-level LEVEL]\n"
               "  A local WhatsApp server for tests: WebSocket /ws/chat, control API /sim (see sim/README.md).\n"
               "  PORT 0 picks a free port; the chosen one is printed. The HTTPS media host listens on\n"
               "  --media-listen (default: the main port + 1 when free, else any free port).\n");
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    h2o_iovec_t p = req->path_normalized;
    if (h2o_memis(p.base, p.len, H2O_STRLIT("/ws/chat"))) {
        if (miaw_sim_conn_upgrade(&g_sim, req) == 0) return 0;
        miaw_sim_http_json(req, 426, miaw_sim_error_json("UPGRADE_REQUIRED", NULL, "/ws/chat takes a WebSocket upgrade over HTTP/1.1"));
        return 0;
    }
    if ((p.len == 4 || (p.len > 4 && p.base[4] == '/')) && !memcmp(p.base, "/sim", 4)) {
        miaw_sim_control(&g_sim, req);
        return 0;
    }
    miaw_sim_http_json(req, 404, miaw_sim_error_json("NOT_FOUND", NULL, "no such path"));
    return 0;
}

static void on_signal(uv_signal_t *s, int signum)
{
    MIAW_INFO("sim", "signal %d: stopping", signum);
    uv_stop(s->loop);
}

/* "HOST:PORT" or "[v6]:PORT" -> sockaddr */
static int parse_listen(const char *s, struct sockaddr_storage *ss, char *host, size_t hcap)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s) return -1;
    size_t hl = (size_t)(colon - s);
    const char *h = s;
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= hcap) return -1;
    memcpy(host, h, hl);
    host[hl] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || port < 0 || port > 65535) return -1;
    if (!strcmp(host, "localhost")) snprintf(host, hcap, "127.0.0.1");
    return miaw_listen_addr(host, (int)port, ss);
}

int main(int argc, char **argv)
{
    const char *listen_s = NULL, *dir = NULL, *media_s = NULL;
    const char *ll = getenv("LOG_LEVEL");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--listen") && i + 1 < argc) listen_s = argv[++i];
        else if (!strcmp(argv[i], "--state-dir") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--media-listen") && i + 1 < argc) media_s = argv[++i];
        else if (!strcmp(argv[i], "--log-level") && i + 1 < argc) ll = argv[++i];
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!listen_s) {
        usage(stderr);
        return 2;
    }
    if (ll && *ll && miaw_log_set_level_name(ll)) fprintf(stderr, "miaw-sim: unknown log level %s\n", ll);
    struct sockaddr_storage ss;
    char host[64];
    if (parse_listen(listen_s, &ss, host, sizeof host)) {
        fprintf(stderr, "miaw-sim: --listen wants HOST:PORT, got %s\n", listen_s);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    static uv_loop_t loop;
    uv_loop_init(&loop);
    char err[512];
    if (miaw_sim_state_open(&g_sim, &loop, dir, err, sizeof err) || miaw_sim_phones_open(&g_sim, err, sizeof err)) {
        fprintf(stderr, "miaw-sim: %s\n", err);
        return 1;
    }
    h2o_config_init(&g_conf);
    g_conf.max_request_entity_size = 1 << 20;
    h2o_hostconf_t *hc = h2o_config_register_host(&g_conf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pc = h2o_config_register_path(hc, "/", 0);
    h2o_handler_t *h = h2o_create_handler(pc, sizeof *h);
    h->on_req = on_req;
    h2o_context_init(&g_ctx, &loop, &g_conf);
    g_accept.ctx = &g_ctx;
    g_accept.hosts = g_conf.hosts;
    int rc = miaw_listen_h2o(&loop, &g_listener, (struct sockaddr *)&ss, &g_accept);
    if (rc) {
        fprintf(stderr, "miaw-sim: cannot listen on %s: %s\n", listen_s, uv_strerror(rc));
        return 1;
    }
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    uv_tcp_getsockname(&g_listener, (struct sockaddr *)&bound, &blen);
    int port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                 : ((struct sockaddr_in *)&bound)->sin_port);
    if (miaw_sim_media_open(&g_sim, err, sizeof err) ||
        miaw_sim_media_tls_start(&g_sim, &loop, media_s, host, port, err, sizeof err)) {
        fprintf(stderr, "miaw-sim: %s\n", err);
        return 1;
    }
    char base[128];
    snprintf(base, sizeof base, "http://%s%s%s:%d", strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", port);
    miaw_sim_profile_set_base(base); /* profile picture URLs are served on this port */
    char hex[65], b64[48];
    miaw_sim_hex(g_sim.root.pub, 32, hex);
    miaw_sim_b64_encode(g_sim.root.pub, 32, b64, sizeof b64);
    /* one machine-readable line on stdout for harnesses, then logs on stderr */
    printf("{\"event\":\"listening\",\"host\":\"%s\",\"port\":%d,\"ws\":\"ws://%s%s%s:%d/ws/chat\","
           "\"wss\":\"wss://%s/ws/chat\",\"rootPublicKeyHex\":\"%s\",\"rootPublicKeyBase64\":\"%s\",\"mediaHost\":\"%s\"}\n",
           host, port, strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", port, miaw_sim_media_host(), hex,
           b64, miaw_sim_media_host());
    fflush(stdout);
    MIAW_INFO("sim", "miaw-sim on %s port %d, %s state, root key %s", host, port, dir ? "persistent" : "in-memory", hex);

    static uv_signal_t sigint, sigterm;
    uv_signal_init(&loop, &sigint);
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_signal_init(&loop, &sigterm);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_run(&loop, UV_RUN_DEFAULT);
    miaw_sim_state_save(&g_sim);
    miaw_sim_phones_close(&g_sim);
    miaw_sim_media_close();
    miaw_sim_profile_close();
    miaw_sim_state_close(&g_sim);
    return 0;
}
