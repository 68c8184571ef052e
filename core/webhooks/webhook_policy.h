/* core/webhooks/webhook_policy.h - the webhook target policy (SSRF guard): which network
 * addresses a webhook may be delivered to. Built from the webhook.policy config keys
 * (deny and allow CIDR lists, block_private, block_metadata, https_only); the dispatcher
 * checks every resolved address at connect time (libcurl's open-socket callback, so a
 * DNS answer that changes between check and use cannot slip through), the routes check
 * URLs with a literal address early. Pure: no I/O; unit-tested in
 * tests/unit/test_webhook_policy.c. Owns its parsed CIDR arrays. */
#ifndef MIAW_WEBHOOK_POLICY_H
#define MIAW_WEBHOOK_POLICY_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/config.h"

/* an IPv4 address is held as ::ffff:a.b.c.d; prefix counts bits of the 128 */
typedef struct miaw_wh_cidr { uint8_t addr[16]; int prefix; } miaw_wh_cidr;

typedef struct miaw_wh_policy {
    miaw_wh_cidr *allow, *deny;
    size_t nallow, ndeny;
    int block_private, block_metadata, https_only;
} miaw_wh_policy;

/* why an address is refused */
enum {
    MIAW_WH_ALLOWED = 0,
    MIAW_WH_DENIED_LIST,     /* in webhook.policy.deny */
    MIAW_WH_DENIED_PRIVATE,  /* loopback, private, link-local, ULA, reserved... (block_private) */
    MIAW_WH_DENIED_METADATA, /* a cloud metadata address or link-local (block_metadata) */
    MIAW_WH_DENIED_SCHEME,   /* http:// while https_only */
};

/* "10.0.0.0/8", "::1", "fd00::/8", "192.168.1.7" (no prefix = one address) into out;
 * 0 or -1. Host bits beyond the prefix are cleared. */
int miaw_wh_cidr_parse(const char *s, miaw_wh_cidr *out);
/* parses the lists of cfg into p (zeroed first); -1 with "webhook.policy.allow: 'x' is not
 * a CIDR" in err. Free with miaw_wh_policy_free. */
int miaw_wh_policy_init(miaw_wh_policy *p, const miaw_config *cfg, char *err, size_t errlen);
void miaw_wh_policy_free(miaw_wh_policy *p);
/* 16-byte address (IPv4 as ::ffff:a.b.c.d) of a sockaddr_in/in6; 0 or -1 */
int miaw_wh_addr_from_sockaddr(const struct sockaddr *sa, uint8_t out[16]);
/* the verdict for one address: deny list, then allow list (which overrides the two
 * switches), then block_metadata, then block_private. Addresses that embed an IPv4
 * address (IPv4-mapped, IPv4-compatible, NAT64 64:ff9b::/96, 6to4 2002::/16) are also
 * judged by the embedded one. */
int miaw_wh_policy_check_addr(const miaw_wh_policy *p, const uint8_t addr[16]);
/* 1 when addr is in a range block_private refuses, 2 when it is a metadata/link-local
 * address (refused by either switch), 0 otherwise (the address only, no embedding) */
int miaw_wh_addr_class(const uint8_t addr[16]);
/* the verdict for a URL before any DNS: the scheme (https_only), then, when the host is
 * a literal address in any form inet_aton accepts (2130706433, 0x7f.1, 0177.0.0.1) or
 * an [IPv6] literal, that address. Hostnames are MIAW_WH_ALLOWED here (they are judged
 * at connect time). */
int miaw_wh_policy_check_url(const miaw_wh_policy *p, const char *url);
/* the operator's global receivers (webhook.url) against the policy: 0, or -1 with
 * "webhook.url: 'x' is refused by the webhook target policy: ..." in err */
int miaw_wh_policy_check_globals(const miaw_wh_policy *p, const miaw_strlist *urls, char *err, size_t errlen);
/* a short human text for a verdict ("the address is in a private or loopback range") */
const char *miaw_wh_policy_reason(int verdict);
#endif
