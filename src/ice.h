/*
 * ice.h: the STUN/TURN servers callsig hands to clients (contract section
 * 11): URL checks for the configuration, and time-limited TURN credentials
 * in the TURN REST API format that coturn verifies with use-auth-secret
 * (username "<expiry>:<userID>", credential base64(HMAC-SHA1(secret,
 * username)), both from OpenSSL).
 *
 * @locality any thread; no shared state.
 */
#ifndef CALLSIG_ICE_H
#define CALLSIG_ICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "callsig.pb-c.h"
#include "config.h"

/**
 * Checks one ICE server URL: `stun:`, `turn:` or `turns:`, a host (name,
 * IPv4 or [IPv6]), an optional port 1..65535 and, for TURN only, an
 * optional `?transport=udp|tcp`. @returns true, or false with a short
 * problem in @p problem.
 */
bool cs_ice_url_valid(const char *url, char *problem, size_t problem_size);

/**
 * Checks a comma-separated list of URLs (as stun.urls / turn.urls hold
 * them; "" is an empty list). @p want_turn: each must be turn:/turns:,
 * else stun:. @returns true, or false with the problem naming the URL.
 */
bool cs_ice_url_list_valid(const char *list, bool want_turn, char *problem,
                           size_t problem_size);

/**
 * The TURN REST credential for @p user_id valid until @p expiry_s (unix
 * seconds): *@p usernamep = "<expiry>:<userID>", *@p credentialp =
 * base64(HMAC-SHA1(@p secret, username)). Both malloc'ed, owned by the
 * caller.
 */
void cs_ice_turn_credential(const char *secret, const char *user_id,
                            int64_t expiry_s, char **usernamep,
                            char **credentialp);

/* The iceServers of one reply: at most one STUN and one TURN entry. */
typedef struct cs_ice_servers_s {
        Callsig__V1__IceServer entries[2];
        Callsig__V1__IceServer *ptrs[2];
        size_t cnt;
        char **urls[2];
        char *username, *credential;
} cs_ice_servers_t;

/** Fills @p ice with the servers of @p conf for @p user_id at @p now_ms
 *  (cnt 0 when none are configured). Free with cs_ice_servers_clear(). */
void cs_ice_servers_build(const cs_config_t *conf, const char *user_id,
                          int64_t now_ms, cs_ice_servers_t *ice);
void cs_ice_servers_clear(cs_ice_servers_t *ice);

#endif
