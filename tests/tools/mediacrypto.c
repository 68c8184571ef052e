/* tests/tools/mediacrypto.c - miaw's media encryption (core/wa/mediacrypto.c) on the
 * command line, for the interop test against Baileys:
 *   mediacrypto keys TYPE MEDIAKEYHEX       -> {"iv","cipherKey","macKey","refKey"} (hex)
 *   mediacrypto encrypt TYPE MEDIAKEYHEX    stdin: plaintext -> stdout: JSON
 *        {"blob","fileSha256","fileEncSha256" (base64),"fileLength"}
 *   mediacrypto decrypt TYPE MEDIAKEYHEX [FILEENCSHA256HEX FILESHA256HEX]
 *        stdin: blob (ciphertext || mac) -> stdout: plaintext
 * Exit status: 0 ok, 2 usage, 3 MAC/hash/padding refused (MIAW_E_AUTH), 1 other. */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "miaw/plugin.h"
#include "wa/mediacrypto.h"

#define IN_MAX (64u << 20)

static int unhex(const char *s, uint8_t *out, size_t n)
{
    if (!s || strlen(s) != 2 * n) return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1) return -1;
        out[i] = (uint8_t)v;
    }
    return 0;
}

static json_t *hexj(const uint8_t *b, size_t n)
{
    char s[2 * 64 + 1];
    for (size_t i = 0; i < n; i++) sprintf(s + 2 * i, "%02x", b[i]);
    return json_string(s);
}

static json_t *b64j(const uint8_t *b, size_t n)
{
    char *o = malloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)o, b, (int)n);
    json_t *j = json_string(o);
    free(o);
    return j;
}

static uint8_t *read_all(size_t *len)
{
    size_t cap = 65536, n = 0;
    uint8_t *b = malloc(cap);
    for (size_t got; b && (got = fread(b + n, 1, cap - n, stdin)) > 0;) {
        n += got;
        if (n == cap) {
            if (cap >= IN_MAX) break;
            uint8_t *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                return NULL;
            }
            b = nb;
            cap *= 2;
        }
    }
    *len = n;
    return b;
}

static int out_json(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    puts(s ? s : "{}");
    free(s);
    return 0;
}

int main(int argc, char **argv)
{
    uint8_t mk[32];
    if (argc < 4 || unhex(argv[3], mk, 32) || !miaw_wa_media_info(argv[2])) {
        fprintf(stderr, "usage: mediacrypto keys|encrypt|decrypt TYPE MEDIAKEYHEX [ENCSHAHEX SHAHEX]\n");
        return 2;
    }
    const char *cmd = argv[1], *type = argv[2];
    if (!strcmp(cmd, "keys")) {
        miaw_wa_media_keys k;
        if (miaw_wa_media_keys_derive(mk, type, &k)) return 1;
        return out_json(json_pack("{s:o,s:o,s:o,s:o}", "iv", hexj(k.iv, 16), "cipherKey", hexj(k.cipher_key, 32),
                                  "macKey", hexj(k.mac_key, 32), "refKey", hexj(k.ref_key, 32)));
    }
    size_t len;
    uint8_t *in = read_all(&len), *out = NULL;
    size_t ol = 0;
    if (!in) return 1;
    int rc;
    if (!strcmp(cmd, "encrypt")) {
        miaw_wa_media_hashes h;
        rc = miaw_wa_media_encrypt(mk, type, in, len, &out, &ol, &h);
        if (!rc)
            out_json(json_pack("{s:o,s:o,s:o,s:I}", "blob", b64j(out, ol), "fileSha256", b64j(h.file_sha256, 32),
                               "fileEncSha256", b64j(h.file_enc_sha256, 32), "fileLength", (json_int_t)h.file_length));
    } else if (!strcmp(cmd, "decrypt")) {
        uint8_t enc[32], sha[32];
        int hashes = argc >= 6;
        if (hashes && (unhex(argv[4], enc, 32) || unhex(argv[5], sha, 32))) {
            free(in);
            return 2;
        }
        rc = miaw_wa_media_decrypt(mk, type, in, len, hashes ? enc : NULL, hashes ? sha : NULL, &out, &ol);
        if (!rc) fwrite(out, 1, ol, stdout);
    } else {
        free(in);
        return 2;
    }
    free(in);
    free(out);
    if (rc) fprintf(stderr, "mediacrypto: %s failed (%d)\n", cmd, rc);
    return rc == MIAW_E_AUTH ? 3 : rc ? 1 : 0;
}
