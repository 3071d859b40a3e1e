/*
 * 0072: two real WebRTC peers connect through a real TURN server with the
 * credentials callsig hands out, having exchanged their offer, answer and
 * every ICE candidate only as callsig custom signals (contract section 11).
 *
 * coturn runs on loopback with use-auth-secret; the peers are aiortc
 * (tests/p2p/peer.py) with iceTransportPolicy relay, so the only way they
 * can connect is a relay allocation that coturn granted for the
 * credentials in their callsig replies (p2p.h).
 *
 * Proves:
 *   - alice calls bob through callsig (invite, accept over Kafka), they
 *     connect relay to relay and exchange a data channel message both
 *     ways; every custom signal a peer sent was relayed to the other;
 *     coturn's log shows the allocation and channel binding of each
 *     peer's credentials;
 *   - a third user's custom signal to the room is refused 1002 and reaches
 *     neither peer;
 *   - the same call with a wrong turn.secret in callsig's configuration
 *     does not connect: coturn refuses those credentials.
 * Skipped (77) only when coturn or aiortc is not installed and
 * CALLSIG_TEST_REQUIRE_P2P is unset (scripts/test.sh sets it).
 */
#include "harness.h"
#include "p2p.h"

TEST_MAIN_DEFS

#define TURN_SECRET "p2p-turn-secret-0123456789abcdef"

static env_t *start(const char *name, int port, const char *secret) {
        static char yaml[512];
        snprintf(yaml, sizeof(yaml),
                 "stun.urls: [\"stun:127.0.0.1:%d\"]\n"
                 "turn.urls: [\"turn:127.0.0.1:%d?transport=udp\"]\n"
                 "turn.secret: \"%s\"\n",
                 port, port, secret);
        return env_start(name, &(env_opts_t){.extra_yaml = yaml});
}

int main(void) {
        p2p_require();
        int port = p2p_turn_start(TURN_SECRET);
        p2p_result_t res;

        env_t *env = start("p2p", port, TURN_SECRET);
        p2p_call(env, "alice", "bob", "mallory", "p2p-room-ok", 30000, &res);
        for (int i = 0; i < 2; i++) {
                TEST_ASSERT(res.connected[i], "peer %d did not connect: %s", i,
                            res.error[i]);
                TEST_STREQ(res.local[i], "relay");
                TEST_STREQ(res.remote[i], "relay");
        }
        TEST_STREQ(res.received[0], "hello from bob");
        TEST_STREQ(res.received[1], "hello from alice");
        TEST_INTEQ(res.intruder_code, 1002);
        TEST_ASSERT(!res.intruder_reached, "the intruder's signal reached a peer");
        TEST_ASSERT(res.signals_sent >= 4, "signals sent: %d", res.signals_sent);
        TEST_INTEQ(res.signals_relayed, res.signals_sent);
        /* coturn granted each peer an allocation for the credentials of its
         * own callsig reply, and the data went through relay channels */
        char needle[512];
        for (int i = 0; i < 2; i++) {
                snprintf(needle, sizeof(needle),
                         "user <%s>: incoming packet ALLOCATE processed, success",
                         res.turn_user[i]);
                TEST_ASSERT(p2p_turn_log_has(needle), "coturn log lacks: %s", needle);
                snprintf(needle, sizeof(needle),
                         "user <%s>: incoming packet CHANNEL_BIND processed, success",
                         res.turn_user[i]);
                TEST_ASSERT(p2p_turn_log_has(needle), "coturn log lacks: %s", needle);
        }
        TEST_SAY("connected peer to peer through TURN (relay) in %lld ms, %d custom "
                 "signals relayed", (long long)res.connect_ms, res.signals_relayed);
        env_stop(env);

        /* the same with a wrong turn.secret in callsig's config */
        env = start("p2pbad", port, "not-the-turn-servers-secret");
        p2p_call(env, "carol", "dave", "mallory", "p2p-room-bad", 20000, &res);
        for (int i = 0; i < 2; i++) {
                TEST_ASSERT(!res.connected[i], "peer %d connected with a wrong secret", i);
                TEST_ASSERT(res.error[i][0], "peer %d: no error", i);
                TEST_SAY("wrong secret, peer %d: %s", i, res.error[i]);
                /* coturn refused exactly these credentials */
                snprintf(needle, sizeof(needle),
                         "check_stun_auth: Cannot find credentials of user <%s>",
                         res.turn_user[i]);
                TEST_ASSERT(p2p_turn_log_has(needle), "coturn log lacks: %s", needle);
                snprintf(needle, sizeof(needle),
                         "user <%s>: incoming packet ALLOCATE processed, success",
                         res.turn_user[i]);
                TEST_ASSERT(!p2p_turn_log_has(needle), "coturn allocated: %s", needle);
        }
        TEST_ASSERT(!res.intruder_reached, "the intruder's signal reached a peer");
        env_stop(env);
        p2p_turn_stop();
        return test_done();
}
