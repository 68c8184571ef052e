/* core/wa/ws.h - WebSocket client (RFC 6455) on a libuv loop: ws:// over TCP and wss://
 * over OpenSSL (peer verified, hostname checked), HTTP upgrade with the Origin WhatsApp
 * expects, binary messages, ping/pong, close codes; framing by wslay. Owns each
 * connection's socket, TLS state, timers and buffers.
 *
 * Ownership and lifetime: miaw_ws_connect returns a handle the caller owns and releases
 * with miaw_ws_free (allowed inside any callback; no callback runs after it). on_close runs
 * exactly once per connection (a failed connect included) unless miaw_ws_free came first;
 * after on_close the handle is dead but must still be freed. Data passed to callbacks is
 * only valid during the call. Loop thread only. */
#ifndef MIAW_WA_WS_H
#define MIAW_WA_WS_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define MIAW_WS_ORIGIN_WHATSAPP "https://web.whatsapp.com"

/* Close codes reported locally (never sent on the wire). */
#define MIAW_WS_CLOSE_NORMAL 1000
#define MIAW_WS_CLOSE_ABNORMAL 1006 /* connection lost / refused / timed out, no close frame */
#define MIAW_WS_CLOSE_TLS 1015      /* TLS handshake or certificate verification failed */

typedef struct miaw_ws miaw_ws;

typedef struct miaw_ws_callbacks {
    void (*on_open)(miaw_ws *ws, void *udata);
    /* A complete binary message. Text messages are dropped (logged). */
    void (*on_message)(miaw_ws *ws, const uint8_t *data, size_t len, void *udata);
    /* code: the peer's close code (1005 if its close frame had none), or a local
     * MIAW_WS_CLOSE_* code; reason: the peer's reason or a description ("" if none). */
    void (*on_close)(miaw_ws *ws, int code, const char *reason, void *udata);
    /* Optional: a pong arrived (payload of our ping). */
    void (*on_pong)(miaw_ws *ws, const uint8_t *data, size_t len, void *udata);
} miaw_ws_callbacks;

typedef struct miaw_ws_options {
    const char *url;          /* ws://host[:port]/path or wss://...; required */
    const char *origin;       /* default MIAW_WS_ORIGIN_WHATSAPP; "" sends none */
    const char *ca_file;      /* PEM CA bundle for wss; NULL = system default paths */
    const char *user_agent;   /* optional User-Agent header */
    uint64_t max_message;     /* largest message accepted; 0 = 16 MiB */
    unsigned connect_timeout_ms; /* DNS + TCP + TLS + upgrade; 0 = 20000 */
    unsigned ping_interval_ms;   /* send a ping this often; 0 = never */
    unsigned ping_timeout_ms;    /* close (1006) if nothing arrives this long after a
                                  * ping; 0 = ping_interval_ms */
    unsigned close_timeout_ms;   /* wait for the peer's close frame; 0 = 5000 */
} miaw_ws_options;

/* Start connecting. Returns 0 and *out, or MIAW_E_INVAL (bad URL/options), MIAW_E_NOMEM,
 * MIAW_E_IO. Everything after this is reported through the callbacks. */
int miaw_ws_connect(uv_loop_t *loop, const miaw_ws_options *opt, const miaw_ws_callbacks *cb,
                    void *udata, miaw_ws **out);
/* Queue a binary message (copied). MIAW_E_STATE if not open or closing. */
int miaw_ws_send(miaw_ws *ws, const void *data, size_t len);
/* Queue a ping with up to 125 bytes of payload. */
int miaw_ws_ping(miaw_ws *ws, const void *data, size_t len);
/* Start the closing handshake (code 1000..4999, reason <= 123 bytes). on_close follows
 * once the peer answers or close_timeout_ms passes. */
int miaw_ws_close(miaw_ws *ws, uint16_t code, const char *reason);
/* Drop the connection now and release everything; no further callbacks. NULL allowed. */
void miaw_ws_free(miaw_ws *ws);
/* 1 once on_open has run and until closing starts. */
int miaw_ws_is_open(const miaw_ws *ws);
/* Bytes handed to the socket and not yet written (for back-pressure). */
size_t miaw_ws_pending_bytes(const miaw_ws *ws);
#endif
