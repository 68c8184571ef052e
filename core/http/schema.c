/* core/http/schema.c - deep copy, checks, validation and JSON Schema output for miaw_field
 * lists (see schema.h). */
#include "http/schema.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const miaw_field *at(const miaw_field *base, size_t i, size_t stride)
{
    return (const miaw_field *)((const char *)base + i * stride);
}

static char *sdup(const char *s) { return s ? strdup(s) : NULL; }

static void field_free_members(miaw_field *f)
{
    free((char *)f->name);
    free((char *)f->format);
    free((char *)f->pattern);
    free((char *)f->description);
    free((char *)f->example);
    if (f->enum_values) {
        for (const char *const *e = f->enum_values; *e; e++) free((char *)*e);
        free((void *)f->enum_values);
    }
    if (f->items) {
        field_free_members((miaw_field *)f->items);
        free((void *)f->items);
    }
    miaw_schema_free((miaw_field *)f->props);
}

static int copy_one(miaw_field *dst, const miaw_field *src, size_t stride, int depth);

static miaw_field *dup_list(const miaw_field *src, size_t stride, int depth)
{
    if (!src || depth > 16) return NULL;
    size_t n = 0;
    while (at(src, n, stride)->name) n++;
    miaw_field *out = calloc(n + 1, sizeof *out);
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++)
        if (copy_one(&out[i], at(src, i, stride), stride, depth) != 0) {
            miaw_schema_free(out);
            return NULL;
        }
    return out;
}

static int copy_one(miaw_field *dst, const miaw_field *src, size_t stride, int depth)
{
    size_t n = stride < sizeof *dst ? stride : sizeof *dst;
    memset(dst, 0, sizeof *dst);
    memcpy(dst, src, n);
    dst->name = sdup(src->name);
    dst->format = sdup(src->format);
    dst->pattern = sdup(src->pattern);
    dst->description = sdup(src->description);
    dst->example = sdup(src->example);
    dst->enum_values = NULL;
    dst->items = NULL;
    dst->props = NULL;
    if (src->enum_values) {
        size_t k = 0;
        while (src->enum_values[k]) k++;
        const char **e = calloc(k + 1, sizeof *e);
        if (!e) return -1;
        for (size_t i = 0; i < k; i++) e[i] = strdup(src->enum_values[i]);
        dst->enum_values = e;
    }
    if (src->items) {
        miaw_field *it = calloc(1, sizeof *it);
        if (!it || copy_one(it, src->items, stride, depth + 1) != 0) {
            free(it);
            return -1;
        }
        if (!it->name) it->name = strdup("items");
        dst->items = it;
    }
    if (src->props) {
        dst->props = dup_list(src->props, stride, depth + 1);
        if (!dst->props) return -1;
    }
    return 0;
}

miaw_field *miaw_schema_dup(const miaw_field *src, size_t field_size)
{
    if (field_size < offsetof(miaw_field, example) + sizeof(const char *)) return NULL;
    return dup_list(src, field_size, 0);
}

void miaw_schema_free(miaw_field *list)
{
    if (!list) return;
    for (miaw_field *f = list; f->name; f++) field_free_members(f);
    free(list);
}

static int check_one(const miaw_field *f, char *err, size_t errlen)
{
    if (f->type > MIAW_T_ARRAY) {
        snprintf(err, errlen, "field '%s': unknown type %u", f->name, f->type);
        return -1;
    }
    if ((f->flags & MIAW_F_HAS_MIN) && (f->flags & MIAW_F_HAS_MAX) && f->min > f->max) {
        snprintf(err, errlen, "field '%s': min > max", f->name);
        return -1;
    }
    if (f->pattern) {
        regex_t re;
        if (regcomp(&re, f->pattern, REG_EXTENDED | REG_NOSUB) != 0) {
            snprintf(err, errlen, "field '%s': pattern does not compile", f->name);
            return -1;
        }
        regfree(&re);
    }
    if (f->type == MIAW_T_ARRAY && f->items && check_one(f->items, err, errlen) != 0) return -1;
    if (f->props && miaw_schema_check(f->props, err, errlen) != 0) return -1;
    return 0;
}

int miaw_schema_check(const miaw_field *list, char *err, size_t errlen)
{
    for (const miaw_field *f = list; f && f->name; f++)
        if (check_one(f, err, errlen) != 0) return -1;
    return 0;
}

static const char *type_name(uint32_t t)
{
    static const char *n[] = {"any", "string", "integer", "number", "boolean", "object", "array"};
    return t <= MIAW_T_ARRAY ? n[t] : "any";
}

static int type_ok(uint32_t t, const json_t *v)
{
    switch (t) {
    case MIAW_T_STRING: return json_is_string(v);
    case MIAW_T_INTEGER: return json_is_integer(v);
    case MIAW_T_NUMBER: return json_is_number(v);
    case MIAW_T_BOOLEAN: return json_is_boolean(v);
    case MIAW_T_OBJECT: return json_is_object(v);
    case MIAW_T_ARRAY: return json_is_array(v);
    default: return 1;
    }
}

static int format_ok(const char *fmt, const char *s)
{
    if (!fmt) return 1;
    if (strcmp(fmt, "uri") == 0)
        return (strncmp(s, "http://", 7) == 0 && s[7]) || (strncmp(s, "https://", 8) == 0 && s[8]);
    return 1; /* other formats are documentation; handlers check them with context */
}

#define FAIL(...)                              \
    do {                                       \
        snprintf(field, fieldlen, "%s", path); \
        snprintf(msg, msglen, __VA_ARGS__);    \
        return -1;                             \
    } while (0)

static int validate_value(const miaw_field *f, const json_t *v, const char *path, char *field,
                          size_t fieldlen, char *msg, size_t msglen, int depth)
{
    if (json_is_null(v)) {
        if (f->flags & MIAW_F_NULLABLE) return 0;
        FAIL("'%s' must not be null", path);
    }
    if (!type_ok(f->type, v)) FAIL("'%s' must be of type %s", path, type_name(f->type));
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        long long len = (long long)json_string_length(v);
        if ((f->flags & MIAW_F_NONEMPTY) && len == 0) FAIL("'%s' must not be empty", path);
        if ((f->flags & MIAW_F_HAS_MIN) && len < f->min) FAIL("'%s' must be at least %lld characters", path, (long long)f->min);
        if ((f->flags & MIAW_F_HAS_MAX) && len > f->max) FAIL("'%s' must be at most %lld characters", path, (long long)f->max);
        if (strlen(s) != (size_t)len) FAIL("'%s' must not contain NUL characters", path);
        if (f->enum_values) {
            int hit = 0;
            for (const char *const *e = f->enum_values; *e && !hit; e++) hit = strcmp(*e, s) == 0;
            if (!hit) {
                char list[512] = "";
                size_t o = 0;
                for (const char *const *e = f->enum_values; *e && o < sizeof list - 64; e++)
                    o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", o ? ", " : "", *e);
                FAIL("'%s' must be one of: %s", path, list);
            }
        }
        if (!format_ok(f->format, s)) FAIL("'%s' must be a valid %s", path, f->format);
        if (f->pattern) {
            regex_t re;
            if (regcomp(&re, f->pattern, REG_EXTENDED | REG_NOSUB) == 0) {
                int m = regexec(&re, s, 0, NULL, 0);
                regfree(&re);
                if (m != 0) FAIL("'%s' does not match the pattern %s", path, f->pattern);
            }
        }
    } else if (json_is_number(v)) {
        double d = json_number_value(v);
        if ((f->flags & MIAW_F_HAS_MIN) && d < (double)f->min) FAIL("'%s' must be >= %lld", path, (long long)f->min);
        if ((f->flags & MIAW_F_HAS_MAX) && d > (double)f->max) FAIL("'%s' must be <= %lld", path, (long long)f->max);
    } else if (json_is_array(v)) {
        long long n = (long long)json_array_size(v);
        if ((f->flags & MIAW_F_NONEMPTY) && n == 0) FAIL("'%s' must not be empty", path);
        if ((f->flags & MIAW_F_HAS_MIN) && n < f->min) FAIL("'%s' must have at least %lld items", path, (long long)f->min);
        if ((f->flags & MIAW_F_HAS_MAX) && n > f->max) FAIL("'%s' must have at most %lld items", path, (long long)f->max);
        if (f->items && depth < 16) {
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e) {
                char sub[256];
                snprintf(sub, sizeof sub, "%s[%zu]", path, i);
                if (validate_value(f->items, e, sub, field, fieldlen, msg, msglen, depth + 1) != 0) return -1;
            }
        }
    } else if (json_is_object(v) && f->props && depth < 16) {
        if (miaw_schema_validate(f->props, (f->flags & MIAW_F_STRICT) != 0, v, field, fieldlen, msg, msglen) != 0) {
            char inner[256];
            snprintf(inner, sizeof inner, "%s", field);
            snprintf(field, fieldlen, "%s%s%s", path, *inner ? "." : "", inner);
            return -1;
        }
    }
    return 0;
}

int miaw_schema_validate(const miaw_field *props, int strict, const json_t *obj, char *field,
                         size_t fieldlen, char *msg, size_t msglen)
{
    const char *path = "";
    if (!json_is_object(obj)) FAIL("the body must be a JSON object");
    for (const miaw_field *f = props; f && f->name; f++) {
        const json_t *v = json_object_get(obj, f->name);
        if (!v) {
            if (f->flags & MIAW_F_REQUIRED) {
                snprintf(field, fieldlen, "%s", f->name);
                snprintf(msg, msglen, "'%s' is required", f->name);
                return -1;
            }
            continue;
        }
        if (validate_value(f, v, f->name, field, fieldlen, msg, msglen, 0) != 0) return -1;
    }
    if (strict) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)obj, k, v) {
            int known = 0;
            for (const miaw_field *f = props; f && f->name && !known; f++) known = strcmp(f->name, k) == 0;
            if (!known) {
                snprintf(field, fieldlen, "%s", k);
                snprintf(msg, msglen, "'%s' is not a known field", k);
                return -1;
            }
        }
    }
    return 0;
}

static json_t *field_schema(const miaw_field *f)
{
    json_t *s = json_object();
    if (f->type != MIAW_T_ANY) {
        if (f->flags & MIAW_F_NULLABLE)
            json_object_set_new(s, "type", json_pack("[s,s]", type_name(f->type), "null"));
        else
            json_object_set_new(s, "type", json_string(type_name(f->type)));
    }
    const char *lo = NULL, *hi = NULL;
    if (f->type == MIAW_T_STRING) { lo = "minLength"; hi = "maxLength"; }
    else if (f->type == MIAW_T_ARRAY) { lo = "minItems"; hi = "maxItems"; }
    else if (f->type == MIAW_T_INTEGER || f->type == MIAW_T_NUMBER) { lo = "minimum"; hi = "maximum"; }
    if (lo && (f->flags & MIAW_F_HAS_MIN)) json_object_set_new(s, lo, json_integer(f->min));
    if (hi && (f->flags & MIAW_F_HAS_MAX)) json_object_set_new(s, hi, json_integer(f->max));
    if (lo && (f->flags & MIAW_F_NONEMPTY) && !(f->flags & MIAW_F_HAS_MIN)) json_object_set_new(s, lo, json_integer(1));
    if (f->format) json_object_set_new(s, "format", json_string(f->format));
    if (f->pattern) json_object_set_new(s, "pattern", json_string(f->pattern));
    if (f->description) json_object_set_new(s, "description", json_string(f->description));
    if (f->enum_values) {
        json_t *e = json_array();
        for (const char *const *p = f->enum_values; *p; p++) json_array_append_new(e, json_string(*p));
        json_object_set_new(s, "enum", e);
    }
    if (f->example) {
        json_t *ex = json_loads(f->example, JSON_DECODE_ANY, NULL);
        if (ex) json_object_set_new(s, "examples", json_pack("[o]", ex));
    }
    if (f->type == MIAW_T_ARRAY && f->items) json_object_set_new(s, "items", field_schema(f->items));
    if (f->type == MIAW_T_OBJECT && f->props) {
        json_t *o = miaw_schema_openapi(f->props);
        json_object_update(s, o);
        json_decref(o);
        if (f->flags & MIAW_F_STRICT) json_object_set_new(s, "additionalProperties", json_false());
    }
    return s;
}

json_t *miaw_schema_openapi(const miaw_field *props)
{
    json_t *s = json_pack("{s:s}", "type", "object"), *p = json_object(), *req = json_array();
    for (const miaw_field *f = props; f && f->name; f++) {
        json_object_set_new(p, f->name, field_schema(f));
        if (f->flags & MIAW_F_REQUIRED) json_array_append_new(req, json_string(f->name));
    }
    json_object_set_new(s, "properties", p);
    if (json_array_size(req)) json_object_set_new(s, "required", req);
    else json_decref(req);
    return s;
}
