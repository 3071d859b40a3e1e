/*
 * roomsvc_int.h: the request building and answer classification of
 * roomsvc.c, for unit tests. Pure functions, no I/O.
 */
#ifndef CALLSIG_ROOMSVC_INT_H
#define CALLSIG_ROOMSVC_INT_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

typedef enum cs_roomsvc_op_e {
        CS_ROOMSVC_REMOVE_PARTICIPANT = 0,
        CS_ROOMSVC_DELETE_ROOM = 1,
} cs_roomsvc_op_t;

/* What to do after an answer. */
typedef enum cs_roomsvc_outcome_e {
        CS_ROOMSVC_DONE = 0,  /* 2xx, or 404 / not_found: the goal holds */
        CS_ROOMSVC_RETRY = 1, /* transport error, 429, 5xx */
        CS_ROOMSVC_FAIL = 2,  /* refused for good (400, 401, 403 ...) */
} cs_roomsvc_outcome_t;

/** "RemoveParticipant" or "DeleteRoom". */
const char *cs_roomsvc_method(cs_roomsvc_op_t op);

/**
 * The HTTP base URL of the LiveKit API: @p api_url when non-empty (a
 * trailing '/' removed), else @p livekit_url with ws:// -> http:// and
 * wss:// -> https:// (http(s):// kept).
 * @returns a malloc'ed string, or NULL if neither gives an http(s) URL.
 */
char *cs_roomsvc_base_url(const char *livekit_url, const char *api_url);

/**
 * The JSON body of @p op: {"room": ROOM, "identity": ID} or {"room": ROOM}
 * (@p identity ignored).
 * @returns a malloc'ed string, or NULL if a string is not valid UTF-8.
 */
char *cs_roomsvc_body(cs_roomsvc_op_t op, const char *room,
                      const char *identity);

/**
 * The admin token of @p op on @p room (claims in roomsvc.h), valid from
 * @p now_s for CS_ROOMSVC_TOKEN_TTL seconds.
 * @returns a malloc'ed JWT, or NULL with the reason in @p errstr.
 */
char *cs_roomsvc_admin_token(const char *api_key, const char *api_secret,
                             cs_roomsvc_op_t op, const char *room,
                             int64_t now_s, char *errstr,
                             size_t errstr_size) CS_WUR;

/** Classifies an answer: @p status the HTTP status (0: no answer, a
 *  transport error), @p body its body (Twirp: {"code": ..., "msg": ...};
 *  may be NULL). */
cs_roomsvc_outcome_t cs_roomsvc_classify(long status, const char *body);

/** Wait before attempt @p attempt + 1 after attempt @p attempt (1-based)
 *  failed, ms: CS_ROOMSVC_BACKOFF_MIN_MS * 2^(attempt-1), capped. */
int64_t cs_roomsvc_backoff_ms(int attempt);

#endif
