/* plugins/groups/group_meta.c - reading WhatsApp's w:g2 answers (protocol facts 9.1/9.2):
 * the <group> metadata node and participant nodes into the API's JSON, node helpers
 * (attributes that are strings or JIDs, text content that is a string or base64 bytes),
 * path parsing (group JIDs, invite codes), and the one mapping from IQ error codes to
 * HTTP errors. Pure functions: owns nothing; results are new references. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groups.h"


void grp_user(const char *jid, char *out, size_t n)
{
    size_t k = jid ? strcspn(jid, ":@") : 0;
    snprintf(out, n, "%.*s", (int)k, jid ? jid : "");
}

static int is_lid(const char *jid) { return jid && strstr(jid, "@lid") != NULL; }

json_t *grp_participant(const json_t *p)
{
    const char *jid = miaw_jnode_attr(p, "jid"), *pn = miaw_jnode_attr(p, "phone_number"), *lid = miaw_jnode_attr(p, "lid");
    const char *type = miaw_jnode_attr(p, "type");
    const char *user_jid = is_lid(jid) ? pn : jid; /* the phone-number JID when known */
    if (!lid && is_lid(jid)) lid = jid;
    char phone[64] = "";
    if (user_jid && !is_lid(user_jid)) grp_user(user_jid, phone, sizeof phone);
    json_t *o = json_object();
    json_object_set_new(o, "jid", json_string(user_jid ? user_jid : jid ? jid : ""));
    json_object_set_new(o, "phone", phone[0] ? json_string(phone) : json_null());
    json_object_set_new(o, "lid", lid ? json_string(lid) : json_null());
    json_object_set_new(o, "admin", type && (!strcmp(type, "admin") || !strcmp(type, "superadmin")) ? json_string(type)
                                                                                                    : json_null());
    return o;
}

static json_t *int_attr(const json_t *n, const char *key)
{
    const char *s = miaw_jnode_attr(n, key);
    return s && *s ? json_integer(strtoll(s, NULL, 10)) : json_null();
}

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

json_t *grp_metadata(const json_t *g)
{
    const char *id = miaw_jnode_attr(g, "id");
    char jid[128];
    if (!id) id = "";
    if (strchr(id, '@')) snprintf(jid, sizeof jid, "%s", id);
    else snprintf(jid, sizeof jid, "%s" GRP_SERVER, id);
    const char *creator = miaw_jnode_attr(g, "creator"), *creator_pn = miaw_jnode_attr(g, "creator_pn");
    const char *so = miaw_jnode_attr(g, "s_o"), *so_pn = miaw_jnode_attr(g, "s_o_pn");
    json_t *o = json_object();
    json_object_set_new(o, "jid", json_string(jid));
    json_object_set_new(o, "subject", json_string(miaw_jnode_attr(g, "subject") ? miaw_jnode_attr(g, "subject") : ""));
    json_object_set_new(o, "subjectOwner", str_or_null(so_pn && is_lid(so) ? so_pn : so));
    json_object_set_new(o, "subjectTime", int_attr(g, "s_t"));
    json_object_set_new(o, "owner", str_or_null(creator_pn && is_lid(creator) ? creator_pn : creator));
    json_object_set_new(o, "ownerLid", str_or_null(is_lid(creator) ? creator : NULL));
    json_object_set_new(o, "creation", int_attr(g, "creation"));
    json_object_set_new(o, "addressingMode", json_string(miaw_jnode_attr(g, "addressing_mode") ? miaw_jnode_attr(g, "addressing_mode") : "pn"));
    json_t *parts = json_array();
    const json_t *c = json_object_get(g, "content");
    size_t i;
    const json_t *k;
    json_array_foreach(c, i, k) {
        const char *t = json_string_value(json_object_get(k, "tag"));
        /* a participant with an error (create: refused, privacy) is not a member */
        if (t && !strcmp(t, "participant") && !miaw_jnode_attr(k, "error")) json_array_append_new(parts, grp_participant(k));
    }
    json_object_set_new(o, "size", json_integer((json_int_t)json_array_size(parts)));
    json_object_set_new(o, "participants", parts);
    const json_t *d = miaw_jnode_child(g, "description");
    json_t *body = d ? miaw_jnode_text(miaw_jnode_child(d, "body")) : NULL;
    json_object_set_new(o, "description", body ? body : json_null());
    json_object_set_new(o, "descriptionId", str_or_null(d ? miaw_jnode_attr(d, "id") : NULL));
    json_object_set_new(o, "announce", json_boolean(miaw_jnode_child(g, "announcement") != NULL));
    json_object_set_new(o, "locked", json_boolean(miaw_jnode_child(g, "locked") != NULL));
    const json_t *e = miaw_jnode_child(g, "ephemeral");
    json_object_set_new(o, "ephemeral", e ? int_attr(e, "expiration") : json_integer(0));
    const json_t *mam = miaw_jnode_child(g, "member_add_mode");
    json_t *mode = mam ? miaw_jnode_text(mam) : NULL;
    json_object_set_new(o, "memberAddMode", mode ? mode : json_string("all_member_add"));
    const json_t *ap = miaw_jnode_child(g, "membership_approval_mode");
    const char *st = ap ? miaw_jnode_attr(miaw_jnode_child(ap, "group_join"), "state") : NULL;
    json_object_set_new(o, "approvalMode", json_boolean(ap && (!st || !strcmp(st, "on"))));
    return o;
}

int grp_parse_jid(const char *in, char *out, size_t n)
{
    if (!in || !*in) return MIAW_E_INVAL;
    size_t k = strcspn(in, "@");
    if (in[k] && strcmp(in + k, GRP_SERVER)) return MIAW_E_INVAL;
    if (k < 1 || k > 64) return MIAW_E_INVAL;
    for (size_t i = 0; i < k; i++)
        if (!isdigit((unsigned char)in[i]) && in[i] != '-') return MIAW_E_INVAL;
    if ((size_t)snprintf(out, n, "%.*s" GRP_SERVER, (int)k, in) >= n) return MIAW_E_INVAL;
    return MIAW_OK;
}

int grp_parse_code(const char *in, char *out, size_t n)
{
    static const char *const PREFIXES[] = {"https://chat.whatsapp.com/", "http://chat.whatsapp.com/",
                                           "chat.whatsapp.com/", NULL};
    if (!in) return MIAW_E_INVAL;
    for (int i = 0; PREFIXES[i]; i++)
        if (!strncmp(in, PREFIXES[i], strlen(PREFIXES[i]))) {
            in += strlen(PREFIXES[i]);
            break;
        }
    size_t k = strlen(in);
    if (k < 8 || k > 64 || k >= n) return MIAW_E_INVAL;
    for (size_t i = 0; i < k; i++)
        if (!isalnum((unsigned char)in[i])) return MIAW_E_INVAL;
    memcpy(out, in, k + 1);
    return MIAW_OK;
}

static void set(grp_err *e, int http, const char *code, const char *field, const char *msg)
{
    e->http = http;
    e->code = code;
    e->field = field;
    snprintf(e->message, sizeof e->message, "%s", msg);
}

void grp_map_error(int status, const char *detail, int ctx, grp_err *e)
{
    const char *d = detail ? detail : "";
    switch (status) {
    case MIAW_E_TIMEOUT: set(e, 504, "TIMEOUT", NULL, "WhatsApp did not answer in time"); return;
    case MIAW_E_STATE: set(e, 503, "INSTANCE_NOT_CONNECTED", NULL, "the instance is not connected"); return;
    case MIAW_E_NOTFOUND: set(e, 404, "INSTANCE_NOT_FOUND", NULL, "no such instance"); return;
    case MIAW_E_INVAL: set(e, 400, "INVALID_REQUEST", NULL, d[0] ? d : "invalid request"); return;
    case MIAW_E_IO: break;
    default: set(e, 500, "INTERNAL_ERROR", NULL, d[0] ? d : "internal error"); return;
    }
    int code = atoi(d);
    char msg[200];
    switch (code) {
    case 400: set(e, 400, "INVALID_REQUEST", NULL, "WhatsApp refused the request as malformed"); break;
    case 401: set(e, 403, "NOT_GROUP_ADMIN", NULL, "this account is not an admin of the group"); break;
    case 403:
        if (ctx == GRP_CTX_INVITE) set(e, 404, "NOT_FOUND", "inviteCode", "WhatsApp does not let this account join the group");
        else set(e, 404, "NOT_FOUND", "groupJid", "this account is not a member of the group");
        break;
    case 404:
        set(e, 404, "NOT_FOUND", ctx == GRP_CTX_INVITE ? "inviteCode" : "groupJid", "no such group");
        break;
    case 406:
        if (ctx == GRP_CTX_INVITE) set(e, 400, "INVALID_REQUEST", "inviteCode", "the invite code is not valid");
        else set(e, 409, "CONFLICT", NULL, "WhatsApp did not accept the change (the group may be full)");
        break;
    case 409: set(e, 409, "CONFLICT", NULL, "conflict: the group changed meanwhile, or this account is already a member"); break;
    case 410:
        if (ctx == GRP_CTX_INVITE) set(e, 400, "INVALID_REQUEST", "inviteCode", "the invite code was revoked");
        else set(e, 404, "NOT_FOUND", "groupJid", "the group is gone");
        break;
    case 419: set(e, 409, "CONFLICT", NULL, "the group is full"); break;
    case 429: set(e, 429, "RATE_LIMITED", NULL, "WhatsApp rate-limited the request"); break;
    default:
        snprintf(msg, sizeof msg, "WhatsApp answered %s", d[0] ? d : "an error");
        set(e, 500, "WHATSAPP_ERROR", NULL, msg);
        break;
    }
}

const char *grp_outcome(int code, const char *action, int has_add_request)
{
    int add = action && !strcmp(action, "add");
    switch (code) {
    case 200: return "ok";
    case 403: return add && has_add_request ? "invite_sent" : add ? "privacy_refused" : "forbidden";
    case 404: return add ? "not_on_whatsapp" : "not_a_member";
    case 408: return "recently_left";
    case 409: return add ? "already_member" : "conflict";
    case 406: case 419: return "group_full";
    case 401: return "not_authorized";
    default: return "error";
    }
}
