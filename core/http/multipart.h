/* core/http/multipart.h - multipart/form-data request bodies (RFC 7578 over RFC 2046):
 * the boundary from the Content-Type, a parser of the buffered body into parts (name,
 * filename or filename*, per-part Content-Type, bytes), and the form a route sees: text
 * parts as string members of a JSON object, file parts spooled to temporary files (0600)
 * under <data_dir>/tmp. Owns a miaw_form's JSON and file records; miaw_form_free removes
 * the files.
 *
 * Memory: h2o 2.2.5 buffers the whole request body before the handler runs (in memory up
 * to 32 MiB, then in an mmap'd file under /tmp), bounded by h2o's hard entity limit
 * (http.c). Parsing copies no file bytes: each file part is written straight from h2o's
 * buffer to its temporary file, so after parsing the request holds h2o's buffer (until it
 * is answered) plus the text fields (at most body_max bytes) and one small record per
 * part. Writes happen on the loop (page cache; no fsync). */
#ifndef MIAW_MULTIPART_H
#define MIAW_MULTIPART_H
#include <jansson.h>
#include <miaw/plugin.h>
#include <stddef.h>
#include <stdint.h>

#define MIAW_MP_MAX_PARTS 256       /* parts in one body */
#define MIAW_MP_MAX_FILES 32        /* of which file parts */
#define MIAW_MP_MAX_HEADER 16384    /* bytes of one part's header section */

/* One part as the parser sees it; everything borrowed for the callback. data points into
 * the body. */
typedef struct miaw_mp_part {
    const char *name;         /* the form field's name (non-empty, valid UTF-8) */
    const char *filename;     /* filename* (UTF-8) or filename; NULL when the part is no file */
    const char *content_type; /* as given (trimmed), or NULL */
    const char *data;
    size_t len;
} miaw_mp_part;
/* 0 to go on; anything else stops the parse and is returned by miaw_multipart_parse */
typedef int (*miaw_mp_part_fn)(void *ud, const miaw_mp_part *p, char *err, size_t errlen);

/* 1 when content_type is multipart/form-data (with any parameters). */
int miaw_multipart_is_form(const char *content_type);
/* The boundary parameter (token or quoted string, 1-70 characters) into out.
 * 0, or -1 with a message. */
int miaw_multipart_boundary(const char *content_type, char *out, size_t cap, char *err, size_t errlen);
/* Parses a whole body: on_part for each part, in order. 0; -1 with err for a malformed
 * body (missing or unterminated delimiters, a part without Content-Disposition form-data
 * or name, header section over MIAW_MP_MAX_HEADER, more than MIAW_MP_MAX_PARTS parts); or
 * on_part's non-zero return. */
int miaw_multipart_parse(const char *body, size_t len, const char *boundary, miaw_mp_part_fn on_part, void *ud,
                         char *err, size_t errlen);

/* ---- the form of a request ---- */
typedef struct miaw_form_file {
    char *name, *path, *filename, *content_type; /* filename / content_type may be NULL */
    uint64_t size;
} miaw_form_file;

typedef struct miaw_form {
    json_t *fields;         /* text parts: {name: "value"}; owned */
    miaw_form_file *files;  /* file parts; owned */
    size_t nfiles;
} miaw_form;

#define MIAW_FORM_MALFORMED -1 /* 400: err says why, field names the part when one is at fault */
#define MIAW_FORM_STORE -2     /* 500: a temporary file could not be written */

/* Parses a multipart/form-data body (content_type carries the boundary) into form
 * (zeroed by the caller). Text parts must be valid UTF-8 and each name may appear once.
 * A file part with an empty filename and no bytes (an empty file input) is skipped.
 * File parts are written under <data_dir>/tmp; data_dir NULL writes nothing (the
 * records get no path: for fuzzing). 0, or MIAW_FORM_* with field ("" when no part is at
 * fault) and err; on failure the form holds nothing (files already written are removed). */
int miaw_form_parse(const char *content_type, const char *body, size_t len, const char *data_dir, miaw_form *form,
                    char *field, size_t fieldlen, char *err, size_t errlen);
/* Text fields whose schema property is an integer, number, boolean, object or array and
 * whose text is JSON of that type take that value (`count=3` becomes 3); anything else
 * stays a string, for the schema check to name. */
void miaw_form_coerce(json_t *fields, const miaw_field *props);
/* The file part `name`, or NULL. */
const miaw_form_file *miaw_form_file_get(const miaw_form *f, const char *name);
/* Removes the temporary files and frees everything; the form is zeroed. */
void miaw_form_free(miaw_form *f);

/* Creates <data_dir>/tmp (0700) when missing and a new empty file in it named
 * "<prefix>-<random hex>", opened for writing, mode 0600, O_EXCL. The fd, or -errno;
 * path gets the file's path. */
int miaw_tmpfile_open(const char *data_dir, const char *prefix, char *path, size_t cap);
#endif
