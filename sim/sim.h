/* sim/sim.h - miaw-sim's shared model: the simulator context (loop, keys, certificate
 * chain, accounts, live connections) and the account/device records every module reads.
 * Owns nothing by itself; state.c creates and frees what is declared here.
 *
 * Ownership: one miaw_sim per process, created by miaw_sim_state_open and freed by
 * miaw_sim_state_close. Accounts and devices belong to it (linked list / inline array);
 * a device's `conn` is a borrowed pointer to its live connection (cleared by conn.c when
 * that connection ends). Loop thread only. */
#ifndef MIAW_SIM_SIM_H
#define MIAW_SIM_SIM_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "wa/sigcrypto.h"

#define MIAW_SIM_MAX_DEVICES 16 /* companions per account, device 0 excluded */
#define MIAW_SIM_PHONE_MAX 20   /* digits */
#define MIAW_SIM_NAME_MAX 64

struct miaw_sim_conn;

typedef struct miaw_sim_prekey {
    uint32_t id; /* 24-bit on the wire */
    uint8_t pub[32];
} miaw_sim_prekey;

/* A stanza waiting for a device: queued while it is offline (delivered at its next
 * login with offline="1"), and messages kept until the device acknowledges them (a
 * receipt or <ack class="message">), so a connection lost before the ack redelivers. */
typedef struct miaw_sim_queued {
    char kind[16];   /* "message", "receipt", "notification" */
    char id[64];     /* the stanza id */
    uint8_t *node;   /* encoded node (miaw_node_encode_raw form, malloc'd) */
    size_t node_len;
    int sent;        /* sent on the current connection, waiting for the ack */
    struct miaw_sim_queued *next;
} miaw_sim_queued;

#define MIAW_SIM_QUEUE_MAX 2000 /* stanzas held per device; the oldest go first */

/* A device: a linked companion (id >= 1) or the account's simulated phone (id 0, whose
 * private keys live in its Signal store, see phone.h). */
typedef struct miaw_sim_device {
    uint32_t id;
    uint8_t noise_pub[32];    /* the Noise static key it registered with */
    uint8_t identity_pub[32]; /* Signal identity (eIdent) */
    uint32_t reg_id;
    uint32_t skey_id;
    uint8_t skey_pub[32];
    uint8_t skey_sig[64];
    uint32_t key_index;
    char platform[24];        /* QR platform id, e.g. "1" */
    uint8_t *adv;             /* ADVSignedDeviceIdentity from pair-device-sign (malloc'd) */
    size_t adv_len;
    miaw_sim_prekey *prekeys; /* unused one-time pre-keys (malloc'd array) */
    size_t nprekeys, prekeys_cap;
    uint64_t linked_at;
    struct miaw_sim_conn *conn; /* live connection, not persisted (borrowed) */
    miaw_sim_queued *queue;     /* oldest first (owned) */
    size_t nqueue;
} miaw_sim_device;

/* An account: phone number, hidden LID and the primary phone's identity. */
typedef struct miaw_sim_account {
    char phone[MIAW_SIM_PHONE_MAX + 1];
    char lid[MIAW_SIM_PHONE_MAX + 1];
    char name[MIAW_SIM_NAME_MAX + 1];
    miaw_keypair identity; /* primary device's identity: signs ADV device identities */
    uint32_t raw_id;
    uint32_t next_key_index;
    uint32_t next_device;
    miaw_sim_device devices[MIAW_SIM_MAX_DEVICES];
    size_t ndevices;
    miaw_sim_device primary;   /* device 0: the simulated phone's public bundle */
    struct miaw_sig_store *sig;/* the phone's Signal store (phone.c; NULL until opened) */
    void *inbox;               /* json_t array: what the phone received (phone.c) */
    void *outbox;              /* json_t array: what the phone sent, with receipts */
    char status[140];          /* about text (usync <status>) */
    uint64_t last_seen;        /* presence: when the last device went unavailable */
    void *presence;            /* json_t: the phone's presence state (presence.c; not persisted) */
    uint64_t created_at;
    void *appstate;            /* app-state server and phone side (appstate.h; owned) */
    struct miaw_sim_account *next;
    struct miaw_sim_account *hnext[2]; /* index.c's hash chains: by phone, by LID */
    struct miaw_sim_account **watchers; /* accounts that fetched this one's device list (index.c; owned array, borrowed entries) */
    size_t nwatchers, watchers_cap;     /* watchers is an open-addressing set of watchers_cap slots */
} miaw_sim_account;

typedef struct miaw_sim {
    uv_loop_t *loop;
    char *state_dir;            /* NULL = in memory only */
    miaw_keypair root;          /* certificate root (clients pin its public key) */
    miaw_keypair intermediate;
    miaw_keypair server_static; /* Noise static key; the leaf certifies it */
    uint8_t *cert;              /* serialized CertChain (malloc'd) */
    size_t cert_len;
    miaw_sim_account *accounts; /* newest first */
    size_t naccounts;
    miaw_sim_account **index[2]; /* index.c: hash buckets by phone and by LID (owned arrays) */
    size_t index_cap;            /* buckets in each (a power of two, 0 before the first account) */
    struct miaw_sim_conn *conns;/* live WebSocket connections (conn.c's list) */
    size_t nconns;
    uint64_t iq_seq;            /* server-originated stanza ids */
    uint64_t unknown_iqs;       /* IQs answered with the generic empty result */
    struct miaw_sig_db *sigdb;  /* the phones' Signal stores (phone.c) */
    void *sqlite;               /* its sqlite3 handle: <state-dir>/phones.db or in memory */
    uint64_t messages_routed;
    struct miaw_sim_group *groups; /* group.h (owned; newest first) */
    size_t ngroups;
} miaw_sim;

/* Unix seconds. */
uint64_t miaw_sim_now(void);
/* Next server stanza id into buf ("<prefix>.<n>"). */
void miaw_sim_next_id(miaw_sim *sim, char *buf, size_t cap);
#endif
