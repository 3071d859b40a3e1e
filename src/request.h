/*
 * request.h: the one request model the handler works on, whatever OpenIM
 * dialect the command arrived in (contract sections 4 and 12).
 *
 * A codec (codec.c with codec_v2.c / codec_v3.c) turns the wire request of
 * its dialect into a cs_request_t and turns cs_reply_t / event content back
 * into the bytes of that dialect. The handler reads and fills only these
 * structs; it never sees a generated protobuf type.
 *
 * Ownership: every pointer in a cs_request_t is borrowed from the decoded
 * command that holds it and lives as long as the command. Pointers in a
 * cs_reply_t are borrowed from the caller for the duration of one pack call.
 *
 * @locality any thread; plain data.
 */
#ifndef CALLSIG_REQUEST_H
#define CALLSIG_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "call.h"

/* What a command asks for. The values of the kinds v2 has are its SignalReq
 * case numbers (metrics label them so); v3-only kinds follow. */
typedef enum cs_req_kind_e {
        CS_REQ_NONE = 0,                  /* no payload: 1001 */
        CS_REQ_INVITE = 1,
        CS_REQ_INVITE_IN_GROUP = 2,
        CS_REQ_CANCEL = 3,
        CS_REQ_ACCEPT = 4,
        CS_REQ_HUNG_UP = 5,
        CS_REQ_REJECT = 6,
        CS_REQ_GET_ROOM_BY_GROUP_ID = 7,
        CS_REQ_ROOM_CONNECTED = 8,        /* server to client only: 1007 */
        CS_REQ_ROOM_DISCONNECTED = 9,     /* server to client only: 1007 */
        CS_REQ_GET_TOKEN_BY_ROOM_ID = 10,
        CS_REQ_CUSTOM_SIGNAL = 100,       /* section 11 */
        CS_REQ_GET_ROOMS = 101,           /* v3 RtcService methods */
        CS_REQ_INVITATION_INFO,
        CS_REQ_INVITATION_START_APP,
        CS_REQ_INVITATION_RECORDS,
        CS_REQ_DELETE_RECORDS,
} cs_req_kind_t;

/* An invitation, dialect-neutral. initiate_ms is unix ms (v2 carries
 * seconds, v3 ms; the codec converts). Lists may be NULL when empty. */
typedef struct cs_invitation_s {
        const char *inviter_user_id;
        char *const *invitees;
        size_t invitee_cnt;
        char *const *busy;
        size_t busy_cnt;
        const char *custom_data;
        const char *group_id;
        const char *room_id;
        const char *media_type;
        int32_t timeout_s;
        int32_t platform_id;
        int32_t session_type;
        int64_t initiate_ms;
} cs_invitation_t;

/* What a client said about itself (ParticipantMetaData), as tokens use it.
 * Strings are never NULL when has_participant is set. */
typedef struct cs_participant_info_s {
        const char *nickname;
        const char *face_url;
        const char *group_id;
        const char *group_name;
        const char *member_nickname;
        int32_t role_level;
} cs_participant_info_t;

/* getSignalInvitationRecords filters (contract section 12). */
typedef struct cs_records_query_s {
        int32_t page_number;  /* from 1; 0 read as 1 */
        int32_t show_number;  /* 0: 20; 1..100 */
        int32_t session_type; /* 0: any */
        const char *send_id;  /* the inviter, "" any */
        const char *recv_id;  /* an invitee, "" any */
        int64_t start_ms;     /* 0: open */
        int64_t end_ms;       /* 0: open */
} cs_records_query_t;

typedef struct cs_request_s {
        cs_req_kind_t kind;
        bool has_invitation;
        cs_invitation_t inv;          /* change requests */
        int32_t op_platform_id;       /* opUserPlatformID, 0: none */
        bool has_participant;
        cs_participant_info_t participant;
        const char *room_id;          /* getTokenByRoomID, invitation info,
                                         custom signal ("" when absent) */
        const char *group_id;         /* getRoomByGroupID */
        char *const *ids;             /* getRooms roomIDs, delete sIDs,
                                         custom signal recvUserIDs */
        size_t id_cnt;
        const char *custom_info;      /* custom signal */
        cs_records_query_t records;
        size_t wire_size;             /* bytes of the serialized request */
} cs_request_t;

/* A participant of a call as replies and presence content show it: the
 * metadata the user gave (serialized in the deployment's dialect, as the
 * call record keeps it) or, when none, just the userID. */
typedef struct cs_member_s {
        const char *user_id;
        const uint8_t *meta;
        size_t meta_len;
} cs_member_t;

/* One call as getRoomByGroupID, getRooms and the invitation lookups show
 * it. offline_push is the invite's offlinePushInfo in the deployment's
 * dialect, or NULL. */
typedef struct cs_room_view_s {
        cs_invitation_t inv;
        const cs_member_t *members;
        size_t member_cnt;
        const uint8_t *offline_push;
        size_t offline_push_len;
} cs_room_view_t;

/* One entry of a user's call history (SignalRecord). */
typedef struct cs_record_user_s {
        const char *user_id;
        int32_t status; /* 0 ringing, 1 accepted, 2 rejected, 3 timeout,
                           4 busy, 5 cancelled, 6 left */
} cs_record_user_t;

typedef struct cs_record_view_s {
        const char *room_id;
        const char *media_type;
        int32_t session_type;
        const char *inviter_user_id;
        const char *inviter_nickname;
        const char *group_id;
        const char *group_name;
        const cs_record_user_t *users;
        size_t user_cnt;
        int64_t created_ms;
        int64_t ended_ms;
} cs_record_view_t;

/* The payload of a reply; what a kind does not use is ignored. */
typedef struct cs_reply_s {
        const char *token;            /* join replies */
        const char *room_id;
        const char *live_url;
        const cs_strv_t *busy;
        const cs_room_view_t *rooms;  /* room lookups: getRoomByGroupID 1,
                                         getRooms n, invitation info 0/1 */
        size_t room_cnt;
        int32_t total;                /* records */
        const cs_record_view_t *records;
        size_t record_cnt;
        /* SignalReply.iceServers (the envelope's, the same in both
         * dialects; contract section 11), NULL: none. */
        struct Callsig__V1__IceServer *const *ice;
        size_t ice_cnt;
} cs_reply_t;

/** @returns the ledger and log name of @p kind ("invite", "hungUp",
 *  "getRooms", ...); the same in every dialect. */
const char *cs_req_kind_name(cs_req_kind_t kind);

/** @returns true for the kinds whose reply carries a token (invite,
 *  inviteInGroup, accept). */
bool cs_req_kind_joins(cs_req_kind_t kind);

#endif
