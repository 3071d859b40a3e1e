/*
 * dialect.c: v2 <-> v3 translation for scenario tests (dialect.h).
 *
 * One generic copy by field name over the protobuf-c descriptors: both
 * schemas name their fields alike, so a message of one converts into the
 * other's type field by field, recursively. Every string is copied, so the
 * result is freed with protobuf_c_message_free_unpacked().
 */
#include "dialect.h"

#include <stdlib.h>
#include <string.h>

#include "test.h"

bool dialect_v3(void) {
        const char *m = getenv("CALLSIG_TEST_OPENIM");
        return m && !strcmp(m, "v3");
}

static char *dup_str(const char *s) {
        char *d = strdup(s ? s : "");
        TEST_ASSERT(d, "out of memory");
        return d;
}

/* The source field of @p dst_name in @p src (v2 opUserID is v3 userID). */
static const ProtobufCFieldDescriptor *
src_field(const ProtobufCMessageDescriptor *src, const char *dst_name) {
        for (unsigned i = 0; i < src->n_fields; i++) {
                const char *n = src->fields[i].name;
                if (!strcmp(n, dst_name) ||
                    (!strcmp(n, "opUserID") && !strcmp(dst_name, "userID")) ||
                    (!strcmp(n, "userID") && !strcmp(dst_name, "opUserID")))
                        return &src->fields[i];
        }
        return NULL;
}

static int64_t read_int(const ProtobufCFieldDescriptor *f, const void *p) {
        switch (f->type) {
        case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32: case PROTOBUF_C_TYPE_ENUM:
                return *(const int32_t *)p;
        case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
                return *(const uint32_t *)p;
        case PROTOBUF_C_TYPE_BOOL:
                return *(const protobuf_c_boolean *)p;
        default:
                return *(const int64_t *)p;
        }
}

static void write_int(const ProtobufCFieldDescriptor *f, void *p, int64_t v) {
        switch (f->type) {
        case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32: case PROTOBUF_C_TYPE_ENUM:
                *(int32_t *)p = (int32_t)v;
                break;
        case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
                *(uint32_t *)p = (uint32_t)v;
                break;
        case PROTOBUF_C_TYPE_BOOL:
                *(protobuf_c_boolean *)p = v != 0;
                break;
        default:
                *(int64_t *)p = v;
        }
}

static ProtobufCMessage *convert(const ProtobufCMessage *src,
                                 const ProtobufCMessageDescriptor *dd);

/* One value of field @p sf at @p sp into field @p df at @p dp. */
static void copy_value(const ProtobufCFieldDescriptor *sf, const void *sp,
                       const ProtobufCFieldDescriptor *df, void *dp) {
        switch (df->type) {
        case PROTOBUF_C_TYPE_STRING:
                *(char **)dp = dup_str(sf->type == PROTOBUF_C_TYPE_STRING
                                               ? *(char *const *)sp : "");
                break;
        case PROTOBUF_C_TYPE_BYTES: {
                const ProtobufCBinaryData *s = sp;
                ProtobufCBinaryData *d = dp;
                d->len = s->len;
                d->data = malloc(s->len + 1);
                TEST_ASSERT(d->data, "out of memory");
                if (s->len)
                        memcpy(d->data, s->data, s->len);
                break;
        }
        case PROTOBUF_C_TYPE_MESSAGE:
                *(ProtobufCMessage **)dp =
                        *(ProtobufCMessage *const *)sp
                                ? convert(*(ProtobufCMessage *const *)sp, df->descriptor)
                                : NULL;
                break;
        default: {
                int64_t v = read_int(sf, sp);
                /* initiateTime: v2 unix s, v3 unix ms */
                if (!strcmp(df->name, "initiateTime")) {
                        if (sf->type == PROTOBUF_C_TYPE_INT32 &&
                            df->type == PROTOBUF_C_TYPE_INT64)
                                v *= 1000;
                        else if (sf->type == PROTOBUF_C_TYPE_INT64 &&
                                 df->type == PROTOBUF_C_TYPE_INT32)
                                v /= 1000;
                }
                write_int(df, dp, v);
        }
        }
}

static size_t value_size(const ProtobufCFieldDescriptor *f) {
        switch (f->type) {
        case PROTOBUF_C_TYPE_STRING: case PROTOBUF_C_TYPE_MESSAGE:
                return sizeof(void *);
        case PROTOBUF_C_TYPE_BYTES:
                return sizeof(ProtobufCBinaryData);
        case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
        case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE:
                return 8;
        case PROTOBUF_C_TYPE_BOOL:
                return sizeof(protobuf_c_boolean);
        default:
                return 4;
        }
}

/* @p src as a message of type @p dd, fields matched by name. */
static ProtobufCMessage *convert(const ProtobufCMessage *src,
                                 const ProtobufCMessageDescriptor *dd) {
        const ProtobufCMessageDescriptor *sd = src->descriptor;
        char *dst = calloc(1, dd->sizeof_message);
        const char *s = (const char *)src;
        TEST_ASSERT(dst, "out of memory");
        dd->message_init((ProtobufCMessage *)(void *)dst);
        for (unsigned i = 0; i < dd->n_fields; i++) {
                const ProtobufCFieldDescriptor *df = &dd->fields[i];
                const ProtobufCFieldDescriptor *sf = src_field(sd, df->name);
                bool present = sf != NULL;
                if (present && (sf->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
                        present = *(const uint32_t *)(s + sf->quantifier_offset) == sf->id;
                if (present && sf->label == PROTOBUF_C_LABEL_REPEATED &&
                    df->label == PROTOBUF_C_LABEL_REPEATED) {
                        size_t n = *(const size_t *)(s + sf->quantifier_offset);
                        const char *arr = *(char *const *)(s + sf->offset);
                        size_t dsz = value_size(df), ssz = value_size(sf);
                        char *out = calloc(n + 1, dsz);
                        TEST_ASSERT(out, "out of memory");
                        for (size_t j = 0; j < n; j++)
                                copy_value(sf, arr + j * ssz, df, out + j * dsz);
                        *(size_t *)(dst + df->quantifier_offset) = n;
                        *(char **)(dst + df->offset) = out;
                        continue;
                }
                if (present && sf->label != PROTOBUF_C_LABEL_REPEATED &&
                    df->label != PROTOBUF_C_LABEL_REPEATED) {
                        copy_value(sf, s + sf->offset, df, dst + df->offset);
                        if (df->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
                                *(uint32_t *)(dst + df->quantifier_offset) = df->id;
                        continue;
                }
                /* absent: strings must not be the shared empty string */
                if (df->type == PROTOBUF_C_TYPE_STRING &&
                    df->label != PROTOBUF_C_LABEL_REPEATED &&
                    !(df->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
                        *(char **)(dst + df->offset) = dup_str("");
        }
        return (ProtobufCMessage *)(void *)dst;
}

static uint8_t *pack(const ProtobufCMessage *m, size_t *lenp) {
        size_t len = protobuf_c_message_get_packed_size(m);
        uint8_t *buf = malloc(len + 1);
        TEST_ASSERT(buf, "out of memory");
        *lenp = protobuf_c_message_pack(m, buf);
        return buf;
}

uint8_t *dialect_command_to_v3(const Callsig__V1__SignalCommand *cmd,
                               size_t *lenp) {
        Callsig__V1__SignalCommand copy = *cmd;
        Callsig__V1__RtcRequest rtc;
        ProtobufCMessage *made = NULL;
        const Openim__V2__SignalReq *req = cmd->req;

        callsig__v1__rtc_request__init(&rtc);
        if (req) {
                switch (req->payload_case) {
                case OPENIM__V2__SIGNAL_REQ__PAYLOAD__NOT_SET:
                        break; /* an empty rtc */
                case OPENIM__V2__SIGNAL_REQ__PAYLOAD_GET_ROOM_BY_GROUP_ID:
                        made = convert(&req->getroombygroupid->base,
                                       &openim__rtc__signal_get_room_by_group_idreq__descriptor);
                        rtc.payload_case = CALLSIG__V1__RTC_REQUEST__PAYLOAD_GET_ROOM_BY_GROUP_ID;
                        rtc.getroombygroupid = (Openim__Rtc__SignalGetRoomByGroupIDReq *)made;
                        break;
                case OPENIM__V2__SIGNAL_REQ__PAYLOAD_SEND_CUSTOM_SIGNAL:
                        /* v3's request has no recvUserIDs: to everyone else */
                        made = convert(&req->sendcustomsignal->base,
                                       &openim__rtc__signal_send_custom_signal_req__descriptor);
                        rtc.payload_case = CALLSIG__V1__RTC_REQUEST__PAYLOAD_SEND_CUSTOM_SIGNAL;
                        rtc.sendcustomsignal = (Openim__Rtc__SignalSendCustomSignalReq *)made;
                        break;
                case OPENIM__V2__SIGNAL_REQ__PAYLOAD_ON_ROOM_PARTICIPANT_CONNECTED_REQ:
                case OPENIM__V2__SIGNAL_REQ__PAYLOAD_ON_ROOM_PARTICIPANT_DISCONNECTED_REQ:
                        return pack(&cmd->base, lenp); /* v3 has none: stays v2 */
                default:
                        made = convert(&req->base, &openim__rtc__signal_req__descriptor);
                        rtc.payload_case = CALLSIG__V1__RTC_REQUEST__PAYLOAD_SIGNAL;
                        rtc.signal = (Openim__Rtc__SignalReq *)made;
                }
                copy.req = NULL;
                copy.rtc = &rtc;
        }
        uint8_t *buf = pack(&copy.base, lenp);
        if (made)
                protobuf_c_message_free_unpacked(made, NULL);
        return buf;
}

/* v3 notification content of content type @p ct as v2 SignalReq bytes. */
static void content_to_v2(int32_t ct, ProtobufCBinaryData *content) {
        if (ct == 1605)
                return; /* SignalSendCustomSignalReq: the same bytes in v2 */
        const ProtobufCMessageDescriptor *sd =
                ct == 1602   ? &openim__rtc__signal_on_room_participant_connected_req__descriptor
                : ct == 1603 ? &openim__rtc__signal_on_room_participant_disconnected_req__descriptor
                             : &openim__rtc__signal_req__descriptor;
        ProtobufCMessage *v3 = protobuf_c_message_unpack(sd, NULL, content->len,
                                                         content->data);
        if (!v3)
                return; /* left as it is: the scenario will say so */
        Openim__V2__SignalReq req;
        ProtobufCMessage *v2;
        openim__v2__signal_req__init(&req);
        if (ct == 1602 || ct == 1603) {
                v2 = convert(v3, ct == 1602
                                         ? &openim__v2__signal_on_room_participant_connected_req__descriptor
                                         : &openim__v2__signal_on_room_participant_disconnected_req__descriptor);
                if (ct == 1602) {
                        req.payload_case = OPENIM__V2__SIGNAL_REQ__PAYLOAD_ON_ROOM_PARTICIPANT_CONNECTED_REQ;
                        req.onroomparticipantconnectedreq = (void *)v2;
                } else {
                        req.payload_case = OPENIM__V2__SIGNAL_REQ__PAYLOAD_ON_ROOM_PARTICIPANT_DISCONNECTED_REQ;
                        req.onroomparticipantdisconnectedreq = (void *)v2;
                }
        } else {
                v2 = convert(v3, &openim__v2__signal_req__descriptor);
        }
        size_t len;
        uint8_t *buf = pack(ct == 1602 || ct == 1603 ? &req.base : v2, &len);
        free(content->data);
        content->data = buf;
        content->len = len;
        protobuf_c_message_free_unpacked(v2, NULL);
        protobuf_c_message_free_unpacked(v3, NULL);
}

Callsig__V1__PushMessage *dialect_push_to_v2(Callsig__V1__PushMessage *push) {
        if (!push)
                return NULL;
        Callsig__V1__PushMessage out = *push;
        Callsig__V1__SignalReply reply;
        ProtobufCMessage *made = NULL;
        if (push->body_case == CALLSIG__V1__PUSH_MESSAGE__BODY_REPLY && push->reply->rtc) {
                Callsig__V1__RtcResponse *rtc = push->reply->rtc;
                reply = *push->reply;
                reply.rtc = NULL;
                if (rtc->payload_case == CALLSIG__V1__RTC_RESPONSE__PAYLOAD_SIGNAL) {
                        made = convert(&rtc->signal->base, &openim__v2__signal_resp__descriptor);
                        reply.resp = (Openim__V2__SignalResp *)made;
                } else if (rtc->payload_case ==
                           CALLSIG__V1__RTC_RESPONSE__PAYLOAD_GET_ROOM_BY_GROUP_ID) {
                        Openim__V2__SignalResp *resp = calloc(1, sizeof(*resp));
                        TEST_ASSERT(resp, "out of memory");
                        openim__v2__signal_resp__init(resp);
                        resp->payload_case = OPENIM__V2__SIGNAL_RESP__PAYLOAD_GET_ROOM_BY_GROUP_ID;
                        resp->getroombygroupid = (void *)convert(
                                &rtc->getroombygroupid->base,
                                &openim__v2__signal_get_room_by_group_idreply__descriptor);
                        made = &resp->base;
                        reply.resp = resp;
                } else if (rtc->payload_case ==
                           CALLSIG__V1__RTC_RESPONSE__PAYLOAD_SEND_CUSTOM_SIGNAL) {
                        Openim__V2__SignalResp *resp = calloc(1, sizeof(*resp));
                        Openim__V2__SignalSendCustomSignalReply *m = calloc(1, sizeof(*m));
                        TEST_ASSERT(resp && m, "out of memory");
                        openim__v2__signal_resp__init(resp);
                        openim__v2__signal_send_custom_signal_reply__init(m);
                        resp->payload_case = OPENIM__V2__SIGNAL_RESP__PAYLOAD_SEND_CUSTOM_SIGNAL;
                        resp->sendcustomsignal = m;
                        made = &resp->base;
                        reply.resp = resp;
                }
                out.reply = &reply;
        } else if (push->body_case == CALLSIG__V1__PUSH_MESSAGE__BODY_NOTIFICATION_V3) {
                Openim__V2__MsgData *md = (Openim__V2__MsgData *)convert(
                        &push->notificationv3->base, &openim__v2__msg_data__descriptor);
                content_to_v2(md->contenttype, &md->content);
                if (md->contenttype == 1602 || md->contenttype == 1603)
                        md->contenttype = 1601;
                made = &md->base;
                out.body_case = CALLSIG__V1__PUSH_MESSAGE__BODY_NOTIFICATION;
                out.notification = md;
        } else {
                return push;
        }
        size_t len;
        uint8_t *buf = pack(&out.base, &len);
        protobuf_c_message_free_unpacked(made, NULL);
        callsig__v1__push_message__free_unpacked(push, NULL);
        Callsig__V1__PushMessage *v2 = callsig__v1__push_message__unpack(NULL, len, buf);
        free(buf);
        return v2;
}
