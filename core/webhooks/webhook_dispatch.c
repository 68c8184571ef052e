/* core/webhooks/webhook_dispatch.c - webhook delivery engine (see webhook_dispatch.h). Work is
 * done in ticks, at most one per loop turn (a uv_idle handle: it runs early in the next
 * turn and keeps the loop from blocking in poll meanwhile, also when the tick itself asks
 * for the next one, e.g. for a response curl read while sending). A tick writes the
 * outcomes of every attempt that finished since the last one, walks the active lanes,
 * loads heads from the outbox and counts the attempts of the ones it starts, all in ONE
 * transaction (group commit), and only after that commit hands the new requests to curl.
 * So a lane's next event is never sent before the previous one's outcome is durable (at
 * most the request in flight is sent again after a crash, in order), while the commit is
 * shared by all lanes that moved in that turn. Lanes are moved to the tail when started
 * (round robin). Easy handles are pooled (their connections live in the multi's cache
 * either way). Sockets and timeouts of the curl multi: webhook_curl.c. */
#include "webhooks/webhook_dispatch.h"

#include "base/log.h"
#include "base/metrics.h"
#include "base/util.h"
#include "webhooks/webhook_curl.h"
#include "webhooks/webhook_htab.h"
#include "webhooks/webhook_policy.h"
#include "webhooks/webhook_util.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSAMPLES 512

/* ---------------------------------------------------------------- state */
struct host { int inflight; };

struct istats {
    int inflight;
    unsigned n, pos;
    float rtt[NSAMPLES], lag[NSAMPLES]; /* ms */
};

struct inflight;
struct lane {
    char *key, *url;
    char instance[65];
    struct host *host;
    int dirty;               /* head unknown: query the outbox */
    int64_t next_at;
    miaw_wh_row row;         /* the head row while it waits (moved into inflight at start) */
    struct inflight *inf;
    struct lane *prev, *next;
};

struct inflight {
    miaw_wh_dispatch *d;
    struct lane *lane;
    CURL *easy;
    struct curl_slist *hdrs;
    miaw_wh_row row;
    uint64_t start_ns;
    int blocked;  /* a verdict of the target policy refused an address (MIAW_WH_DENIED_*) */
    /* set when the attempt finished (the request is gone; lane->inf stays f until the
     * tick has recorded the outcome, so the lane starts nothing meanwhile) */
    int done, ok, dead, status, attempt, http_status;
    int64_t next_at, now;
    double ms;
    struct inflight *next_done;
    char err[200];
    char errbuf[CURL_ERROR_SIZE];
};

struct miaw_wh_dispatch {
    uv_loop_t *loop;
    miaw_wh_store *store;
    const miaw_config *cfg;
    const miaw_wh_policy *policy;
    char *secret;
    miaw_wh_outcome_fn fn;
    void *ud;
    miaw_wh_curl *curl; /* curl multi on the loop: sockets, timeouts */
    uv_timer_t *pump_timer;
    uv_idle_t *tick;
    int tick_soon, closing;
    int inflight;
    struct inflight *done, **done_tail; /* finished attempts, outcome not written yet */
    struct inflight **started;          /* started by this tick, handed to curl after its commit */
    size_t nstarted, cap_started;
    CURL **pool;                        /* idle easy handles */
    size_t npool, cap_pool;
    miaw_wh_result *results;            /* scratch of a tick */
    size_t cap_results;
    miaw_wh_htab lanes, hosts, stats;
    int (*gate)(void *ud, const char *instance);
    void *gate_ud;
    struct lane *head, *tail; /* active lanes */
};

static void kick(miaw_wh_dispatch *d);

static void list_remove(miaw_wh_dispatch *d, struct lane *l)
{
    if (l->prev) l->prev->next = l->next;
    else d->head = l->next;
    if (l->next) l->next->prev = l->prev;
    else d->tail = l->prev;
    l->prev = l->next = NULL;
}

static void list_append(miaw_wh_dispatch *d, struct lane *l)
{
    l->prev = d->tail;
    l->next = NULL;
    if (d->tail) d->tail->next = l;
    else d->head = l;
    d->tail = l;
}

static struct istats *istats_get(miaw_wh_dispatch *d, const char *instance, int create)
{
    struct istats *s = miaw_wh_hget(&d->stats, instance);
    if (!s && create && (s = calloc(1, sizeof *s)) && miaw_wh_hput(&d->stats, instance, s) != 0) {
        free(s);
        s = NULL;
    }
    return s;
}

static struct lane *lane_get(miaw_wh_dispatch *d, const char *instance, const char *url)
{
    size_t n = strlen(instance) + strlen(url) + 2;
    char *key = malloc(n);
    if (!key) return NULL;
    snprintf(key, n, "%s\n%s", instance, url);
    struct lane *l = miaw_wh_hget(&d->lanes, key);
    if (l) {
        free(key);
        return l;
    }
    char hk[300];
    if (miaw_wh_url_hostkey(url, hk, sizeof hk) != 0) snprintf(hk, sizeof hk, "?");
    struct host *h = miaw_wh_hget(&d->hosts, hk);
    if (!h && (h = calloc(1, sizeof *h)) && miaw_wh_hput(&d->hosts, hk, h) != 0) {
        free(h);
        h = NULL;
    }
    l = calloc(1, sizeof *l);
    if (!h || !l || !(l->url = strdup(url)) || miaw_wh_hput(&d->lanes, key, l) != 0) {
        if (l) free(l->url);
        free(l);
        free(key);
        return NULL;
    }
    l->key = key;
    snprintf(l->instance, sizeof l->instance, "%s", instance);
    l->host = h;
    l->dirty = 1;
    list_append(d, l);
    return l;
}

static void lane_free(miaw_wh_dispatch *d, struct lane *l)
{
    list_remove(d, l);
    miaw_wh_row_clear(&l->row);
    miaw_wh_hdel(&d->lanes, l->key);
    free(l->key);
    free(l->url);
    free(l);
}

/* ---------------------------------------------------------------- requests */
/* the receiver's body is read and dropped: it is never stored, logged or answered (it
 * could hold a secret of whatever answered at that address) */
static size_t on_write(char *p, size_t sz, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return sz * n;
}

/* every address curl is about to connect to (after DNS, for each happy-eyeballs try)
 * goes through the target policy; a refused one never gets a socket */
static curl_socket_t on_opensocket(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct inflight *f = ud;
    uint8_t addr[16];
    int v = purpose != CURLSOCKTYPE_IPCXN || miaw_wh_addr_from_sockaddr(&a->addr, addr) != 0
                ? MIAW_WH_DENIED_LIST
                : miaw_wh_policy_check_addr(f->d->policy, addr);
    if (v != MIAW_WH_ALLOWED) {
        f->blocked = v;
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* ---------------------------------------------------------------- easy handles */
static CURL *easy_get(miaw_wh_dispatch *d)
{
    if (!d->npool) return curl_easy_init();
    CURL *e = d->pool[--d->npool];
    curl_easy_reset(e); /* keeps nothing of the last request but curl's caches */
    return e;
}

static void easy_put(miaw_wh_dispatch *d, CURL *e)
{
    if (!e) return;
    size_t cap = (size_t)d->cfg->webhook_concurrency;
    if (d->npool == d->cap_pool && d->cap_pool < cap) {
        size_t n = d->cap_pool ? d->cap_pool * 2 : 16;
        CURL **p = realloc(d->pool, (n > cap ? cap : n) * sizeof *p);
        if (p) {
            d->pool = p;
            d->cap_pool = n > cap ? cap : n;
        }
    }
    if (d->npool < d->cap_pool && !d->closing) d->pool[d->npool++] = e;
    else curl_easy_cleanup(e);
}

/* detaches a running attempt from curl and the caps (the lane keeps f) */
static void detach(miaw_wh_dispatch *d, struct inflight *f)
{
    miaw_wh_curl_remove(d->curl, f->easy);
    easy_put(d, f->easy);
    f->easy = NULL;
    curl_slist_free_all(f->hdrs);
    f->hdrs = NULL;
    d->inflight--;
    f->lane->host->inflight--;
    struct istats *s = istats_get(d, f->lane->instance, 0);
    if (s) s->inflight--;
}

/* drops an attempt (running, finished or not yet handed to curl) without recording it:
 * its row stays as the outbox has it */
static void inflight_free(miaw_wh_dispatch *d, struct inflight *f)
{
    if (!f->done) detach(d, f);
    if (f->lane && f->lane->inf == f) f->lane->inf = NULL;
    miaw_wh_row_clear(&f->row);
    free(f);
}

static struct curl_slist *hdr(struct curl_slist *l, const char *fmt, const char *v)
{
    char line[600];
    snprintf(line, sizeof line, fmt, v);
    struct curl_slist *n = curl_slist_append(l, line);
    return n ? n : l;
}

/* prepares the head row of a lane and counts its attempt in the tick's transaction; the
 * request goes to curl after the commit (d->started). 0, or -1 (the lane is marked dirty) */
static int start(miaw_wh_dispatch *d, struct lane *l)
{
    l->dirty = 1; /* the head is consumed: reload after this attempt */
    if (d->nstarted == d->cap_started) {
        size_t n = d->cap_started ? d->cap_started * 2 : 64;
        struct inflight **p = realloc(d->started, n * sizeof *p);
        if (!p) return -1;
        d->started = p;
        d->cap_started = n;
    }
    struct inflight *f = calloc(1, sizeof *f);
    if (!f) return -1;
    f->row = l->row;
    memset(&l->row, 0, sizeof l->row);
    f->d = d;
    f->lane = l;
    char ts[24], seq[24], att[16], sig[72];
    snprintf(ts, sizeof ts, "%lld", (long long)miaw_now_ms());
    snprintf(seq, sizeof seq, "%lld", (long long)f->row.seq);
    snprintf(att, sizeof att, "%d", f->row.attempts + 1);
    miaw_wh_sign(sig, d->secret, ts, f->row.body, f->row.body_len);
    struct curl_slist *h = NULL;
    h = hdr(h, "%s", "Content-Type: application/json");
    h = hdr(h, "%s", "Expect:");
    h = hdr(h, "User-Agent: miaw/%s", MIAW_VERSION);
    h = hdr(h, "X-Miaw-Instance: %s", f->row.instance);
    h = hdr(h, "X-Miaw-Event: %s", f->row.event);
    h = hdr(h, "X-Miaw-Event-Id: %s", f->row.event_id);
    h = hdr(h, "X-Miaw-Timestamp: %s", ts);
    h = hdr(h, "X-Miaw-Sequence: %s", seq);
    h = hdr(h, "X-Miaw-Attempt: %s", att);
    h = hdr(h, "X-Miaw-Signature: %s", sig);
    f->hdrs = h;
    CURL *e = f->easy = easy_get(d);
    if (!e) {
        curl_slist_free_all(h);
        miaw_wh_row_clear(&f->row);
        free(f);
        return -1;
    }
    curl_easy_setopt(e, CURLOPT_URL, f->row.url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, f->row.body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)f->row.body_len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)d->cfg->webhook_timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, d->policy->https_only ? "https" : "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROXY, ""); /* no proxy from the environment: the policy judges the receiver */
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_opensocket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, f);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, f->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, f);
    /* the attempt is counted durably before anything is sent (committed with the tick's
     * transaction, before the request is handed to curl): a delivery resent after a
     * crash carries its true attempt number */
    if (miaw_wh_store_mark_attempt(d->store, f->row.id, f->row.attempts + 1, miaw_now_ms()) != 0) {
        easy_put(d, e);
        curl_slist_free_all(h);
        miaw_wh_row_clear(&f->row);
        free(f);
        return -1;
    }
    l->inf = f;
    d->inflight++;
    l->host->inflight++;
    struct istats *s = istats_get(d, l->instance, 1);
    if (s) s->inflight++;
    d->started[d->nstarted++] = f;
    return 0;
}

/* after the tick's commit: the prepared requests go to curl (ok), or are dropped, their
 * lanes to be tried again (the attempt counts were rolled back) */
static void hand_over(miaw_wh_dispatch *d, int ok)
{
    for (size_t i = 0; i < d->nstarted; i++) {
        struct inflight *f = d->started[i];
        f->start_ns = uv_hrtime();
        if (ok && miaw_wh_curl_add(d->curl, f->easy) == 0) continue;
        struct lane *l = f->lane;
        inflight_free(d, f);
        l->dirty = 1;
    }
    d->nstarted = 0;
}

/* the outcome of a failed attempt as API clients see it: "HTTP 503", "timed out after
 * 10000 ms", "connection failed", "blocked by the webhook target policy" */
static void error_text(char *out, size_t cap, CURLcode res, long code, int blocked, int timeout_ms)
{
    if (blocked) snprintf(out, cap, "blocked by the webhook target policy");
    else if (res == CURLE_OK) snprintf(out, cap, "HTTP %ld", code);
    else if (res == CURLE_OPERATION_TIMEDOUT) snprintf(out, cap, "timed out after %d ms", timeout_ms);
    else if (res == CURLE_UNSUPPORTED_PROTOCOL) snprintf(out, cap, "blocked by the webhook target policy");
    else snprintf(out, cap, "connection failed");
}

static void schedule_tick(miaw_wh_dispatch *d);

/* an attempt finished: its outcome is decided, counted in memory and logged now, and
 * written by the next tick (the lane waits for that) */
static void finish(miaw_wh_dispatch *d, struct inflight *f, CURLcode res)
{
    long code = 0;
    curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &code);
    double ms = (double)(uv_hrtime() - f->start_ns) / 1e6;
    int64_t now = miaw_now_ms();
    int attempt = f->row.attempts + 1, ok = res == CURLE_OK && code >= 200 && code < 300;
    int dead = !ok && attempt >= miaw_wh_max_attempts(d->cfg->webhook_max_retries);
    /* what API clients see (test answer, deliveries, status) is a category; the curl
     * text, which would turn the endpoint into a port scanner, goes to the server log */
    if (!ok) error_text(f->err, sizeof f->err, res, code, f->blocked, d->cfg->webhook_timeout_ms);
    f->next_at = ok || dead ? now : now + miaw_wh_retry_delay(attempt + 1, d->cfg->webhook_retry_delay_ms,
                                                               (double)(rand() % 10000) / 10000.0);
    f->status = ok ? MIAW_WH_DELIVERED : dead ? MIAW_WH_FAILED : MIAW_WH_PENDING;
    f->ok = ok;
    f->dead = dead;
    f->attempt = attempt;
    f->http_status = (int)code;
    f->ms = ms;
    f->now = now;
    miaw_metric_add("miaw_webhook_deliveries_total", 1, "result", ok ? "delivered" : dead ? "dead" : "retry", NULL);
    miaw_metric_observe("miaw_webhook_delivery_duration_seconds", ms / 1000.0, NULL);
    if (f->blocked)
        MIAW_WARN("webhooks", "%s %s attempt %d to %s: refused, %s%s", f->row.instance, f->row.event_id, attempt,
                  f->row.url, miaw_wh_policy_reason(f->blocked), dead ? " (dead-lettered)" : "");
    else if (!ok)
        MIAW_WARN("webhooks", "%s %s attempt %d to %s: %s%s%s%s%s", f->row.instance, f->row.event_id, attempt,
                  f->row.url, f->err, res != CURLE_OK ? " (" : "",
                  res != CURLE_OK ? (f->errbuf[0] ? f->errbuf : curl_easy_strerror(res)) : "",
                  res != CURLE_OK ? ")" : "", dead ? " (dead-lettered)" : "");
    struct istats *s = istats_get(d, f->row.instance, 1);
    if (ok && s) {
        s->rtt[s->pos] = (float)ms;
        s->lag[s->pos] = (float)(now - f->row.created_at);
        s->pos = (s->pos + 1) % NSAMPLES;
        if (s->n < NSAMPLES) s->n++;
    }
    detach(d, f);
    f->done = 1;
    f->next_done = NULL;
    *d->done_tail = f;
    d->done_tail = &f->next_done;
    schedule_tick(d);
}

/* the glue's report of a finished transfer */
static void on_done(void *ud, CURL *easy, CURLcode res)
{
    struct inflight *f = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&f);
    if (f) finish(ud, f, res);
}

/* ---------------------------------------------------------------- tick */
/* writes the outcomes of the finished attempts (in the open transaction), in slices so
 * the per-instance totals stay cheap; 0 or -1 */
static int record_done(miaw_wh_dispatch *d, struct inflight *done)
{
    size_t n = 0;
    for (struct inflight *f = done; f; f = f->next_done) {
        if (n == d->cap_results) {
            size_t c = d->cap_results ? d->cap_results * 2 : 64;
            miaw_wh_result *r = realloc(d->results, c * sizeof *r);
            if (!r) return -1;
            d->results = r;
            d->cap_results = c;
        }
        d->results[n++] = (miaw_wh_result){.row = &f->row, .status = f->status, .attempts = f->attempt,
                                           .next_at = f->next_at, .http_status = f->http_status,
                                           .error = f->ok ? NULL : f->err, .latency_ms = (int64_t)f->ms};
    }
    for (size_t i = 0; i < n; i += 256)
        if (miaw_wh_store_record_many(d->store, d->results + i, n - i > 256 ? 256 : n - i, miaw_now_ms()) != 0)
            return -1;
    return 0;
}

/* one pass over the lanes present now (started lanes move to the tail), inside the
 * tick's transaction, cheapest checks first: it stops when the global cap is reached
 * and leaves lanes of a full host alone (a completion ticks again), so a tick costs
 * little with many lanes waiting. Returns the wait until the next due row (-1: none) */
static int64_t walk_lanes(miaw_wh_dispatch *d)
{
    int64_t now = miaw_now_ms(), wait = -1;
    struct lane *l = d->head, *stop = d->tail, *next;
    int cap = d->cfg->webhook_concurrency, per_host = d->cfg->webhook_per_host;
    for (; l && d->inflight < cap; l = next) {
        next = l == stop ? NULL : l->next;
        if (l->inf || l->host->inflight >= per_host) continue;
        if (!l->dirty && l->next_at > now) {
            if (wait < 0 || l->next_at - now < wait) wait = l->next_at - now;
            continue;
        }
        if (d->gate && d->gate(d->gate_ud, l->instance)) {
            wait = wait < 0 || wait > 50 ? 50 : wait; /* its old rows are being deleted */
            continue;
        }
        if (l->dirty) {
            int r = miaw_wh_store_head_row(d->store, l->instance, l->url, &l->row);
            if (r == 0) {
                lane_free(d, l);
                continue;
            }
            if (r < 0) { /* storage trouble: try again later */
                wait = wait < 0 || wait > 1000 ? 1000 : wait;
                continue;
            }
            l->dirty = 0;
            l->next_at = l->row.next_at;
            if (l->next_at > now) {
                if (wait < 0 || l->next_at - now < wait) wait = l->next_at - now;
                continue;
            }
        }
        if (start(d, l) == 0) {
            list_remove(d, l);
            list_append(d, l);
        } else if (wait < 0 || wait > 100) {
            wait = 100;
        }
    }
    return wait;
}

static void on_pump(uv_timer_t *t);

/* the group commit: outcomes, heads, attempt counts in one transaction, then the new
 * requests to curl and the outcomes to the observer */
static void tick(miaw_wh_dispatch *d)
{
    d->tick_soon = 0;
    uv_idle_stop(d->tick);
    uv_timer_stop(d->pump_timer);
    if (d->closing) return;
    struct inflight *done = d->done;
    d->done = NULL;
    d->done_tail = &d->done;
    int tx = miaw_wh_store_begin(d->store);
    int ok = record_done(d, done) == 0, walked = 0;
    for (struct inflight *f = done; ok && f; f = f->next_done) {
        f->lane->inf = NULL; /* the outcome is written: the lane may move on */
        f->lane->dirty = 1;
    }
    int64_t wait = 1000;
    if (ok) {
        wait = walk_lanes(d);
        walked = 1;
    }
    if (miaw_wh_store_end(d->store, tx, ok) != 0) {
        if (ok) MIAW_ERR("webhooks", "cannot commit the delivery outcomes; the rows stay pending and are sent again");
        ok = 0;
        wait = 1000;
    }
    size_t started = d->nstarted;
    hand_over(d, ok);
    if (!ok) /* heads read inside the rolled-back transaction may skip a row it left pending */
        for (struct lane *l = d->head; l; l = l->next)
            if (!l->inf) l->dirty = 1;
    for (struct inflight *f = done, *next; f; f = next) {
        next = f->next_done;
        if (ok && d->fn) {
            miaw_wh_outcome o = {.row = &f->row, .attempt = f->attempt, .delivered = f->ok, .dead = f->dead,
                                 .http_status = f->http_status, .error = f->ok ? NULL : f->err,
                                 .latency_ms = f->ms, .next_at = f->next_at};
            d->fn(d->ud, &o);
        }
        if (!ok && !walked) { /* not written, lanes untouched: the lane sends the same row again */
            f->lane->inf = NULL;
            f->lane->dirty = 1;
        } else if (!ok) { /* the walk may have freed the lane: find it again */
            miaw_wh_dispatch_wake(d, f->row.instance, f->row.url);
        }
        miaw_wh_row_clear(&f->row);
        free(f);
    }
    if (started && ok) miaw_wh_curl_run(d->curl); /* send them now rather than on curl's 0 ms timer next turn */
    if (wait >= 0 && !d->closing) uv_timer_start(d->pump_timer, on_pump, (uint64_t)wait, 0);
}

static void on_tick(uv_idle_t *p) { tick(p->data); }
static void on_pump(uv_timer_t *t) { tick(t->data); }

/* a tick early in the next loop turn, which does not block in poll before it (coalesces
 * everything of this turn) */
static void schedule_tick(miaw_wh_dispatch *d)
{
    if (d->tick_soon || d->closing) return;
    d->tick_soon = 1;
    uv_idle_start(d->tick, on_tick);
}

static void kick(miaw_wh_dispatch *d) { schedule_tick(d); }

/* ---------------------------------------------------------------- API */
void miaw_wh_dispatch_wake(miaw_wh_dispatch *d, const char *instance, const char *url)
{
    struct lane *l = lane_get(d, instance, url);
    if (!l) return;
    if (!l->inf) l->dirty = 1;
    kick(d);
}

void miaw_wh_dispatch_set_gate(miaw_wh_dispatch *d, int (*blocked)(void *ud, const char *instance), void *ud)
{
    d->gate = blocked;
    d->gate_ud = ud;
}

static void wake_cb(void *ud, const char *instance, const char *url) { miaw_wh_dispatch_wake(ud, instance, url); }

static void on_handle_closed(uv_handle_t *h) { free(h); }

miaw_wh_dispatch *miaw_wh_dispatch_new(uv_loop_t *loop, miaw_wh_store *store, const miaw_config *cfg,
                                       const miaw_wh_policy *policy, const char *secret, miaw_wh_outcome_fn fn,
                                       void *ud)
{
    miaw_wh_dispatch *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->loop = loop;
    d->store = store;
    d->cfg = cfg;
    d->policy = policy;
    d->secret = strdup(secret ? secret : "");
    d->fn = fn;
    d->ud = ud;
    d->curl = miaw_wh_curl_new(loop, (long)cfg->webhook_concurrency, on_done, d);
    d->pump_timer = malloc(sizeof *d->pump_timer);
    d->tick = malloc(sizeof *d->tick);
    d->done_tail = &d->done;
    if (!d->secret || !d->curl || !d->pump_timer || !d->tick) {
        miaw_wh_curl_free(d->curl);
        free(d->pump_timer);
        free(d->tick);
        free(d->secret);
        free(d);
        return NULL;
    }
    uv_timer_init(loop, d->pump_timer);
    uv_idle_init(loop, d->tick);
    d->pump_timer->data = d->tick->data = d;
    miaw_wh_store_lanes(store, wake_cb, d);
    return d;
}

static void free_lane_val(void *v)
{
    struct lane *l = v;
    miaw_wh_row_clear(&l->row);
    free(l->key);
    free(l->url);
    free(l);
}

void miaw_wh_dispatch_free(miaw_wh_dispatch *d)
{
    if (!d) return;
    /* outcomes already known are written (so a stop does not send them again) */
    if (d->done && record_done(d, d->done) != 0)
        MIAW_WARN("webhooks", "cannot record the last delivery outcomes; those events will be sent again");
    d->closing = 1;
    while (d->done) {
        struct inflight *f = d->done;
        d->done = f->next_done;
        inflight_free(d, f);
    }
    for (struct lane *l = d->head; l; l = l->next)
        if (l->inf) inflight_free(d, l->inf);
    for (size_t i = 0; i < d->npool; i++) curl_easy_cleanup(d->pool[i]);
    miaw_wh_curl_free(d->curl); /* closes the cached connections and their poll handles */
    uv_close((uv_handle_t *)d->pump_timer, on_handle_closed);
    uv_close((uv_handle_t *)d->tick, on_handle_closed);
    miaw_wh_hfree(&d->lanes, free_lane_val);
    miaw_wh_hfree(&d->hosts, free);
    miaw_wh_hfree(&d->stats, free);
    free(d->pool);
    free(d->started);
    free(d->results);
    free(d->secret);
    free(d);
}

void miaw_wh_dispatch_drop_instance(miaw_wh_dispatch *d, const char *instance)
{
    /* finished attempts of the instance are not written: its rows are being deleted */
    for (struct inflight **pp = &d->done; *pp;) {
        struct inflight *f = *pp;
        if (strcmp(f->lane->instance, instance) != 0) {
            pp = &f->next_done;
            continue;
        }
        *pp = f->next_done;
        inflight_free(d, f);
    }
    d->done_tail = &d->done;
    while (*d->done_tail) d->done_tail = &(*d->done_tail)->next_done;
    struct lane *l = d->head, *next;
    for (; l; l = next) {
        next = l->next;
        if (strcmp(l->instance, instance) != 0) continue;
        if (l->inf) inflight_free(d, l->inf);
        lane_free(d, l);
    }
    struct istats *s = istats_get(d, instance, 0);
    if (s) {
        miaw_wh_hdel(&d->stats, instance);
        free(s);
    }
    kick(d);
}

json_t *miaw_wh_dispatch_stats(miaw_wh_dispatch *d, const char *instance)
{
    struct istats *s = istats_get(d, instance, 0);
    return json_pack("{s:i,s:o,s:o}", "inFlight", s ? s->inflight : 0, "latencyUs",
                     miaw_wh_percentiles(s ? s->rtt : NULL, s ? s->n : 0, 1000.0), "lagMs",
                     miaw_wh_percentiles(s ? s->lag : NULL, s ? s->n : 0, 1.0));
}

int miaw_wh_dispatch_inflight(const miaw_wh_dispatch *d) { return d->inflight; }
