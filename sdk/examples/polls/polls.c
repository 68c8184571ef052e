/* sdk/examples/polls/polls.c - an example third-party miaw plugin that adds WhatsApp
 * polls, a feature the core knows nothing about, with only the generic services of
 * plugin ABI 1.2 (msg_send with a WAProto.Message as JSON, msg_get, iq, events, kv)
 * and OpenSSL's libcrypto for the vote cryptography. Builds against the installed SDK.
 *
 *   POST /api/v1/instances/{instanceId}/polls {to, name, options[], selectableCount}
 *     -> {"success":true,"data":{"messageId":"...","timestamp":<ms>}}
 *   GET  /api/v1/instances/{instanceId}/polls/{pollId}
 *     -> the poll and the latest vote of each voter seen by this plugin
 *   webhook event poll_vote {pollId, chat, voter, selectedOptions[], timestamp}
 *
 * Owns: one `pending` per create request in flight (freed by the send callback or the
 * abort), one `vote_job` per vote waiting for a LID lookup (in polls.jobs; freed by its
 * iq callback, or by fini when the host cancelled it at unload), and per instance kv
 * rows "poll:<id>" (the poll's secret, name, options, time) and "votes:<id>" (voter ->
 * selected names). Everything else is borrowed from the host.
 *
 * Votes, as WhatsApp encrypts them: key = HKDF-SHA256(ikm = the poll's messageSecret,
 * no salt, info = pollId || creator JID || voter JID || "Poll Vote", 32 bytes);
 * PollVoteMessage = AES-256-GCM-open(key, encIv, encPayload = ciphertext || 16-byte tag,
 * aad = pollId || 0x00 || voter JID). JIDs are user JIDs without a device. The
 * PollVoteMessage holds SHA-256(option name) for each selected option. */
#include <jansson.h>
#include <miaw/plugin.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OPTIONS 12
#define MAX_OPTION_LEN 100
#define SECRET_LEN 32

typedef struct vote_job vote_job;
typedef struct polls {
    miaw_plugin *self;
    const miaw_host_api *api;
    vote_job *jobs; /* votes waiting for a LID lookup; their callbacks never run after unload */
} polls;

/* ---------------------------------------------------------------- base64 */
static char *b64_encode(const unsigned char *in, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (out) EVP_EncodeBlock((unsigned char *)out, in, (int)len);
    return out;
}

/* standard alphabet, padding optional; NULL on anything else. *len = decoded size. */
static unsigned char *b64_decode(const char *s, size_t *len)
{
    if (!s) return NULL;
    size_t n = strlen(s);
    while (n && s[n - 1] == '=') n--;
    unsigned char *out = malloc(n * 3 / 4 + 3);
    if (!out) return NULL;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int v = c >= 'A' && c <= 'Z' ? c - 'A'
                : c >= 'a' && c <= 'z' ? c - 'a' + 26
                : c >= '0' && c <= '9' ? c - '0' + 52
                : c == '+' || c == '-' ? 62
                : c == '/' || c == '_' ? 63
                                       : -1;
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = acc << 6 | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    *len = o;
    return out;
}

/* ---------------------------------------------------------------- JIDs */
/* a user JID without its device ("123:4@s.whatsapp.net" -> "123@s.whatsapp.net";
 * "@c.us" -> "@s.whatsapp.net"), into out; 0, or -1 when it is not a JID */
static int jid_user(const char *jid, char *out, size_t cap)
{
    const char *at = jid ? strchr(jid, '@') : NULL;
    if (!at || at == jid) return -1;
    const char *colon = memchr(jid, ':', (size_t)(at - jid));
    size_t ulen = (size_t)((colon ? colon : at) - jid);
    const char *server = strcmp(at + 1, "c.us") == 0 ? "s.whatsapp.net" : at + 1;
    int n = snprintf(out, cap, "%.*s@%s", (int)ulen, jid, server);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* a small set of distinct JID strings */
typedef struct jidset {
    char v[8][128];
    int n;
} jidset;

static void jidset_add(jidset *s, const char *jid)
{
    char u[128];
    if (s->n >= 8 || jid_user(jid, u, sizeof u) != 0) return;
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->v[i], u)) return;
    snprintf(s->v[s->n++], sizeof s->v[0], "%s", u);
}

/* ---------------------------------------------------------------- crypto */
static int poll_vote_key(const unsigned char *secret, size_t secret_len, const char *poll_id, const char *creator,
                         const char *voter, unsigned char key[32])
{
    char info[512];
    int n = snprintf(info, sizeof info, "%s%s%sPoll Vote", poll_id, creator, voter);
    if (n < 0 || (size_t)n >= sizeof info) return -1;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
    size_t klen = 32;
    int ok = c && EVP_PKEY_derive_init(c) > 0 && EVP_PKEY_CTX_set_hkdf_md(c, EVP_sha256()) > 0 &&
             EVP_PKEY_CTX_set1_hkdf_key(c, secret, (int)secret_len) > 0 &&
             EVP_PKEY_CTX_add1_hkdf_info(c, (const unsigned char *)info, n) > 0 && EVP_PKEY_derive(c, key, &klen) > 0 &&
             klen == 32;
    EVP_PKEY_CTX_free(c);
    return ok ? 0 : -1;
}

/* AES-256-GCM open of ct || tag(16); out has room for ct_len - 16 bytes. 0 when the tag
 * verifies. */
static int gcm_open(const unsigned char key[32], const unsigned char *iv, size_t iv_len, const unsigned char *ct,
                    size_t ct_len, const unsigned char *aad, size_t aad_len, unsigned char *out, size_t *out_len)
{
    if (ct_len < 16 || !iv_len) return -1;
    size_t body = ct_len - 16;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int len = 0, fin = 0;
    int ok = c && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) > 0 &&
             EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, (int)iv_len, NULL) > 0 &&
             EVP_DecryptInit_ex(c, NULL, NULL, key, iv) > 0 &&
             EVP_DecryptUpdate(c, NULL, &len, aad, (int)aad_len) > 0 &&
             EVP_DecryptUpdate(c, out, &len, ct, (int)body) > 0 &&
             EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, (void *)(ct + body)) > 0 &&
             EVP_DecryptFinal_ex(c, out + len, &fin) > 0;
    EVP_CIPHER_CTX_free(c);
    if (ok) *out_len = (size_t)len + (size_t)fin;
    return ok ? 0 : -1;
}

/* ------------------------------------------------- PollVoteMessage by hand
 * PollVoteMessage { repeated bytes selectedOptions = 1; }: the plugin reads the few
 * bytes itself (a varint / length-delimited walk; unknown fields skipped). */
static int pb_varint(const unsigned char *p, size_t len, size_t *i, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*i >= len) return -1;
        unsigned char b = p[(*i)++];
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return 0;
    }
    return -1;
}

/* calls fn(hash, udata) for every selectedOptions entry of 32 bytes. 0, or -1 when the
 * bytes are not a protobuf message. */
static int vote_each_hash(const unsigned char *p, size_t len, void (*fn)(const unsigned char *h, void *u), void *u)
{
    size_t i = 0;
    while (i < len) {
        uint64_t tag, v;
        if (pb_varint(p, len, &i, &tag) != 0 || tag >> 3 == 0) return -1;
        switch (tag & 7) {
        case 0:
            if (pb_varint(p, len, &i, &v) != 0) return -1;
            break;
        case 1:
            if (len - i < 8) return -1;
            i += 8;
            break;
        case 5:
            if (len - i < 4) return -1;
            i += 4;
            break;
        case 2:
            if (pb_varint(p, len, &i, &v) != 0 || v > len - i) return -1;
            if (tag >> 3 == 1 && v == SHA256_DIGEST_LENGTH) fn(p + i, u);
            i += (size_t)v;
            break;
        default:
            return -1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- create */
typedef struct pending {
    polls *pl;
    miaw_req *req;
    miaw_id handle;
    char instance[128];
    json_t *record; /* the kv row to keep once the server acknowledged the poll */
} pending;

static void pending_free(pending *p)
{
    json_decref(p->record);
    free(p);
}

static void on_sent(int status, const char *message_id, int64_t ts, const char *detail, void *udata)
{
    pending *p = udata;
    const miaw_host_api *api = p->pl->api;
    if (status == MIAW_OK) {
        char key[160];
        snprintf(key, sizeof key, "poll:%s", message_id);
        json_object_set_new(p->record, "timestamp", json_integer((json_int_t)ts * 1000));
        if (api->kv_put(p->pl->self, p->instance, key, json_incref(p->record)) != MIAW_OK)
            api->log(p->pl->self, MIAW_LOG_WARN, "poll %s: could not keep its secret; votes rely on chat storage",
                     message_id);
        api->reply_json(p->req, 200, json_pack("{s:s,s:I}", "messageId", message_id, "timestamp", (json_int_t)ts * 1000));
    } else {
        api->reply_status(p->req, status, NULL, "%s", detail ? detail : "the poll was not sent");
    }
    pending_free(p);
}

static void on_abort(miaw_req *req, int reason, void *udata)
{
    (void)req;
    (void)reason;
    pending *p = udata;
    p->pl->api->cancel(p->pl->self, p->handle); /* the poll is still sent; kv is not written */
    pending_free(p);
}

static int on_create(miaw_req *req, void *udata)
{
    polls *pl = udata;
    const miaw_host_api *api = pl->api;
    const json_t *body = api->req_body(req);
    const char *inst = api->req_param(req, "instanceId");
    const char *to = json_string_value(json_object_get(body, "to"));
    const char *name = json_string_value(json_object_get(body, "name"));
    const json_t *options = json_object_get(body, "options");
    json_int_t selectable = json_integer_value(json_object_get(body, "selectableCount")); /* absent = 0 = any */
    size_t n = json_array_size(options);
    char jid[128];
    if (api->jid_normalize(to, jid, sizeof jid) != MIAW_OK)
        return api->reply_status(req, MIAW_E_INVAL, "to", "to: not a phone number or a JID");
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (!strcmp(json_string_value(json_array_get(options, i)), json_string_value(json_array_get(options, j))))
                return api->reply_status(req, MIAW_E_INVAL, "options", "options: '%s' is given twice",
                                         json_string_value(json_array_get(options, i)));
    if (selectable < 0 || (size_t)selectable > n)
        return api->reply_status(req, MIAW_E_INVAL, "selectableCount",
                                 "selectableCount: 0 (any number) or 1..%zu (the number of options)", n);

    unsigned char secret[SECRET_LEN];
    if (RAND_bytes(secret, sizeof secret) != 1)
        return api->reply_status(req, MIAW_E_INTERNAL, NULL, "no random bytes for the poll's secret");
    char *secret_b64 = b64_encode(secret, sizeof secret);
    json_t *opts = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(opts, json_pack("{s:O}", "optionName", json_array_get(options, i)));
    /* as WhatsApp and Baileys do: a single-select poll is pollCreationMessageV3, any
     * other count the original pollCreationMessage */
    json_t *message = json_pack("{s:{s:s},s:{s:s,s:o,s:I}}", "messageContextInfo", "messageSecret", secret_b64,
                                selectable == 1 ? "pollCreationMessageV3" : "pollCreationMessage", "name", name,
                                "options", opts, "selectableOptionsCount", selectable);
    json_t *nodes = json_pack("[{s:s,s:{s:s}}]", "tag", "meta", "attrs", "polltype", "creation");
    pending *p = calloc(1, sizeof *p);
    int rc = message && nodes && p && secret_b64 ? MIAW_OK : MIAW_E_NOMEM;
    if (rc == MIAW_OK) {
        p->pl = pl;
        p->req = req;
        snprintf(p->instance, sizeof p->instance, "%s", inst);
        p->record = json_pack("{s:s,s:s,s:s,s:O,s:I}", "secret", secret_b64, "chat", jid, "name", name, "options",
                              options, "selectableCount", selectable);
        if (!p->record) rc = MIAW_E_NOMEM;
    }
    const char *field = NULL;
    char err[256] = "";
    if (rc == MIAW_OK) {
        miaw_msg_opts mo = {.struct_size = sizeof mo, .type = "poll", .nodes = nodes};
        rc = api->msg_send(pl->self, inst, jid, message, NULL, 0, &mo, on_sent, p, &p->handle, &field, err, sizeof err);
    }
    json_decref(message);
    json_decref(nodes);
    free(secret_b64);
    OPENSSL_cleanse(secret, sizeof secret);
    if (rc != MIAW_OK) {
        if (p) pending_free(p);
        return api->reply_status(req, rc, field, "%s", err[0] ? err : "the poll could not be sent");
    }
    if (api->req_suspend(req, on_abort, p) != MIAW_OK) { /* the request is gone already */
        api->cancel(pl->self, p->handle);
        pending_free(p);
        return MIAW_OK;
    }
    return MIAW_ASYNC;
}

/* ---------------------------------------------------------------- read */
static int on_get(miaw_req *req, void *udata)
{
    polls *pl = udata;
    const miaw_host_api *api = pl->api;
    const char *inst = api->req_param(req, "instanceId"), *id = api->req_param(req, "pollId");
    char key[160];
    snprintf(key, sizeof key, "poll:%s", id);
    json_t *rec = api->kv_get(pl->self, inst, key);
    if (!rec) return api->reply_status(req, MIAW_E_NOTFOUND, "pollId", "no poll %s sent by this instance", id);
    snprintf(key, sizeof key, "votes:%s", id);
    json_t *votes = api->kv_get(pl->self, inst, key);
    json_t *results = json_array();
    const json_t *opt;
    size_t i;
    json_array_foreach(json_object_get(rec, "options"), i, opt) {
        json_t *voters = json_array();
        const char *voter;
        json_t *sel;
        json_object_foreach(votes, voter, sel) {
            const json_t *s;
            size_t k;
            json_array_foreach(sel, k, s) if (json_equal(s, opt)) json_array_append_new(voters, json_string(voter));
        }
        json_array_append_new(results, json_pack("{s:O,s:o}", "name", opt, "voters", voters));
    }
    json_t *d = json_pack("{s:s,s:O,s:O,s:O,s:O,s:o,s:o}", "pollId", id, "chat", json_object_get(rec, "chat"), "name",
                          json_object_get(rec, "name"), "selectableCount", json_object_get(rec, "selectableCount"),
                          "timestamp", json_object_get(rec, "timestamp"), "results", results, "votes",
                          votes ? votes : json_object());
    json_decref(rec);
    return d ? api->reply_json(req, 200, d) : api->reply_status(req, MIAW_E_NOMEM, NULL, "out of memory");
}

/* ---------------------------------------------------------------- votes */
/* the pollUpdateMessage of a message, also inside the wrappers WhatsApp puts around
 * content (ephemeral, view once, ...) */
static const json_t *poll_update_of(const json_t *m)
{
    static const char *const wrappers[] = {"ephemeralMessage", "viewOnceMessage", "viewOnceMessageV2",
                                           "documentWithCaptionMessage", NULL};
    for (int depth = 0; m && depth < 4; depth++) {
        const json_t *pu = json_object_get(m, "pollUpdateMessage");
        if (pu) return pu;
        const json_t *inner = NULL;
        for (int i = 0; wrappers[i] && !inner; i++) inner = json_object_get(json_object_get(m, wrappers[i]), "message");
        m = inner;
    }
    return NULL;
}

/* the poll's creation content from a stored message */
static const json_t *creation_of(const json_t *m)
{
    static const char *const names[] = {"pollCreationMessage", "pollCreationMessageV2", "pollCreationMessageV3", NULL};
    for (int i = 0; names[i]; i++)
        if (json_is_object(json_object_get(m, names[i]))) return json_object_get(m, names[i]);
    return NULL;
}

typedef struct hash_match {
    const json_t *options; /* array of names */
    json_t *selected;      /* names, in vote order */
    int unknown;
} hash_match;

static void match_hash(const unsigned char *h, void *u)
{
    hash_match *m = u;
    const json_t *o;
    size_t i;
    json_array_foreach(m->options, i, o) {
        const char *name = json_string_value(o);
        unsigned char d[SHA256_DIGEST_LENGTH];
        if (name && SHA256((const unsigned char *)name, strlen(name), d) && !memcmp(d, h, sizeof d)) {
            json_array_append_new(m->selected, json_string(name));
            return;
        }
    }
    m->unknown++;
}

/* One vote being decrypted: what the message event said, copied, so that it can wait
 * for a LID lookup. Owned by the plugin's list until vote_done. */
struct vote_job {
    polls *pl;
    struct vote_job *next;
    miaw_id iq;
    char instance[128], poll_id[128], voter[128], chat[128];
    json_t *timestamp, *options;
    int have_record;                /* the plugin sent this poll: keep a tally */
    unsigned char *secret, *ct, *iv; /* the poll's secret, encPayload, encIv */
    size_t secret_len, ct_len, iv_len;
    jidset creators, voters;
};

static void vote_free(vote_job *j)
{
    if (j->secret) OPENSSL_cleanse(j->secret, j->secret_len);
    free(j->secret);
    free(j->ct);
    free(j->iv);
    json_decref(j->timestamp);
    json_decref(j->options);
    free(j);
}

static void vote_unlink(vote_job *j)
{
    for (vote_job **pp = &j->pl->jobs; *pp; pp = &(*pp)->next)
        if (*pp == j) {
            *pp = j->next;
            return;
        }
}

/* every pair of creator and voter addresses against the GCM tag; on success the
 * selected option names are reported (poll_vote) and kept (tally). 1 = decrypted. */
static int vote_try(vote_job *j)
{
    const miaw_host_api *api = j->pl->api;
    unsigned char *pt = malloc(j->ct_len + 1);
    size_t pt_len = 0;
    int ci = -1, vi = -1;
    for (int c = 0; pt && c < j->creators.n && vi < 0; c++)
        for (int v = 0; v < j->voters.n && vi < 0; v++) {
            unsigned char k[32], aad[400];
            int alen = snprintf((char *)aad, sizeof aad, "%s%c%s", j->poll_id, 0, j->voters.v[v]);
            if (alen < 0 || (size_t)alen >= sizeof aad ||
                poll_vote_key(j->secret, j->secret_len, j->poll_id, j->creators.v[c], j->voters.v[v], k) != 0)
                continue;
            if (gcm_open(k, j->iv, j->iv_len, j->ct, j->ct_len, aad, (size_t)alen, pt, &pt_len) == 0) ci = c, vi = v;
            OPENSSL_cleanse(k, sizeof k);
        }
    if (vi < 0) {
        free(pt);
        return 0;
    }
    hash_match m = {.options = j->options, .selected = json_array()};
    if (vote_each_hash(pt, pt_len, match_hash, &m) != 0) {
        api->log(j->pl->self, MIAW_LOG_WARN, "%s: vote on poll %s from %s is not a PollVoteMessage", j->instance,
                 j->poll_id, j->voter);
    } else {
        if (m.unknown)
            api->log(j->pl->self, MIAW_LOG_WARN, "%s: vote on poll %s from %s names %d option(s) the poll does not have",
                     j->instance, j->poll_id, j->voter, m.unknown);
        api->log(j->pl->self, MIAW_LOG_DEBUG, "%s: vote on %s decrypted with creator %s, voter %s", j->instance,
                 j->poll_id, j->creators.v[ci], j->voters.v[vi]);
        if (j->have_record) { /* the latest vote of each voter, for GET .../polls/{pollId} */
            char key[160];
            snprintf(key, sizeof key, "votes:%s", j->poll_id);
            json_t *votes = api->kv_get(j->pl->self, j->instance, key);
            if (!votes) votes = json_object();
            json_object_set(votes, j->voter, m.selected);
            api->kv_put(j->pl->self, j->instance, key, votes);
        }
        json_t *out = json_pack("{s:s,s:s,s:s,s:O,s:O}", "pollId", j->poll_id, "chat", j->chat, "voter", j->voter,
                                "selectedOptions", m.selected, "timestamp", j->timestamp);
        if (out) api->event_emit(j->pl->self, "poll_vote", j->instance, out);
    }
    json_decref(m.selected);
    OPENSSL_cleanse(pt, pt_len);
    free(pt);
    return 1;
}

static void vote_give_up(vote_job *j)
{
    j->pl->api->log(j->pl->self, MIAW_LOG_WARN, "%s: vote on poll %s from %s does not decrypt (%d creator, %d voter "
                    "addresses tried)", j->instance, j->poll_id, j->voter, j->creators.n, j->voters.n);
}

/* the string of a JSON node attribute: "x" or {"jid":"x"} */
static const char *attr_str(const json_t *node, const char *name)
{
    const json_t *a = json_object_get(json_object_get(node, "attrs"), name);
    return json_is_string(a) ? json_string_value(a) : json_string_value(json_object_get(a, "jid"));
}

/* the first child node with this tag */
static const json_t *child(const json_t *node, const char *tag)
{
    const json_t *c;
    size_t i;
    json_array_foreach(json_object_get(node, "content"), i, c) {
        const char *t = json_string_value(json_object_get(c, "tag"));
        if (t && !strcmp(t, tag)) return c;
    }
    return NULL;
}

/* the usync answer: <usync><list><user jid=PN><lid val=LID/></user>...</list></usync>;
 * each LID joins the addresses of the party whose phone-number JID it belongs to */
static void on_lids(int status, const json_t *reply, const char *detail, void *udata)
{
    vote_job *j = udata;
    vote_unlink(j);
    if (status != MIAW_OK) {
        j->pl->api->log(j->pl->self, MIAW_LOG_WARN, "%s: LID lookup for a vote on %s failed: %s", j->instance,
                        j->poll_id, detail ? detail : "error");
    } else {
        const json_t *u;
        size_t i;
        json_array_foreach(json_object_get(child(child(reply, "usync"), "list"), "content"), i, u) {
            char pn[128];
            const char *lid = attr_str(child(u, "lid"), "val");
            if (!lid || jid_user(attr_str(u, "jid"), pn, sizeof pn) != 0) continue;
            jidset *sets[] = {&j->creators, &j->voters};
            for (int s = 0; s < 2; s++)
                for (int k = 0; k < sets[s]->n; k++)
                    if (!strcmp(sets[s]->v[k], pn)) {
                        jidset_add(sets[s], lid);
                        break;
                    }
        }
    }
    if (!vote_try(j)) vote_give_up(j);
    vote_free(j);
}

/* Ask WhatsApp (usync, through the generic iq service) for the LIDs of the phone-number
 * JIDs among the candidates: a client in a LID-addressed chat keys its vote with LIDs. */
static int vote_lookup_lids(vote_job *j)
{
    const miaw_host_api *api = j->pl->api;
    if (!MIAW_HOST_HAS(api, iq)) return -1;
    json_t *list = json_array();
    jidset seen = {0};
    jidset *sets[] = {&j->creators, &j->voters};
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < sets[s]->n; k++) {
            int before = seen.n;
            if (strstr(sets[s]->v[k], "@s.whatsapp.net")) jidset_add(&seen, sets[s]->v[k]);
            if (seen.n > before)
                json_array_append_new(list, json_pack("{s:s,s:{s:{s:s}}}", "tag", "user", "attrs", "jid", "jid",
                                                      sets[s]->v[k]));
        }
    if (!json_array_size(list)) {
        json_decref(list);
        return -1;
    }
    char sid[40];
    unsigned char r[8];
    RAND_bytes(r, sizeof r);
    snprintf(sid, sizeof sid, "poll%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
    json_t *iq = json_pack("{s:s,s:{s:s,s:s},s:[{s:s,s:{s:s,s:s,s:s,s:s,s:s},s:[{s:s,s:[{s:s}]},{s:s,s:o}]}]}", "tag",
                           "iq", "attrs", "xmlns", "usync", "type", "get", "content", "tag", "usync", "attrs", "sid",
                           sid, "mode", "query", "context", "background", "last", "true", "index", "0", "content", "tag",
                           "query", "content", "tag", "lid", "tag", "list", "content", list);
    char err[200] = "";
    int rc = iq ? api->iq(j->pl->self, j->instance, iq, 0, on_lids, j, &j->iq, err, sizeof err) : MIAW_E_NOMEM;
    json_decref(iq);
    if (rc != MIAW_OK) {
        api->log(j->pl->self, MIAW_LOG_DEBUG, "%s: no LID lookup for a vote on %s: %s", j->instance, j->poll_id, err);
        return -1;
    }
    j->next = j->pl->jobs;
    j->pl->jobs = j;
    return 0;
}

static void on_message(const miaw_event *ev, void *udata)
{
    polls *pl = udata;
    const miaw_host_api *api = pl->api;
    const json_t *d = ev->data;
    const json_t *pu = poll_update_of(json_object_get(d, "raw"));
    if (!pu || !ev->instance_id) return;
    const json_t *key = json_object_get(pu, "pollCreationMessageKey");
    const char *poll_id = json_string_value(json_object_get(key, "id"));
    const json_t *vote = json_object_get(pu, "vote");
    const char *chat = json_string_value(json_object_get(d, "chat"));
    const char *voter = json_string_value(json_object_get(d, "from"));
    if (!poll_id || !vote || !voter) return;
    vote_job *j = calloc(1, sizeof *j);
    if (!j) return;
    j->pl = pl;
    snprintf(j->instance, sizeof j->instance, "%s", ev->instance_id);
    snprintf(j->poll_id, sizeof j->poll_id, "%s", poll_id);
    snprintf(j->voter, sizeof j->voter, "%s", voter);
    snprintf(j->chat, sizeof j->chat, "%s", chat ? chat : voter);
    j->timestamp = json_object_get(d, "timestamp") ? json_incref(json_object_get(d, "timestamp")) : json_null();

    /* the poll: its secret and options from what this plugin kept when sending it, else
     * from chat storage (e.g. a poll created by someone else or by another device) */
    char kkey[160];
    snprintf(kkey, sizeof kkey, "poll:%s", poll_id);
    json_t *rec = api->kv_get(pl->self, ev->instance_id, kkey);
    json_t *stored = api->msg_get(pl->self, ev->instance_id, poll_id);
    const json_t *sm = json_object_get(stored, "message");
    const char *secret_b64 = json_string_value(json_object_get(rec, "secret"));
    if (!secret_b64)
        secret_b64 = json_string_value(json_object_get(json_object_get(sm, "messageContextInfo"), "messageSecret"));
    j->have_record = rec != NULL;
    if (rec) j->options = json_incref(json_object_get(rec, "options"));
    if (!j->options && creation_of(sm)) {
        j->options = json_array();
        const json_t *opts = json_object_get(creation_of(sm), "options"), *o;
        size_t i;
        json_array_foreach(opts, i, o) json_array_append(j->options, json_object_get(o, "optionName"));
    }
    j->secret = b64_decode(secret_b64, &j->secret_len);
    j->ct = b64_decode(json_string_value(json_object_get(vote, "encPayload")), &j->ct_len);
    j->iv = b64_decode(json_string_value(json_object_get(vote, "encIv")), &j->iv_len);

    /* who created the poll and who votes, as the voter's client wrote them into the key
     * derivation: the poll key names the creator from the voter's side (remoteJid in a
     * chat, participant in a group; fromMe: the voter itself). The core names users by
     * phone-number JID; other addresses the event gives are tried too, and LIDs are
     * looked up when those do not decrypt. */
    static const char *const voter_fields[] = {"from", "sender", "senderLid", "senderPn", "participant", NULL};
    for (int i = 0; voter_fields[i]; i++) jidset_add(&j->voters, json_string_value(json_object_get(d, voter_fields[i])));
    const char *sp = json_string_value(json_object_get(d, "senderPhone"));
    if (sp) {
        char pj[96];
        snprintf(pj, sizeof pj, "%s@s.whatsapp.net", sp);
        jidset_add(&j->voters, pj);
    }
    if (json_is_true(json_object_get(key, "fromMe"))) {
        for (int i = 0; i < j->voters.n; i++) jidset_add(&j->creators, j->voters.v[i]);
    } else {
        jidset_add(&j->creators, json_string_value(json_object_get(key, "participant")));
        jidset_add(&j->creators, json_string_value(json_object_get(key, "remoteJid")));
    }
    jidset_add(&j->creators, json_string_value(json_object_get(stored, "sender")));
    json_decref(stored);
    json_decref(rec);

    if (!j->secret || !j->options) {
        api->log(pl->self, MIAW_LOG_WARN, "%s: vote on poll %s from %s: the poll is unknown here", j->instance, poll_id,
                 voter);
    } else if (!j->ct || !j->iv) {
        api->log(pl->self, MIAW_LOG_WARN, "%s: vote on poll %s from %s has no readable vote", j->instance, poll_id,
                 voter);
    } else if (!vote_try(j)) {
        if (vote_lookup_lids(j) == 0) return; /* on_lids finishes it */
        vote_give_up(j);
    }
    vote_free(j);
}

/* ---------------------------------------------------------------- registration */
static const miaw_field OPTION = {.type = MIAW_T_STRING, .flags = MIAW_F_NONEMPTY | MIAW_F_HAS_MAX,
                                  .max = MAX_OPTION_LEN};
static const miaw_field CREATE_BODY[] = {
    {.name = "to", .type = MIAW_T_STRING, .flags = MIAW_F_REQUIRED | MIAW_F_NONEMPTY | MIAW_F_HAS_MAX, .max = 128,
     .description = "recipient: phone number with country code, user JID or group JID",
     .example = "\"15550001111\""},
    {.name = "name", .type = MIAW_T_STRING, .flags = MIAW_F_REQUIRED | MIAW_F_NONEMPTY | MIAW_F_HAS_MAX, .max = 255,
     .description = "the question", .example = "\"Lunch?\""},
    {.name = "options", .type = MIAW_T_ARRAY, .flags = MIAW_F_REQUIRED | MIAW_F_HAS_MIN | MIAW_F_HAS_MAX, .min = 2,
     .max = MAX_OPTIONS, .items = &OPTION, .description = "2 to 12 distinct, non-empty answers",
     .example = "[\"Pizza\",\"Sushi\"]"},
    {.name = "selectableCount", .type = MIAW_T_INTEGER, .flags = MIAW_F_HAS_MIN | MIAW_F_HAS_MAX, .min = 0,
     .max = MAX_OPTIONS, .description = "how many answers a voter may pick: 0 = any number (default), else 1..options",
     .example = "1"},
    {0},
};

static int polls_init(miaw_plugin *self, const miaw_host_api *api, const json_t *config, void **state, char *err,
                      size_t errlen)
{
    (void)config;
    if (api->abi_major != MIAW_ABI_MAJOR || !MIAW_HOST_HAS(api, msg_get) || !MIAW_HOST_HAS(api, reply_status) ||
        !MIAW_HOST_HAS(api, jid_normalize)) {
        snprintf(err, errlen, "needs a host with plugin ABI %u.2 or newer", MIAW_ABI_MAJOR);
        return MIAW_E_NOTSUP;
    }
    polls *pl = calloc(1, sizeof *pl);
    if (!pl) return MIAW_E_NOMEM;
    pl->self = self;
    pl->api = api;
    const miaw_route routes[] = {
        {MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/polls", .flags = MIAW_ROUTE_INSTANCE,
         .handler = on_create, .udata = pl, .body = CREATE_BODY, .tag = "Polls", .summary = "Send a poll",
         .description = "Sends a WhatsApp poll (single-select when selectableCount is 1). Votes arrive as the "
                        "poll_vote webhook event.",
         .response_example = "{\"messageId\":\"3EB0C431C26A1916F1B2\",\"timestamp\":1718000000000}"},
        {MIAW_ROUTE_INIT, .method = "GET", .path = "/instances/{instanceId}/polls/{pollId}",
         .flags = MIAW_ROUTE_INSTANCE, .handler = on_get, .udata = pl, .tag = "Polls",
         .summary = "A poll sent by this instance, with the latest vote of each voter"},
    };
    const miaw_event_decl decl = {
        .struct_size = sizeof decl, .type = "poll_vote", .flags = MIAW_EVENT_F_WEBHOOK,
        .description = "A vote on a poll, decrypted: {pollId, chat, voter, selectedOptions: [option names], "
                       "timestamp (unix seconds)}. An empty selectedOptions withdraws the voter's vote."};
    int rc;
    if ((rc = api->event_declare(self, &decl, err, errlen)) != MIAW_OK) goto fail;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if ((rc = api->route_add(self, &routes[i], err, errlen)) != MIAW_OK) goto fail;
    if ((rc = api->event_subscribe(self, "message", on_message, pl, NULL)) != MIAW_OK) goto fail;
    *state = pl;
    return MIAW_OK;
fail:
    free(pl); /* the host removes what was registered */
    return rc;
}

static void polls_fini(void *state)
{
    polls *pl = state;
    while (pl->jobs) { /* the host cancelled their lookups: no callback will free them */
        vote_job *j = pl->jobs;
        pl->jobs = j->next;
        vote_free(j);
    }
    free(pl);
}

static const miaw_plugin_desc DESC = {
    MIAW_PLUGIN_DESC_INIT,
    .abi_minor_required = 2,
    .name = "polls",
    .version = "1.0.0",
    .description = "Example plugin: WhatsApp polls (send, decrypted votes as poll_vote)",
    .init = polls_init,
    .fini = polls_fini,
};

MIAW_EXPORT const miaw_plugin_desc *miaw_plugin_entry(void) { return &DESC; }
