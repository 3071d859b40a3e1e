/*
 * token.h: LiveKit access tokens (HS256 JWT, contract section 6).
 *
 * Claims: iss = API key, sub = userID, nbf = now, exp = now + ttl,
 * video = {"room", "roomJoin", "canPublish", "canSubscribe",
 * "canPublishData"} as a JSON object, name = nickname when given,
 * metadata = a JSON *string* describing the participant when given.
 *
 * libjwt 1.10 only checks signatures on decode, so cs_token_verify() checks
 * alg, exp, nbf and iss itself.
 *
 * @locality any thread; no shared state.
 */
#ifndef CALLSIG_TOKEN_H
#define CALLSIG_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

/* Input limits. Identity and room name follow LiveKit's default server
 * limits; the metadata cap keeps libjwt 1.10's stack buffers (alloca of
 * about twice the payload) small. Longer inputs are refused. */
#define CS_TOKEN_ID_MAX 256         /* user_id, room_id, api_key (bytes) */
#define CS_TOKEN_NAME_MAX 256       /* name (bytes) */
#define CS_TOKEN_METADATA_MAX 8192  /* metadata (bytes, before escaping) */
#define CS_TOKEN_MAX (128 * 1024)   /* longest token cs_token_verify takes */

typedef struct cs_token_claims_s {
        const char *user_id;  /* sub (required) */
        const char *room_id;  /* video.room (required) */
        const char *name;     /* name claim, omitted if NULL or "" */
        const char *metadata; /* metadata claim (any text, emitted as a JSON
                                 string), omitted if NULL or "" */
} cs_token_claims_t;

/**
 * Mints a token for @p claims, valid from @p now_s for @p ttl_s seconds,
 * signed with @p api_secret (raw bytes of the string). Strings must be
 * valid UTF-8 and within the CS_TOKEN_*_MAX limits; @p ttl_s > 0.
 *
 * @returns the compact JWT, owned by the caller (free with free()), or NULL
 *          with the reason in @p errstr.
 */
char *cs_token_mint(const char *api_key, const char *api_secret,
                    int64_t ttl_s, int64_t now_s,
                    const cs_token_claims_t *claims, char *errstr,
                    size_t errstr_size) CS_WUR;

/**
 * The compact JWS (RFC 7515 section 7.1) of claims text @p claims: the fixed
 * header {"alg":"HS256","typ":"JWT"}, the claims as given and an
 * HMAC-SHA256 under @p secret (@p secret_len bytes), each base64url-encoded.
 * The caller vouches that @p claims is one JSON object. Any thread.
 *
 * @returns the token (caller frees) or NULL when OpenSSL fails.
 */
char *cs_token_sign(const char *claims, const char *secret, size_t secret_len) CS_WUR;

/** What cs_token_verify() read from a valid token; strings owned by it. */
typedef struct cs_token_info_s {
        char *user_id;  /* sub */
        char *room_id;  /* video.room, "" if absent */
        char *name;     /* NULL if absent */
        char *metadata; /* NULL if absent */
        int64_t nbf;    /* 0 if absent */
        int64_t exp;
        int room_join;  /* video.roomJoin */
} cs_token_info_t;

/**
 * Verifies @p token like a LiveKit server would: signature with
 * @p api_secret, alg exactly HS256, iss == @p api_key, exp present and
 * now <= exp + leeway, nbf <= now + leeway.
 *
 * A claim of the wrong JSON type (exp or nbf not an integer, name not a
 * string, video not an object ...) fails the token, as on the server.
 * Whether video.roomJoin is set is reported in @p info, not checked.
 *
 * @param leeway_s  seconds of clock skew allowed (>= 0; LiveKit servers
 *                  use 60, the Node SDK 10).
 * @param info  filled on success only (may be NULL); release with
 *              cs_token_info_clear().
 * @returns 0 if valid, -1 with the reason in @p errstr.
 */
int cs_token_verify(const char *api_key, const char *api_secret,
                    const char *token, int64_t now_s, int64_t leeway_s,
                    cs_token_info_t *info, char *errstr,
                    size_t errstr_size) CS_WUR;

/** Frees the strings of @p info and zeroes it. */
void cs_token_info_clear(cs_token_info_t *info);

/**
 * Builds the participant metadata text from a serialized-independent view:
 * a compact JSON object with the non-empty fields given.
 * Empty strings, NULL and role_level 0 are left out; key order is fixed
 * (userID, nickname, faceURL, groupID, groupName, groupNickname,
 * roleLevel). Invalid UTF-8 is replaced with U+FFFD.
 * @returns a malloc'ed string (caller frees) or NULL if every field is empty
 *          (or on out of memory).
 */
char *cs_token_participant_json(const char *user_id, const char *nickname,
                                const char *face_url, const char *group_id,
                                const char *group_name,
                                const char *group_nickname,
                                int32_t role_level);

#endif
