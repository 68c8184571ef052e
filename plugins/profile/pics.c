/* plugins/profile/pics.c - the picture pipeline of pics.h: input (base64, URL through the
 * host's fetch, multipart file), the worker thread making the JPEGs (image.c), the
 * w:profile:picture set IQ (own picture, or target=<group>), removal. Owns the jobs in
 * flight (pf_pics.jobs). Compiled into the profile and the groups plugins. */
#include "pics.h"

#include <miaw/node_util.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct pf_job {
    pf_pics *st;
    miaw_req *req;       /* NULL once the client left */
    char inst[128];
    char target[96];     /* "" = the account's own picture, else a group JID */
    pf_pics_err_fn on_err;
    void *err_ud;
    uint8_t *input;
    size_t input_len;
    pthread_t th;
    int started;
    atomic_int done;
    int rc;
    char err[256];
    pf_picture pic;
    miaw_id h_fetch, h_iq;
    struct pf_job *next;
} pf_job;

static void job_unlink_free(pf_job *j)
{
    for (pf_job **pp = &j->st->jobs; *pp; pp = &(*pp)->next)
        if (*pp == j) {
            *pp = j->next;
            break;
        }
    free(j->input);
    pf_picture_free(&j->pic);
    free(j);
}

static void *worker(void *ud)
{
    pf_job *j = ud;
    j->rc = pf_picture_make(j->input, j->input_len, &j->pic, j->err, sizeof j->err);
    atomic_store(&j->done, 1);
    return NULL;
}

static void on_abort(miaw_req *r, int why, void *ud)
{
    (void)r, (void)why;
    pf_job *j = ud;
    j->req = NULL;
    if (j->h_fetch) j->st->api->cancel(j->st->self, j->h_fetch);
    if (j->h_iq) j->st->api->cancel(j->st->self, j->h_iq);
    if (!j->started || atomic_load(&j->done)) {
        if (j->started) pthread_join(j->th, NULL);
        job_unlink_free(j);
    } /* else: the poll timer frees it once the worker is done */
}

static void on_set(int status, const json_t *reply, const char *detail, void *ud)
{
    pf_job *j = ud;
    pf_pics *st = j->st;
    j->h_iq = 0;
    const json_t *p = NULL;
    size_t i;
    const json_t *k;
    json_array_foreach(json_object_get(reply, "content"), i, k) {
        const char *tag = json_string_value(json_object_get(k, "tag"));
        if (tag && !strcmp(tag, "picture")) p = k;
    }
    const char *id = json_string_value(json_object_get(json_object_get(p, "attrs"), "id"));
    if (status != MIAW_OK && j->on_err) j->on_err(st->api, j->req, status, detail, j->err_ud);
    else if (status != MIAW_OK) st->api->reply_status(j->req, status, NULL, "picture: %s", detail ? detail : "failed");
    else if (!j->input) st->api->reply_json(j->req, 200, json_pack("{s:b}", "removed", 1));
    else
        st->api->reply_json(j->req, 200,
                            json_pack("{s:o,s:i,s:i,s:I,s:I,s:{s:i,s:i}}", "id", id ? json_string(id) : json_null(),
                                      "size", PF_FULL, "previewSize", PF_PREVIEW, "bytes", (json_int_t)j->pic.image_len,
                                      "previewBytes", (json_int_t)j->pic.preview_len, "source", "width",
                                      (int)j->pic.src_w, "height", (int)j->pic.src_h));
    job_unlink_free(j);
}

/* <iq type=set xmlns=w:profile:picture [target=group]> without content yet */
static json_t *set_iq(const pf_job *j)
{
    json_t *iq = json_pack("{s:s,s:{s:{s:s},s:s,s:s}}", "tag", "iq", "attrs", "to", "jid", "s.whatsapp.net", "type",
                           "set", "xmlns", "w:profile:picture");
    if (j->target[0]) json_object_set_new(json_object_get(iq, "attrs"), "target", json_pack("{s:s}", "jid", j->target));
    return iq;
}

/* the set IQ: both pictures, or none (removal) */
static void send_set(pf_job *j)
{
    pf_pics *st = j->st;
    json_t *content = json_array();
    if (j->input) {
        json_array_append_new(content, json_pack("{s:s,s:{s:s},s:o}", "tag", "picture", "attrs", "type", "image",
                                                 "content", miaw_jnode_b64(j->pic.image, j->pic.image_len)));
        json_array_append_new(content, json_pack("{s:s,s:{s:s},s:o}", "tag", "picture", "attrs", "type", "preview",
                                                 "content", miaw_jnode_b64(j->pic.preview, j->pic.preview_len)));
    }
    json_t *iq = set_iq(j);
    json_object_set_new(iq, "content", content);
    char err[256] = "";
    int rc = st->api->iq(st->self, j->inst, iq, 30000, on_set, j, &j->h_iq, err, sizeof err);
    json_decref(iq);
    if (rc != MIAW_OK) {
        st->api->reply_status(j->req, rc, NULL, "%s", err);
        job_unlink_free(j);
    }
}

static void poll_jobs(miaw_id t, void *ud)
{
    (void)t;
    pf_pics *st = ud;
    int running = 0;
    for (pf_job *j = st->jobs, *next; j; j = next) {
        next = j->next;
        if (!j->started || !atomic_load(&j->done)) {
            running += j->started;
            continue;
        }
        pthread_join(j->th, NULL);
        j->started = 0;
        if (!j->req) job_unlink_free(j);
        else if (j->rc) {
            st->api->reply_status(j->req, MIAW_E_INVAL, "image", "%s", j->err);
            job_unlink_free(j);
        } else send_set(j);
    }
    if (!running && st->poll_timer) {
        st->api->timer_stop(st->self, st->poll_timer);
        st->poll_timer = 0;
    }
}

static int start_worker(pf_job *j)
{
    pf_pics *st = j->st;
    if (pthread_create(&j->th, NULL, worker, j) != 0) return MIAW_E_NOMEM;
    j->started = 1;
    if (!st->poll_timer && st->api->timer_start(st->self, 5, 5, poll_jobs, st, &st->poll_timer) != MIAW_OK) {
        pthread_join(j->th, NULL); /* cannot poll: finish here (rare) */
        j->started = 0;
        return MIAW_E_NOMEM;
    }
    return MIAW_OK;
}

static int read_file(const char *path, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return MIAW_E_IO;
    uint8_t *b = malloc(PF_INPUT_MAX + 1);
    size_t n = b ? fread(b, 1, PF_INPUT_MAX + 1, f) : 0;
    fclose(f);
    if (!b) return MIAW_E_NOMEM;
    if (n > PF_INPUT_MAX) {
        free(b);
        return MIAW_E_TOOBIG;
    }
    *out = b;
    *len = n;
    return MIAW_OK;
}

static void on_fetched(int status, const char *path, const char *ct, uint64_t size, const char *detail, void *ud)
{
    (void)ct, (void)size;
    pf_job *j = ud;
    pf_pics *st = j->st;
    j->h_fetch = 0;
    int rc = status;
    if (status == MIAW_OK) {
        rc = read_file(path, &j->input, &j->input_len);
        unlink(path);
    }
    if (rc == MIAW_OK) rc = start_worker(j);
    if (rc == MIAW_OK) return;
    if (rc == MIAW_E_LIMIT || rc == MIAW_E_TOOBIG)
        st->api->reply_status(j->req, MIAW_E_TOOBIG, "url", "the image is larger than %u bytes", PF_INPUT_MAX);
    else st->api->reply_status(j->req, MIAW_E_INVAL, "url", "cannot fetch the url: %s", detail ? detail : "failed");
    job_unlink_free(j);
}

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

/* base64 (standard or URL-safe, padding optional; a data: URL prefix is skipped) */
static int b64_decode(const char *s, uint8_t **out, size_t *len)
{
    const char *comma = !strncmp(s, "data:", 5) ? strchr(s, ',') : NULL;
    if (comma) s = comma + 1;
    size_t n = strlen(s), o = 0;
    uint8_t *b = malloc(n / 4 * 3 + 3);
    if (!b) return MIAW_E_NOMEM;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '=') {
            while (i < n && s[i] == '=') i++;
            if (i != n) break;
            continue;
        }
        int v = b64val((unsigned char)s[i]);
        if (v < 0) {
            free(b);
            return MIAW_E_INVAL;
        }
        acc = acc << 6 | (uint32_t)v;
        if ((bits += 6) >= 8) b[o++] = (uint8_t)(acc >> (bits -= 8));
    }
    if (!o) {
        free(b);
        return MIAW_E_INVAL;
    }
    *out = b;
    *len = o;
    return MIAW_OK;
}

static pf_job *job_new(pf_pics *st, miaw_req *req, const char *target, pf_pics_err_fn on_err, void *ud)
{
    pf_job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->st = st;
    j->req = req;
    j->on_err = on_err;
    j->err_ud = ud;
    snprintf(j->target, sizeof j->target, "%s", target ? target : "");
    snprintf(j->inst, sizeof j->inst, "%s", st->api->req_param(req, "instanceId"));
    j->next = st->jobs;
    st->jobs = j;
    return j;
}

int pf_pics_set(pf_pics *st, miaw_req *req, const char *target, pf_pics_err_fn on_err, void *ud)
{
    const json_t *b = st->api->req_body(req);
    const char *image = json_string_value(json_object_get(b, "image"));
    const char *url = json_string_value(json_object_get(b, "url"));
    miaw_upload up = {.struct_size = sizeof up};
    int have_file = st->api->req_upload(req, "file", &up) == MIAW_OK;
    if ((image != NULL) + (url != NULL) + have_file != 1)
        return st->api->reply_status(req, MIAW_E_INVAL, "image", "give exactly one of image (base64), url or a file part"),
               MIAW_OK;
    pf_job *j = job_new(st, req, target, on_err, ud);
    if (!j) return st->api->reply_status(req, MIAW_E_NOMEM, NULL, "out of memory"), MIAW_OK;
    int rc = MIAW_OK;
    const char *field = image ? "image" : "file";
    if (image) {
        rc = b64_decode(image, &j->input, &j->input_len);
        if (rc == MIAW_OK && j->input_len > PF_INPUT_MAX) rc = MIAW_E_TOOBIG;
    } else if (have_file) {
        rc = up.size > PF_INPUT_MAX ? MIAW_E_TOOBIG : read_file(up.path, &j->input, &j->input_len);
    } else {
        char err[256] = "";
        miaw_fetch_opts fo = {.struct_size = sizeof fo, .max_bytes = PF_INPUT_MAX, .timeout_ms = 30000};
        rc = st->api->fetch(st->self, url, &fo, on_fetched, j, &j->h_fetch, err, sizeof err);
        if (rc != MIAW_OK) {
            job_unlink_free(j);
            return st->api->reply_status(req, MIAW_E_INVAL, "url", "%s", err), MIAW_OK;
        }
        st->api->req_suspend(req, on_abort, j);
        return MIAW_ASYNC;
    }
    if (rc == MIAW_OK) rc = start_worker(j);
    if (rc != MIAW_OK) {
        job_unlink_free(j);
        if (rc == MIAW_E_TOOBIG) st->api->reply_status(req, rc, field, "the image is larger than %u bytes", PF_INPUT_MAX);
        else if (rc == MIAW_E_INVAL) st->api->reply_status(req, rc, field, "not valid base64");
        else st->api->reply_status(req, rc, NULL, "cannot read the image");
        return MIAW_OK;
    }
    st->api->req_suspend(req, on_abort, j);
    return MIAW_ASYNC;
}

int pf_pics_delete(pf_pics *st, miaw_req *req, const char *target, pf_pics_err_fn on_err, void *ud)
{
    pf_job *j = job_new(st, req, target, on_err, ud);
    if (!j) return st->api->reply_status(req, MIAW_E_NOMEM, NULL, "out of memory"), MIAW_OK;
    json_t *iq = set_iq(j);
    char err[256] = "";
    int rc = st->api->iq(st->self, j->inst, iq, 20000, on_set, j, &j->h_iq, err, sizeof err);
    json_decref(iq);
    if (rc != MIAW_OK) {
        job_unlink_free(j);
        return st->api->reply_status(req, rc, NULL, "%s", err), MIAW_OK;
    }
    st->api->req_suspend(req, on_abort, j);
    return MIAW_ASYNC;
}

const miaw_field pf_pics_body[] = {
    {.name = "image", .type = MIAW_T_STRING, .flags = MIAW_F_NONEMPTY,
     .description = "the JPEG or PNG, base64 (a data: URL works too); or use url, or a multipart file part",
     .example = "\"/9j/4AAQSkZJRgABAQ...\""},
    {.name = "url", .type = MIAW_T_STRING, .format = "uri", .description = "http(s) URL of a JPEG or PNG"},
    {0},
};

void pf_pics_fini(pf_pics *st)
{
    /* the host cancelled every call and aborted every request (on_abort freed idle jobs);
     * what is left has a worker thread: wait for it */
    while (st->jobs) {
        pf_job *j = st->jobs;
        if (j->started) pthread_join(j->th, NULL);
        job_unlink_free(j);
    }
}
