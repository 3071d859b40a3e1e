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
 *   undecodable (or unanswerable)  -> dead-letter topic, then committed
 *   store or broker unavailable    -> partition rewound and paused for a
 *                                     capped exponential backoff, retried
 *   fatal Kafka error              -> the worker stops with exit code 1
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
