/* tests/unit/test_base_logbuf.c - the buffered mode of core/base/log.c (the access log of
 * a busy loop): lines wait for miaw_log_flush, all of them come out in order, warnings and
 * other threads' lines flush first, a full buffer flushes itself, turning the mode off or
 * exiting flushes, writes to a pipe are whole lines of at most PIPE_BUF bytes, the cached
 * timestamp is the current time, and concurrent loggers lose or mix no line. */
/* memfd_create: _GNU_SOURCE comes from the build */
#include "harness.h"

#include "base/log.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* an anonymous regular file */
static int tmp_fd(void)
{
    int fd = memfd_create("miaw-logbuf", 0);
    CU_ASSERT_FATAL(fd >= 0);
    return fd;
}

/* what fd (a file) holds, NUL-terminated (malloc'd) */
static char *slurp(int fd, size_t *len)
{
    off_t end = lseek(fd, 0, SEEK_END);
    char *s = malloc((size_t)end + 1);
    CU_ASSERT_FATAL(s != NULL);
    ssize_t n = pread(fd, s, (size_t)end, 0);
    s[n > 0 ? n : 0] = 0;
    if (len) *len = n > 0 ? (size_t)n : 0;
    return s;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static void setup(int fd, size_t cap)
{
    miaw_log_set_level(MIAW_LVL_DEBUG);
    miaw_log_set_json(0);
    miaw_log_set_fd(fd);
    CU_ASSERT_EQUAL_FATAL(miaw_log_buffer(cap), 0);
}

static void teardown(void)
{
    CU_ASSERT_EQUAL(miaw_log_buffer(0), 0);
    miaw_log_set_fd(-1);
    miaw_log_set_level(MIAW_LVL_INFO);
}

static void test_held_until_flush_in_order(void)
{
    int fd = tmp_fd();
    setup(fd, 64 << 10);
    for (int i = 0; i < 100; i++) miaw_log(MIAW_LVL_INFO, "http", "GET /x/%d 200 0.050ms id=r%d", i, i);
    CU_ASSERT(miaw_log_buffered() > 0);
    char *s = slurp(fd, NULL);
    CU_ASSERT_STRING_EQUAL(s, ""); /* nothing written yet: one write per request is what this avoids */
    free(s);
    miaw_log_flush();
    CU_ASSERT_EQUAL(miaw_log_buffered(), 0);
    s = slurp(fd, NULL);
    CU_ASSERT_EQUAL(count_lines(s), 100);
    const char *p = s;
    for (int i = 0; i < 100 && p; i++) {
        char want[64];
        snprintf(want, sizeof want, " info  [http] GET /x/%d 200 0.050ms id=r%d\n", i, i);
        const char *hit = strstr(p, want);
        CU_ASSERT_PTR_NOT_NULL(hit);
        p = hit ? strchr(hit, '\n') + 1 : NULL; /* the next one comes after it */
    }
    free(s);
    teardown();
    close(fd);
}

static void test_warning_flushes_first(void)
{
    int fd = tmp_fd();
    setup(fd, 64 << 10);
    miaw_log(MIAW_LVL_INFO, "http", "first");
    miaw_log(MIAW_LVL_DEBUG, "http", "second");
    miaw_log(MIAW_LVL_WARN, "http", "third");
    CU_ASSERT_EQUAL(miaw_log_buffered(), 0); /* no flush called: the warning wrote everything */
    char *s = slurp(fd, NULL);
    char *a = strstr(s, "] first\n"), *b = strstr(s, "] second\n"), *c = strstr(s, "warn  [http] third\n");
    CU_ASSERT(a && b && c && a < b && b < c);
    free(s);
    miaw_log(MIAW_LVL_INFO, "http", "fourth");
    miaw_log(MIAW_LVL_ERROR, "http", "fifth");
    s = slurp(fd, NULL);
    CU_ASSERT_EQUAL(count_lines(s), 5);
    CU_ASSERT(strstr(s, "] fourth\n") < strstr(s, "] fifth\n"));
    free(s);
    /* a message as it is: no format, escaped all the same, buffered like the rest */
    miaw_log_str(MIAW_LVL_INFO, "http", "GET /a%d\nb 200");
    CU_ASSERT(miaw_log_buffered() > 0);
    miaw_log_flush();
    s = slurp(fd, NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, " info  [http] GET /a%d\\x0ab 200\n"));
    CU_ASSERT_EQUAL(count_lines(s), 6);
    free(s);
    /* below the level: not even buffered */
    miaw_log_set_level(MIAW_LVL_INFO);
    miaw_log(MIAW_LVL_DEBUG, "http", "hidden");
    CU_ASSERT_EQUAL(miaw_log_buffered(), 0);
    teardown();
    close(fd);
}

static void test_full_buffer_and_long_lines(void)
{
    int fd = tmp_fd();
    setup(fd, 1); /* raised to one longest line */
    char msg[301];
    memset(msg, 'm', 300);
    msg[300] = 0;
    for (int i = 0; i < 200; i++) miaw_log(MIAW_LVL_INFO, "http", "%04d %s", i, msg);
    CU_ASSERT(miaw_log_buffered() <= 4400);
    /* a message longer than any line is cut and still one line */
    static char big[3000];
    memset(big, 'b', sizeof big - 1);
    miaw_log(MIAW_LVL_INFO, "http", "%s", big);
    miaw_log(MIAW_LVL_INFO, "http", "after");
    miaw_log_flush();
    size_t len;
    char *s = slurp(fd, &len);
    CU_ASSERT_EQUAL(count_lines(s), 202);
    int prev = -1, ordered = 1;
    for (char *l = s; *l; l = strchr(l, '\n') + 1) {
        char *nl = strchr(l, '\n');
        char *m = strstr(l, "[http] ");
        if (m && m < nl && m[7] >= '0' && m[7] <= '9') {
            int v = atoi(m + 7);
            ordered &= v == prev + 1 && nl - (m + 7) == 305;
            prev = v;
        }
    }
    CU_ASSERT(ordered);
    CU_ASSERT_EQUAL(prev, 199);
    char *b = strstr(s, "[http] bbbb");
    CU_ASSERT_PTR_NOT_NULL(b);
    if (b) CU_ASSERT(strchr(b, '\n') - b > 2000); /* the long one, whole up to its cut */
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "[http] after\n"));
    CU_ASSERT_EQUAL(s[len - 1], '\n');
    free(s);
    teardown();
    close(fd);
}

static void test_off_flushes_and_writes_directly(void)
{
    int fd = tmp_fd();
    setup(fd, 64 << 10);
    miaw_log(MIAW_LVL_INFO, "http", "pending");
    CU_ASSERT_EQUAL(miaw_log_buffer(0), 0);
    char *s = slurp(fd, NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "] pending\n"));
    free(s);
    miaw_log(MIAW_LVL_INFO, "http", "direct");
    s = slurp(fd, NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "] direct\n"));
    CU_ASSERT_EQUAL(count_lines(s), 2);
    free(s);
    miaw_log_set_fd(-1);
    close(fd);
}

/* the JSON format through the buffer, and the timestamp against the clock */
static void test_json_and_timestamp(void)
{
    int fd = tmp_fd();
    setup(fd, 64 << 10);
    miaw_log_set_json(1);
    time_t before = time(NULL);
    miaw_log(MIAW_LVL_INFO, "http", "GET /a\"b 200");
    time_t after = time(NULL);
    miaw_log_set_json(0);
    miaw_log_flush();
    char *s = slurp(fd, NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "\",\"level\":\"info\",\"component\":\"http\",\"msg\":\"GET /a\\\"b 200\"}\n"));
    CU_ASSERT(strncmp(s, "{\"ts\":\"", 7) == 0);
    struct tm tm;
    char want[32];
    int ok = 0;
    for (time_t t = before; t <= after; t++) {
        gmtime_r(&t, &tm);
        strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%S.", &tm);
        ok |= strncmp(s + 7, want, 20) == 0;
    }
    CU_ASSERT(ok);
    CU_ASSERT(s[27] >= '0' && s[27] <= '9' && s[28] >= '0' && s[28] <= '9' && s[29] >= '0' && s[29] <= '9' &&
              s[30] == 'Z');
    free(s);
    teardown();
    close(fd);
}

/* to a pipe or socket: each write whole lines, at most PIPE_BUF bytes (a seqpacket socket
 * keeps each write a record) */
static void test_pipe_writes_are_atomic_lines(void)
{
    int sv[2];
    CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
    int big = 1 << 20;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    setup(sv[0], 64 << 10);
    for (int i = 0; i < 150; i++) miaw_log(MIAW_LVL_INFO, "http", "GET /instances/%d 200 0.040ms id=abcdef%d", i, i);
    miaw_log_flush();
    shutdown(sv[0], SHUT_WR);
    char rec[65536];
    int records = 0, lines = 0, ok = 1;
    ssize_t n;
    while ((n = recv(sv[1], rec, sizeof rec, 0)) > 0) {
        records++;
        ok &= n <= PIPE_BUF && rec[n - 1] == '\n';
        for (ssize_t i = 0; i < n; i++) lines += rec[i] == '\n';
    }
    CU_ASSERT(ok);
    CU_ASSERT_EQUAL(lines, 150);
    CU_ASSERT(records > 1 && records < 150); /* batched, yet cut to atomic sizes */
    teardown();
    close(sv[0]);
    close(sv[1]);
}

/* another thread's line is written at once, after the buffered ones */
static void *log_once(void *arg)
{
    miaw_log(MIAW_LVL_INFO, "worker", "%s", (const char *)arg);
    return NULL;
}

static void test_other_thread_writes_at_once(void)
{
    int fd = tmp_fd();
    setup(fd, 64 << 10);
    miaw_log(MIAW_LVL_INFO, "http", "before");
    pthread_t th;
    pthread_create(&th, NULL, log_once, "from a worker");
    pthread_join(th, NULL);
    CU_ASSERT_EQUAL(miaw_log_buffered(), 0);
    char *s = slurp(fd, NULL);
    char *a = strstr(s, "[http] before\n"), *b = strstr(s, "[worker] from a worker\n");
    CU_ASSERT(a && b && a < b);
    free(s);
    teardown();
    close(fd);
}

#define NTHREADS 4
#define PER_THREAD 2000
static void *log_many(void *arg)
{
    int t = (int)(long)arg;
    for (int i = 0; i < PER_THREAD; i++) miaw_log(MIAW_LVL_INFO, "w", "thread %d line %d end", t, i);
    return NULL;
}

static void test_concurrent_loggers(void)
{
    int fd = tmp_fd();
    setup(fd, 8 << 10);
    pthread_t th[NTHREADS];
    for (long t = 0; t < NTHREADS; t++) pthread_create(&th[t], NULL, log_many, (void *)(t + 1));
    for (int i = 0; i < PER_THREAD; i++) miaw_log(MIAW_LVL_INFO, "w", "thread 0 line %d end", i); /* the owner */
    for (int t = 0; t < NTHREADS; t++) pthread_join(th[t], NULL);
    miaw_log_flush();
    char *s = slurp(fd, NULL);
    CU_ASSERT_EQUAL(count_lines(s), (NTHREADS + 1) * PER_THREAD);
    /* every line whole, and each thread's lines in its order */
    int next[NTHREADS + 1] = {0}, ok = 1;
    for (char *l = s; *l; l = strchr(l, '\n') + 1) {
        int t, i, used = 0;
        char *m = strstr(l, "[w] thread ");
        if (!m || m > strchr(l, '\n') || sscanf(m, "[w] thread %d line %d end%n", &t, &i, &used) != 2 || !used ||
            m[used] != '\n' || t < 0 || t > NTHREADS || next[t] != i) {
            ok = 0;
            break;
        }
        next[t]++;
    }
    CU_ASSERT(ok);
    free(s);
    teardown();
    close(fd);
}

/* a process that exits with lines in the buffer still writes them */
static void test_flushed_at_exit(void)
{
    int fd = tmp_fd();
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        miaw_log_set_fd(fd);
        if (miaw_log_buffer(64 << 10) != 0) _exit(3);
        miaw_log(MIAW_LVL_INFO, "http", "last words");
        exit(miaw_log_buffered() > 0 ? 0 : 4); /* buffered until exit */
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char *s = slurp(fd, NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "[http] last words\n"));
    free(s);
    close(fd);
}

/* only the access log waits: another component's info line (which a user or a test may be
 * waiting for, e.g. an engine event) is written at once, after the access lines before it */
static void test_other_component_at_once(void)
{
    int fd = tmp_fd();
    setup(fd, 64 << 10);
    miaw_log(MIAW_LVL_INFO, "http", "GET /a 200 0.010ms id=1");
    CU_ASSERT(miaw_log_buffered() > 0);
    miaw_log(MIAW_LVL_INFO, "engine", "a: resent 3EB0 to b (retry 1)");
    CU_ASSERT_EQUAL(miaw_log_buffered(), 0);
    char *s = slurp(fd, NULL);
    char *a = strstr(s, "[http] GET /a 200"), *b = strstr(s, "[engine] a: resent 3EB0");
    CU_ASSERT(a && b && a < b);
    free(s);
    teardown();
    close(fd);
}

/* the part after the timestamp (" info  [http] ", kept per thread for the last level and
 * component) is right whatever the sequence: levels and components alternating, a
 * component with control bytes (escaped), one too long to keep, one reusing the address
 * of another's text, and messages given with their length (miaw_log_strn) */
static void test_prefix_per_level_and_component(void)
{
    int fd = tmp_fd();
    setup(fd, 0);
    char comp[16] = "alpha", longc[100];
    memset(longc, 'L', sizeof longc - 1);
    longc[sizeof longc - 1] = 0;
    const char *want[] = {" info  [http] a\n", " warn  [http] b\n", " warn  [alpha] c\n", " warn  [bravo] d\n",
                          " debug [bravo] e\n", " error [x\\x1by] f\n", " info  [x\\x1by] g\n", NULL};
    miaw_log_str(MIAW_LVL_INFO, "http", "a");
    miaw_log_str(MIAW_LVL_WARN, "http", "b");
    miaw_log_str(MIAW_LVL_WARN, comp, "c");
    strcpy(comp, "bravo"); /* same address, other text */
    miaw_log_str(MIAW_LVL_WARN, comp, "d");
    miaw_log_strn(MIAW_LVL_DEBUG, comp, "e and more", 1);
    miaw_log_str(MIAW_LVL_ERROR, "x\x1by", "f");
    miaw_log_str(MIAW_LVL_INFO, "x\x1by", "g");
    miaw_log_str(MIAW_LVL_INFO, longc, "h");
    miaw_log_str(MIAW_LVL_INFO, longc, "i");
    miaw_log_str(MIAW_LVL_INFO, NULL, "j");
    char *s = slurp(fd, NULL), *p = s;
    for (int i = 0; want[i]; i++) {
        char *nl = strchr(p, '\n');
        CU_ASSERT_FATAL(nl != NULL && nl - p > 24);
        CU_ASSERT_NSTRING_EQUAL(p + 24, want[i], strlen(want[i]));
        p = nl + 1;
    }
    for (int i = 0; i < 2; i++) { /* the long one, built each time */
        char *nl = strchr(p, '\n');
        CU_ASSERT_FATAL(nl != NULL);
        CU_ASSERT(strncmp(p + 24, " info  [LLLL", 12) == 0 && strstr(p, "] ") && nl[-1] == (i ? 'i' : 'h'));
        p = nl + 1;
    }
    CU_ASSERT(strncmp(p + 24, " info  [-] j\n", 13) == 0);
    free(s);
    teardown();
    close(fd);
}

MIAW_TESTS("base_logbuf", MIAW_T(test_prefix_per_level_and_component), MIAW_T(test_held_until_flush_in_order), MIAW_T(test_warning_flushes_first),
           MIAW_T(test_full_buffer_and_long_lines), MIAW_T(test_off_flushes_and_writes_directly),
           MIAW_T(test_json_and_timestamp), MIAW_T(test_pipe_writes_are_atomic_lines),
           MIAW_T(test_other_thread_writes_at_once), MIAW_T(test_concurrent_loggers), MIAW_T(test_flushed_at_exit),
           MIAW_T(test_other_component_at_once))
