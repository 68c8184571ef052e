/* core/wa/ws_http.h - the text side of opening a WebSocket (RFC 6455, section 4), for
 * ws.c only: the ws:// / wss:// URL, the HTTP/1.1 upgrade request with its random key, and
 * the check of the server's 101 response. No sockets, no loop.
 *
 * Ownership: a miaw_ws_url's strings are malloc'd by miaw_ws_url_parse and freed by
 * miaw_ws_url_free. Every other input is borrowed for the call; outputs go to the
 * caller's buffers. */
#ifndef MIAW_WA_WS_HTTP_H
#define MIAW_WA_WS_HTTP_H
#include <stddef.h>

typedef struct miaw_ws_url {
    int tls;                  /* 1 for wss:// */
    char *host, *port, *path; /* host without [ ] for IPv6; port "80"/"443" by default */
} miaw_ws_url;

/* Bytes miaw_ws_upgrade_request writes into `accept` (the base64 SHA-1, NUL included). */
#define MIAW_WS_ACCEPT_MAX 32

/* Parse ws[s]://host[:port][/path][?query] (host may be [v6]) into *u. 0, or -1 when
 * malformed or out of memory (then *u holds nothing to free). */
int miaw_ws_url_parse(const char *url, miaw_ws_url *u);
/* Free u's strings (u itself is the caller's). */
void miaw_ws_url_free(miaw_ws_url *u);

/* Write the upgrade request for u into req (cap bytes) with a fresh Sec-WebSocket-Key,
 * an Origin header unless origin is "", and a User-Agent header when user_agent is set;
 * `accept` receives the Sec-WebSocket-Accept value the server must answer with. Returns
 * the request's length, or -1 (no randomness, digest failure, request longer than cap). */
int miaw_ws_upgrade_request(const miaw_ws_url *u, const char *origin, const char *user_agent,
                            char *req, size_t cap, char accept[MIAW_WS_ACCEPT_MAX]);

/* Check the response head (status line and headers through the blank line, NUL-terminated)
 * against the expected accept value: 0 when it is a valid 101 upgrade, else -1 with the
 * reason written into msg (msg_cap bytes). */
int miaw_ws_upgrade_check(char *head, const char *accept, char *msg, size_t msg_cap);
#endif
