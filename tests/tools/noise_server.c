/* tests/tools/noise_server.c - the C Noise server role on a 127.0.0.1 TCP socket, for the
 * Baileys interop test. Prints one JSON line per event on stdout:
 *   {"event":"listening","port":P,"root":hex,"server_static":hex,"chain":hex}
 *   {"event":"handshake","client_static":hex,"payload":hex,"routing":hex}
 *   {"event":"frame","n":i,"plaintext":hex}       (then echoes the plaintext back)
 *   {"event":"decrypt_failed","n":i} / {"event":"error","what":...} / {"event":"eof"}
 * Usage: noise_server [HEX]  - HEX: a plaintext the server sends first after the handshake.
 * Serves one connection, then exits. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wa/certchain.h"
#include "wa/frame.h"
#include "wa/noise.h"
#include "wa/sigcrypto.h"

static void hexprint(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) printf("%02x", b[i]);
}

static int send_all(int fd, const uint8_t *b, size_t n)
{
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w <= 0) return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int send_frame(int fd, const uint8_t *p, size_t n)
{
    uint8_t *f;
    size_t fl;
    if (miaw_frame_encode(p, n, 0, &f, &fl)) return -1;
    int rc = send_all(fd, f, fl);
    free(f);
    return rc;
}

/* blocks until one frame is available; 1 ok, 0 eof, <0 error */
static int next_frame(int fd, miaw_frame_reader *r, const uint8_t **p, size_t *n)
{
    for (;;) {
        int rc = miaw_frame_reader_next(r, p, n);
        if (rc) return rc;
        uint8_t buf[65536];
        ssize_t got = read(fd, buf, sizeof buf);
        if (got <= 0) return 0;
        if ((rc = miaw_frame_reader_feed(r, buf, (size_t)got))) return rc;
    }
}

static int fail(const char *what)
{
    printf("{\"event\":\"error\",\"what\":\"%s\"}\n", what);
    fflush(stdout);
    return 1;
}

int main(int argc, char **argv)
{
    uint8_t first[4096];
    size_t first_len = 0;
    if (argc > 1) {
        for (const char *h = argv[1]; h[0] && h[1] && first_len < sizeof first; h += 2) {
            unsigned v;
            sscanf(h, "%2x", &v);
            first[first_len++] = (uint8_t)v;
        }
    }
    miaw_keypair root, inter, stat;
    if (miaw_keypair_generate(&root) || miaw_keypair_generate(&inter) || miaw_keypair_generate(&stat))
        return fail("keys");
    uint64_t now = (uint64_t)time(NULL);
    miaw_certchain_spec spec = {root.priv, inter.priv, stat.pub, 1, 2, now - 3600, now + 86400};
    uint8_t *chain;
    size_t chain_len;
    if (miaw_certchain_create(&spec, &chain, &chain_len)) return fail("certchain");

    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 1) ||
        getsockname(ls, (struct sockaddr *)&a, &al))
        return fail("listen");
    printf("{\"event\":\"listening\",\"port\":%d,\"root\":\"", ntohs(a.sin_port));
    hexprint(root.pub, 32);
    printf("\",\"server_static\":\"");
    hexprint(stat.pub, 32);
    printf("\",\"chain\":\"");
    hexprint(chain, chain_len);
    printf("\"}\n");
    fflush(stdout);
    int fd = accept(ls, NULL, NULL);
    close(ls);
    if (fd < 0) return fail("accept");

    miaw_frame_reader *r = miaw_frame_reader_new(MIAW_FRAME_READ_SERVER, 0);
    miaw_noise_hs *hs = miaw_noise_server_new(&stat, chain, chain_len, NULL);
    free(chain);
    const uint8_t *p;
    size_t n;
    uint8_t *out, *payload;
    size_t out_len, payload_len;
    int rc = 1;
    if (next_frame(fd, r, &p, &n) != 1) {
        fail("no client hello");
        goto done;
    }
    if (miaw_noise_server_read_client_hello(hs, p, n) || miaw_noise_server_hello(hs, &out, &out_len)) {
        fail("client hello");
        goto done;
    }
    int sent = send_frame(fd, out, out_len);
    free(out);
    if (sent || next_frame(fd, r, &p, &n) != 1) {
        fail("no client finish");
        goto done;
    }
    if (miaw_noise_server_read_client_finish(hs, p, n, &payload, &payload_len)) {
        fail("client finish");
        goto done;
    }
    printf("{\"event\":\"handshake\",\"client_static\":\"");
    hexprint(miaw_noise_remote_static(hs), 32);
    printf("\",\"payload\":\"");
    hexprint(payload, payload_len);
    free(payload);
    size_t rl;
    const uint8_t *ri = miaw_frame_reader_routing(r, &rl);
    printf("\",\"routing\":\"");
    if (ri) hexprint(ri, rl);
    printf("\"}\n");
    fflush(stdout);
    miaw_noise_transport t;
    if (miaw_noise_split(hs, &t)) {
        fail("split");
        goto done;
    }
    uint8_t *buf = malloc(MIAW_FRAME_MAX + MIAW_NOISE_TAG_LEN);
    if (first_len) {
        if (miaw_noise_encrypt(&t, first, first_len, buf) || send_frame(fd, buf, first_len + 16)) {
            free(buf);
            fail("send first");
            goto done;
        }
    }
    for (unsigned i = 0;; i++) {
        int got = next_frame(fd, r, &p, &n);
        if (got == 0) {
            printf("{\"event\":\"eof\"}\n");
            rc = 0;
            break;
        }
        if (got < 0) {
            fail("frame reader");
            break;
        }
        size_t pl;
        if (miaw_noise_decrypt(&t, p, n, buf, &pl)) {
            printf("{\"event\":\"decrypt_failed\",\"n\":%u}\n", i);
            rc = 0;
            break;
        }
        printf("{\"event\":\"frame\",\"n\":%u,\"plaintext\":\"", i);
        hexprint(buf, pl);
        printf("\"}\n");
        fflush(stdout);
        uint8_t *enc = malloc(pl + 16);
        int bad = miaw_noise_encrypt(&t, buf, pl, enc) || send_frame(fd, enc, pl + 16);
        free(enc);
        if (bad) {
            fail("echo");
            break;
        }
    }
    free(buf);
    miaw_noise_transport_wipe(&t);
done:
    fflush(stdout);
    miaw_noise_hs_free(hs);
    miaw_frame_reader_free(r);
    close(fd);
    return rc;
}
