/* core/engine_int.h - internals shared by engine.c (state machine), engine_store.c
 * (sqlite rows of an instance's device credentials and pre-keys) and engine_routes.c
 * (HTTP). Not a public interface. */
#ifndef MIAW_ENGINE_INT_H
#define MIAW_ENGINE_INT_H
#include "engine.h"
#include "wa/conn.h"
#include "wa/pairing.h"

#define ENG_MAX_REFS 16

typedef enum { ENG_T_NONE, ENG_T_CONNECT, ENG_T_QR } eng_timer_what;

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
/* generates n one-time pre-keys after c->next_prekey_id, stores them and the advanced
 * counter in one transaction; *ids / *keys malloc'd for the caller */
int eng_store_new_prekeys(miaw_storage *db, const char *id, miaw_wa_creds *c, size_t n, uint32_t **ids,
                          miaw_keypair **keys);
/* ids of instances that are paired and were connected when the server last stopped */
int eng_store_autoconnect_ids(miaw_storage *db, char ***ids, size_t *n);

/* ---- engine_routes.c ---- */
int eng_routes(miaw_engine *e, miaw_router *rt, char *err, size_t errlen);
#endif
