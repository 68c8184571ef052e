/* core/wa/ws_http.c - the text side of opening a WebSocket: parsing ws:// and wss:// URLs,
 * writing the HTTP/1.1 upgrade request (random key, expected Sec-WebSocket-Accept) and
 * checking the server's 101 response. Owns nothing beyond the URL strings it returns
 * (see ws_http.h); sockets, TLS and framing are ws.c's. */
#include "ws_http.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* ------------------------------------------------------------------ URL */
void miaw_ws_url_free(miaw_ws_url *u)
{
    free(u->host);
    free(u->port);
    free(u->path);
    u->host = u->port = u->path = NULL;
}

static int url_parse(const char *url, miaw_ws_url *u)
{
    const char *p;
    if (!strncasecmp(url, "ws://", 5)) {
        p = url + 5;
        u->tls = 0;
    } else if (!strncasecmp(url, "wss://", 6)) {
        p = url + 6;
        u->tls = 1;
    } else {
        return -1;
    }
    const char *hs = p, *he;
    if (*p == '[') {
        hs = p + 1;
        he = strchr(hs, ']');
        if (!he) return -1;
        p = he + 1;
    } else {
        while (*p && *p != ':' && *p != '/' && *p != '?') p++;
        he = p;
    }
    if (he == hs) return -1;
    u->host = strndup(hs, (size_t)(he - hs));
    if (*p == ':') {
        const char *ps = ++p;
        while (*p >= '0' && *p <= '9') p++;
        if (p == ps || p - ps > 5 || atoi(ps) < 1 || atoi(ps) > 65535) return -1;
        u->port = strndup(ps, (size_t)(p - ps));
    } else {
        u->port = strdup(u->tls ? "443" : "80");
    }
    if (*p && *p != '/' && *p != '?') return -1;
    if (*p == '?') {
        size_t n = strlen(p);
        u->path = malloc(n + 2);
        if (u->path) {
            u->path[0] = '/';
            memcpy(u->path + 1, p, n + 1);
        }
    } else {
        u->path = strdup(*p ? p : "/");
    }
    for (const char *c = u->path ? u->path : ""; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f) return -1;
    return u->host && u->port && u->path ? 0 : -1;
}

int miaw_ws_url_parse(const char *url, miaw_ws_url *u)
{
    memset(u, 0, sizeof *u);
    if (url_parse(url, u) == 0) return 0;
    miaw_ws_url_free(u);
    return -1;
}

/* ------------------------------------------------------------------ request */
static void b64(const uint8_t *in, size_t n, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

int miaw_ws_upgrade_request(const miaw_ws_url *u, const char *origin, const char *user_agent,
                            char *req, size_t cap, char accept[MIAW_WS_ACCEPT_MAX])
{
    uint8_t nonce[16];
    char key[32];
    if (RAND_bytes(nonce, sizeof nonce) != 1) return -1;
    b64(nonce, sizeof nonce, key);
    char cat[128];
    snprintf(cat, sizeof cat, "%s%s", key, WS_GUID);
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (!EVP_Digest(cat, strlen(cat), md, &mdlen, EVP_sha1(), NULL)) return -1;
    b64(md, mdlen, accept);

    int def_port = !strcmp(u->port, u->tls ? "443" : "80");
    int v6 = strchr(u->host, ':') != NULL;
    int n = snprintf(req, cap,
                     "GET %s HTTP/1.1\r\nHost: %s%s%s%s%s\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                     "Cache-Control: no-cache\r\nPragma: no-cache\r\n%s%s%s%s%s%s\r\n",
                     u->path, v6 ? "[" : "", u->host, v6 ? "]" : "", def_port ? "" : ":",
                     def_port ? "" : u->port, key, *origin ? "Origin: " : "", origin,
                     *origin ? "\r\n" : "", user_agent ? "User-Agent: " : "",
                     user_agent ? user_agent : "", user_agent ? "\r\n" : "");
    if (n < 0 || (size_t)n >= cap) return -1;
    return n;
}

/* ------------------------------------------------------------------ response */
/* Value of header `name` in the response head (lines after the status line), or NULL. */
static const char *find_header(char *head, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    for (char *line = strstr(head, "\r\n"); line; line = strstr(line, "\r\n")) {
        line += 2;
        if (!strncasecmp(line, name, nl) && line[nl] == ':') {
            char *v = line + nl + 1;
            while (*v == ' ' || *v == '\t') v++;
            char *end = strstr(v, "\r\n");
            if (!end) return NULL;
            while (end > v && (end[-1] == ' ' || end[-1] == '\t')) end--;
            *vlen = (size_t)(end - v);
            return v;
        }
    }
    return NULL;
}

static int contains_token(const char *v, size_t len, const char *tok)
{
    size_t tl = strlen(tok);
    for (size_t i = 0; i + tl <= len; i++)
        if (!strncasecmp(v + i, tok, tl)) return 1;
    return 0;
}

int miaw_ws_upgrade_check(char *head, const char *accept, char *msg, size_t msg_cap)
{
    int status = 0;
    const char *v;
    size_t vl;
    if (sscanf(head, "HTTP/1.1 %d", &status) != 1 || status != 101) {
        snprintf(msg, msg_cap, "upgrade refused: HTTP status %d", status);
    } else if (!(v = find_header(head, "Upgrade", &vl)) || !contains_token(v, vl, "websocket")) {
        snprintf(msg, msg_cap, "upgrade: missing Upgrade: websocket");
    } else if (!(v = find_header(head, "Connection", &vl)) || !contains_token(v, vl, "upgrade")) {
        snprintf(msg, msg_cap, "upgrade: missing Connection: upgrade");
    } else if (!(v = find_header(head, "Sec-WebSocket-Accept", &vl)) || vl != strlen(accept) ||
               memcmp(v, accept, vl)) {
        snprintf(msg, msg_cap, "upgrade: bad Sec-WebSocket-Accept");
    } else {
        return 0;
    }
    return -1;
}
