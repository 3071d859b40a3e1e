/*
 * watermark.c: in-flight offsets per partition, kept in arrival order.
 */
#include "watermark.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

typedef struct entry_s {
        int64_t offset;
        bool done;
} entry_t;

typedef struct part_s {
        int32_t partition;
        entry_t *entries;
        size_t cnt;
        size_t cap;
} part_t;

struct cs_watermark_s {
        part_t *parts;
        size_t cnt;
};

cs_watermark_t *cs_watermark_new(void) {
        return cs_xcalloc(1, sizeof(cs_watermark_t));
}

void cs_watermark_destroy(cs_watermark_t *wm) {
        if (!wm)
                return;
        for (size_t i = 0; i < wm->cnt; i++)
                free(wm->parts[i].entries);
        free(wm->parts);
        free(wm);
}

static part_t *find_part(cs_watermark_t *wm, int32_t partition, bool create) {
        for (size_t i = 0; i < wm->cnt; i++)
                if (wm->parts[i].partition == partition)
                        return &wm->parts[i];
        if (!create)
                return NULL;
        wm->parts = cs_xrealloc(wm->parts, (wm->cnt + 1) * sizeof(*wm->parts));
        part_t *p = &wm->parts[wm->cnt++];
        memset(p, 0, sizeof(*p));
        p->partition = partition;
        return p;
}

void cs_watermark_track(cs_watermark_t *wm, int32_t partition, int64_t offset) {
        part_t *p = find_part(wm, partition, true);
        if (p->cnt == p->cap) {
                p->cap = p->cap ? p->cap * 2 : 8;
                p->entries = cs_xrealloc(p->entries, p->cap * sizeof(*p->entries));
        }
        p->entries[p->cnt].offset = offset;
        p->entries[p->cnt].done = false;
        p->cnt++;
}

int64_t cs_watermark_done(cs_watermark_t *wm, int32_t partition, int64_t offset) {
        part_t *p = find_part(wm, partition, false);
        if (!p)
                return -1;
        for (size_t i = 0; i < p->cnt; i++)
                if (p->entries[i].offset == offset)
                        p->entries[i].done = true;
        size_t n = 0;
        while (n < p->cnt && p->entries[n].done)
                n++;
        if (n == 0)
                return -1;
        int64_t next = p->entries[n - 1].offset + 1;
        memmove(p->entries, p->entries + n, (p->cnt - n) * sizeof(*p->entries));
        p->cnt -= n;
        return next;
}

void cs_watermark_forget(cs_watermark_t *wm, int32_t partition) {
        part_t *p = find_part(wm, partition, false);
        if (p)
                p->cnt = 0;
}

int cs_watermark_in_flight(const cs_watermark_t *wm) {
        size_t n = 0;
        for (size_t i = 0; i < wm->cnt; i++)
                n += wm->parts[i].cnt;
        return (int)n;
}
