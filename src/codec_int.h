/*
 * codec_int.h: what codec.c shares with the dialect codecs (codec_v2.c,
 * codec_v3.c). Not a public interface.
 *
 * codec.c owns the envelope (SignalCommand, SignalReply, PushMessage), the
 * wire checks and the message ids; a dialect owns every byte of its OpenIM
 * schema, behind the operations of cs_dialect_ops_t.
 *
 * @locality any thread; no shared state.
 */
#ifndef CALLSIG_CODEC_INT_H
#define CALLSIG_CODEC_INT_H

#include "codec.h"

/* Allocations of one pack call, freed together (protobuf-c message trees
 * built from the request model). */
typedef struct cs_arena_s {
        void **v;
        size_t cnt;
        size_t cap;
        ProtobufCMessage **msgs; /* unpacked messages it frees */
        size_t msg_cnt;
} cs_arena_t;

/** @returns @p size zeroed bytes that live until cs_arena_free(). */
void *cs_arena_new(cs_arena_t *a, size_t size);
/** @returns an array of @p n pointers that lives until cs_arena_free(). */
void **cs_arena_ptrs(cs_arena_t *a, size_t n);
/** Frees @p msg (unpacked by protobuf-c) with the arena. */
void cs_arena_adopt(cs_arena_t *a, ProtobufCMessage *msg);
void cs_arena_free(cs_arena_t *a);
/** Lends a const string to a protobuf-c struct that only reads it; NULL
 *  becomes "". */
char *cs_codec_lend(const char *s);

/* The message ids of a notification (32 hex digits and a NUL each). */
void cs_codec_msg_ids(const cs_note_t *note, char client[33],
                      char server[33]);

typedef struct cs_dialect_ops_s {
        /* The request payload of the envelope: its descriptor (for the wire
         * check), field number, and whether @p wire carries it. */
        const ProtobufCMessageDescriptor *payload_desc;
        unsigned payload_field;
        const ProtobufCMessage *(*payload)(const Callsig__V1__SignalCommand *wire);
        /* Fills cmd->req from cmd->wire. */
        void (*read_request)(cs_command_t *cmd);
        /* Sets the reply body matching @p kind, filled from @p r (NULL:
         * empty). */
        void (*set_reply)(Callsig__V1__SignalReply *reply, cs_req_kind_t kind,
                          const cs_reply_t *r, cs_arena_t *a);
        uint8_t *(*pack_content)(const cs_command_t *cmd,
                                 const cs_invitation_t *inv,
                                 int32_t op_platform_id, size_t *lenp);
        uint8_t *(*pack_cancel)(const char *op_user, const cs_invitation_t *inv,
                                const cs_command_t *push_from, size_t *lenp);
        uint8_t *(*pack_presence)(bool joined, const cs_room_view_t *room,
                                  size_t *lenp);
        uint8_t *(*pack_participant)(const cs_command_t *cmd, size_t *lenp);
        uint8_t *(*offline_push_of)(const uint8_t *content, size_t len,
                                    size_t *lenp);
        /* Nickname and group name of stored participant metadata (copies). */
        void (*read_participant)(const uint8_t *meta, size_t len,
                                 char **nicknamep, char **group_namep);
        /* SignalSendCustomSignalReq {roomID, customInfo}. */
        uint8_t *(*pack_custom)(const char *room_id, const char *custom_info,
                                size_t *lenp);
        /* Sets the notification body of @p push for @p note. */
        void (*set_notification)(Callsig__V1__PushMessage *push,
                                 const cs_note_t *note, cs_arena_t *a);
} cs_dialect_ops_t;

extern const cs_dialect_ops_t cs_codec_v2_ops;
extern const cs_dialect_ops_t cs_codec_v3_ops;

/* The five option keys of a notification, all false, in this order. */
extern const char *const cs_codec_option_keys[5];

#endif
