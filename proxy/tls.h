/*
 * tls: TLS (OpenSSL) over memory buffers, so a libuv stream can carry it.
 *
 * The transport reads ciphertext from a socket and hands it to tls_put(); tls_handshake() and
 * tls_read() turn it into progress and plaintext; tls_write() turns plaintext into records;
 * whatever OpenSSL wants to send (handshake messages, records, alerts) is taken out with
 * tls_take() and written to the socket like any other bytes. Nothing here touches a socket,
 * a loop or a clock.
 *
 * Contexts are made once at startup from the config (certificate files are read then, so a
 * bad path fails the start, not the first client) and shared read-only by every worker.
 */
#ifndef PGFOLD_TLS_H
#define PGFOLD_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "pgwire/buf.h"

struct tls_ctx;
struct tls;

/* Outcome of tls_handshake() and tls_read(). */
enum {
    TLS_ERROR = -1, /* the connection is unusable; tls_error() says why */
    TLS_EOF = -2,   /* the peer sent close_notify */
};

/*
 * The context for the client-facing side: certificate and key from client_tls_cert_file and
 * client_tls_key_file. Returns NULL with the reason in err (file, OpenSSL's words).
 */
struct tls_ctx *tls_server_ctx(const struct config *cfg, char *err, size_t errlen);

/*
 * The context for connections to the upstream server, from the upstream's sslmode,
 * sslrootcert, sslcert and sslkey, following libpq: verify-ca and verify-full check the chain
 * against the root certificate (sslrootcert, default ~/.postgresql/root.crt; "system" = the
 * system's store); require checks it too when a root certificate was named. Returns NULL with
 * the reason in err; also NULL (err empty) when the sslmode never uses TLS.
 */
struct tls_ctx *tls_client_ctx(const struct config *cfg, char *err, size_t errlen);

void tls_ctx_free(struct tls_ctx *x);

/*
 * One connection. For a client-side (upstream) connection host is the server's name: sent as
 * SNI when sni is true and it is not an address, and matched against the certificate when the
 * context verifies the host name (verify-full). Returns NULL when out of memory.
 */
struct tls *tls_new_server(struct tls_ctx *x);
struct tls *tls_new_client(struct tls_ctx *x, const char *host, bool sni);
void tls_free(struct tls *t);

/* Ciphertext from the socket. Returns 0 or TLS_ERROR (out of memory). */
int tls_put(struct tls *t, const void *p, size_t n);

/* Moves what OpenSSL wants sent onto the end of out. Returns 0 or TLS_ERROR. */
int tls_take(struct tls *t, struct buf *out);

/* Drives the handshake: 1 when complete, 0 when it needs more bytes, TLS_ERROR on failure. */
int tls_handshake(struct tls *t);
bool tls_established(const struct tls *t);

/*
 * Plaintext into p: the byte count, 0 when no whole record is buffered, TLS_EOF after the
 * peer's close_notify, TLS_ERROR on failure.
 */
long tls_read(struct tls *t, void *p, size_t cap);

/* Encrypts all of plain (consumed) into records that tls_take() hands out. 0 or TLS_ERROR. */
int tls_write(struct tls *t, struct buf *plain);

/* Why the last call failed, for the log and the client's ErrorResponse. */
const char *tls_error(const struct tls *t);

/* "TLSv1.3" and the cipher's name, for the log. */
const char *tls_version(const struct tls *t);
const char *tls_cipher(const struct tls *t);

#endif
