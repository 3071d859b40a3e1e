/*
 * alloc.c: allocation that aborts on failure (see alloc.h).
 */
#include "alloc.h"

#include <stdlib.h>
#include <string.h>

void *cs_xmalloc(size_t size) {
        void *p = malloc(size ? size : 1);
        if (!p)
                abort();
        return p;
}

void *cs_xcalloc(size_t cnt, size_t size) {
        void *p = calloc(cnt ? cnt : 1, size ? size : 1);
        if (!p)
                abort();
        return p;
}

void *cs_xrealloc(void *p, size_t size) {
        p = realloc(p, size ? size : 1);
        if (!p)
                abort();
        return p;
}

char *cs_xstrdup(const char *s) {
        return s ? cs_xmemdup(s, strlen(s)) : NULL;
}

void *cs_xmemdup(const void *p, size_t len) {
        char *d = cs_xmalloc(len + 1);
        if (len)
                memcpy(d, p, len);
        d[len] = '\0';
        return d;
}
