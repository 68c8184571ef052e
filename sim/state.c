/* sim/state.c - miaw-sim's records and their persistence: keys and certificate chain,
 * accounts, linked devices and pre-keys, kept in memory and mirrored to
 * <state-dir>/state.json (written atomically, 0600) after every change. */
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "group.h"
#include "index.h"
#include "presence.h"
#include "appstate.h"
#include "queue.h"
#include "base/log.h"
#include "base/util.h"
#include "wa/certchain.h"
#include "miaw/plugin.h"

#define STATE_FILE "state.json"

uint64_t miaw_sim_now(void) { return (uint64_t)time(NULL); }

void miaw_sim_next_id(miaw_sim *sim, char *buf, size_t cap)
{
    snprintf(buf, cap, "sim.%llu", (unsigned long long)++sim->iq_seq);
}

int miaw_sim_phone_valid(const char *phone)
{
    size_t n = phone ? strlen(phone) : 0;
    if (n < 5 || n > MIAW_SIM_PHONE_MAX || phone[0] == '0') return 0;
    for (size_t i = 0; i < n; i++)
        if (phone[i] < '0' || phone[i] > '9') return 0;
    return 1;
}

void miaw_sim_device_jid(const miaw_sim_account *a, uint32_t dev, int lid, char *buf, size_t cap)
{
    if (dev) snprintf(buf, cap, "%s:%u@%s", lid ? a->lid : a->phone, dev, lid ? "lid" : "s.whatsapp.net");
    else snprintf(buf, cap, "%s@%s", lid ? a->lid : a->phone, lid ? "lid" : "s.whatsapp.net");
}

/* ------------------------------------------------------------------ records */

miaw_sim_account *miaw_sim_account_find(miaw_sim *sim, const char *phone)
{
    return miaw_sim_index_find(sim, 0, phone);
}

miaw_sim_account *miaw_sim_account_find_lid(miaw_sim *sim, const char *lid)
{
    return miaw_sim_index_find(sim, 1, lid);
}

static int lid_taken(miaw_sim *sim, const char *lid)
{
    return miaw_sim_index_find(sim, 1, lid) || miaw_sim_index_find(sim, 0, lid);
}

int miaw_sim_account_add(miaw_sim *sim, const char *phone, const char *name, miaw_sim_account **out)
{
    if (!miaw_sim_phone_valid(phone)) return MIAW_E_INVAL;
    if (!name || strlen(name) > MIAW_SIM_NAME_MAX) return MIAW_E_INVAL;
    if (miaw_sim_account_find(sim, phone)) return MIAW_E_EXIST;
    miaw_sim_account *a = calloc(1, sizeof *a);
    if (!a) return MIAW_E_NOMEM;
    snprintf(a->phone, sizeof a->phone, "%s", phone);
    snprintf(a->name, sizeof a->name, "%s", name);
    int rc = miaw_keypair_generate(&a->identity);
    uint8_t r[8];
    if (rc || miaw_random(r, sizeof r)) {
        free(a);
        return rc ? rc : MIAW_E_INTERNAL;
    }
    a->raw_id = (uint32_t)r[0] << 24 | (uint32_t)r[1] << 16 | (uint32_t)r[2] << 8 | r[3];
    /* a 15-digit LID, distinct from every phone number and LID in use */
    do {
        uint64_t v = 0;
        if (miaw_random(&v, sizeof v)) { free(a); return MIAW_E_INTERNAL; }
        snprintf(a->lid, sizeof a->lid, "%llu", 100000000000000ULL + (unsigned long long)(v % 899999999999999ULL));
    } while (lid_taken(sim, a->lid));
    if (miaw_sim_index_add(sim, a)) {
        free(a);
        return MIAW_E_NOMEM;
    }
    a->next_device = 1;
    a->created_at = miaw_sim_now();
    a->next = sim->accounts;
    sim->accounts = a;
    sim->naccounts++;
    *out = a;
    return 0;
}

miaw_sim_device *miaw_sim_device_find(miaw_sim_account *a, uint32_t id)
{
    for (size_t i = 0; a && i < a->ndevices; i++)
        if (a->devices[i].id == id) return &a->devices[i];
    return NULL;
}

miaw_sim_device *miaw_sim_device_add(miaw_sim_account *a, const miaw_sim_device *d)
{
    if (a->ndevices >= MIAW_SIM_MAX_DEVICES) return NULL;
    a->devices[a->ndevices] = *d;
    return &a->devices[a->ndevices++];
}

void miaw_sim_device_remove(miaw_sim_account *a, uint32_t id)
{
    for (size_t i = 0; i < a->ndevices; i++) {
        if (a->devices[i].id != id) continue;
        free(a->devices[i].adv);
        free(a->devices[i].prekeys);
        memmove(&a->devices[i], &a->devices[i + 1], (a->ndevices - i - 1) * sizeof a->devices[0]);
        a->ndevices--;
        return;
    }
}

int miaw_sim_prekeys_put(miaw_sim_device *d, const miaw_sim_prekey *keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < d->nprekeys && d->prekeys[j].id != keys[i].id) j++;
        if (j == d->nprekeys) {
            if (d->nprekeys >= 20000) return MIAW_E_LIMIT;
            if (d->nprekeys == d->prekeys_cap) {
                size_t cap = d->prekeys_cap ? d->prekeys_cap * 2 : 64;
                miaw_sim_prekey *p = realloc(d->prekeys, cap * sizeof *p);
                if (!p) return MIAW_E_NOMEM;
                d->prekeys = p;
                d->prekeys_cap = cap;
            }
            d->nprekeys++;
        }
        d->prekeys[j] = keys[i];
    }
    return 0;
}

/* ------------------------------------------------------------------ JSON */

static json_t *jhex(const uint8_t *b, size_t n)
{
    char s[2 * 64 + 1];
    if (n > 64) return json_null();
    miaw_sim_hex(b, n, s);
    return json_string(s);
}

static int unhex(const json_t *v, uint8_t *out, size_t n)
{
    const char *s = json_string_value(v);
    if (!s || strlen(s) != 2 * n) return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned x;
        if (sscanf(s + 2 * i, "%2x", &x) != 1) return -1;
        out[i] = (uint8_t)x;
    }
    return 0;
}

static json_t *device_json(const miaw_sim_account *a, const miaw_sim_device *d, int full)
{
    char jid[80], lid[80];
    miaw_sim_device_jid(a, d->id, 0, jid, sizeof jid);
    miaw_sim_device_jid(a, d->id, 1, lid, sizeof lid);
    json_t *o = json_pack("{s:I,s:s,s:s,s:I,s:s,s:I,s:b,s:I,s:I}", "id", (json_int_t)d->id, "jid", jid,
                          "lid", lid, "keyIndex", (json_int_t)d->key_index, "platform", d->platform,
                          "preKeys", (json_int_t)d->nprekeys, "online", d->conn != NULL,
                          "linkedAt", (json_int_t)d->linked_at, "queued", (json_int_t)d->nqueue);
    if (!o || !full) return o;
    json_object_set_new(o, "noisePub", jhex(d->noise_pub, 32));
    json_object_set_new(o, "identityPub", jhex(d->identity_pub, 32));
    json_object_set_new(o, "regId", json_integer(d->reg_id));
    json_object_set_new(o, "skeyId", json_integer(d->skey_id));
    json_object_set_new(o, "skeyPub", jhex(d->skey_pub, 32));
    json_object_set_new(o, "skeySig", jhex(d->skey_sig, 64));
    if (d->adv) {
        char *b = malloc(4 * ((d->adv_len + 2) / 3) + 1);
        if (b && miaw_sim_b64_encode(d->adv, d->adv_len, b, 4 * ((d->adv_len + 2) / 3) + 1) >= 0)
            json_object_set_new(o, "adv", json_string(b));
        free(b);
    }
    json_t *pk = json_array();
    for (size_t i = 0; i < d->nprekeys; i++)
        json_array_append_new(pk, json_pack("[I,o]", (json_int_t)d->prekeys[i].id, jhex(d->prekeys[i].pub, 32)));
    json_object_set_new(o, "preKeyList", pk);
    return o;
}

static json_t *account_json(const miaw_sim_account *a, int full)
{
    char jid[64], lid[64];
    miaw_sim_device_jid(a, 0, 0, jid, sizeof jid);
    miaw_sim_device_jid(a, 0, 1, lid, sizeof lid);
    json_t *devs = json_array();
    for (size_t i = 0; i < a->ndevices; i++) json_array_append_new(devs, device_json(a, &a->devices[i], full));
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:I}", "phone", a->phone, "jid", jid, "lid", lid, "name",
                          a->name, "status", a->status, "devices", devs, "createdAt", (json_int_t)a->created_at);
    if (o && full) {
        json_object_set_new(o, "identityPriv", jhex(a->identity.priv, 32));
        if (a->primary.skey_id) json_object_set_new(o, "phoneDevice", device_json(a, &a->primary, 1));
        if (a->inbox) json_object_set(o, "phoneInbox", (json_t *)a->inbox);
        if (a->outbox) json_object_set(o, "phoneOutbox", (json_t *)a->outbox);
        json_object_set_new(o, "rawId", json_integer(a->raw_id));
        json_object_set_new(o, "nextKeyIndex", json_integer(a->next_key_index));
        json_object_set_new(o, "nextDevice", json_integer(a->next_device));
    } else if (o) {
        json_object_set_new(o, "identityPub", jhex(a->identity.pub, 32));
    }
    return o;
}

static json_t *accounts_json(const miaw_sim *sim, int full)
{
    /* oldest first, so a reload keeps the order */
    json_t *arr = json_array();
    for (const miaw_sim_account *a = sim->accounts; a; a = a->next) json_array_insert_new(arr, 0, account_json(a, full));
    return arr;
}

json_t *miaw_sim_state_json(const miaw_sim *sim)
{
    char root[65];
    miaw_sim_hex(sim->root.pub, 32, root);
    return json_pack("{s:s,s:b,s:o,s:I,s:I,s:I,s:I,s:o}", "rootPublicKeyHex", root, "persistent", sim->state_dir != NULL,
                     "accounts", accounts_json(sim, 0), "connections", (json_int_t)sim->nconns,
                     "unknownIqs", (json_int_t)sim->unknown_iqs, "queued", (json_int_t)miaw_sim_queue_total(sim),
                     "messagesRouted", (json_int_t)sim->messages_routed, "groups", miaw_sim_groups_json(sim, 0));
}

int miaw_sim_state_save(miaw_sim *sim)
{
    if (!sim->state_dir) return 0;
    json_t *o = json_pack("{s:i,s:o,s:o,s:o,s:I,s:o}", "version", 1, "root", jhex(sim->root.priv, 32),
                          "intermediate", jhex(sim->intermediate.priv, 32), "serverStatic",
                          jhex(sim->server_static.priv, 32), "iqSeq", (json_int_t)sim->iq_seq, "accounts",
                          accounts_json(sim, 1));
    if (o) json_object_set_new(o, "groups", miaw_sim_groups_json(sim, 1));
    char *s = o ? json_dumps(o, JSON_INDENT(1)) : NULL;
    json_decref(o);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", sim->state_dir, STATE_FILE);
    int rc = s ? miaw_write_file_atomic(path, s, strlen(s), 0600) : MIAW_E_NOMEM;
    free(s);
    if (rc) MIAW_ERR("sim", "cannot write %s", path);
    return rc ? MIAW_E_IO : 0;
}

static int load_device(miaw_sim_device *d, json_t *o, int phone)
{
    memset(d, 0, sizeof *d);
    d->id = (uint32_t)json_integer_value(json_object_get(o, "id"));
    d->reg_id = (uint32_t)json_integer_value(json_object_get(o, "regId"));
    d->skey_id = (uint32_t)json_integer_value(json_object_get(o, "skeyId"));
    d->key_index = (uint32_t)json_integer_value(json_object_get(o, "keyIndex"));
    d->linked_at = (uint64_t)json_integer_value(json_object_get(o, "linkedAt"));
    snprintf(d->platform, sizeof d->platform, "%s", json_string_value(json_object_get(o, "platform")) ? json_string_value(json_object_get(o, "platform")) : "");
    if (!d->id != !!phone || unhex(json_object_get(o, "noisePub"), d->noise_pub, 32) ||
        unhex(json_object_get(o, "identityPub"), d->identity_pub, 32) ||
        unhex(json_object_get(o, "skeyPub"), d->skey_pub, 32) || unhex(json_object_get(o, "skeySig"), d->skey_sig, 64))
        return -1;
    const char *adv = json_string_value(json_object_get(o, "adv"));
    if (adv) {
        size_t n = strlen(adv);
        d->adv = malloc(n);
        int got = d->adv ? miaw_sim_b64_decode(adv, n, d->adv, n) : -1;
        if (got < 0) return -1;
        d->adv_len = (size_t)got;
    }
    size_t i;
    json_t *pk;
    json_array_foreach(json_object_get(o, "preKeyList"), i, pk) {
        miaw_sim_prekey k = {(uint32_t)json_integer_value(json_array_get(pk, 0)), {0}};
        if (unhex(json_array_get(pk, 1), k.pub, 32) || miaw_sim_prekeys_put(d, &k, 1)) return -1;
    }
    return 0;
}

static int load_state(miaw_sim *sim, json_t *o)
{
    uint8_t k[32];
    if (unhex(json_object_get(o, "root"), k, 32) || miaw_keypair_from_private(&sim->root, k) ||
        unhex(json_object_get(o, "intermediate"), k, 32) || miaw_keypair_from_private(&sim->intermediate, k) ||
        unhex(json_object_get(o, "serverStatic"), k, 32) || miaw_keypair_from_private(&sim->server_static, k))
        return -1;
    sim->iq_seq = (uint64_t)json_integer_value(json_object_get(o, "iqSeq"));
    size_t i;
    json_t *ja;
    json_array_foreach(json_object_get(o, "accounts"), i, ja) {
        miaw_sim_account *a;
        const char *phone = json_string_value(json_object_get(ja, "phone"));
        const char *name = json_string_value(json_object_get(ja, "name"));
        const char *lid = json_string_value(json_object_get(ja, "lid"));
        if (miaw_sim_account_add(sim, phone, name ? name : "", &a)) return -1;
        char lu[32]; /* stored as "<lid>@lid" */
        snprintf(lu, sizeof lu, "%.*s", (int)strcspn(lid ? lid : "", "@"), lid ? lid : "");
        if (!miaw_sim_phone_valid(lu)) return -1;
        miaw_sim_index_set_lid(sim, a, lu); /* valid: at most 20 digits */
        if (unhex(json_object_get(ja, "identityPriv"), k, 32) || miaw_keypair_from_private(&a->identity, k)) return -1;
        a->raw_id = (uint32_t)json_integer_value(json_object_get(ja, "rawId"));
        a->next_key_index = (uint32_t)json_integer_value(json_object_get(ja, "nextKeyIndex"));
        a->next_device = (uint32_t)json_integer_value(json_object_get(ja, "nextDevice"));
        a->created_at = (uint64_t)json_integer_value(json_object_get(ja, "createdAt"));
        const char *st = json_string_value(json_object_get(ja, "status"));
        snprintf(a->status, sizeof a->status, "%s", st ? st : "");
        json_t *pd = json_object_get(ja, "phoneDevice");
        if (pd && load_device(&a->primary, pd, 1)) return -1;
        json_t *box = json_object_get(ja, "phoneInbox");
        if (json_is_array(box)) a->inbox = json_incref(box);
        box = json_object_get(ja, "phoneOutbox");
        if (json_is_array(box)) a->outbox = json_incref(box);
        size_t j;
        json_t *jd;
        json_array_foreach(json_object_get(ja, "devices"), j, jd) {
            miaw_sim_device d;
            int bad = load_device(&d, jd, 0);
            if (bad || !miaw_sim_device_add(a, &d)) {
                free(d.adv);
                free(d.prekeys);
                return -1;
            }
        }
    }
    miaw_sim_groups_load(sim, json_object_get(o, "groups"));
    return 0;
}

static int build_cert(miaw_sim *sim)
{
    /* validity: a day back (clock skew) to ten years ahead; the chain is rebuilt at start */
    uint64_t now = miaw_sim_now();
    miaw_certchain_spec spec = {sim->root.priv, sim->intermediate.priv, sim->server_static.pub, 1, 2,
                                now - 86400, now + 10ULL * 365 * 86400};
    return miaw_certchain_create(&spec, &sim->cert, &sim->cert_len);
}

int miaw_sim_state_open(miaw_sim *sim, uv_loop_t *loop, const char *dir, char *err, size_t errcap)
{
    memset(sim, 0, sizeof *sim);
    sim->loop = loop;
    int loaded = 0;
    if (dir) {
        if (!(sim->state_dir = strdup(dir)) || miaw_mkdir_p(dir, 0700)) {
            snprintf(err, errcap, "cannot create state directory %s", dir);
            return MIAW_E_IO;
        }
        char path[4096], *buf;
        size_t len;
        snprintf(path, sizeof path, "%s/%s", dir, STATE_FILE);
        if (miaw_read_file(path, &buf, &len) == 0) {
            json_error_t je;
            json_t *o = json_loadb(buf, len, 0, &je);
            free(buf);
            int bad = !o || load_state(sim, o);
            json_decref(o);
            if (bad) {
                snprintf(err, errcap, "%s is not a valid miaw-sim state file", path);
                return MIAW_E_INVAL;
            }
            loaded = 1;
        }
    }
    if (!loaded && (miaw_keypair_generate(&sim->root) || miaw_keypair_generate(&sim->intermediate) ||
                    miaw_keypair_generate(&sim->server_static))) {
        snprintf(err, errcap, "key generation failed");
        return MIAW_E_INTERNAL;
    }
    if (build_cert(sim)) {
        snprintf(err, errcap, "certificate chain creation failed");
        return MIAW_E_INTERNAL;
    }
    if (!loaded && miaw_sim_state_save(sim)) {
        snprintf(err, errcap, "cannot write the state file in %s", dir);
        return MIAW_E_IO;
    }
    return 0;
}

void miaw_sim_state_close(miaw_sim *sim)
{
    miaw_sim_account *a = sim->accounts;
    while (a) {
        miaw_sim_account *n = a->next;
        for (size_t i = 0; i < a->ndevices; i++) {
            miaw_sim_queue_clear(&a->devices[i]);
            free(a->devices[i].adv);
            free(a->devices[i].prekeys);
        }
        free(a->primary.prekeys);
        free(a->primary.adv);
        json_decref(a->inbox);
        json_decref(a->outbox);
        miaw_sim_presence_free(a);
        miaw_sim_appstate_free(a);
        miaw_sim_watchers_free(a);
        memset(&a->identity, 0, sizeof a->identity);
        free(a);
        a = n;
    }
    miaw_sim_groups_free(sim);
    miaw_sim_index_free(sim);
    free(sim->cert);
    free(sim->state_dir);
    memset(sim, 0, sizeof *sim);
}
