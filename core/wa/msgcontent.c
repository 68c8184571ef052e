/* core/wa/msgcontent.c - Message protobuf payloads (see msgcontent.h): text and reply
 * building, the own-device wrapper, parsing received payloads, ids. */
#include "wa/msgcontent.h"
#include "wa/proto_json.h"

#include <miaw/status.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wa_message.pb-c.h"

int miaw_wa_message_id(const char *own_user, uint64_t unix_s, char buf[MIAW_WA_MSGID_MAX])
{
    uint8_t in[8 + 128 + 5 + 16], md[SHA256_DIGEST_LENGTH];
    size_t n = 0;
    for (int i = 7; i >= 0; i--) in[n++] = (uint8_t)(unix_s >> (8 * i));
    size_t ul = own_user ? strnlen(own_user, 128) : 0;
    memcpy(in + n, own_user ? own_user : "", ul);
    n += ul;
    memcpy(in + n, "@c.us", 5);
    n += 5;
    if (RAND_bytes(in + n, 16) != 1) return MIAW_E_INTERNAL;
    n += 16;
    SHA256(in, n, md);
    static const char hx[] = "0123456789ABCDEF";
    memcpy(buf, "3EB0", 4);
    for (int i = 0; i < 9; i++) {
        buf[4 + 2 * i] = hx[md[i] >> 4];
        buf[5 + 2 * i] = hx[md[i] & 15];
    }
    buf[22] = 0;
    return 0;
}

static int pack(const Miaw__Wa__Message *m, uint8_t **out, size_t *out_len)
{
    size_t n = miaw__wa__message__get_packed_size(m);
    uint8_t *b = malloc(n ? n : 1);
    if (!b) return MIAW_E_NOMEM;
    miaw__wa__message__pack(m, b);
    *out = b;
    *out_len = n;
    return 0;
}

int miaw_wa_text_message(const char *text, const miaw_wa_quote *quote, uint8_t **out, size_t *out_len)
{
    if (!text) return MIAW_E_INVAL;
    Miaw__Wa__Message m = MIAW__WA__MESSAGE__INIT, quoted = MIAW__WA__MESSAGE__INIT;
    Miaw__Wa__Message__ExtendedTextMessage ext = MIAW__WA__MESSAGE__EXTENDED_TEXT_MESSAGE__INIT;
    Miaw__Wa__ContextInfo ci = MIAW__WA__CONTEXT_INFO__INIT;
    Miaw__Wa__MessageContextInfo mci = MIAW__WA__MESSAGE_CONTEXT_INFO__INIT;
    uint8_t secret[32];
    if (RAND_bytes(secret, sizeof secret) != 1) return MIAW_E_INTERNAL;
    mci.has_messagesecret = 1;
    mci.messagesecret.data = secret;
    mci.messagesecret.len = sizeof secret;
    m.messagecontextinfo = &mci;
    if (quote && quote->id && *quote->id) {
        ext.text = (char *)text;
        ci.stanzaid = (char *)quote->id;
        ci.participant = (char *)quote->participant;
        if (quote->text) {
            quoted.conversation = (char *)quote->text;
            ci.quotedmessage = &quoted;
        }
        ext.contextinfo = &ci;
        m.extendedtextmessage = &ext;
    } else {
        m.conversation = (char *)text;
    }
    return pack(&m, out, out_len);
}

int miaw_wa_dsm_wrap(const char *destination_jid, const uint8_t *msg, size_t len, uint8_t **out, size_t *out_len)
{
    /* depth-checked: protobuf-c's own unpack recurses without a bound */
    Miaw__Wa__Message *inner = (Miaw__Wa__Message *)miaw_pb_unpack(&miaw__wa__message__descriptor, msg, len);
    if (!inner) return MIAW_E_INVAL;
    Miaw__Wa__Message m = MIAW__WA__MESSAGE__INIT;
    Miaw__Wa__Message__DeviceSentMessage dsm = MIAW__WA__MESSAGE__DEVICE_SENT_MESSAGE__INIT;
    /* the context info travels at the top level, not inside the copy */
    m.messagecontextinfo = inner->messagecontextinfo;
    inner->messagecontextinfo = NULL;
    dsm.destinationjid = (char *)destination_jid;
    dsm.message = inner;
    m.devicesentmessage = &dsm;
    int rc = pack(&m, out, out_len);
    inner->messagecontextinfo = m.messagecontextinfo;
    miaw__wa__message__free_unpacked(inner, NULL);
    return rc;
}

/* ------------------------------------------------------------ parsing */
static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static void context(miaw_wa_content *c, const Miaw__Wa__ContextInfo *ci)
{
    if (!ci) return;
    c->quoted_id = dup_or_null(ci->stanzaid);
    c->quoted_participant = dup_or_null(ci->participant);
}

static void target(miaw_wa_content *c, const Miaw__Wa__MessageKey *k)
{
    if (!k) return;
    c->target_id = dup_or_null(k->id);
    c->target_chat = dup_or_null(k->remotejid);
    c->target_participant = dup_or_null(k->participant);
    c->target_from_me = k->has_fromme && k->fromme;
}

/* the user content of m (wrappers already removed) */
static void summarize(miaw_wa_content *c, const Miaw__Wa__Message *m)
{
    if (m->conversation) {
        c->type = MIAW_WA_CONTENT_TEXT;
        c->text = strdup(m->conversation);
    } else if (m->extendedtextmessage) {
        c->type = MIAW_WA_CONTENT_TEXT;
        c->text = dup_or_null(m->extendedtextmessage->text);
        context(c, m->extendedtextmessage->contextinfo);
    } else if (m->imagemessage) {
        c->type = MIAW_WA_CONTENT_IMAGE;
        c->text = dup_or_null(m->imagemessage->caption);
        context(c, m->imagemessage->contextinfo);
    } else if (m->videomessage || m->ptvmessage) {
        const Miaw__Wa__Message__VideoMessage *v = m->videomessage ? m->videomessage : m->ptvmessage;
        c->type = MIAW_WA_CONTENT_VIDEO;
        c->text = dup_or_null(v->caption);
        context(c, v->contextinfo);
    } else if (m->audiomessage) {
        c->type = MIAW_WA_CONTENT_AUDIO;
        context(c, m->audiomessage->contextinfo);
    } else if (m->documentmessage) {
        c->type = MIAW_WA_CONTENT_DOCUMENT;
        c->text = dup_or_null(m->documentmessage->caption);
        context(c, m->documentmessage->contextinfo);
    } else if (m->stickermessage) {
        c->type = MIAW_WA_CONTENT_STICKER;
        context(c, m->stickermessage->contextinfo);
    } else if (m->contactmessage) {
        c->type = MIAW_WA_CONTENT_CONTACT;
        c->text = dup_or_null(m->contactmessage->displayname);
        context(c, m->contactmessage->contextinfo);
    } else if (m->contactsarraymessage) {
        c->type = MIAW_WA_CONTENT_CONTACT;
        c->text = dup_or_null(m->contactsarraymessage->displayname);
        context(c, m->contactsarraymessage->contextinfo);
    } else if (m->locationmessage) {
        c->type = MIAW_WA_CONTENT_LOCATION;
        c->text = dup_or_null(m->locationmessage->name);
        context(c, m->locationmessage->contextinfo);
    } else if (m->reactionmessage) {
        c->type = MIAW_WA_CONTENT_REACTION;
        c->text = dup_or_null(m->reactionmessage->text);
        target(c, m->reactionmessage->key);
    } else if (m->protocolmessage) {
        const Miaw__Wa__Message__ProtocolMessage *p = m->protocolmessage;
        c->type = MIAW_WA_CONTENT_PROTOCOL;
        c->proto_type = p->has_type ? (int)p->type : 0; /* REVOKE is the default value */
        target(c, p->key);
        if (p->has_timestampms) c->edit_ts_ms = p->timestampms;
        if (c->proto_type == MIAW_WA_PROTO_MESSAGE_EDIT && p->editedmessage) {
            miaw_wa_content e;
            memset(&e, 0, sizeof e);
            summarize(&e, p->editedmessage);
            c->text = e.text; /* the new text */
            e.text = NULL;
            miaw_wa_content_clear(&e);
            size_t n = miaw__wa__message__get_packed_size(p->editedmessage);
            if ((c->edited = malloc(n ? n : 1))) {
                miaw__wa__message__pack(p->editedmessage, c->edited);
                c->edited_len = n;
            }
        }
    } else if (m->senderkeydistributionmessage || m->fastratchetkeysenderkeydistributionmessage) {
        c->type = MIAW_WA_CONTENT_SKDM_ONLY;
    }
}

int miaw_wa_content_parse(const uint8_t *msg, size_t len, miaw_wa_content *out)
{
    memset(out, 0, sizeof *out);
    out->proto_type = -1;
    Miaw__Wa__Message *root = (Miaw__Wa__Message *)miaw_pb_unpack(&miaw__wa__message__descriptor, msg, len);
    if (!root) return MIAW_E_INVAL;
    const Miaw__Wa__Message *m = root;
    if (m->devicesentmessage) {
        out->dsm_destination = dup_or_null(m->devicesentmessage->destinationjid);
        if (m->devicesentmessage->message) m = m->devicesentmessage->message;
    }
    /* wrappers: bounded, a hostile payload may nest them */
    for (int depth = 0; depth < 4; depth++) {
        const Miaw__Wa__Message__FutureProofMessage *w = m->ephemeralmessage ? m->ephemeralmessage
                                                         : m->viewoncemessage ? m->viewoncemessage
                                                         : m->viewoncemessagev2 ? m->viewoncemessagev2
                                                         : m->viewoncemessagev2extension ? m->viewoncemessagev2extension
                                                         : m->documentwithcaptionmessage ? m->documentwithcaptionmessage
                                                         : m->editedmessage;
        if (!w || !w->message) break;
        m = w->message;
    }
    summarize(out, m);
    size_t n = miaw__wa__message__get_packed_size(m);
    out->inner = malloc(n ? n : 1);
    if (out->inner) {
        miaw__wa__message__pack(m, out->inner);
        out->inner_len = n;
    }
    miaw__wa__message__free_unpacked(root, NULL);
    if (!out->inner) {
        miaw_wa_content_clear(out);
        return MIAW_E_NOMEM;
    }
    return 0;
}

void miaw_wa_content_clear(miaw_wa_content *c)
{
    if (!c) return;
    free(c->text);
    free(c->quoted_id);
    free(c->quoted_participant);
    free(c->dsm_destination);
    free(c->inner);
    free(c->target_id);
    free(c->target_chat);
    free(c->target_participant);
    free(c->edited);
    memset(c, 0, sizeof *c);
    c->proto_type = -1;
}

/* ------------------------------------------------------------ edits */
/* the key of a Message JSON's content (the first that is not context or keys), or NULL */
static const char *content_key(json_t *m)
{
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v) {
        if (strcmp(k, "messageContextInfo") && strcmp(k, "senderKeyDistributionMessage") &&
            strcmp(k, "fastRatchetKeySenderKeyDistributionMessage"))
            return k;
    }
    return NULL;
}

static const char *edit_text(json_t *e, const char *ek)
{
    json_t *v = json_object_get(e, ek);
    if (!strcmp(ek, "conversation")) return json_string_value(v);
    if (!strcmp(ek, "extendedTextMessage")) return json_string_value(json_object_get(v, "text"));
    return NULL;
}

int miaw_wa_apply_edit(const uint8_t *orig, size_t orig_len, const uint8_t *edited, size_t edited_len, uint8_t **out,
                       size_t *out_len)
{
    json_t *o = orig_len ? miaw_pb_json_decode(&miaw__wa__message__descriptor, orig, orig_len) : json_object();
    json_t *e = miaw_pb_json_decode(&miaw__wa__message__descriptor, edited, edited_len);
    int rc = o && e ? 0 : MIAW_E_INVAL;
    const char *ok = rc ? NULL : content_key(o), *ek = rc ? NULL : content_key(e);
    if (!rc && ek) {
        json_t *ov = ok ? json_object_get(o, ok) : NULL, *ev = json_object_get(e, ek);
        const char *text = edit_text(e, ek);
        if (ok && !strcmp(ok, ek) && json_is_object(ov) && json_is_object(ev)) {
            json_object_update(ov, ev); /* same kind: changed fields replace, the rest stays */
        } else if (ok && text && json_is_object(ov) &&
                   (!strcmp(ok, "imageMessage") || !strcmp(ok, "videoMessage") || !strcmp(ok, "documentMessage"))) {
            json_object_set_new(ov, "caption", json_string(text));
        } else if (ok && text && !strcmp(ok, "extendedTextMessage") && json_is_object(ov)) {
            json_object_set_new(ov, "text", json_string(text));
        } else {
            if (ok) json_object_del(o, ok);
            json_object_set(o, ek, ev);
        }
    }
    if (!rc) rc = miaw_pb_json_encode(&miaw__wa__message__descriptor, o, out, out_len, NULL, 0);
    json_decref(o);
    json_decref(e);
    return rc;
}

const char *miaw_wa_content_type_name(miaw_wa_content_type t)
{
    static const char *names[] = {"unknown", "text", "image", "video", "audio", "document", "sticker",
                                  "contact", "location", "reaction", "protocol", "sender_key"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

static const char *mediatype_of(const Miaw__Wa__Message *m, int depth)
{
    if (!m || depth > 4) return NULL;
    if (m->imagemessage) return "image";
    if (m->videomessage) return m->videomessage->has_gifplayback && m->videomessage->gifplayback ? "gif" : "video";
    if (m->ptvmessage) return "video";
    if (m->audiomessage) return m->audiomessage->has_ptt && m->audiomessage->ptt ? "ptt" : "audio";
    if (m->documentmessage) return "document";
    if (m->stickermessage) return "sticker";
    if (m->contactmessage || m->contactsarraymessage) return "vcard";
    if (m->extendedtextmessage && m->extendedtextmessage->matchedtext && *m->extendedtextmessage->matchedtext)
        return "url";
    const Miaw__Wa__Message__FutureProofMessage *w[] = {m->viewoncemessage, m->viewoncemessagev2,
                                                         m->viewoncemessagev2extension, m->ephemeralmessage,
                                                         m->documentwithcaptionmessage};
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
        if (w[i] && w[i]->message) return mediatype_of(w[i]->message, depth + 1);
    return NULL;
}

const char *miaw_wa_enc_mediatype(const uint8_t *msg, size_t len)
{
    Miaw__Wa__Message *m = (Miaw__Wa__Message *)miaw_pb_unpack(&miaw__wa__message__descriptor, msg, len);
    const char *t = mediatype_of(m, 0);
    if (m) miaw__wa__message__free_unpacked(m, NULL);
    return t;
}
