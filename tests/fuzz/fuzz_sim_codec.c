/* tests/fuzz/fuzz_sim_codec.c - libFuzzer target for miaw-sim's parsers of outside input:
 * the pairing QR string (as POSTed to /sim/accounts/{phone}/scan), base64 with a round
 * trip of what decodes, and the /sim route matcher (phone and device JID parameters). The first byte picks the parser.
 * The simulator is an executable, so its pure module is compiled in directly. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sim/codec.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int which = data[0] % 3;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    if (which == 0) {
        miaw_sim_qr q;
        const char *why;
        if (miaw_sim_qr_parse(s, n, &q, &why) == 0) {
            /* the ref lies inside the input and is printable */
            if (q.ref < s || q.ref + q.ref_len > s + n || !q.ref_len || q.ref_len > MIAW_SIM_REF_MAX) __builtin_trap();
            if (strlen(q.platform) >= sizeof q.platform) __builtin_trap();
        } else if (!why) {
            __builtin_trap();
        }
    } else if (which == 1) {
        uint8_t out[512];
        char enc[700];
        int got = miaw_sim_b64_decode(s, n, out, sizeof out);
        if (got >= 0) {
            /* decoding then encoding gives the input back, up to the URL-safe letters */
            int el = miaw_sim_b64_encode(out, (size_t)got, enc, sizeof enc);
            if (el < 0 || (size_t)el != n) __builtin_trap();
            for (size_t i = 0; i < n; i++) {
                char c = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
                if (enc[i] != c) __builtin_trap();
            }
        }
    } else {
        char phone[28];
        int r = miaw_sim_route(s, n, phone, sizeof phone);
        if ((r == MIAW_SIM_ROUTE_SCAN || r == MIAW_SIM_ROUTE_MESSAGES || r == MIAW_SIM_ROUTE_DEVICE) &&
            (!phone[0] || strlen(phone) >= sizeof phone))
            __builtin_trap();
        /* a device route's JID has only the characters the matcher lets through */
        for (size_t i = 0; r == MIAW_SIM_ROUTE_DEVICE && phone[i]; i++)
            if (!strchr("0123456789abcdefghijklmnopqrstuvwxyz.:@_-", phone[i])) __builtin_trap();
    }
    return 0;
}
