/* plugins/messages/media_meta.h - what a media file is and what a WhatsApp media message
 * says about it: type sniffing by magic bytes, image size and JPEG thumbnails
 * (libjpeg-turbo, libpng, libwebp, libswscale), PNG/WebP -> JPEG for images, WebP
 * 512x512 stickers, audio/video duration, video thumbnails and voice-note waveforms
 * (libavformat/libavcodec). Pure functions of files: no plugin API, no loop, safe to call
 * from a worker thread (one mm_result per call). Ownership: an mm_result owns its thumb
 * and its out_path (a converted file it created); mm_result_clear frees both and removes
 * the converted file unless the caller took it (set out_path NULL). Built as its own module,
 * messages-media.so (plugins/messages/deps.cmake): media.c loads it on first use and calls
 * the MM_API functions through the table mm_api. */
#ifndef MIAW_PLUGIN_MEDIA_META_H
#define MIAW_PLUGIN_MEDIA_META_H
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define MM_API __attribute__((visibility("default")))
#else
#define MM_API
#endif

typedef enum mm_format {
    MM_UNKNOWN = 0,
    MM_JPEG, MM_PNG, MM_WEBP, MM_GIF, MM_BMP,          /* images */
    MM_MP4, MM_MOV, MM_3GP, MM_WEBM, MM_AVI,           /* video containers (MP4 may hold only audio) */
    MM_M4A, MM_OGG, MM_MP3, MM_AAC, MM_AMR, MM_WAV, MM_FLAC, /* audio */
    MM_PDF, MM_ZIP, MM_OLE, MM_RAR, MM_7Z, MM_GZIP, MM_TEXT, /* documents we can name */
    MM_FORMAT_COUNT
} mm_format;

/* The format of a file's first bytes (at least 12 are needed for most, 64 recommended). */
MM_API mm_format mm_sniff(const void *head, size_t n);
/* Reads the first 64 bytes of path: the format, or MM_UNKNOWN (also when unreadable). */
MM_API mm_format mm_sniff_file(const char *path);
MM_API const char *mm_format_mime(mm_format f); /* "image/jpeg"...; "application/octet-stream" for unknown */
MM_API const char *mm_format_ext(mm_format f);  /* "jpg"...; "bin" for unknown */
MM_API const char *mm_format_name(mm_format f); /* "JPEG"... for messages */

typedef enum mm_kind { MM_K_IMAGE, MM_K_VIDEO, MM_K_AUDIO, MM_K_DOCUMENT, MM_K_STICKER } mm_kind;

typedef struct mm_opts {
    mm_kind kind;
    int ptt;                   /* audio: a voice note (waveform) */
    const char *tmpdir;        /* where converted files go */
    uint32_t thumb_px;         /* longest side of jpegThumbnail (0 = 96) */
    uint64_t max_pixels;       /* decoded images larger than this are refused (0 = 25 MP) */
    uint64_t sticker_max;      /* static sticker bytes after conversion (0 = 100 KiB) */
    uint64_t sticker_anim_max; /* animated sticker bytes (0 = 500 KiB) */
} mm_opts;

typedef struct mm_result {
    mm_format in_format;       /* what the input was */
    char *out_path;            /* a converted file (JPEG image, WebP sticker) or NULL: send the input */
    char mimetype[64];         /* of what is sent */
    char ext[8];               /* file extension of what is sent */
    uint32_t width, height;    /* 0 when unknown */
    uint32_t seconds;          /* audio/video, rounded (at least 1); 0 when unknown */
    int animated;              /* sticker */
    unsigned char *thumb;      /* JPEG thumbnail (image, video) or NULL; malloc'd */
    size_t thumb_len;
    uint8_t waveform[64];      /* voice notes: 64 values 0..100 */
    int has_waveform;
    char err[256];             /* why it failed */
} mm_result;

/* Checks and describes the file at path for kind o->kind; converts when WhatsApp needs
 * another format (images: PNG/WebP -> JPEG; stickers: PNG/JPEG/WebP not 512x512 -> WebP).
 * MIAW_OK; MIAW_E_INVAL (wrong or unreadable type, r->err says why); MIAW_E_LIMIT (too many
 * pixels, or a sticker that stays too large); MIAW_E_IO / MIAW_E_NOMEM. Never a crash on
 * any input. r is zeroed first. */
MM_API int mm_process(const char *path, const mm_opts *o, mm_result *r);
/* Once, before any mm_process (process-wide library settings: libav* logging off). */
MM_API void mm_init(void);
MM_API void mm_result_clear(mm_result *r);

/* Helpers exposed for unit tests: a JPEG thumbnail (longest side <= px) of RGB(A) pixels;
 * malloc'd JPEG bytes or NULL. channels 3 or 4 (alpha composited over white). */
MM_API unsigned char *mm_thumb_jpeg(const uint8_t *pix, uint32_t w, uint32_t h, int channels, uint32_t px, size_t *len);
/* Waveform of n magnitudes (any scale): 64 values 0..100, the loudest 100. */
MM_API void mm_waveform_from(const float *mag, size_t n, uint8_t out[64]);

/* What media.c takes from the module: mm_api_get() of messages-media.so. */
typedef struct mm_api {
    int (*process)(const char *path, const mm_opts *o, mm_result *r);
    void (*result_clear)(mm_result *r);
} mm_api;
MM_API const mm_api *mm_api_get(void); /* calls mm_init */
#endif
