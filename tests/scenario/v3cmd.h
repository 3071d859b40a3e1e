/*
 * v3cmd.h: OpenIM v3 commands (SignalCommand.rtc, contract section 12) and
 * checks of v3 replies and notifications, for scenario tests.
 */
#ifndef CALLSIG_V3CMD_H
#define CALLSIG_V3CMD_H

#include "harness.h"

/* Sends SignalCommand{op, sender, platform 5, sentAt now, rtc = @p rtc}
 * keyed @p key. @p rtc is borrowed. */
void v3_send(env_t *env, const char *op, const char *sender,
             Callsig__V1__RtcRequest *rtc, const char *key);

/* invite (or inviteInGroup when @p group is set) of @p invitees
 * (NULL-terminated) into @p room ("" lets callsig pick). */
void v3_invite(env_t *env, const char *op, const char *sender,
               const char *const *invitees, const char *room,
               const char *group, const char *nickname);
/* The same with ring timeout @p timeout (0: the default). */
void v3_invite_timeout(env_t *env, const char *op, const char *sender,
                       const char *const *invitees, const char *room,
                       const char *group, const char *nickname,
                       int32_t timeout);
/* cancel / accept / hungUp / reject (SignalReq case @p req_case) of @p room. */
void v3_action(env_t *env, const char *op, const char *sender, int req_case,
               const char *room);
void v3_token(env_t *env, const char *op, const char *sender, const char *room);

/* The reply to @p op for @p user: errCode @p code, rtc case @p rtc_case
 * set (v2 resp unset). */
Callsig__V1__SignalReply *v3_expect(env_t *env, const char *user,
                                    const char *op, int code, int rtc_case);
/* The v3 notification of @p op for @p user (body notificationV3). */
Openim__Sdkws__MsgData *v3_expect_note(env_t *env, const char *user,
                                       const char *op, int content_type);

/* POSTs a LiveKit webhook of @p type ("participant_joined", ...) for
 * @p identity in @p room, signed as LiveKit signs it; @returns the HTTP
 * status. */
int v3_webhook(env_t *env, const char *type, const char *id, const char *room,
               const char *identity);

#endif
