/*
 * alloc.h: the one set of allocation helpers of callsig.
 *
 * callsig does not try to limp on after running out of memory: every
 * allocation that fails aborts the process (the worker is restarted and
 * Kafka redelivers what was in flight). Callers therefore never check for
 * NULL. A size of 0 allocates one byte, so the result is never NULL.
 */
#ifndef CALLSIG_ALLOC_H
#define CALLSIG_ALLOC_H

#include <stddef.h>

void *cs_xmalloc(size_t size);
void *cs_xcalloc(size_t cnt, size_t size);
void *cs_xrealloc(void *p, size_t size);
/** Copies @p s; NULL gives NULL. */
char *cs_xstrdup(const char *s);
/** Copies @p len bytes of @p p into a new buffer with a NUL after them. */
void *cs_xmemdup(const void *p, size_t len);

#endif
