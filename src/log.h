/*
 * log.h: the one logger of callsig.
 *
 * One line per event on stderr: "<iso time> <LEVEL> <facility> message".
 * librdkafka and libmongoc logs are routed here by their modules. Secrets,
 * tokens and payload bytes are never passed to it.
 *
 * @locality any thread (each line is written with one fputs, which stdio
 * locks).
 */
#ifndef CALLSIG_LOG_H
#define CALLSIG_LOG_H

#include <stdbool.h>
#include "common.h"

typedef enum cs_log_level_e {
        CS_LOG_ERR = 3,
        CS_LOG_WARN = 4,
        CS_LOG_INFO = 6,
        CS_LOG_DEBUG = 7,
} cs_log_level_t;

/** Sets the most verbose level that is written (default CS_LOG_INFO). */
void cs_log_set_level(cs_log_level_t level);

/** Parses "error", "warn", "info" or "debug". @returns false if unknown. */
bool cs_log_level_parse(const char *name, cs_log_level_t *levelp);

/** @returns true if @p level would be written. */
bool cs_log_enabled(cs_log_level_t level);

/** Writes one line; @p fac is a short module tag such as "STORE". */
void cs_log(cs_log_level_t level, const char *fac, const char *fmt, ...)
        CS_PRINTF(3, 4);

#endif
