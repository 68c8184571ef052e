/* plugins/messages/msgkit.c - pure helpers of the message actions and kinds (see
 * msgkit.h): vCards, phone digits, the emoji check, forwarded copies, mentions, receipt
 * types and the action events derived from `message` events. No state. */
#include "msgkit.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mk_phone_digits(const char *in, char out[MK_PHONE_MAX])
{
    size_t n = 0;
    if (!in) return -1;
    for (const char *p = in; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            if (n >= MK_PHONE_MAX - 1) return -1;
            out[n++] = *p;
        } else if (!strchr(" +-().", *p)) {
            return -1;
        }
    }
    out[n] = 0;
    return n >= 5 && out[0] != '0' ? 0 : -1;
}

/* ------------------------------------------------------------ vCard */
typedef struct buf {
    char *p;
    size_t n, cap;
    int bad;
} buf;

static void put(buf *b, const char *s, size_t n)
{
    if (b->bad) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 256) + n;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->bad = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

/* a text value with RFC 2426 escapes (\\ \, \; \n); CR dropped */
static void esc(buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' || c == ',' || c == ';') {
            char e[2] = {'\\', c};
            put(b, e, 2);
        } else if (c == '\n') {
            put(b, "\\n", 2);
        } else if (c != '\r') {
            put(b, &c, 1);
        }
    }
}

/* the logical line in l, folded at 75 octets (CRLF + space), then CRLF, into out */
static void line(buf *out, buf *l)
{
    size_t i = 0, first = 1;
    while (!l->bad && i < l->n) {
        size_t room = first ? 75 : 74, take = l->n - i < room ? l->n - i : room;
        /* never split a UTF-8 sequence: back off while the next byte continues one */
        while (take > 1 && i + take < l->n && ((unsigned char)l->p[i + take] & 0xC0) == 0x80) take--;
        if (!first) put(out, " ", 1);
        put(out, l->p + i, take);
        put(out, "\r\n", 2);
        i += take;
        first = 0;
    }
    if (l->bad) out->bad = 1;
    l->n = 0;
}

char *mk_vcard(const mk_contact *c)
{
    char digits[MK_PHONE_MAX];
    if (!c || !c->name || !*c->name || mk_phone_digits(c->phone, digits) != 0) return NULL;
    buf out = {0}, l = {0};
    const char *sp = strrchr(c->name, ' ');
    size_t nl = strlen(c->name);
    put(&out, "BEGIN:VCARD\r\nVERSION:3.0\r\n", 26);
    /* N: family;given;additional;prefix;suffix */
    put(&l, "N:", 2);
    if (sp && sp[1] && sp != c->name) {
        esc(&l, sp + 1, strlen(sp + 1));
        put(&l, ";", 1);
        esc(&l, c->name, (size_t)(sp - c->name));
    } else {
        put(&l, ";", 1);
        esc(&l, c->name, nl);
    }
    put(&l, ";;;", 3);
    line(&out, &l);
    put(&l, "FN:", 3);
    esc(&l, c->name, nl);
    line(&out, &l);
    if (c->org && *c->org) {
        put(&l, "ORG:", 4);
        esc(&l, c->org, strlen(c->org));
        line(&out, &l);
    }
    if (c->email && *c->email) {
        put(&l, "EMAIL;type=INTERNET:", 20);
        esc(&l, c->email, strlen(c->email));
        line(&out, &l);
    }
    put(&l, "TEL;type=CELL;type=VOICE;waid=", 30);
    put(&l, digits, strlen(digits));
    put(&l, ":+", 2);
    put(&l, digits, strlen(digits));
    line(&out, &l);
    put(&out, "END:VCARD\r\n", 11);
    free(l.p);
    if (out.bad || l.bad) {
        free(out.p);
        return NULL;
    }
    return out.p;
}

/* ------------------------------------------------------------ emoji */
/* the next code point of UTF-8 s (valid: jansson strings are), advancing *i */
static uint32_t next_cp(const unsigned char *s, size_t *i)
{
    uint32_t c = s[*i];
    int more = c < 0x80 ? 0 : c < 0xE0 ? 1 : c < 0xF0 ? 2 : 3;
    c &= more == 0 ? 0x7F : more == 1 ? 0x1F : more == 2 ? 0x0F : 0x07;
    (*i)++;
    for (int k = 0; k < more && s[*i]; k++) c = c << 6 | (s[(*i)++] & 0x3F);
    return c;
}

static int emoji_cp(uint32_t c)
{
    return c == 0xA9 || c == 0xAE || (c >= 0x203C && c <= 0x2BFF) || c == 0x3030 || c == 0x303D || c == 0x3297 ||
           c == 0x3299 || (c >= 0x1F000 && c <= 0x1FAFF) || c == 0x200D || c == 0xFE0F || c == 0xFE0E ||
           c == 0x20E3 || (c >= 0xE0020 && c <= 0xE007F);
}

int mk_is_emoji(const char *s)
{
    if (!s) return 0;
    size_t n = strlen(s), i = 0;
    if (n == 0) return 1;
    if (n > 64) return 0;
    const unsigned char *u = (const unsigned char *)s;
    int pictures = 0;
    while (i < n) {
        uint32_t c = next_cp(u, &i);
        if ((c >= '0' && c <= '9') || c == '#' || c == '*') { /* a keycap: 1 FE0F 20E3 */
            size_t j = i;
            uint32_t d = j < n ? next_cp(u, &j) : 0;
            if (d != 0xFE0F && d != 0x20E3) return 0;
            pictures++;
            continue;
        }
        if (!emoji_cp(c)) return 0;
        if (c != 0x200D && c != 0xFE0F && c != 0xFE0E && c != 0x20E3 && !(c >= 0xE0020 && c <= 0xE007F)) pictures++;
    }
    return pictures > 0;
}

/* ------------------------------------------------------------ forwarding */
static const char *content_key(const json_t *m)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)m, k, v) {
        if (strcmp(k, "messageContextInfo") && strcmp(k, "senderKeyDistributionMessage")) return k;
    }
    return NULL;
}

json_t *mk_forward(const json_t *m, const char **stanza_type, const char **why)
{
    static const char *const TEXT[] = {"extendedTextMessage", "locationMessage", "contactMessage",
                                       "contactsArrayMessage", NULL};
    static const char *const MEDIA[] = {"imageMessage", "videoMessage", "audioMessage", "documentMessage",
                                        "stickerMessage", "ptvMessage", NULL};
    const char *k = json_is_object(m) ? content_key(m) : NULL;
    *stanza_type = "text";
    if (!k) {
        *why = "the stored message has no content to forward";
        return NULL;
    }
    json_t *v = json_object_get(m, k);
    if (!strcmp(k, "conversation")) {
        if (!json_is_string(v)) {
            *why = "the stored message has no text";
            return NULL;
        }
        return json_pack("{s:{s:O,s:{s:b,s:i}}}", "extendedTextMessage", "text", v, "contextInfo", "isForwarded", 1,
                         "forwardingScore", 1);
    }
    int media = 0, known = 0;
    for (size_t i = 0; TEXT[i]; i++) known |= !strcmp(k, TEXT[i]);
    for (size_t i = 0; MEDIA[i]; i++) media |= !strcmp(k, MEDIA[i]);
    if ((!known && !media) || !json_is_object(v)) {
        *why = "this kind of message cannot be forwarded (reactions, edits, deletions, polls and unknown kinds)";
        return NULL;
    }
    if (json_is_true(json_object_get(v, "viewOnce"))) {
        *why = "view-once media cannot be forwarded";
        return NULL;
    }
    json_t *c = json_deep_copy(v);
    json_int_t score = json_integer_value(json_object_get(json_object_get(v, "contextInfo"), "forwardingScore"));
    json_object_set_new(c, "contextInfo", json_pack("{s:b,s:I}", "isForwarded", 1, "forwardingScore",
                                                    (json_int_t)(score > 0 && score < 1000 ? score + 1 : 1)));
    *stanza_type = media ? "media" : "text";
    return json_pack("{s:o}", k, c);
}

int mk_add_mentions(json_t *msg, const json_t *jids)
{
    json_t *conv = json_object_get(msg, "conversation");
    if (json_is_string(conv)) {
        json_object_set_new(msg, "extendedTextMessage", json_pack("{s:O}", "text", conv));
        json_object_del(msg, "conversation");
    }
    json_t *ext = json_object_get(msg, "extendedTextMessage");
    if (!json_is_object(ext)) return -1;
    json_t *ci = json_object_get(ext, "contextInfo");
    if (!json_is_object(ci)) {
        ci = json_object();
        json_object_set_new(ext, "contextInfo", ci);
    }
    json_object_set_new(ci, "mentionedJid", json_deep_copy(jids));
    return 0;
}

/* ------------------------------------------------------------ receipts */
const char *mk_receipt_status(const char *type)
{
    if (!type || !strcmp(type, "inactive")) return "delivery";
    if (!strcmp(type, "read") || !strcmp(type, "read-self")) return "read";
    if (!strcmp(type, "played") || !strcmp(type, "played-self")) return "played";
    return NULL;
}

int mk_ack_rank(const char *status)
{
    static const char *const R[] = {"server", "delivery", "read", "played"};
    for (int i = 0; status && i < 4; i++)
        if (!strcmp(status, R[i])) return i + 1;
    return 0;
}

int mk_user_jid(const char *jid, char *out, size_t cap)
{
    const char *at = jid ? strchr(jid, '@') : NULL;
    if (!at || at == jid) return -1;
    size_t ul = (size_t)(at - jid);
    const char *colon = memchr(jid, ':', ul);
    if (colon) ul = (size_t)(colon - jid);
    int n = snprintf(out, cap, "%.*s%s", (int)ul, jid, at);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* ------------------------------------------------------------ action events */
/* the text of an edited Message JSON */
static json_t *text_of(const json_t *m)
{
    const char *s = json_string_value(json_object_get(m, "conversation"));
    if (!s) s = json_string_value(json_object_get(json_object_get(m, "extendedTextMessage"), "text"));
    static const char *const CAP[] = {"imageMessage", "videoMessage", "documentMessage", NULL};
    for (size_t i = 0; !s && CAP[i]; i++) s = json_string_value(json_object_get(json_object_get(m, CAP[i]), "caption"));
    return s ? json_string(s) : json_null();
}

static json_int_t proto_type(const json_t *p)
{
    json_t *t = json_object_get(p, "type");
    if (!t) return 0; /* REVOKE is the default */
    if (json_is_integer(t)) return json_integer_value(t);
    const char *s = json_string_value(t);
    return !s ? -1 : !strcmp(s, "REVOKE") ? 0 : !strcmp(s, "MESSAGE_EDIT") ? 14 : -1;
}

static json_t *base(const json_t *d, const char *target)
{
    json_t *o = json_pack("{s:s}", "messageId", target);
    static const char *const K[] = {"chat", "from", "fromMe", "isGroup", NULL};
    for (size_t i = 0; K[i]; i++) {
        json_t *v = json_object_get(d, K[i]);
        json_object_set_new(o, K[i], v ? json_deep_copy(v) : json_null());
    }
    return o;
}

json_t *mk_action_event(const json_t *d, const char **type)
{
    const json_t *raw = json_object_get(d, "raw");
    const char *id = json_string_value(json_object_get(d, "id"));
    json_t *ts = json_object_get(d, "timestamp");
    const json_t *r = json_object_get(raw, "reactionMessage");
    if (json_is_object(r)) {
        const char *target = json_string_value(json_object_get(json_object_get(r, "key"), "id"));
        if (!target) return NULL;
        const char *emoji = json_string_value(json_object_get(r, "text"));
        json_t *o = base(d, target);
        json_object_set_new(o, "emoji", json_string(emoji ? emoji : ""));
        json_object_set_new(o, "reactionId", id ? json_string(id) : json_null());
        json_object_set_new(o, "timestamp", ts ? json_deep_copy(ts) : json_null());
        *type = "message_reaction";
        return o;
    }
    const json_t *p = json_object_get(raw, "protocolMessage");
    const json_t *key = json_object_get(p, "key");
    const char *target = json_string_value(json_object_get(key, "id"));
    json_int_t t = proto_type(p);
    if (!json_is_object(p) || !target || (t != 0 && t != 14)) return NULL;
    json_t *o = base(d, target);
    json_object_set_new(o, "protocolMessageId", id ? json_string(id) : json_null());
    if (t == 0) {
        const char *part = json_string_value(json_object_get(key, "participant"));
        json_object_set_new(o, "participant", part ? json_string(part) : json_null());
        json_object_set_new(o, "timestamp", ts ? json_deep_copy(ts) : json_null());
        *type = "message_delete";
        return o;
    }
    const json_t *em = json_object_get(p, "editedMessage");
    json_object_set_new(o, "text", text_of(em));
    json_object_set_new(o, "message", em ? json_deep_copy(em) : json_null());
    const json_t *jt = json_object_get(p, "timestampMs");
    const char *tms = json_string_value(jt);
    json_int_t at = tms ? (json_int_t)(strtoll(tms, NULL, 10) / 1000)
                        : json_is_integer(jt) ? json_integer_value(jt) / 1000 : json_integer_value(ts);
    json_object_set_new(o, "editedAt", json_integer(at > 0 ? at : json_integer_value(ts)));
    *type = "message_edit";
    return o;
}
