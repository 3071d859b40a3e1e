/*
 * roomsvc.h: LiveKit RoomService calls that enforce a call on its media
 * room (contract section 9), because LiveKit tokens cannot be revoked.
 *
 * When a user's part in a call ends, callsig removes that identity from the
 * room (RemoveParticipant); when the call ends it deletes the room
 * (DeleteRoom). Both are Twirp calls over HTTP (libcurl):
 *
 *   POST {api_url}/twirp/livekit.RoomService/RemoveParticipant
 *        {"room": ROOM, "identity": USER}
 *   POST {api_url}/twirp/livekit.RoomService/DeleteRoom  {"room": ROOM}
 *   Authorization: Bearer <HS256 JWT: iss = API key, sub = "callsig",
 *       nbf = now, exp = now + 10 min, video = {"room": ROOM,
 *       "roomAdmin": true} (+ "roomCreate": true for DeleteRoom, which
 *       LiveKit requires for it)>
 *
 * api_url is livekit.api_url, or livekit.url with ws:// -> http:// and
 * wss:// -> https://.
 *
 * The calls run on a thread of their own, fed by a bounded queue
 * (CS_ROOMSVC_QUEUE_MAX; when it is full the oldest request is dropped with
 * a log line), so command handling never waits for LiveKit. A 2xx answer,
 * and a 404 / Twirp "not_found" (the room or participant is already gone),
 * is success. Transport errors, 429 and 5xx are retried with capped
 * exponential backoff (CS_ROOMSVC_BACKOFF_MIN_MS doubling up to
 * CS_ROOMSVC_BACKOFF_MAX_MS, at most CS_ROOMSVC_MAX_ATTEMPTS attempts);
 * other answers (a bad key: 401, a malformed request: 400) are logged at
 * error level and not retried. Each attempt gives up after
 * CS_ROOMSVC_TIMEOUT_MS.
 *
 * At shutdown, requests already due get CS_ROOMSVC_DRAIN_MS to be sent;
 * pending retries and what is left then are dropped (counted in the log).
 */
#ifndef CALLSIG_ROOMSVC_H
#define CALLSIG_ROOMSVC_H

#include <stdint.h>

#include "common.h"
#include "config.h"

#define CS_ROOMSVC_QUEUE_MAX 4096
#define CS_ROOMSVC_MAX_ATTEMPTS 10
#define CS_ROOMSVC_BACKOFF_MIN_MS 250
#define CS_ROOMSVC_BACKOFF_MAX_MS 30000
#define CS_ROOMSVC_TIMEOUT_MS 5000
#define CS_ROOMSVC_DRAIN_MS 2000
/* Lifetime of the admin token of one attempt, seconds. */
#define CS_ROOMSVC_TOKEN_TTL 600

typedef struct cs_roomsvc_s cs_roomsvc_t;

/* Counters since start (for logs and metrics). */
typedef struct cs_roomsvc_stats_s {
        uint64_t done;      /* requests answered 2xx or not_found */
        uint64_t retried;   /* attempts that failed and were scheduled again */
        uint64_t failed;    /* requests given up (refused, or out of attempts) */
        uint64_t dropped;   /* requests dropped: queue full, or shutdown */
} cs_roomsvc_stats_t;

/**
 * Starts the RoomService client and its thread. @p conf is borrowed and
 * must outlive the client.
 * @returns the client, or NULL (reason logged) when no HTTP base URL can be
 *          derived: enforcement is then off.
 */
cs_roomsvc_t *cs_roomsvc_new(const cs_config_t *conf);

/** Sends what is due within CS_ROOMSVC_DRAIN_MS, stops the thread and frees
 *  @p rs; NULL is accepted. */
void cs_roomsvc_destroy(cs_roomsvc_t *rs);

/** Queues RemoveParticipant(@p room, @p identity). Never blocks on the
 *  network; strings are copied. @p rs NULL: nothing.
 *  @locality any thread. */
void cs_roomsvc_remove(cs_roomsvc_t *rs, const char *room,
                       const char *identity);

/** Queues DeleteRoom(@p room); as cs_roomsvc_remove(). */
void cs_roomsvc_delete_room(cs_roomsvc_t *rs, const char *room);

/** Copies the counters into @p stats (zeroes for NULL @p rs).
 *  @locality any thread. */
void cs_roomsvc_stats(cs_roomsvc_t *rs, cs_roomsvc_stats_t *stats);

#endif
