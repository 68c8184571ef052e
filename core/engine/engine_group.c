/* core/engine/engine_group.c - what group sending and receiving share: the instance's
 * group records in kv (namespace KV_NS: "meta:<group>" = the participants with the time
 * they were fetched, "skdm:<group>" = the devices that got our sender key, with its key
 * id), the address our sender keys are named by, the w:gp2 notifications (cache dropped,
 * sender key renewed when someone left), and pure helpers: SKDM key id, participant hash,
 * group metadata to JSON, a Message with a sender-key distribution added. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "engine/engine_int.h"
#include "base/log.h"
#include "wa/signal_group.h"
#include "wa/wamsg.h"

#define KV_NS "engine.groups" /* not a valid plugin name: no clash with a plugin's keys */
#define MAX_MEMBERS 1024

/* ------------------------------------------------------------ pure helpers */
static int varint(const uint8_t *p, size_t len, size_t *i, uint64_t *v)
{
    *v = 0;
    for (unsigned shift = 0; *i < len && shift < 64; shift += 7) {
        uint8_t b = p[(*i)++];
        *v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) return 0;
    }
    return -1;
}

int eng_skdm_key_id(const uint8_t *skdm, size_t len, uint32_t *id)
{
    if (!skdm || len < 2) return MIAW_E_INVAL;
    size_t i = 1; /* version byte */
    while (i < len) {
        uint64_t key, v;
        if (varint(skdm, len, &i, &key)) return MIAW_E_INVAL;
        unsigned wt = key & 7;
        if (wt == 0) {
            if (varint(skdm, len, &i, &v)) return MIAW_E_INVAL;
            if (key >> 3 == 1) return *id = (uint32_t)v, 0;
        } else if (wt == 2) {
            if (varint(skdm, len, &i, &v) || v > len - i) return MIAW_E_INVAL;
            i += v;
        } else if (wt == 5 || wt == 1) {
            size_t w = wt == 5 ? 4 : 8;
            if (w > len - i) return MIAW_E_INVAL;
            i += w;
        } else {
            return MIAW_E_INVAL;
        }
    }
    return MIAW_E_NOTFOUND;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int eng_group_phash(const miaw_jid *devs, size_t n, char *out, size_t cap)
{
    if (cap < 16) return MIAW_E_INVAL;
    char **s = calloc(n ? n : 1, sizeof *s);
    if (!s) return MIAW_E_NOMEM;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        char buf[MIAW_JID_STR_MAX + 16];
        snprintf(buf, sizeof buf, "%s.%u:%u@%s", devs[i].user, devs[i].agent, devs[i].device, devs[i].server);
        if (!(s[i] = strdup(buf))) rc = MIAW_E_NOMEM;
    }
    if (!rc) {
        qsort(s, n, sizeof *s, cmp_str);
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned mdl = 0;
        unsigned char b64[12];
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1;
        for (size_t i = 0; ok && i < n; i++) ok = EVP_DigestUpdate(c, s[i], strlen(s[i])) == 1;
        ok = ok && EVP_DigestFinal_ex(c, md, &mdl) == 1;
        EVP_MD_CTX_free(c);
        if (!ok) rc = MIAW_E_INTERNAL;
        if (ok) {
            EVP_EncodeBlock(b64, md, 6); /* 6 bytes: 8 characters, no padding */
            snprintf(out, cap, "2:%s", (const char *)b64);
        }
    }
    for (size_t i = 0; i < n; i++) free(s[i]);
    free(s);
    return rc;
}

json_t *eng_group_meta_parse(const miaw_node *n)
{
    const miaw_node *g = n && !strcmp(n->tag, "group") ? n : n ? miaw_node_child(n, "group") : NULL;
    if (!g || !miaw_node_attr(g, "id")) return NULL;
    json_t *parts = json_array();
    int any_lid = 0;
    for (const miaw_node *p = miaw_node_child(g, "participant"); p && json_array_size(parts) < MAX_MEMBERS;
         p = miaw_node_next(g, p, "participant")) {
        miaw_jid j, u, alt, altu;
        char js[MIAW_JID_STR_MAX], as[MIAW_JID_STR_MAX];
        if (miaw_node_attr_jid(p, "jid", &j) != 0 || !j.user[0] || miaw_jid_init(&u, j.user, j.server, 0, 0) != 0 ||
            miaw_jid_format(&u, js, sizeof js) < 0)
            continue;
        int is_lid = !strcmp(u.server, MIAW_SERVER_LID);
        any_lid |= is_lid;
        json_t *o = json_pack("{s:s}", "jid", js);
        const char *altk = is_lid ? "phone_number" : "lid";
        if (miaw_node_attr_jid(p, altk, &alt) == 0 && alt.user[0] && miaw_jid_init(&altu, alt.user, alt.server, 0, 0) == 0 &&
            miaw_jid_format(&altu, as, sizeof as) >= 0)
            json_object_set_new(o, is_lid ? "pn" : "lid", json_string(as));
        json_array_append_new(parts, o);
    }
    const char *mode = miaw_node_attr(g, "addressing_mode");
    int lid = mode ? !strcmp(mode, "lid") : any_lid;
    return json_pack("{s:b,s:o}", "lid", lid, "participants", parts);
}

int eng_group_msg_with_skdm(const uint8_t *msg, size_t len, const char *group, const uint8_t *skdm, size_t skdm_len,
                            uint8_t **out, size_t *out_len)
{
    if (!group || !skdm || !skdm_len) return MIAW_E_INVAL;
    Miaw__Wa__Message *m = miaw__wa__message__unpack(NULL, len, msg);
    if (!m) return MIAW_E_INVAL;
    Miaw__Wa__Message__SenderKeyDistributionMessage d = MIAW__WA__MESSAGE__SENDER_KEY_DISTRIBUTION_MESSAGE__INIT;
    d.groupid = (char *)group;
    d.has_axolotlsenderkeydistributionmessage = 1;
    d.axolotlsenderkeydistributionmessage.data = (uint8_t *)skdm;
    d.axolotlsenderkeydistributionmessage.len = skdm_len;
    Miaw__Wa__Message__SenderKeyDistributionMessage *old = m->senderkeydistributionmessage;
    m->senderkeydistributionmessage = &d;
    int rc = miaw_wamsg_encode(m, out, out_len);
    m->senderkeydistributionmessage = old;
    miaw__wa__message__free_unpacked(m, NULL);
    return rc;
}

/* ------------------------------------------------------------ kv */
json_t *eng_group_kv_get(eng_inst *ei, const char *what, const char *group)
{
    char key[MIAW_JID_STR_MAX + 16];
    snprintf(key, sizeof key, "%s:%s", what, group);
    return miaw_kv_get(ei->e->db, KV_NS, ei->id, key);
}

void eng_group_kv_put(eng_inst *ei, const char *what, const char *group, const json_t *v)
{
    char key[MIAW_JID_STR_MAX + 16];
    snprintf(key, sizeof key, "%s:%s", what, group);
    if (miaw_kv_put(ei->e->db, KV_NS, ei->id, key, v) != 0)
        MIAW_WARN("engine", "%s: cannot keep %s of %s", ei->id, what, group);
}

void eng_group_kv_del(eng_inst *ei, const char *what, const char *group)
{
    char key[MIAW_JID_STR_MAX + 16];
    snprintf(key, sizeof key, "%s:%s", what, group);
    miaw_kv_del(ei->e->db, KV_NS, ei->id, key);
}

/* ------------------------------------------------------------ addresses */
int eng_group_self_addr(eng_inst *ei, miaw_sig_addr *out)
{
    miaw_jid me, lid, dev;
    if (miaw_jid_parse(&me, ei->creds.jid) != 0) return MIAW_E_STATE;
    if (ei->creds.lid[0] && miaw_jid_parse(&lid, ei->creds.lid) == 0 &&
        miaw_jid_init(&dev, lid.user, lid.server, 0, me.device) == 0)
        return miaw_sig_addr_from_jid(&dev, out);
    return miaw_sig_addr_from_jid(&me, out);
}

/* ------------------------------------------------------------ notifications */
/* the members of group g changed: forget the cached metadata; when someone left (or we
 * did), forget who has our SKDM and renew our sender key */
static void members_changed(eng_inst *ei, const char *g, int gone)
{
    eng_group_kv_del(ei, "meta", g);
    if (!gone) return;
    miaw_sig_addr self;
    eng_group_kv_del(ei, "skdm", g);
    if (eng_sig_open(ei) == 0 && eng_group_self_addr(ei, &self) == 0 && miaw_sig_group_rotate(ei->sig, g, &self) == 0)
        MIAW_INFO("engine", "%s: a member left %s: our sender key for it is renewed", ei->id, g);
    else MIAW_WARN("engine", "%s: cannot renew our sender key for %s", ei->id, g);
}

void eng_group_on_notification(eng_inst *ei, const miaw_node *n)
{
    miaw_jid gj;
    char g[MIAW_JID_STR_MAX];
    if (miaw_node_attr_jid(n, "from", &gj) != 0 || strcmp(gj.server, MIAW_SERVER_GROUP) != 0 ||
        miaw_jid_format(&gj, g, sizeof g) < 0)
        return;
    int gone = 0;
    for (const miaw_node *c = miaw_node_child(n, NULL); c; c = miaw_node_next(n, c, NULL))
        gone |= !strcmp(c->tag, "remove") || !strcmp(c->tag, "leave") || !strcmp(c->tag, "delete");
    members_changed(ei, g, gone);
}

int eng_group_iq_watch(const miaw_node *iq)
{
    return miaw_node_attr_is(iq, "xmlns", "w:g2") && miaw_node_attr_is(iq, "type", "set");
}

/* The device that changes a group gets no w:gp2 notification of its own change, so a
 * successful w:g2 set this instance sent (through any plugin) is applied here: members
 * added, removed, promoted... (to = the group) and leaving (<leave><group id/>...</leave>
 * to g.us) */
void eng_group_after_own_iq(eng_inst *ei, const miaw_node *iq)
{
    miaw_jid to;
    char g[MIAW_JID_STR_MAX];
    if (miaw_node_attr_jid(iq, "to", &to) != 0) return;
    if (!strcmp(to.server, MIAW_SERVER_GROUP) && to.user[0]) {
        if (miaw_jid_format(&to, g, sizeof g) < 0) return;
        int gone = 0;
        for (const miaw_node *c = miaw_node_child(iq, NULL); c; c = miaw_node_next(iq, c, NULL))
            gone |= !strcmp(c->tag, "remove");
        members_changed(ei, g, gone);
        return;
    }
    const miaw_node *leave = miaw_node_child(iq, "leave");
    for (const miaw_node *c = leave ? miaw_node_child(leave, "group") : NULL; c; c = miaw_node_next(leave, c, "group")) {
        const char *id = miaw_node_attr(c, "id");
        miaw_jid gj;
        if (!id) continue;
        if (strchr(id, '@') ? miaw_jid_parse(&gj, id) : miaw_jid_init(&gj, id, MIAW_SERVER_GROUP, 0, 0)) continue;
        if (miaw_jid_format(&gj, g, sizeof g) > 0) members_changed(ei, g, 1);
    }
}
