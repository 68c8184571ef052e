/* tests/unit/test_wa_ws.c - the WebSocket client against a local Node server
 * (tests/unit/wa_ws_server.mjs, 127.0.0.1 only): upgrade with Origin, binary echo of small
 * and large messages, fragments, text dropped, ping/pong both ways, close codes from either
 * side, abrupt drops, refused connections, HTTP refusal, wss with a CA file, hostname and CA
 * verification failures, keep-alive timeout, message size limit, freeing inside callbacks. */
#include <miaw/plugin.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "wa/tls_ctx.h"
#include "wa/ws.h"
#include <fcntl.h>
#include <sys/stat.h>

/* ------------------------------------------------------------------ fixtures */
static char tmpdir[64];
static char cert_ok[128], key_ok[128], cert_other[128];
static int ws_port, wss_port;
static pid_t server_pid;
static int server_stdin = -1;

static int write_cert(const char *certpath, const char *keypath, const char *san)
{
    EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = X509_new();
    if (!pk || !x) return -1;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)getpid());
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_NAME *nm = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"miaw test", -1, -1, 0);
    X509_set_issuer_name(x, nm);
    X509_set_pubkey(x, pk);
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509_EXTENSION *e1 = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
    X509_EXTENSION *e2 = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
    if (!e1 || !e2) return -1;
    X509_add_ext(x, e1, -1);
    X509_add_ext(x, e2, -1);
    X509_EXTENSION_free(e1);
    X509_EXTENSION_free(e2);
    if (!X509_sign(x, pk, EVP_sha256())) return -1;
    FILE *f = fopen(certpath, "w");
    PEM_write_X509(f, x);
    fclose(f);
    if (keypath) {
        f = fopen(keypath, "w");
        PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
        fclose(f);
    }
    X509_free(x);
    EVP_PKEY_free(pk);
    return 0;
}

static void stop_server(void)
{
    if (server_stdin >= 0) close(server_stdin);
    if (server_pid > 0) {
        int st;
        for (int i = 0; i < 50 && waitpid(server_pid, &st, WNOHANG) == 0; i++) usleep(20000);
        if (waitpid(server_pid, &st, WNOHANG) == 0) {
            kill(server_pid, SIGTERM);
            waitpid(server_pid, &st, 0);
        }
    }
    if (tmpdir[0]) {
        unlink(cert_ok);
        unlink(key_ok);
        unlink(cert_other);
        rmdir(tmpdir);
    }
}

static int start_server(void)
{
    if (server_pid) return ws_port ? 0 : -1;
    strcpy(tmpdir, "/tmp/miaw-ws-test-XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    snprintf(cert_ok, sizeof cert_ok, "%s/ok.pem", tmpdir);
    snprintf(key_ok, sizeof key_ok, "%s/ok.key", tmpdir);
    snprintf(cert_other, sizeof cert_other, "%s/other.pem", tmpdir);
    if (write_cert(cert_ok, key_ok, "DNS:miaw.test,IP:127.0.0.1") ||
        write_cert(cert_other, NULL, "DNS:other.test"))
        return -1;
    int in[2], out[2];
    if (pipe(in) || pipe(out)) return -1;
    server_pid = fork();
    if (server_pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execlp("node", "node", "tests/unit/wa_ws_server.mjs", key_ok, cert_ok, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    server_stdin = in[1];
    atexit(stop_server);
    FILE *f = fdopen(out[0], "r");
    char line[128];
    if (!f || !fgets(line, sizeof line, f) || sscanf(line, "PORTS %d %d", &ws_port, &wss_port) != 2) {
        ws_port = 0;
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ a scripted client */
typedef struct {
    miaw_ws *ws;
    uv_loop_t loop;
    uv_timer_t watchdog;
    int opened, closed, close_code, timed_out, free_in_open, callbacks_after_free;
    char close_reason[160];
    int step;          /* position in the echo script */
    uint8_t *big;      /* the large message sent */
    size_t big_len;
    char origin[128];
    int pongs;
    int messages;
    const char *send_on_open; /* a command sent right after the origin message */
} client;

static void on_open(miaw_ws *ws, void *ud)
{
    client *c = ud;
    c->opened++;
    if (c->free_in_open) {
        miaw_ws_free(ws);
        c->ws = NULL;
    }
}

static void on_pong(miaw_ws *ws, const uint8_t *d, size_t n, void *ud)
{
    (void)ws;
    client *c = ud;
    if (n == 3 && !memcmp(d, "abc", 3)) c->pongs++;
}

static void on_close(miaw_ws *ws, int code, const char *reason, void *ud)
{
    (void)ws;
    client *c = ud;
    if (!c->ws) c->callbacks_after_free++;
    c->closed++;
    c->close_code = code;
    snprintf(c->close_reason, sizeof c->close_reason, "%s", reason);
    uv_stop(&c->loop);
}

static void send_str(client *c, const char *s)
{
    CU_ASSERT_EQUAL(miaw_ws_send(c->ws, s, strlen(s)), 0);
}

#define IS(d, n, s) ((n) == strlen(s) && !memcmp((d), (s), (n)))

/* The echo script: each message received moves it on. */
static void on_message(miaw_ws *ws, const uint8_t *d, size_t n, void *ud)
{
    client *c = ud;
    if (!c->ws) c->callbacks_after_free++;
    c->messages++;
    if (c->step == 0) {
        snprintf(c->origin, sizeof c->origin, "%.*s", (int)n, (const char *)d);
        c->step = 1;
        if (c->send_on_open) {
            send_str(c, c->send_on_open);
            c->step = 100; /* test drives from here */
            return;
        }
        send_str(c, "hello");
        return;
    }
    switch (c->step) {
    case 1:
        CU_ASSERT(IS(d, n, "hello"));
        c->big_len = 70000;
        c->big = malloc(c->big_len);
        RAND_bytes(c->big, (int)c->big_len);
        CU_ASSERT_EQUAL(miaw_ws_send(ws, c->big, c->big_len), 0);
        c->step = 2;
        break;
    case 2:
        CU_ASSERT(n == c->big_len && !memcmp(d, c->big, n));
        free(c->big);
        c->big_len = 3u << 20;
        c->big = malloc(c->big_len);
        RAND_bytes(c->big, (int)c->big_len);
        CU_ASSERT_EQUAL(miaw_ws_send(ws, c->big, c->big_len), 0);
        c->step = 3;
        break;
    case 3:
        CU_ASSERT(n == c->big_len && !memcmp(d, c->big, n));
        free(c->big);
        c->big = NULL;
        send_str(c, "text-me");
        c->step = 4;
        break;
    case 4:
        CU_ASSERT(IS(d, n, "after-text")); /* the text frame before it was dropped */
        send_str(c, "frag-me");
        c->step = 5;
        break;
    case 5:
        CU_ASSERT(IS(d, n, "fragmented"));
        send_str(c, "ping-me");
        c->step = 6;
        break;
    case 6:
        CU_ASSERT(IS(d, n, "pong-ok")); /* the server's ping got our automatic pong */
        CU_ASSERT_EQUAL(miaw_ws_ping(ws, "abc", 3), 0);
        send_str(c, "last");
        c->step = 7;
        break;
    case 7:
        CU_ASSERT(IS(d, n, "last"));
        CU_ASSERT_EQUAL(c->pongs, 1);
        CU_ASSERT_EQUAL(miaw_ws_close(ws, 1000, "done"), 0);
        CU_ASSERT_EQUAL(miaw_ws_send(ws, "x", 1), MIAW_E_STATE);
        c->step = 8;
        break;
    default:
        break;
    }
}

static void on_watchdog(uv_timer_t *t)
{
    client *c = t->data;
    c->timed_out = 1;
    uv_stop(&c->loop);
}

static const miaw_ws_callbacks cbs = {on_open, on_message, on_close, on_pong};

/* Connect, run until on_close or the watchdog; returns after freeing everything. */
static void run_client(client *c, miaw_ws_options *opt, unsigned watchdog_ms)
{
    CU_ASSERT_EQUAL_FATAL(uv_loop_init(&c->loop), 0);
    uv_timer_init(&c->loop, &c->watchdog);
    c->watchdog.data = c;
    uv_timer_start(&c->watchdog, on_watchdog, watchdog_ms, 0);
    int rc = miaw_ws_connect(&c->loop, opt, &cbs, c, &c->ws);
    CU_ASSERT_EQUAL(rc, 0);
    if (rc == 0) uv_run(&c->loop, UV_RUN_DEFAULT);
    miaw_ws_free(c->ws);
    c->ws = NULL;
    uv_close((uv_handle_t *)&c->watchdog, NULL);
    uv_run(&c->loop, UV_RUN_DEFAULT); /* let closing handles finish */
    CU_ASSERT_EQUAL(uv_loop_close(&c->loop), 0);
    free(c->big);
    c->big = NULL;
}

static char url[256];
static const char *u(const char *scheme, const char *host, int port, const char *path)
{
    snprintf(url, sizeof url, "%s://%s:%d%s", scheme, host, port, path);
    return url;
}

/* ------------------------------------------------------------------ tests */
static void test_echo_plain(void)
{
    CU_ASSERT_EQUAL_FATAL(start_server(), 0);
    client c = {0};
    miaw_ws_options o = {.url = u("ws", "127.0.0.1", ws_port, "/echo")};
    run_client(&c, &o, 15000);
    CU_ASSERT(!c.timed_out);
    CU_ASSERT_EQUAL(c.opened, 1);
    CU_ASSERT_STRING_EQUAL(c.origin, "origin:https://web.whatsapp.com");
    CU_ASSERT_EQUAL(c.step, 8);
    CU_ASSERT_EQUAL(c.closed, 1);
    CU_ASSERT_EQUAL(c.close_code, 1000);
    CU_ASSERT_STRING_EQUAL(c.close_reason, "done");
}

static void test_echo_tls(void)
{
    CU_ASSERT_EQUAL_FATAL(start_server(), 0);
    client c = {0};
    miaw_ws_options o = {.url = u("wss", "127.0.0.1", wss_port, "/echo"), .ca_file = cert_ok,
                         .origin = "https://example.test"};
    run_client(&c, &o, 15000);
    CU_ASSERT(!c.timed_out);
    CU_ASSERT_STRING_EQUAL(c.origin, "origin:https://example.test");
    CU_ASSERT_EQUAL(c.step, 8);
    CU_ASSERT_EQUAL(c.close_code, 1000);
}

static void expect_close(const char *scheme, const char *host, int port, const char *path,
                         const char *ca, const char *cmd, int code, const char *reason_part)
{
    client c = {.send_on_open = cmd};
    miaw_ws_options o = {.url = u(scheme, host, port, path), .ca_file = ca};
    run_client(&c, &o, 10000);
    CU_ASSERT(!c.timed_out);
    CU_ASSERT_EQUAL(c.closed, 1);
    CU_ASSERT_EQUAL(c.close_code, code);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.close_reason, reason_part));
    if (c.close_code != code || !strstr(c.close_reason, reason_part))
        fprintf(stderr, "%s: got %d \"%s\"\n", url, c.close_code, c.close_reason);
}

static void test_server_close_code(void)
{
    CU_ASSERT_EQUAL_FATAL(start_server(), 0);
    expect_close("ws", "127.0.0.1", ws_port, "/echo", NULL, "close-me", 4001, "bye");
    expect_close("wss", "127.0.0.1", wss_port, "/echo", cert_ok, "close-me", 4001, "bye");
}

static void test_abrupt_drop(void)
{
    CU_ASSERT_EQUAL_FATAL(start_server(), 0);
    expect_close("ws", "127.0.0.1", ws_port, "/echo", NULL, "drop-me", MIAW_WS_CLOSE_ABNORMAL, "closed");
}

static void test_refused_and_rejected(void)
{
    CU_ASSERT_EQUAL_FATAL(start_server(), 0);
    /* a port nobody listens on: bind one, note it, close it */
    uv_loop_t l;
    uv_loop_init(&l);
    uv_tcp_t t;
    uv_tcp_init(&l, &t);
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_bind(&t, (struct sockaddr *)&a, 0);
    int len = sizeof a;
    uv_tcp_getsockname(&t, (struct sockaddr *)&a, &len);
    int dead = ntohs(a.sin_port);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&l, UV_RUN_DEFAULT);
    uv_loop_close(&l);
    expect_close("ws", "127.0.0.1", dead, "/echo", NULL, NULL, MIAW_WS_CLOSE_ABNORMAL, "connect:");
    expect_close("ws", "127.0.0.1", ws_port, "/nope", NULL, NULL, MIAW_WS_CLOSE_ABNORMAL, "HTTP status 403");
}

static void test_tls_verification(void)
{
    CU_ASSERT_EQUAL_FATAL(start_server(), 0);
    /* the name does not match the certificate (it names miaw.test and 127.0.0.1) */
    expect_close("wss", "localhost", wss_port, "/echo", cert_ok, NULL, MIAW_WS_CLOSE_TLS, "hostname mismatch");
    /* a CA that did not sign the server's certificate */
    expect_close("wss", "127.0.0.1", wss_port, "/echo", cert_other, NULL, MIAW_WS_CLOSE_TLS, "certificate");
    /* the system store does not know our test CA either */
    expect_close("wss", "127.0.0.1", wss_port, "/echo", NULL, NULL, MIAW_WS_CLOSE_TLS, "certificate");
    /* a CA file that does not exist */
    expect_close("wss", "127.0.0.1", wss_port, "/echo", "/nonexistent/ca.pem", NULL, MIAW_WS_CLOSE_TLS, "CA");
    /* TLS client against the plain port */
    expect_close("wss", "127.0.0.1", ws_port, "/echo", cert_ok, NULL, MIAW_WS_CLOSE_TLS, "tls");
}

static void test_ping_timeout(void)
{
    CU_ASSERT_EQUAL_FATAL(start_server(), 0);
    client c = {.send_on_open = "silence"};
    miaw_ws_options o = {.url = u("ws", "127.0.0.1", ws_port, "/echo"), .ping_interval_ms = 100,
                         .ping_timeout_ms = 150};
    run_client(&c, &o, 5000);
    CU_ASSERT(!c.timed_out);
    CU_ASSERT_EQUAL(c.close_code, MIAW_WS_CLOSE_ABNORMAL);
    CU_ASSERT_STRING_EQUAL(c.close_reason, "ping timeout");

    /* answered pings keep the connection: close it ourselves after a while */
    client k = {.send_on_open = "hi"};
    miaw_ws_options o2 = {.url = o.url, .ping_interval_ms = 50};
    run_client(&k, &o2, 600); /* the watchdog ends it, not a ping timeout */
    CU_ASSERT(k.timed_out);
    CU_ASSERT_EQUAL(k.closed, 0);
}

static void test_message_limit(void)
{
    CU_ASSERT_EQUAL_FATAL(start_server(), 0);
    client c = {.send_on_open = NULL};
    /* the origin message (31 bytes) exceeds a 16-byte limit */
    miaw_ws_options o = {.url = u("ws", "127.0.0.1", ws_port, "/echo"), .max_message = 16};
    run_client(&c, &o, 5000);
    CU_ASSERT(!c.timed_out);
    CU_ASSERT_EQUAL(c.messages, 0);
    CU_ASSERT_EQUAL(c.closed, 1);
    CU_ASSERT_EQUAL(c.close_code, 1009);
}

static void test_free_in_callback(void)
{
    CU_ASSERT_EQUAL_FATAL(start_server(), 0);
    client c = {.free_in_open = 1};
    miaw_ws_options o = {.url = u("ws", "127.0.0.1", ws_port, "/echo")};
    run_client(&c, &o, 500); /* nothing stops the loop but the watchdog */
    CU_ASSERT_EQUAL(c.opened, 1);
    CU_ASSERT_EQUAL(c.callbacks_after_free, 0);
    CU_ASSERT_EQUAL(c.closed, 0);
    /* freed while resolving/connecting */
    uv_loop_t l;
    uv_loop_init(&l);
    miaw_ws *ws;
    client d = {0};
    CU_ASSERT_EQUAL(miaw_ws_connect(&l, &o, &cbs, &d, &ws), 0);
    miaw_ws_free(ws);
    uv_run(&l, UV_RUN_DEFAULT);
    CU_ASSERT_EQUAL(uv_loop_close(&l), 0);
    CU_ASSERT_EQUAL(d.closed + d.opened, 0);
}

static void test_bad_options(void)
{
    uv_loop_t l;
    uv_loop_init(&l);
    miaw_ws *ws = NULL;
    static const char *bad[] = {"http://x/", "ws://", "ws://:80/", "ws://h:0/", "ws://h:99999/",
                                "ws://h:12x/", "wss://[::1/", "ws://h/a b", "ws://h/\r\nX: y"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        miaw_ws_options o = {.url = bad[i]};
        CU_ASSERT_EQUAL(miaw_ws_connect(&l, &o, &cbs, NULL, &ws), MIAW_E_INVAL);
        CU_ASSERT_PTR_NULL(ws);
    }
    miaw_ws_options o = {.url = "ws://127.0.0.1:1/", .origin = "a\r\nb: c"};
    CU_ASSERT_EQUAL(miaw_ws_connect(&l, &o, &cbs, NULL, &ws), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(miaw_ws_send(NULL, "x", 1), MIAW_E_STATE);
    uv_run(&l, UV_RUN_DEFAULT);
    CU_ASSERT_EQUAL(uv_loop_close(&l), 0);
}

/* one TLS context per CA source, shared by connections; a changed CA file gets a new one */
static void test_tls_ctx_shared(void)
{
    CU_ASSERT_EQUAL_FATAL(start_server(), 0);
    char err[200] = "";
    size_t n0 = miaw_tls_client_ctx_count();
    SSL_CTX *a = miaw_tls_client_ctx(cert_ok, err, sizeof err);
    SSL_CTX *b = miaw_tls_client_ctx(cert_ok, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_EQUAL(a, b);
    CU_ASSERT_TRUE(SSL_CTX_get_mode(a) & SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX *c = miaw_tls_client_ctx(cert_other, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_PTR_NOT_EQUAL(a, c);
    size_t n1 = miaw_tls_client_ctx_count();
    CU_ASSERT_TRUE(n1 <= n0 + 2); /* both may be cached by earlier tests already */
    /* the same path with another mtime: a fresh context; the old one still usable by its holders */
    struct timespec ts[2] = {{0, UTIME_OMIT}, {1000000000, 0}};
    CU_ASSERT_EQUAL(utimensat(AT_FDCWD, cert_ok, ts, 0), 0);
    SSL_CTX *d = miaw_tls_client_ctx(cert_ok, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT_PTR_NOT_EQUAL(a, d);
    CU_ASSERT_EQUAL(miaw_tls_client_ctx_count(), n1);
    SSL *s = SSL_new(a); /* a is alive: the cache dropped only its own reference */
    CU_ASSERT_PTR_NOT_NULL(s);
    SSL_free(s);
    /* a missing file: NULL and a reason */
    CU_ASSERT_PTR_NULL(miaw_tls_client_ctx("/nonexistent/ca.pem", err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "CA file"));
    SSL_CTX_free(a);
    SSL_CTX_free(b);
    SSL_CTX_free(c);
    SSL_CTX_free(d);
    /* connections still verify with the shared context */
    expect_close("wss", "127.0.0.1", wss_port, "/echo", cert_ok, "close-me", 4001, "bye");
}

MIAW_TESTS("wa_ws", MIAW_T(test_bad_options), MIAW_T(test_echo_plain), MIAW_T(test_echo_tls),
           MIAW_T(test_server_close_code), MIAW_T(test_abrupt_drop), MIAW_T(test_refused_and_rejected),
           MIAW_T(test_tls_verification), MIAW_T(test_ping_timeout), MIAW_T(test_message_limit),
           MIAW_T(test_free_in_callback), MIAW_T(test_tls_ctx_shared))
