/* core/engine/engine_int.h - internals shared by engine.c (state machine), engine_store.c
 * (sqlite rows of an instance's device credentials and pre-keys), engine_routes.c
 * (HTTP), engine_sig.c (the Signal store of an instance), engine_chat.c (chat storage,
 * device-list cache), engine_send.c (outgoing messages) and engine_recv.c (incoming
 * messages, receipts, notifications). Not a public interface. */
#ifndef MIAW_ENGINE_INT_H
#define MIAW_ENGINE_INT_H
#include "engine/engine.h"
#include "plugins/services.h"
#include "wa/conn.h"
#include "wa/pairing.h"
#include "wa/signal_store.h"
#include "wa/stanza.h"

#define ENG_MAX_REFS 16

typedef enum { ENG_T_NONE, ENG_T_CONNECT, ENG_T_QR } eng_timer_what;

typedef struct eng_send eng_send;
typedef struct eng_devlist eng_devlist;
typedef struct eng_sent eng_sent;
typedef struct eng_linkcode eng_linkcode;

#define ENG_SENT_RING 64 /* recently sent messages kept for retry receipts */

/* a message we sent, as needed to encrypt it again for one device */
struct eng_sent {
    char id[23];
    miaw_jid chat;       /* user JID */
    uint8_t *msg, *dsm;  /* Message and its DeviceSentMessage copy (unpadded) */
    size_t msg_len, dsm_len;
    unsigned retries;
};

typedef struct eng_inst {
    miaw_engine *e;
    char id[65];
    miaw_wa_conn *conn;
    miaw_wa_creds creds;
    int have_creds;
    uv_timer_t timer;
    eng_timer_what what;
    int want;              /* the user wants this instance connected */
    int logged_in;         /* <success> seen on the current connection */
    int restart;           /* 515 received: reconnect at once */
    unsigned attempt;      /* reconnect attempt (0 = first connection) */
    char *refs[ENG_MAX_REFS];
    size_t nrefs, ref_i;
    char *qr;              /* current QR string */
    unsigned qr_shown;     /* QR codes shown since connect */
    int64_t connected_at;  /* ms */
    miaw_sig_store *sig;   /* Signal store (opened lazily, engine_sig.c) */
    eng_send *sends;       /* outgoing messages in progress */
    eng_devlist *devlists; /* cached device lists per user */
    size_t ndevlists;
    eng_sent *sent[ENG_SENT_RING]; /* ring of recent outgoing messages */
    size_t sent_i;
    struct { char id[64]; unsigned n; } fails[16]; /* retry receipts sent per message id */
    size_t fail_i;
    eng_linkcode *lc;      /* pairing by phone-number code (engine_linkcode.c, owned) */
    struct eng_inst *next, *prev;
} eng_inst;

struct miaw_engine {
    uv_loop_t *loop;
    const miaw_config *cfg;
    miaw_storage *db;
    miaw_bus *bus;
    miaw_instances *inst;
    miaw_engine_opts o;
    uint64_t next_slot;    /* handshake rate limit: earliest start of the next attempt */
    miaw_id sub_deleted;
    eng_inst *list;
    miaw_sig_db *sdb;      /* Signal tables on the same sqlite handle */
    uint64_t next_send;    /* send handles */
    uv_timer_t *sweep;     /* starts sends, checks their deadlines (malloc'd) */
    miaw_svc_tap_fn tap;   /* every stanza after the engine handled it (services.c) */
    void *tap_ud;
    struct eng_media *media; /* media transfers (engine/media.h; owned, eng_media_free) */
};

eng_inst *eng_get(miaw_engine *e, miaw_instance *in);
/* drops the connection and timers, unlinks ei and frees it once its timer has closed */
void eng_release(eng_inst *ei);

/* ---- engine_store.c; all return 0 or -1 (logged) unless said otherwise ---- */
int eng_store_init(miaw_storage *db);
/* 1 and *c filled, 0 when the instance has no credentials, -1 on error */
int eng_store_load(miaw_storage *db, const char *id, miaw_wa_creds *c, int *autoconnect);
int eng_store_save(miaw_storage *db, const char *id, const miaw_wa_creds *c, int autoconnect);
int eng_store_set_autoconnect(miaw_storage *db, const char *id, int on);
int eng_store_delete(miaw_storage *db, const char *id);
/* generates n one-time pre-keys after c->next_prekey_id, stores them in the Signal
 * store sig and the advanced counter in one transaction; *ids / *keys malloc'd */
int eng_store_new_prekeys(miaw_storage *db, miaw_sig_store *sig, const char *id, miaw_wa_creds *c, size_t n,
                          uint32_t **ids, miaw_keypair **keys);
/* ids of instances that are paired and were connected when the server last stopped */
int eng_store_autoconnect_ids(miaw_storage *db, char ***ids, size_t *n);

/* ---- engine.c ---- */
void eng_emit(eng_inst *ei, const char *type, json_t *data);
/* logs the instance out: rows, Signal store and state (event `disconnected`, loggedOut) */
void eng_logout(eng_inst *ei, const char *reason);
/* sends a node on the current connection; 0 or MIAW_E_STATE when none */
int eng_send_node(eng_inst *ei, const miaw_node *n);

/* ---- engine_sig.c ---- */
/* opens ei->sig and makes it hold the identity, signed pre-key and pre-keys of ei->creds
 * (migrating rows of wa_prekeys); 0 or -1 */
int eng_sig_open(eng_inst *ei);
void eng_sig_close(eng_inst *ei);
/* drops every Signal row of the instance */
void eng_sig_purge(miaw_engine *e, const char *id);

/* ---- engine_chat.c: chat storage (table wa_messages) and the device-list cache ---- */
int eng_chat_init(miaw_storage *db);
typedef struct eng_msg_row {
    const char *chat, *id, *sender, *push_name, *type, *text, *quoted_id, *status;
    int from_me;
    int64_t ts;
    const uint8_t *raw;
    size_t raw_len;
} eng_msg_row;
/* inserts the row (content only when chat_storage is on); 1 inserted, 0 already there,
 * -1 on error */
int eng_chat_insert(miaw_engine *e, const char *inst, const eng_msg_row *r);
/* 1 when a row (inst, chat, id, from_me) exists, 0 if not, -1 on error */
int eng_chat_exists(miaw_engine *e, const char *inst, const char *chat, const char *id, int from_me);
int eng_chat_set_status(miaw_engine *e, const char *inst, const char *id, int from_me, const char *status, int64_t ts);
/* a stored message by id: *text, *sender, *chat malloc'd (NULL when absent); 1 found, 0 not */
int eng_chat_find(miaw_engine *e, const char *inst, const char *id, char **chat, char **sender, char **text,
                  int *from_me);
void eng_chat_delete(miaw_engine *e, const char *inst);
/* the stored message as the ABI's msg_get gives it (new reference) or NULL */
json_t *eng_chat_get(miaw_engine *e, const char *inst, const char *id);

struct eng_devlist {
    char user[MIAW_JID_STR_MAX]; /* "<user>@<server>" */
    uint16_t devices[MIAW_WA_MAX_DEVICES];
    size_t n;
    uint64_t at; /* loop ms */
    eng_devlist *next;
};
/* the cached list of user, or NULL */
eng_devlist *eng_devlist_get(eng_inst *ei, const char *user);
void eng_devlist_put(eng_inst *ei, const miaw_wa_usync_user *u);
void eng_devlist_forget(eng_inst *ei, const char *user); /* NULL = all */
void eng_devlist_free(eng_inst *ei);

/* ---- engine_send.c ---- */
/* an <ack class="message"> for one of our messages */
void eng_send_on_ack(eng_inst *ei, const miaw_node *ack);
/* a <receipt type="retry"> for one of our messages */
void eng_send_on_retry(eng_inst *ei, const miaw_node *receipt);
/* fails every send of ei (connection gone / instance released) */
void eng_send_fail_all(eng_inst *ei, int err, const char *why);
void eng_sent_free_all(eng_inst *ei);
/* no callback will run for the current sends (shutdown) */
void eng_send_cancel_all(eng_inst *ei);
/* encrypts r for one device and sends it alone (<enc count>); 0 or MIAW_E_* */
int eng_send_to_device(eng_inst *ei, const eng_sent *r, const miaw_jid *dev, unsigned count);
void eng_send_sweep(miaw_engine *e);

/* ---- engine_send_group.c ---- */
/* a send to a group JID (sender keys); as miaw_engine_send_msg */
int eng_send_group(miaw_engine *e, eng_inst *ei, const miaw_jid *group, const uint8_t *msg, size_t len,
                   const miaw_msg_opts *o, miaw_node **extra, size_t nextra, miaw_engine_send_cb cb, void *udata,
                   uint64_t *handle, char *err, size_t errlen);

/* ---- engine_recv.c ---- */
void eng_recv_message(eng_inst *ei, const miaw_node *n);
void eng_recv_receipt(eng_inst *ei, const miaw_node *n);
void eng_recv_ack(eng_inst *ei, const miaw_node *n);
/* <call>, <presence>, <chatstate>, <ib>: acknowledged where WhatsApp wants it */
void eng_recv_other(eng_inst *ei, const miaw_node *n);
/* device-list and logout notifications (after the ack was sent) */
void eng_recv_notification(eng_inst *ei, const miaw_node *n);

/* ---- engine_linkcode.c: pairing by phone-number code ---- */
int eng_linkcode_routes(miaw_engine *e, miaw_router *rt, char *err, size_t errlen);
/* pair-device refs arrived on the registration connection: a waiting request asks */
void eng_linkcode_on_refs(eng_inst *ei);
/* <notification type="link_code_companion_reg"> (already acked) */
void eng_linkcode_on_notification(eng_inst *ei, const miaw_node *n);
/* the connection is gone (after its IQ callbacks ran): an issued code is void */
void eng_linkcode_on_conn_lost(eng_inst *ei);
/* the instance stopped: a waiting request fails with the reason */
void eng_linkcode_cancel(eng_inst *ei, const char *reason);
void eng_linkcode_free(eng_inst *ei);

/* ---- engine_routes.c ---- */
int eng_routes(miaw_engine *e, miaw_router *rt, char *err, size_t errlen);
#endif
