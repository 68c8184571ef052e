/* core/http/events_int.h - internals shared by events_stream.c (the hub, the route, SSE
 * output, replay) and events_ws.c (the WebSocket variant of the same stream). Not a
 * public interface. */
#ifndef MIAW_EVENTS_INT_H
#define MIAW_EVENTS_INT_H
#include "http/events_stream.h"
#include "http/http_int.h"

#define MAX_FILTERS 32
#define PING_MS 15000

/* one open stream. SSE: lives in its h2o request's pool (filters are pool strings). WS:
 * malloc'd with malloc'd filter copies, owned by the hub's list until its socket closes. */
typedef struct stream {
    h2o_generator_t super;     /* SSE: the h2o generator (first member) */
    miaw_events_stream *hub;   /* NULL once detached (hub freed) or unlinked */
    h2o_req_t *req;            /* SSE: the request; NULL once disposed */
    h2o_socket_t *sock;        /* WS: the upgraded socket, NULL until the 101 was sent */
    int ws;
    char *inst[MAX_FILTERS], *types[MAX_FILTERS]; /* none = all */
    size_t ninst, ntypes;
    char *out;                 /* bytes being written, freed when the write completes */
    char *q;                   /* queued after them */
    size_t qlen, qcap;
    int sending, ending, gone;
    long long replay_after;    /* WS: replay from here once upgraded (-1: none) */
    uint64_t last_write;       /* loop ms */
    struct stream *prev, *next;
} stream;

struct miaw_events_stream {
    uv_loop_t *loop;
    const miaw_config *cfg;
    miaw_bus *bus;
    miaw_storage *db;
    miaw_instance_exists_fn exists;
    void *exists_ud;
    miaw_id sub;
    uv_timer_t *timer;
    stream *list;
    size_t n;
};

/* events_stream.c */
void evs_link(miaw_events_stream *h, stream *s);
void evs_unlink(stream *s);
/* appends bytes to s's queue and writes when nothing is in flight (SSE or WS) */
void evs_push(stream *s, const char *data, size_t len);
void evs_replay(miaw_events_stream *h, stream *s, long long after);

/* events_ws.c */
/* r asks for a WebSocket (Upgrade: websocket): 1 when it does (answered: 101 and the
 * stream set up, or 400), 0 when it is a plain request */
int evs_ws_maybe(miaw_events_stream *h, miaw_req *r, char **inst, size_t ni, char **types, size_t nt,
                 long long after);
/* one event as a text frame {"id":N|null,"event":T,"data":BODY} */
void evs_ws_event(stream *s, long long id, const char *type, const char *body);
/* a ping frame (keep-alive) */
void evs_ws_ping(stream *s);
/* the hub's timer: pings an idle stream, closes an ending one (1: s was freed) */
int evs_ws_tick(stream *s, uint64_t now);
/* writes what is queued (socket level) */
void evs_ws_flush(stream *s);
#endif
