/* core/wa/jid.c - JID parse/format/compare and the choice of wire form. Owns no state;
 * every function works on caller-provided miaw_jid values. */
#include "jid.h"

#include <miaw/status.h>
#include <stdio.h>
#include <string.h>

static int copy_part(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap || memchr(s, '\0', n)) return MIAW_E_INVAL;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

/* Decimal 0..max, no sign, no leading '+', at least one digit, at most 6 digits. */
static int parse_num(const char *s, size_t n, unsigned max, unsigned *out)
{
    if (n == 0 || n > 6) return MIAW_E_INVAL;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return MIAW_E_INVAL;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > max) return MIAW_E_INVAL;
    *out = v;
    return 0;
}

/* Servers an AD_JID can name (others would decode as s.whatsapp.net). */
static int ad_server(const char *server)
{
    return !strcmp(server, MIAW_SERVER_USER) || !strcmp(server, MIAW_SERVER_LID) ||
           !strcmp(server, MIAW_SERVER_HOSTED) || !strcmp(server, MIAW_SERVER_HOSTED_LID);
}

/* An agent is a domain byte that does not already name a server. */
static int agent_ok(unsigned agent)
{
    return agent != MIAW_JID_DOMAIN_WA && agent != MIAW_JID_DOMAIN_LID &&
           agent != MIAW_JID_DOMAIN_HOSTED && agent != MIAW_JID_DOMAIN_HOSTED_LID && agent <= 255;
}

uint8_t miaw_jid_domain(const miaw_jid *j)
{
    if (!strcmp(j->server, MIAW_SERVER_LID)) return MIAW_JID_DOMAIN_LID;
    if (!strcmp(j->server, MIAW_SERVER_HOSTED)) return MIAW_JID_DOMAIN_HOSTED;
    if (!strcmp(j->server, MIAW_SERVER_HOSTED_LID)) return MIAW_JID_DOMAIN_HOSTED_LID;
    return j->agent;
}

int miaw_jid_init(miaw_jid *j, const char *user, const char *server, unsigned agent,
                  unsigned device)
{
    memset(j, 0, sizeof *j);
    if (!user) user = "";
    if (!server || !*server) return MIAW_E_INVAL;
    if (copy_part(j->user, sizeof j->user, user, strlen(user)) ||
        copy_part(j->server, sizeof j->server, server, strlen(server)))
        return MIAW_E_INVAL;
    if (!strcmp(server, MIAW_SERVER_MSGR)) {
        if (device > 0xffff || agent) return MIAW_E_INVAL;
        j->kind = MIAW_JID_FB;
    } else if (!strcmp(server, MIAW_SERVER_INTEROP)) {
        if (device > 0xffff || agent > 0xffff) return MIAW_E_INVAL;
        j->kind = MIAW_JID_INTEROP;
        j->integrator = (uint16_t)agent; /* for interop the "agent" argument is the integrator */
    } else {
        int hosted = !strcmp(server, MIAW_SERVER_HOSTED) || !strcmp(server, MIAW_SERVER_HOSTED_LID);
        if (device > 255 || agent > 255) return MIAW_E_INVAL;
        if (agent && (strcmp(server, MIAW_SERVER_USER) || !agent_ok(agent))) return MIAW_E_INVAL;
        j->agent = (uint8_t)agent;
        j->kind = (device > 0 || agent || hosted) ? MIAW_JID_AD : MIAW_JID_PAIR;
        if (j->kind == MIAW_JID_AD && !ad_server(server)) return MIAW_E_INVAL;
    }
    j->device = (uint16_t)device;
    return 0;
}

int miaw_jid_parsen(miaw_jid *j, const char *s, size_t len)
{
    memset(j, 0, sizeof *j);
    if (!s) return MIAW_E_INVAL;
    const char *at = memchr(s, '@', len);
    if (!at) return MIAW_E_INVAL;
    size_t ulen = (size_t)(at - s);
    const char *server = at + 1;
    size_t slen = len - ulen - 1;
    if (slen == 0 || memchr(server, '@', slen)) return MIAW_E_INVAL;
    if (copy_part(j->server, sizeof j->server, server, slen)) return MIAW_E_INVAL;
    const char *colon = memchr(s, ':', ulen);
    if (!colon) { /* PAIR; an interop/msgr JID without a device is not valid */
        if (!strcmp(j->server, MIAW_SERVER_INTEROP) || !strcmp(j->server, MIAW_SERVER_MSGR))
            return MIAW_E_INVAL;
        j->kind = MIAW_JID_PAIR;
        return copy_part(j->user, sizeof j->user, s, ulen);
    }
    size_t plen = (size_t)(colon - s); /* user part before ':' */
    unsigned v;
    if (!strcmp(j->server, MIAW_SERVER_MSGR)) {
        if (parse_num(colon + 1, ulen - plen - 1, 0xffff, &v)) return MIAW_E_INVAL;
        j->kind = MIAW_JID_FB;
        j->device = (uint16_t)v;
        return copy_part(j->user, sizeof j->user, s, plen);
    }
    if (!strcmp(j->server, MIAW_SERVER_INTEROP)) {
        const char *dash = memchr(s, '-', plen);
        unsigned integ;
        if (!dash || parse_num(s, (size_t)(dash - s), 0xffff, &integ)) return MIAW_E_INVAL;
        if (parse_num(colon + 1, ulen - plen - 1, 0xffff, &v)) return MIAW_E_INVAL;
        j->kind = MIAW_JID_INTEROP;
        j->device = (uint16_t)v;
        j->integrator = (uint16_t)integ;
        return copy_part(j->user, sizeof j->user, dash + 1, (size_t)(colon - dash - 1));
    }
    if (parse_num(colon + 1, ulen - plen - 1, 255, &v)) return MIAW_E_INVAL;
    if (!ad_server(j->server)) return MIAW_E_INVAL; /* the AD form cannot carry it */
    j->kind = MIAW_JID_AD;
    j->device = (uint16_t)v;
    const char *us = memchr(s, '_', plen);
    if (us && !strcmp(j->server, MIAW_SERVER_USER)) {
        unsigned agent;
        if (parse_num(us + 1, (size_t)(colon - us - 1), 255, &agent) || !agent_ok(agent))
            return MIAW_E_INVAL;
        j->agent = (uint8_t)agent;
        plen = (size_t)(us - s);
    }
    return copy_part(j->user, sizeof j->user, s, plen);
}

int miaw_jid_parse(miaw_jid *j, const char *s)
{
    return miaw_jid_parsen(j, s, s ? strlen(s) : 0);
}

int miaw_jid_format(const miaw_jid *j, char *buf, size_t cap)
{
    int n;
    switch (j->kind) {
    case MIAW_JID_AD:
        if (j->agent && miaw_jid_domain(j) == j->agent)
            n = snprintf(buf, cap, "%s_%u:%u@%s", j->user, j->agent, j->device, j->server);
        else
            n = snprintf(buf, cap, "%s:%u@%s", j->user, j->device, j->server);
        break;
    case MIAW_JID_FB:
        n = snprintf(buf, cap, "%s:%u@%s", j->user, j->device, j->server);
        break;
    case MIAW_JID_INTEROP:
        n = snprintf(buf, cap, "%u-%s:%u@%s", j->integrator, j->user, j->device, j->server);
        break;
    default:
        n = snprintf(buf, cap, "%s@%s", j->user, j->server);
        break;
    }
    if (n < 0 || (size_t)n >= cap) return MIAW_E_LIMIT;
    return n;
}

int miaw_jid_equal(const miaw_jid *a, const miaw_jid *b)
{
    return a->kind == b->kind && a->device == b->device && a->agent == b->agent &&
           a->integrator == b->integrator && !strcmp(a->user, b->user) &&
           !strcmp(a->server, b->server);
}

int miaw_jid_same_user(const miaw_jid *a, const miaw_jid *b)
{
    return !strcmp(a->user, b->user) && !strcmp(a->server, b->server);
}

/* "+1 (555) 123-4567" -> digits@s.whatsapp.net */
static int phone_jid(const char *to, miaw_jid *out)
{
    char d[32];
    size_t n = 0;
    for (const char *p = to; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            if (n >= 20) return MIAW_E_INVAL;
            d[n++] = *p;
        } else if (!strchr(" +-().", *p)) return MIAW_E_INVAL;
    }
    d[n] = 0;
    if (n < 5 || d[0] == '0') return MIAW_E_INVAL;
    return miaw_jid_init(out, d, MIAW_SERVER_USER, 0, 0);
}

int miaw_jid_recipient(const char *to, miaw_jid *out)
{
    if (!to || !*to) return MIAW_E_INVAL;
    if (!strchr(to, '@')) return phone_jid(to, out);
    miaw_jid j;
    if (miaw_jid_parse(&j, to) != 0 || !j.user[0] || j.device) return MIAW_E_INVAL;
    int group = !strcmp(j.server, MIAW_SERVER_GROUP);
    for (const char *p = j.user; *p; p++)
        if (!(*p >= '0' && *p <= '9') && !(group && *p == '-')) return MIAW_E_INVAL;
    if (!strcmp(j.server, MIAW_SERVER_LEGACY) || !strcmp(j.server, MIAW_SERVER_USER)) return phone_jid(j.user, out);
    if (!strcmp(j.server, MIAW_SERVER_LID) || group) return miaw_jid_init(out, j.user, j.server, 0, 0);
    return MIAW_E_INVAL;
}
