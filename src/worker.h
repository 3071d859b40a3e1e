/*
 * worker.h: the main loop of callsig.
 *
 * One thread: poll a command, hand it to the handler, produce its outbox,
 * wait for the acknowledgements, store its offset; every
 * signal.timer_interval_ms fire due ring timeouts. One command is in flight
 * at a time; the per-partition watermark in kafka.c is what lets later
 * versions run commands of different rooms concurrently.
 *
 * Failure handling, per command:
 *   undecodable (or unanswerable)  -> dead-letter topic, then committed; a
 *                                     dead letter the broker refuses for
 *                                     good is cut to fit (header
 *                                     truncated), then dropped with an
 *                                     error log: it never blocks
 *   store or broker unavailable    -> partition rewound and paused for a
 *                                     capped exponential backoff, retried;
 *                                     after signal.max_attempts failed
 *                                     attempts (or at once when the handler
 *                                     says CS_ERR_PERMANENT) answered 1009
 *                                     with a copy on the dead-letter topic,
 *                                     then committed
 *   fatal Kafka error              -> the worker stops with exit code 1
 *
 * While the worker waits on a delivery it must finish before taking the
 * next command (a 1009 answer, timer notifications, any long broker wait)
 * it holds every partition paused and keeps polling the consumer, so it
 * never exceeds max.poll.interval.ms and never leaves its group.
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
 * finishes the command in flight, flushes, closes the consumer (final
 * commit) and returns.
 * @returns 0 after a clean stop, 1 on a runtime failure, 2 when the Kafka
 *          client refused the configuration.
 */
int cs_worker_run(const cs_config_t *conf, volatile sig_atomic_t *stop);

#endif
