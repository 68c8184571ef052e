/* sim/appstate.c - miaw-sim's app-state sync server (see appstate.h): per-account
 * collections of version-stamped patches and live records, the w:sync:app:state IQ
 * (fetch patches after a version, in pages with has_more_patches; upload a patch at the
 * current version, 409 conflict otherwise), snapshots and external mutations stored on
 * the media host when the account is set so, and server_sync notifications to the
 * account's other companions. The server never decrypts: the phone (appstate_phone.c)
 * does that on its own side. */
#include "appstate.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "base/log.h"
#include "media.h"
#include "miaw/status.h"
#include "queue.h"
#include "session.h"
#include "state.h"
#include "wa/mediacrypto.h"
#include "wa/noise.h"
#include "wa/proto_json.h"
#include "wa_syncd.pb-c.h"

#define AS_PAGE 50 /* patches per fetch answer; more are announced with has_more_patches */

int miaw_sim_appstate_coll(const char *name)
{
    for (int i = 0; name && i < 5; i++)
        if (!strcmp(name, miaw_as_collections[i])) return i;
    return -1;
}

miaw_sim_as *miaw_sim_appstate_get(miaw_sim_account *a)
{
    if (a->appstate) return a->appstate;
    miaw_sim_as *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    /* the key: derived from the account's identity, so it survives a restart */
    static const char info[] = "miaw-sim app-state sync key";
    if (miaw_hkdf_sha256(NULL, 0, a->identity.priv, 32, (const uint8_t *)info, sizeof info - 1, s->key_data, 32)) {
        free(s);
        return NULL;
    }
    s->key_id[0] = 0;
    s->key_id[1] = 0;
    s->key_id[2] = (uint8_t)(a->raw_id >> 24);
    s->key_id[3] = (uint8_t)(a->raw_id >> 16);
    s->key_id[4] = (uint8_t)(a->raw_id >> 8);
    s->key_id[5] = (uint8_t)a->raw_id;
    for (int i = 0; i < 5; i++) miaw_as_state_init(&s->c[i].phone);
    s->log = json_array();
    a->appstate = s;
    return s;
}

void miaw_sim_appstate_free(miaw_sim_account *a)
{
    miaw_sim_as *s = a->appstate;
    if (!s) return;
    for (int i = 0; i < 5; i++) {
        sim_as_coll *c = &s->c[i];
        for (size_t j = 0; j < c->np; j++) free(c->p[j].b);
        for (size_t j = 0; j < c->nr; j++) free(c->r[j].b);
        free(c->p);
        free(c->r);
        miaw_as_state_free(&c->phone);
    }
    json_decref(s->log);
    OPENSSL_cleanse(s->key_data, sizeof s->key_data);
    free(s);
    a->appstate = NULL;
}

/* ------------------------------------------------------------------ records */

static sim_as_rec *as_rec_find(sim_as_coll *c, const uint8_t *im, size_t *at)
{
    for (size_t i = 0; i < c->nr; i++)
        if (!memcmp(c->r[i].im, im, 32)) {
            if (at) *at = i;
            return &c->r[i];
        }
    return NULL;
}

static int as_rec_apply(sim_as_coll *c, const Miaw__Wa__SyncdMutation *m)
{
    const Miaw__Wa__SyncdRecord *r = m->record;
    size_t at;
    sim_as_rec *old = as_rec_find(c, r->index->blob.data, &at);
    if (m->has_operation && m->operation == MIAW__WA__SYNCD_MUTATION__SYNCD_OPERATION__REMOVE) {
        if (old) {
            free(old->b);
            c->r[at] = c->r[--c->nr];
        }
        return 0;
    }
    size_t n = protobuf_c_message_get_packed_size(&r->base);
    uint8_t *b = malloc(n ? n : 1);
    if (!b) return MIAW_E_NOMEM;
    protobuf_c_message_pack(&r->base, b);
    if (old) {
        free(old->b);
        old->b = b;
        old->n = n;
        return 0;
    }
    if (c->nr == c->capr) {
        size_t nc = c->capr ? 2 * c->capr : 16;
        sim_as_rec *nr = realloc(c->r, nc * sizeof *nr);
        if (!nr) {
            free(b);
            return MIAW_E_NOMEM;
        }
        c->r = nr;
        c->capr = nc;
    }
    memcpy(c->r[c->nr].im, r->index->blob.data, 32);
    c->r[c->nr].b = b;
    c->r[c->nr++].n = n;
    return 0;
}

/* ------------------------------------------------------------------ accept */

static void as_notify_others(miaw_sim *sim, miaw_sim_account *a, uint32_t dev, const char *name, uint64_t v)
{
    char id[48], from[64];
    miaw_sim_next_id(sim, id, sizeof id);
    miaw_sim_device_jid(a, 0, 0, from, sizeof from);
    miaw_node *n = miaw_node_newv("notification", "from", from, "type", "server_sync", "id", id, NULL);
    miaw_node *col = n ? miaw_node_addv(n, "collection", "name", name, NULL) : NULL;
    if (!col) {
        miaw_node_free(n);
        return;
    }
    miaw_node_set_attrf(n, "t", "%" PRIu64, miaw_sim_now());
    miaw_node_set_attrf(col, "version", "%" PRIu64, v);
    for (size_t i = 0; i < a->ndevices; i++)
        if (a->devices[i].id != dev) miaw_sim_deliver(sim, a, a->devices[i].id, n, "notification");
    miaw_node_free(n);
}

int miaw_sim_appstate_accept(miaw_sim *sim, miaw_sim_account *a, int ci, uint32_t dev, uint64_t base,
                             const uint8_t *patch, size_t len, uint64_t *newv, const char **why)
{
    miaw_sim_as *s = miaw_sim_appstate_get(a);
    if (!s) return MIAW_E_NOMEM;
    sim_as_coll *c = &s->c[ci];
    if (base != c->version) {
        *why = "the patch is not based on the collection's current version";
        return MIAW_E_EXIST;
    }
    Miaw__Wa__SyncdPatch *p = (Miaw__Wa__SyncdPatch *)miaw_pb_unpack(&miaw__wa__syncd_patch__descriptor, patch, len);
    int rc = MIAW_E_INVAL;
    *why = "not a SyncdPatch with MACs, a key id and mutations";
    if (!p || !p->has_snapshotmac || p->snapshotmac.len != 32 || !p->has_patchmac || !p->keyid || !p->n_mutations)
        goto done;
    for (size_t i = 0; i < p->n_mutations; i++) {
        const Miaw__Wa__SyncdRecord *r = p->mutations[i]->record;
        if (!r || !r->index || r->index->blob.len != 32 || !r->value || r->value->blob.len < 64 || !r->keyid) goto done;
    }
    if (c->np == c->capp) {
        size_t nc = c->capp ? 2 * c->capp : 16;
        sim_as_patch *np = realloc(c->p, nc * sizeof *np);
        if (!np) {
            rc = MIAW_E_NOMEM;
            goto done;
        }
        c->p = np;
        c->capp = nc;
    }
    Miaw__Wa__SyncdVersion v = MIAW__WA__SYNCD_VERSION__INIT, *oldv = p->version;
    v.has_version = 1;
    v.version = c->version + 1;
    p->version = &v; /* the server stamps the version */
    size_t n = protobuf_c_message_get_packed_size(&p->base);
    uint8_t *b = malloc(n);
    if (b) protobuf_c_message_pack(&p->base, b);
    p->version = oldv;
    if (!b) {
        rc = MIAW_E_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < p->n_mutations; i++)
        if (as_rec_apply(c, p->mutations[i])) {
            free(b);
            rc = MIAW_E_NOMEM; /* records may be partly applied: out of memory in a test tool */
            goto done;
        }
    c->version++;
    memcpy(c->smac, p->snapshotmac.data, 32);
    c->kidn = p->keyid->has_id && p->keyid->id.len <= sizeof c->kid ? p->keyid->id.len : 0;
    memcpy(c->kid, p->keyid->id.data, c->kidn);
    c->p[c->np].version = c->version;
    c->p[c->np].b = b;
    c->p[c->np++].n = n;
    *newv = c->version;
    rc = 0;
    MIAW_INFO("sim", "account %s: app-state %s version %" PRIu64 " (%zu mutations from device %u)", a->phone,
              miaw_as_collections[ci], c->version, p->n_mutations, dev);
    miaw_sim_appstate_phone_apply(a, ci, dev, b, n);
    if (!s->quiet) as_notify_others(sim, a, dev, miaw_as_collections[ci], c->version);
done:
    if (p) protobuf_c_message_free_unpacked(&p->base, NULL);
    return rc;
}

/* ------------------------------------------------------------------ the IQ */

static int as_send_and_free(miaw_sim_conn *c, miaw_node *n)
{
    int rc = n ? miaw_sim_conn_send(c, n) : MIAW_E_NOMEM;
    miaw_node_free(n);
    return rc;
}

/* pt encrypted as "md-app-state" media, stored on the media host; *ref = the packed
 * ExternalBlobReference (malloc'd). 0 or MIAW_E_* */
static int as_store_blob(const uint8_t *pt, size_t len, uint8_t **ref, size_t *ref_len)
{
    uint8_t mk[32], *blob = NULL;
    size_t bl = 0;
    miaw_wa_media_hashes h;
    char url[300], dpath[256];
    int rc = miaw_wa_media_key_generate(mk);
    if (!rc) rc = miaw_wa_media_encrypt(mk, "md-app-state", pt, len, &blob, &bl, &h);
    if (!rc) rc = miaw_sim_media_put("md-app-state", blob, bl, url, sizeof url, dpath, sizeof dpath);
    free(blob);
    if (rc) return rc;
    Miaw__Wa__ExternalBlobReference r = MIAW__WA__EXTERNAL_BLOB_REFERENCE__INIT;
    r.has_mediakey = r.has_filesizebytes = r.has_filesha256 = r.has_fileencsha256 = 1;
    r.mediakey.data = mk;
    r.mediakey.len = 32;
    r.directpath = dpath;
    r.filesizebytes = h.file_length;
    r.filesha256.data = h.file_sha256;
    r.filesha256.len = 32;
    r.fileencsha256.data = h.file_enc_sha256;
    r.fileencsha256.len = 32;
    *ref_len = protobuf_c_message_get_packed_size(&r.base);
    if (!(*ref = malloc(*ref_len))) return MIAW_E_NOMEM;
    protobuf_c_message_pack(&r.base, *ref);
    return 0;
}

/* <snapshot> of c (its live records at its version) stored as media */
static int as_snapshot_into(miaw_node *col, sim_as_coll *c)
{
    Miaw__Wa__SyncdSnapshot sn = MIAW__WA__SYNCD_SNAPSHOT__INIT;
    Miaw__Wa__SyncdVersion v = MIAW__WA__SYNCD_VERSION__INIT;
    Miaw__Wa__KeyId k = MIAW__WA__KEY_ID__INIT;
    Miaw__Wa__SyncdRecord **recs = calloc(c->nr ? c->nr : 1, sizeof *recs);
    int rc = recs ? 0 : MIAW_E_NOMEM;
    for (size_t i = 0; !rc && i < c->nr; i++)
        if (!(recs[i] = miaw__wa__syncd_record__unpack(NULL, c->r[i].n, c->r[i].b))) rc = MIAW_E_INTERNAL;
    uint8_t *pt = NULL, *ref = NULL;
    size_t pl = 0, rl = 0;
    if (!rc) {
        v.has_version = 1;
        v.version = c->version;
        k.has_id = 1;
        k.id.data = c->kid;
        k.id.len = c->kidn;
        sn.version = &v;
        sn.n_records = c->nr;
        sn.records = recs;
        sn.has_mac = 1;
        sn.mac.data = c->smac;
        sn.mac.len = 32;
        sn.keyid = &k;
        pl = protobuf_c_message_get_packed_size(&sn.base);
        if (!(pt = malloc(pl ? pl : 1))) rc = MIAW_E_NOMEM;
        else protobuf_c_message_pack(&sn.base, pt);
    }
    if (!rc) rc = as_store_blob(pt, pl, &ref, &rl);
    miaw_node *s = rc ? NULL : miaw_node_add(col, "snapshot");
    if (!rc) rc = s ? miaw_node_set_bytes(s, ref, rl) : MIAW_E_NOMEM;
    for (size_t i = 0; recs && i < c->nr; i++)
        if (recs[i]) miaw__wa__syncd_record__free_unpacked(recs[i], NULL);
    free(recs);
    free(pt);
    free(ref);
    return rc;
}

/* patch bytes b with their mutations moved into an external blob: *out malloc'd */
static int as_externalize(const uint8_t *b, size_t n, uint8_t **out, size_t *out_len)
{
    Miaw__Wa__SyncdPatch *p = miaw__wa__syncd_patch__unpack(NULL, n, b);
    if (!p) return MIAW_E_INVAL;
    Miaw__Wa__SyncdMutations ms = MIAW__WA__SYNCD_MUTATIONS__INIT;
    ms.n_mutations = p->n_mutations;
    ms.mutations = p->mutations;
    size_t ml = protobuf_c_message_get_packed_size(&ms.base);
    uint8_t *mb = malloc(ml ? ml : 1), *ref = NULL;
    size_t rl = 0;
    int rc = mb ? 0 : MIAW_E_NOMEM;
    if (!rc) {
        protobuf_c_message_pack(&ms.base, mb);
        rc = as_store_blob(mb, ml, &ref, &rl);
    }
    Miaw__Wa__ExternalBlobReference *er = rc ? NULL : miaw__wa__external_blob_reference__unpack(NULL, rl, ref);
    if (!rc && !er) rc = MIAW_E_INTERNAL;
    if (!rc) {
        size_t keep = p->n_mutations;
        Miaw__Wa__SyncdMutation **km = p->mutations;
        p->n_mutations = 0;
        p->mutations = NULL;
        p->externalmutations = er;
        *out_len = protobuf_c_message_get_packed_size(&p->base);
        if ((*out = malloc(*out_len))) protobuf_c_message_pack(&p->base, *out);
        else rc = MIAW_E_NOMEM;
        p->externalmutations = NULL;
        p->n_mutations = keep;
        p->mutations = km;
    }
    if (er) miaw__wa__external_blob_reference__free_unpacked(er, NULL);
    free(mb);
    free(ref);
    miaw__wa__syncd_patch__free_unpacked(p, NULL);
    return rc;
}

/* the answer's <collection> for a fetch of c after version `after`: a snapshot instead
 * of the history when asked and the account is set so */
static int as_fetch_into(miaw_sim_as *s, miaw_node *sync, const char *name, sim_as_coll *c, uint64_t after,
                         int want_snapshot)
{
    miaw_node *col = miaw_node_addv(sync, "collection", "name", name, NULL);
    if (!col) return MIAW_E_NOMEM;
    if (s->snapshots && want_snapshot && c->version > after && c->kidn) {
        miaw_node_set_attrf(col, "version", "%" PRIu64, c->version);
        miaw_node_set_attr(col, "has_more_patches", "false");
        return as_snapshot_into(col, c);
    }
    size_t first = 0, n = 0;
    while (first < c->np && c->p[first].version <= after) first++;
    n = c->np - first;
    int more = n > AS_PAGE;
    if (more) n = AS_PAGE;
    uint64_t last = n ? c->p[first + n - 1].version : (after < c->version ? c->version : after);
    miaw_node_set_attrf(col, "version", "%" PRIu64, last);
    miaw_node_set_attr(col, "has_more_patches", more ? "true" : "false");
    if (!n) return 0;
    miaw_node *ps = miaw_node_add(col, "patches");
    for (size_t i = 0; ps && i < n; i++) {
        miaw_node *pn = miaw_node_add(ps, "patch");
        if (!pn) return MIAW_E_NOMEM;
        uint8_t *eb = NULL;
        size_t el = 0;
        int rc = s->external ? as_externalize(c->p[first + i].b, c->p[first + i].n, &eb, &el) : 0;
        if (!rc) rc = miaw_node_set_bytes(pn, eb ? eb : c->p[first + i].b, eb ? el : c->p[first + i].n);
        free(eb);
        if (rc) return rc;
    }
    return ps ? 0 : MIAW_E_NOMEM;
}

int miaw_sim_appstate_on_iq(miaw_sim_conn *c, const miaw_node *iq)
{
    const char *xmlns = miaw_node_attr(iq, "xmlns");
    if (!xmlns || strcmp(xmlns, "w:sync:app:state")) return 0;
    const miaw_node *sync = miaw_node_child(iq, "sync");
    miaw_sim_as *s = c->account ? miaw_sim_appstate_get(c->account) : NULL;
    if (!sync || !miaw_node_attr_is(iq, "type", "set") || !s) {
        miaw_sim_iq_error(c, iq, 400, "bad-request");
        return 1;
    }
    /* validate every collection first: an error answers the whole IQ */
    for (const miaw_node *col = miaw_node_child(sync, "collection"); col; col = miaw_node_next(sync, col, "collection")) {
        uint64_t v = 0;
        const char *vs = miaw_node_attr(col, "version");
        if (miaw_sim_appstate_coll(miaw_node_attr(col, "name")) < 0 || (vs && miaw_node_attr_u64(col, "version", &v))) {
            miaw_sim_iq_error(c, iq, 400, "bad-request");
            return 1;
        }
        const miaw_node *p = miaw_node_child(col, "patch");
        int ci = miaw_sim_appstate_coll(miaw_node_attr(col, "name"));
        if (p && v != s->c[ci].version) {
            miaw_sim_iq_error(c, iq, 409, "conflict");
            return 1;
        }
    }
    miaw_node *r = miaw_sim_iq_result(iq);
    miaw_node *out = r ? miaw_node_add(r, "sync") : NULL;
    for (const miaw_node *col = miaw_node_child(sync, "collection"); out && col;
         col = miaw_node_next(sync, col, "collection")) {
        const char *name = miaw_node_attr(col, "name");
        int ci = miaw_sim_appstate_coll(name);
        uint64_t v = 0;
        miaw_node_attr_u64(col, "version", &v);
        const miaw_node *p = miaw_node_child(col, "patch");
        if (p) {
            size_t len = 0;
            const uint8_t *b = miaw_node_bytes(p, &len);
            uint64_t nv = 0;
            const char *why = "";
            int rc = b ? miaw_sim_appstate_accept(c->sim, c->account, ci, c->device_id, v, b, len, &nv, &why)
                       : MIAW_E_INVAL;
            miaw_node *rc_col = miaw_node_addv(out, "collection", "name", name, NULL);
            if (rc) {
                MIAW_WARN("sim", "account %s: app-state patch for %s refused: %s", c->account->phone, name, why);
                miaw_node_set_attr(rc_col, "type", "error");
                miaw_node *e = miaw_node_add(rc_col, "error");
                miaw_node_set_attr(e, "code", rc == MIAW_E_EXIST ? "409" : "400");
                miaw_node_set_attr(e, "text", rc == MIAW_E_EXIST ? "conflict" : "bad-request");
            } else {
                miaw_node_set_attrf(rc_col, "version", "%" PRIu64, nv);
            }
        } else if (as_fetch_into(s, out, name, &s->c[ci], v, miaw_node_attr_is(col, "return_snapshot", "true"))) {
            break;
        }
    }
    as_send_and_free(c, r);
    return 1;
}
