/* core/http/router.h - the route table: core and plugin routes with their schemas and docs,
 * matching of a method + path to a route with {param} capture, 404 vs 405 decision.
 * Owns every miaw_route_entry and all strings in it (deep copies). */
#ifndef MIAW_ROUTER_H
#define MIAW_ROUTER_H
#include <miaw/plugin.h>
#include <stddef.h>
#include <stdint.h>

#define MIAW_MAX_PARAMS 8
#define MIAW_ROUTE_ROOT (1u << 16) /* internal flag: path is not under the API prefix */
/* internal flags a route can declare about its access (core routes, via extra_flags or
 * miaw_router_set_flags; plugin routes keep the ABI defaults):
 *   ADMIN: only the admin (global) API key, never a scoped key;
 *   NO_RATELIMIT: not counted by the per-key / per-address REST rate limits
 *   (e.g. a long-lived stream, or a scrape endpoint with its own protection). */
#define MIAW_ROUTE_ADMIN (1u << 17)
#define MIAW_ROUTE_NO_RATELIMIT (1u << 18)

struct miaw_plugin;
typedef struct miaw_route_entry {
    char *method, *path;           /* path relative to the API prefix (or to base_path when ROOT) */
    char **segs;                   /* path split on '/' */
    size_t nseg, nliteral;
    uint32_t param_mask;           /* bit i: segs[i] is a {param} */
    uint32_t lit_hash;             /* seg_hash of every literal segment, combined (router.c) */
    uint32_t flags;
    uint8_t mcode;                 /* GET 1, POST 2, PUT 3, PATCH 4, DELETE 5 (router.c) */
    miaw_route_fn handler;
    void *udata;
    miaw_field *body;              /* owned deep copy, or NULL */
    int has_body;
    uint64_t body_max;
    uint32_t timeout_ms;
    char *operation_id, *summary, *description, *tag, *response_example;
    struct miaw_plugin *owner;     /* NULL = core (borrowed) */
    struct miaw_route_entry *next;
} miaw_route_entry;

/* the table as the matcher scans it: the routes of one shape (segment count, ROOT or
 * not) side by side in registration order, so a request looks at the routes with its
 * number of segments only (rebuilt by every change; NULL: scan the list) */
typedef struct miaw_router_slot {
    miaw_route_entry *e;
    uint32_t param_mask; /* as e->param_mask */
    uint32_t lit;        /* hash of the literal segments at their positions */
} miaw_router_slot;

#define MIAW_ROUTER_MAXSEG 17                      /* segments a request path may have */
#define MIAW_ROUTER_SHAPES (2 * (MIAW_ROUTER_MAXSEG + 1)) /* nseg 0..17, ROOT or not */

/* zero-initialized is empty */
typedef struct miaw_router {
    miaw_route_entry *head;
    size_t count;
    miaw_router_slot *idx; /* owned; count slots, grouped by shape, registration order within */
    uint32_t start[MIAW_ROUTER_SHAPES + 1]; /* idx[start[b] .. start[b+1]): the slots of shape b */
} miaw_router;

typedef struct miaw_route_match {
    miaw_route_entry *route;
    size_t nparams;
    const char *names[MIAW_MAX_PARAMS];
    char values[MIAW_MAX_PARAMS][256];  /* percent-decoded once */
} miaw_route_match;

/* Copies r (a plugin's miaw_route, r->struct_size/field_size strides honoured).
 * MIAW_E_EXIST for a duplicate method+path, MIAW_E_INVAL with a message otherwise. */
int miaw_router_add(miaw_router *rt, const miaw_route *r, uint32_t extra_flags,
                    struct miaw_plugin *owner, char *err, size_t errlen);
/* 200 and fills m; 404 when no path matches; 405 when the path matches another method
 * (allow gets "GET, POST"; for OPTIONS it gets the path's methods whatever the answer,
 * otherwise it is left empty on a 200, at no cost); 400 when a segment is malformed: a bad %-escape, an encoded
 * NUL or '/', a '.' or '..' segment, not UTF-8 or longer than 255 bytes decoded. path: the raw
 * (not yet decoded) path relative to the prefix, without query; every segment, literal
 * or parameter, is percent-decoded exactly once. */
int miaw_router_match(const miaw_router *rt, const char *method, const char *path, int root,
                      miaw_route_match *m, char *allow, size_t allowlen);
/* ORs flags into the route method + path (as registered); MIAW_OK or MIAW_E_NOTFOUND */
int miaw_router_set_flags(miaw_router *rt, const char *method, const char *path, uint32_t flags);
void miaw_router_remove_owner(miaw_router *rt, struct miaw_plugin *owner);
void miaw_router_free(miaw_router *rt);
#endif
