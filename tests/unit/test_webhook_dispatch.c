/* tests/unit/test_webhook_dispatch.c - the dispatcher's group commit, against a small HTTP
 * receiver on 127.0.0.1 in a thread of its own (so a response can arrive while the
 * dispatcher is still in its tick, as with a real receiver; the test loop is only stopped
 * by the receiver's count or the deadline, never woken by a timer of its own): every row of every lane delivered once, in
 * order per instance, at most one commit per loop turn with outcomes (not one per
 * outcome plus one per start), the delivered totals summed per instance; a commit that
 * fails (vetoed by a commit hook) leaves the outcomes pending and the lanes send the
 * same rows again before anything later (at least once, in order). Also the outbox's
 * batched writes: sequence numbers cached per instance, written once per transaction,
 * forgotten on rollback; outcomes of several instances recorded in one call. */
#include "harness.h"

#include "base/config.h"
#include "base/util.h"
#include "webhooks/webhook_dispatch.h"
#include "webhooks/webhook_policy.h"
#include "webhooks/webhook_store.h"
#include "webhooks/webhook_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LANES 8
#define ROWS 25
#define MAXREQ 1024

/* ------------------------------------------------------------ receiver */
struct arrival { int lane; int64_t seq; };
struct rcv {
    uv_loop_t loop; /* the receiver thread's */
    uv_thread_t th;
    uv_async_t quit;  /* on loop: ends the thread */
    uv_tcp_t srv;
    int port;
    uv_mutex_t mu;    /* got, n, want */
    struct arrival got[MAXREQ];
    int n, want;
    int close_every; /* > 0: the receiver ends a connection after that many answers, unasked */
    int ended;       /* connections it ended so */
    uv_async_t *arrived; /* on the test's loop: n reached want */
};
struct rconn { uv_tcp_t h; struct rcv *r; char buf[65536]; size_t len; int served, closing; };

static void on_alloc(uv_handle_t *h, size_t want, uv_buf_t *b)
{
    (void)want;
    struct rconn *c = h->data;
    *b = uv_buf_init(c->buf + c->len, (unsigned)(sizeof c->buf - c->len));
}

static void on_closed_free(uv_handle_t *h) { free(h->data); }

static void on_written(uv_write_t *w, int st)
{
    (void)st;
    free(w);
}

static const char *hval(const char *head, size_t n, const char *name)
{
    size_t l = strlen(name);
    for (const char *p = head; p && p < head + n; p = memchr(p, '\n', (size_t)(head + n - p))) {
        if (*p == '\n') p++;
        if (strncasecmp(p, name, l) == 0 && p[l] == ':') return p + l + 1;
    }
    return NULL;
}

static void on_shut(uv_shutdown_t *sd, int st)
{
    (void)st;
    uv_close((uv_handle_t *)sd->handle, on_closed_free);
    free(sd);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    (void)b;
    struct rconn *c = s->data;
    if (nread < 0) {
        if (!c->closing) uv_close((uv_handle_t *)s, on_closed_free);
        c->closing = 1;
        return;
    }
    c->len += (size_t)nread;
    for (;;) {
        char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (!end) return;
        size_t hl = (size_t)(end - c->buf) + 4;
        const char *cl = hval(c->buf, hl, "Content-Length"), *inst = hval(c->buf, hl, "X-Miaw-Instance"),
                   *seq = hval(c->buf, hl, "X-Miaw-Sequence");
        size_t blen = cl ? strtoul(cl, NULL, 10) : 0;
        if (c->len < hl + blen) return;
        if (c->closing) return;
        uv_mutex_lock(&c->r->mu);
        int close_every = c->r->close_every;
        if (c->r->n < MAXREQ && inst && seq) {
            while (*inst == ' ') inst++;
            c->r->got[c->r->n].lane = atoi(inst + 1); /* "i<k>" */
            c->r->got[c->r->n].seq = strtoll(seq, NULL, 10);
            c->r->n++;
            if (c->r->n >= c->r->want) uv_async_send(c->r->arrived);
        }
        uv_mutex_unlock(&c->r->mu);
        memmove(c->buf, c->buf + hl + blen, c->len - hl - blen);
        c->len -= hl + blen;
        static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK";
        uv_write_t *w = malloc(sizeof *w);
        uv_buf_t ob = uv_buf_init((char *)ok, sizeof ok - 1);
        uv_write(w, s, &ob, 1, on_written);
        if (close_every && ++c->served % close_every == 0) { /* after the answer: the client's
                                                              * connection is idle, parked */
            uv_shutdown_t *sd = malloc(sizeof *sd);
            c->closing = 1;
            uv_mutex_lock(&c->r->mu);
            c->r->ended++;
            uv_mutex_unlock(&c->r->mu);
            uv_shutdown(sd, s, on_shut);
            return;
        }
    }
}

static void on_conn(uv_stream_t *srv, int st)
{
    if (st < 0) return;
    struct rconn *c = calloc(1, sizeof *c);
    c->r = srv->data;
    uv_tcp_init(srv->loop, &c->h);
    c->h.data = c;
    if (uv_accept(srv, (uv_stream_t *)&c->h) == 0) uv_read_start((uv_stream_t *)&c->h, on_alloc, on_read);
    else uv_close((uv_handle_t *)&c->h, on_closed_free);
}

static void close_all(uv_handle_t *h, void *ud)
{
    (void)ud;
    if (uv_is_closing(h)) return;
    /* a receiver connection is the first member of its struct rconn, its data */
    uv_close(h, h->type == UV_TCP && h->data == (void *)h ? on_closed_free : NULL);
}

static void on_quit(uv_async_t *a)
{
    struct rcv *r = a->data;
    uv_close((uv_handle_t *)&r->srv, NULL); /* (its data is the rcv: not an rconn) */
    uv_walk(&r->loop, close_all, NULL);
}

static void rcv_thread(void *arg)
{
    struct rcv *r = arg;
    uv_run(&r->loop, UV_RUN_DEFAULT);
}

static void rcv_start(struct rcv *r, uv_async_t *arrived)
{
    memset(r, 0, sizeof *r);
    r->arrived = arrived;
    r->want = MAXREQ + 1;
    uv_mutex_init(&r->mu);
    uv_loop_init(&r->loop);
    uv_async_init(&r->loop, &r->quit, on_quit);
    r->quit.data = r;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_init(&r->loop, &r->srv);
    r->srv.data = r;
    CU_ASSERT_EQUAL_FATAL(uv_tcp_bind(&r->srv, (const struct sockaddr *)&a, 0), 0);
    CU_ASSERT_EQUAL_FATAL(uv_listen((uv_stream_t *)&r->srv, 64, on_conn), 0);
    int al = sizeof a;
    uv_tcp_getsockname(&r->srv, (struct sockaddr *)&a, &al);
    r->port = ntohs(a.sin_port);
    CU_ASSERT_EQUAL_FATAL(uv_thread_create(&r->th, rcv_thread, r), 0);
}

static void rcv_stop(struct rcv *r)
{
    uv_async_send(&r->quit);
    uv_thread_join(&r->th);
    CU_ASSERT_EQUAL(uv_loop_close(&r->loop), 0);
    uv_mutex_destroy(&r->mu);
}

static int rcv_count(struct rcv *r)
{
    uv_mutex_lock(&r->mu);
    int n = r->n;
    uv_mutex_unlock(&r->mu);
    return n;
}

/* ------------------------------------------------------------ fixture */
struct fix {
    uv_loop_t loop;
    sqlite3 *db;
    miaw_wh_store *st;
    miaw_config cfg;
    miaw_wh_policy pol;
    struct rcv r;
    char url[64];
    int commits, veto_at, vetoed; /* veto_at: the commit number (1-based) turned into a rollback */
    uv_async_t arrived;
    uv_timer_t deadline;
};

static int on_commit(void *ud)
{
    struct fix *f = ud;
    f->commits++;
    if (f->veto_at && f->commits == f->veto_at) {
        f->vetoed = 1;
        return 1;
    }
    return 0;
}

static void on_arrived(uv_async_t *a)
{
    struct fix *f = a->data;
    uv_mutex_lock(&f->r.mu);
    if (f->r.n >= f->r.want) uv_stop(&f->loop);
    uv_mutex_unlock(&f->r.mu);
}

static void set_want(struct fix *f, int want)
{
    uv_mutex_lock(&f->r.mu);
    f->r.want = want;
    uv_mutex_unlock(&f->r.mu);
}

static void on_deadline(uv_timer_t *t) { uv_stop(t->loop); }

static void fix_open(struct fix *f)
{
    memset(f, 0, sizeof *f);
    char err[200];
    uv_loop_init(&f->loop);
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(":memory:", &f->db), SQLITE_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f->st = miaw_wh_store_open(f->db));
    CU_ASSERT_EQUAL_FATAL(miaw_config_load(&f->cfg, NULL, err, sizeof err), 0);
    f->cfg.webhook_block_private = 0; /* the receiver is on loopback */
    f->cfg.webhook_retry_delay_ms = 10;
    CU_ASSERT_EQUAL_FATAL(miaw_wh_policy_init(&f->pol, &f->cfg, err, sizeof err), 0);
    uv_async_init(&f->loop, &f->arrived, on_arrived);
    f->arrived.data = f;
    /* initialised once: fix_run runs more than once per test, and a second uv_timer_init
     * of a live handle would queue it twice in the loop */
    uv_timer_init(&f->loop, &f->deadline);
    rcv_start(&f->r, &f->arrived);
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d/hook", f->r.port);
    /* LANES instances x ROWS events, interleaved as a busy server would store them */
    int opened = miaw_wh_store_begin(f->st);
    for (int k = 0; k < ROWS; k++)
        for (int i = 0; i < LANES; i++) {
            miaw_wh_row r = {0};
            miaw_wh_event_id(r.event_id, 1000);
            snprintf(r.instance, sizeof r.instance, "i%d", i);
            snprintf(r.event, sizeof r.event, "test");
            r.seq = miaw_wh_store_next_seq(f->st, r.instance);
            r.url = f->url;
            r.body = "{\"event\":\"test\"}";
            r.body_len = strlen(r.body);
            r.created_at = r.next_at = miaw_now_ms();
            CU_ASSERT_EQUAL(miaw_wh_store_insert(f->st, &r), 0);
        }
    CU_ASSERT_EQUAL(miaw_wh_store_end(f->st, opened, 1), 0);
    sqlite3_commit_hook(f->db, on_commit, f);
    set_want(f, LANES * ROWS);
}

static void fix_run(struct fix *f, miaw_wh_dispatch *d, uint64_t max_ms)
{
    (void)d;
    uv_timer_start(&f->deadline, on_deadline, max_ms, 0);
    if (rcv_count(&f->r) < f->r.want) uv_run(&f->loop, UV_RUN_DEFAULT);
    uv_timer_stop(&f->deadline);
}

static void fix_close(struct fix *f, miaw_wh_dispatch *d)
{
    sqlite3_commit_hook(f->db, NULL, NULL);
    miaw_wh_dispatch_free(d);
    rcv_stop(&f->r);
    uv_walk(&f->loop, close_all, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&f->loop);
    if (rc != 0) uv_print_all_handles(&f->loop, stderr); /* what the dispatcher left open */
    CU_ASSERT_EQUAL(rc, 0);
    miaw_wh_policy_free(&f->pol);
    miaw_config_free(&f->cfg);
    miaw_wh_store_close(f->st);
    sqlite3_close(f->db);
}

static int64_t q1(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* runs the loop in slices of 10 ms (a timer wakes the poll: an idle dispatcher has
 * nothing that would) until every row is delivered, at most 2 s */
static void settle(struct fix *f)
{
    for (int i = 0; i < 200 && q1(f->db, "SELECT COUNT(*) FROM webhook_outbox WHERE status<>1") != 0; i++) {
        uv_timer_start(&f->deadline, on_deadline, 10, 0);
        uv_run(&f->loop, UV_RUN_DEFAULT);
    }
    uv_timer_stop(&f->deadline);
}

/* per lane: distinct sequence numbers in first-arrival order must be 1..ROWS, and the
 * raw arrivals never go back (a resend repeats the last one, never skips ahead);
 * returns the number of repeated deliveries */
static int check_order(const struct fix *f)
{
    int dups = 0;
    uv_mutex_lock((uv_mutex_t *)&f->r.mu);
    for (int i = 0; i < LANES; i++) {
        int64_t last = 0, next = 1;
        for (int k = 0; k < f->r.n; k++) {
            if (f->r.got[k].lane != i) continue;
            int64_t s = f->r.got[k].seq;
            CU_ASSERT(s >= last);
            if (s == next) next++;
            else if (s <= last) dups++;
            else CU_FAIL("a sequence number was skipped");
            last = s;
        }
        CU_ASSERT_EQUAL(next, ROWS + 1);
    }
    uv_mutex_unlock((uv_mutex_t *)&f->r.mu);
    return dups;
}

/* ------------------------------------------------------------ tests */
static void test_group_commit(void)
{
    struct fix f;
    fix_open(&f);
    miaw_wh_dispatch *d = miaw_wh_dispatch_new(&f.loop, f.st, &f.cfg, &f.pol, "s", NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    fix_run(&f, d, 20000);
    CU_ASSERT_EQUAL(rcv_count(&f.r), LANES * ROWS);
    CU_ASSERT_EQUAL(check_order(&f), 0);
    /* the last outcomes are written by the tick after the last arrival */
    settle(&f);
    CU_ASSERT_EQUAL(q1(f.db, "SELECT COUNT(*) FROM webhook_outbox WHERE status=1 AND attempts=1"), LANES * ROWS);
    CU_ASSERT_EQUAL(q1(f.db, "SELECT SUM(delivered) FROM webhook_stats"), LANES * ROWS);
    CU_ASSERT_EQUAL(q1(f.db, "SELECT MIN(delivered) FROM webhook_stats"), ROWS);
    /* one commit per loop turn that had outcomes, plus the first start: never more than
     * one per delivery (a commit per outcome and one per start would be about twice) */
    CU_ASSERT(f.commits >= 1);
    CU_ASSERT(f.commits <= LANES * ROWS + 1);
    fprintf(stderr, "  (%d deliveries, %d commits)\n", LANES * ROWS, f.commits);
    fix_close(&f, d);
}

static void test_failed_commit_resends_in_order(void)
{
    struct fix f;
    fix_open(&f);
    f.veto_at = 4; /* a tick with outcomes (the first commit only starts lanes) */
    miaw_wh_dispatch *d = miaw_wh_dispatch_new(&f.loop, f.st, &f.cfg, &f.pol, "s", NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    fix_run(&f, d, 20000);
    /* the resent rows make the last ones later than the count: every row delivered (a
     * row is marked after the receiver has counted it) */
    settle(&f);
    CU_ASSERT(f.vetoed);
    int dups = check_order(&f);
    CU_ASSERT(dups >= 1);      /* the outcomes of the vetoed commit were not kept: sent again */
    CU_ASSERT(dups <= LANES);  /* at most the row each lane had in flight */
    CU_ASSERT_EQUAL(q1(f.db, "SELECT COUNT(*) FROM webhook_outbox WHERE status=1"), LANES * ROWS);
    fix_close(&f, d);
}

/* a wake-up asked for while the dispatcher is in its tick (here: from the outcome
 * observer, called by the tick; in the server also a response curl reads while the tick
 * sends) must be served without anything else waking the loop: it was queued for a
 * turn that only came when the poll returned, which with an idle loop was never */
struct late {
    struct fix *f;
    miaw_wh_dispatch *d;
    int outcomes, woke;
    uv_prepare_t probe; /* runs after the dispatcher's tick in the same turn */
    int timeout_after;  /* the loop's poll timeout right after the tick that woke */
};

static void on_probe(uv_prepare_t *p)
{
    struct late *lt = p->data;
    if (!lt->woke || lt->timeout_after != -2) return;
    lt->timeout_after = uv_backend_timeout(p->loop);
}

static void on_outcome_wake(void *ud, const miaw_wh_outcome *o)
{
    struct late *lt = ud;
    if (!o->delivered || ++lt->outcomes != LANES * ROWS) return;
    miaw_wh_row r = {0};
    miaw_wh_event_id(r.event_id, 2000);
    snprintf(r.instance, sizeof r.instance, "i%d", LANES); /* a new lane */
    snprintf(r.event, sizeof r.event, "test");
    r.seq = miaw_wh_store_next_seq(lt->f->st, r.instance);
    r.url = lt->f->url;
    r.body = "{\"event\":\"late\"}";
    r.body_len = strlen(r.body);
    r.created_at = r.next_at = miaw_now_ms();
    CU_ASSERT_EQUAL(miaw_wh_store_insert(lt->f->st, &r), 0);
    r.url = r.body = NULL; /* borrowed */
    miaw_wh_dispatch_wake(lt->d, r.instance, lt->f->url);
    lt->woke = 1;
}

static void test_wake_during_tick(void)
{
    struct fix f;
    fix_open(&f);
    struct late lt = {.f = &f, .timeout_after = -2};
    uv_prepare_init(&f.loop, &lt.probe);
    lt.probe.data = &lt;
    uv_prepare_start(&lt.probe, on_probe);
    miaw_wh_dispatch *d = lt.d = miaw_wh_dispatch_new(&f.loop, f.st, &f.cfg, &f.pol, "s", on_outcome_wake, &lt);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    set_want(&f, LANES * ROWS + 1);
    fix_run(&f, d, 5000);
    CU_ASSERT(lt.woke);
    CU_ASSERT_EQUAL(lt.timeout_after, 0); /* the loop does not block before the asked-for tick */
    CU_ASSERT_EQUAL(rcv_count(&f.r), LANES * ROWS + 1);
    fix_close(&f, d);
}

/* the outbox indexes only the rows not delivered yet: a store opened on a database of an
 * older version drops the index over every status, the lane's head query uses the
 * partial one, and a delivered row leaves it */
static void test_open_rows_index(void)
{
    sqlite3 *db;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(":memory:", &db), SQLITE_OK);
    sqlite3_exec(db,
                 "CREATE TABLE webhook_outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, "
                 "instance TEXT NOT NULL, seq INTEGER NOT NULL, event TEXT NOT NULL, url TEXT NOT NULL, body TEXT NOT "
                 "NULL, created_at INTEGER NOT NULL, status INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL "
                 "DEFAULT 0, next_at INTEGER NOT NULL, last_status INTEGER, last_error TEXT, updated_at INTEGER, "
                 "latency_ms INTEGER, UNIQUE(event_id, url));"
                 "CREATE INDEX webhook_outbox_lane ON webhook_outbox(instance, status, url, id);",
                 NULL, NULL, NULL);
    miaw_wh_store *st = miaw_wh_store_open(db);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    CU_ASSERT_EQUAL(q1(db, "SELECT COUNT(*) FROM sqlite_master WHERE name='webhook_outbox_lane'"), 0);
    CU_ASSERT_EQUAL(q1(db, "SELECT COUNT(*) FROM sqlite_master WHERE name='webhook_outbox_open'"), 1);
    sqlite3_stmt *ep;
    CU_ASSERT_EQUAL_FATAL(sqlite3_prepare_v2(db,
                                             "EXPLAIN QUERY PLAN SELECT id FROM webhook_outbox WHERE instance='a' AND "
                                             "status=0 AND status<>1 AND url='u' ORDER BY id LIMIT 1",
                                             -1, &ep, NULL),
                          SQLITE_OK);
    int uses = 0;
    while (sqlite3_step(ep) == SQLITE_ROW)
        if (strstr((const char *)sqlite3_column_text(ep, 3), "webhook_outbox_open")) uses = 1;
    sqlite3_finalize(ep);
    CU_ASSERT(uses);
    miaw_wh_row r = {0};
    miaw_wh_event_id(r.event_id, 1000);
    snprintf(r.instance, sizeof r.instance, "a");
    snprintf(r.event, sizeof r.event, "test");
    r.seq = 1;
    r.url = "http://h/1";
    r.body = "{}";
    r.body_len = 2;
    CU_ASSERT_EQUAL(miaw_wh_store_insert(st, &r), 0);
    const char *in_index = "SELECT COUNT(*) FROM webhook_outbox INDEXED BY webhook_outbox_open WHERE status<>1";
    CU_ASSERT_EQUAL(q1(db, in_index), 1);
    miaw_wh_result v = {.row = &r, .status = MIAW_WH_DELIVERED, .attempts = 1, .http_status = 200};
    CU_ASSERT_EQUAL(miaw_wh_store_record_many(st, &v, 1, 5000), 0);
    CU_ASSERT_EQUAL(q1(db, in_index), 0);
    CU_ASSERT_EQUAL(q1(db, "SELECT COUNT(*) FROM webhook_outbox WHERE status=1"), 1);
    r.url = r.body = NULL;
    miaw_wh_store_close(st);
    sqlite3_close(db);
}

/* the receiver ends idle keep-alive connections unasked (after every 3rd answer): the
 * socket of a connection parked in curl's cache wakes up readable; the dispatcher stops
 * watching it (no busy loop), curl finds it dead on reuse and connects anew; every row is
 * delivered, in order */
static void test_receiver_ends_idle_connections(void)
{
    struct fix f;
    fix_open(&f);
    uv_mutex_lock(&f.r.mu);
    f.r.close_every = 3;
    uv_mutex_unlock(&f.r.mu);
    miaw_wh_dispatch *d = miaw_wh_dispatch_new(&f.loop, f.st, &f.cfg, &f.pol, "s", NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    fix_run(&f, d, 20000);
    settle(&f);
    CU_ASSERT_EQUAL(q1(f.db, "SELECT COUNT(*) FROM webhook_outbox WHERE status=1"), LANES * ROWS);
    CU_ASSERT_EQUAL(check_order(&f), 0);
    uv_mutex_lock(&f.r.mu);
    int ended = f.r.ended;
    uv_mutex_unlock(&f.r.mu);
    CU_ASSERT(ended >= (LANES * ROWS) / 3 - LANES);
    fix_close(&f, d);
}

static void test_seq_cache(void)
{
    sqlite3 *db;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(":memory:", &db), SQLITE_OK);
    miaw_wh_store *st = miaw_wh_store_open(db);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    /* outside a transaction of the store: written at once */
    CU_ASSERT_EQUAL(miaw_wh_store_next_seq(st, "a"), 1);
    CU_ASSERT_EQUAL(q1(db, "SELECT last_seq FROM webhook_stats WHERE instance='a'"), 1);
    /* inside one: written once, before its COMMIT */
    int opened = miaw_wh_store_begin(st);
    CU_ASSERT_EQUAL(opened, 1);
    CU_ASSERT_EQUAL(miaw_wh_store_next_seq(st, "a"), 2);
    CU_ASSERT_EQUAL(miaw_wh_store_next_seq(st, "b"), 1);
    CU_ASSERT_EQUAL(miaw_wh_store_next_seq(st, "a"), 3);
    CU_ASSERT_EQUAL(q1(db, "SELECT last_seq FROM webhook_stats WHERE instance='a'"), 1); /* not yet */
    CU_ASSERT_EQUAL(miaw_wh_store_end(st, opened, 1), 0);
    CU_ASSERT_EQUAL(q1(db, "SELECT last_seq FROM webhook_stats WHERE instance='a'"), 3);
    CU_ASSERT_EQUAL(q1(db, "SELECT last_seq FROM webhook_stats WHERE instance='b'"), 1);
    /* a rolled-back transaction gives its numbers back: the next is 4 again, not 5 */
    opened = miaw_wh_store_begin(st);
    CU_ASSERT_EQUAL(miaw_wh_store_next_seq(st, "a"), 4);
    CU_ASSERT_EQUAL(miaw_wh_store_end(st, opened, 0), -1);
    CU_ASSERT_EQUAL(q1(db, "SELECT last_seq FROM webhook_stats WHERE instance='a'"), 3);
    CU_ASSERT_EQUAL(miaw_wh_store_next_seq(st, "a"), 4);
    /* a deleted instance starts again at 1 */
    CU_ASSERT_EQUAL(miaw_wh_store_drop_stats(st, "a"), 0);
    CU_ASSERT_EQUAL(miaw_wh_store_next_seq(st, "a"), 1);
    /* a transaction opened by someone else: written at once too */
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    CU_ASSERT_EQUAL(miaw_wh_store_next_seq(st, "b"), 2);
    CU_ASSERT_EQUAL(q1(db, "SELECT last_seq FROM webhook_stats WHERE instance='b'"), 2);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    miaw_wh_store_close(st);
    sqlite3_close(db);
}

static void test_record_many(void)
{
    sqlite3 *db;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(":memory:", &db), SQLITE_OK);
    miaw_wh_store *st = miaw_wh_store_open(db);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    miaw_wh_row r[4] = {0};
    const char *inst[4] = {"a", "b", "a", "a"};
    for (int i = 0; i < 4; i++) {
        miaw_wh_event_id(r[i].event_id, 1000 + i);
        snprintf(r[i].instance, sizeof r[i].instance, "%s", inst[i]);
        snprintf(r[i].event, sizeof r[i].event, "test");
        r[i].seq = miaw_wh_store_next_seq(st, inst[i]);
        r[i].url = "http://h/1";
        r[i].body = "{}";
        r[i].body_len = 2;
        CU_ASSERT_EQUAL(miaw_wh_store_insert(st, &r[i]), 0);
    }
    miaw_wh_result v[4] = {
        {.row = &r[0], .status = MIAW_WH_DELIVERED, .attempts = 1, .http_status = 200},
        {.row = &r[1], .status = MIAW_WH_FAILED, .attempts = 5, .http_status = 500, .error = "HTTP 500"},
        {.row = &r[2], .status = MIAW_WH_PENDING, .attempts = 1, .next_at = 9000, .error = "connection failed"},
        {.row = &r[3], .status = MIAW_WH_DELIVERED, .attempts = 2, .http_status = 204},
    };
    CU_ASSERT_EQUAL(miaw_wh_store_record_many(st, v, 4, 5000), 0);
    CU_ASSERT_EQUAL(q1(db, "SELECT delivered FROM webhook_stats WHERE instance='a'"), 2);
    CU_ASSERT_EQUAL(q1(db, "SELECT failed FROM webhook_stats WHERE instance='a'"), 0);
    CU_ASSERT_EQUAL(q1(db, "SELECT failed FROM webhook_stats WHERE instance='b'"), 1);
    CU_ASSERT_EQUAL(q1(db, "SELECT delivered FROM webhook_stats WHERE instance='b'"), 0);
    CU_ASSERT_EQUAL(q1(db, "SELECT COUNT(*) FROM webhook_outbox WHERE status=1"), 2);
    CU_ASSERT_EQUAL(q1(db, "SELECT next_at FROM webhook_outbox WHERE status=0"), 9000);
    CU_ASSERT_EQUAL(q1(db, "SELECT COUNT(*) FROM webhook_stats WHERE last_error='connection failed'"), 1);
    for (int i = 0; i < 4; i++) r[i].url = r[i].body = NULL; /* static strings */
    miaw_wh_store_close(st);
    sqlite3_close(db);
}

MIAW_TESTS("webhook_dispatch", MIAW_T(test_group_commit), MIAW_T(test_failed_commit_resends_in_order),
           MIAW_T(test_wake_during_tick), MIAW_T(test_open_rows_index), MIAW_T(test_receiver_ends_idle_connections),
           MIAW_T(test_seq_cache), MIAW_T(test_record_many))
