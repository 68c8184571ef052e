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
    struct { char chat[MIAW_JID_STR_MAX]; uint64_t since; unsigned n; } autor[8]; /* auto replies per chat (engine_auto.c) */
    struct eng_as *as;     /* app-state sync (engine_appstate.c, owned; made on first use) */
    struct eng_inst *next, *prev;
    /* engine_send.c's lists, so that starting a send or checking deadlines walks only the
     * instances that have sends, not every instance: */
    struct eng_inst *busy_next, *busy_prev; /* e->busy: ei->sends is (or was until the last sweep) non-empty */
    struct eng_inst *kick_next;             /* e->kick: has sends waiting to start */
    int busy, kicked;
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
    eng_inst *busy;        /* instances with sends (engine_send.c; borrowed, unlinked by eng_send_forget) */
    eng_inst *kick;        /* instances with sends to start on the next loop turn (same) */
    uint64_t next_deadline_check; /* loop ms: the sweep's next walk of e->busy for deadlines */
    sqlite3_stmt *chat_ins; /* eng_chat_insert's statement (engine_chat.c; finalized at free) */
    miaw_svc_tap_fn tap;   /* every stanza after the engine handled it (services.c) */
    void *tap_ud;
    struct eng_media *media; /* media transfers (engine/media.h; owned, eng_media_free) */
    struct eng_hist *hist;   /* chat storage retention sweeper (engine_history.c; owned, eng_hist_stop) */
    int closing;             /* miaw_engine_free runs: pending unlinks are cancelled */
    void (*as_tap)(void *ud, const char *inst, const json_t *mutation); /* app-state mutations (services.c) */
    void *as_tap_ud;
    struct miaw_ratelimit *send_rl; /* per-instance send pace (rate_limit.send_*; owned, lazily made) */
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
/* takes ei off the engine's send lists (before it is freed; its sends are finished) */
void eng_send_forget(eng_inst *ei);
/* mediatype / decrypt-fail="hide" on every <enc> of an outgoing 1:1 stanza built for s */
void eng_send_mark_encs(miaw_node *stanza, const eng_send *s);

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

/* ==== group messaging: engine_send_group.c, engine_recv_group.c, engine_group.c, and what engine_send.c
 * shares with them (the send object and its steps) ==== */
#include "wa/msgcontent.h"
#include "wa/signal_session.h"

/* a send in progress (engine_send.c owns the list ei->sends and frees it) */
enum { ENG_SEND_START, ENG_SEND_USYNC, ENG_SEND_KEYS, ENG_SEND_ACK };
typedef struct eng_gsend eng_gsend;
struct eng_send {
    eng_inst *ei;
    uint64_t handle;
    char id[MIAW_WA_MSGID_MAX];
    miaw_jid chat, own;          /* user (or group) JID, own user JID */
    char chat_s[MIAW_JID_STR_MAX], own_s[MIAW_JID_STR_MAX];
    uint8_t *msg, *dsm;
    size_t msg_len, dsm_len;
    char stype[16];              /* the stanza's type attribute */
    char *edit;                  /* its edit attribute, or NULL */
    miaw_node **extra;           /* extra children of <message> (owned) */
    size_t nextra;
    int no_store;
    miaw_engine_send_cb cb;
    void *udata;
    int cancelled, inflight, done, step;
    uint64_t deadline;
    uint64_t started_ns;         /* uv_hrtime() at enqueue (send latency metric) */
    eng_gsend *g;                /* group sends: their state (owned, engine_send_group.c) */
    eng_send *next;
};
/* engine_send.c: a new send to chat with a copy of msg, the options and extra nodes;
 * 0 and *out, or MIAW_E_INVAL (msg is not a Message) / MIAW_E_NOMEM with err */
int eng_send_prepare(eng_inst *ei, const miaw_jid *chat, const uint8_t *msg, size_t len, const miaw_msg_opts *o,
                     miaw_node **extra, size_t nextra, eng_send **out, char *err, size_t errlen);
/* queues s and starts it on the next loop turn (cb once, later) */
void eng_send_enqueue(miaw_engine *e, eng_send *s, miaw_engine_send_cb cb, void *udata, unsigned timeout_ms,
                      uint64_t *handle);
void eng_send_finish(eng_send *s, int err, int64_t ts, const char *detail);
/* an IQ callback's common start: 1 when the send is still live and reply is a result */
int eng_send_iq_back(eng_send *s, int err, const miaw_node *reply);
int eng_send_encrypt_one(eng_inst *ei, const miaw_jid *dev, const uint8_t *pt, size_t len, int *type, uint8_t **ct,
                         size_t *ct_len);
/* sessions from a pre-key fetch answer; how many were built */
int eng_send_build_sessions(eng_inst *ei, const miaw_node *reply);
/* keeps s in the ring of recent sends (retry receipts) */
void eng_send_remember(eng_inst *ei, const eng_send *s);

/* engine_send_group.c: the send's steps after ENG_SEND_START (metadata, devices,
 * sessions, SKDM + skmsg); its ack (persists who got the SKDM); its state */
void eng_send_group_start(eng_send *s);
void eng_send_group_acked(eng_send *s, const miaw_node *ack);
void eng_send_group_free(eng_gsend *g);
/* engine_group.c: the instance's group records in kv ("meta" / "skdm" of a group JID;
 * get: new reference or NULL) */
json_t *eng_group_kv_get(eng_inst *ei, const char *what, const char *group);
void eng_group_kv_put(eng_inst *ei, const char *what, const char *group, const json_t *v);
void eng_group_kv_del(eng_inst *ei, const char *what, const char *group);
/* the address our own sender keys are named by: own LID device when known, else PN */
int eng_group_self_addr(eng_inst *ei, miaw_sig_addr *out);
/* a w:gp2 notification (already acked): drops the cached metadata of the group and,
 * when someone left or was removed, rotates our sender key for it */
void eng_group_on_notification(eng_inst *ei, const miaw_node *n);
/* 1 when an IQ this instance sends changes a group (w:g2 set): services.c keeps a copy
 * and calls eng_group_after_own_iq with it once the server answered with a result */
int eng_group_iq_watch(const miaw_node *iq);
void eng_group_after_own_iq(eng_inst *ei, const miaw_node *iq);
/* pure helpers (unit-tested): the key id of a serialized SKDM (0x33 || protobuf);
 * whatsmeow's participant hash "2:" + base64-no-pad(SHA-256(sorted ADStrings)[0:6]) of
 * device JIDs (out >= 16 bytes); the participants of a w:g2 <group> node as JSON
 * {"lid":bool,"participants":[{"jid","pn"?}]} (new reference, NULL when not a group);
 * msg (a serialized Message) with senderKeyDistributionMessage{group, skdm} set, padded
 * (*out malloc'd) */
int eng_skdm_key_id(const uint8_t *skdm, size_t len, uint32_t *id);
int eng_group_phash(const miaw_jid *devs, size_t n, char *out, size_t cap);
json_t *eng_group_meta_parse(const miaw_node *group);
int eng_group_msg_with_skdm(const uint8_t *msg, size_t len, const char *group, const uint8_t *skdm, size_t skdm_len,
                            uint8_t **out, size_t *out_len);

/* engine_recv.c, shared with engine_recv_group.c */
void eng_recv_send_free(eng_inst *ei, miaw_node *n); /* sends n (if any) and frees it */
/* an undecryptable message: error event, retry receipt (bounded) or a nack */
void eng_recv_undecryptable(eng_inst *ei, const miaw_node *n, const char *from, int rc);
/* 1 when j is the account's own user (PN or LID) */
int eng_recv_own_user(eng_inst *ei, const miaw_jid *j);
/* decrypt a pkmsg/msg from addr, and for a msg that does not open under addr (the
 * session may be keyed by the sender's other namespace) from alt when given */
int eng_recv_decrypt_pair(eng_inst *ei, const miaw_sig_addr *addr, const miaw_sig_addr *alt, int type,
                          const uint8_t *ct, size_t len, uint8_t **pt, size_t *pt_len);
/* the `message` event's content fields (type, text, quotedMessageId, mentions, raw) into d */
void eng_recv_content_json(json_t *d, const miaw_wa_content *c);
/* contextInfo.mentionedJid of the content message of raw (a Message as JSON): new array */
json_t *eng_raw_mentions(const json_t *raw);
/* engine_recv_group.c: a <message> from a group or broadcast list */
void eng_recv_group_message(eng_inst *ei, const miaw_node *n);

/* ==== chat history: engine_history.c (msg_list / chat_list services, cursors, the wa_chats
 * summary kept by triggers, retention) ==== */
typedef struct eng_hist eng_hist;
#define ENG_HIST_CURSOR_MAX 25 /* a cursor's characters + NUL */
#define ENG_HIST_BATCH 100     /* rows deleted by the first retention step (then adapted) */
/* indexes, the wa_chats table and its triggers (filled from existing rows the first time);
 * after eng_chat_init. 0 or -1 */
int eng_hist_init(miaw_storage *db);
/* the plugin ABI's msg_list / chat_list answers (new references, never NULL): {messages |
 * chats, next}, or {error, field} for a bad query (field = the query key), or {error,
 * internal: true} when storage failed. The instance is not checked. */
json_t *eng_hist_msg_list(miaw_storage *db, const char *inst, const json_t *query);
json_t *eng_hist_chat_list(miaw_storage *db, const char *inst, const json_t *query);
/* cursor of position (ts, rowid) in a list of kind 'm' (messages) or 'c' (chats); decode:
 * 0, or -1 for anything that is not such a cursor of that kind */
int eng_hist_cursor_encode(char kind, int64_t ts, int64_t row, char out[ENG_HIST_CURSOR_MAX]);
int eng_hist_cursor_decode(const char *s, char kind, int64_t *ts, int64_t *row);
/* deletes at most batch rows of inst older than cutoff (unix seconds; rows with ts 0 by
 * their created_at): how many, or -1 */
long eng_hist_expire(miaw_storage *db, const char *inst, int64_t cutoff, int batch);
/* the instances that have stored messages (*ids malloc'd, each string too); 0 or -1 */
int eng_hist_instances(miaw_storage *db, char ***ids, size_t *n);
/* the retention sweeper of e (nothing when whatsapp.chat_storage_retention_days is 0):
 * hourly, first a second after start; stop frees it (safe when never started). 0 or -1 */
int eng_hist_start(miaw_engine *e, char *err, size_t errlen);
void eng_hist_stop(miaw_engine *e);

/* ==== engine_protocol.c: chat storage follows revokes and edits; typed event fields ==== */
/* the edited_at column on databases made before it existed; 0 or -1 */
int eng_proto_init(miaw_storage *db);
/* 1 when c is a revoke or an edit naming its target (emitted as `message`, type "protocol") */
int eng_proto_visible(const miaw_wa_content *c);
/* applies revoke / edit c, sent by actor (user JID; from_me: the account itself) in chat,
 * to the stored target when actor wrote it (or, edit "8" in a group, anyone's); edit = the
 * stanza's edit attribute, ts = its time (s). 1 applied, 0 nothing to do, -1 db error */
int eng_proto_apply(eng_inst *ei, const char *chat, const char *actor, int from_me, const miaw_wa_content *c,
                    const char *edit, int64_t ts);
/* a send of ours the server acknowledged at ts: applied when it is a revoke or an edit */
void eng_proto_on_acked(eng_inst *ei, const eng_send *s, int64_t ts);
/* the `message` event's typed fields from raw (the Message JSON): location, contacts */
void eng_proto_event_fields(json_t *d, const json_t *raw);

/* ==== engine_auto.c: the configuration's automatic answers; logout ==== */
/* a new incoming 1:1 message n (not from the account itself) in chat (user JID) was stored
 * and emitted: read receipt (whatsapp.auto_mark_read), auto reply (whatsapp.auto_reply) */
void eng_auto_on_message(eng_inst *ei, const miaw_node *n, const char *chat);
/* POST /instances/{instanceId}/logout; 0 or -1 */
int eng_auto_routes(miaw_engine *e, miaw_router *rt, char *err, size_t errlen);
/* DELETE /instances/{id} unlinks through the engine (on 1) or no longer (on 0) */
void eng_auto_attach(miaw_engine *e, int on);
#endif
