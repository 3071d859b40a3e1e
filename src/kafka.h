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
 * Commands of one partition may finish out of order (different rooms run
 * side by side, src/lanes.h): the per-partition watermark keeps stored
 * offsets below any command still in flight. A command that must be tried
 * again is retried by the worker inside its lane; nothing is rewound.
 *
 * Rebalances: before revoked partitions are given up, the worker's revoke
 * callback drains or abandons their work in flight (and stores what
 * finished); their watermarks are forgotten. An assigned partition is
 * resumed, or paused while the worker holds (at its in-flight cap).
 *
 * Producer: idempotent (acks=all, ordered per partition). cs_kafka_deliver()
 * produces an outbox and waits until the broker acknowledged or failed each
 * message; a thread of this module polls the producer for the reports.
 *
 * @locality the worker's main thread (the consumer: librdkafka runs the
 * rebalance callback inside its polls), except cs_kafka_deliver(),
 * cs_kafka_fit_dead_letter(), cs_kafka_delivery_max_ms(), cs_kafka_wake()
 * and cs_kafka_fatal(), which any thread may call.
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
 * Waits up to @p timeout_ms for the next command (or cs_kafka_wake()).
 * @returns a message owned by the caller (rd_kafka_message_destroy()), or
 *          NULL if none arrived. Consumer errors are logged here. While the
 *          worker holds, a message fetched before the pause took effect is
 *          still returned.
 */
rd_kafka_message_t *cs_kafka_consume(cs_kafka_t *k, int timeout_ms);

/** Makes a cs_kafka_consume() under way return now (any thread). */
void cs_kafka_wake(cs_kafka_t *k);

/** Called on the main thread when @p parts are being revoked, before they
 *  are given up: the last moment to store their offsets. */
typedef void (cs_kafka_revoke_cb)(const rd_kafka_topic_partition_list_t *parts,
                                  void *opaque);

/** Sets the revoke callback (NULL: none). */
void cs_kafka_on_revoke(cs_kafka_t *k, cs_kafka_revoke_cb *cb, void *opaque);

/** Records that @p rkm is being worked on (before cs_kafka_done/retry). */
void cs_kafka_begin(cs_kafka_t *k, const rd_kafka_message_t *rkm);

/**
 * Produces every message of @p out and waits for the broker's answers (any
 * thread; the consumer is polled by the main thread meanwhile).
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
 *  earlier command of its partition is finished too. */
void cs_kafka_done(cs_kafka_t *k, const rd_kafka_message_t *rkm);

/**
 * Stops fetching (the worker has as much in flight as it may): every
 * assigned partition, and every one assigned later, is paused until
 * cs_kafka_release(). Keep calling cs_kafka_consume() meanwhile: it keeps
 * the group membership alive. Idempotent.
 */
void cs_kafka_hold(cs_kafka_t *k);

/** Ends cs_kafka_hold(): every assigned partition is resumed. */
void cs_kafka_release(cs_kafka_t *k);

/** @returns the longest one cs_kafka_deliver() may wait for the broker:
 *  the producer's message.timeout.ms (read back from its configuration)
 *  plus the wait margin. */
int64_t cs_kafka_delivery_max_ms(const cs_kafka_t *k);

/** @returns the version of the librdkafka callsig runs (linked statically),
 *  e.g. "2.15.1"; a static string. */
const char *cs_kafka_lib_version(void);

/** @returns true after a fatal client error: the worker must stop. */
bool cs_kafka_fatal(cs_kafka_t *k);

/**
 * Flushes the producer (up to @p flush_ms), commits the stored offsets and
 * closes the consumer, which commits again and leaves the group.
 * @returns false if the close did not finish within @p close_ms: the
 *          caller exits without it (cs_kafka_destroy() then leaves the
 *          consumer alone); offsets not committed are consumed again by
 *          the partitions' next owner.
 */
bool cs_kafka_close(cs_kafka_t *k, int flush_ms, int close_ms);

#endif
