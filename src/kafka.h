/*
 * kafka.h: the consumer and the producer of callsig (librdkafka).
 *
 * Consumer: one group on topics.commands and topics.livekit_events (the
 * per-partition state below is kept per topic and partition),
 * auto.offset.reset=earliest,
 * enable.auto.offset.store=false. An offset is stored for commit (auto
 * commit, and a final commit on close) only through cs_kafka_done(), which
 * the worker calls after every message a command produced was acknowledged:
 * at-least-once end to end. The per-partition watermark keeps stored
 * offsets below any command still in flight.
 *
 * A command that must be tried again later is rewound: its partition is
 * sought back to it and paused for a backoff, while other partitions go on.
 * The failed attempts of the command at the head of a rewound partition are
 * counted here (cs_kafka_count_failure()) so that the worker can give up.
 *
 * Rebalances: a revoked partition's pause, failure count and watermark are
 * forgotten; an assigned partition is always resumed (or paused, while the
 * worker holds every partition), so a backoff that a rebalance interrupted
 * never leaves a partition paused for good.
 *
 * Producer: idempotent (acks=all, ordered per partition). cs_kafka_deliver()
 * produces an outbox and waits until the broker acknowledged or failed each
 * message.
 *
 * @locality every function: the worker thread. librdkafka runs the
 * rebalance, log and error callbacks from inside the poll calls made here,
 * so on the same thread.
 */
#ifndef CALLSIG_KAFKA_H
#define CALLSIG_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>

#include "common.h"
#include "config.h"
#include "err.h"
#include "outbox.h"

typedef struct cs_kafka_s cs_kafka_t;

/**
 * Creates the producer and the consumer and subscribes.
 * @returns the handle or NULL with the reason in @p errstr (a librdkafka
 *          property was refused: a configuration error).
 */
cs_kafka_t *cs_kafka_new(const cs_config_t *conf, char *errstr,
                         size_t errstr_size) CS_WUR;

/** Destroys both clients; call cs_kafka_close() first. NULL accepted. */
void cs_kafka_destroy(cs_kafka_t *k);

/**
 * Waits up to @p timeout_ms for the next command.
 * @returns a message owned by the caller (rd_kafka_message_destroy()), or
 *          NULL if none arrived. Consumer errors are logged here.
 */
rd_kafka_message_t *cs_kafka_consume(cs_kafka_t *k, int timeout_ms);

/** Records that @p rkm is being worked on (before cs_kafka_done/retry). */
void cs_kafka_begin(cs_kafka_t *k, const rd_kafka_message_t *rkm);

/**
 * Produces every message of @p out and waits for the broker's answers,
 * keeping the consumer's group membership alive meanwhile (see
 * cs_kafka_hold()): a wait never exceeds max.poll.interval.ms.
 * On return @p out holds only the messages that were NOT acknowledged
 * (the ones acknowledged are removed), so producing it again later does
 * not duplicate what already arrived.
 * @returns CS_OK when all were acknowledged; CS_ERR_TRANSIENT if any failed
 *          (the caller produces what is left again later, or rebuilds the
 *          outbox: duplicates are the price of at-least-once);
 *          CS_ERR_UNDECODABLE if every failure is one that producing again
 *          cannot fix (unknown topic, not authorized, too large);
 *          CS_ERR_FATAL on a fatal producer error. @p errstr says why.
 */
cs_err_t cs_kafka_deliver(cs_kafka_t *k, cs_outbox_t *out, char *errstr,
                          size_t errstr_size) CS_WUR;

/**
 * Makes the dead letter @p m fit what the producer accepts, once: its value
 * is cut (key and headers kept) so that the whole message stays below the
 * producer's message.max.bytes, or, when it was already below that (a broker
 * with a lower limit refused it), to half its length. m->truncated_from
 * records the original length (header `truncated`).
 * @returns false when @p m was cut already or has no value to cut.
 */
bool cs_kafka_fit_dead_letter(const cs_kafka_t *k, cs_out_msg_t *m);

/** The command @p rkm is finished: its offset may be committed once every
 *  earlier command of its partition is finished too. Forgets its failure
 *  count. */
void cs_kafka_done(cs_kafka_t *k, const rd_kafka_message_t *rkm);

/**
 * Counts one more failed attempt at @p rkm.
 * @returns the failures of @p rkm so far, this one included. Counts live
 *          per (partition, offset), at most one per partition (only the
 *          head of a rewound partition is retried), and are forgotten when
 *          the command is done or its partition is revoked or assigned.
 */
int cs_kafka_count_failure(cs_kafka_t *k, const rd_kafka_message_t *rkm);

/** Rewinds to @p rkm and pauses its partition for @p backoff_ms. A rewind
 *  whose seek fails keeps the partition paused and is sought again before
 *  the partition is resumed (never resumed past an unhandled command). */
void cs_kafka_retry_later(cs_kafka_t *k, const rd_kafka_message_t *rkm,
                          int backoff_ms);

/**
 * Stops taking commands while the worker waits on something else (a
 * delivery it must finish first): every assigned partition, and every one
 * assigned later, is paused until the matching cs_kafka_release(). Holds
 * nest. While held, cs_kafka_idle() keeps the group membership alive.
 */
void cs_kafka_hold(cs_kafka_t *k);

/** Ends one cs_kafka_hold(); the last one resumes every assigned partition
 *  that is not waiting for a retry backoff. */
void cs_kafka_release(cs_kafka_t *k);

/**
 * Waits up to @p timeout_ms (at most 100 ms per call is sensible) polling
 * the consumer, so that max.poll.interval.ms is never exceeded and
 * rebalances are served; takes no command: a message that still arrives is
 * rewound and comes again later. Call only between cs_kafka_hold() and
 * cs_kafka_release().
 */
void cs_kafka_idle(cs_kafka_t *k, int timeout_ms);

/** @returns the longest one cs_kafka_deliver() may wait for the broker:
 *  the producer's message.timeout.ms (read back from its configuration)
 *  plus the wait margin. */
int64_t cs_kafka_delivery_max_ms(const cs_kafka_t *k);

/** @returns the version of the librdkafka callsig runs (linked statically),
 *  e.g. "2.15.1"; a static string. */
const char *cs_kafka_lib_version(void);

/** @returns true after a fatal client error: the worker must stop. */
bool cs_kafka_fatal(const cs_kafka_t *k);

/** Flushes the producer (up to @p flush_ms) and closes the consumer, which
 *  commits the stored offsets and leaves the group. */
void cs_kafka_close(cs_kafka_t *k, int flush_ms);

#endif
