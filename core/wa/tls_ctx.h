/* core/wa/tls_ctx.h - shared TLS client contexts. One SSL_CTX per CA source (a PEM file,
 * or the system's default paths) for the whole process, instead of one per connection:
 * with thousands of WebSocket connections the certificate store would otherwise be parsed
 * and held once per connection (hundreds of KiB each with the system bundle). Contexts are
 * made with TLS 1.2 as the floor, peer verification on and SSL_MODE_RELEASE_BUFFERS (an
 * idle connection gives its record buffers back).
 *
 * Ownership: miaw_tls_client_ctx returns a new reference (release it with SSL_CTX_free);
 * the cache holds one reference per entry for the process lifetime, or until the CA file
 * changes (its size or modification time), when a fresh context is made for new callers
 * and the old one lives on in the connections that hold it. Thread-safe. */
#ifndef MIAW_WA_TLS_CTX_H
#define MIAW_WA_TLS_CTX_H
#include <openssl/ssl.h>
#include <stddef.h>

/* ca_file NULL or "" = the system's default verify paths. NULL on failure (err says why:
 * the CA file cannot be read or holds no certificate, or out of memory). */
SSL_CTX *miaw_tls_client_ctx(const char *ca_file, char *err, size_t errlen);
/* How many distinct contexts the cache holds (for tests). */
size_t miaw_tls_client_ctx_count(void);
#endif
