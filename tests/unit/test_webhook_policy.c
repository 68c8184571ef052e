/* tests/unit/test_webhook_policy.c - the webhook target policy (SSRF guard): CIDR parsing,
 * the classification of special-purpose ranges (IPv4, IPv6, and IPv6 forms embedding an
 * IPv4 address), the order deny > allow > switches, and the early URL check with the
 * legacy numeric forms of 127.0.0.1. */
#include "harness.h"

#include "base/config.h"
#include "webhooks/webhook_policy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static void addr(const char *s, uint8_t out[16])
{
    memset(out, 0, 16);
    uint8_t v4[4];
    if (inet_pton(AF_INET, s, v4) == 1) {
        out[10] = out[11] = 0xFF;
        memcpy(out + 12, v4, 4);
    } else {
        CU_ASSERT_EQUAL_FATAL(inet_pton(AF_INET6, s, out), 1);
    }
}

static int check(const miaw_wh_policy *p, const char *s)
{
    uint8_t a[16];
    addr(s, a);
    return miaw_wh_policy_check_addr(p, a);
}

static void test_cidr_parse(void)
{
    miaw_wh_cidr c;
    CU_ASSERT_EQUAL(miaw_wh_cidr_parse("10.0.0.0/8", &c), 0);
    CU_ASSERT_EQUAL(c.prefix, 104);
    CU_ASSERT_EQUAL(miaw_wh_cidr_parse("10.1.2.3/8", &c), 0); /* host bits cleared */
    CU_ASSERT_EQUAL(c.addr[13], 0);
    CU_ASSERT_EQUAL(miaw_wh_cidr_parse(" 192.168.1.7 ", &c), 0);
    CU_ASSERT_EQUAL(c.prefix, 128);
    CU_ASSERT_EQUAL(miaw_wh_cidr_parse("fd00::/8", &c), 0);
    CU_ASSERT_EQUAL(c.prefix, 8);
    CU_ASSERT_EQUAL(miaw_wh_cidr_parse("::1", &c), 0);
    const char *bad[] = {"", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8x", "example.com",
                         "2130706433", "0x7f000001", "10.0.0/8", "1.2.3.4/a", NULL};
    for (int i = 0; bad[i]; i++) CU_ASSERT_EQUAL(miaw_wh_cidr_parse(bad[i], &c), -1);
    CU_ASSERT_EQUAL(miaw_wh_cidr_parse(NULL, &c), -1);
}

static void test_classes(void)
{
    miaw_wh_policy p = {.block_private = 1, .block_metadata = 1};
    const char *priv[] = {"127.0.0.1", "127.255.255.254", "10.0.0.1", "172.16.0.1", "172.31.255.255",
                          "192.168.1.1", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "198.18.0.1",
                          "::1", "::", "fc00::1", "fd12:3456::1", "ff02::1", "fec0::1", "2001:db8::1",
                          /* IPv6 forms of private IPv4 addresses */
                          "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::127.0.0.1", "64:ff9b::7f00:1",
                          "2002:7f00:1::1", "2002:c0a8:101::", NULL};
    for (int i = 0; priv[i]; i++) {
        int v = check(&p, priv[i]);
        CU_ASSERT(v == MIAW_WH_DENIED_PRIVATE || v == MIAW_WH_DENIED_METADATA);
        if (v == MIAW_WH_ALLOWED) fprintf(stderr, "allowed but private: %s\n", priv[i]);
    }
    const char *meta[] = {"169.254.169.254", "169.254.0.1", "fe80::1", "fd00:ec2::254", "100.100.100.200",
                          "::ffff:169.254.169.254", NULL};
    for (int i = 0; meta[i]; i++) CU_ASSERT_EQUAL(check(&p, meta[i]), MIAW_WH_DENIED_METADATA);
    const char *pub[] = {"8.8.8.8", "1.1.1.1", "172.32.0.1", "172.15.255.255", "100.128.0.1", "192.169.0.1",
                         "2606:4700:4700::1111", "2a00:1450:4001::1", "::ffff:8.8.8.8", "64:ff9b::808:808", NULL};
    for (int i = 0; pub[i]; i++) {
        CU_ASSERT_EQUAL(check(&p, pub[i]), MIAW_WH_ALLOWED);
        if (check(&p, pub[i])) fprintf(stderr, "refused but public: %s\n", pub[i]);
    }
    /* switches off: everything passes but metadata, which block_metadata keeps refusing */
    miaw_wh_policy open = {.block_metadata = 1};
    CU_ASSERT_EQUAL(check(&open, "127.0.0.1"), MIAW_WH_ALLOWED);
    CU_ASSERT_EQUAL(check(&open, "10.0.0.1"), MIAW_WH_ALLOWED);
    CU_ASSERT_EQUAL(check(&open, "169.254.169.254"), MIAW_WH_DENIED_METADATA);
    CU_ASSERT_EQUAL(check(&open, "::ffff:169.254.169.254"), MIAW_WH_DENIED_METADATA);
    miaw_wh_policy none = {0};
    CU_ASSERT_EQUAL(check(&none, "169.254.169.254"), MIAW_WH_ALLOWED);
}

static miaw_wh_policy from_lists(const char *allow, const char *deny, int block_private)
{
    miaw_config c;
    char err[256] = "";
    CU_ASSERT_EQUAL_FATAL(miaw_config_load(&c, NULL, err, sizeof err), 0);
    c.webhook_block_private = block_private;
    c.webhook_block_metadata = 1;
    char *a = allow ? strdup(allow) : NULL, *d = deny ? strdup(deny) : NULL;
    char *av[1] = {a}, *dv[1] = {d};
    miaw_strlist keep_a = c.webhook_allow, keep_d = c.webhook_deny;
    c.webhook_allow = (miaw_strlist){a ? av : NULL, a ? 1 : 0};
    c.webhook_deny = (miaw_strlist){d ? dv : NULL, d ? 1 : 0};
    miaw_wh_policy p;
    CU_ASSERT_EQUAL(miaw_wh_policy_init(&p, &c, err, sizeof err), 0);
    c.webhook_allow = keep_a;
    c.webhook_deny = keep_d;
    miaw_config_free(&c);
    free(a);
    free(d);
    return p;
}

static void test_lists(void)
{
    /* allow overrides block_private, but not for addresses outside it */
    miaw_wh_policy p = from_lists("127.0.0.1/32", NULL, 1);
    CU_ASSERT_EQUAL(check(&p, "127.0.0.1"), MIAW_WH_ALLOWED);
    CU_ASSERT_EQUAL(check(&p, "127.0.0.2"), MIAW_WH_DENIED_PRIVATE);
    CU_ASSERT_EQUAL(check(&p, "::ffff:127.0.0.1"), MIAW_WH_ALLOWED); /* same address, other form */
    miaw_wh_policy_free(&p);
    /* deny wins over everything, also through an IPv6 wrapper */
    p = from_lists("10.0.0.0/8", "10.9.0.0/16", 0);
    CU_ASSERT_EQUAL(check(&p, "10.9.1.1"), MIAW_WH_DENIED_LIST);
    CU_ASSERT_EQUAL(check(&p, "::ffff:10.9.1.1"), MIAW_WH_DENIED_LIST);
    CU_ASSERT_EQUAL(check(&p, "10.8.1.1"), MIAW_WH_ALLOWED);
    miaw_wh_policy_free(&p);
    p = from_lists(NULL, "2001:db8::/32", 0);
    CU_ASSERT_EQUAL(check(&p, "2001:db8::5"), MIAW_WH_DENIED_LIST);
    CU_ASSERT_EQUAL(check(&p, "2001:db9::5"), MIAW_WH_ALLOWED);
    miaw_wh_policy_free(&p);
    /* a bad entry is a clear configuration error */
    miaw_config c;
    char err[256] = "";
    CU_ASSERT_EQUAL_FATAL(miaw_config_load(&c, NULL, err, sizeof err), 0);
    char *bad[1] = {"10.0.0.0/40"};
    miaw_strlist keep = c.webhook_deny;
    c.webhook_deny = (miaw_strlist){bad, 1};
    CU_ASSERT_EQUAL(miaw_wh_policy_init(&p, &c, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "webhook.policy.deny"));
    c.webhook_deny = keep;
    miaw_config_free(&c);
}

static void test_urls(void)
{
    miaw_wh_policy p = {.block_private = 1, .block_metadata = 1};
    const char *blocked[] = {"http://127.0.0.1/", "http://127.0.0.1:8080/hook", "http://2130706433/",
                             "http://0x7f000001/", "http://0x7f.0.0.1/", "http://0177.0.0.1/", "http://127.1/",
                             "http://017700000001/", "http://127.0.0.1./", "http://[::1]:80/",
                             "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/", "http://user@10.0.0.1/",
                             "http://169.254.169.254/latest/meta-data/", "https://[fd00::1]/", "http://[fe80::1%25eth0]/",
                             "HTTP://192.168.0.1/", "http://0/", NULL};
    for (int i = 0; blocked[i]; i++) {
        CU_ASSERT_NOT_EQUAL(miaw_wh_policy_check_url(&p, blocked[i]), MIAW_WH_ALLOWED);
        if (!miaw_wh_policy_check_url(&p, blocked[i])) fprintf(stderr, "URL allowed: %s\n", blocked[i]);
    }
    /* hostnames are judged at connect time, public literals pass */
    CU_ASSERT_EQUAL(miaw_wh_policy_check_url(&p, "http://localhost/"), MIAW_WH_ALLOWED);
    CU_ASSERT_EQUAL(miaw_wh_policy_check_url(&p, "https://example.com/hook"), MIAW_WH_ALLOWED);
    CU_ASSERT_EQUAL(miaw_wh_policy_check_url(&p, "http://8.8.8.8/"), MIAW_WH_ALLOWED);
    /* https_only */
    miaw_wh_policy h = {.https_only = 1};
    CU_ASSERT_EQUAL(miaw_wh_policy_check_url(&h, "http://example.com/"), MIAW_WH_DENIED_SCHEME);
    CU_ASSERT_EQUAL(miaw_wh_policy_check_url(&h, "https://example.com/"), MIAW_WH_ALLOWED);
    CU_ASSERT_EQUAL(miaw_wh_policy_check_url(&h, "ftp://example.com/"), MIAW_WH_DENIED_SCHEME);
    CU_ASSERT_PTR_NOT_NULL(strstr(miaw_wh_policy_reason(MIAW_WH_DENIED_SCHEME), "https_only"));
}

static void test_sockaddr(void)
{
    miaw_wh_policy p = {.block_private = 1};
    struct sockaddr_in s4 = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &s4.sin_addr);
    uint8_t a[16];
    CU_ASSERT_EQUAL(miaw_wh_addr_from_sockaddr((struct sockaddr *)&s4, a), 0);
    CU_ASSERT_EQUAL(miaw_wh_policy_check_addr(&p, a), MIAW_WH_DENIED_PRIVATE);
    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "::1", &s6.sin6_addr);
    CU_ASSERT_EQUAL(miaw_wh_addr_from_sockaddr((struct sockaddr *)&s6, a), 0);
    CU_ASSERT_EQUAL(miaw_wh_policy_check_addr(&p, a), MIAW_WH_DENIED_PRIVATE);
    struct sockaddr un = {.sa_family = AF_UNIX};
    CU_ASSERT_EQUAL(miaw_wh_addr_from_sockaddr(&un, a), -1);
}

MIAW_TESTS("webhook_policy", MIAW_T(test_cidr_parse), MIAW_T(test_classes), MIAW_T(test_lists), MIAW_T(test_urls),
           MIAW_T(test_sockaddr))
