/* core/engine/media_int.h - internals shared by the engine's media files: HTTPS to the
 * media hosts over http/httpc.h (media_http.c), the transfer record and its life cycle,
 * the media_conn cache (media.c), uploads (media_up.c) and downloads (media_down.c). Not
 * a public interface.
 *
 * A transfer (eng_xfer) is created by the service call, starts on the next loop turn,
 * and ends exactly once: eng_xfer_finish runs the plugin's callback and ends it,
 * eng_xfer_end ends it silently (cancel). An ended transfer is freed at once unless a
 * thread-pool job (uploads hash their source there, downloads flush their file) or a
 * chunk callback still holds it; the holder frees it when it lets go. Loop thread only,
 * except the job's work function, which touches nothing but the transfer's source and
 * its own results. */
#ifndef MIAW_ENGINE_MEDIA_INT_H
#define MIAW_ENGINE_MEDIA_INT_H
#include <uv.h>

#include "engine/engine_int.h"
#include "engine/media.h"
#include "wa/mediacrypto.h"

/* ---- media_http.c: WhatsApp's media hosts through http/httpc.h (libcurl multi on the loop) ---- */
typedef struct eng_mhttp eng_mhttp;
typedef struct eng_mreq eng_mreq;
#define ENG_MREAD_ABORT ((size_t)-1)
typedef struct eng_mreq_cbs {
    /* POST body: up to n bytes into buf; how many (0 = the end) or ENG_MREAD_ABORT */
    size_t (*read)(void *ud, char *buf, size_t n);
    /* response body bytes of a response with this HTTP status; 0 = go on, else abort */
    int (*write)(void *ud, long status, const char *data, size_t n);
    /* the end, once, outside libcurl's callbacks: cerr 0 when a response came (status),
     * else libcurl's error code and message. The request is gone afterwards. */
    void (*done)(void *ud, int cerr, long status, const char *msg);
} eng_mreq_cbs;
typedef struct eng_mhttp_opts {
    unsigned timeout_ms;          /* connect deadline, and the longest a transfer may stall */
    const char *const *ca_files;  /* PEM files trusted on top of the system's CAs */
    size_t nca_files;
} eng_mhttp_opts;
eng_mhttp *eng_mhttp_new(uv_loop_t *loop, const eng_mhttp_opts *o, char *err, size_t errlen);
/* drops every request without callbacks; handles close on the next loop turn */
void eng_mhttp_free(eng_mhttp *h);
/* https only; GET follows up to 3 redirects; range_from > 0 asks for the bytes from there */
eng_mreq *eng_mhttp_get(eng_mhttp *h, const char *url, uint64_t range_from, const eng_mreq_cbs *cbs, void *ud);
eng_mreq *eng_mhttp_post(eng_mhttp *h, const char *url, uint64_t body_len, const eng_mreq_cbs *cbs, void *ud);
/* no callback of r runs afterwards; safe inside r's (or any) callback */
void eng_mreq_cancel(eng_mreq *r);

/* ---- media.c ---- */
typedef struct eng_media eng_media;
typedef struct eng_xfer eng_xfer;
typedef struct eng_up eng_up;
typedef struct eng_down eng_down;
typedef struct eng_mconn eng_mconn;

typedef struct eng_mhost {
    char *host;      /* "hostname[:port]" */
    uint64_t max;    /* maxContentLengthBytes, 0 = not said */
} eng_mhost;

/* a media_conn answer of one instance, cached until its ttl */
struct eng_mconn {
    char inst[65];
    char *auth;
    eng_mhost *hosts;
    size_t nhosts;
    uint64_t expires;      /* loop ms */
    int fetching, dead;    /* an IQ is out; dead: released while it was */
    uint64_t seq;          /* waiters up to this one are served by the IQ out */
    eng_media *m;
    eng_mconn *next;
};

struct eng_media {
    miaw_engine *e;
    uv_loop_t *loop;
    eng_mhttp *http;
    uv_timer_t *kick;       /* starts new transfers on the next loop turn */
    eng_xfer *xfers;        /* live transfers */
    eng_mconn *conns;
    uint64_t next_handle, next_wait;
    uint64_t max_bytes;     /* largest plaintext moved */
    unsigned timeout_ms;
    const miaw_strlist *upload_hosts; /* tried before media_conn's (borrowed from the config) */
};

struct eng_xfer {
    eng_media *m;           /* NULL once the engine is gone and a job still holds it */
    uint64_t handle;
    char inst[65];
    char type[32];          /* the media type given */
    int upload;
    miaw_media_fn cb;
    miaw_media_chunk_fn chunk;
    void *udata;
    eng_mreq *req;          /* the HTTP exchange in progress */
    int pending_start;      /* waits for the kick timer */
    eng_mconn *wait;        /* waiting for this media_conn answer */
    uint64_t wait_seq;
    eng_xfer *wait_next;
    int busy;               /* inside a chunk callback */
    int working;            /* a thread-pool job holds it */
    int ended;
    eng_up *up;
    eng_down *down;
    eng_xfer *next, *prev;
};

/* runs the callback once (result borrowed for it) and ends x; detail may point into x */
void eng_xfer_finish(eng_xfer *x, int status, const json_t *result, const char *detail);
/* ends x without a callback (idempotent); frees it unless held */
void eng_xfer_end(eng_xfer *x);
/* a holder (job, chunk callback) let go: frees x if it ended meanwhile; 1 when freed */
int eng_xfer_release_hold(eng_xfer *x);

/* The media_conn answer of x's instance: its kind's on_conn runs with it (now when
 * cached, else when the IQ answers). */
void eng_mconn_want(eng_xfer *x);
/* drops the cached answer of inst (its auth was refused) */
void eng_mconn_invalidate(eng_media *m, const char *inst);

/* base64 (standard or URL alphabet, with or without padding): malloc'd string */
char *eng_b64(const uint8_t *in, size_t n, int url, int pad);
/* decodes standard or URL base64, padding optional; 0 and *out_len, or -1 */
int eng_b64_decode(const char *s, uint8_t *out, size_t cap, size_t *out_len);

/* ---- media_up.c ---- */
/* checks the type and the source (copies data, opens path); MIAW_E_INVAL with err */
int eng_up_prepare(eng_xfer *x, const void *data, size_t len, const char *path, char *err, size_t errlen);
void eng_up_start(eng_xfer *x);
void eng_up_on_conn(eng_xfer *x, int status, const eng_mconn *c, const char *detail);
void eng_up_free(eng_up *u);

/* ---- media_down.c ---- */
int eng_down_prepare(eng_xfer *x, const json_t *media, const char *path, char *err, size_t errlen);
void eng_down_start(eng_xfer *x);
void eng_down_on_conn(eng_xfer *x, int status, const eng_mconn *c, const char *detail);
void eng_down_free(eng_down *d); /* a temporary file not renamed yet is removed */

/* the path segment of /mms/<segment>/ for a media type, NULL when uploads of it are unknown */
const char *eng_media_mms_type(const char *type);
#endif
