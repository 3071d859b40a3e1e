/*
 * outbox.h: the messages one command (or one timer tick) must produce.
 *
 * The handler fills an outbox, the worker hands it to the Kafka layer,
 * which produces it and waits for the broker. An outbox is the only thing
 * the business layer and the Kafka layer share.
 *
 * Ownership: the outbox owns every buffer and string of its messages.
 */
#ifndef CALLSIG_OUTBOX_H
#define CALLSIG_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum cs_out_kind_e {
        CS_OUT_REPLY = 0,
        CS_OUT_NOTIFICATION,
        CS_OUT_DEAD_LETTER,
} cs_out_kind_t;

/* One message to produce. */
typedef struct cs_out_msg_s {
        cs_out_kind_t kind;
        char *topic;
        char *key;
        size_t key_len;
        uint8_t *value;
        size_t len;
        char *operation_id;  /* header operation-id; NULL = absent */
        char *error;         /* dead letters: header error */
        char *source_topic;  /* dead letters: source-topic */
        int32_t source_partition;
        int64_t source_offset;
        size_t truncated_from; /* dead letters: the value was cut from this
                                  many bytes (header truncated); 0: whole */
} cs_out_msg_t;

typedef struct cs_outbox_s {
        cs_out_msg_t *msgs;
        size_t cnt;
} cs_outbox_t;

/** Appends a message; takes ownership of @p value, copies the strings. */
cs_out_msg_t *cs_outbox_add(cs_outbox_t *out, cs_out_kind_t kind,
                            const char *topic, const char *key,
                            uint8_t *value, size_t len,
                            const char *operation_id);

/** Keeps the messages i with @p keep[i] true (in order) and frees the
 *  others. */
void cs_outbox_keep(cs_outbox_t *out, const bool *keep);

/** Frees every message and empties @p out. */
void cs_outbox_clear(cs_outbox_t *out);

#endif
