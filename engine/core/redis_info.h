/* redis_info.h — the text of Redis INFO, as fields (pure C, no allocation).
 *
 * INFO answers "# Section" headers and "key:value" lines. An iterator walks
 * them without copying; values shaped "k=v,k=v" (keyspace "db0:keys=1,...",
 * commandstats, errorstats) can be walked again as sub-fields. */
#ifndef RB_REDIS_INFO_H
#define RB_REDIS_INFO_H
#include <stddef.h>

typedef struct {
    const char *p, *end;
    const char *section;    /* current "# Section" name, NULL before the first */
    size_t section_len;
} rb_redis_info_iter;

typedef struct {
    const char *section; size_t section_len;
    const char *key;     size_t key_len;
    const char *value;   size_t value_len;
} rb_redis_info_field;

void rb_redis_info_init(rb_redis_info_iter *it, const char *text, size_t len);

/* Next "key:value" line: 1 with *f filled, 0 at the end. Lines without a colon
 * are skipped. */
int rb_redis_info_next(rb_redis_info_iter *it, rb_redis_info_field *f);

/* 1 if every comma-separated piece of v is "k=v" with a non-empty k. */
int rb_redis_info_is_dict(const char *v, size_t len);

/* Next "k=v" of a dict value, advancing *p up to end: 1 or 0 at the end. */
int rb_redis_info_dict_next(const char **p, const char *end,
                            const char **k, size_t *klen, const char **v, size_t *vlen);

/* 1 if v is a plain decimal number ("-12", "3.50"): what INFO means as a
 * number. Hex-looking ids and versions ("7.0.15") are not. */
int rb_redis_info_is_number(const char *v, size_t len);
#endif
