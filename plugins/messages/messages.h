/* plugins/messages/messages.h - what the files of the messages plugin share. Every .c in
 * plugins/messages/ is compiled into messages.so; each feature file registers its routes
 * and subscriptions from setup() in messages.c (inside init) through one function
 * declared here. The plugin's handle and the host table live in miaw_plugin_base
 * (miaw/plugin_util.h), valid from init to fini. */
#ifndef MIAW_PLUGIN_MESSAGES_H
#define MIAW_PLUGIN_MESSAGES_H
#include <jansson.h>
#include <miaw/plugin.h>
#include <miaw/plugin_util.h>

/* messages.c: the text route */
int msgs_text_routes(miaw_plugin_base *b, char *err, size_t errlen);

/* feature files add their registration functions below, one line each */
/* actions.c, kinds.c, events.c: edit/delete/react/forward; location/contact; the events */
int msgs_action_routes(miaw_plugin_base *b, char *err, size_t errlen);
int msgs_kind_routes(miaw_plugin_base *b, char *err, size_t errlen);
int msgs_event_setup(miaw_plugin_base *b, char *err, size_t errlen);
/* actions.c: sends msg (borrowed) through msg_send and answers req once acknowledged with
 * {<id_key or "messageId">: id, timestamp (ms)} + extra (stolen, may be NULL), emitting
 * message_ack "server"; returns the handler's return value (MIAW_ASYNC, or MIAW_OK after
 * an error answer). msgs_message_base: {messageContextInfo: {messageSecret}} (new) */
int msgs_send(miaw_plugin_base *b, miaw_req *req, const char *inst, const char *to, const json_t *msg,
              const miaw_msg_opts *opts, const char *id_key, json_t *extra);
json_t *msgs_message_base(void);
/* kinds.c: the text route's mentions into msg; MIAW_OK, or MIAW_E_INVAL with req answered */
int msgs_text_mentions(miaw_plugin_base *b, miaw_req *req, json_t *msg, const json_t *mentions);
/* events.c: message_ack "server" for a send acknowledged at ts_s (once per message) */
void msgs_ack_server(const miaw_host_api *api, miaw_plugin *self, const char *inst, const char *id, const char *chat,
                     int64_t ts_s);
int msgs_media_routes(miaw_plugin_base *b, const json_t *config, char *err, size_t errlen); /* media.c */
int msgs_history_routes(miaw_plugin_base *b, char *err, size_t errlen); /* history.c: chats, chat messages, one message */
#endif
