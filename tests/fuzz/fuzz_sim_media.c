/* tests/fuzz/fuzz_sim_media.c - libFuzzer target for miaw-sim's media inputs that the
 * stanza target cannot reach (a phone only sees a media message after Signal decryption):
 * the first byte picks the input - a Message protobuf described by a phone (blob look-up
 * by direct path or URL, key derivation, MAC and hash checks, decryption), a download
 * path or URL for the store, an upload query string, an upload token against a body, or
 * a blob decrypted with a fixed key. The store holds one valid blob; the simulator's
 * modules are compiled in (sending media, phone_media_send.c, is not part of this). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim/codec.c"
#include "sim/media.c"
#include "sim/phone_media.c"

/* ------------------------------------------------------------------ stubs */
void miaw_sim_http_json(h2o_req_t *req, int status, json_t *body) { (void)req, (void)status; json_decref(body); }
json_t *miaw_sim_error_json(const char *code, const char *field, const char *message)
{
    (void)code, (void)field, (void)message;
    return json_object();
}
int miaw_sim_conn_send(miaw_sim_conn *c, const miaw_node *n) { (void)c, (void)n; return 0; }
miaw_node *miaw_sim_iq_result(const miaw_node *iq) { (void)iq; return miaw_node_new("iq"); }
int miaw_sim_iq_error(miaw_sim_conn *c, const miaw_node *iq, int code, const char *text)
{
    (void)c, (void)iq, (void)code, (void)text;
    return 0;
}
uint64_t miaw_sim_now(void) { return 1700000000; }

static miaw_sim g_sim;
static char g_dp[256];

static void setup(void)
{
    char err[200], url[512];
    uint8_t mk[32] = {0}, *blob;
    size_t bl;
    miaw_log_set_level_name("error");
    if (miaw_sim_media_open(&g_sim, err, sizeof err)) abort();
    miaw_sim_media_set_host("127.0.0.1:1");
    if (miaw_wa_media_encrypt(mk, "image", (const uint8_t *)"fuzz", 4, &blob, &bl, NULL) ||
        miaw_sim_media_put("image", blob, bl, url, sizeof url, g_dp, sizeof g_dp))
        abort();
    free(blob);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_dp[0]) setup();
    if (!size) return 0;
    uint8_t mode = data[0] % 5;
    data++, size--;
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    if (mode == 0) {
        Miaw__Wa__Message *m = miaw__wa__message__unpack(NULL, size, data);
        if (m) {
            json_t *e = json_object();
            miaw_sim_phone_media_describe(m, e);
            json_decref(e);
            miaw__wa__message__free_unpacked(m, NULL);
        }
    } else if (mode == 1) {
        const uint8_t *b;
        size_t l;
        miaw_sim_media_get(s, &b, &l);
        miaw_sim_media_get(g_dp, &b, &l); /* the real one still resolves */
    } else if (mode == 2) {
        char out[128];
        query_param(s, size, "auth", out, sizeof out);
        query_param(s, size, "oh", out, sizeof out);
    } else if (mode == 3) {
        size_t half = size / 2;
        token_matches(s, half, data + half, size - half);
    } else {
        uint8_t mk[32] = {0}, *pt = NULL;
        size_t pl;
        if (!miaw_wa_media_decrypt(mk, "image", data, size, NULL, NULL, &pt, &pl)) free(pt);
    }
    free(s);
    return 0;
}
