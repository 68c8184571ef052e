/* plugins/presence/presence.h - what the files of the presence plugin share. Every .c
 * here is compiled into presence.so: presence.c (init: registration; the presence,
 * chat-state and subscribe routes), read.c (read receipts: POST .../read/{messageId} and
 * the per-chat read marks kept in the plugin's kv store), events.c (incoming <presence>
 * and <chatstate> -> the `presence` webhook event; this account's JIDs and push name,
 * learned from `ready`, <success> and the copies of its own messages).
 * The plugin's handle and the host table live in miaw_plugin_base (plugin_util.h), valid
 * from init to fini; everything runs on the loop thread; nothing is allocated between
 * calls besides the kv rows the host keeps. */
#ifndef MIAW_PLUGIN_PRESENCE_H
#define MIAW_PLUGIN_PRESENCE_H
#include <jansson.h>
#include <miaw/node_util.h>
#include <miaw/plugin.h>
#include <miaw/plugin_util.h>
#include <stddef.h>

#define PRS_JID_MAX 160

/* an attribute of a JSON node as a string: a plain string or the JID of {"jid": ...};
 * NULL when absent (borrowed from node) */
/* the user part of a JID ("1555:3@s.whatsapp.net" -> "1555") into out ("" when none) */
void prs_user(const char *jid, char *out, size_t n);

/* ------------------------------------------------------------ events.c */
int prs_events_register(miaw_plugin_base *b, char *err, size_t errlen);
/* this account's push name as last seen at login or on a copy of its own messages
 * ({"name"} in kv "pushName"); NULL when unknown. Returns a new json string reference (or NULL). */
json_t *prs_push_name(miaw_plugin_base *b, const char *inst);

/* ------------------------------------------------------------ read.c */
int prs_read_register(miaw_plugin_base *b, char *err, size_t errlen);
#endif
