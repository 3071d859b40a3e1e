/*
 * http.h: the HTTP listener of callsig (contract sections 9 and 10), on
 * libmicrohttpd with a thread per connection:
 *
 *   POST /webhooks/livekit  verified LiveKit webhooks (webhook.h) are
 *                           produced to topics.livekit_events (key = room
 *                           name, value = the body unchanged, header
 *                           kind=livekit_event) and answered 200 once the
 *                           broker acknowledged them; 401 when not
 *                           authentic, 413 over CS_HTTP_MAX_BODY, 503 when
 *                           the broker did not acknowledge
 *   GET /healthz            200 while the worker's main loop is alive
 *   GET /readyz             200 when partitions are assigned, MongoDB
 *                           answers and the producers are usable; else 503
 *                           with the reason
 *   GET /metrics            Prometheus text format (metrics.h)
 *
 * The listener owns a small producer of its own, so that a request thread
 * never touches the worker's producer; each request waits for its own
 * message's delivery report.
 *
 * @locality cs_http_start() and cs_http_stop(): the worker thread; the
 * requests run on libmicrohttpd's threads.
 */
#ifndef CALLSIG_HTTP_H
#define CALLSIG_HTTP_H

#include <stddef.h>

#include "common.h"
#include "config.h"
#include "store.h"

/* Largest webhook body accepted, bytes. */
#define CS_HTTP_MAX_BODY (64 * 1024)
/* /healthz fails once the main loop's heartbeat is older than this, ms. */
#define CS_HTTP_HEARTBEAT_MAX_MS 5000

typedef struct cs_http_s cs_http_t;

/**
 * Starts listening on conf->http_listen (must not be empty). @p conf and
 * @p store are borrowed and must outlive the listener.
 * @returns the listener, or NULL with the reason in @p errstr (the address
 *          cannot be bound, the producer configuration was refused).
 */
cs_http_t *cs_http_start(const cs_config_t *conf, cs_store_t *store,
                         char *errstr, size_t errstr_size) CS_WUR;

/** Stops listening (waits for the requests in flight), flushes and destroys
 *  the producer. NULL accepted. */
void cs_http_stop(cs_http_t *http);

#endif
