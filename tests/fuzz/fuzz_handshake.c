/* tests/fuzz/fuzz_handshake.c - libFuzzer target for handshake parsing: the server role
 * reading a ClientHello and then a ClientFinish, and the client role reading a ServerHello.
 * Byte 0 picks the scenario; for ClientFinish and ServerHello the peer half is real (fixed
 * keys) so the fuzzer's bytes reach decryption and, for the client, the certificate
 * verification. Whatever the input, no crash, leak or out-of-bounds access. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wa/certchain.h"
#include "wa/noise.h"

static miaw_keypair cs, ss, root, inter;
static uint8_t *chain;
static size_t chain_len;
static const uint8_t CE[32] = {1}, SE[32] = {3};

static void init(void)
{
    static int done;
    if (done) return;
    uint8_t k[32];
    memset(k, 2, 32), miaw_keypair_from_private(&cs, k);
    memset(k, 4, 32), miaw_keypair_from_private(&ss, k);
    memset(k, 5, 32), miaw_keypair_from_private(&root, k);
    memset(k, 6, 32), miaw_keypair_from_private(&inter, k);
    miaw_certchain_spec spec = {root.priv, inter.priv, ss.pub, 1, 2, 0, UINT64_MAX};
    miaw_certchain_create(&spec, &chain, &chain_len);
    done = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init();
    if (size < 1) return 0;
    int which = data[0] % 4;
    data++, size--;
    uint8_t *out = NULL, *pl = NULL;
    size_t ol, pll;
    miaw_noise_client_opts co = {.root_pub = root.pub, .ephemeral_priv = CE, .now = 1700000000};
    if (which == 0) {
        /* server: arbitrary ClientHello, then produce the ServerHello if accepted */
        miaw_noise_hs *s = miaw_noise_server_new(&ss, chain, chain_len, SE);
        if (miaw_noise_server_read_client_hello(s, data, size) == 0 && miaw_noise_server_hello(s, &out, &ol) == 0)
            free(out);
        miaw_noise_hs_free(s);
    } else if (which == 1) {
        /* server: real ClientHello, arbitrary ClientFinish */
        miaw_noise_hs *c = miaw_noise_client_new(&cs, &co);
        miaw_noise_hs *s = miaw_noise_server_new(&ss, chain, chain_len, SE);
        if (miaw_noise_client_hello(c, &out, &ol) == 0) {
            miaw_noise_server_read_client_hello(s, out, ol);
            free(out);
            if (miaw_noise_server_hello(s, &out, &ol) == 0) {
                free(out);
                if (miaw_noise_server_read_client_finish(s, data, size, &pl, &pll) == 0) {
                    miaw_noise_transport t;
                    miaw_noise_split(s, &t);
                    free(pl);
                }
            }
        }
        miaw_noise_hs_free(c);
        miaw_noise_hs_free(s);
    } else if (which == 2) {
        /* client: arbitrary ServerHello */
        miaw_noise_hs *c = miaw_noise_client_new(&cs, &co);
        if (miaw_noise_client_hello(c, &out, &ol) == 0) {
            free(out);
            if (miaw_noise_client_read_server_hello(c, data, size) == 0 &&
                miaw_noise_client_finish(c, data, size, &out, &ol) == 0)
                free(out);
        }
        miaw_noise_hs_free(c);
    } else {
        /* certificate chain parser/verifier directly */
        const char *why;
        miaw_certchain_verify(data, size, root.pub, ss.pub, 1700000000, &why);
    }
    return 0;
}
