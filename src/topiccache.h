/*
 * topiccache.h: a bounded set of topic names known to exist.
 *
 * The Kafka layer prepares a per-user push topic (CreateTopics, then a
 * metadata request) the first time it produces to it, and remembers it
 * here so that later messages to that topic pay nothing extra. The set
 * holds at most @p cap names; adding one more forgets the one added
 * longest ago (first in, first out), which then is prepared again once,
 * harmlessly (TOPIC_ALREADY_EXISTS counts as success).
 *
 * @locality the worker thread only; no locking.
 */
#ifndef CALLSIG_TOPICCACHE_H
#define CALLSIG_TOPICCACHE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct cs_topiccache_s cs_topiccache_t;

/** A cache of at most @p cap (>= 1) names; never NULL (aborts on OOM). */
cs_topiccache_t *cs_topiccache_new(size_t cap);

/** Frees @p tc and every name in it; NULL accepted. */
void cs_topiccache_destroy(cs_topiccache_t *tc);

/** @returns true if @p topic is in the cache. */
bool cs_topiccache_has(const cs_topiccache_t *tc, const char *topic);

/** Adds a copy of @p topic (nothing if it is there already), forgetting the
 *  oldest name when the cache is full. */
void cs_topiccache_add(cs_topiccache_t *tc, const char *topic);

/** Forgets @p topic (if present), e.g. after the broker said it is gone. */
void cs_topiccache_remove(cs_topiccache_t *tc, const char *topic);

/** @returns the number of names held. */
size_t cs_topiccache_count(const cs_topiccache_t *tc);

#endif
