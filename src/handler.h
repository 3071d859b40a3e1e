/*
 * handler.h: what one command (or one timer tick) does.
 *
 * The handler validates a decoded SignalCommand, decides against the call
 * record in the store (call.c), writes the change with one conditional
 * update, and fills an outbox with the messages to produce: exactly one
 * reply to the sender's push topic and the notifications of the event, in
 * the OpenIM dialect of openim.protocol (the codec packs them).
 * It produces nothing itself; the worker produces the outbox and commits the
 * command only when every message in it was acknowledged.
 *
 * Redelivery: a command whose operationID is already in the call's events
 * (or in the refusals) changes nothing and fills the outbox again from what
 * was stored: notifications byte-identical, the reply with the same code and
 * fields (a token in it freshly minted).
 *
 * @locality any thread: the worker's lane threads share one handler, on
 * different rooms at a time (its state is the configuration, the store's
 * client pool, the locked custom-signal limiter and RoomService queue).
 * cs_handler_timer() and cs_handler_timer_delivered() are called by one
 * thread at a time (the timer has a lane of its own).
 */
#ifndef CALLSIG_HANDLER_H
#define CALLSIG_HANDLER_H

#include <stddef.h>
#include <stdint.h>

#include "call.h"
#include "codec.h"
#include "common.h"
#include "config.h"
#include "err.h"
#include "outbox.h"
#include "store.h"

typedef struct cs_handler_s cs_handler_t;

/** @returns a handler using @p conf and @p store (both borrowed, must
 *  outlive it). */
cs_handler_t *cs_handler_new(const cs_config_t *conf, cs_store_t *store);
void cs_handler_destroy(cs_handler_t *h);

/**
 * Handles one decoded command at @p now (unix ms); @p cmd is borrowed and
 * not changed. A command in the other OpenIM dialect than openim.protocol
 * is answered 1007 in its own dialect's shape.
 * @returns CS_OK with the reply and notifications in @p out;
 *          CS_ERR_TRANSIENT: nothing to produce, try the command again later;
 *          CS_ERR_PERMANENT: retrying cannot apply it (reason in @p errstr):
 *          answer it with cs_handler_give_up() and dead-letter a copy;
 *          CS_ERR_UNDECODABLE: the command cannot be answered (reason in
 *          @p errstr): dead-letter it.
 */
cs_err_t cs_handler_command(cs_handler_t *h, cs_command_t *cmd,
                            int64_t now, cs_outbox_t *out, char *errstr,
                            size_t errstr_size) CS_WUR;

/**
 * The command's attempts ran out, or it failed in a way retrying cannot
 * fix: fills @p out with its one answer. When the ledger or the call
 * record shows an earlier attempt was applied or refused, that outcome
 * stands: the answer is the stored reply with its notifications (state
 * already written is never left without them, and the sender never gets
 * two different replies). Otherwise it is the 1009 reply carrying
 * @p reason. Never fails: when the store cannot be read, @p out holds the
 * 1009 reply alone.
 */
void cs_handler_give_up(cs_handler_t *h, cs_command_t *cmd, int64_t now,
                        const char *reason, cs_outbox_t *out);

/**
 * Fires ring timeouts due at @p now: each due call is claimed with one
 * conditional update, so exactly one worker fires each deadline. The
 * update also puts the timer event into the call's outbox slot; a slot
 * whose delivery started more than @p redeliver_after_ms ago (its worker
 * died: pass more than the longest a delivery may take) is emitted again.
 *
 * @param fired  receives (roomID, operationID) pairs, one per emitted
 *               timer event: pass it to cs_handler_timer_delivered() once
 *               @p out was acknowledged.
 * @returns CS_OK, or CS_ERR_TRANSIENT after a store failure. Either way
 *          @p out holds the notifications of every call already fired: they
 *          are owed and must be produced.
 */
cs_err_t cs_handler_timer(cs_handler_t *h, int64_t now,
                          int64_t redeliver_after_ms, cs_outbox_t *out,
                          cs_strv_t *fired, char *errstr,
                          size_t errstr_size) CS_WUR;

/**
 * Applies one LiveKit webhook event (@p value: the JSON body as LiveKit sent
 * it, from topics.livekit_events) at @p now (contract section 9), filling
 * @p out with its notifications. Events of rooms that are not live calls,
 * stale or repeated events change nothing (a repeated one's notifications
 * are emitted again).
 * @returns CS_OK; CS_ERR_TRANSIENT: try again later; CS_ERR_PERMANENT:
 *          retrying cannot apply it; CS_ERR_UNDECODABLE: not a JSON object.
 *          The reason is in @p errstr.
 */
cs_err_t cs_handler_room_event(cs_handler_t *h, const void *value, size_t len,
                               int64_t now, cs_outbox_t *out, char *errstr,
                               size_t errstr_size) CS_WUR;

/** Empties the outbox slots of @p fired (their notifications were
 *  acknowledged). Failures are logged: the slot is re-emitted later. */
void cs_handler_timer_delivered(cs_handler_t *h, const cs_strv_t *fired);

#endif
