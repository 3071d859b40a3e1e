/*
 * token.c: LiveKit access tokens with libjwt 1.10 (contract section 6).
 *
 * Minting builds all claims (iss, sub, video, name, metadata, nbf, exp) as
 * one jansson object (jansson checks the UTF-8), serialises it once and
 * signs it here: a fixed {"alg":"HS256","typ":"JWT"} header, base64url, and
 * HMAC-SHA256 through OpenSSL's EVP_MAC (fetched once per process). Handing
 * the text to libjwt instead parsed and re-serialised it (the claims went
 * through JSON twice, about half of a token's cost). video is a real nested
 * object, metadata a JSON string, nbf and exp JSON integers.
 *
 * Verifying relies on jwt_decode() for the signature only. libjwt 1.10
 * accepts HS384/HS512 under the same key and checks no claims, so alg, iss,
 * exp, nbf and the claim types are checked here. The video object and the
 * time claims come back from libjwt as JSON text (jansson, compact) and are
 * parsed again with jansson.
 *
 * Memory: libjwt 1.10.2 has no jwt_free_str() and no jwt_set_alloc(); the
 * strings it returns (jwt_encode_str, jwt_get_grants_json via jansson's
 * default allocator) are plain malloc memory, released with free(). We never
 * install other allocators, so a token from cs_token_mint() is freed with
 * free() by the caller.
 *
 * Nothing here logs; secrets and tokens never reach errstr.
 */
#include "token.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <jwt.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <pthread.h>

#include "alloc.h"
#include "err.h"

/* jwt_add_grant_int() takes a long; NumericDates need 64 bits. */
_Static_assert(sizeof(long) >= sizeof(int64_t), "long must hold int64_t");

/* Cap on cs_token_participant_json() output; cs_token_mint() refuses
 * metadata above CS_TOKEN_METADATA_MAX anyway. */
#define TOKEN_PARTICIPANT_JSON_MAX (1024 * 1024)

/* @returns a static description of a libjwt errno value. */
static const char *token_jwt_err2str(int err) {
        switch (err) {
        case ENOMEM:
                return "out of memory";
        case EINVAL:
                return "invalid argument";
        case EEXIST:
                return "claim already set";
        case ENOENT:
                return "not found";
        default:
                return "unexpected libjwt error";
        }
}

/* Releases a string returned by libjwt 1.10 (plain malloc memory, see the
 * file comment). The one place to change if libjwt grows an allocator. */
static void token_jwt_free_str(char *str) {
        free(str);
}


/*
 * @returns the length (1-4) of the well-formed UTF-8 sequence at @p p
 * (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF), or 0.
 * The terminating NUL is never a continuation byte, so no length is needed.
 */
static size_t token_utf8_len(const unsigned char *p) {
        unsigned char c = p[0];

        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf)
                return (p[1] & 0xc0) == 0x80 ? 2 : 0;
        if (c >= 0xe0 && c <= 0xef) {
                unsigned char lo = c == 0xe0 ? 0xa0 : 0x80;
                unsigned char hi = c == 0xed ? 0x9f : 0xbf;

                if (p[1] < lo || p[1] > hi || (p[2] & 0xc0) != 0x80)
                        return 0;
                return 3;
        }
        if (c >= 0xf0 && c <= 0xf4) {
                unsigned char lo = c == 0xf0 ? 0x90 : 0x80;
                unsigned char hi = c == 0xf4 ? 0x8f : 0xbf;

                if (p[1] < lo || p[1] > hi || (p[2] & 0xc0) != 0x80 ||
                    (p[3] & 0xc0) != 0x80)
                        return 0;
                return 4;
        }
        return 0;
}

/*
 * A JSON string of @p s with every byte that is not part of well-formed
 * UTF-8 replaced by U+FFFD. @returns a new reference (NULL on out of
 * memory).
 */
static json_t *token_json_lossy(const char *s) {
        const unsigned char *p = (const unsigned char *)s;
        size_t len = strlen(s), n, o = 0;
        char *copy;
        json_t *str;

        if (len > TOKEN_PARTICIPANT_JSON_MAX)
                return NULL;
        /* At most 3 output bytes per input byte. */
        copy = cs_xmalloc(len * 3 + 1);
        while (*p) {
                n = token_utf8_len(p);
                if (n) {
                        memcpy(copy + o, p, n);
                        o += n;
                        p += n;
                } else {
                        memcpy(copy + o, "\xef\xbf\xbd", 3);
                        o += 3;
                        p++;
                }
        }
        str = json_stringn(copy, o);
        free(copy);
        return str;
}

/*
 * Parses claim text @p json (as libjwt returns it: jansson's compact
 * output of the claim) into a new reference, or NULL if it is not JSON.
 */
static json_t *token_json_load(const char *json) {
        return json_loads(json, JSON_DECODE_ANY, NULL);
}

/*
 * Reads "room" (string) and "roomJoin" (bool) from the video object's JSON
 * text. Other members are ignored; wrong types are refused.
 * @param roomp  set to the room (malloc'ed) or left NULL if absent.
 */
static int token_parse_video(const char *json, char **roomp, int *joinp,
                             char *errstr, size_t errstr_size) {
        json_t *video = token_json_load(json);
        json_t *room, *join;
        int err = EINVAL;

        if (!video) {
                cs_errf(errstr, errstr_size,
                          "video claim is not valid JSON for a grant");
                goto done;
        }
        if (!json_is_object(video)) {
                cs_errf(errstr, errstr_size, "video claim is not an object");
                goto done;
        }
        room = json_object_get(video, "room");
        if (room && !json_is_string(room)) {
                cs_errf(errstr, errstr_size, "video.room is not a string");
                goto done;
        }
        join = json_object_get(video, "roomJoin");
        if (join && !json_is_boolean(join)) {
                cs_errf(errstr, errstr_size,
                          "video.roomJoin is not a boolean");
                goto done;
        }
        *roomp = room ? cs_xstrdup(json_string_value(room)) : NULL;
        *joinp = json_is_true(join);
        err = 0;

done:
        json_decref(video);
        return err;
}

/* Parses a JSON integer (jansson prints them as [-]digits) into @p valp. */
static bool token_parse_int(const char *json, int64_t *valp) {
        json_t *val = token_json_load(json);
        bool ok = json_is_integer(val);

        _Static_assert(sizeof(json_int_t) >= sizeof(int64_t),
                       "json_int_t must hold int64_t");
        if (ok)
                *valp = (int64_t)json_integer_value(val);
        json_decref(val);
        return ok;
}

/*
 * Reads integer claim @p name. @returns 1 if present and an integer,
 * 0 if absent, -1 (errstr written) if present with another type or on
 * out of memory.
 */
static int token_get_int(jwt_t *jwt, const char *name, int64_t *valp,
                         char *errstr, size_t errstr_size) {
        char *json = NULL;
        int ret = -1;

        errno = 0;
        json = jwt_get_grants_json(jwt, name);
        if (!json) {
                if (errno == ENOMEM) {
                        cs_errf(errstr, errstr_size, "out of memory");
                        goto done;
                }
                ret = 0;
                goto done;
        }
        if (!token_parse_int(json, valp)) {
                cs_errf(errstr, errstr_size,
                          "%s claim is not an integer NumericDate", name);
                goto done;
        }
        ret = 1;

done:
        token_jwt_free_str(json);
        return ret;
}

/*
 * Copies string claim @p name into *strp (malloc'ed) or leaves it NULL if
 * absent. @returns 0, or -1 (errstr written) for another type or on out
 * of memory.
 */
static int token_get_str(jwt_t *jwt, const char *name, char **strp,
                         char *errstr, size_t errstr_size) {
        char *json = NULL;
        const char *val;
        int ret = -1;

        *strp = NULL;
        json = jwt_get_grants_json(jwt, name);
        if (!json) {
                ret = 0; /* absent (or out of memory: the same to libjwt) */
                goto done;
        }
        val = jwt_get_grant(jwt, name);
        if (!val) {
                cs_errf(errstr, errstr_size, "%s claim is not a string",
                          name);
                goto done;
        }
        *strp = cs_xstrdup(val);
        ret = 0;

done:
        token_jwt_free_str(json);
        return ret;
}


/* Checks that optional string @p val fits @p max bytes. */
/* base64url (RFC 4648 section 5) of @p len bytes at @p in, without
 * padding, written at @p out (room for (len * 4 + 2) / 3 bytes); @returns
 * the bytes written. */
static size_t token_b64url(char *out, const unsigned char *in, size_t len) {
        static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                  "0123456789-_";
        size_t o = 0, i = 0;

        for (; i + 3 <= len; i += 3) {
                uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
                out[o++] = abc[v >> 18];
                out[o++] = abc[(v >> 12) & 63];
                out[o++] = abc[(v >> 6) & 63];
                out[o++] = abc[v & 63];
        }
        if (len - i == 1) {
                uint32_t v = (uint32_t)in[i] << 16;
                out[o++] = abc[v >> 18];
                out[o++] = abc[(v >> 12) & 63];
        } else if (len - i == 2) {
                uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
                out[o++] = abc[v >> 18];
                out[o++] = abc[(v >> 12) & 63];
                out[o++] = abc[(v >> 6) & 63];
        }
        return o;
}

/* The JOSE header every callsig token carries, base64url-encoded:
 * {"alg":"HS256","typ":"JWT"}. */
#define TOKEN_HEADER_B64 "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

/* HMAC-SHA256, fetched from OpenSSL's default provider once per process
 * (a fetch per token costs more than the signature itself). */
static EVP_MAC *token_hmac;
static pthread_once_t token_hmac_once = PTHREAD_ONCE_INIT;

static void token_hmac_fetch(void) {
        token_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

char *cs_token_sign(const char *claims, const char *secret, size_t secret_len) {
        size_t claims_len = strlen(claims), hlen = strlen(TOKEN_HEADER_B64);
        size_t cap = hlen + 1 + (claims_len * 4 + 2) / 3 + 1 + 43 + 1;
        char *tok = cs_xmalloc(cap);
        unsigned char mac[EVP_MAX_MD_SIZE];
        size_t n = hlen, mac_len = 0;
        char digest[] = "SHA256";
        OSSL_PARAM params[] = {
                OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                OSSL_PARAM_construct_end(),
        };
        EVP_MAC_CTX *ctx = NULL;

        memcpy(tok, TOKEN_HEADER_B64, hlen);
        tok[n++] = '.';
        n += token_b64url(tok + n, (const unsigned char *)claims, claims_len);
        pthread_once(&token_hmac_once, token_hmac_fetch);
        if (!token_hmac || !(ctx = EVP_MAC_CTX_new(token_hmac)) ||
            !EVP_MAC_init(ctx, (const unsigned char *)secret, secret_len, params) ||
            !EVP_MAC_update(ctx, (const unsigned char *)tok, n) ||
            !EVP_MAC_final(ctx, mac, &mac_len, sizeof(mac)) || mac_len != 32) {
                EVP_MAC_CTX_free(ctx);
                free(tok);
                return NULL;
        }
        EVP_MAC_CTX_free(ctx);
        tok[n++] = '.';
        n += token_b64url(tok + n, mac, mac_len);
        tok[n] = '\0';
        return tok;
}

static bool token_fits(const char *val, size_t max) {
        return !val || strnlen(val, max + 1) <= max;
}

/* A growing text buffer of token_claims_text(). */
typedef struct token_buf_s {
        char *p;
        size_t len, cap;
} token_buf_t;

static void token_buf_add(token_buf_t *b, const char *s, size_t n) {
        if (b->len + n + 1 > b->cap) {
                b->cap = (b->len + n + 1) * 2;
                b->p = cs_xrealloc(b->p, b->cap);
        }
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = '\0';
}

static void token_buf_lit(token_buf_t *b, const char *s) {
        token_buf_add(b, s, strlen(s));
}

/*
 * Appends @p val as a JSON string. Printable ASCII without '"' and '\\' (IDs,
 * keys, plain names) is copied as it is, which is what jansson would write;
 * anything else is encoded by jansson, which checks the UTF-8 and escapes.
 * @returns 0, EILSEQ (not valid UTF-8) or ENOMEM.
 */
static int token_buf_str(token_buf_t *b, const char *val) {
        size_t n = 0;
        const unsigned char *u = (const unsigned char *)val;

        while (u[n] >= 0x20 && u[n] < 0x7f && u[n] != '"' && u[n] != '\\')
                n++;
        if (!u[n]) {
                token_buf_add(b, "\"", 1);
                token_buf_add(b, val, n);
                token_buf_add(b, "\"", 1);
                return 0;
        }
        json_t *str = json_string(val);
        if (!str) /* invalid UTF-8, or out of memory: jansson does not
                   * tell them apart */
                return EILSEQ;
        char *text = json_dumps(str, JSON_ENCODE_ANY | JSON_COMPACT);
        json_decref(str);
        if (!text)
                return ENOMEM;
        token_buf_lit(b, text);
        free(text);
        return 0;
}

/*
 * The claims of a token as one compact JSON object with sorted keys (exp,
 * iss, metadata, name, nbf, sub, video{canPublish, canPublishData,
 * canSubscribe, room, roomJoin}: byte for byte what jansson's
 * JSON_COMPACT | JSON_SORT_KEYS writes; test_token pins it). name and
 * metadata are left out when empty. @returns the text (caller frees) or
 * NULL with *errp = EILSEQ (the field named by *fieldp is not valid UTF-8)
 * or E2BIG.
 */
static char *token_claims_text(const char *api_key,
                               const cs_token_claims_t *claims,
                               int64_t nbf, int64_t exp,
                               const char **fieldp, int *errp) {
        token_buf_t b = {0};
        char num[32];
        int err;

        snprintf(num, sizeof(num), "%" PRId64, exp);
        token_buf_lit(&b, "{\"exp\":");
        token_buf_lit(&b, num);
        token_buf_lit(&b, ",\"iss\":");
        *fieldp = "API key";
        if ((err = token_buf_str(&b, api_key)))
                goto fail;
        if (claims->metadata && *claims->metadata) {
                token_buf_lit(&b, ",\"metadata\":");
                *fieldp = "metadata";
                if ((err = token_buf_str(&b, claims->metadata)))
                        goto fail;
        }
        if (claims->name && *claims->name) {
                token_buf_lit(&b, ",\"name\":");
                *fieldp = "name";
                if ((err = token_buf_str(&b, claims->name)))
                        goto fail;
        }
        snprintf(num, sizeof(num), "%" PRId64, nbf);
        token_buf_lit(&b, ",\"nbf\":");
        token_buf_lit(&b, num);
        token_buf_lit(&b, ",\"sub\":");
        *fieldp = "user ID";
        if ((err = token_buf_str(&b, claims->user_id)))
                goto fail;
        token_buf_lit(&b, ",\"video\":{\"canPublish\":true,\"canPublishData\":true,"
                          "\"canSubscribe\":true,\"room\":");
        *fieldp = "room ID";
        if ((err = token_buf_str(&b, claims->room_id)))
                goto fail;
        token_buf_lit(&b, ",\"roomJoin\":true}}");
        if (b.len > CS_TOKEN_MAX) {
                err = E2BIG;
                goto fail;
        }
        *errp = 0;
        return b.p;
fail:
        free(b.p);
        *errp = err;
        return NULL;
}

char *cs_token_mint(const char *api_key, const char *api_secret,
                    int64_t ttl_s, int64_t now_s,
                    const cs_token_claims_t *claims, char *errstr,
                    size_t errstr_size) {
        char *text = NULL;
        char *token = NULL;
        const char *field;
        size_t secret_len;
        int err;

        if (!api_key || !*api_key || !api_secret || !*api_secret) {
                cs_errf(errstr, errstr_size,
                          "API key and secret must not be empty");
                goto done;
        }
        secret_len = strlen(api_secret);
        if (secret_len > INT_MAX) {
                cs_errf(errstr, errstr_size, "API secret is too long");
                goto done;
        }
        if (!claims || !claims->user_id || !*claims->user_id ||
            !claims->room_id || !*claims->room_id) {
                cs_errf(errstr, errstr_size,
                          "user ID and room ID must not be empty");
                goto done;
        }
        if (!token_fits(claims->user_id, CS_TOKEN_ID_MAX) ||
            !token_fits(claims->room_id, CS_TOKEN_ID_MAX) ||
            !token_fits(api_key, CS_TOKEN_ID_MAX) ||
            !token_fits(claims->name, CS_TOKEN_NAME_MAX) ||
            !token_fits(claims->metadata, CS_TOKEN_METADATA_MAX)) {
                cs_errf(errstr, errstr_size,
                          "claim too long (limits: IDs and key %d, name %d, "
                          "metadata %d bytes)",
                          CS_TOKEN_ID_MAX, CS_TOKEN_NAME_MAX,
                          CS_TOKEN_METADATA_MAX);
                goto done;
        }
        if (ttl_s <= 0 || now_s < 0 || now_s > (int64_t)LONG_MAX - ttl_s) {
                cs_errf(errstr, errstr_size,
                          "invalid time: ttl %" PRId64 " s, now %" PRId64,
                          ttl_s, now_s);
                goto done;
        }
        text = token_claims_text(api_key, claims, now_s, now_s + ttl_s, &field,
                                 &err);
        if (err == EILSEQ) {
                cs_errf(errstr, errstr_size, "%s is not valid UTF-8",
                          field);
                goto done;
        } else if (err) {
                cs_errf(errstr, errstr_size, "claims: %s",
                          err == E2BIG ? "too long" : "out of memory");
                goto done;
        }
        token = cs_token_sign(text, api_secret, secret_len);
        if (!token)
                cs_errf(errstr, errstr_size, "signing token: OpenSSL's HMAC failed");

done:
        free(text);
        return token;
}

int cs_token_verify(const char *api_key, const char *api_secret,
                    const char *token, int64_t now_s, int64_t leeway_s,
                    cs_token_info_t *info, char *errstr,
                    size_t errstr_size) {
        cs_token_info_t out = {0};
        jwt_t *jwt = NULL;
        char *video = NULL;
        const char *val;
        size_t secret_len;
        int64_t exp_s = 0, nbf_s = 0;
        int ret = -1, err, has;

        /* An empty key would make jwt_decode() skip the signature. */
        if (!api_key || !*api_key || !api_secret || !*api_secret) {
                cs_errf(errstr, errstr_size,
                          "API key and secret must not be empty");
                goto done;
        }
        secret_len = strlen(api_secret);
        if (secret_len > INT_MAX) {
                cs_errf(errstr, errstr_size, "API secret is too long");
                goto done;
        }
        if (now_s < 0 || leeway_s < 0) {
                cs_errf(errstr, errstr_size, "invalid time or leeway");
                goto done;
        }
        /* libjwt decodes on the stack (alloca): bound the input. */
        if (!token || !*token || strnlen(token, CS_TOKEN_MAX + 1) >
                                         CS_TOKEN_MAX) {
                cs_errf(errstr, errstr_size,
                          "token empty or longer than %d bytes",
                          CS_TOKEN_MAX);
                goto done;
        }

        err = jwt_decode(&jwt, token, (const unsigned char *)api_secret,
                         (int)secret_len);
        if (err) {
                if (err == EINVAL)
                        cs_errf(errstr, errstr_size,
                                  "malformed token or bad signature");
                else
                        cs_errf(errstr, errstr_size, "decoding token: %s",
                                  token_jwt_err2str(err));
                goto done;
        }
        /* libjwt verified with whatever HMAC the header named. This also
         * covers alg "none" (jwt_decode() refuses it when given a key) and
         * libjwt 1.10's out-of-memory path that returns 0 unverified. */
        if (jwt_get_alg(jwt) != JWT_ALG_HS256) {
                val = jwt_alg_str(jwt_get_alg(jwt));
                cs_errf(errstr, errstr_size, "alg %s is not HS256",
                          val ? val : "(unknown)");
                goto done;
        }

        val = jwt_get_grant(jwt, "iss");
        if (!val || strcmp(val, api_key)) {
                cs_errf(errstr, errstr_size,
                          "iss claim missing or not the API key");
                goto done;
        }

        has = token_get_int(jwt, "exp", &exp_s, errstr, errstr_size);
        if (has < 0)
                goto done;
        if (!has) {
                cs_errf(errstr, errstr_size, "exp claim missing");
                goto done;
        }
        /* now > exp + leeway, without overflow (now, leeway >= 0). */
        if (exp_s < now_s - leeway_s) {
                cs_errf(errstr, errstr_size,
                          "token expired (leeway %" PRId64 " s)", leeway_s);
                goto done;
        }
        has = token_get_int(jwt, "nbf", &nbf_s, errstr, errstr_size);
        if (has < 0)
                goto done;
        if (has && nbf_s > now_s && nbf_s - now_s > leeway_s) {
                cs_errf(errstr, errstr_size,
                          "token not valid for another %" PRId64
                          " s (leeway %" PRId64 " s)",
                          nbf_s - now_s, leeway_s);
                goto done;
        }

        if (token_get_str(jwt, "sub", &out.user_id, errstr, errstr_size))
                goto done;
        if (!out.user_id || !*out.user_id) {
                cs_errf(errstr, errstr_size, "sub claim missing or empty");
                goto done;
        }
        if (token_get_str(jwt, "name", &out.name, errstr, errstr_size) ||
            token_get_str(jwt, "metadata", &out.metadata, errstr,
                          errstr_size))
                goto done;

        errno = 0;
        video = jwt_get_grants_json(jwt, "video");
        if (video) {
                if (token_parse_video(video, &out.room_id, &out.room_join,
                                      errstr, errstr_size))
                        goto done;
        } else if (errno == ENOMEM) {
                cs_errf(errstr, errstr_size, "out of memory");
                goto done;
        }
        if (!out.room_id)
                out.room_id = cs_xstrdup("");
        out.nbf = nbf_s;
        out.exp = exp_s;

        if (info) {
                *info = out;
                memset(&out, 0, sizeof(out));
        }
        ret = 0;

done:
        cs_token_info_clear(&out);
        token_jwt_free_str(video);
        jwt_free(jwt);
        return ret;
}

void cs_token_info_clear(cs_token_info_t *info) {
        if (!info)
                return;
        free(info->user_id);
        free(info->room_id);
        free(info->name);
        free(info->metadata);
        memset(info, 0, sizeof(*info));
}

char *cs_token_participant_json(const char *user_id, const char *nickname,
                                const char *face_url, const char *group_id,
                                const char *group_name,
                                const char *group_nickname,
                                int32_t role_level) {
        const struct {
                const char *key;
                const char *val;
        } fields[] = {
                {"userID", user_id},       {"nickname", nickname},
                {"faceURL", face_url},     {"groupID", group_id},
                {"groupName", group_name}, {"groupNickname", group_nickname},
        };
        json_t *obj = json_object();
        json_t *str;
        char *json = NULL;
        size_t i;

        if (!obj)
                goto done;
        for (i = 0; i < CS_ARRAY_SIZE(fields); i++) {
                if (!fields[i].val || !*fields[i].val)
                        continue;
                str = token_json_lossy(fields[i].val);
                if (!str || json_object_set_new(obj, fields[i].key, str))
                        goto done;
        }
        if (role_level != 0 &&
            json_object_set_new(obj, "roleLevel", json_integer(role_level)))
                goto done;
        if (!json_object_size(obj))
                goto done;
        /* jansson keeps insertion order: the key order above. */
        json = json_dumps(obj, JSON_COMPACT);
        if (json && strlen(json) > TOKEN_PARTICIPANT_JSON_MAX) {
                free(json);
                json = NULL;
        }

done:
        json_decref(obj);
        return json;
}
