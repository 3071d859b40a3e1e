/*
 * token.c: LiveKit access tokens with libjwt 1.10 (contract section 6).
 *
 * Minting builds the string claims (iss, sub, video, name, metadata) as one
 * JSON document with our own escaper and hands it to jwt_add_grants_json(),
 * so video is a real nested object and metadata a JSON string; nbf and exp
 * go in with jwt_add_grant_int() so they are JSON integers.
 *
 * Verifying relies on jwt_decode() for the signature only. libjwt 1.10
 * accepts HS384/HS512 under the same key and checks no claims, so alg, iss,
 * exp, nbf and the claim types are checked here. The video object comes
 * back from libjwt as JSON text (jansson, compact) and is read with a small
 * scanner below.
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

#include <jwt.h>

#include "alloc.h"

/* jwt_add_grant_int() takes a long; NumericDates need 64 bits. */
_Static_assert(sizeof(long) >= sizeof(int64_t), "long must hold int64_t");

/* Cap on cs_token_participant_json() output; cs_token_mint() refuses
 * metadata above CS_TOKEN_METADATA_MAX anyway. */
#define TOKEN_PARTICIPANT_JSON_MAX (1024 * 1024)

/* Nesting depth the video scanner follows before giving up. */
#define TOKEN_SCAN_DEPTH_MAX 32

static void token_err(char *errstr, size_t errstr_size, const char *fmt, ...)
        CS_PRINTF(3, 4);

static void token_err(char *errstr, size_t errstr_size, const char *fmt, ...) {
        va_list ap;

        if (!errstr || !errstr_size)
                return;
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
}

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
 * Growable buffer with a cap and a sticky error: appends after an error do
 * nothing, so a document is built first and checked once.
 */
typedef struct token_buf_s {
        char *data;  /* NUL-terminated once anything was appended */
        size_t len;
        size_t size; /* allocated bytes */
        size_t cap;  /* longest allowed len */
        int err;     /* 0, ENOMEM, E2BIG (cap) or EILSEQ (bad UTF-8) */
} token_buf_t;

static void token_buf_append(token_buf_t *buf, const char *s, size_t n) {
        size_t need, size;
        char *data;

        if (buf->err)
                return;
        if (n > buf->cap - buf->len) {
                buf->err = E2BIG;
                return;
        }
        need = buf->len + n + 1;
        if (need > buf->size) {
                size = buf->size ? buf->size : 256;
                while (size < need)
                        size *= 2;
                data = cs_xrealloc(buf->data, size);
                buf->data = data;
                buf->size = size;
        }
        memcpy(buf->data + buf->len, s, n);
        buf->len += n;
        buf->data[buf->len] = '\0';
}

static void token_buf_puts(token_buf_t *buf, const char *s) {
        token_buf_append(buf, s, strlen(s));
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
 * Appends @p s as a JSON string literal: quotes and backslashes escaped,
 * control characters as \u00XX, UTF-8 kept as it is. Invalid UTF-8 sets
 * EILSEQ, or with @p lossy becomes U+FFFD, byte by byte.
 */
static void token_buf_json_str(token_buf_t *buf, const char *s, bool lossy) {
        static const char hex[] = "0123456789abcdef";
        const unsigned char *p = (const unsigned char *)s;
        const unsigned char *run;
        char esc[6];
        size_t n;

        token_buf_append(buf, "\"", 1);
        while (*p && !buf->err) {
                /* Copy a run of bytes that need no escaping at once. */
                run = p;
                while (*p >= 0x20 && *p != '"' && *p != '\\' &&
                       (n = token_utf8_len(p)) > 0)
                        p += n;
                token_buf_append(buf, (const char *)run, (size_t)(p - run));
                if (!*p)
                        break;
                if (*p == '"' || *p == '\\') {
                        esc[0] = '\\';
                        esc[1] = (char)*p;
                        token_buf_append(buf, esc, 2);
                } else if (*p < 0x20) {
                        esc[0] = '\\';
                        esc[1] = 'u';
                        esc[2] = '0';
                        esc[3] = '0';
                        esc[4] = hex[*p >> 4];
                        esc[5] = hex[*p & 0xf];
                        token_buf_append(buf, esc, 6);
                } else if (lossy) {
                        token_buf_puts(buf, "\xef\xbf\xbd");
                } else if (!buf->err) {
                        buf->err = EILSEQ;
                }
                p++;
        }
        token_buf_append(buf, "\"", 1);
}

/* Appends ,"key":"value" (no comma when @p first). */
static void token_buf_member(token_buf_t *buf, bool first, const char *key,
                             const char *val, bool lossy) {
        if (!first)
                token_buf_append(buf, ",", 1);
        token_buf_json_str(buf, key, false);
        token_buf_append(buf, ":", 1);
        token_buf_json_str(buf, val, lossy);
}


/*
 * A minimal scanner for the JSON text libjwt hands back (jansson output, so
 * well-formed, but read strictly anyway). Functions advance *pp on success
 * and return 0, EINVAL (malformed) or ENOMEM.
 */

static void token_scan_ws(const char **pp) {
        const char *p = *pp;

        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
                p++;
        *pp = p;
}

static int token_scan_hex4(const char *p, unsigned *cpp) {
        unsigned cp = 0;
        int i;

        for (i = 0; i < 4; i++) {
                char c = p[i];

                cp <<= 4;
                if (c >= '0' && c <= '9')
                        cp |= (unsigned)(c - '0');
                else if (c >= 'a' && c <= 'f')
                        cp |= (unsigned)(c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        cp |= (unsigned)(c - 'A' + 10);
                else
                        return EINVAL;
        }
        *cpp = cp;
        return 0;
}

/* Writes code point @p cp as UTF-8 at @p o. @returns the bytes written. */
static size_t token_utf8_put(char *o, unsigned cp) {
        if (cp < 0x80) {
                o[0] = (char)cp;
                return 1;
        }
        if (cp < 0x800) {
                o[0] = (char)(0xc0 | (cp >> 6));
                o[1] = (char)(0x80 | (cp & 0x3f));
                return 2;
        }
        if (cp < 0x10000) {
                o[0] = (char)(0xe0 | (cp >> 12));
                o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
                o[2] = (char)(0x80 | (cp & 0x3f));
                return 3;
        }
        o[0] = (char)(0xf0 | (cp >> 18));
        o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[3] = (char)(0x80 | (cp & 0x3f));
        return 4;
}

/*
 * Reads a string literal at *pp. With @p outp, stores the decoded text
 * (malloc'ed, caller frees); \u0000 and lone surrogates are refused since
 * the result is a C string.
 */
static int token_scan_string(const char **pp, char **outp) {
        const char *p = *pp, *start;
        char *out = NULL, *o = NULL;
        unsigned cp, lo;
        int err = EINVAL;

        if (*p != '"')
                goto done;
        start = ++p;
        /* Find the closing quote to size the output: escapes only shrink. */
        while (*p != '"') {
                if (*p == '\0')
                        goto done;
                if (*p == '\\' && *++p == '\0')
                        goto done;
                p++;
        }
        if (outp) {
                out = cs_xmalloc((size_t)(p - start) + 1);
                o = out;
        }

        for (p = start; *p != '"';) {
                if ((unsigned char)*p < 0x20)
                        goto done;
                if (*p != '\\') {
                        if (o)
                                *o++ = *p;
                        p++;
                        continue;
                }
                p++;
                switch (*p) {
                case '"':
                case '\\':
                case '/':
                        cp = (unsigned char)*p;
                        break;
                case 'b':
                        cp = '\b';
                        break;
                case 'f':
                        cp = '\f';
                        break;
                case 'n':
                        cp = '\n';
                        break;
                case 'r':
                        cp = '\r';
                        break;
                case 't':
                        cp = '\t';
                        break;
                case 'u':
                        if (token_scan_hex4(p + 1, &cp))
                                goto done;
                        p += 4;
                        if (cp >= 0xdc00 && cp <= 0xdfff)
                                goto done; /* lone low surrogate */
                        if (cp >= 0xd800 && cp <= 0xdbff) {
                                if (p[1] != '\\' || p[2] != 'u' ||
                                    token_scan_hex4(p + 3, &lo) ||
                                    lo < 0xdc00 || lo > 0xdfff)
                                        goto done;
                                cp = 0x10000 + ((cp - 0xd800) << 10) +
                                     (lo - 0xdc00);
                                p += 6;
                        }
                        if (cp == 0)
                                goto done;
                        break;
                default:
                        goto done;
                }
                p++;
                if (o)
                        o += token_utf8_put(o, cp);
        }
        if (o)
                *o = '\0';
        *pp = p + 1;
        if (outp) {
                *outp = out;
                out = NULL;
        }
        err = 0;

done:
        free(out);
        return err;
}

static int token_scan_skip(const char **pp, int depth);

/* Skips an object or array body at *pp (which points at '{' or '['). */
static int token_scan_skip_container(const char **pp, int depth) {
        const char *p = *pp;
        char close = *p == '{' ? '}' : ']';
        int err;

        if (depth > TOKEN_SCAN_DEPTH_MAX)
                return EINVAL;
        p++;
        token_scan_ws(&p);
        if (*p == close) {
                *pp = p + 1;
                return 0;
        }
        for (;;) {
                if (close == '}') {
                        if ((err = token_scan_string(&p, NULL)))
                                return err;
                        token_scan_ws(&p);
                        if (*p++ != ':')
                                return EINVAL;
                        token_scan_ws(&p);
                }
                if ((err = token_scan_skip(&p, depth + 1)))
                        return err;
                token_scan_ws(&p);
                if (*p == ',') {
                        p++;
                        token_scan_ws(&p);
                        continue;
                }
                if (*p != close)
                        return EINVAL;
                *pp = p + 1;
                return 0;
        }
}

/* Skips any JSON value at *pp. */
static int token_scan_skip(const char **pp, int depth) {
        const char *p = *pp;

        switch (*p) {
        case '"':
                return token_scan_string(pp, NULL);
        case '{':
        case '[':
                return token_scan_skip_container(pp, depth);
        case 't':
                if (strncmp(p, "true", 4))
                        return EINVAL;
                *pp = p + 4;
                return 0;
        case 'f':
                if (strncmp(p, "false", 5))
                        return EINVAL;
                *pp = p + 5;
                return 0;
        case 'n':
                if (strncmp(p, "null", 4))
                        return EINVAL;
                *pp = p + 4;
                return 0;
        default:
                if (*p != '-' && (*p < '0' || *p > '9'))
                        return EINVAL;
                while (*p == '-' || *p == '+' || *p == '.' || *p == 'e' ||
                       *p == 'E' || (*p >= '0' && *p <= '9'))
                        p++;
                *pp = p;
                return 0;
        }
}

/*
 * Reads "room" (string) and "roomJoin" (bool) from the video object's JSON
 * text. Other members are skipped; wrong types are refused.
 * @param roomp  set to the room (malloc'ed) or left NULL if absent.
 */
static int token_parse_video(const char *json, char **roomp, int *joinp,
                             char *errstr, size_t errstr_size) {
        const char *p = json;
        char *key = NULL, *room = NULL;
        int join = 0;
        int err = EINVAL;

        token_scan_ws(&p);
        if (*p != '{') {
                token_err(errstr, errstr_size, "video claim is not an object");
                goto done;
        }
        p++;
        token_scan_ws(&p);
        if (*p == '}') {
                p++;
                goto end;
        }
        for (;;) {
                if ((err = token_scan_string(&p, &key)))
                        goto bad;
                err = EINVAL;
                token_scan_ws(&p);
                if (*p++ != ':')
                        goto bad;
                token_scan_ws(&p);
                if (!strcmp(key, "room")) {
                        free(room);
                        room = NULL;
                        if (*p != '"') {
                                token_err(errstr, errstr_size,
                                          "video.room is not a string");
                                err = EINVAL;
                                goto done;
                        }
                        if ((err = token_scan_string(&p, &room)))
                                goto bad;
                } else if (!strcmp(key, "roomJoin")) {
                        if (!strncmp(p, "true", 4)) {
                                join = 1;
                                p += 4;
                        } else if (!strncmp(p, "false", 5)) {
                                join = 0;
                                p += 5;
                        } else {
                                token_err(errstr, errstr_size,
                                          "video.roomJoin is not a boolean");
                                err = EINVAL;
                                goto done;
                        }
                } else if ((err = token_scan_skip(&p, 1))) {
                        goto bad;
                }
                free(key);
                key = NULL;
                token_scan_ws(&p);
                if (*p == ',') {
                        p++;
                        token_scan_ws(&p);
                        continue;
                }
                if (*p != '}')
                        goto bad;
                p++;
                break;
        }
end:
        token_scan_ws(&p);
        if (*p != '\0')
                goto bad;
        *roomp = room;
        room = NULL;
        *joinp = join;
        err = 0;
        goto done;

bad:
        if (err == ENOMEM)
                token_err(errstr, errstr_size, "out of memory");
        else
                token_err(errstr, errstr_size,
                          "video claim is not valid JSON for a grant");
        err = err ? err : EINVAL;
done:
        free(key);
        free(room);
        return err;
}

/* Parses a JSON integer (jansson prints them as [-]digits) into @p valp. */
static bool token_parse_int(const char *json, int64_t *valp) {
        const char *p = json;
        bool neg = false;
        int64_t val = 0;
        int digit;

        if (*p == '-') {
                neg = true;
                p++;
        }
        if (*p < '0' || *p > '9')
                return false;
        for (; *p >= '0' && *p <= '9'; p++) {
                digit = *p - '0';
                /* Accumulate negatively: INT64_MIN has no positive twin. */
                if (val < (INT64_MIN + digit) / 10)
                        return false;
                val = val * 10 - digit;
        }
        if (*p != '\0')
                return false;
        if (!neg) {
                if (val == INT64_MIN)
                        return false;
                val = -val;
        }
        *valp = val;
        return true;
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
                        token_err(errstr, errstr_size, "out of memory");
                        goto done;
                }
                ret = 0;
                goto done;
        }
        if (!token_parse_int(json, valp)) {
                token_err(errstr, errstr_size,
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
                token_err(errstr, errstr_size, "%s claim is not a string",
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
static bool token_fits(const char *val, size_t max) {
        return !val || strnlen(val, max + 1) <= max;
}

char *cs_token_mint(const char *api_key, const char *api_secret,
                    int64_t ttl_s, int64_t now_s,
                    const cs_token_claims_t *claims, char *errstr,
                    size_t errstr_size) {
        token_buf_t buf = {.cap = CS_TOKEN_MAX};
        jwt_t *jwt = NULL;
        char *token = NULL;
        const char *field;
        size_t secret_len;
        bool with_name, with_meta;
        int err;

        if (!api_key || !*api_key || !api_secret || !*api_secret) {
                token_err(errstr, errstr_size,
                          "API key and secret must not be empty");
                goto done;
        }
        secret_len = strlen(api_secret);
        if (secret_len > INT_MAX) {
                token_err(errstr, errstr_size, "API secret is too long");
                goto done;
        }
        if (!claims || !claims->user_id || !*claims->user_id ||
            !claims->room_id || !*claims->room_id) {
                token_err(errstr, errstr_size,
                          "user ID and room ID must not be empty");
                goto done;
        }
        if (!token_fits(claims->user_id, CS_TOKEN_ID_MAX) ||
            !token_fits(claims->room_id, CS_TOKEN_ID_MAX) ||
            !token_fits(api_key, CS_TOKEN_ID_MAX) ||
            !token_fits(claims->name, CS_TOKEN_NAME_MAX) ||
            !token_fits(claims->metadata, CS_TOKEN_METADATA_MAX)) {
                token_err(errstr, errstr_size,
                          "claim too long (limits: IDs and key %d, name %d, "
                          "metadata %d bytes)",
                          CS_TOKEN_ID_MAX, CS_TOKEN_NAME_MAX,
                          CS_TOKEN_METADATA_MAX);
                goto done;
        }
        if (ttl_s <= 0 || now_s < 0 || now_s > (int64_t)LONG_MAX - ttl_s) {
                token_err(errstr, errstr_size,
                          "invalid time: ttl %" PRId64 " s, now %" PRId64,
                          ttl_s, now_s);
                goto done;
        }
        with_name = claims->name && *claims->name;
        with_meta = claims->metadata && *claims->metadata;

        /* The string claims, as one JSON object; each field is checked for
         * UTF-8 right after it is written so the error can name it. */
        token_buf_puts(&buf, "{");
        field = "API key";
        token_buf_member(&buf, true, "iss", api_key, false);
        if (!buf.err) {
                field = "user ID";
                token_buf_member(&buf, false, "sub", claims->user_id, false);
        }
        if (!buf.err) {
                field = "room ID";
                token_buf_puts(&buf, ",\"video\":{");
                token_buf_member(&buf, true, "room", claims->room_id, false);
                token_buf_puts(&buf, ",\"roomJoin\":true"
                                     ",\"canPublish\":true"
                                     ",\"canSubscribe\":true"
                                     ",\"canPublishData\":true}");
        }
        if (!buf.err && with_name) {
                field = "name";
                token_buf_member(&buf, false, "name", claims->name, false);
        }
        if (!buf.err && with_meta) {
                field = "metadata";
                token_buf_member(&buf, false, "metadata", claims->metadata,
                                 false);
        }
        token_buf_puts(&buf, "}");
        if (buf.err == EILSEQ) {
                token_err(errstr, errstr_size, "%s is not valid UTF-8",
                          field);
                goto done;
        } else if (buf.err) {
                token_err(errstr, errstr_size, "claims: %s",
                          buf.err == E2BIG ? "too long" : "out of memory");
                goto done;
        }

        if ((err = jwt_new(&jwt)) ||
            (err = jwt_set_alg(jwt, JWT_ALG_HS256,
                               (const unsigned char *)api_secret,
                               (int)secret_len)) ||
            (err = jwt_add_grant_int(jwt, "nbf", (long)now_s)) ||
            (err = jwt_add_grant_int(jwt, "exp", (long)(now_s + ttl_s))) ||
            (err = jwt_add_grants_json(jwt, buf.data))) {
                token_err(errstr, errstr_size, "building token: %s",
                          token_jwt_err2str(err));
                goto done;
        }
        token = jwt_encode_str(jwt);
        if (!token)
                token_err(errstr, errstr_size, "encoding token: %s",
                          token_jwt_err2str(errno));

done:
        jwt_free(jwt); /* scrubs its copy of the secret */
        free(buf.data);
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
                token_err(errstr, errstr_size,
                          "API key and secret must not be empty");
                goto done;
        }
        secret_len = strlen(api_secret);
        if (secret_len > INT_MAX) {
                token_err(errstr, errstr_size, "API secret is too long");
                goto done;
        }
        if (now_s < 0 || leeway_s < 0) {
                token_err(errstr, errstr_size, "invalid time or leeway");
                goto done;
        }
        /* libjwt decodes on the stack (alloca): bound the input. */
        if (!token || !*token || strnlen(token, CS_TOKEN_MAX + 1) >
                                         CS_TOKEN_MAX) {
                token_err(errstr, errstr_size,
                          "token empty or longer than %d bytes",
                          CS_TOKEN_MAX);
                goto done;
        }

        err = jwt_decode(&jwt, token, (const unsigned char *)api_secret,
                         (int)secret_len);
        if (err) {
                if (err == EINVAL)
                        token_err(errstr, errstr_size,
                                  "malformed token or bad signature");
                else
                        token_err(errstr, errstr_size, "decoding token: %s",
                                  token_jwt_err2str(err));
                goto done;
        }
        /* libjwt verified with whatever HMAC the header named. This also
         * covers alg "none" (jwt_decode() refuses it when given a key) and
         * libjwt 1.10's out-of-memory path that returns 0 unverified. */
        if (jwt_get_alg(jwt) != JWT_ALG_HS256) {
                val = jwt_alg_str(jwt_get_alg(jwt));
                token_err(errstr, errstr_size, "alg %s is not HS256",
                          val ? val : "(unknown)");
                goto done;
        }

        val = jwt_get_grant(jwt, "iss");
        if (!val || strcmp(val, api_key)) {
                token_err(errstr, errstr_size,
                          "iss claim missing or not the API key");
                goto done;
        }

        has = token_get_int(jwt, "exp", &exp_s, errstr, errstr_size);
        if (has < 0)
                goto done;
        if (!has) {
                token_err(errstr, errstr_size, "exp claim missing");
                goto done;
        }
        /* now > exp + leeway, without overflow (now, leeway >= 0). */
        if (exp_s < now_s - leeway_s) {
                token_err(errstr, errstr_size,
                          "token expired (leeway %" PRId64 " s)", leeway_s);
                goto done;
        }
        has = token_get_int(jwt, "nbf", &nbf_s, errstr, errstr_size);
        if (has < 0)
                goto done;
        if (has && nbf_s > now_s && nbf_s - now_s > leeway_s) {
                token_err(errstr, errstr_size,
                          "token not valid for another %" PRId64
                          " s (leeway %" PRId64 " s)",
                          nbf_s - now_s, leeway_s);
                goto done;
        }

        if (token_get_str(jwt, "sub", &out.user_id, errstr, errstr_size))
                goto done;
        if (!out.user_id || !*out.user_id) {
                token_err(errstr, errstr_size, "sub claim missing or empty");
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
                token_err(errstr, errstr_size, "out of memory");
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
        token_buf_t buf = {.cap = TOKEN_PARTICIPANT_JSON_MAX};
        char *json = NULL;
        char num[32];
        bool first = true;
        size_t i;

        token_buf_puts(&buf, "{");
        for (i = 0; i < CS_ARRAY_SIZE(fields); i++) {
                if (!fields[i].val || !*fields[i].val)
                        continue;
                token_buf_member(&buf, first, fields[i].key, fields[i].val,
                                 true);
                first = false;
        }
        if (role_level != 0) {
                snprintf(num, sizeof(num), "%s\"roleLevel\":%" PRId32,
                         first ? "" : ",", role_level);
                token_buf_puts(&buf, num);
                first = false;
        }
        token_buf_puts(&buf, "}");
        if (first || buf.err)
                goto done;
        json = buf.data;
        buf.data = NULL;

done:
        free(buf.data);
        return json;
}
