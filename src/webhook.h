/*
 * webhook.h: verification of LiveKit webhook requests (contract section 9).
 *
 * LiveKit signs each webhook with an access token in the Authorization
 * header (the raw JWT, no "Bearer "): HS256 with the API secret, iss = the
 * API key, nbf/exp, and a sha256 claim holding base64(SHA-256(body)) of the
 * exact body bytes. libjwt 1.10's jwt_decode() checks the signature only
 * (and accepts HS384/HS512 under the same key), so every other rule is
 * checked here.
 *
 * @locality any thread: no state.
 */
#ifndef CALLSIG_WEBHOOK_H
#define CALLSIG_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "err.h"

/* Largest time difference accepted on exp and nbf, seconds (LiveKit's own
 * verifier allows a minute). */
#define CS_WEBHOOK_LEEWAY_S 60
/* Longest Authorization header looked at. */
#define CS_WEBHOOK_MAX_TOKEN 4096

/**
 * Verifies a webhook request.
 * @param auth   the Authorization header (NULL: absent).
 * @param body   the request body, exactly as received.
 * @param now_s  unix seconds.
 * @returns CS_OK if it is authentic; CS_ERR_NOT_PERMITTED with the reason
 *          in @p errstr otherwise (the reason names the failed rule, never
 *          the token or the secret).
 */
cs_err_t cs_webhook_verify(const char *api_key, const char *api_secret,
                           const char *auth, const uint8_t *body, size_t len,
                           int64_t now_s, char *errstr,
                           size_t errstr_size) CS_WUR;

/** Writes base64(SHA-256(@p body)) (44 characters and a NUL) to @p out. */
void cs_webhook_body_hash(const uint8_t *body, size_t len, char out[45]);

#endif
