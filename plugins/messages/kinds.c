/* plugins/messages/kinds.c - more kinds of messages to send (spec 4.4.2): a location POST
 * /instances/{instanceId}/messages/location (locationMessage, coordinates range-checked)
 * and contact cards POST …/messages/contact (vCard 3.0 built by msgkit.c; one card a
 * contactMessage, several a contactsArrayMessage), and the mentions of the text route
 * (contextInfo.mentionedJid from phone numbers or user JIDs). Answers through msgs_send
 * (actions.c). Owns nothing beyond a request. */
#include <jansson.h>
#include <miaw/plugin.h>
#include <miaw/plugin_util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "messages.h"
#include "msgkit.h"

#define MAX_CONTACTS 50

static int bad_to(const miaw_host_api *api, miaw_req *req, const char *to, char *jid, size_t cap)
{
    if (api->jid_normalize(to, jid, cap) == MIAW_OK) return 0;
    api->reply_status(req, MIAW_E_INVAL, "to",
                      "'to' must be a phone number (5-20 digits with country code), a user JID or a group JID");
    return 1;
}

/* ------------------------------------------------------------ location */
static int h_location(miaw_req *req, void *udata)
{
    miaw_plugin_base *b = udata;
    const miaw_host_api *api = b->api;
    const json_t *body = api->req_body(req);
    const char *inst = api->req_param(req, "instanceId");
    const char *to = json_string_value(json_object_get(body, "to"));
    char jid[128];
    if (bad_to(api, req, to, jid, sizeof jid)) return MIAW_OK;
    json_t *loc = json_pack("{s:f,s:f}", "degreesLatitude", json_number_value(json_object_get(body, "latitude")),
                            "degreesLongitude", json_number_value(json_object_get(body, "longitude")));
    static const char *const OPT[][2] = {{"name", "name"}, {"address", "address"}, {"url", "url"}};
    for (size_t i = 0; i < 3; i++) {
        const char *v = json_string_value(json_object_get(body, OPT[i][0]));
        if (v && *v) json_object_set_new(loc, OPT[i][1], json_string(v));
    }
    json_t *msg = msgs_message_base();
    if (msg) json_object_set(msg, "locationMessage", loc);
    json_decref(loc);
    miaw_msg_opts o = {sizeof o, .type = "text"};
    int rc = msgs_send(b, req, inst, to, msg, &o, "messageId", NULL);
    json_decref(msg);
    return rc;
}

/* ------------------------------------------------------------ contact cards */
static int plausible_email(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || at == s || !at[1] || strchr(at + 1, '@')) return 0;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ') return 0;
    return 1;
}

static int h_contact(miaw_req *req, void *udata)
{
    miaw_plugin_base *b = udata;
    const miaw_host_api *api = b->api;
    const json_t *body = api->req_body(req);
    const char *inst = api->req_param(req, "instanceId");
    const char *to = json_string_value(json_object_get(body, "to"));
    char jid[128], field[48];
    if (bad_to(api, req, to, jid, sizeof jid)) return MIAW_OK;
    const json_t *list = json_object_get(body, "contacts");
    json_t *cards = json_array();
    size_t i;
    const json_t *c;
    json_array_foreach(list, i, c) {
        mk_contact k = {json_string_value(json_object_get(c, "name")), json_string_value(json_object_get(c, "phone")),
                        json_string_value(json_object_get(c, "org")), json_string_value(json_object_get(c, "email"))};
        char digits[MK_PHONE_MAX];
        const char *why = NULL;
        if (mk_phone_digits(k.phone, digits) != 0) {
            snprintf(field, sizeof field, "contacts[%zu].phone", i);
            why = "phone must be a number with its country code (5-20 digits, e.g. +62 812 3456 7890)";
        } else if (k.email && *k.email && !plausible_email(k.email)) {
            snprintf(field, sizeof field, "contacts[%zu].email", i);
            why = "email must look like name@example.com";
        }
        char *vcard = why ? NULL : mk_vcard(&k);
        if (!vcard) {
            json_decref(cards);
            if (!why) return api->reply_status(req, MIAW_E_NOMEM, NULL, "out of memory"), MIAW_OK;
            return api->reply_status(req, MIAW_E_INVAL, field, "%s", why), MIAW_OK;
        }
        json_array_append_new(cards, json_pack("{s:s,s:s}", "displayName", k.name, "vcard", vcard));
        free(vcard);
    }
    json_t *msg = msgs_message_base();
    size_t n = json_array_size(cards);
    if (msg && n == 1) {
        json_object_set(msg, "contactMessage", json_array_get(cards, 0));
    } else if (msg) {
        char name[32];
        snprintf(name, sizeof name, "%zu contacts", n);
        json_object_set_new(msg, "contactsArrayMessage", json_pack("{s:s,s:O}", "displayName", name, "contacts", cards));
    }
    json_decref(cards);
    miaw_msg_opts o = {sizeof o, .type = "text"};
    int rc = msgs_send(b, req, inst, to, msg, &o, "messageId", json_pack("{s:I}", "contacts", (json_int_t)n));
    json_decref(msg);
    return rc;
}

/* ------------------------------------------------------------ mentions */
int msgs_text_mentions(miaw_plugin_base *b, miaw_req *req, json_t *msg, const json_t *mentions)
{
    const miaw_host_api *api = b->api;
    json_t *jids = json_array();
    size_t i;
    const json_t *v;
    json_array_foreach(mentions, i, v) {
        char jid[128], field[32];
        const char *s = json_string_value(v);
        if (!s || api->jid_normalize(s, jid, sizeof jid) != MIAW_OK || strstr(jid, "@g.us")) {
            snprintf(field, sizeof field, "mentions[%zu]", i);
            api->reply_status(req, MIAW_E_INVAL, field, "a mention is a phone number with country code or a user JID");
            json_decref(jids);
            return MIAW_E_INVAL;
        }
        json_array_append_new(jids, json_string(jid));
    }
    int rc = json_array_size(jids) ? mk_add_mentions(msg, jids) : 0;
    json_decref(jids);
    if (rc) api->reply_status(req, MIAW_E_INVAL, "mentions", "mentions need a text message");
    return rc ? MIAW_E_INVAL : MIAW_OK;
}

/* ------------------------------------------------------------ routes */
#define TO_FIELD                                                                                          \
    {.name = "to", .type = MIAW_T_STRING, .flags = MIAW_F_REQUIRED | MIAW_F_NONEMPTY | MIAW_F_HAS_MAX, .max = 128,  \
     .description = "Recipient: phone number with country code, a user JID or a group JID",                        \
     .example = "\"6281234567890\""}

static const miaw_field LOCATION_BODY[] = {
    TO_FIELD,
    {.name = "latitude", .type = MIAW_T_NUMBER, .flags = MIAW_F_REQUIRED | MIAW_F_HAS_MIN | MIAW_F_HAS_MAX,
     .min = -90, .max = 90, .description = "Degrees, -90 to 90", .example = "-6.175392"},
    {.name = "longitude", .type = MIAW_T_NUMBER, .flags = MIAW_F_REQUIRED | MIAW_F_HAS_MIN | MIAW_F_HAS_MAX,
     .min = -180, .max = 180, .description = "Degrees, -180 to 180", .example = "106.827153"},
    {.name = "name", .type = MIAW_T_STRING, .flags = MIAW_F_NULLABLE | MIAW_F_HAS_MAX, .max = 256,
     .description = "Name of the place (optional)", .example = "\"Monas\""},
    {.name = "address", .type = MIAW_T_STRING, .flags = MIAW_F_NULLABLE | MIAW_F_HAS_MAX, .max = 512,
     .description = "Its address (optional)", .example = "\"Gambir, Central Jakarta\""},
    {.name = "url", .type = MIAW_T_STRING, .flags = MIAW_F_NULLABLE | MIAW_F_HAS_MAX, .max = 2048, .format = "uri",
     .description = "A link about the place (optional)", .example = "\"https://maps.example/monas\""},
    {0},
};

static const miaw_field CONTACT_PROPS[] = {
    {.name = "name", .type = MIAW_T_STRING, .flags = MIAW_F_REQUIRED | MIAW_F_NONEMPTY | MIAW_F_HAS_MAX, .max = 256,
     .description = "Full name", .example = "\"John Doe\""},
    {.name = "phone", .type = MIAW_T_STRING, .flags = MIAW_F_REQUIRED | MIAW_F_NONEMPTY | MIAW_F_HAS_MAX, .max = 32,
     .description = "Phone number with country code (links the card to the WhatsApp account)",
     .example = "\"+62 812-3456-7890\""},
    {.name = "org", .type = MIAW_T_STRING, .flags = MIAW_F_NULLABLE | MIAW_F_HAS_MAX, .max = 256,
     .description = "Organization (optional)", .example = "\"Acme\""},
    {.name = "email", .type = MIAW_T_STRING, .flags = MIAW_F_NULLABLE | MIAW_F_HAS_MAX, .max = 254,
     .description = "E-mail address (optional)", .example = "\"john@example.com\""},
    {0},
};
static const miaw_field CONTACT_ITEM = {.type = MIAW_T_OBJECT, .flags = MIAW_F_STRICT, .props = CONTACT_PROPS};

static const miaw_field CONTACT_BODY[] = {
    TO_FIELD,
    {.name = "contacts", .type = MIAW_T_ARRAY, .flags = MIAW_F_REQUIRED | MIAW_F_HAS_MIN | MIAW_F_HAS_MAX, .min = 1,
     .max = MAX_CONTACTS, .items = &CONTACT_ITEM, .description = "1-50 contacts; one is sent as a contact card, "
     "several as one message holding all", .example = "[{\"name\":\"John Doe\",\"phone\":\"+62 812-3456-7890\"}]"},
    {0},
};

int msgs_kind_routes(miaw_plugin_base *b, char *err, size_t errlen)
{
    const miaw_route routes[] = {
        {MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/messages/location",
         .flags = MIAW_ROUTE_INSTANCE, .handler = h_location, .udata = b, .body = LOCATION_BODY, .timeout_ms = 60000,
         .operation_id = "sendLocation", .summary = "Send location", .tag = "Messages",
         .description = "Sends a location pin (locationMessage) and answers once WhatsApp's server acknowledged it. "
                        "400 INVALID_REQUEST with details.field for coordinates out of range or a bad 'to'; 404 "
                        "the number is not on WhatsApp; 503 not connected.",
         .response_example = "{\"messageId\":\"3EB0C4F1A2B3C4D5E6F7A8\",\"timestamp\":1735118400000}"},
        {MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/messages/contact",
         .flags = MIAW_ROUTE_INSTANCE, .handler = h_contact, .udata = b, .body = CONTACT_BODY, .timeout_ms = 60000,
         .operation_id = "sendContact", .summary = "Send contact card(s)", .tag = "Messages",
         .description = "Sends contact cards as vCard 3.0 (N, FN, ORG, EMAIL, TEL with waid= so WhatsApp offers to "
                        "message the contact): one contact as a contactMessage, several as a contactsArrayMessage. "
                        "400 INVALID_REQUEST with details.field (e.g. contacts[1].phone) for bad input.",
         .response_example = "{\"messageId\":\"3EB0C4F1A2B3C4D5E6F7A8\",\"contacts\":1,\"timestamp\":1735118400000}"},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (b->api->route_add(b->self, &routes[i], err, errlen) != MIAW_OK) return MIAW_E_INVAL;
    return MIAW_OK;
}
