/*
 * codec.h: protobuf edge of callsig (protobuf-c generated code lives in the
 * build tree, from proto/).
 *
 * Decodes SignalCommands of either OpenIM dialect into the request model
 * (request.h) and packs PushMessages (replies and notifications) in a
 * dialect; codec_v2.c and codec_v3.c hold the dialect-specific bytes. Every byte sequence this module produces is a
 * deterministic function of its inputs, which is what makes redelivered
 * commands yield byte-identical notifications.
 *
 * @locality any thread; no shared state.
 */
#ifndef CALLSIG_CODEC_H
#define CALLSIG_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "call.h"
#include "callsig.pb-c.h"
#include "common.h"
#include "err.h"
#include "request.h"

/* The OpenIM dialects (contract sections 4 and 12). */
typedef enum cs_dialect_e {
        CS_DIALECT_V2 = 0,
        CS_DIALECT_V3,
} cs_dialect_t;

/*
 * A decoded command: the envelope fields, the dialect it was written in
 * (its reply takes that dialect's shape) and its request in the one model
 * the handler works on. Made by cs_codec_decode_command() only (codec state
 * lives behind it) and freed with cs_codec_command_free(). Every string is
 * borrowed from the command and never NULL.
 */
typedef struct cs_command_s {
        const char *operation_id;
        const char *send_id;
        const char *conn_id;
        const char *msg_incr;
        int32_t platform_id;
        int64_t sent_at;
        cs_dialect_t dialect;
        cs_request_t req;
        /* The envelope as protobuf-c decoded it: for the codecs and the
         * codec's unit tests only. */
        Callsig__V1__SignalCommand *wire;
} cs_command_t;

/* OpenIM notification constants (contract sections 4, 11 and 12). */
#define CS_CONTENT_TYPE_SIGNALING 1601
#define CS_CONTENT_TYPE_ROOM_CONNECTED 1602
#define CS_CONTENT_TYPE_ROOM_DISCONNECTED 1603
/* CustomSignalNotification (contract section 11). */
#define CS_CONTENT_TYPE_CUSTOM_SIGNAL 1605
#define CS_MSG_FROM_SYSTEM 100

/**
 * Decodes @p len bytes of a SignalCommand. A command with `req` is in the
 * v2 dialect, one with `rtc` in v3; one with neither is in @p dflt (it is
 * answered 1001 in that shape), one with both is answered 1001 in @p dflt.
 *
 * @param cmdp  on CS_OK, the command; owned by the caller, free with
 *              cs_codec_command_free().
 * @returns CS_OK, or CS_ERR_UNDECODABLE with a one-line reason in @p errstr
 *          when the bytes are not a SignalCommand, or operationID or sendID is
 *          empty, longer than CS_CODEC_ID_MAX bytes, holds a NUL or control
 *          byte, or is not valid UTF-8. A command with no payload is CS_OK
 *          (answered with 1001), and so is one whose payload holds a bad
 *          string: cs_codec_request_valid() says so. @p buf may be NULL
 *          when @p len is 0.
 */
cs_err_t cs_codec_decode_command(cs_dialect_t dflt, const void *buf,
                                 size_t len, cs_command_t **cmdp,
                                 char *errstr, size_t errstr_size) CS_WUR;

/* Longest operationID / sendID accepted, in bytes (callsig's own limit; a
 * longer one makes the command undecodable, as does a NUL or other control
 * byte or invalid UTF-8 in either). */
#define CS_CODEC_ID_MAX 256

/**
 * @returns a copy of the operationID of @p len bytes that are a
 *          SignalCommand with a valid operationID, whatever else is wrong
 *          with them (missing or oversized sendID); NULL otherwise. Used to
 *          label dead letters. The caller frees it.
 */
char *cs_codec_operation_id(const void *buf, size_t len);

/** Frees a decoded command; NULL is accepted. */
void cs_codec_command_free(cs_command_t *cmd);

/**
 * Packs a PushMessage carrying the SignalReply to @p cmd for @p recv_id in
 * the command's dialect: operationID, msgIncr, connID and platformID are
 * copied from @p cmd, the resp (v2) or rtc (v3) case matching the request
 * is set (none for a request without one), filled from @p r when not NULL.
 *
 * @param lenp  receives the length.
 * @returns malloc'ed bytes owned by the caller (never NULL; aborts on OOM).
 */
uint8_t *cs_codec_pack_reply(const char *recv_id, const cs_command_t *cmd,
                             int32_t err_code, const char *err_msg,
                             const cs_reply_t *r, size_t *lenp);

/**
 * Notification content of a change: the request of @p cmd as callsig
 * patched it (its acting user = sendID, @p inv in place of its invitation,
 * opUserPlatformID = @p op_platform_id when not 0), serialized as a
 * SignalReq of the command's dialect. Unknown fields of the request stay.
 * @returns malloc'ed bytes (never NULL).
 */
uint8_t *cs_codec_pack_content(const cs_command_t *cmd,
                               const cs_invitation_t *inv,
                               int32_t op_platform_id, size_t *lenp);

/**
 * Content of a cancel notification in dialect @p d: SignalReq{cancel{
 * acting user @p op_user, @p inv, the offlinePushInfo of @p push_from's
 * request (NULL: none)}}. Used by the timer, room_finished and a hang-up
 * that cancels.
 */
uint8_t *cs_codec_pack_cancel(cs_dialect_t d, const char *op_user,
                              const cs_invitation_t *inv,
                              const cs_command_t *push_from, size_t *lenp);

/**
 * Content of a room presence notification in dialect @p d: v2 SignalReq
 * case 8 (@p joined) or 9; v3 SignalOnRoomParticipant{Connected,
 * Disconnected}Req (sent with contentType 1602 / 1603).
 */
uint8_t *cs_codec_pack_presence(cs_dialect_t d, bool joined,
                                const cs_room_view_t *room, size_t *lenp);

/**
 * @returns the participant metadata of @p cmd's request serialized in its
 *          dialect (what the call record keeps), or NULL when it has none.
 */
uint8_t *cs_codec_pack_participant(const cs_command_t *cmd, size_t *lenp);

/**
 * @returns the offlinePushInfo of an invite content @p content (SignalReq
 *          of dialect @p d) serialized, or NULL when there is none.
 */
uint8_t *cs_codec_offline_push_of(cs_dialect_t d, const uint8_t *content,
                                  size_t len, size_t *lenp);

/**
 * Reads a participant's stored metadata (@p meta, serialized in dialect
 * @p d): the user's nickname and the group's name, as malloc'ed copies
 * (NULL when absent or when @p meta does not decode).
 */
void cs_codec_read_participant(cs_dialect_t d, const uint8_t *meta, size_t len,
                               char **nicknamep, char **group_namep);

/**
 * Content of a 1605 custom signal notification in dialect @p d:
 * SignalSendCustomSignalReq {roomID, customInfo} (recvUserIDs left out).
 * @returns malloc'ed bytes (never NULL).
 */
uint8_t *cs_codec_pack_custom_content(cs_dialect_t d, const char *room_id,
                                      const char *custom_info, size_t *lenp);

/** One notification for one recipient. All pointers borrowed. */
typedef struct cs_note_s {
        const char *send_id;      /* the acting user (timer: the inviter) */
        const char *recv_id;
        const char *group_id;     /* "" for 1:1 calls */
        int32_t session_type;
        int32_t sender_platform;  /* the acting device's platform */
        cs_event_type_t type;     /* picks the contentType */
        int32_t content_type;     /* when not 0, the contentType instead
                                     (custom signals: 1605) */
        const uint8_t *content;   /* serialized content of the event */
        size_t content_len;
        int64_t at_ms;            /* when the event was first applied */
        const char *operation_id; /* with event_type: seeds clientMsgID */
        const char *event_type;
} cs_note_t;

/**
 * Packs a PushMessage carrying the MsgData of @p note in dialect @p d (v2:
 * `notification`, v3: `notificationV3`): contentType 1601 (v3: 1602 / 1603
 * for room presence), msgFrom 100, seq 0, sendTime = createTime = at_ms,
 * options {history, persistent, unreadCount, conversationUpdate,
 * senderSync} all false in that order, clientMsgID/serverMsgID derived
 * from (operation_id, event_type, recv_id). When the content is an invite
 * or inviteInGroup, its offlinePushInfo is carried too.
 *
 * @returns malloc'ed bytes owned by the caller (never NULL).
 */
uint8_t *cs_codec_pack_notification(cs_dialect_t d, const cs_note_t *note,
                                    size_t *lenp);

/**
 * @returns true when every string field of @p msg (borrowed), at any depth,
 *          is valid UTF-8 (no overlongs, surrogates or code points above
 *          U+10FFFF); NULL is valid. protobuf-c does not check this when
 *          unpacking, and Go consumers reject such strings, so a request
 *          that fails this should be answered with 1001.
 */
bool cs_codec_strings_valid(const ProtobufCMessage *msg);

/**
 * Judges the request of a command for 1001: false when it has no payload,
 * carries both `req` and `rtc`, or when any string field of the payload, at
 * any depth (every sub-message, repeated element and oneof member that was
 * on the wire, even one that protobuf-c later overwrote), held a NUL byte or
 * invalid UTF-8 in the bytes that were decoded, or when a string of the
 * request as it is now is not valid UTF-8 (cs_codec_strings_valid()).
 * protobuf-c NUL-terminates the strings it unpacks, so "ab\0cd" arrives as
 * "ab": only the wire bytes show it.
 *
 * @param cmd   a command returned by cs_codec_decode_command() (borrowed).
 * @param whyp  if not NULL, set on false to a one-line reason naming the
 *              field, e.g. "accept.invitation.roomID contains a NUL byte",
 *              fit for the reply's errMsg (no payload bytes are quoted);
 *              owned by @p cmd or static, valid until the command is
 *              freed. Untouched on true.
 * @returns true when the request may be processed.
 * @locality any thread; reads @p cmd only.
 */
bool cs_codec_request_valid(const cs_command_t *cmd, const char **whyp);

/** Packs any protobuf-c message into malloc'ed bytes (never NULL). */
uint8_t *cs_codec_pack(const ProtobufCMessage *msg, size_t *lenp);

#endif
