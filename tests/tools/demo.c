/*
 * demo.c: callsig end to end on a local stack, for people, not for CI.
 *
 * Starts a librdkafka mock Kafka cluster (in this process, reached by
 * callsig over TCP), the MongoDB-wire test server and the real callsig
 * binary; then, as the IM gateway would, produces SignalCommands onto
 * signal.commands and reads what callsig produces onto each user's push
 * topic, decoded. Plays a 1:1 call (invite, accept, hang up) and an
 * unanswered call (server-side ring timeout), then prints the call records
 * from MongoDB.
 */
#include <inttypes.h>
#include <time.h>

#include "harness.h"

TEST_MAIN_DEFS

static const char *case_name(int c) {
        static const char *const names[] = {
                "none", "invite", "inviteInGroup", "cancel", "accept", "hungUp",
                "reject", "getRoomByGroupID", "onRoomParticipantConnected",
                "onRoomParticipantDisconnected", "getTokenByRoomID"};
        return c >= 0 && c <= 10 ? names[c] : "?";
}

static void print_invitation(const Openim__V2__InvitationInfo *inv) {
        if (!inv)
                return;
        printf("        invitation: inviter=%s invitees=[", inv->inviteruserid);
        for (size_t i = 0; i < inv->n_inviteeuseridlist; i++)
                printf("%s%s", i ? "," : "", inv->inviteeuseridlist[i]);
        printf("] room=%s media=%s timeout=%ds\n", inv->roomid, inv->mediatype,
               (int)inv->timeout);
}

static void print_seen(const char *who, seen_t *s) {
        Callsig__V1__PushMessage *pm = s->push;
        printf("  -> %s's devices (topic %s, kind %s, operation-id %s)\n", who,
               s->topic, s->kind, s->operation_id ? s->operation_id : "-");
        if (pm->body_case == CALLSIG__V1__PUSH_MESSAGE__BODY_REPLY) {
                Callsig__V1__SignalReply *r = pm->reply;
                printf("        reply to msgIncr %s: errCode=%d %s\n", r->msgincr,
                       (int)r->errcode, r->errmsg);
                if (!r->resp)
                        return;
                const char *token = "", *room = "", *url = "";
                switch (r->resp->payload_case) {
                case OPENIM__V2__SIGNAL_RESP__PAYLOAD_INVITE:
                        token = r->resp->invite->token;
                        room = r->resp->invite->roomid;
                        url = r->resp->invite->liveurl;
                        break;
                case OPENIM__V2__SIGNAL_RESP__PAYLOAD_ACCEPT:
                        token = r->resp->accept->token;
                        room = r->resp->accept->roomid;
                        url = r->resp->accept->liveurl;
                        break;
                default:
                        break;
                }
                printf("        resp case %d", (int)r->resp->payload_case);
                if (room[0])
                        printf(": roomID=%s liveURL=%s token=%.20s... (%zu bytes)",
                               room, url, token, strlen(token));
                printf("\n");
                return;
        }
        Openim__V2__MsgData *md = pm->notification;
        Openim__V2__SignalReq *req = seen_content(s);
        const char *op_user;
        const Openim__V2__InvitationInfo *inv;
        req_op_and_invitation(req, &op_user, &inv);
        printf("        notification %d from %s (platform %d), content: %s by %s\n",
               (int)md->contenttype, md->sendid, (int)md->senderplatformid,
               case_name(req->payload_case), op_user ? op_user : "?");
        print_invitation(inv);
        openim__v2__signal_req__free_unpacked(req, NULL);
}

static void print_time(const char *label, const bson_t *doc, const char *path) {
        if (!doc_has(doc, path))
                return;
        time_t t = (time_t)(doc_int(doc, path) / 1000);
        struct tm tm;
        char buf[32];
        gmtime_r(&t, &tm);
        strftime(buf, sizeof(buf), "%H:%M:%S", &tm);
        printf("    %-10s %s\n", label, buf);
}

static void print_record(env_t *env, const char *room) {
        bson_t *doc = env_call_doc(env, room);
        TEST_ASSERT(doc, "no record for %s", room);
        printf("\n  call record %s (database %s, collection calls)\n", room,
               env_mongo_db(env));
        printf("    state      %s%s%s\n", doc_str(doc, "state"),
               doc_str(doc, "endReason")[0] ? ", endReason " : "",
               doc_str(doc, "endReason"));
        printf("    inviter    %s, media %s, sessionType %" PRId64 "\n",
               doc_str(doc, "inviterUserID"), doc_str(doc, "mediaType"),
               doc_int(doc, "sessionType"));
        print_time("createdAt", doc, "createdAt");
        print_time("deadline", doc, "deadline");
        print_time("acceptedAt", doc, "acceptedAt");
        print_time("endedAt", doc, "endedAt");
        char path[64];
        for (int i = 0;; i++) {
                snprintf(path, sizeof(path), "participants.%d.userID", i);
                if (!doc_has(doc, path))
                        break;
                char role[64], state[64];
                snprintf(role, sizeof(role), "participants.%d.role", i);
                snprintf(state, sizeof(state), "participants.%d.state", i);
                printf("    participant %-6s %-8s %s\n", doc_str(doc, path),
                       doc_str(doc, role), doc_str(doc, state));
        }
        for (int i = 0;; i++) {
                char type[64], user[64], op[64];
                snprintf(type, sizeof(type), "events.%d.type", i);
                if (!doc_has(doc, type))
                        break;
                snprintf(user, sizeof(user), "events.%d.userID", i);
                snprintf(op, sizeof(op), "events.%d.operationID", i);
                printf("    event %-8s by %-6s operationID %s\n", doc_str(doc, type),
                       doc_str(doc, user), doc_str(doc, op));
        }
        bson_destroy(doc);
}

/* Prints the reply to @p sender, then each notification of @p op. */
static void show(env_t *env, const char *sender, const char *op,
                 const char *const *notified) {
        print_seen(sender, env_expect_reply(env, sender, op));
        for (size_t i = 0; notified[i]; i++)
                print_seen(notified[i], env_expect_note(env, notified[i], op));
}

int main(void) {
        printf("callsig demo: starting a mock Kafka cluster, the MongoDB-wire test "
               "server and callsig...\n");
        env_t *env = env_start("demo", NULL);
        const char *users[] = {"alice", "bob", "carol"};
        for (size_t i = 0; i < 3; i++)
                env_watch(env, users[i]);
        printf("kafka bootstrap %s, mongodb %s, worker log in %s\n\n",
               env_bootstraps(env), env_mongo_uri(env), env_dir(env));

        printf("== 1:1 call: alice calls bob, bob answers, alice hangs up ==\n");
        printf("alice: invite bob (video)\n");
        cmd_t *c = cmd_invite("demo-invite-1", "alice", (const char *[]){"bob", NULL},
                              NULL, NULL, "video", 0);
        cmd_set_nickname(c, "Alice");
        env_send(env, c, NULL, -1);
        seen_t *s = env_expect_reply(env, "alice", "demo-invite-1");
        char room[128];
        snprintf(room, sizeof(room), "%s", s->push->reply->resp->invite->roomid);
        print_seen("alice", s);
        print_seen("bob", env_expect_note(env, "bob", "demo-invite-1"));
        print_seen("alice", env_expect_note(env, "alice", "demo-invite-1"));

        printf("bob: accept\n");
        c = cmd_action("demo-accept-1", "bob", OPENIM__V2__SIGNAL_REQ__PAYLOAD_ACCEPT, room);
        cmd_set_nickname(c, "Bob");
        env_send(env, c, NULL, -1);
        show(env, "bob", "demo-accept-1", (const char *[]){"alice", "bob", NULL});

        printf("alice: hang up\n");
        env_send(env, cmd_action("demo-hangup-1", "alice",
                                 OPENIM__V2__SIGNAL_REQ__PAYLOAD_HUNG_UP, room),
                 NULL, -1);
        show(env, "alice", "demo-hangup-1", (const char *[]){"bob", "alice", NULL});
        bson_destroy(env_wait_call(env, room, "ended", "hung_up"));
        print_record(env, room);

        printf("\n== unanswered call: alice calls carol with a 3 s ring timeout ==\n");
        printf("alice: invite carol (audio, timeout 3)\n");
        env_send(env, cmd_invite("demo-invite-2", "alice", (const char *[]){"carol", NULL},
                                 "demo-room-2", NULL, "audio", 3),
                 NULL, -1);
        show(env, "alice", "demo-invite-2", (const char *[]){"carol", "alice", NULL});
        printf("(nobody answers; callsig's timer fires the deadline)\n");
        print_seen("carol", env_expect_note(env, "carol", NULL));
        print_seen("alice", env_expect_note(env, "alice", NULL));
        bson_destroy(env_wait_call(env, "demo-room-2", "ended", "timeout"));
        print_record(env, "demo-room-2");

        printf("\nstopping callsig (SIGTERM: finishes, commits, leaves the group)\n");
        env_stop(env);
        printf("demo finished.\n");
        return test_done();
}
