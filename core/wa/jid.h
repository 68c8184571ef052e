/* core/wa/jid.h - WhatsApp JIDs ("user[_agent][:device]@server") as a plain value type:
 * parse, format, compare, and the wire forms they take in binary nodes. Owns nothing:
 * a miaw_jid holds its strings inline and is copied by value. */
#ifndef MIAW_WA_JID_H
#define MIAW_WA_JID_H
#include <stddef.h>
#include <stdint.h>

#define MIAW_JID_USER_MAX 127  /* bytes, without the NUL */
#define MIAW_JID_SERVER_MAX 31 /* bytes, without the NUL */
/* Longest string miaw_jid_format can produce, with the NUL. */
#define MIAW_JID_STR_MAX (MIAW_JID_USER_MAX + MIAW_JID_SERVER_MAX + 32)

/* Common servers. */
#define MIAW_SERVER_USER "s.whatsapp.net"
#define MIAW_SERVER_LID "lid"
#define MIAW_SERVER_GROUP "g.us"
#define MIAW_SERVER_BROADCAST "broadcast"
#define MIAW_SERVER_LEGACY "c.us"
#define MIAW_SERVER_NEWSLETTER "newsletter"
#define MIAW_SERVER_HOSTED "hosted"
#define MIAW_SERVER_HOSTED_LID "hosted.lid"
#define MIAW_SERVER_MSGR "msgr"
#define MIAW_SERVER_INTEROP "interop"

/* How the JID is written in a binary node (section 4.4 of the protocol facts). */
typedef enum {
    MIAW_JID_PAIR = 0,    /* JID_PAIR (250): user (or empty) + server */
    MIAW_JID_AD = 1,      /* AD_JID (247): domain byte + device byte + user */
    MIAW_JID_FB = 2,      /* FB_JID (246): user + u16 device + server ("msgr") */
    MIAW_JID_INTEROP = 3, /* INTEROP_JID (245): user + u16 device + u16 integrator + server */
} miaw_jid_kind;

/* AD_JID domain bytes. Any other domain byte is an "agent" on s.whatsapp.net. */
enum { MIAW_JID_DOMAIN_WA = 0, MIAW_JID_DOMAIN_LID = 1, MIAW_JID_DOMAIN_HOSTED = 128,
       MIAW_JID_DOMAIN_HOSTED_LID = 129 };

typedef struct miaw_jid {
    char user[MIAW_JID_USER_MAX + 1];     /* may be "" (server JIDs such as "@s.whatsapp.net") */
    char server[MIAW_JID_SERVER_MAX + 1]; /* never "" in a valid JID */
    uint16_t device;                      /* AD: 0..255; FB/INTEROP: 0..65535 */
    uint16_t integrator;                  /* INTEROP only */
    uint8_t agent;                        /* AD on s.whatsapp.net: the raw domain byte (0 = none) */
    uint8_t kind;                         /* miaw_jid_kind */
} miaw_jid;

/* Fill *j. Picks the wire form the way a typed client does: AD when device > 0 or an agent
 * is given on s.whatsapp.net, or the server is hosted/hosted.lid; FB for "msgr";
 * INTEROP for "interop" (agent = integrator); PAIR otherwise. Returns 0, or MIAW_E_INVAL
 * when user/server are too long, server is empty, a device is given for a server the AD
 * form cannot name (only s.whatsapp.net, lid, hosted, hosted.lid), or
 * device does not fit the form (AD: <= 255). */
int miaw_jid_init(miaw_jid *j, const char *user, const char *server, unsigned agent,
                  unsigned device);

/* Parse the string form:
 *   "user@server"                 PAIR (user may be empty)
 *   "user:device@server"          AD (device 0..255), FB when server is "msgr"
 *   "user_agent:device@server"    AD with an agent on s.whatsapp.net (decimal 2..255
 *                                 except 128, 129: those domain bytes name servers)
 *   "integrator-user:device@interop"  INTEROP
 * The form follows the text: a ":device" part (even ":0") means AD, which only
 * s.whatsapp.net, lid, hosted and hosted.lid can carry. Returns 0 or
 * MIAW_E_INVAL. len: bytes of s (s need not be NUL-terminated). */
int miaw_jid_parsen(miaw_jid *j, const char *s, size_t len);
int miaw_jid_parse(miaw_jid *j, const char *s);

/* Write the string form (the inverse of miaw_jid_parse; AD always shows ":device") into
 * buf (cap bytes, MIAW_JID_STR_MAX is always enough). Returns the length, or a negative
 * error if it does not fit (buf then holds a truncated, NUL-terminated string). */
int miaw_jid_format(const miaw_jid *j, char *buf, size_t cap);

/* 1 when a and b name the same thing (all fields, form included), else 0. */
int miaw_jid_equal(const miaw_jid *a, const miaw_jid *b);
/* 1 when a and b have the same user and server (devices and forms ignored). */
int miaw_jid_same_user(const miaw_jid *a, const miaw_jid *b);
/* AD domain byte this JID is written with. */
uint8_t miaw_jid_domain(const miaw_jid *j);

/* A message recipient as a user gives it: a phone number (digits with country code,
 * 5-20 of them, no leading 0; spaces + - ( ) . ignored), a user JID (<digits>@s.whatsapp.net,
 * @c.us, <digits>@lid, no device) or a group JID (<id>@g.us, digits and '-'). Fills *out
 * with the user / group JID (c.us becomes s.whatsapp.net). 0 or MIAW_E_INVAL. */
int miaw_jid_recipient(const char *to, miaw_jid *out);
#endif
