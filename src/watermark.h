/*
 * watermark.h: per-partition commit watermark.
 *
 * Commands of one partition may finish out of order once several are in
 * flight (different rooms handled concurrently); an offset may only be
 * stored for commit when every command before it on the same partition has
 * finished. The watermark tracks in-flight offsets per partition and says
 * when the committable position advances.
 *
 * @locality the worker's main thread (not locked).
 */
#ifndef CALLSIG_WATERMARK_H
#define CALLSIG_WATERMARK_H

#include <stdint.h>

typedef struct cs_watermark_s cs_watermark_t;

cs_watermark_t *cs_watermark_new(void);
void cs_watermark_destroy(cs_watermark_t *wm);

/** Records that @p offset of @p partition is in flight (offsets of one
 *  partition are tracked in increasing order). */
void cs_watermark_track(cs_watermark_t *wm, int32_t partition, int64_t offset);

/**
 * Marks @p offset done.
 * @returns the next offset to consume once every tracked offset up to and
 *          including some done offset is done (the value to store for
 *          commit), or -1 if the position did not advance.
 */
int64_t cs_watermark_done(cs_watermark_t *wm, int32_t partition, int64_t offset);

/** Forgets everything of @p partition (it was revoked or assigned). */
void cs_watermark_forget(cs_watermark_t *wm, int32_t partition);

/** @returns how many offsets are in flight in all partitions. */
int cs_watermark_in_flight(const cs_watermark_t *wm);

#endif
