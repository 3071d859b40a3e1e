/*
 * lanes.h: work items run side by side, in order within a lane.
 *
 * A lane is the FIFO of the items that share a key (a command's roomID,
 * the LiveKit room of a webhook event, "the timer"). At most one item of a
 * lane runs at a time, in the order the items were pushed; items of
 * different lanes run concurrently on a fixed set of threads. A lane exists
 * while it holds or runs an item. A finished item goes to the done queue,
 * which the owner empties (docs/CONCURRENCY.md).
 *
 * Ownership: an item is the caller's (embed cs_lane_item_t as the first
 * member of a larger struct); the lanes hold it from cs_lanes_push() until
 * it comes back from cs_lanes_pop_done() or cs_lanes_drop().
 *
 * @locality cs_lanes_push(), _pop_done(), _wait_done(), _drop(),
 * _each_running() and _destroy() are called by one owner thread; the
 * run callback runs on the lanes' threads, the wake callback on whichever
 * thread finished an item. All of it is locked inside.
 */
#ifndef CALLSIG_LANES_H
#define CALLSIG_LANES_H

#include <stdbool.h>
#include <stddef.h>

typedef struct cs_lane_item_s {
        struct cs_lane_item_s *next; /* lanes.c */
        const void *key;             /* the lane key, set by the caller; */
        size_t key_len;              /* owned by the caller's item */
} cs_lane_item_t;

typedef struct cs_lanes_s cs_lanes_t;

/** Runs one item (on a lanes thread). */
typedef void (cs_lane_run_cb)(cs_lane_item_t *item, void *opaque);
/** Says that an item was finished (on the thread that finished it). */
typedef void (cs_lane_wake_cb)(void *opaque);
/** A predicate over items. */
typedef bool (cs_lane_match_cb)(cs_lane_item_t *item, void *arg);

/** Starts @p threads threads (>= 1). @p wake may be NULL. Never NULL. */
cs_lanes_t *cs_lanes_new(int threads, cs_lane_run_cb *run, cs_lane_wake_cb *wake,
                         void *opaque);

/** Stops the threads once their current items are finished and frees the
 *  lanes. Items still queued or done are NOT freed: take them back first
 *  (cs_lanes_stop(), then cs_lanes_pop_done() and cs_lanes_drop()). */
void cs_lanes_destroy(cs_lanes_t *l);

/** Lets the threads finish the items they run, takes no new one, and
 *  waits for them. Idempotent. */
void cs_lanes_stop(cs_lanes_t *l);

/** Queues @p item at the tail of the lane of its key. */
void cs_lanes_push(cs_lanes_t *l, cs_lane_item_t *item);

/** @returns the oldest finished item, or NULL if none. */
cs_lane_item_t *cs_lanes_pop_done(cs_lanes_t *l);

/** Waits up to @p timeout_ms for a finished item. @returns true if one is
 *  there to pop. */
bool cs_lanes_wait_done(cs_lanes_t *l, int timeout_ms);

/** Removes every queued item (not running) that @p match accepts.
 *  @returns them as a list linked by ->next, in push order per lane. */
cs_lane_item_t *cs_lanes_drop(cs_lanes_t *l, cs_lane_match_cb *match, void *arg);

/** Calls @p fn on every running item, under the lanes' lock (@p fn must
 *  not call back into the lanes). @returns how many @p fn accepted. */
size_t cs_lanes_each_running(cs_lanes_t *l, cs_lane_match_cb *fn, void *arg);

/** @returns items pushed and not taken back yet (queued, running, done). */
size_t cs_lanes_count(cs_lanes_t *l);

#endif
