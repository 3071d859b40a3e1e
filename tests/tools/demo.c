/*
 * demo.c: callsig end to end on a local stack, for people, not for CI.
 *
 * Starts a real livekit-server (scripts/livekit-server.sh), Kafka (the
 * librdkafka mock cluster in this process, reached by callsig over TCP, or
 * the real broker the harness is pointed at), the MongoDB-wire test server
 * and the real callsig binary; then, as the IM gateway would, produces
 * SignalCommands onto signal.commands and reads what callsig produces onto
 * each user's push topic, decoded. Plays a 1:1 call (invite, accept, both
 * join the LiveKit room with the tokens callsig gave them, hang up), a
 * peer-to-peer call through a local coturn (tests/scenario/p2p.h: two aiortc
 * peers signal only through callsig custom signals and connect with the
 * TURN credentials callsig gave them) and an unanswered call (server-side
 * ring timeout), then prints the call records from MongoDB. With
 * CALLSIG_TEST_OPENIM=v3 (scripts/demo.sh --openim v3) it speaks the OpenIM
 * v3 dialect and shows each message decoded with the upstream v3 schema.
 *
 * What is for people goes to stdout; the harness's own lines go to stderr,
 * which scripts/demo.sh sends to a log file.
 */
#include <inttypes.h>
#include <time.h>

#include "dialect.h"
#include "harness.h"
#include "lk.h"
#include "p2p.h"
#include "upstream.h"

#define DEMO_TURN_SECRET "demo-turn-secret-0123456789abcdef"

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
        if (dialect_v3()) {
                /* the bytes callsig produced, decoded with the upstream
                 * OpenIM v3 schema */
                char *text = upstream_describe(s);
                printf("        OpenIM v3 (upstream schema): %s\n", text ? text : "-");
                free(text);
        }
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

/* Copies the value of "key":"..." or "key":[...] after @p from in a RESULT
 * line into @p out, without quotes and brackets. */
static void json_field(const char *from, const char *key, char *out, size_t size) {
        char needle[64];
        snprintf(needle, sizeof(needle), "\"%s\":", key);
        const char *p = strstr(from, needle);
        out[0] = '\0';
        if (!p)
                return;
        p += strlen(needle);
        const char *end;
        if (*p == '"') {
                end = strchr(++p, '"');
        } else if (*p == '[') {
                end = strchr(p, ']');
                end = end ? end + 1 : NULL;
        } else {
                end = p + strcspn(p, ",}");
        }
        if (!end)
                return;
        /* a list reads as a, b */
        size_t n = 0;
        for (; p < end && n + 2 < size; p++) {
                if (*p == '[' || *p == ']' || *p == '"')
                        continue;
                out[n++] = *p;
                if (*p == ',')
                        out[n++] = ' ';
        }
        out[n] = '\0';
}

/* alice and bob join the LiveKit room with the tokens callsig gave them. */
static void join_room(const char *room, const char *tok_alice,
                      const char *tok_bob) {
        printf("alice and bob join LiveKit room %s with their tokens "
               "(@livekit/rtc-node)\n", room);
        fflush(stdout);
        lk_spec_begin(30000);
        lk_spec_check("1:1 call", "join");
        lk_spec_participant("alice", tok_alice, room, (const char *[]){"bob", NULL});
        lk_spec_participant("bob", tok_bob, room, (const char *[]){"alice", NULL});
        bool ok;
        int64_t ms;
        char *res = lk_spec_run(&ok, &ms);
        if (!ok) {
                printf("  the join failed: %s(client log %s/join.log, server log "
                       "%s/livekit.log)\n", res, lk_dir(), lk_dir());
                TEST_FAIL("lk-join.mjs failed");
        }
        for (const char *p = strstr(res, "{\"identity\":"); p;
             p = strstr(p + 1, "{\"identity\":")) {
                char id[64], name[64], joined[128], sees[128], data[128], cms[32];
                json_field(p, "identity", id, sizeof(id));
                json_field(p, "name", name, sizeof(name));
                json_field(p, "room", joined, sizeof(joined));
                json_field(p, "sees", sees, sizeof(sees));
                json_field(p, "data_from", data, sizeof(data));
                json_field(p, "connect_ms", cms, sizeof(cms));
                printf("  -> %s joined room %s as \"%s\" in %s ms, sees %s in the "
                       "room, received a data packet from %s\n",
                       id, joined, name, cms, sees, data);
        }
        printf("  (both in the room and talking through LiveKit; %lld ms in all)\n",
               (long long)ms);
        free(res);
}

/* A peer-to-peer call: WebRTC through coturn, signaled through callsig. */
static void p2p_demo(env_t *env, const char *why, int turn_port) {
        printf("\n== peer-to-peer call: alice calls bob, WebRTC through TURN ==\n");
        if (why) {
                printf("(skipped: %s)\n", why);
                return;
        }
        printf("alice: invite bob; bob: accept (both replies carry iceServers: "
               "stun:127.0.0.1:%d, turn:127.0.0.1:%d with TURN REST credentials)\n",
               turn_port, turn_port);
        printf("alice and bob (aiortc, relay candidates only) exchange offer, answer "
               "and ICE candidates as callsig custom signals (contentType 1605); "
               "mallory sends one to the room too\n");
        p2p_result_t res;
        p2p_call(env, "alice", "bob", "mallory", "demo-room-p2p", 30000, &res);
        printf("  -> TURN usernames: alice %s, bob %s\n", res.turn_user[0],
               res.turn_user[1]);
        printf("  -> mallory's custom signal: errCode %d, reached %s\n",
               res.intruder_code, res.intruder_reached ? "a peer (BUG)" : "no one");
        if (!res.connected[0] || !res.connected[1]) {
                printf("  the peers did not connect: alice: %s; bob: %s\n",
                       res.error[0], res.error[1]);
                TEST_FAIL("peer-to-peer call failed");
        }
        printf("alice and bob connected peer to peer through TURN (%s), data "
               "channel: hello\n", res.local[0]);
        printf("  -> alice received \"%s\", bob received \"%s\"; %d custom signals "
               "relayed by callsig; connected in %lld ms (offer to the answer on "
               "the data channel)\n",
               res.received[0], res.received[1], res.signals_relayed,
               (long long)res.connect_ms);
}

int main(void) {
        const char *real = getenv("CALLSIG_TEST_KAFKA");
        bool real_kafka = real && !strcmp(real, "real");
        printf("callsig demo: starting livekit-server, %s, the MongoDB-wire test "
               "server and callsig...\n",
               real_kafka ? "the Apache Kafka broker" : "a mock Kafka cluster");
        if (!lk_server_bin())
                TEST_FAIL("livekit-server is not built: run scripts/livekit-server.sh build");
        if (dialect_v3()) {
                printf("OpenIM v3 dialect (openim.protocol: v3); fetching the upstream "
                       "schema (github.com/openimsdk/protocol) to decode with...\n");
                upstream_prepare();
        }
        const char *lk_url = lk_server_start();
        /* coturn for the peer-to-peer call; callsig hands out its
         * credentials (turn.secret = coturn's static-auth-secret) */
        const char *p2p_why = p2p_missing();
        char p2p_yaml[512] = "";
        int turn_port = 0;
        if (!p2p_why) {
                turn_port = p2p_turn_start(DEMO_TURN_SECRET);
                snprintf(p2p_yaml, sizeof(p2p_yaml),
                         "stun.urls: [\"stun:127.0.0.1:%d\"]\n"
                         "turn.urls: [\"turn:127.0.0.1:%d?transport=udp\"]\n"
                         "turn.secret: \"%s\"\n",
                         turn_port, turn_port, DEMO_TURN_SECRET);
        }
        env_opts_t opts = {.livekit_url = lk_url, .extra_yaml = p2p_yaml};
        env_t *env = env_start("demo", &opts);
        const char *users[] = {"alice", "bob", "carol"};
        for (size_t i = 0; i < 3; i++)
                env_watch(env, users[i]);
        printf("livekit %s, kafka bootstrap %s%s, mongodb %s\n"
               "logs: callsig in %s, livekit-server and the join client in %s\n\n",
               lk_url, env_bootstraps(env), real_kafka ? "" : " (mock cluster)",
               env_mongo_uri(env), env_dir(env), lk_dir());

        printf("== 1:1 call: alice calls bob, bob answers, alice hangs up ==\n");
        printf("alice: invite bob (video)\n");
        cmd_t *c = cmd_invite("demo-invite-1", "alice", (const char *[]){"bob", NULL},
                              NULL, NULL, "video", 0);
        cmd_set_nickname(c, "Alice");
        env_send(env, c, NULL, -1);
        seen_t *s = env_expect_reply(env, "alice", "demo-invite-1");
        char room[128];
        snprintf(room, sizeof(room), "%s", s->push->reply->resp->invite->roomid);
        char *tok_alice = strdup(s->push->reply->resp->invite->token);
        print_seen("alice", s);
        print_seen("bob", env_expect_note(env, "bob", "demo-invite-1"));
        print_seen("alice", env_expect_note(env, "alice", "demo-invite-1"));

        printf("bob: accept\n");
        c = cmd_action("demo-accept-1", "bob", OPENIM__V2__SIGNAL_REQ__PAYLOAD_ACCEPT, room);
        cmd_set_nickname(c, "Bob");
        env_send(env, c, NULL, -1);
        s = env_expect_reply(env, "bob", "demo-accept-1");
        char *tok_bob = strdup(s->push->reply->resp->accept->token);
        print_seen("bob", s);
        print_seen("alice", env_expect_note(env, "alice", "demo-accept-1"));
        print_seen("bob", env_expect_note(env, "bob", "demo-accept-1"));

        join_room(room, tok_alice, tok_bob);
        free(tok_alice);
        free(tok_bob);

        printf("alice: hang up\n");
        env_send(env, cmd_action("demo-hangup-1", "alice",
                                 OPENIM__V2__SIGNAL_REQ__PAYLOAD_HUNG_UP, room),
                 NULL, -1);
        show(env, "alice", "demo-hangup-1", (const char *[]){"bob", "alice", NULL});
        bson_destroy(env_wait_call(env, room, "ended", "hung_up"));
        print_record(env, room);

        p2p_demo(env, p2p_why, turn_port);
        /* what the peer-to-peer call left unread (the users' own copies of
         * its invite and accept) is not the next call's */
        env_seen_all(env, 500, &(size_t){0});
        env_seen_drop(env);

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
        lk_server_stop();
        p2p_turn_stop();
        printf("demo finished.\n");
        return test_done();
}
