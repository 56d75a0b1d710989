/*
 * scram: SCRAM-SHA-256, server side. See scram.h for the exchange; RFC 5802 section 3 for
 * the arithmetic:
 *
 *   SaltedPassword  = PBKDF2-HMAC-SHA-256(password, salt, i)
 *   ClientKey       = HMAC(SaltedPassword, "Client Key");  StoredKey = H(ClientKey)
 *   AuthMessage     = client-first-bare "," server-first "," client-final-without-proof
 *   ClientSignature = HMAC(StoredKey, AuthMessage);  the proof is ClientKey XOR it
 *   ServerSignature = HMAC(HMAC(SaltedPassword, "Server Key"), AuthMessage)
 *
 * The password is known in plain text (admin_token), so the salt is fresh for every login and
 * nothing is stored. Messages are copied into fixed buffers; anything longer is malformed.
 */
#include "proxy/scram.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#define SERVER_NONCE_RAW 18 /* PostgreSQL's SCRAM_RAW_NONCE_LEN */

/* Base64 without line breaks into out (NUL-terminated); false when it does not fit. */
static bool
b64_encode(const uint8_t *p, size_t n, char *out, size_t cap)
{
    if (4 * ((n + 2) / 3) + 1 > cap)
        return false;
    EVP_EncodeBlock((unsigned char *)out, p, (int)n);
    return true;
}

/* Decodes base64 text (length n) into out; returns the byte count, or -1 when malformed. */
static int
b64_decode(const char *s, size_t n, uint8_t *out, size_t cap)
{
    if (n == 0 || n % 4 != 0 || n / 4 * 3 > cap)
        return -1;
    int k = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
    if (k < 0)
        return -1;
    /* EVP_DecodeBlock counts the padding as zero bytes. */
    k -= (s[n - 1] == '=') + (s[n - 2] == '=');
    return k;
}

static bool
hmac(const uint8_t *key, const void *msg, size_t len, uint8_t out[SCRAM_KEY_LEN])
{
    unsigned int n = SCRAM_KEY_LEN;
    return HMAC(EVP_sha256(), key, SCRAM_KEY_LEN, msg, len, out, &n) != NULL;
}

int
scram_init(struct scram *sc, const char *password, const uint8_t *salt, const char *server_nonce)
{
    memset(sc, 0, sizeof(*sc));
    if (salt)
        memcpy(sc->salt, salt, SCRAM_SALT_LEN);
    else if (RAND_bytes(sc->salt, SCRAM_SALT_LEN) != 1)
        return -EIO;
    if (server_nonce) {
        snprintf(sc->server_nonce, sizeof(sc->server_nonce), "%s", server_nonce);
    } else {
        uint8_t raw[SERVER_NONCE_RAW];
        if (RAND_bytes(raw, sizeof(raw)) != 1 ||
            !b64_encode(raw, sizeof(raw), sc->server_nonce, sizeof(sc->server_nonce)))
            return -EIO;
    }
    /* libpq applies SASLprep to the password; for ASCII text it is the text itself. */
    if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), sc->salt, SCRAM_SALT_LEN,
                          SCRAM_ITERATIONS, EVP_sha256(), SCRAM_KEY_LEN, sc->salted) != 1)
        return -EIO;
    return 0;
}

void
scram_clear(struct scram *sc)
{
    OPENSSL_cleanse(sc->salted, sizeof(sc->salted));
}

/* A printable nonce: %x21-2B / %x2D-7E (RFC 5802's "printable"). */
static bool
nonce_ok(const char *p, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x21 || p[i] > 0x7e || p[i] == ',')
            return false;
    return true;
}

/*
 * Cuts the GS2 header ("n,," / "y,,") off the client-first-message. Returns the length of
 * the header, -ENOTSUP for channel binding ("p=") or an authorization identity, -EPROTO else.
 */
static int
gs2_header(const char *m, size_t n)
{
    if (n < 3)
        return -EPROTO;
    if (m[0] == 'p')
        return -ENOTSUP; /* we never offered SCRAM-SHA-256-PLUS */
    if ((m[0] != 'n' && m[0] != 'y') || m[1] != ',')
        return -EPROTO;
    if (m[2] != ',')
        return m[2] == 'a' ? -ENOTSUP : -EPROTO;
    return 3;
}

int
scram_first(struct scram *sc, const uint8_t *msg, size_t len, struct buf *out)
{
    const char *m = (const char *)msg;
    if (len >= sizeof(sc->client_first_bare) || memchr(m, '\0', len))
        return -EPROTO;
    int h = gs2_header(m, len);
    if (h < 0)
        return h;
    memcpy(sc->gs2, m, (size_t)h);
    const char *bare = m + h;
    size_t blen = len - (size_t)h;
    memcpy(sc->client_first_bare, bare, blen);
    sc->client_first_bare[blen] = '\0';
    /* n=<user>,r=<nonce>[,extensions]: the user is ignored, as PostgreSQL does. */
    const char *r = strstr(sc->client_first_bare, ",r=");
    if (strncmp(sc->client_first_bare, "n=", 2) != 0 || !r)
        return -EPROTO;
    const char *nonce = r + 3;
    size_t nlen = strcspn(nonce, ",");
    if (!nonce_ok(nonce, nlen) || nlen + strlen(sc->server_nonce) >= sizeof(sc->nonce))
        return -EPROTO;
    snprintf(sc->nonce, sizeof(sc->nonce), "%.*s%s", (int)nlen, nonce, sc->server_nonce);
    char salt[32];
    if (!b64_encode(sc->salt, SCRAM_SALT_LEN, salt, sizeof(salt)))
        return -EPROTO;
    int k = snprintf(sc->server_first, sizeof(sc->server_first), "r=%s,s=%s,i=%d", sc->nonce, salt,
                     SCRAM_ITERATIONS);
    if (k < 0 || (size_t)k >= sizeof(sc->server_first))
        return -EPROTO;
    buf_put(out, sc->server_first, (size_t)k);
    return 0;
}

/*
 * Checks client-final-without-proof's channel binding and nonce: "c=<base64 of the GS2
 * header>,r=<nonce>" (extensions may follow). Returns true when both match.
 */
static bool
final_fields_ok(const struct scram *sc, const char *m, size_t n)
{
    char want[128];
    if (!b64_encode((const uint8_t *)sc->gs2, strlen(sc->gs2), want, sizeof(want)))
        return false;
    size_t wl = strlen(want), nl = strlen(sc->nonce);
    if (n < 2 + wl + 3 + nl || memcmp(m, "c=", 2) != 0 || memcmp(m + 2, want, wl) != 0)
        return false;
    const char *r = m + 2 + wl;
    if (memcmp(r, ",r=", 3) != 0 || memcmp(r + 3, sc->nonce, nl) != 0)
        return false;
    size_t end = 2 + wl + 3 + nl;
    return end == n || m[end] == ',';
}

/* ClientKey XOR ClientSignature must hash to StoredKey; fills the server signature. */
static int
check_proof(const struct scram *sc, const char *auth, size_t alen, const uint8_t *proof,
            uint8_t server_sig[SCRAM_KEY_LEN])
{
    uint8_t client_key[SCRAM_KEY_LEN], stored[SCRAM_KEY_LEN], sig[SCRAM_KEY_LEN];
    uint8_t server_key[SCRAM_KEY_LEN], got[SCRAM_KEY_LEN];
    static const char ck[] = "Client Key", sk[] = "Server Key";
    if (!hmac(sc->salted, ck, sizeof(ck) - 1, client_key) ||
        !SHA256(client_key, SCRAM_KEY_LEN, stored) || !hmac(stored, auth, alen, sig) ||
        !hmac(sc->salted, sk, sizeof(sk) - 1, server_key) ||
        !hmac(server_key, auth, alen, server_sig))
        return -EPROTO;
    for (int i = 0; i < SCRAM_KEY_LEN; i++)
        client_key[i] = proof[i] ^ sig[i];
    SHA256(client_key, SCRAM_KEY_LEN, got);
    int rc = CRYPTO_memcmp(got, stored, SCRAM_KEY_LEN) == 0 ? 0 : -EACCES;
    OPENSSL_cleanse(client_key, sizeof(client_key));
    return rc;
}

int
scram_final(struct scram *sc, const uint8_t *msg, size_t len, struct buf *out)
{
    char m[SCRAM_MSG_MAX], auth[3 * SCRAM_MSG_MAX];
    if (len >= sizeof(m) || memchr(msg, '\0', len))
        return -EPROTO;
    memcpy(m, msg, len);
    m[len] = '\0';
    /* The proof is the last attribute: "...,p=<base64>". */
    char *p = strstr(m, ",p=");
    while (p && strstr(p + 1, ",p="))
        p = strstr(p + 1, ",p=");
    if (!p)
        return -EPROTO;
    size_t wlen = (size_t)(p - m);
    if (!final_fields_ok(sc, m, wlen))
        return -EPROTO;
    uint8_t proof[SCRAM_KEY_LEN + 3];
    if (b64_decode(p + 3, strlen(p + 3), proof, sizeof(proof)) != SCRAM_KEY_LEN)
        return -EPROTO;
    int alen = snprintf(auth, sizeof(auth), "%s,%s,%.*s", sc->client_first_bare, sc->server_first,
                        (int)wlen, m);
    if (alen < 0 || (size_t)alen >= sizeof(auth))
        return -EPROTO;
    uint8_t server_sig[SCRAM_KEY_LEN];
    int rc = check_proof(sc, auth, (size_t)alen, proof, server_sig);
    if (rc != 0)
        return rc;
    char v[64];
    if (!b64_encode(server_sig, SCRAM_KEY_LEN, v, sizeof(v)))
        return -EPROTO;
    buf_puts(out, "v=");
    buf_puts(out, v);
    return 0;
}
