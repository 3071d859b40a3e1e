/*
 * p2p.h: a real peer-to-peer call through callsig, for scenario 0072 and
 * the demo.
 *
 * A coturn TURN server (Debian's `coturn`, `turnserver` on PATH) runs on
 * loopback with the TURN REST API secret (use-auth-secret); two WebRTC
 * peers (tests/p2p/peer.py, aiortc from the venv that scripts/deps-aiortc.sh
 * makes under .cache/) act as the phones. The driver here is their IM
 * gateway: it places the call through callsig over Kafka (invite, accept),
 * hands each peer the iceServers of its own reply, sends what a peer asks
 * as callsig custom signals and forwards the 1605 notifications callsig
 * relays; nothing else carries the SDP or the ICE candidates.
 */
#ifndef CALLSIG_P2P_H
#define CALLSIG_P2P_H

#include <stdbool.h>
#include <stdint.h>

#include "harness.h"

/** @returns NULL when coturn and the aiortc venv are installed, else why
 *  not (static). */
const char *p2p_missing(void);
/** Exits the test with ctest's skip code 77 when p2p_missing(), or fails
 *  it when CALLSIG_TEST_REQUIRE_P2P is set (scripts/test.sh sets it). */
void p2p_require(void);

/** Starts coturn on 127.0.0.1 (a free port, a small relay port range)
 *  with static-auth-secret @p secret; fails the test on any error. Stopped
 *  by p2p_turn_stop() or when the test process ends. @returns the port. */
int p2p_turn_start(const char *secret);
void p2p_turn_stop(void);
/** @returns true if coturn's log (it runs with --verbose) holds @p needle. */
bool p2p_turn_log_has(const char *needle);

/* What one call showed. */
typedef struct p2p_result_s {
        bool connected[2];      /* caller, callee */
        char received[2][128];  /* the data channel message each received */
        char local[2][16];      /* candidate types of the nominated pair */
        char remote[2][16];
        char error[2][256];
        char turn_user[2][300]; /* TURN username of each reply's iceServers */
        int64_t connect_ms;     /* from the offer to the caller's answer on
                                   the data channel, measured here */
        int signals_sent;       /* custom signals the peers sent */
        int signals_relayed;    /* 1605 notifications forwarded to them */
        int intruder_code;      /* errCode of the third user's signal */
        bool intruder_reached;  /* a peer was sent the third user's signal */
} p2p_result_t;

/**
 * Places a 1:1 call from @p caller to @p callee in @p room through
 * callsig and lets the two peers connect; @p intruder (in no call) sends a
 * custom signal to the room meanwhile. Watches the three users' push
 * topics itself. Waits at most @p timeout_ms (scaled) for both peers to
 * report; hangs up at the end.
 */
void p2p_call(env_t *env, const char *caller, const char *callee,
              const char *intruder, const char *room, int timeout_ms,
              p2p_result_t *res);

#endif
