/*
 * worker.h: the main loop of callsig.
 *
 * The main thread polls the consumer, admits each message into the lane of
 * its key (src/lanes.h: the roomID for commands and LiveKit events, the
 * partition for a message without a key), stores offsets of finished
 * messages (the per-partition watermark in kafka.c keeps them below any
 * message still in flight) and, every signal.timer_interval_ms, queues
 * the ring timer in a lane of its own. signal.concurrency threads run the
 * lanes: each command is decoded, handled, its outbox produced and its
 * acknowledgements awaited there. At signal.max_in_flight messages taken
 * and not finished, fetching pauses (the consumer is still polled) until
 * half are done (docs/CONCURRENCY.md).
 *
 * Failure handling, per command:
 *   undecodable (or unanswerable)  -> dead-letter topic, then committed; a
 *                                     dead letter the broker refuses for
 *                                     good is cut to fit (header
 *                                     truncated), then dropped with an
 *                                     error log: it never blocks
 *   store or broker unavailable    -> retried inside its lane after a
 *                                     capped exponential backoff (other
 *                                     rooms go on, nothing is rewound);
 *                                     after signal.max_attempts failed
 *                                     attempts (or at once when the handler
 *                                     says CS_ERR_PERMANENT) answered 1009
 *                                     with a copy on the dead-letter topic,
 *                                     then committed
 *   fatal Kafka error              -> the worker stops with exit code 1
 *
 * Rebalance: queued messages of revoked partitions are dropped (the new
 * owner reads them from the committed offset); running ones get up to
 * signal.revoke_drain_ms to finish, and stop retrying; what finished is
 * committed before the partitions are given up.
 *
 * Start-up: MongoDB being unreachable is retried; an error retrying cannot
 * fix (e.g. an index that exists with other options) exits 1.
 */
#ifndef CALLSIG_WORKER_H
#define CALLSIG_WORKER_H

#include <signal.h>

#include "config.h"

/**
 * Runs until *@p stop becomes non-zero (set by a signal handler), then
 * finishes the commands running (queued ones are left for the next owner,
 * uncommitted), flushes, closes the consumer (final
 * commit) and returns.
 * @returns 0 after a clean stop, 1 on a runtime failure, 2 when the Kafka
 *          client refused the configuration.
 */
int cs_worker_run(const cs_config_t *conf, volatile sig_atomic_t *stop);

#endif
