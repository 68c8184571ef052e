/* sim/media_tls.c - miaw-sim's media host over HTTPS: a private certificate authority
 * persisted in the state directory, a fresh leaf for the loopback names at every start,
 * an h2o TLS listener of its own (HTTP/1.1, no ALPN) feeding media.c and the chat socket
 * over TLS (wss://HOST:PORT/ws/chat, handed to conn.c), and the control
 * routes that hand the CA to clients. OpenSSL 3 only. Owns the listener, its h2o
 * configuration and context, the SSL_CTX and the CA PEM (process lifetime). */
#include "media_tls.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conn.h"
#include "control.h"
#include "http/listen_util.h"
#include "base/log.h"
#include "media.h"
#include "miaw/plugin.h"

static struct {
    h2o_globalconf_t conf;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept;
    uv_tcp_t *listener;
    SSL_CTX *ssl;
    char *ca_pem;
    int port;
    miaw_sim *sim;
} T;

/* ------------------------------------------------------------------ certificates */

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    int ok = ex && X509_add_ext(cert, ex, -1) == 1;
    X509_EXTENSION_free(ex);
    return ok ? 0 : -1;
}

/* a certificate for key, signed by issuer_key (issuer NULL = self-signed) */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, long days, int ca,
                       const char *san)
{
    X509 *x = X509_new();
    uint8_t serial[16];
    BIGNUM *bn = NULL;
    int ok = x && RAND_bytes(serial, sizeof serial) == 1;
    serial[0] &= 0x7f; /* positive */
    if (ok) ok = (bn = BN_bin2bn(serial, sizeof serial, NULL)) && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    if (ok) ok = X509_set_version(x, 2) == 1 && X509_gmtime_adj(X509_getm_notBefore(x), -86400) &&
                 X509_gmtime_adj(X509_getm_notAfter(x), days * 86400) && X509_set_pubkey(x, key) == 1;
    X509_NAME *name = x ? X509_get_subject_name(x) : NULL;
    if (ok) ok = X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"miaw-sim", -1, -1, 0) == 1 &&
                 X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) == 1;
    if (ok) ok = X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) == 1;
    X509 *iss = issuer ? issuer : x;
    if (ok && ca)
        ok = !add_ext(x, iss, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
             !add_ext(x, iss, NID_key_usage, "critical,keyCertSign,cRLSign") &&
             !add_ext(x, iss, NID_subject_key_identifier, "hash");
    if (ok && !ca)
        ok = !add_ext(x, iss, NID_basic_constraints, "critical,CA:FALSE") &&
             !add_ext(x, iss, NID_key_usage, "critical,digitalSignature,keyEncipherment") &&
             !add_ext(x, iss, NID_ext_key_usage, "serverAuth") && !add_ext(x, iss, NID_subject_key_identifier, "hash") &&
             !add_ext(x, iss, NID_authority_key_identifier, "keyid:always") &&
             !add_ext(x, iss, NID_subject_alt_name, san);
    if (ok) ok = X509_sign(x, issuer_key, EVP_sha256()) > 0;
    BN_free(bn);
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static int write_pem(const char *path, int key, void *obj, mode_t mode)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    fchmod(fileno(f), mode);
    int ok = key ? PEM_write_PrivateKey(f, obj, NULL, NULL, 0, NULL, NULL) : PEM_write_X509(f, obj);
    if (fclose(f)) ok = 0;
    if (!ok || rename(tmp, path)) {
        remove(tmp);
        return -1;
    }
    return 0;
}

/* <dir>/media-ca.pem + media-ca.key, or a new pair (written when dir is set) */
static int load_or_make_ca(const char *dir, X509 **cert, EVP_PKEY **key, char *err, size_t errcap)
{
    char cp[4096], kp[4096];
    *cert = NULL;
    *key = NULL;
    if (dir) {
        snprintf(cp, sizeof cp, "%s/media-ca.pem", dir);
        snprintf(kp, sizeof kp, "%s/media-ca.key", dir);
        FILE *fc = fopen(cp, "r"), *fk = fopen(kp, "r");
        int exists = fc || fk;
        if (fc && fk) {
            *cert = PEM_read_X509(fc, NULL, NULL, NULL);
            *key = PEM_read_PrivateKey(fk, NULL, NULL, NULL);
        }
        if (fc) fclose(fc);
        if (fk) fclose(fk);
        if (*cert && *key && X509_check_private_key(*cert, *key) == 1) return 0;
        if (exists) {
            X509_free(*cert);
            EVP_PKEY_free(*key);
            snprintf(err, errcap, "%s / %s exist but do not hold a matching certificate and key", cp, kp);
            return MIAW_E_IO;
        }
    }
    *key = EVP_EC_gen("P-256");
    *cert = *key ? make_cert(*key, "miaw-sim media CA", NULL, *key, 3650, 1, NULL) : NULL;
    if (!*cert) {
        EVP_PKEY_free(*key);
        *key = NULL;
        snprintf(err, errcap, "cannot make the media CA");
        return MIAW_E_INTERNAL;
    }
    if (dir && (write_pem(kp, 1, *key, 0600) || write_pem(cp, 0, *cert, 0644))) {
        snprintf(err, errcap, "cannot write %s", cp);
        return MIAW_E_IO;
    }
    MIAW_INFO("sim", "media: new certificate authority%s%s", dir ? " in " : " (in memory)", dir ? cp : "");
    return 0;
}

static int make_ssl(const char *dir, const char *listen_host, char *err, size_t errcap)
{
    X509 *ca, *leaf = NULL;
    EVP_PKEY *cakey, *key = NULL;
    int rc = load_or_make_ca(dir, &ca, &cakey, err, errcap);
    if (rc) return rc;
    char san[256];
    int extra = strcmp(listen_host, "127.0.0.1") && strcmp(listen_host, "::1") && strcmp(listen_host, "0.0.0.0") &&
                strcmp(listen_host, "::");
    snprintf(san, sizeof san, "IP:127.0.0.1,IP:::1,DNS:localhost%s%s", extra ? ",IP:" : "", extra ? listen_host : "");
    key = EVP_EC_gen("P-256");
    if (key) leaf = make_cert(key, "127.0.0.1", ca, cakey, 825, 0, san);
    BIO *b = BIO_new(BIO_s_mem());
    char *pem = NULL;
    long n = b && PEM_write_bio_X509(b, ca) ? BIO_get_mem_data(b, &pem) : 0;
    T.ca_pem = n > 0 ? strndup(pem, (size_t)n) : NULL;
    BIO_free(b);
    T.ssl = leaf ? SSL_CTX_new(TLS_server_method()) : NULL;
    int ok = T.ssl && T.ca_pem && SSL_CTX_set_min_proto_version(T.ssl, TLS1_2_VERSION) == 1 &&
             SSL_CTX_use_certificate(T.ssl, leaf) == 1 && SSL_CTX_use_PrivateKey(T.ssl, key) == 1 &&
             SSL_CTX_check_private_key(T.ssl) == 1 && SSL_CTX_add1_chain_cert(T.ssl, ca) == 1;
    if (T.ssl) SSL_CTX_set_options(T.ssl, SSL_OP_NO_COMPRESSION);
    X509_free(leaf);
    X509_free(ca);
    EVP_PKEY_free(key);
    EVP_PKEY_free(cakey);
    if (!ok) {
        snprintf(err, errcap, "cannot set up TLS for the media host");
        return MIAW_E_INTERNAL;
    }
    return 0;
}

/* ------------------------------------------------------------------ listener */

/* /ws/chat over TLS is the chat socket as WhatsApp serves it (wss://); everything else
 * is the media host */
static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    h2o_iovec_t p = req->path_normalized;
    if (h2o_memis(p.base, p.len, H2O_STRLIT("/ws/chat"))) {
        if (miaw_sim_conn_upgrade(T.sim, req) == 0) return 0;
        miaw_sim_http_json(req, 426, miaw_sim_error_json("UPGRADE_REQUIRED", NULL, "/ws/chat takes a WebSocket upgrade over HTTP/1.1"));
        return 0;
    }
    miaw_sim_media_http(req);
    return 0;
}

static int try_bind(uv_loop_t *loop, const char *host, int port)
{
    struct sockaddr_storage ss;
    int rc = miaw_listen_addr(host, port, &ss);
    if (rc) return rc;
    uv_tcp_t *l = malloc(sizeof *l);
    if (!l) return UV_ENOMEM;
    rc = miaw_listen_h2o(loop, l, (struct sockaddr *)&ss, &T.accept); /* EADDRINUSE shows at listen */
    if (rc) uv_close((uv_handle_t *)l, (uv_close_cb)free);
    else T.listener = l;
    return rc;
}

int miaw_sim_media_tls_start(miaw_sim *sim, uv_loop_t *loop, const char *listen, const char *main_host,
                             int main_port, char *err, size_t errcap)
{
    char host[64];
    long port = main_port < 65535 ? main_port + 1 : 0;
    if (listen) {
        const char *colon = strrchr(listen, ':');
        char *end;
        size_t hl = colon ? (size_t)(colon - listen) : 0;
        const char *h = listen;
        if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') h++, hl -= 2;
        port = colon ? strtol(colon + 1, &end, 10) : -1;
        if (!colon || !hl || hl >= sizeof host || !colon[1] || *end || port < 0 || port > 65535) {
            snprintf(err, errcap, "--media-listen wants HOST:PORT, got %s", listen);
            return MIAW_E_INVAL;
        }
        snprintf(host, sizeof host, "%.*s", (int)hl, h);
        if (!strcmp(host, "localhost")) snprintf(host, sizeof host, "127.0.0.1");
    } else {
        snprintf(host, sizeof host, "%s", main_host);
    }
    T.sim = sim;
    int rc = make_ssl(sim->state_dir, host, err, errcap);
    if (rc) return rc;
    int brc = try_bind(loop, host, (int)port);
    if (brc && !listen) brc = try_bind(loop, host, 0); /* the port next to the main one is taken */
    if (brc) {
        snprintf(err, errcap, "cannot listen for media on %s port %ld: %s", host, port, uv_strerror(brc));
        return MIAW_E_IO;
    }
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    uv_tcp_getsockname(T.listener, (struct sockaddr *)&bound, &blen);
    T.port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                               : ((struct sockaddr_in *)&bound)->sin_port);
    h2o_config_init(&T.conf);
    T.conf.max_request_entity_size = MIAW_SIM_MEDIA_UPLOAD_MAX;
    h2o_hostconf_t *hc = h2o_config_register_host(&T.conf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pc = h2o_config_register_path(hc, "/", 0);
    h2o_handler_t *hd = h2o_create_handler(pc, sizeof *hd);
    hd->on_req = on_req;
    h2o_context_init(&T.ctx, loop, &T.conf);
    T.accept.ctx = &T.ctx;
    T.accept.hosts = T.conf.hosts;
    T.accept.ssl_ctx = T.ssl;
    /* clients are told a loopback name the leaf certifies */
    char hp[96];
    int v6 = strchr(host, ':') != NULL;
    const char *shown = !strcmp(host, "0.0.0.0") ? "127.0.0.1" : !strcmp(host, "::") ? "::1" : host;
    snprintf(hp, sizeof hp, "%s%s%s:%d", v6 ? "[" : "", shown, v6 ? "]" : "", T.port);
    miaw_sim_media_set_host(hp);
    MIAW_INFO("sim", "media host https://%s", hp);
    return 0;
}

const char *miaw_sim_media_ca_pem(void)
{
    return T.ca_pem ? T.ca_pem : "";
}

int miaw_sim_media_port(void)
{
    return T.port;
}

/* ------------------------------------------------------------------ control routes */

int miaw_sim_media_control(miaw_sim *sim, h2o_req_t *req)
{
    (void)sim;
    h2o_iovec_t p = req->path_normalized;
    int ca = h2o_memis(p.base, p.len, H2O_STRLIT("/sim/media-ca"));
    if (!ca && !h2o_memis(p.base, p.len, H2O_STRLIT("/sim/media"))) return 0;
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"))) {
        miaw_sim_http_json(req, 405, miaw_sim_error_json("METHOD_NOT_ALLOWED", NULL, "method not allowed on this endpoint"));
        return 1;
    }
    if (!ca) {
        json_t *j = miaw_sim_media_stats_json();
        json_object_set_new(j, "caPem", json_string(miaw_sim_media_ca_pem()));
        miaw_sim_http_json(req, 200, j);
        return 1;
    }
    if (!T.ca_pem) {
        miaw_sim_http_json(req, 404, miaw_sim_error_json("NOT_FOUND", NULL, "no media host"));
        return 1;
    }
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/x-pem-file"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    h2o_send_inline(req, T.ca_pem, strlen(T.ca_pem));
    return 1;
}
