/*
 * ratelimit.h: per-(call, sender) rate limit of custom signals, in memory.
 *
 * The count lives in the worker that owns the command partition of the
 * call: the gateway keys commands by roomID, so every command of one call
 * lands on one partition, which one worker of the consumer group consumes
 * at a time. The limit therefore holds across a fleet without a shared
 * counter (docs/P2P.md explains the choice and its bound after a
 * rebalance).
 *
 * The window slides: the count of the previous fixed window, weighted by
 * how much of it still lies within the last window_ms, plus the count of
 * the current one (at most a few percent above the exact sliding count,
 * never more than the limit within one fixed window).
 *
 * @locality any thread (locked inside): the lane threads share one.
 */
#ifndef CALLSIG_RATELIMIT_H
#define CALLSIG_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cs_ratelimit_s cs_ratelimit_t;

/** @returns a limiter that tracks at most @p max_entries (call, sender)
 *  pairs (the least recently used is forgotten beyond that). Never NULL. */
cs_ratelimit_t *cs_ratelimit_new(size_t max_entries);
void cs_ratelimit_destroy(cs_ratelimit_t *rl);

/**
 * Counts one signal of @p sender in @p room at @p now_ms if fewer than
 * @p limit were counted within the last @p window_ms.
 * @returns true if counted (allowed), false if over the limit (not
 *          counted).
 */
bool cs_ratelimit_take(cs_ratelimit_t *rl, const char *room,
                       const char *sender, int64_t now_ms, int64_t limit,
                       int64_t window_ms);

/** @returns the number of pairs tracked (tests). */
size_t cs_ratelimit_size(cs_ratelimit_t *rl);

#endif
