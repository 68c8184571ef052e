/* core/engine/engine_event.h - fields the engine adds to its events' data besides what
 * the receive paths build: the `media` summary of a `message` event. */
#ifndef MIAW_ENGINE_EVENT_H
#define MIAW_ENGINE_EVENT_H
#include <jansson.h>

#include "base/config.h"

/* When d.raw (a WAProto.Message as JSON) holds a media message (image, video, audio,
 * document, sticker; inside viewOnce/ephemeral/documentWithCaption wrappers too), sets
 * d.media = {type, mimetype, fileName?, fileLength, sha256 (hex), caption?, width?,
 * height?, seconds?, ptt?, isAnimated?, viewOnce?, path} where path is the API path that
 * streams the file (GET .../instances/{instanceId}/messages/{d.id}/media). cfg may be
 * NULL (default prefix). Leaves d alone otherwise. */
void eng_event_media(json_t *d, const char *instance_id, const miaw_config *cfg);
#endif
