/*
 * err.h: the one error enum of callsig.
 *
 * Positive values are the stable reply codes of the wire contract
 * (SignalReply.errCode). Negative values are internal outcomes that decide
 * what the worker does with a command: retry it later (transient), send it to
 * the dead-letter topic (undecodable) or stop the process (fatal).
 */
#ifndef CALLSIG_ERR_H
#define CALLSIG_ERR_H

#include <stdbool.h>
#include <stddef.h>

#include "common.h"

typedef enum cs_err_e {
        CS_OK = 0,

        /* Reply codes: stable, documented in README.md. */
        CS_ERR_INVALID = 1001,       /* malformed request or limit exceeded */
        CS_ERR_NOT_PERMITTED = 1002, /* sender has no such role in the call */
        CS_ERR_NOT_FOUND = 1003,     /* no such (live) call */
        CS_ERR_CONFLICT = 1004,      /* already answered, ended, timed out */
        CS_ERR_CALLER_BUSY = 1005,   /* the sender's line is busy */
        CS_ERR_ALL_BUSY = 1006,      /* every invitee is busy */
        CS_ERR_UNSUPPORTED = 1007,   /* request case not accepted */
        CS_ERR_EXPIRED = 1008,       /* sentAt older than command_max_age */
        CS_ERR_SERVER = 1009,        /* could not be applied after retries */
        CS_ERR_RATE_LIMITED = 1010,  /* too many custom signals */

        /* Internal outcomes, never sent on the wire. */
        CS_ERR_TRANSIENT = -1,   /* dependency unavailable: retry later */
        CS_ERR_UNDECODABLE = -2, /* cannot be answered: dead-letter it */
        CS_ERR_FATAL = -3,       /* cannot continue: stop the worker */
        CS_ERR_RACE = -4,        /* a conditional update lost: reload, redo */
        CS_ERR_PERMANENT = -5,   /* a decodable command that retrying cannot
                                    apply: answer 1009, dead-letter a copy */
} cs_err_t;

/** Writes a printf-style reason into @p errstr (nothing when @p errstr is
 *  NULL or @p errstr_size 0). */
void cs_errf(char *errstr, size_t errstr_size, const char *fmt, ...)
        CS_PRINTF(3, 4);

/** @returns a static one-line description of @p err. */
const char *cs_err2str(cs_err_t err);

/** @returns true for the codes that go into SignalReply.errCode. */
bool cs_err_is_reply_code(cs_err_t err);

/** @returns true when the same work may succeed if tried again later. */
bool cs_err_is_retriable(cs_err_t err);

/** @returns true when the worker must stop. */
bool cs_err_is_fatal(cs_err_t err);

#endif
