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
int msgs_media_routes(miaw_plugin_base *b, const json_t *config, char *err, size_t errlen); /* media.c */
#endif
