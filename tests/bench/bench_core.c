/*
 * bench_core: throughput of callsig's CPU-bound steps, printed as numbers.
 *
 * Not a test: it asserts nothing about speed (a noisy machine would make
 * such a test flake). It measures, single-threaded, what one command costs
 * callsig itself apart from Kafka and MongoDB round trips: decoding the
 * command, the state decision, packing the notifications and minting the
 * LiveKit token. Reference point: livekit-server-sdk (Node) mints about
 * 56-61k tokens/s on the same kind of machine (docs/BENCHMARKS.md).
 *
 *   build/tests/callsig_bench [iterations]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "call.h"
#include "codec.h"
#include "ice.h"
#include "ratelimit.h"
#include "token.h"

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(const char *what, long n, double secs) {
        printf("%-34s %9ld ops in %6.3f s  %11.0f ops/s  %8.2f us/op\n", what, n,
               secs, (double)n / secs, secs * 1e6 / (double)n);
}

static uint8_t *sample_command(size_t *lenp) {
        Callsig__V1__SignalCommand cmd;
        Openim__V2__SignalReq req;
        Openim__V2__SignalInviteReq inv_req;
        Openim__V2__InvitationInfo inv;
        Openim__V2__OfflinePushInfo push;
        char *invitees[] = {"bob"};
        callsig__v1__signal_command__init(&cmd);
        openim__v2__signal_req__init(&req);
        openim__v2__signal_invite_req__init(&inv_req);
        openim__v2__invitation_info__init(&inv);
        openim__v2__offline_push_info__init(&push);
        cmd.operationid = "op-1234567890";
        cmd.sendid = "alice";
        cmd.platformid = 5;
        cmd.req = &req;
        req.payload_case = OPENIM__V2__SIGNAL_REQ__PAYLOAD_INVITE;
        req.invite = &inv_req;
        inv_req.opuserid = "alice";
        inv_req.invitation = &inv;
        inv_req.offlinepushinfo = &push;
        inv.inviteruserid = "alice";
        inv.n_inviteeuseridlist = 1;
        inv.inviteeuseridlist = invitees;
        inv.roomid = "room-0123456789";
        inv.mediatype = "video";
        inv.timeout = 30;
        push.title = "Incoming call";
        return cs_codec_pack(&cmd.base, lenp);
}

int main(int argc, char **argv) {
        long n = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;
        char errstr[256];
        double t;

        size_t cmd_len;
        uint8_t *cmd_bytes = sample_command(&cmd_len);
        t = now_s();
        for (long i = 0; i < n; i++) {
                cs_command_t *cmd = NULL;
                if (cs_codec_decode_command(CS_DIALECT_V2, cmd_bytes, cmd_len, &cmd, errstr,
                                            sizeof(errstr)))
                        abort();
                cs_codec_command_free(cmd);
        }
        report("decode SignalCommand", n, now_s() - t);

        cs_note_t note = {.send_id = "alice", .recv_id = "bob", .group_id = "",
                          .session_type = 1, .sender_platform = 5,
                          .content = cmd_bytes, .content_len = cmd_len,
                          .at_ms = 1795000000000, .operation_id = "op-1",
                          .event_type = "invite"};
        t = now_s();
        for (long i = 0; i < n; i++) {
                size_t len;
                free(cs_codec_pack_notification(CS_DIALECT_V2, &note, &len));
        }
        report("pack 1601 notification", n, now_s() - t);

        t = now_s();
        for (long i = 0; i < n; i++) {
                cs_call_t *call = cs_call_new("room", "alice", 5, "", "video", "",
                                              1, 30, 1000, NULL, 0);
                cs_strv_t inv = {0}, busy = {0};
                cs_effect_t eff;
                cs_strv_add(&inv, "bob");
                cs_call_invite(call, "alice", 5, "op-1", &inv, &busy, 30, 64,
                               1000, &eff);
                cs_effect_clear(&eff);
                cs_action_t act = {.type = CS_EV_ACCEPT, .user_id = "bob",
                                   .operation_id = "op-2", .now = 2000};
                cs_call_act(call, &act, &eff);
                cs_effect_clear(&eff);
                act.type = CS_EV_HUNG_UP;
                act.operation_id = "op-3";
                cs_call_act(call, &act, &eff);
                cs_effect_clear(&eff);
                cs_strv_clear(&inv);
                cs_call_destroy(call);
        }
        report("call invite+accept+hangup", n, now_s() - t);

        long tokens = n / 10 > 20000 ? n / 10 : 20000;
        cs_token_claims_t claims = {.user_id = "bob", .room_id = "room-0123456789",
                                    .name = "Bob",
                                    .metadata = "{\"userID\":\"bob\"}"};
        t = now_s();
        for (long i = 0; i < tokens; i++) {
                char *tok = cs_token_mint("APIkey", "0123456789abcdef0123456789abcdef",
                                          3600, 1795000000, &claims, errstr,
                                          sizeof(errstr));
                if (!tok)
                        abort();
                free(tok);
        }
        report("mint LiveKit token (HS256)", tokens, now_s() - t);

        /* The custom-signal rate limit: what it adds to each signal (one
         * lookup and count in the worker's memory; no MongoDB write). A
         * table of 10000 (call, sender) pairs, signals spread over them. */
        cs_ratelimit_t *rl = cs_ratelimit_new(65536);
        char rooms[10000][24];
        for (int i = 0; i < 10000; i++)
                snprintf(rooms[i], sizeof(rooms[i]), "cs-room-%08d", i);
        t = now_s();
        for (long i = 0; i < n; i++)
                cs_ratelimit_take(rl, rooms[i % 10000], "alice-0123456789",
                                  1795000000000 + i / 100, 1000000, 60000);
        report("custom signal rate limit check", n, now_s() - t);
        printf("rate limit table: %zu pairs\n", cs_ratelimit_size(rl));
        cs_ratelimit_destroy(rl);

        long creds = n / 10 > 20000 ? n / 10 : 20000;
        t = now_s();
        for (long i = 0; i < creds; i++) {
                char *user, *cred;
                cs_ice_turn_credential("p2p-turn-secret-0123456789", "bob",
                                       1795000000 + i, &user, &cred);
                free(user);
                free(cred);
        }
        report("TURN REST credential (HMAC-SHA1)", creds, now_s() - t);

        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        printf("peak RSS %ld KiB\n", ru.ru_maxrss);
        free(cmd_bytes);
        return 0;
}
