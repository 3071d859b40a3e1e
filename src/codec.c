/*
 * codec.c: the protobuf edge of callsig (contract sections 3 and 4).
 *
 * Decodes SignalCommands from the command topic and packs the PushMessages
 * (replies and 1601 notifications) that go to the push topics. protobuf-c
 * failures are turned into cs_err_t here, so no other module sees a NULL
 * from protobuf-c.
 *
 * Everything this module writes is a pure function of its inputs: protobuf-c
 * packs fields in field-number order and repeated elements (the options map
 * entries) in array order, and the message ids are keyed hashes of the
 * command's operationID, the event type and the recipient. That is what lets
 * a redelivered command produce byte-identical notifications.
 */
#include "codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "codec_int.h"
#include "hash.h"

/*
 * Key of clientMsgID / serverMsgID. These ids need to be deterministic and
 * unique, not secret, so the key is a constant ("callsig-msgid-v1"). Changing
 * it changes the ids of redelivered commands: never change it in place.
 */
static const uint8_t msgid_key[16] = {'c', 'a', 'l', 'l', 's', 'i', 'g', '-',
                                      'm', 's', 'g', 'i', 'd', '-', 'v', '1'};

/* SignalCommand field numbers checked on the wire (contract section 3). */
#define CMD_FIELD_OPERATION_ID 1
#define CMD_FIELD_SEND_ID 2

/* Deepest nesting of the payload walk; the schema's own depth is 4
 * (SignalReq > invite > participant > groupInfo). */
#define WIRE_DEPTH_MAX 16

/*
 * A decoded command and what decoding learned from the wire bytes that the
 * unpacked message no longer shows. The public part is the first member,
 * so a cs_command_t pointer handed out by cs_codec_decode_command() is also
 * a pointer to its box (C11 6.7.2.1p15).
 */
typedef struct cmd_box_s {
        cs_command_t cmd; /* must stay first */
        /* "" when every string of the payload is acceptable on the wire;
         * otherwise the first problem, e.g. "accept.invitation.roomID
         * contains a NUL byte" */
        char req_problem[192];
        bool both;        /* carries req and rtc */
} cmd_box_t;

static const cs_dialect_ops_t *ops_of(cs_dialect_t d) {
        return d == CS_DIALECT_V3 ? &cs_codec_v3_ops : &cs_codec_v2_ops;
}

/*
 * protobuf-c message structs hold non-const pointers, but packing only reads
 * them. This drops const for borrowed inputs without -Wcast-qual noise.
 */
static void *unconst(const void *p) {
        return (void *)(uintptr_t)p;
}

static char *str_or_empty(const char *s) {
        return unconst(s ? s : "");
}

static void set_errstr(char *errstr, size_t errstr_size, const char *reason) {
        if (errstr && errstr_size > 0)
                snprintf(errstr, errstr_size, "%s", reason);
}

/*
 * Strict UTF-8 (what Go's unicode/utf8.Valid accepts): no overlong forms,
 * no surrogates, nothing above U+10FFFF.
 */
static bool utf8_valid(const uint8_t *p, size_t n) {
        size_t i = 0, k, need;
        uint32_t cp, min;

        while (i < n) {
                uint8_t c = p[i];

                if (c < 0x80) {
                        i++;
                        continue;
                } else if ((c & 0xe0) == 0xc0) {
                        need = 1;
                        cp = c & 0x1fu;
                        min = 0x80;
                } else if ((c & 0xf0) == 0xe0) {
                        need = 2;
                        cp = c & 0x0fu;
                        min = 0x800;
                } else if ((c & 0xf8) == 0xf0) {
                        need = 3;
                        cp = c & 0x07u;
                        min = 0x10000;
                } else {
                        return false;
                }
                if (n - i - 1 < need)
                        return false;
                for (k = 1; k <= need; k++) {
                        if ((p[i + k] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (uint32_t)(p[i + k] & 0x3f);
                }
                if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                i += need + 1;
        }
        return true;
}

/* One field value of @p f at @p member: strings checked, messages walked. */
static bool value_strings_valid(const ProtobufCFieldDescriptor *f,
                                const void *member) {
        const void *ptr;

        memcpy(&ptr, member, sizeof(ptr));
        if (!ptr)
                return true;
        if (f->type == PROTOBUF_C_TYPE_STRING)
                return utf8_valid(ptr, strlen(ptr));
        if (f->type == PROTOBUF_C_TYPE_MESSAGE)
                return cs_codec_strings_valid(ptr);
        return true;
}

/*
 * Walks the message by its own descriptor (msg->descriptor, so a oneof union
 * member is never read as the wrong type); of a oneof only the set member is
 * visited. The callsig schema has no recursive message types, so the depth
 * is bounded by the schema.
 */
bool cs_codec_strings_valid(const ProtobufCMessage *msg) {
        const ProtobufCMessageDescriptor *desc;
        const char *base = (const char *)msg;
        unsigned i;

        if (!msg)
                return true;
        desc = msg->descriptor;
        for (i = 0; i < desc->n_fields; i++) {
                const ProtobufCFieldDescriptor *f = &desc->fields[i];

                if (f->type != PROTOBUF_C_TYPE_STRING &&
                    f->type != PROTOBUF_C_TYPE_MESSAGE)
                        continue;

                if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
                        uint32_t oneof_case;

                        memcpy(&oneof_case, base + f->quantifier_offset,
                               sizeof(oneof_case));
                        if (oneof_case != f->id)
                                continue;
                }

                if (f->label == PROTOBUF_C_LABEL_REPEATED) {
                        const char *arr;
                        size_t n, j;

                        memcpy(&n, base + f->quantifier_offset, sizeof(n));
                        memcpy(&arr, base + f->offset, sizeof(arr));
                        for (j = 0; j < n; j++) {
                                if (!value_strings_valid(
                                        f, arr + j * sizeof(void *)))
                                        return false;
                        }
                } else if (!value_strings_valid(f, base + f->offset)) {
                        return false;
                }
        }
        return true;
}

/* Reads a base-128 varint at *pos; false when truncated or over 10 bytes. */
static bool wire_varint(const uint8_t *buf, size_t len, size_t *pos,
                        uint64_t *vp) {
        uint64_t v = 0;
        unsigned shift;

        for (shift = 0; shift < 70; shift += 7) {
                uint8_t b;

                if (*pos >= len)
                        return false;
                b = buf[(*pos)++];
                v |= (uint64_t)(b & 0x7f) << shift;
                if (!(b & 0x80)) {
                        *vp = v;
                        return true;
                }
        }
        return false;
}

/*
 * Our limits on the two identity fields (a decision of callsig, not of the
 * contract): at most CS_CODEC_ID_MAX (256) bytes, no NUL or other control
 * byte (0x00-0x1f, 0x7f), valid UTF-8. They are echoed in every reply, in
 * Kafka headers and logs, and sendID names a topic; protobuf-c would silently
 * cut a string at an embedded NUL (so "a\0x" and "a\0y" would share an
 * idempotency key), and it does not validate UTF-8 at all (see below), while
 * Go consumers of our PushMessages reject invalid UTF-8.
 */
static bool id_bytes_ok(const char *name, const uint8_t *p, size_t n,
                        char *errstr, size_t errstr_size) {
        size_t i;

        if (n > CS_CODEC_ID_MAX) {
                if (errstr && errstr_size > 0)
                        snprintf(errstr, errstr_size,
                                 "%s longer than %d bytes", name,
                                 CS_CODEC_ID_MAX);
                return false;
        }
        for (i = 0; i < n; i++) {
                if (p[i] < 0x20 || p[i] == 0x7f) {
                        if (errstr && errstr_size > 0)
                                snprintf(errstr, errstr_size,
                                         "%s contains a NUL or control byte",
                                         name);
                        return false;
                }
        }
        if (!utf8_valid(p, n)) {
                if (errstr && errstr_size > 0)
                        snprintf(errstr, errstr_size, "%s is not valid UTF-8",
                                 name);
                return false;
        }
        return true;
}

/* Appends ".name" (or "name" at the start) to @p path of @p size bytes. */
static void path_push(char *path, size_t size, size_t at, const char *name) {
        if (at >= size)
                return;
        snprintf(path + at, size - at, "%s%s", at ? "." : "", name);
}

/*
 * Walks the wire bytes of one message of type @p desc (already accepted by
 * protobuf-c) and finds the first string field, at any depth, that holds a
 * NUL byte (protobuf-c NUL-terminates unpacked strings, so "ab\0cd" would
 * silently become "ab") or is not valid UTF-8. Every occurrence on the wire
 * counts, also of fields protobuf-c later overwrites (last one wins) or
 * merges (sub-messages), and of oneof members other than the last; unknown
 * fields, bytes, and packed or scalar numbers are skipped.
 *
 * @param path   the dotted field path so far ("" at the top), in a buffer
 *               of @p path_size bytes; restored on return.
 * @returns true when all strings are acceptable; false with "<path>
 *          <problem>" in @p why (also for bytes that do not parse, which
 *          cannot happen after protobuf-c accepted them).
 */
static bool wire_payload_strings_ok(const ProtobufCMessageDescriptor *desc,
                                    const uint8_t *buf, size_t len,
                                    int depth, char *path, size_t path_size,
                                    char *why, size_t why_size) {
        size_t pos = 0, at = strlen(path);

        if (depth > WIRE_DEPTH_MAX) {
                snprintf(why, why_size, "%s nested too deep",
                         at ? path : "request");
                return false;
        }
        while (pos < len) {
                const ProtobufCFieldDescriptor *f;
                uint64_t tag, n;
                bool ok = true;

                if (!wire_varint(buf, len, &pos, &tag))
                        goto bad;
                switch (tag & 7) {
                case 0: /* varint */
                        if (!wire_varint(buf, len, &pos, &n))
                                goto bad;
                        continue;
                case 1: /* 64-bit */
                        if (len - pos < 8)
                                goto bad;
                        pos += 8;
                        continue;
                case 5: /* 32-bit */
                        if (len - pos < 4)
                                goto bad;
                        pos += 4;
                        continue;
                case 2: /* length-delimited: the only form of a string */
                        break;
                default: /* groups: protobuf-c rejects them too */
                        goto bad;
                }
                if (!wire_varint(buf, len, &pos, &n) || n > len - pos)
                        goto bad;
                f = tag >> 3 <= UINT32_MAX
                            ? protobuf_c_message_descriptor_get_field(
                                      desc, (unsigned)(tag >> 3))
                            : NULL;
                if (f && f->type == PROTOBUF_C_TYPE_STRING) {
                        const char *problem = NULL;

                        if (memchr(buf + pos, '\0', (size_t)n))
                                problem = "contains a NUL byte";
                        else if (!utf8_valid(buf + pos, (size_t)n))
                                problem = "is not valid UTF-8";
                        if (problem) {
                                path_push(path, path_size, at, f->name);
                                snprintf(why, why_size, "%s %s", path,
                                         problem);
                                path[at] = '\0';
                                return false;
                        }
                } else if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
                        path_push(path, path_size, at, f->name);
                        ok = wire_payload_strings_ok(f->descriptor, buf + pos,
                                                     (size_t)n, depth + 1,
                                                     path, path_size, why,
                                                     why_size);
                        path[at] = '\0';
                        if (!ok)
                                return false;
                }
                pos += (size_t)n;
        }
        return true;

bad:
        snprintf(why, why_size, "%s is not well-formed",
                 at ? path : "request");
        return false;
}

/*
 * The unpacked strings have lost their length (protobuf-c NUL-terminates
 * them), so the command is checked on the wire: every top-level occurrence
 * of fields 1 and 2 (protobuf-c keeps the last one; we require all of them
 * to be acceptable), and, when @p req_why is not NULL, every string of the
 * request payload (field 6 req, field 8 rtc) at any depth: the first bad one is described in
 * @p req_why (left "" when there is none), which makes the request invalid
 * but not the command undecodable. Runs only after protobuf-c accepted the
 * bytes, so a walk failure cannot normally happen.
 */
static bool wire_check_command(const uint8_t *buf, size_t len,
                               bool with_send_id, char *req_why,
                               size_t req_why_size, char *errstr,
                               size_t errstr_size) {
        size_t pos = 0;

        while (pos < len) {
                uint64_t tag, n;
                uint64_t field;

                if (!wire_varint(buf, len, &pos, &tag))
                        goto bad;
                field = tag >> 3;
                switch (tag & 7) {
                case 0: /* varint */
                        if (!wire_varint(buf, len, &pos, &n))
                                goto bad;
                        break;
                case 1: /* 64-bit */
                        if (len - pos < 8)
                                goto bad;
                        pos += 8;
                        break;
                case 2: /* length-delimited */
                        if (!wire_varint(buf, len, &pos, &n) || n > len - pos)
                                goto bad;
                        if (field == CMD_FIELD_OPERATION_ID &&
                            !id_bytes_ok("operationID", buf + pos, (size_t)n,
                                         errstr, errstr_size))
                                return false;
                        if (with_send_id && field == CMD_FIELD_SEND_ID &&
                            !id_bytes_ok("sendID", buf + pos, (size_t)n,
                                         errstr, errstr_size))
                                return false;
                        if (req_why && !*req_why &&
                            (field == cs_codec_v2_ops.payload_field ||
                             field == cs_codec_v3_ops.payload_field)) {
                                char path[128] = "";
                                const cs_dialect_ops_t *ops =
                                        field == cs_codec_v2_ops.payload_field
                                                ? &cs_codec_v2_ops
                                                : &cs_codec_v3_ops;

                                (void)wire_payload_strings_ok(
                                        ops->payload_desc, buf + pos,
                                        (size_t)n, 0, path, sizeof(path),
                                        req_why, req_why_size);
                        }
                        pos += (size_t)n;
                        break;
                case 5: /* 32-bit */
                        if (len - pos < 4)
                                goto bad;
                        pos += 4;
                        break;
                default: /* groups: protobuf-c rejects them too */
                        goto bad;
                }
        }
        return true;

bad:
        set_errstr(errstr, errstr_size,
                   "not a SignalCommand (protobuf decode failed)");
        return false;
}

/*
 * protobuf-c 1.4.1 does NOT validate UTF-8 in string fields, proto3 or not
 * (upstream issue protobuf-c#726): bytes such as f0 80 in a string field
 * unpack fine and come out as they are, and a NUL byte silently cuts an
 * unpacked string short. operationID and sendID are checked here
 * (undecodable otherwise); the payload's strings are checked on the wire
 * here too, and the verdict is kept in the command's box for
 * cs_codec_request_valid() (a request failing it deserves 1001).
 */
cs_err_t cs_codec_decode_command(cs_dialect_t dflt, const void *buf,
                                 size_t len, cs_command_t **cmdp,
                                 char *errstr, size_t errstr_size) {
        static const uint8_t empty[1] = {0};
        Callsig__V1__SignalCommand *wire = NULL;
        cmd_box_t *box = NULL;

        *cmdp = NULL;
        if (!buf) {
                if (len > 0) {
                        set_errstr(errstr, errstr_size,
                                   "not a SignalCommand (no bytes)");
                        return CS_ERR_UNDECODABLE;
                }
                buf = empty;
        }

        wire = callsig__v1__signal_command__unpack(NULL, len, buf);
        if (!wire) {
                set_errstr(errstr, errstr_size,
                           "not a SignalCommand (protobuf decode failed)");
                return CS_ERR_UNDECODABLE;
        }
        box = cs_xcalloc(1, sizeof(*box));
        box->cmd.wire = wire;
        if (!wire_check_command(buf, len, true, box->req_problem,
                                sizeof(box->req_problem), errstr,
                                errstr_size))
                goto bad;
        if (!wire->operationid || !*wire->operationid) {
                set_errstr(errstr, errstr_size, "missing operationID");
                goto bad;
        }
        if (!wire->sendid || !*wire->sendid) {
                set_errstr(errstr, errstr_size, "missing sendID");
                goto bad;
        }

        cs_command_t *cmd = &box->cmd;
        cmd->operation_id = wire->operationid;
        cmd->send_id = wire->sendid;
        cmd->conn_id = str_or_empty(wire->connid);
        cmd->msg_incr = str_or_empty(wire->msgincr);
        cmd->platform_id = wire->platformid;
        cmd->sent_at = wire->sentat;
        /* The dialect is the one whose payload the command carries: its
         * reply takes that shape, also when it is refused (1007). */
        box->both = wire->req && wire->rtc;
        if (wire->rtc && !wire->req)
                cmd->dialect = CS_DIALECT_V3;
        else if (wire->req && !wire->rtc)
                cmd->dialect = CS_DIALECT_V2;
        else
                cmd->dialect = dflt;
        cmd->req.room_id = "";
        cmd->req.group_id = "";
        cmd->req.custom_info = "";
        ops_of(cmd->dialect)->read_request(cmd);

        /* No payload: CS_OK, answered with 1001. */
        *cmdp = cmd;
        return CS_OK;

bad:
        cs_codec_command_free(&box->cmd);
        return CS_ERR_UNDECODABLE;
}

bool cs_codec_request_valid(const cs_command_t *cmd, const char **whyp) {
        const cmd_box_t *box = (const cmd_box_t *)(const void *)cmd;
        const ProtobufCMessage *payload =
                ops_of(cmd->dialect)->payload(cmd->wire);
        const char *why = NULL;

        if (box->both)
                why = "a command carries req or rtc, never both";
        else if (cmd->req.kind == CS_REQ_NONE)
                why = "request has no payload";
        else if (box->req_problem[0])
                why = box->req_problem;
        else if (!cs_codec_strings_valid(payload))
                why = "a string field is not valid UTF-8";
        if (why && whyp)
                *whyp = why;
        return !why;
}

char *cs_codec_operation_id(const void *buf, size_t len) {
        char why[128];
        char *op_id = NULL;
        if (!buf)
                return NULL;
        Callsig__V1__SignalCommand *wire =
                callsig__v1__signal_command__unpack(NULL, len, buf);
        if (wire && wire->operationid && *wire->operationid &&
            wire_check_command(buf, len, false, NULL, 0, why, sizeof(why)))
                op_id = cs_xstrdup(wire->operationid);
        if (wire)
                callsig__v1__signal_command__free_unpacked(wire, NULL);
        return op_id;
}

void cs_codec_command_free(cs_command_t *cmd) {
        if (!cmd)
                return;
        if (cmd->wire)
                callsig__v1__signal_command__free_unpacked(cmd->wire, NULL);
        free(cmd);
}

/* ---- the request model's names ---- */

const char *cs_req_kind_name(cs_req_kind_t kind) {
        switch (kind) {
        case CS_REQ_NONE: return "none";
        case CS_REQ_INVITE: return "invite";
        case CS_REQ_INVITE_IN_GROUP: return "inviteInGroup";
        case CS_REQ_CANCEL: return "cancel";
        case CS_REQ_ACCEPT: return "accept";
        case CS_REQ_HUNG_UP: return "hungUp";
        case CS_REQ_REJECT: return "reject";
        case CS_REQ_GET_ROOM_BY_GROUP_ID: return "getRoomByGroupID";
        case CS_REQ_ROOM_CONNECTED: return "onRoomParticipantConnectedReq";
        case CS_REQ_ROOM_DISCONNECTED: return "onRoomParticipantDisconnectedReq";
        case CS_REQ_GET_TOKEN_BY_ROOM_ID: return "getTokenByRoomID";
        case CS_REQ_CUSTOM_SIGNAL: return "sendCustomSignal";
        case CS_REQ_GET_ROOMS: return "getRooms";
        case CS_REQ_INVITATION_INFO: return "getSignalInvitationInfo";
        case CS_REQ_INVITATION_START_APP: return "getSignalInvitationInfoStartApp";
        case CS_REQ_INVITATION_RECORDS: return "getSignalInvitationRecords";
        case CS_REQ_DELETE_RECORDS: return "deleteSignalRecords";
        }
        return "unknown";
}

bool cs_req_kind_joins(cs_req_kind_t kind) {
        return kind == CS_REQ_INVITE || kind == CS_REQ_INVITE_IN_GROUP ||
               kind == CS_REQ_ACCEPT;
}

/* ---- packing ---- */

void *cs_arena_new(cs_arena_t *a, size_t size) {
        if (a->cnt == a->cap) {
                a->cap = a->cap ? a->cap * 2 : 16;
                a->v = cs_xrealloc(a->v, a->cap * sizeof(*a->v));
        }
        return a->v[a->cnt++] = cs_xcalloc(1, size ? size : 1);
}

void **cs_arena_ptrs(cs_arena_t *a, size_t n) {
        return cs_arena_new(a, (n + 1) * sizeof(void *));
}

void cs_arena_adopt(cs_arena_t *a, ProtobufCMessage *msg) {
        a->msgs = cs_xrealloc(a->msgs, (a->msg_cnt + 1) * sizeof(*a->msgs));
        a->msgs[a->msg_cnt++] = msg;
}

void cs_arena_free(cs_arena_t *a) {
        for (size_t i = 0; i < a->msg_cnt; i++)
                protobuf_c_message_free_unpacked(a->msgs[i], NULL);
        free(a->msgs);
        for (size_t i = 0; i < a->cnt; i++)
                free(a->v[i]);
        free(a->v);
        memset(a, 0, sizeof(*a));
}

char *cs_codec_lend(const char *s) {
        return str_or_empty(s);
}

const char *const cs_codec_option_keys[5] = {
        "history", "persistent", "unreadCount", "conversationUpdate",
        "senderSync",
};

void cs_codec_msg_ids(const cs_note_t *note, char client[33],
                      char server[33]) {
        const char *client_parts[3], *server_parts[4];

        client_parts[0] = note->operation_id;
        client_parts[1] = note->event_type;
        client_parts[2] = note->recv_id;
        server_parts[0] = "server";
        server_parts[1] = note->operation_id;
        server_parts[2] = note->event_type;
        server_parts[3] = note->recv_id;
        cs_hash_hex128(msgid_key, client_parts, CS_ARRAY_SIZE(client_parts),
                       client);
        cs_hash_hex128(msgid_key, server_parts, CS_ARRAY_SIZE(server_parts),
                       server);
}

uint8_t *cs_codec_pack_reply(const char *recv_id, const cs_command_t *cmd,
                             int32_t err_code, const char *err_msg,
                             const cs_reply_t *r, size_t *lenp) {
        Callsig__V1__PushMessage push;
        Callsig__V1__SignalReply reply;
        cs_arena_t a = {0};

        /* The generated *__INIT macros cast away const (-Wcast-qual), so
         * messages are initialised with the generated *__init() functions. */
        callsig__v1__push_message__init(&push);
        callsig__v1__signal_reply__init(&reply);
        reply.operationid = str_or_empty(cmd->operation_id);
        reply.msgincr = str_or_empty(cmd->msg_incr);
        reply.connid = str_or_empty(cmd->conn_id);
        reply.platformid = cmd->platform_id;
        reply.errcode = err_code;
        reply.errmsg = str_or_empty(err_msg);
        if (r && r->ice_cnt) {
                reply.n_iceservers = r->ice_cnt;
                reply.iceservers = (Callsig__V1__IceServer **)(uintptr_t)r->ice;
        }
        ops_of(cmd->dialect)->set_reply(&reply, cmd->req.kind, r, &a);

        push.recvid = str_or_empty(recv_id);
        push.body_case = CALLSIG__V1__PUSH_MESSAGE__BODY_REPLY;
        push.reply = &reply;

        uint8_t *out = cs_codec_pack(&push.base, lenp);
        cs_arena_free(&a);
        return out;
}

uint8_t *cs_codec_pack_content(const cs_command_t *cmd,
                               const cs_invitation_t *inv,
                               int32_t op_platform_id, size_t *lenp) {
        return ops_of(cmd->dialect)->pack_content(cmd, inv, op_platform_id,
                                                  lenp);
}

uint8_t *cs_codec_pack_cancel(cs_dialect_t d, const char *op_user,
                              const cs_invitation_t *inv,
                              const cs_command_t *push_from, size_t *lenp) {
        return ops_of(d)->pack_cancel(op_user, inv, push_from, lenp);
}

uint8_t *cs_codec_pack_presence(cs_dialect_t d, bool joined,
                                const cs_room_view_t *room, size_t *lenp) {
        return ops_of(d)->pack_presence(joined, room, lenp);
}

uint8_t *cs_codec_pack_participant(const cs_command_t *cmd, size_t *lenp) {
        return ops_of(cmd->dialect)->pack_participant(cmd, lenp);
}

uint8_t *cs_codec_offline_push_of(cs_dialect_t d, const uint8_t *content,
                                  size_t len, size_t *lenp) {
        if (!content || !len)
                return NULL;
        return ops_of(d)->offline_push_of(content, len, lenp);
}

void cs_codec_read_participant(cs_dialect_t d, const uint8_t *meta, size_t len,
                               char **nicknamep, char **group_namep) {
        *nicknamep = *group_namep = NULL;
        if (meta && len)
                ops_of(d)->read_participant(meta, len, nicknamep, group_namep);
}

uint8_t *cs_codec_pack_custom_content(cs_dialect_t d, const char *room_id,
                                      const char *custom_info, size_t *lenp) {
        return ops_of(d)->pack_custom(room_id, custom_info, lenp);
}

uint8_t *cs_codec_pack_notification(cs_dialect_t d, const cs_note_t *note,
                                    size_t *lenp) {
        Callsig__V1__PushMessage push;
        cs_arena_t a = {0};

        callsig__v1__push_message__init(&push);
        push.recvid = str_or_empty(note->recv_id);
        ops_of(d)->set_notification(&push, note, &a);
        uint8_t *out = cs_codec_pack(&push.base, lenp);
        cs_arena_free(&a);
        return out;
}

uint8_t *cs_codec_pack(const ProtobufCMessage *msg, size_t *lenp) {
        size_t size = protobuf_c_message_get_packed_size(msg);
        size_t packed;
        uint8_t *buf;

        buf = cs_xmalloc(size);
        packed = protobuf_c_message_pack(msg, buf);
        if (packed != size)
                abort(); /* protobuf-c broke its own size contract */
        if (lenp)
                *lenp = packed;
        return buf;
}
