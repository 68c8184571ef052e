/* core/webhooks/webhook_policy.c - the webhook target policy (see webhook_policy.h): CIDR
 * parsing, the table of ranges block_private and block_metadata refuse, the verdict for a
 * resolved address and for a URL whose host is a literal address. */
#include "webhooks/webhook_policy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ranges refused by block_private (RFC 6890 special-purpose and non-global space) */
static const char *PRIVATE_RANGES[] = {
    "0.0.0.0/8",       "10.0.0.0/8",     "100.64.0.0/10",   "127.0.0.0/8",      "172.16.0.0/12",
    "192.0.0.0/24",    "192.0.2.0/24",   "192.88.99.0/24",  "192.168.0.0/16",   "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4",     "240.0.0.0/4",      "::/128",
    "::1/128",         "100::/64",       "2001:db8::/32",   "64:ff9b:1::/48",   "fc00::/7",
    "fec0::/10",       "ff00::/8",
};
/* refused by block_metadata as well as by block_private: link-local (where cloud
 * metadata services answer) and the known metadata addresses outside it */
static const char *METADATA_RANGES[] = {
    "169.254.0.0/16",     /* link-local; 169.254.169.254 = AWS, GCP, Azure, OpenStack... */
    "fe80::/10",          /* IPv6 link-local */
    "fd00:ec2::254/128",  /* AWS IMDS over IPv6 */
    "100.100.100.200/32", /* Alibaba Cloud */
};
#define N(a) (sizeof(a) / sizeof((a)[0]))

static int in_cidr(const uint8_t a[16], const miaw_wh_cidr *c)
{
    int bits = c->prefix, i = 0;
    for (; bits >= 8; bits -= 8, i++)
        if (a[i] != c->addr[i]) return 0;
    if (bits == 0) return 1;
    uint8_t mask = (uint8_t)(0xFF << (8 - bits));
    return (a[i] & mask) == (c->addr[i] & mask);
}

static void v4_mapped(uint8_t out[16], const uint8_t v4[4])
{
    memset(out, 0, 10);
    out[10] = out[11] = 0xFF;
    memcpy(out + 12, v4, 4);
}

int miaw_wh_cidr_parse(const char *s, miaw_wh_cidr *out)
{
    char buf[80];
    if (!s) return -1;
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) n--;
    if (n == 0 || n >= sizeof buf) return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *slash = strchr(buf, '/');
    long prefix = -1;
    if (slash) {
        char *end;
        *slash = 0;
        if (!isdigit((unsigned char)slash[1])) return -1;
        prefix = strtol(slash + 1, &end, 10);
        if (*end || prefix < 0) return -1;
    }
    memset(out, 0, sizeof *out);
    uint8_t v4[4];
    if (inet_pton(AF_INET, buf, v4) == 1) { /* strict dotted quad only in a policy */
        if (prefix > 32) return -1;
        v4_mapped(out->addr, v4);
        out->prefix = 96 + (prefix < 0 ? 32 : (int)prefix);
    } else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        if (prefix > 128) return -1;
        out->prefix = prefix < 0 ? 128 : (int)prefix;
    } else {
        return -1;
    }
    /* clear host bits so that in_cidr compares prefixes only */
    for (int bit = out->prefix; bit < 128; bit++) out->addr[bit / 8] &= (uint8_t)~(0x80 >> (bit % 8));
    return 0;
}

static int in_table(const uint8_t a[16], const char **tab, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        miaw_wh_cidr c;
        if (miaw_wh_cidr_parse(tab[i], &c) == 0 && in_cidr(a, &c)) return 1;
    }
    return 0;
}

static int in_list(const uint8_t a[16], const miaw_wh_cidr *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (in_cidr(a, &l[i])) return 1;
    return 0;
}

/* the IPv4 address embedded in a (mapped, compatible, NAT64, 6to4) into v4: 1, else 0 */
static int embedded_v4(const uint8_t a[16], uint8_t v4[4])
{
    static const uint8_t zero[12] = {0}, mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF},
                         nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    if (!memcmp(a, mapped, 12) || !memcmp(a, nat64, 12) || (!memcmp(a, zero, 12) && (a[12] | a[13]))) {
        memcpy(v4, a + 12, 4); /* ::a.b.c.d (compatible) excludes :: and ::1 themselves */
        return 1;
    }
    if (a[0] == 0x20 && a[1] == 0x02) { /* 2002:AABB:CCDD::/48 */
        memcpy(v4, a + 2, 4);
        return 1;
    }
    return 0;
}

int miaw_wh_addr_class(const uint8_t addr[16])
{
    if (in_table(addr, METADATA_RANGES, N(METADATA_RANGES))) return 2;
    if (in_table(addr, PRIVATE_RANGES, N(PRIVATE_RANGES))) return 1;
    return 0;
}

static int verdict1(const miaw_wh_policy *p, const uint8_t a[16])
{
    if (in_list(a, p->deny, p->ndeny)) return MIAW_WH_DENIED_LIST;
    if (in_list(a, p->allow, p->nallow)) return MIAW_WH_ALLOWED;
    int cls = miaw_wh_addr_class(a);
    if (cls == 2 && (p->block_metadata || p->block_private)) return MIAW_WH_DENIED_METADATA;
    if (cls == 1 && p->block_private) return MIAW_WH_DENIED_PRIVATE;
    return MIAW_WH_ALLOWED;
}

int miaw_wh_policy_check_addr(const miaw_wh_policy *p, const uint8_t addr[16])
{
    int v = verdict1(p, addr);
    if (v != MIAW_WH_ALLOWED) return v;
    uint8_t v4[4], m[16];
    /* an address that only wraps an IPv4 one is judged by that one too, unless the
     * IPv6 form itself is allow-listed */
    if (embedded_v4(addr, v4) && !in_list(addr, p->allow, p->nallow)) {
        v4_mapped(m, v4);
        if (memcmp(m, addr, 16) != 0) return verdict1(p, m);
    }
    return MIAW_WH_ALLOWED;
}

int miaw_wh_addr_from_sockaddr(const struct sockaddr *sa, uint8_t out[16])
{
    if (!sa) return -1;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        v4_mapped(out, (const uint8_t *)&s4->sin_addr);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        return 0;
    }
    return -1;
}

static int parse_list(const miaw_strlist *l, miaw_wh_cidr **out, size_t *n, const char *key, char *err,
                      size_t errlen)
{
    *out = NULL;
    *n = 0;
    if (!l->n) return 0;
    if (!(*out = calloc(l->n, sizeof **out))) return snprintf(err, errlen, "out of memory"), -1;
    for (size_t i = 0; i < l->n; i++) {
        if (miaw_wh_cidr_parse(l->v[i], &(*out)[i]) != 0) {
            snprintf(err, errlen, "webhook.policy.%s: '%.80s' is not an address or CIDR range (e.g. 10.0.0.0/8, "
                     "fd00::/8)", key, l->v[i]);
            free(*out);
            *out = NULL;
            return -1;
        }
    }
    *n = l->n;
    return 0;
}

int miaw_wh_policy_init(miaw_wh_policy *p, const miaw_config *cfg, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    p->block_private = cfg->webhook_block_private;
    p->block_metadata = cfg->webhook_block_metadata;
    p->https_only = cfg->webhook_https_only;
    if (parse_list(&cfg->webhook_allow, &p->allow, &p->nallow, "allow", err, errlen) != 0 ||
        parse_list(&cfg->webhook_deny, &p->deny, &p->ndeny, "deny", err, errlen) != 0) {
        miaw_wh_policy_free(p);
        return -1;
    }
    return 0;
}

void miaw_wh_policy_free(miaw_wh_policy *p)
{
    free(p->allow);
    free(p->deny);
    memset(p, 0, sizeof *p);
}

int miaw_wh_policy_check_url(const miaw_wh_policy *p, const char *url)
{
    if (!url) return MIAW_WH_DENIED_SCHEME;
    const char *h;
    if (strncasecmp(url, "https://", 8) == 0) h = url + 8;
    else if (strncasecmp(url, "http://", 7) == 0) h = url + 7;
    else return MIAW_WH_DENIED_SCHEME;
    if (p->https_only && h == url + 7) return MIAW_WH_DENIED_SCHEME;
    size_t n = strcspn(h, "/?#");
    const char *at = memchr(h, '@', n);
    if (at) {
        n -= (size_t)(at + 1 - h);
        h = at + 1;
    }
    char host[128];
    size_t hl;
    uint8_t a[16];
    if (n && h[0] == '[') {
        const char *rb = memchr(h, ']', n);
        if (!rb || (hl = (size_t)(rb - h - 1)) >= sizeof host) return MIAW_WH_ALLOWED; /* invalid: no address */
        memcpy(host, h + 1, hl);
        host[hl] = 0;
        char *pct = strchr(host, '%'); /* zone id */
        if (pct) *pct = 0;
        if (inet_pton(AF_INET6, host, a) != 1) return MIAW_WH_ALLOWED;
        return miaw_wh_policy_check_addr(p, a);
    }
    const char *colon = memchr(h, ':', n);
    hl = colon ? (size_t)(colon - h) : n;
    if (hl == 0 || hl >= sizeof host) return MIAW_WH_ALLOWED;
    memcpy(host, h, hl);
    host[hl] = 0;
    if (host[hl - 1] == '.') host[hl - 1] = 0; /* "127.0.0.1." */
    struct in_addr in;
    /* inet_aton takes the legacy forms resolvers and curl also take: 2130706433,
     * 0x7f000001, 0177.0.0.1, 127.1 */
    if (inet_aton(host, &in) == 0) return MIAW_WH_ALLOWED;
    v4_mapped(a, (const uint8_t *)&in.s_addr);
    return miaw_wh_policy_check_addr(p, a);
}

int miaw_wh_policy_check_globals(const miaw_wh_policy *p, const miaw_strlist *urls, char *err, size_t errlen)
{
    for (size_t i = 0; i < urls->n; i++) {
        int v = miaw_wh_policy_check_url(p, urls->v[i]);
        if (v != MIAW_WH_ALLOWED) {
            snprintf(err, errlen, "webhook.url: '%.200s' is refused by the webhook target policy: %s (add its "
                     "address to webhook.policy.allow)", urls->v[i], miaw_wh_policy_reason(v));
            return -1;
        }
    }
    return 0;
}

const char *miaw_wh_policy_reason(int verdict)
{
    switch (verdict) {
    case MIAW_WH_ALLOWED: return "allowed";
    case MIAW_WH_DENIED_LIST: return "the address is in webhook.policy.deny";
    case MIAW_WH_DENIED_PRIVATE: return "the address is in a private, loopback or reserved range "
                                        "(webhook.policy.block_private)";
    case MIAW_WH_DENIED_METADATA: return "the address is link-local or a cloud metadata service "
                                         "(webhook.policy.block_metadata)";
    case MIAW_WH_DENIED_SCHEME: return "only https:// targets are allowed (webhook.policy.https_only)";
    default: return "refused by the webhook target policy";
    }
}
