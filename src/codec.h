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

typedef Callsig__V1__SignalCommand cs_command_t;

/* OpenIM notification constants (contract section 4). */
#define CS_CONTENT_TYPE_SIGNALING 1601
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
 *          (answered with 1001). @p buf may be NULL when @p len is 0.
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

/** One 1601 notification for one recipient. All pointers borrowed. */
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
} cs_note_t;

/**
 * Packs a PushMessage carrying the MsgData of @p note: contentType 1601,
 * msgFrom 100, seq 0, sendTime = createTime = at_ms, options {history,
 * persistent, unreadCount, conversationUpdate, senderSync} all false in that
 * order, clientMsgID/serverMsgID derived from (operation_id, event_type,
 * recv_id). When the content is an invite or inviteInGroup, its
 * offlinePushInfo is carried too.
 *
 * @returns malloc'ed bytes owned by the caller (never NULL).
 */
uint8_t *cs_codec_pack_notification(const cs_note_t *note, size_t *lenp);

/**
 * @returns true when every string field of @p msg (borrowed), at any depth,
 *          is valid UTF-8 (no overlongs, surrogates or code points above
 *          U+10FFFF); NULL is valid. protobuf-c does not check this when
 *          unpacking, and Go consumers reject such strings, so a request
 *          that fails this should be answered with 1001.
 */
bool cs_codec_strings_valid(const ProtobufCMessage *msg);

/** Packs any protobuf-c message into malloc'ed bytes (never NULL). */
uint8_t *cs_codec_pack(const ProtobufCMessage *msg, size_t *lenp);

#endif
