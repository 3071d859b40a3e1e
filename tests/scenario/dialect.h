/*
 * dialect.h: runs the dialect-neutral scenarios in OpenIM v3 mode
 * (CALLSIG_TEST_OPENIM=v3): the harness turns the v2 commands a scenario
 * builds into SignalCommand.rtc, and the v3 replies and notifications
 * callsig produces back into the v2 shapes the scenario checks, field by
 * field by name (opUserID <-> userID, initiateTime s <-> ms, room presence
 * 1602/1603 <-> SignalReq cases 8/9). The raw bytes (seen_t.value) stay
 * what callsig produced.
 */
#ifndef CALLSIG_DIALECT_H
#define CALLSIG_DIALECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "callsig.pb-c.h"

/** @returns true when the scenarios run in v3 mode. */
bool dialect_v3(void);

/** @returns @p cmd serialized with its `req` carried as `rtc` (malloc'ed). */
uint8_t *dialect_command_to_v3(const Callsig__V1__SignalCommand *cmd,
                               size_t *lenp);

/** @returns @p push (consumed) with a v3 reply or notification turned into
 *  the v2 shape; NULL stays NULL. */
Callsig__V1__PushMessage *dialect_push_to_v2(Callsig__V1__PushMessage *push);

#endif
