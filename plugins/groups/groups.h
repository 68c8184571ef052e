/* plugins/groups/groups.h - what the files of the groups plugin share. Every .c here is
 * compiled into groups.so: groups.c (init: registration), group_meta.c (reading w:g2
 * replies into the API's JSON, the IQ error mapping, node helpers), group_call.c (one
 * request = a chain of w:g2 IQs), group_routes.c (create, list, metadata, participants,
 * admins, PATCH, leave), group_invite.c (invite links, join, join requests),
 * group_events.c (w:gp2 notifications -> group_update, group_participants, group_join).
 * The plugin's handle and the host table live in miaw_plugin_base (plugin_util.h), valid
 * from init to fini; everything runs on the loop thread. */
#ifndef MIAW_PLUGIN_GROUPS_H
#define MIAW_PLUGIN_GROUPS_H
#include <jansson.h>
#include <miaw/node_util.h>
#include <miaw/plugin.h>
#include <miaw/plugin_util.h>

#define GRP_SERVER "@g.us"
#define GRP_MAX_PARTICIPANTS 1024

/* ------------------------------------------------------------ group_meta.c */
/* JSON node reading: miaw_jnode_attr / _child / _text of <miaw/node_util.h> */
/* "15551234567@s.whatsapp.net" -> "15551234567" into out (no device, no server). */
void grp_user(const char *jid, char *out, size_t n);
/* <group> metadata node -> {jid, id, subject, ..., participants, settings} (new ref). */
json_t *grp_metadata(const json_t *group);
/* A participant node -> {jid, phone, lid, admin} (new ref). */
json_t *grp_participant(const json_t *p);
/* A group JID from the path: "<id>@g.us" or a bare id -> "<id>@g.us" in out. MIAW_OK or
 * MIAW_E_INVAL. */
int grp_parse_jid(const char *in, char *out, size_t n);
/* An invite code from the path (the code, or a https://chat.whatsapp.com/<code> link)
 * into out. MIAW_OK or MIAW_E_INVAL. */
int grp_parse_code(const char *in, char *out, size_t n);

/* What an IQ error means for the API (protocol facts 9.2). */
enum { GRP_CTX_GROUP = 0, GRP_CTX_INVITE = 1 };
typedef struct grp_err {
    int http;
    const char *code;  /* INVALID_REQUEST, NOT_GROUP_ADMIN, NOT_FOUND, CONFLICT, ... */
    const char *field; /* details.field for 400s, or NULL */
    char message[256];
} grp_err;
/* Map an iq callback's failure (status, detail "<code> <text>") in context ctx. */
void grp_map_error(int status, const char *detail, int ctx, grp_err *out);
/* The outcome name of a participant operation's per-entry code. */
const char *grp_outcome(int code, const char *action, int has_add_request);

/* ------------------------------------------------------------ group_call.c */
/* One HTTP request served by a chain of IQs. `step` runs for each reply (status
 * MIAW_OK); it sends the next IQ with grp_call_iq, answers with grp_call_done /
 * grp_call_fail, and returns. Failures of an IQ are answered by the chain itself
 * (grp_map_error with call->ctx) unless call->on_error handles them (returns 1). */
typedef struct grp_call grp_call;
typedef void (*grp_step_fn)(grp_call *c, const json_t *reply);
struct grp_call {
    miaw_plugin_base *b;
    miaw_req *req;
    miaw_id h;
    char inst[128];
    char group[96];
    int ctx;     /* GRP_CTX_* */
    int stage;   /* the step's own counter */
    grp_step_fn step;
    int (*on_error)(grp_call *c, int status, const json_t *reply, const char *detail);
    json_t *body;  /* a copy of the request body (or NULL) */
    json_t *acc;   /* what the step collects, freed with the call */
    char scratch[128];
};
/* A call for req (copies the body); NULL when out of memory (answered). */
grp_call *grp_call_new(miaw_plugin_base *b, miaw_req *req, int ctx, grp_step_fn step);
/* Send <iq xmlns="w:g2" type to=group or @g.us> with one child (stolen). MIAW_OK, or the
 * call is answered and freed (return the value of grp_call_start's caller as is). */
int grp_call_iq(grp_call *c, const char *type, const char *to, json_t *child);
/* The handler's return after the first grp_call_iq: MIAW_ASYNC with the request
 * suspended, or MIAW_OK when the call already failed (answered). */
int grp_call_start(grp_call *c, int rc);
void grp_call_done(grp_call *c, int http, json_t *data);
void grp_call_fail(grp_call *c, int http, const char *code, const char *field, const char *fmt, ...) MIAW_FMT(5, 6);
/* answer the mapped error of an IQ failure */
void grp_call_fail_iq(grp_call *c, int status, const char *detail);
/* a JSON node {tag, attrs, content} (attrs/content stolen, may be NULL) */
json_t *grp_node(const char *tag, json_t *attrs, json_t *content);
/* the route prelude: the instance and the group JID from the path; answers 400 and
 * returns MIAW_E_INVAL for a bad group JID */
int grp_path(miaw_plugin_base *b, miaw_req *req, char *group, size_t n);

/* ------------------------------------------------------------ registration */
/* The plugin's state: the base first (every module takes a miaw_plugin_base *), then the
 * group pictures' jobs (plugins/profile/pics.h; joined at unload). */
#include "pics.h"
typedef struct grp_state {
    miaw_plugin_base b;
    pf_pics pics;
} grp_state;
int grp_picture_register(grp_state *g, char *err, size_t errlen); /* group_picture.c */
int grp_routes_register(miaw_plugin_base *b, char *err, size_t errlen);  /* group_routes.c */
int grp_invite_register(miaw_plugin_base *b, char *err, size_t errlen);  /* group_invite.c */
int grp_events_register(miaw_plugin_base *b, char *err, size_t errlen);  /* group_events.c */
/* group_events.c: a join done through the API (group_join emitted now; the same join's
 * notification, if one comes, is not reported twice) */
void grp_events_joined(miaw_plugin_base *b, const char *inst, const char *group, const char *how);
/* group_events.c: is this account among the participant nodes of a <group> node? (0 when
 * the account's JIDs are not known yet) */
int grp_events_member(miaw_plugin_base *b, const char *inst, const json_t *group);
#endif
