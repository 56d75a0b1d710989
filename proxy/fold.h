/*
 * fold: the rewrite and observe paths of a session. Where pgfold stops being a pipe.
 *
 * session.c hands every client message of a READY session to fold_client() when the mode is
 * rewrite or observe, and every server message to fold_server() first. fold decides, per
 * statement, with the parser's shape and the batcher's state: answer locally from the answer
 * cache, run one speculative batch on the session's own upstream connection and answer from
 * it, or forward (capturing the answer and the key columns on the way back).
 *
 * Extended-protocol messages are gathered per Sync group (the server answers nothing before
 * Sync anyway) and decided as a group; anything fold does not model is forwarded as it came.
 * While a batch is in flight the session is blocked: the transport delivers no client message
 * until fold_server() has seen the batch's ReadyForQuery.
 */
#ifndef PGFOLD_FOLD_H
#define PGFOLD_FOLD_H

#include <stdbool.h>
#include <stdint.h>

#include "proxy/session.h"

struct shapecache;

/* Creates the rewrite state of a session; shapes is the worker's shape cache. */
struct fold *fold_new(struct session *s, struct shapecache *shapes);
void fold_free(struct fold *f);

/* A client message in READY state. Returns what the transport must do. */
session_action fold_client(struct session *s, const struct wire_msg *m);

/*
 * A server message, seen before the session tracks it. Returns true when it belongs to
 * pgfold's own traffic and must not reach the client.
 */
bool fold_server(struct session *s, const struct wire_msg *m);

/*
 * The transport delivered every whole message the client sent so far: anything held that has
 * no Sync in hand is forwarded now, for the client may be waiting on it.
 */
void fold_client_drained(struct session *s);

/* After the session tracked a ReadyForQuery that fold_server() consumed. */
void fold_after_ready(struct session *s);

/* After every ReadyForQuery: transaction starts and ends (before = the previous status). */
void fold_note_status(struct session *s, uint8_t before);

/*
 * A pgfold-internal pending entry completed (its server-side effect, e.g. displacing the
 * client's unnamed statement, is recorded here instead of in the session's tables).
 */
void fold_internal_done(struct session *s, const struct pending *h);

/* True while a batch is in flight: deliver no client message. */
bool fold_blocked(const struct fold *f);


#endif
