/* redis_info.c — walks Redis INFO text (see redis_info.h). Pure C. */
#include "core/redis_info.h"
#include <string.h>

void rb_redis_info_init(rb_redis_info_iter *it, const char *text, size_t len)
{
    it->p = text;
    it->end = text + len;
    it->section = NULL;
    it->section_len = 0;
}

/* One line without its "\r\n" or "\n"; advances it->p. */
static void next_line(rb_redis_info_iter *it, const char **line, size_t *len)
{
    const char *nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
    const char *stop = nl ? nl : it->end;
    *line = it->p;
    *len = (size_t)(stop - it->p);
    if (*len > 0 && (*line)[*len - 1] == '\r') (*len)--;
    it->p = nl ? nl + 1 : it->end;
}

int rb_redis_info_next(rb_redis_info_iter *it, rb_redis_info_field *f)
{
    while (it->p < it->end) {
        const char *line, *colon;
        size_t len;
        next_line(it, &line, &len);
        if (len > 0 && line[0] == '#') {
            size_t skip = 1;
            while (skip < len && line[skip] == ' ') skip++;
            it->section = line + skip;
            it->section_len = len - skip;
            continue;
        }
        colon = len ? memchr(line, ':', len) : NULL;
        if (!colon || colon == line) continue;
        f->section = it->section;
        f->section_len = it->section_len;
        f->key = line;
        f->key_len = (size_t)(colon - line);
        f->value = colon + 1;
        f->value_len = len - f->key_len - 1;
        return 1;
    }
    return 0;
}

int rb_redis_info_dict_next(const char **p, const char *end,
                            const char **k, size_t *klen, const char **v, size_t *vlen)
{
    if (*p >= end) return 0;
    const char *comma = memchr(*p, ',', (size_t)(end - *p));
    const char *stop = comma ? comma : end;
    const char *eq = memchr(*p, '=', (size_t)(stop - *p));
    *k = *p;
    *klen = eq ? (size_t)(eq - *p) : (size_t)(stop - *p);
    *v = eq ? eq + 1 : stop;
    *vlen = (size_t)(stop - *v);
    *p = comma ? comma + 1 : end;
    return 1;
}

int rb_redis_info_is_dict(const char *v, size_t len)
{
    const char *p = v, *end = v + len, *k, *val;
    size_t klen, vlen;
    if (len == 0) return 0;
    while (rb_redis_info_dict_next(&p, end, &k, &klen, &val, &vlen)) {
        /* a piece without '=' leaves val at the end of the piece with klen
         * covering it all: not a dict */
        if (klen == 0 || k + klen == val) return 0;
    }
    /* a trailing comma ("a=1,") leaves an empty last piece: not a dict */
    return v[len - 1] != ',';
}

int rb_redis_info_is_number(const char *v, size_t len)
{
    size_t i = 0, digits = 0;
    if (i < len && v[i] == '-') i++;
    while (i < len && v[i] >= '0' && v[i] <= '9') { i++; digits++; }
    if (digits == 0) return 0;
    if (i < len && v[i] == '.') {
        size_t frac = 0;
        i++;
        while (i < len && v[i] >= '0' && v[i] <= '9') { i++; frac++; }
        if (frac == 0) return 0;
    }
    /* 40-digit ids (run_id) that happen to be all decimal are not numbers */
    return i == len && digits <= 20;
}
