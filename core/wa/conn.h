/* core/wa/conn.h - one protocol connection to WhatsApp (or miaw-sim) on the loop:
 * WebSocket, the Noise handshake carrying a ClientPayload, then encrypted binary nodes;
 * IQ request/response correlation by id with timeouts, keepalive pings, answers to the
 * server's pings, and a dead-socket deadline. Owns its WebSocket, frame reader, Noise
 * state, timer and pending IQs; knows nothing about pairing or instances.
 *
 * Ownership and lifetime: miaw_wa_conn_start returns a handle the caller owns and
 * releases with miaw_wa_conn_free (allowed inside any callback; no callback runs after
 * it returns, except pending IQ callbacks, which free calls with MIAW_E_GONE before it
 * returns). on_end runs at most once; the handle must still be freed afterwards. Nodes
 * handed to callbacks are borrowed for the call. Loop thread only. */
#ifndef MIAW_WA_CONN_H
#define MIAW_WA_CONN_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "wa/node.h"
#include "wa/sigcrypto.h"

typedef struct miaw_wa_conn miaw_wa_conn;

/* Why a connection ended (on_end `why`). */
enum {
    MIAW_WA_END_CLOSED = 1,    /* the socket closed or could not be opened */
    MIAW_WA_END_HANDSHAKE = 2, /* Noise or certificate failure */
    MIAW_WA_END_TIMEOUT = 3,   /* connect + handshake took too long */
    MIAW_WA_END_DEAD = 4,      /* nothing received within the dead-socket deadline */
    MIAW_WA_END_PROTOCOL = 5,  /* undecryptable frame or bad framing */
};

typedef struct miaw_wa_conn_callbacks {
    /* Handshake done: nodes can be sent. */
    void (*on_open)(miaw_wa_conn *c, void *udata);
    /* A server node that is not the answer to one of our IQs nor a server ping. */
    void (*on_node)(miaw_wa_conn *c, const miaw_node *n, void *udata);
    /* The connection is over (detail: a short human-readable reason). */
    void (*on_end)(miaw_wa_conn *c, int why, const char *detail, void *udata);
} miaw_wa_conn_callbacks;

typedef struct miaw_wa_conn_opts {
    const char *url;             /* ws:// or wss:// */
    const char *ca_file;         /* extra CA for wss (NULL/"" = system) */
    const uint8_t *root_pub;     /* 32 bytes, trusted certificate root; NULL = WhatsApp's */
    const miaw_keypair *noise;   /* our Noise static key pair (copied) */
    const uint8_t *payload;      /* serialized ClientPayload (copied) */
    size_t payload_len;
    unsigned handshake_timeout_ms; /* socket + Noise; 0 = 20000 */
    unsigned keepalive_ms;         /* ping interval (jittered +-20%); 0 = 25000 */
    unsigned dead_ms;              /* end when nothing arrived this long; 0 = keepalive + 10000 */
    unsigned iq_timeout_ms;        /* default IQ timeout; 0 = 60000 */
} miaw_wa_conn_opts;

/* Start connecting. 0 and *out, or MIAW_E_INVAL / MIAW_E_NOMEM / MIAW_E_IO. */
int miaw_wa_conn_start(uv_loop_t *loop, const miaw_wa_conn_opts *opt, const miaw_wa_conn_callbacks *cb,
                       void *udata, miaw_wa_conn **out);
/* Encrypt and send a node. MIAW_E_STATE before on_open or after the end, MIAW_E_LIMIT
 * when too much output is queued. */
int miaw_wa_conn_send(miaw_wa_conn *c, const miaw_node *n);

/* reply: the <iq type="result|error"> answer (borrowed), or NULL with err MIAW_E_TIMEOUT
 * or MIAW_E_GONE (connection ended or freed). */
typedef void (*miaw_wa_iq_cb)(miaw_wa_conn *c, const miaw_node *reply, int err, void *udata);
/* Send an IQ: assigns a fresh id (replacing any), takes ownership of iq (freed in all
 * cases), calls cb exactly once unless this returns an error. timeout_ms 0 = default. */
int miaw_wa_conn_iq(miaw_wa_conn *c, miaw_node *iq, unsigned timeout_ms, miaw_wa_iq_cb cb, void *udata);

void miaw_wa_conn_free(miaw_wa_conn *c);
/* 1 between on_open and the end. */
int miaw_wa_conn_is_open(const miaw_wa_conn *c);
/* "closed", "handshake", "timeout", "dead", "protocol" (static). */
const char *miaw_wa_end_name(int why);
#endif
