/* sim/phone_media.h - the simulated phones and media: a received image, video, audio,
 * sticker or document message (1:1 or group) is fetched from the simulator's media store
 * by its direct path (or URL), checked (fileEncSha256, the 10-byte MAC, fileSha256,
 * fileLength) and decrypted, and described in the phone's message list (phone_media.c);
 * the control API's {"to","image"|"video"|"audio"|"sticker"|"document":{"base64",…}} is
 * encrypted with a fresh media key, stored as an upload would be, and sent like text to
 * an account or a group (phone_media_send.c).
 * Owns nothing beyond a call (blobs belong to media.c, records to the phone's inbox and
 * outbox). Loop thread only. */
#ifndef MIAW_SIM_PHONE_MEDIA_H
#define MIAW_SIM_PHONE_MEDIA_H
#include <h2o.h>
#include <jansson.h>

#include "sim.h"
#include "wa_message.pb-c.h"

#define MIAW_SIM_PHONE_MEDIA_MAX (768u << 10) /* decoded bytes a control request may send */

/* m (a decrypted Message, DSM already unwrapped; view-once, document-with-caption and
 * ephemeral wrappers are looked through) carries media: add "type" (image, video (also
 * a ptvMessage, with "ptv"), audio, sticker, document), "mimetype", "caption", "fileName", "fileSha256"
 * (base64, as the message claims), "fileLength", "mediaSha256" (base64 SHA-256 of what
 * decrypted) and "mediaOk" (true when fetched, hashes, MAC and length all check; else
 * false with "mediaError") to the record e. 1 when m was a media message, else 0. */
int miaw_sim_phone_media_describe(const Miaw__Wa__Message *m, json_t *e);

/* How many of the media objects ("image", "video", "audio", "sticker", "document") the
 * request body b has (0: not a media send). */
int miaw_sim_phone_media_kind(const json_t *b);

/* POST /sim/accounts/{phone}/messages with one media object (b borrowed): {"base64",
 * "mimetype"} and per kind "caption" (image, video, document), "fileName" (document),
 * "width"/"height" (image, video, sticker), "seconds" (video, audio), "ptt" (audio),
 * "isAnimated" (sticker); "to" an account or a group JID. Validates, sends, answers req
 * (201 {"id"}, 400, 404, 409 not a member, 500). */
void miaw_sim_phone_media_post(miaw_sim *sim, h2o_req_t *req, miaw_sim_account *a, json_t *b);
#endif
