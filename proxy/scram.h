/*
 * scram: the server side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it, for
 * logins to pgfold's own console, whose password is admin_token.
 *
 * Pure: OpenSSL for the hashes and random bytes, no sockets, no state beyond one exchange.
 * The caller carries the messages: the client's SASLInitialResponse data goes to
 * scram_first(), which writes the server-first-message; the client's SASLResponse goes to
 * scram_final(), which checks the proof and writes the server-final-message. Channel binding
 * is not offered (pgfold's console advertises SCRAM-SHA-256 only), so a client asking for it
 * is refused; "y" (the client could, but the server did not offer) is accepted, as RFC 5802
 * says. The user name inside the SCRAM messages is ignored, as PostgreSQL ignores it.
 */
#ifndef PGFOLD_SCRAM_H
#define PGFOLD_SCRAM_H

#include <stddef.h>
#include <stdint.h>

#include "pgwire/buf.h"

#define SCRAM_ITERATIONS 4096
#define SCRAM_SALT_LEN 16
#define SCRAM_KEY_LEN 32 /* SHA-256 */
#define SCRAM_MSG_MAX 1024

struct scram {
    uint8_t salted[SCRAM_KEY_LEN]; /* SaltedPassword */
    uint8_t salt[SCRAM_SALT_LEN];
    char server_nonce[64];
    char nonce[160]; /* client nonce + server nonce */
    char gs2[64];    /* the client's GS2 header, e.g. "n,," */
    char client_first_bare[SCRAM_MSG_MAX];
    char server_first[SCRAM_MSG_MAX];
};

/*
 * Starts an exchange for password. salt (SCRAM_SALT_LEN bytes) and server_nonce are random
 * when NULL; tests pass RFC 7677's. Returns 0, or -EIO when OpenSSL fails.
 */
int scram_init(struct scram *sc, const char *password, const uint8_t *salt,
               const char *server_nonce) __attribute__((warn_unused_result));

/*
 * The client-first-message (msg[0..len)): appends the server-first-message to out. Returns 0,
 * -EPROTO for a malformed message, -ENOTSUP when the client insists on channel binding or an
 * authorization identity.
 */
int scram_first(struct scram *sc, const uint8_t *msg, size_t len, struct buf *out)
    __attribute__((warn_unused_result));

/*
 * The client-final-message: appends the server-final-message ("v=...") to out when the proof
 * is right. Returns 0, -EACCES for a wrong password, -EPROTO for a malformed message.
 */
int scram_final(struct scram *sc, const uint8_t *msg, size_t len, struct buf *out)
    __attribute__((warn_unused_result));

/* Wipes the secrets (SaltedPassword) once the exchange is over. */
void scram_clear(struct scram *sc);

#endif
