/* core/engine/media.h - the engine's media transfers as the rest of the engine sees them:
 * set up with the engine, the plugin services media_upload / media_download /
 * media_cancel (plugins/services.h, semantics of the plugin ABI in miaw/plugin.h), the end
 * of an instance's transfers when it is released, teardown. The work is done in
 * media.c (transfers, media_conn cache), media_up.c, media_down.c and media_http.c.
 *
 * Settings: whatsapp.media_ca_file, media_upload_hosts, media_timeout_ms, media_max_mb
 * (config/miaw.yaml). Ownership: the state hangs off miaw_engine.media and is freed by
 * eng_media_free; bytes given to an upload are copied; media JSON is borrowed for the
 * call. Loop thread only. */
#ifndef MIAW_ENGINE_MEDIA_H
#define MIAW_ENGINE_MEDIA_H
#include <jansson.h>
#include <miaw/plugin.h>
#include <stddef.h>
#include <stdint.h>

struct miaw_engine;

/* Creates e->media (the curl multi handle on e->loop, trusted CAs). 0, or -1 with a
 * message (an unreadable CA file). */
int eng_media_new(struct miaw_engine *e, char *err, size_t errlen);
/* Every transfer still in flight ends with MIAW_E_STATE; handles close on the next loop
 * turns (thread-pool jobs still running finish and free themselves). */
void eng_media_free(struct miaw_engine *e);
/* The instance is released or deleted: its transfers end with MIAW_E_STATE, its
 * media_conn answer is forgotten. */
void eng_media_release(struct miaw_engine *e, const char *instance_id);

/* services.h media_upload / media_download / media_cancel */
int eng_media_upload(void *engine, const char *instance_id, const char *media_type, const void *data, size_t len,
                     const char *path, miaw_media_fn cb, void *udata, uint64_t *handle, char *err, size_t errlen);
int eng_media_download(void *engine, const char *instance_id, const char *media_type, const json_t *media,
                       const char *path, miaw_media_chunk_fn chunk, miaw_media_fn cb, void *udata, uint64_t *handle,
                       char *err, size_t errlen);
void eng_media_cancel(void *engine, uint64_t handle);
#endif
