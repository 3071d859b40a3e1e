/*
 * codec.h: protobuf edge of callsig (protobuf-c generated code lives in the
 * build tree, from proto/).
 *
 * Decodes SignalCommands, packs PushMessages (replies and 1601
 * notifications). Every byte sequence this module produces is a
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

#include "callsig.pb-c.h"
#include "common.h"
#include "err.h"

/*
 * A decoded command. Its fields are the generated SignalCommand's
 * (cmd->operationid, cmd->req, ...); a command made by
 * cs_codec_decode_command() also carries, out of sight behind the message,
 * what decoding learned from the wire bytes (see cs_codec_request_valid()),
 * which is why commands are freed with cs_codec_command_free() only.
 */
typedef Callsig__V1__SignalCommand cs_command_t;

/* OpenIM notification constants (contract section 4). */
#define CS_CONTENT_TYPE_SIGNALING 1601
/* CustomSignalNotification (contract section 11). */
#define CS_CONTENT_TYPE_CUSTOM_SIGNAL 1605
#define CS_MSG_FROM_SYSTEM 100

/**
 * Decodes @p len bytes of a SignalCommand.
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
cs_err_t cs_codec_decode_command(const void *buf, size_t len,
                                 cs_command_t **cmdp, char *errstr,
                                 size_t errstr_size) CS_WUR;

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

/** @returns the SignalResp case that answers SignalReq case @p req_case, or
 *  OPENIM__V2__SIGNAL_RESP__PAYLOAD__NOT_SET (cases 8, 9, none). */
Openim__V2__SignalResp__PayloadCase
cs_codec_resp_case_for(Openim__V2__SignalReq__PayloadCase req_case);

/** @returns a short name of a SignalReq case ("invite", "hungUp", ...). */
const char *cs_codec_req_case_name(Openim__V2__SignalReq__PayloadCase req_case);

/**
 * Packs a PushMessage carrying a SignalReply for @p recv_id.
 * operationID, msgIncr, connID and platformID are copied from @p cmd.
 *
 * @param resp  the SignalResp to carry (borrowed), or NULL for none.
 * @param lenp  receives the length.
 * @returns malloc'ed bytes owned by the caller (never NULL; aborts on OOM).
 */
uint8_t *cs_codec_pack_reply(const char *recv_id, const cs_command_t *cmd,
                             int32_t err_code, const char *err_msg,
                             const Openim__V2__SignalResp *resp,
                             size_t *lenp);

/**
 * The same as cs_codec_pack_reply(), with @p ice_cnt IceServer entries
 * (borrowed; NULL: none) in SignalReply.iceServers (contract section 11).
 */
uint8_t *cs_codec_pack_reply_ice(const char *recv_id, const cs_command_t *cmd,
                                 int32_t err_code, const char *err_msg,
                                 const Openim__V2__SignalResp *resp,
                                 Callsig__V1__IceServer *const *ice,
                                 size_t ice_cnt, size_t *lenp);

/**
 * Packs the content of a 1605 notification: SignalSendCustomSignalReq
 * {roomID, customInfo} (recvUserIDs left out). The v3 message has the same
 * fields and numbers, so these bytes serve both dialects.
 * @returns malloc'ed bytes owned by the caller (never NULL).
 */
uint8_t *cs_codec_pack_custom_content(const char *room_id,
                                      const char *custom_info, size_t *lenp);

/** One 1601 (or 1605) notification for one recipient. All pointers
 *  borrowed. */
typedef struct cs_note_s {
        const char *send_id;      /* the acting user (timer: the inviter) */
        const char *recv_id;
        const char *group_id;     /* "" for 1:1 calls */
        int32_t session_type;
        int32_t sender_platform;  /* the acting device's platform */
        const uint8_t *content;   /* serialized SignalReq of the event */
        size_t content_len;
        int64_t at_ms;            /* when the event was first applied */
        const char *operation_id; /* with event_type: seeds clientMsgID */
        const char *event_type;
        int32_t content_type;     /* 0: 1601 (signaling) */
} cs_note_t;

/**
 * Packs a PushMessage carrying the MsgData of @p note: contentType 1601
 * (or note->content_type),
 * msgFrom 100, seq 0, sendTime = createTime = at_ms, options {history,
 * persistent, unreadCount, conversationUpdate, senderSync} all false in that
 * order, clientMsgID/serverMsgID derived from (operation_id, event_type,
 * recv_id). When the content is an invite or inviteInGroup, its
 * offlinePushInfo is carried too.
 *
 * @returns malloc'ed bytes owned by the caller (never NULL).
 */
uint8_t *cs_codec_pack_notification(const cs_note_t *note, size_t *lenp);

/** A function that packs one notification for a recipient: the dialect's
 *  carrier (cs_codec_pack_notification() for v2). */
typedef uint8_t *(*cs_note_pack_fn)(const cs_note_t *note, size_t *lenp);

/**
 * @returns true when every string field of @p msg (borrowed), at any depth,
 *          is valid UTF-8 (no overlongs, surrogates or code points above
 *          U+10FFFF); NULL is valid. protobuf-c does not check this when
 *          unpacking, and Go consumers reject such strings, so a request
 *          that fails this should be answered with 1001.
 */
bool cs_codec_strings_valid(const ProtobufCMessage *msg);

/**
 * Judges the request (cmd->req) of a command for 1001: false when it has
 * no payload, or when any string field of the payload, at any depth (every
 * sub-message, repeated element and oneof member that was on the wire, even
 * one that protobuf-c later overwrote), held a NUL byte or invalid UTF-8 in
 * the bytes that were decoded, or when a string of cmd->req as it is now is
 * not valid UTF-8 (cs_codec_strings_valid()). protobuf-c NUL-terminates the
 * strings it unpacks, so "ab\0cd" arrives as "ab": only the wire bytes show
 * it, which is why this needs a command decoded here.
 *
 * @param cmd   a command returned by cs_codec_decode_command() (borrowed;
 *              never a hand-built SignalCommand: the verdict on the wire
 *              bytes lives behind the message and would be read out of
 *              bounds).
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
