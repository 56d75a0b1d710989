/*
 * conn: one client connection and its own upstream connection, on one worker's loop.
 *
 * The transport half of a session: owns both sockets, cuts their byte streams into messages
 * for session.c, writes what the session queued, and applies backpressure. Memory is released
 * only in the last close callback.
 */
#ifndef PGFOLD_CONN_H
#define PGFOLD_CONN_H

#include <stdbool.h>

struct worker;
struct conn;

/*
 * Adopts an accepted, non-blocking socket fd (TCP, or a unix socket when is_unix) and starts
 * the session. On failure the fd is closed. Returns 0 or a negative libuv code.
 */
int conn_start(struct worker *w, int fd, bool is_unix) __attribute__((warn_unused_result));

/* Ends every session of w (shutdown): each client gets a FATAL error, then both sides close. */
void conn_terminate_all(struct worker *w, const char *sqlstate, const char *message);

/* Closes every session of w at once, without a word to the clients. */
void conn_abort_all(struct worker *w);

#endif
