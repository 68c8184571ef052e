/* bench/codec/codec.c - binary node codec throughput: nodes/s encoded and decoded over a
 * stanza mix. Usage: bench_codec_codec [frames-file] [seconds]. frames-file holds one hex
 * frame (flag byte + node) per line, e.g. the realistic mix run.sh writes with Baileys'
 * encoder; without it a built-in mix of typical stanzas is used. Prints one JSON line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wa/node.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

typedef struct {
    miaw_node **nodes;
    uint8_t **frames;
    size_t *lens;
    size_t n, cap, bytes;
} mix;

static void mix_add(mix *m, miaw_node *n)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->nodes = realloc(m->nodes, m->cap * sizeof *m->nodes);
        m->frames = realloc(m->frames, m->cap * sizeof *m->frames);
        m->lens = realloc(m->lens, m->cap * sizeof *m->lens);
        if (!m->nodes || !m->frames || !m->lens) exit(2);
    }
    if (miaw_node_encode(n, &m->frames[m->n], &m->lens[m->n])) exit(2);
    m->bytes += m->lens[m->n];
    m->nodes[m->n++] = n;
}

static int load_file(mix *m, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
        if (len < 2) continue;
        uint8_t *buf = malloc((size_t)len / 2);
        for (ssize_t i = 0; i + 1 < len; i += 2) buf[i / 2] = (uint8_t)(hexval(line[i]) << 4 | hexval(line[i + 1]));
        miaw_node *n;
        if (miaw_node_decode(buf, (size_t)len / 2, &n)) {
            fprintf(stderr, "bad frame in %s\n", path);
            exit(2);
        }
        free(buf);
        mix_add(m, n);
    }
    free(line);
    fclose(f);
    return 0;
}

static void builtin(mix *m)
{
    uint8_t blob[300];
    for (size_t i = 0; i < sizeof blob; i++) blob[i] = (uint8_t)(i * 7);
    for (int i = 0; i < 100; i++) {
        char id[32], jid[64];
        snprintf(id, sizeof id, "3EB0%012X", i * 7919);
        snprintf(jid, sizeof jid, "JID:1555%07d:%d@s.whatsapp.net", i, i % 5 + 1);
        miaw_node *msg = miaw_node_newv("message", "from", jid + 0, "id", id, "t", "1712345678",
                                        "type", "text", "notify", "Alice", NULL);
        miaw_node *enc = miaw_node_addv(msg, "enc", "v", "2", "type", i % 3 ? "msg" : "pkmsg", NULL);
        miaw_node_set_bytes(enc, blob, 90 + (size_t)i);
        mix_add(m, msg);
        miaw_node *rc = miaw_node_newv("receipt", "id", id, "to", jid, "type", "read", "t",
                                       "1712345679", NULL);
        mix_add(m, rc);
        mix_add(m, miaw_node_newv("ack", "class", "receipt", "id", id, "from", jid, NULL));
        miaw_node *iq = miaw_node_newv("iq", "id", id, "to", "JID:@s.whatsapp.net", "type", "get",
                                       "xmlns", "usync", NULL);
        miaw_node *us = miaw_node_addv(iq, "usync", "sid", id, "mode", "query", "last", "true",
                                       "index", "0", "context", "message", NULL);
        miaw_node *q = miaw_node_add(us, "query");
        miaw_node_addv(q, "devices", "version", "2", NULL);
        miaw_node *l = miaw_node_add(us, "list");
        for (int k = 0; k < 3; k++) miaw_node_addv(l, "user", "jid", "JID:15551234567@s.whatsapp.net", NULL);
        mix_add(m, iq);
        mix_add(m, miaw_node_newv("presence", "from", "JID:123456789012345@lid", "type",
                                  "unavailable", "last", "1712345600", NULL));
    }
}

int main(int argc, char **argv)
{
    mix m = {0};
    const char *src = "builtin";
    if (argc > 1) {
        if (load_file(&m, argv[1])) {
            perror(argv[1]);
            return 2;
        }
        src = argv[1];
    } else {
        builtin(&m);
    }
    double secs = argc > 2 ? atof(argv[2]) : 2.0;
    if (m.n == 0) return 2;

    /* encode */
    size_t count = 0, sink = 0;
    double t0 = now(), t;
    do {
        for (size_t i = 0; i < m.n; i++) {
            uint8_t *out;
            size_t len;
            if (miaw_node_encode(m.nodes[i], &out, &len)) return 3;
            sink += len;
            free(out);
        }
        count += m.n;
    } while ((t = now()) - t0 < secs);
    double enc_rate = (double)count / (t - t0);

    /* decode */
    count = 0;
    t0 = now();
    do {
        for (size_t i = 0; i < m.n; i++) {
            miaw_node *n;
            if (miaw_node_decode(m.frames[i], m.lens[i], &n)) return 3;
            sink += n->nattrs;
            miaw_node_free(n);
        }
        count += m.n;
    } while ((t = now()) - t0 < secs);
    double dec_rate = (double)count / (t - t0);

    printf("{\"impl\":\"miaw-c\",\"mix\":\"%s\",\"nodes\":%zu,\"avg_bytes\":%.1f,"
           "\"encode_nodes_per_s\":%.0f,\"decode_nodes_per_s\":%.0f,\"sink\":%zu}\n",
           src, m.n, (double)m.bytes / (double)m.n, enc_rate, dec_rate, sink % 10);
    for (size_t i = 0; i < m.n; i++) {
        miaw_node_free(m.nodes[i]);
        free(m.frames[i]);
    }
    free(m.nodes);
    free(m.frames);
    free(m.lens);
    return 0;
}
