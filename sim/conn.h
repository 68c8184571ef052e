/* sim/conn.h - one client connection to miaw-sim: the WebSocket (h2o's server side,
 * wslay framing), WhatsApp's 3-byte frames, the Noise server handshake with the
 * simulator's certificate chain, then encrypted binary nodes in both directions.
 * Owns the connection's socket binding, frame reader, handshake and transport keys;
 * what the nodes mean is session.c's and pair.c's business.
 *
 * Ownership and lifetime: a connection is created on the WebSocket upgrade and freed by
 * conn.c when the socket closes (after miaw_sim_session_on_close ran). Other modules hold
 * borrowed pointers that session.c clears in on_close. miaw_sim_conn_flush may end the
 * connection synchronously: call it last and do not touch the connection afterwards.
 * Loop thread only. */
#ifndef MIAW_SIM_CONN_H
#define MIAW_SIM_CONN_H
#include <h2o.h>
#include <h2o/websocket.h>

#include "sim.h"
#include "wa/node.h"
#include "wa/noise.h"

#define MIAW_SIM_REFS 6

typedef enum {
    MIAW_SIM_CONN_HELLO = 0,   /* waiting for ClientHello */
    MIAW_SIM_CONN_FINISH,      /* ServerHello sent, waiting for ClientFinish */
    MIAW_SIM_CONN_REGISTERING, /* registration payload: pair-device sent, QR shown */
    MIAW_SIM_CONN_READY,       /* logged in (success sent) */
    MIAW_SIM_CONN_CLOSING,     /* close queued; input ignored */
} miaw_sim_conn_state;

struct miaw_sim_scan;

/* What a registration ClientPayload carried, and the pairing in progress. */
typedef struct miaw_sim_reg {
    uint32_t reg_id;
    uint8_t identity_pub[32];
    uint32_t skey_id;
    uint8_t skey_pub[32];
    uint8_t skey_sig[64];
    char refs[MIAW_SIM_REFS][48];
    char pair_device_id[32];
    /* set once a phone scanned the QR */
    miaw_sim_account *account; /* borrowed */
    uint32_t device_id, key_index;
    char platform[8];
    char pair_success_id[32];
    uint8_t *adv_details;      /* serialized ADVDeviceIdentity sent in pair-success (malloc'd) */
    size_t adv_details_len;
    struct miaw_sim_scan *scan;/* the control request waiting for the outcome (borrowed) */
    struct miaw_sim_linkcode *linkcode; /* pairing by code in progress (linkcode.c, owned) */
} miaw_sim_reg;

typedef struct miaw_sim_conn {
    miaw_sim *sim;
    h2o_websocket_conn_t *ws;
    uint64_t id;
    int state;          /* miaw_sim_conn_state */
    int in_cb;          /* inside the WebSocket message callback */
    int live;           /* a message arrived: listed in sim->conns, timer initialised */
    struct miaw_frame_reader *reader;
    miaw_noise_hs *hs;
    miaw_noise_transport tr;
    uint8_t client_static[32];
    char push_name[64];
    miaw_sim_reg reg;
    miaw_sim_account *account; /* logged in as (borrowed) */
    uint32_t device_id;
    uint64_t frames_in, frames_out;
    int available;             /* sent <presence type="available"> */
    miaw_sim_account *subs[32];/* presence subscriptions (borrowed; accounts live forever) */
    size_t nsubs;
    uv_timer_t timer;          /* closing grace / pairing timeout */
    int timer_kind;
    struct miaw_sim_conn *next, *prev;
} miaw_sim_conn;

/* Handle a request for /ws/chat: upgrade it when it is a WebSocket handshake (returns 0),
 * else -1 and the caller answers it. */
int miaw_sim_conn_upgrade(miaw_sim *sim, h2o_req_t *req);

/* Encrypt and queue a node (transport phase only). 0 or MIAW_E_*. */
int miaw_sim_conn_send(miaw_sim_conn *c, const miaw_node *n);
/* Queue a WebSocket close after what is queued, stop reading; state becomes CLOSING. */
void miaw_sim_conn_close(miaw_sim_conn *c, const char *why);
/* Stop reading now but let the client close first: the WebSocket close follows after
 * ms (clients handle a <stream:error> or <failure> asynchronously and report a bare
 * socket close instead if it arrives too soon). */
void miaw_sim_conn_close_after(miaw_sim_conn *c, uint64_t ms, const char *why);
/* Push queued output when called from outside the connection's own callback (control
 * API, timers). May free c: call it last. */
void miaw_sim_conn_flush(miaw_sim_conn *c);
/* Start (ms > 0) or stop (ms == 0) the connection's timer; kind is passed to
 * miaw_sim_session_on_timer. */
void miaw_sim_conn_timer(miaw_sim_conn *c, uint64_t ms, int kind);

/* Implemented by session.c: */
void miaw_sim_session_on_payload(miaw_sim_conn *c, const uint8_t *payload, size_t len);
void miaw_sim_session_on_node(miaw_sim_conn *c, miaw_node *n);
void miaw_sim_session_on_timer(miaw_sim_conn *c, int kind);
void miaw_sim_session_on_close(miaw_sim_conn *c);
#endif
