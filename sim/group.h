/* sim/group.h - groups on the simulated network (protocol facts 9, 14.1): the group
 * records (id, subject, description, creator, members with admin flags, settings,
 * invite code; always LID-addressed), the operations members perform on them (create,
 * add/remove/promote/demote, subject, description, settings, leave, invite links),
 * the <group> metadata node, w:gp2 notifications to every member device, and their
 * persistence in state.json.
 *
 * Ownership: groups belong to miaw_sim (sim->groups, newest first), freed by
 * miaw_sim_groups_free; members point at accounts, which live as long as the sim.
 * Pointers returned by lookups stay valid until the group is removed (its last member
 * left). Loop thread only. The w:g2 IQ service is group_iq.c, message and receipt
 * fan-out group_route.c, the phones' side phone_group.c. */
#ifndef MIAW_SIM_GROUP_H
#define MIAW_SIM_GROUP_H
#include <jansson.h>

#include "sim.h"
#include "wa/node.h"

#define MIAW_SIM_GROUP_MEMBERS_MAX 257 /* the creator and 256 others */
#define MIAW_SIM_GROUP_SUBJECT_MAX 100 /* bytes, as WhatsApp's limit in characters */
#define MIAW_SIM_GROUP_DESC_MAX 2048
#define MIAW_SIM_GROUP_MAX 10000       /* groups on the network */
#define MIAW_SIM_GROUP_REQUESTS_MAX 64 /* pending join requests per group */

enum { MIAW_SIM_MEMBER = 0, MIAW_SIM_ADMIN = 1, MIAW_SIM_SUPERADMIN = 2 };

typedef struct miaw_sim_member {
    miaw_sim_account *account; /* borrowed */
    int rank;                  /* MIAW_SIM_MEMBER / ADMIN / SUPERADMIN */
} miaw_sim_member;

typedef struct miaw_sim_group {
    char id[24];                               /* "120363" + 12 digits, without @g.us */
    char subject[MIAW_SIM_GROUP_SUBJECT_MAX + 1];
    uint64_t subject_t;
    miaw_sim_account *subject_owner;           /* borrowed */
    uint64_t creation;
    miaw_sim_account *creator;                 /* borrowed */
    char desc_id[40];                          /* "" = no description */
    char *desc;                                /* malloc'd, NULL = none */
    uint64_t desc_t;
    miaw_sim_account *desc_owner;              /* borrowed */
    miaw_sim_member members[MIAW_SIM_GROUP_MEMBERS_MAX];
    size_t nmembers;
    char invite[24];                           /* current invite code */
    char invite_prev[24];                      /* the last revoked one (answers 410) */
    int announce, locked, admin_add, approval; /* settings */
    uint32_t ephemeral;                        /* seconds, 0 = off */
    /* join requests (approval mode): who asked through the invite link, and when */
    miaw_sim_account *requests[MIAW_SIM_GROUP_REQUESTS_MAX]; /* borrowed */
    uint64_t request_t[MIAW_SIM_GROUP_REQUESTS_MAX];
    size_t nrequests;
    struct miaw_sim_group *next;
} miaw_sim_group;

/* Lookup by id, with or without "@g.us". NULL when unknown. */
miaw_sim_group *miaw_sim_group_find(miaw_sim *sim, const char *id);
miaw_sim_group *miaw_sim_group_by_invite(miaw_sim *sim, const char *code);
/* The member entry of a, or NULL. */
miaw_sim_member *miaw_sim_group_member(miaw_sim_group *g, const miaw_sim_account *a);
/* "<id>@g.us" into buf. */
void miaw_sim_group_jid(const miaw_sim_group *g, char *buf, size_t cap);

/* New group created by device dev of creator (superadmin) with the other members
 * (NULLs, duplicates and the creator are skipped; codes[i] gets 200 or 409 per entry
 * when codes is not NULL). The create notification goes to every member device but
 * the creating one. 0 and *out, or MIAW_E_INVAL (bad subject) / MIAW_E_LIMIT. */
int miaw_sim_group_create(miaw_sim *sim, miaw_sim_account *creator, uint32_t dev, const char *subject,
                          miaw_sim_account **who, size_t n, int *codes, miaw_sim_group **out);

/* add / remove / promote / demote by (actor, dev): per entry codes[i] = 200, 404
 * (who[i] NULL: not on the network; remove/promote/demote of a non-member), 409
 * (already a member), 403 (the creator cannot be removed or demoted), 406 (full).
 * One notification lists the entries that succeeded (removed members get it too).
 * 0, or MIAW_E_AUTH (actor not allowed), MIAW_E_INVAL (unknown action). */
int miaw_sim_group_participants(miaw_sim *sim, miaw_sim_group *g, miaw_sim_account *actor, uint32_t dev,
                                const char *action, miaw_sim_account **who, size_t n, int *codes);

/* Subject; description (text NULL = delete; id NULL = a fresh one). Notified.
 * 0, MIAW_E_AUTH, MIAW_E_INVAL. */
int miaw_sim_group_set_subject(miaw_sim *sim, miaw_sim_group *g, miaw_sim_account *actor, uint32_t dev,
                               const char *subject, size_t len);
int miaw_sim_group_set_desc(miaw_sim *sim, miaw_sim_group *g, miaw_sim_account *actor, uint32_t dev,
                            const char *id, const char *text, size_t len);
/* A settings child: announcement, not_announcement, locked, unlocked, ephemeral
 * (expiration attr), not_ephemeral, member_add_mode (content), membership_approval_mode.
 * Applied and notified. 0, MIAW_E_AUTH, MIAW_E_NOTFOUND (not a setting), MIAW_E_INVAL. */
int miaw_sim_group_setting(miaw_sim *sim, miaw_sim_group *g, miaw_sim_account *actor, uint32_t dev,
                           const miaw_node *setting);
/* a leaves (notified as a remove of itself; the group is deleted with its last member,
 * g is then freed). 0 or MIAW_E_NOTFOUND (not a member). */
int miaw_sim_group_leave(miaw_sim *sim, miaw_sim_group *g, miaw_sim_account *a, uint32_t dev);
/* A new invite code (the old one answers 410 from now on). Admins only: MIAW_E_AUTH. */
int miaw_sim_group_revoke_invite(miaw_sim *sim, miaw_sim_group *g, miaw_sim_account *actor, uint32_t dev);
/* a joins through the invite link (notified as an add with reason="invite").
 * 0, MIAW_E_EXIST (already a member), MIAW_E_LIMIT. */
int miaw_sim_group_join(miaw_sim *sim, miaw_sim_group *g, miaw_sim_account *a, uint32_t dev);

/* a asks to join through the invite link of a group in approval mode (the admins are
 * told with <created_membership_requests participant participant_pn request_method t/>).
 * 0 (also when already asked), MIAW_E_EXIST (a member), MIAW_E_LIMIT (too many requests). */
int miaw_sim_group_request_join(miaw_sim *sim, miaw_sim_group *g, miaw_sim_account *a, uint32_t dev);
/* An admin approves (the requester is added, notified as an <add>) or rejects
 * (notified as <revoked_membership_requests>) the requests of who[]: codes[i] = 200,
 * 404 (no request from who[i]) or 406 (full). 0, MIAW_E_AUTH (not an admin),
 * MIAW_E_INVAL (unknown action). */
int miaw_sim_group_requests_action(miaw_sim *sim, miaw_sim_group *g, miaw_sim_account *actor, uint32_t dev,
                                   const char *action, miaw_sim_account **who, size_t n, int *codes);
/* Append <membership_approval_request jid=<lid> phone_number=<pn> t request_method/> per
 * pending request to parent. */
void miaw_sim_group_requests_nodes(const miaw_sim_group *g, miaw_node *parent);

/* Append the <group> metadata node to parent. Returns it or NULL. */
miaw_node *miaw_sim_group_node(const miaw_sim_group *g, miaw_node *parent);
/* Append <participant jid=<lid> phone_number=<pn> [type]/> for a to parent. */
miaw_node *miaw_sim_group_participant_node(const miaw_sim_account *a, int rank, miaw_node *parent);
/* <notification from=<group> type="w:gp2" id t participant=<actor lid> participant_pn
 * notify addressing_mode="lid"> with a copy of child, to every device of every member
 * except (actor, dev), and to the devices of the extra accounts. */
void miaw_sim_group_notify(miaw_sim *sim, const miaw_sim_group *g, miaw_sim_account *actor, uint32_t dev,
                           const miaw_node *child, miaw_sim_account **extra, size_t nextra);

/* JSON: persist != 0 for state.json, else the GET /sim/state view (new reference). */
json_t *miaw_sim_groups_json(const miaw_sim *sim, int persist);
/* Load the "groups" array of state.json (accounts loaded first). Bad entries are
 * skipped with a warning. */
void miaw_sim_groups_load(miaw_sim *sim, json_t *arr);
void miaw_sim_groups_free(miaw_sim *sim);

/* ------------------------------------------------------------------ services */
struct miaw_sim_conn;
/* <iq xmlns="w:g2"> from a logged-in companion (group_iq.c): answered, 1; 0 when it
 * is not a group operation simulated here (the caller's generic answer applies). */
int miaw_sim_group_on_iq(struct miaw_sim_conn *c, const miaw_node *iq);
/* A <message to="<id>@g.us"> from device dev of a (group_route.c): the pairwise
 * encs of <participants> and the shared skmsg fanned out to every member device but
 * the sender, with participant/participant_pn/addressing_mode set; a stanza with a
 * participant attribute (retry resend) goes to that device only. Returns the number
 * of devices reached, or MIAW_E_INVAL (unknown group, sender not a member). */
int miaw_sim_group_route_message(miaw_sim *sim, miaw_sim_account *a, uint32_t dev, const miaw_node *n);
/* A <receipt to="<id>@g.us" participant=<sender device>> from device dev of a:
 * retry receipts to that device, the others to every device of the sender's account
 * (but the reader), as <receipt from=<group> participant=<reader device>>. */
void miaw_sim_group_route_receipt(miaw_sim *sim, miaw_sim_account *a, uint32_t dev, const miaw_node *n);
/* <chatstate to="<id>@g.us">: to every member companion but the sender's device as
 * <chatstate from=<group> participant=<sender>>. */
void miaw_sim_group_route_chatstate(miaw_sim *sim, miaw_sim_account *a, uint32_t dev, const miaw_node *n);
#endif
