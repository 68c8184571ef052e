/* bench/http/bare.c - the peer of the HTTP benchmark: a minimal h2o (libuv flavour) server
 * that answers every request with one fixed response, the bytes miaw gives for
 * GET /api/v1/instances/{id}: same status, body, server name and response headers (run.sh
 * copies them from miaw's answer, the request id replaced by a constant of the same
 * length). No routing, no auth, no JSON, no logging: what is left is h2o itself, so
 * miaw's throughput over this one's is the cost of miaw's own pipeline. HTTP/1.1 and h2c
 * with prior knowledge (h2o detects the preface), 127.0.0.1 only.
 * Usage: bench_http_bare PORT BODY_FILE [STATUS [NAME:VALUE ...]]
 * Prints "listening PORT" once ready; stops on SIGINT/SIGTERM. */
#include <h2o.h>
#include <h2o/socket/uv-binding.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static h2o_globalconf_t g_cfg;
static h2o_context_t g_ctx;
static h2o_accept_ctx_t g_accept;
static uv_tcp_t g_listener;
static uv_signal_t g_sigint, g_sigterm;
static char *g_body;
static size_t g_body_len;
static int g_status = 200;
#define MAX_HEADERS 16
static struct { const char *name, *value; size_t nlen, vlen; } g_hdr[MAX_HEADERS];
static int g_nhdr;

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    default: return "Unknown";
    }
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    req->res.status = g_status;
    req->res.reason = reason(g_status);
    /* the strings live as long as the process: h2o may point at them without copying */
    for (int i = 0; i < g_nhdr; i++)
        h2o_add_header_by_str(&req->pool, &req->res.headers, g_hdr[i].name, g_hdr[i].nlen, 1, NULL, g_hdr[i].value,
                              g_hdr[i].vlen);
    req->res.content_length = g_body_len; /* as miaw does: a known length, no chunked framing */
    h2o_send_inline(req, g_body, g_body_len);
    return 0;
}

static void on_accept(uv_stream_t *listener, int status)
{
    if (status != 0) return;
    uv_tcp_t *conn = malloc(sizeof *conn);
    if (!conn) return;
    uv_tcp_init(listener->loop, conn);
    if (uv_accept(listener, (uv_stream_t *)conn) != 0) {
        uv_close((uv_handle_t *)conn, (uv_close_cb)free);
        return;
    }
    uv_tcp_nodelay(conn, 1); /* as miaw does */
    h2o_socket_t *sock = h2o_uv_socket_create((uv_stream_t *)conn, (uv_close_cb)free);
    h2o_accept(&g_accept, sock);
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)signum;
    uv_stop(s->loop);
}

static int read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t cap = 4096;
    g_body = malloc(cap);
    for (;;) {
        if (!g_body) break;
        g_body_len += fread(g_body + g_body_len, 1, cap - g_body_len, f);
        if (g_body_len < cap) break;
        char *n = realloc(g_body, cap *= 2);
        if (!n) { free(g_body); g_body = NULL; }
        else g_body = n;
    }
    int bad = ferror(f) || !g_body;
    fclose(f);
    return bad ? -1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s PORT BODY_FILE [STATUS [NAME:VALUE ...]]\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]);
    if (port <= 0 || port > 65535) {
        fprintf(stderr, "bad port %s\n", argv[1]);
        return 2;
    }
    if (read_file(argv[2]) != 0) {
        fprintf(stderr, "cannot read %s\n", argv[2]);
        return 2;
    }
    if (argc > 3) g_status = atoi(argv[3]);
    for (int i = 4; i < argc; i++) {
        char *colon = strchr(argv[i], ':');
        if (!colon || colon == argv[i] || g_nhdr == MAX_HEADERS) {
            fprintf(stderr, "bad or too many headers at '%s' (NAME:VALUE, at most %d)\n", argv[i], MAX_HEADERS);
            return 2;
        }
        *colon = '\0';
        for (char *p = argv[i]; *p; p++) /* h2 wants lower-case names; h2o sends them as given */
            if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
        const char *v = colon + 1;
        while (*v == ' ') v++;
        g_hdr[g_nhdr].name = argv[i];
        g_hdr[g_nhdr].nlen = strlen(argv[i]);
        g_hdr[g_nhdr].value = v;
        g_hdr[g_nhdr].vlen = strlen(v);
        g_nhdr++;
    }
    signal(SIGPIPE, SIG_IGN);

    uv_loop_t *loop = uv_default_loop();
    h2o_config_init(&g_cfg);
    g_cfg.server_name = h2o_iovec_init(H2O_STRLIT("miaw")); /* the same server header as miaw */
    h2o_hostconf_t *host = h2o_config_register_host(&g_cfg, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pc = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *h = h2o_create_handler(pc, sizeof *h);
    h->on_req = on_req;
    h2o_context_init(&g_ctx, loop, &g_cfg);
    g_accept.ctx = &g_ctx;
    g_accept.hosts = g_cfg.hosts;

    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", port, &addr);
    uv_tcp_init(loop, &g_listener);
    int rc = uv_tcp_bind(&g_listener, (struct sockaddr *)&addr, 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&g_listener, 1024, on_accept);
    if (rc != 0) {
        fprintf(stderr, "cannot listen on 127.0.0.1:%d: %s\n", port, uv_strerror(rc));
        return 1;
    }
    uv_signal_init(loop, &g_sigint);
    uv_signal_start(&g_sigint, on_signal, SIGINT);
    uv_signal_init(loop, &g_sigterm);
    uv_signal_start(&g_sigterm, on_signal, SIGTERM);
    printf("listening %d\n", port);
    fflush(stdout);
    uv_run(loop, UV_RUN_DEFAULT);
    free(g_body);
    return 0;
}
