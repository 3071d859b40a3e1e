/*
 * topic.h: push topic names (contract section 2).
 *
 * A userID becomes the {user} part of push.topic_template with every byte
 * outside [A-Za-z0-9.-] written as '_' plus two lowercase hex digits.
 * A resulting name longer than 249 bytes is invalid.
 */
#ifndef CALLSIG_TOPIC_H
#define CALLSIG_TOPIC_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/**
 * Writes the escaped form of @p user_id into @p out.
 * @returns the length written (excluding NUL), or -1 if it does not fit in
 *          @p out_size (including the NUL).
 */
int cs_topic_escape_user(const char *user_id, char *out, size_t out_size);

/**
 * Writes the topic that push messages for @p user_id go to: the template with
 * {user} replaced (per_user mode) or push.topic (keyed mode).
 * @returns true on success, false if the name would be empty or longer than
 *          CS_TOPIC_MAX bytes. @p out must hold CS_TOPIC_MAX + 1 bytes.
 */
bool cs_topic_for_user(const cs_config_t *conf, const char *user_id,
                       char *out, size_t out_size);

#endif
