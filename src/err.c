/*
 * err.c: descriptions and classifiers for cs_err_t.
 */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>

void cs_errf(char *errstr, size_t errstr_size, const char *fmt, ...) {
        va_list ap;
        if (!errstr || errstr_size == 0)
                return;
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
}

const char *cs_err2str(cs_err_t err) {
        switch (err) {
        case CS_OK: return "ok";
        case CS_ERR_INVALID: return "invalid request";
        case CS_ERR_NOT_PERMITTED: return "not permitted";
        case CS_ERR_NOT_FOUND: return "call not found";
        case CS_ERR_CONFLICT: return "state conflict";
        case CS_ERR_CALLER_BUSY: return "caller busy";
        case CS_ERR_ALL_BUSY: return "every invitee is busy";
        case CS_ERR_UNSUPPORTED: return "unsupported request";
        case CS_ERR_EXPIRED: return "command expired";
        case CS_ERR_SERVER: return "server error";
        case CS_ERR_RATE_LIMITED: return "rate limited";
        case CS_ERR_TRANSIENT: return "transient failure";
        case CS_ERR_UNDECODABLE: return "undecodable command";
        case CS_ERR_FATAL: return "fatal error";
        case CS_ERR_RACE: return "lost a conditional update";
        case CS_ERR_PERMANENT: return "cannot be applied";
        }
        return "unknown error";
}

bool cs_err_is_reply_code(cs_err_t err) {
        return err == CS_OK || (err >= CS_ERR_INVALID && err <= CS_ERR_RATE_LIMITED);
}

bool cs_err_is_retriable(cs_err_t err) {
        return err == CS_ERR_TRANSIENT || err == CS_ERR_RACE;
}

bool cs_err_is_fatal(cs_err_t err) {
        return err == CS_ERR_FATAL;
}
