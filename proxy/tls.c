/*
 * tls: OpenSSL with a pair of memory BIOs per connection (see tls.h).
 *
 * rbio holds ciphertext read from the socket until OpenSSL consumes it; wbio collects what
 * OpenSSL wants written. Neither ever blocks, so SSL_write always takes a whole buffer and the
 * only "want" that can come back from SSL_read or SSL_do_handshake is SSL_ERROR_WANT_READ.
 */
#include "proxy/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct tls_ctx {
    SSL_CTX *ctx;
    bool verify_host; /* verify-full: the certificate must name the host */
};

struct tls {
    SSL *ssl;
    BIO *rbio, *wbio;
    bool established;
    char err[160];
    char host[CONFIG_ADDR_MAX];
};

/* OpenSSL's first queued error as text (or what), cleared from the thread's queue. */
static void
ssl_reason(char *out, size_t len, const char *what)
{
    unsigned long e = ERR_get_error();
    if (e == 0) {
        snprintf(out, len, "%s", what);
    } else {
        char r[120];
        ERR_error_string_n(e, r, sizeof(r));
        snprintf(out, len, "%s: %s", what, r);
    }
    ERR_clear_error();
}

static struct tls_ctx *
ctx_new(const SSL_METHOD *m, char *err, size_t errlen)
{
    struct tls_ctx *x = calloc(1, sizeof(*x));
    if (!x) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    x->ctx = SSL_CTX_new(m);
    if (!x->ctx) {
        ssl_reason(err, errlen, "SSL_CTX_new");
        free(x);
        return NULL;
    }
    /* PostgreSQL's own default floor (ssl_min_protocol_version). */
    SSL_CTX_set_min_proto_version(x->ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(x->ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_options(x->ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    return x;
}

struct tls_ctx *
tls_server_ctx(const struct config *cfg, char *err, size_t errlen)
{
    err[0] = '\0';
    if (cfg->client_tls_sslmode == TLS_DISABLE)
        return NULL;
    struct tls_ctx *x = ctx_new(TLS_server_method(), err, errlen);
    if (!x)
        return NULL;
    char what[CONFIG_ADDR_MAX + 64];
    snprintf(what, sizeof(what), "client_tls_cert_file '%s'", cfg->client_tls_cert_file);
    if (SSL_CTX_use_certificate_chain_file(x->ctx, cfg->client_tls_cert_file) != 1)
        goto fail;
    snprintf(what, sizeof(what), "client_tls_key_file '%s'", cfg->client_tls_key_file);
    if (SSL_CTX_use_PrivateKey_file(x->ctx, cfg->client_tls_key_file, SSL_FILETYPE_PEM) != 1)
        goto fail;
    snprintf(what, sizeof(what), "client_tls_key_file '%s' does not match the certificate",
             cfg->client_tls_key_file);
    if (SSL_CTX_check_private_key(x->ctx) != 1)
        goto fail;
    /* One process, many sessions: no session cache to share or leak between them. */
    SSL_CTX_set_session_cache_mode(x->ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(x->ctx, 0);
    return x;
fail:
    ssl_reason(err, errlen, what);
    tls_ctx_free(x);
    return NULL;
}

static bool
file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

struct tls_ctx *
tls_client_ctx(const struct config *cfg, char *err, size_t errlen)
{
    err[0] = '\0';
    const char *mode = cfg->upstream_sslmode;
    if (strcmp(mode, "disable") == 0 || strcmp(mode, "allow") == 0 ||
        cfg->upstream_host[0] == '/')
        return NULL;
    bool verify_full = strcmp(mode, "verify-full") == 0;
    bool verify = verify_full || strcmp(mode, "verify-ca") == 0;
    /* libpq: ~/.postgresql/root.crt when sslrootcert is not given. */
    char root[CONFIG_ADDR_MAX + 32];
    if (cfg->upstream_sslrootcert[0]) {
        snprintf(root, sizeof(root), "%s", cfg->upstream_sslrootcert);
    } else {
        const char *home = getenv("HOME");
        snprintf(root, sizeof(root), "%s/.postgresql/root.crt", home ? home : "");
    }
    bool system = strcmp(root, "system") == 0;
    bool have_root = system || file_exists(root);
    if (verify && !have_root) {
        snprintf(err, errlen,
                 "upstream sslmode=%s needs a root certificate: sslrootcert '%s' does not exist",
                 mode, root);
        return NULL;
    }
    struct tls_ctx *x = ctx_new(TLS_client_method(), err, errlen);
    if (!x)
        return NULL;
    char what[CONFIG_ADDR_MAX + 64] = "";
    /* Like libpq, require verifies the chain too once a root certificate is there. */
    if (have_root && (verify || strcmp(mode, "require") == 0 || cfg->upstream_sslrootcert[0])) {
        snprintf(what, sizeof(what), "sslrootcert '%s'", root);
        int ok = system ? SSL_CTX_set_default_verify_paths(x->ctx)
                        : SSL_CTX_load_verify_locations(x->ctx, root, NULL);
        if (ok != 1)
            goto fail;
        SSL_CTX_set_verify(x->ctx, SSL_VERIFY_PEER, NULL);
    }
    x->verify_host = verify_full;
    if (cfg->upstream_sslcert[0]) {
        snprintf(what, sizeof(what), "sslcert '%s'", cfg->upstream_sslcert);
        if (SSL_CTX_use_certificate_chain_file(x->ctx, cfg->upstream_sslcert) != 1)
            goto fail;
        snprintf(what, sizeof(what), "sslkey '%s'", cfg->upstream_sslkey);
        if (SSL_CTX_use_PrivateKey_file(x->ctx, cfg->upstream_sslkey, SSL_FILETYPE_PEM) != 1)
            goto fail;
    }
    return x;
fail:
    ssl_reason(err, errlen, what);
    tls_ctx_free(x);
    return NULL;
}

void
tls_ctx_free(struct tls_ctx *x)
{
    if (!x)
        return;
    SSL_CTX_free(x->ctx);
    free(x);
}

static struct tls *
tls_new(struct tls_ctx *x)
{
    struct tls *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->ssl = SSL_new(x->ctx);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->rbio || !t->wbio) {
        SSL_free(t->ssl);
        BIO_free(t->rbio);
        BIO_free(t->wbio);
        free(t);
        ERR_clear_error();
        return NULL;
    }
    /* An empty memory BIO reports "retry", not end of file. */
    BIO_set_mem_eof_return(t->rbio, -1);
    BIO_set_mem_eof_return(t->wbio, -1);
    SSL_set_bio(t->ssl, t->rbio, t->wbio); /* the SSL owns both from here */
    return t;
}

struct tls *
tls_new_server(struct tls_ctx *x)
{
    struct tls *t = tls_new(x);
    if (t)
        SSL_set_accept_state(t->ssl);
    return t;
}

static bool
is_address(const char *host)
{
    unsigned char a[16];
    return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

struct tls *
tls_new_client(struct tls_ctx *x, const char *host, bool sni)
{
    struct tls *t = tls_new(x);
    if (!t)
        return NULL;
    snprintf(t->host, sizeof(t->host), "%s", host);
    SSL_set_connect_state(t->ssl);
    bool addr = is_address(host);
    if (sni && !addr)
        SSL_set_tlsext_host_name(t->ssl, host);
    if (x->verify_host) {
        X509_VERIFY_PARAM *vp = SSL_get0_param(t->ssl);
        int ok = addr ? X509_VERIFY_PARAM_set1_ip_asc(vp, host)
                      : X509_VERIFY_PARAM_set1_host(vp, host, 0);
        if (ok != 1) {
            tls_free(t);
            ERR_clear_error();
            return NULL;
        }
    }
    return t;
}

void
tls_free(struct tls *t)
{
    if (!t)
        return;
    SSL_free(t->ssl);
    free(t);
}

int
tls_put(struct tls *t, const void *p, size_t n)
{
    while (n > 0) {
        int chunk = n > (1u << 30) ? 1 << 30 : (int)n;
        int w = BIO_write(t->rbio, p, chunk);
        if (w <= 0) {
            snprintf(t->err, sizeof(t->err), "out of memory");
            return TLS_ERROR;
        }
        p = (const char *)p + w;
        n -= (size_t)w;
    }
    return 0;
}

int
tls_take(struct tls *t, struct buf *out)
{
    size_t n;
    while ((n = BIO_ctrl_pending(t->wbio)) > 0) {
        if (buf_reserve(out, n) != 0) {
            snprintf(t->err, sizeof(t->err), "out of memory");
            return TLS_ERROR;
        }
        int r = BIO_read(t->wbio, out->data + out->len, (int)(n > INT32_MAX ? INT32_MAX : n));
        if (r <= 0)
            break;
        buf_commit(out, (size_t)r);
    }
    return 0;
}

/* Names a failed call: the certificate check's verdict, else OpenSSL's error queue. */
static int
failed(struct tls *t, int rc, const char *what)
{
    int e = SSL_get_error(t->ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
    if (e == SSL_ERROR_ZERO_RETURN) {
        snprintf(t->err, sizeof(t->err), "the peer closed the TLS connection");
        ERR_clear_error();
        return TLS_EOF;
    }
    long v = SSL_get_verify_result(t->ssl);
    if (v != X509_V_OK && !t->established) {
        snprintf(t->err, sizeof(t->err), "certificate verify failed: %s",
                 X509_verify_cert_error_string(v));
        ERR_clear_error();
        return TLS_ERROR;
    }
    ssl_reason(t->err, sizeof(t->err), what);
    return TLS_ERROR;
}

int
tls_handshake(struct tls *t)
{
    if (t->established)
        return 1;
    int rc = SSL_do_handshake(t->ssl);
    if (rc == 1) {
        t->established = true;
        return 1;
    }
    return failed(t, rc, "SSL handshake");
}

bool
tls_established(const struct tls *t)
{
    return t->established;
}

long
tls_read(struct tls *t, void *p, size_t cap)
{
    size_t got = 0;
    int rc = SSL_read_ex(t->ssl, p, cap, &got);
    if (rc == 1)
        return (long)got;
    return failed(t, 0, "SSL read");
}

int
tls_write(struct tls *t, struct buf *plain)
{
    while (buf_used(plain) > 0) {
        size_t n = buf_used(plain), done = 0;
        if (SSL_write_ex(t->ssl, buf_head(plain), n, &done) != 1) {
            int rc = failed(t, 0, "SSL write");
            return rc == 0 ? TLS_ERROR : rc; /* a memory BIO never asks to wait */
        }
        buf_consume(plain, done);
    }
    return 0;
}

const char *
tls_error(const struct tls *t)
{
    return t->err[0] ? t->err : "TLS error";
}

const char *
tls_version(const struct tls *t)
{
    return SSL_get_version(t->ssl);
}

const char *
tls_cipher(const struct tls *t)
{
    return SSL_get_cipher_name(t->ssl);
}
