/*
 * kafka.h: the consumer and the producer of callsig (librdkafka).
 *
 * Consumer: one group on topics.commands, auto.offset.reset=earliest,
 * enable.auto.offset.store=false. An offset is stored for commit (auto
 * commit, and a final commit on close) only through cs_kafka_done(), which
 * the worker calls after every message a command produced was acknowledged:
 * at-least-once end to end. The per-partition watermark keeps stored
 * offsets below any command still in flight.
 *
 * A command that must be tried again later is rewound: its partition is
 * sought back to it and paused for a backoff, while other partitions go on.
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
 * Produces every message of @p out and waits for the broker's answers.
 * @returns CS_OK when all were acknowledged; CS_ERR_TRANSIENT if any failed
 *          (the caller produces the whole outbox again later: duplicates are
 *          the price of at-least-once); CS_ERR_UNDECODABLE if every failure
 *          is one that producing again cannot fix (unknown topic, not
 *          authorized, too large): the command is dead-lettered;
 *          CS_ERR_FATAL on a fatal producer error. @p errstr says why.
 */
cs_err_t cs_kafka_deliver(cs_kafka_t *k, const cs_outbox_t *out, char *errstr,
                          size_t errstr_size) CS_WUR;

/** The command @p rkm is finished: its offset may be committed once every
 *  earlier command of its partition is finished too. */
void cs_kafka_done(cs_kafka_t *k, const rd_kafka_message_t *rkm);

/** Rewinds to @p rkm and pauses its partition for @p backoff_ms. */
void cs_kafka_retry_later(cs_kafka_t *k, const rd_kafka_message_t *rkm,
                          int backoff_ms);

/** @returns true after a fatal client error: the worker must stop. */
bool cs_kafka_fatal(const cs_kafka_t *k);

/** Flushes the producer (up to @p flush_ms) and closes the consumer, which
 *  commits the stored offsets and leaves the group. */
void cs_kafka_close(cs_kafka_t *k, int flush_ms);

#endif
