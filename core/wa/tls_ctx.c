/* core/wa/tls_ctx.c - the process-wide cache of TLS client contexts (tls_ctx.h): a short
 * list keyed by CA file path, size and mtime, guarded by a mutex. Owns the list and one
 * reference to each context in it. */
#include "wa/tls_ctx.h"

#include <openssl/err.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct entry {
    char *ca_file; /* NULL = default paths */
    off_t size;
    struct timespec mtime;
    SSL_CTX *ctx;
    struct entry *next;
} entry;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static entry *g_list;

static SSL_CTX *make_ctx(const char *ca_file, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        snprintf(err, errlen, "out of memory for a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION);
    if (ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1 : SSL_CTX_set_default_verify_paths(ctx) != 1) {
        unsigned long e = ERR_get_error();
        snprintf(err, errlen, "cannot load the CA %s%s%s", ca_file ? ca_file : "default paths",
                 e && ERR_reason_error_string(e) ? ": " : "", e && ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "");
        ERR_clear_error();
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

SSL_CTX *miaw_tls_client_ctx(const char *ca_file, char *err, size_t errlen)
{
    if (ca_file && !*ca_file) ca_file = NULL;
    struct stat st = {0};
    if (ca_file && stat(ca_file, &st) != 0) {
        snprintf(err, errlen, "cannot read the CA file %s", ca_file);
        return NULL;
    }
    pthread_mutex_lock(&g_mu);
    entry **pp = &g_list;
    for (; *pp; pp = &(*pp)->next) {
        entry *e = *pp;
        if (!ca_file != !e->ca_file || (ca_file && strcmp(ca_file, e->ca_file))) continue;
        if (!ca_file || (e->size == st.st_size && e->mtime.tv_sec == st.st_mtim.tv_sec &&
                         e->mtime.tv_nsec == st.st_mtim.tv_nsec)) {
            SSL_CTX_up_ref(e->ctx);
            SSL_CTX *c = e->ctx;
            pthread_mutex_unlock(&g_mu);
            return c;
        }
        /* the file changed: drop the cache's reference, make a fresh one below */
        *pp = e->next;
        SSL_CTX_free(e->ctx);
        free(e->ca_file);
        free(e);
        break;
    }
    SSL_CTX *ctx = make_ctx(ca_file, err, errlen);
    entry *e = ctx ? calloc(1, sizeof *e) : NULL;
    if (e && ca_file && !(e->ca_file = strdup(ca_file))) {
        free(e);
        e = NULL;
    }
    if (ctx && !e) { /* usable, just not cached */
        pthread_mutex_unlock(&g_mu);
        return ctx;
    }
    if (e) {
        e->size = st.st_size;
        e->mtime = st.st_mtim;
        e->ctx = ctx;
        SSL_CTX_up_ref(ctx); /* the caller's; the cache keeps the first */
        e->next = g_list;
        g_list = e;
    }
    pthread_mutex_unlock(&g_mu);
    return ctx;
}

size_t miaw_tls_client_ctx_count(void)
{
    size_t n = 0;
    pthread_mutex_lock(&g_mu);
    for (entry *e = g_list; e; e = e->next) n++;
    pthread_mutex_unlock(&g_mu);
    return n;
}
