/* core/wa/mediacrypto.h - WhatsApp's media encryption (facts section 10.2/10.3): the
 * media key expanded with HKDF-SHA256 (no salt, a per-type info string, 112 bytes) into
 * iv, cipher key, MAC key and ref key; AES-256-CBC with PKCS#7 padding; the uploaded blob
 * is ciphertext || the first 10 bytes of HMAC-SHA256(macKey, iv || ciphertext);
 * fileSha256 = SHA-256(plaintext), fileEncSha256 = SHA-256(blob). Used by the engine and
 * by miaw-sim's phones. OpenSSL 3 only, no I/O. Whole buffers at once, or streaming
 * (miaw_wa_media_enc / miaw_wa_media_dec: any size in bounded memory).
 *
 * Ownership: blobs and plaintexts returned through uint8_t ** are malloc'd and belong to
 * the caller (free); key structs are plain values the caller should wipe
 * (miaw_wa_media_keys_wipe) when done; a stream belongs to its creator, freed (and its
 * keys wiped) by miaw_wa_media_enc_free / miaw_wa_media_dec_free. */
#ifndef MIAW_WA_MEDIACRYPTO_H
#define MIAW_WA_MEDIACRYPTO_H
#include <stddef.h>
#include <stdint.h>

#define MIAW_WA_MEDIA_KEY_LEN 32
#define MIAW_WA_MEDIA_EXPANDED_LEN 112
#define MIAW_WA_MEDIA_MAC_LEN 10
/* largest plaintext the functions accept (WhatsApp documents go to 2 GB; the callers in
 * this project hold blobs in memory, so they bound it far lower themselves) */
#define MIAW_WA_MEDIA_MAX ((size_t)1 << 31)

typedef struct miaw_wa_media_keys {
    uint8_t iv[16];
    uint8_t cipher_key[32];
    uint8_t mac_key[32];
    uint8_t ref_key[32]; /* unused by clients; kept for completeness */
} miaw_wa_media_keys;

typedef struct miaw_wa_media_hashes {
    uint8_t file_sha256[32];     /* SHA-256 of the plaintext */
    uint8_t file_enc_sha256[32]; /* SHA-256 of ciphertext || mac */
    uint64_t file_length;        /* plaintext bytes */
} miaw_wa_media_hashes;

/* The HKDF info string for a media type name as clients use it ("image", "sticker",
 * "video", "gif", "ptv", "audio", "ptt", "document", "md-msg-hist", "md-app-state",
 * "thumbnail-link", "thumbnail-image", "thumbnail-video", "thumbnail-document",
 * "product", "product-catalog-image", "biz-cover-photo", "ppic", "sticker-pack",
 * "payment-bg-image"), e.g. "WhatsApp Image Keys"; NULL for an unknown type. */
const char *miaw_wa_media_info(const char *type);

/* Expand media_key for type. 0, or MIAW_E_INVAL (unknown type) / MIAW_E_INTERNAL. */
int miaw_wa_media_keys_derive(const uint8_t media_key[MIAW_WA_MEDIA_KEY_LEN], const char *type,
                              miaw_wa_media_keys *out);
void miaw_wa_media_keys_wipe(miaw_wa_media_keys *k);

/* A fresh random media key. 0 or MIAW_E_INTERNAL. */
int miaw_wa_media_key_generate(uint8_t media_key[MIAW_WA_MEDIA_KEY_LEN]);

/* Encrypt len bytes of plaintext: *blob (ciphertext || mac, malloc'd) and the hashes
 * (h may be NULL). 0 or MIAW_E_INVAL / MIAW_E_NOMEM / MIAW_E_INTERNAL. */
int miaw_wa_media_encrypt(const uint8_t media_key[MIAW_WA_MEDIA_KEY_LEN], const char *type, const uint8_t *pt,
                          size_t len, uint8_t **blob, size_t *blob_len, miaw_wa_media_hashes *h);

/* Check and decrypt a downloaded blob: SHA-256(blob) against file_enc_sha256 (skipped
 * when NULL), the 10-byte MAC, the padding, then SHA-256(plaintext) against file_sha256
 * (skipped when NULL). 0 with *pt (malloc'd, may be empty) and *pt_len; MIAW_E_AUTH when
 * a hash or the MAC does not match or the padding is bad; MIAW_E_INVAL for a blob that
 * cannot be one (shorter than a block plus the MAC, not block-aligned) or an unknown
 * type; MIAW_E_NOMEM / MIAW_E_INTERNAL. */
int miaw_wa_media_decrypt(const uint8_t media_key[MIAW_WA_MEDIA_KEY_LEN], const char *type, const uint8_t *blob,
                          size_t blob_len, const uint8_t *file_enc_sha256, const uint8_t *file_sha256,
                          uint8_t **pt, size_t *pt_len);

/* ---- streaming ----
 * Encryption: _new, _update with the plaintext in pieces of any size (out receives the
 * ciphertext produced so far, at most len + 15 bytes), then _final (out receives the
 * last block and the MAC, at most MIAW_WA_MEDIA_FINAL_MAX bytes; h the hashes and the
 * length). The bytes are exactly miaw_wa_media_encrypt's blob.
 * Decryption: _update with the blob in pieces of any size (out receives plaintext that
 * is NOT verified yet, at most len + MIAW_WA_MEDIA_SLACK bytes: the last 10 bytes seen
 * are held back as the MAC), then _final, which checks what miaw_wa_media_decrypt checks
 * (fileEncSha256 and fileSha256 when given, the MAC, the padding) and gives the last
 * plaintext bytes (at most MIAW_WA_MEDIA_FINAL_MAX). Nothing decrypted may be trusted
 * before _final returned 0.
 * Errors: MIAW_E_INVAL (unknown type, bad arguments, a blob that cannot be one: _final),
 * MIAW_E_AUTH (a hash, the MAC or the padding does not match: _final), MIAW_E_NOMEM,
 * MIAW_E_INTERNAL. After an error or _final the stream only accepts _free. */
#define MIAW_WA_MEDIA_SLACK 32
#define MIAW_WA_MEDIA_FINAL_MAX 32
typedef struct miaw_wa_media_enc miaw_wa_media_enc;
typedef struct miaw_wa_media_dec miaw_wa_media_dec;

int miaw_wa_media_enc_new(const uint8_t media_key[MIAW_WA_MEDIA_KEY_LEN], const char *type, miaw_wa_media_enc **out);
int miaw_wa_media_enc_update(miaw_wa_media_enc *s, const uint8_t *pt, size_t len, uint8_t *out, size_t *out_len);
int miaw_wa_media_enc_final(miaw_wa_media_enc *s, uint8_t *out, size_t *out_len, miaw_wa_media_hashes *h);
void miaw_wa_media_enc_free(miaw_wa_media_enc *s);

int miaw_wa_media_dec_new(const uint8_t media_key[MIAW_WA_MEDIA_KEY_LEN], const char *type, miaw_wa_media_dec **out);
int miaw_wa_media_dec_update(miaw_wa_media_dec *s, const uint8_t *in, size_t len, uint8_t *out, size_t *out_len);
/* h (may be NULL) gets the hashes and the plaintext length even when a check fails */
int miaw_wa_media_dec_final(miaw_wa_media_dec *s, const uint8_t *file_enc_sha256, const uint8_t *file_sha256,
                            uint8_t *out, size_t *out_len, miaw_wa_media_hashes *h);
void miaw_wa_media_dec_free(miaw_wa_media_dec *s);

/* SHA-256 of n bytes. 0 or MIAW_E_INTERNAL. */
int miaw_wa_sha256(const uint8_t *in, size_t n, uint8_t out[32]);
#endif
