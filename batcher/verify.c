/*
 * verify: digests and judgement of shadow verification (see verify.h). Pure: no I/O, no clock.
 */
#include "batcher/verify.h"

#include <string.h>

static uint64_t
hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    /* a final mix, so that sums of row hashes do not cancel out by accident */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

void
verify_digest_init(struct verify_digest *d)
{
    memset(d, 0, sizeof(*d));
}

void
verify_digest_desc(struct verify_digest *d, const uint8_t *msg, size_t len)
{
    d->has_desc = true;
    d->desc = hash_bytes(msg, len);
}

void
verify_digest_row(struct verify_digest *d, const uint8_t *msg, size_t len)
{
    uint64_t h = hash_bytes(msg, len);
    d->rows_sum += h;
    d->nrows++;
}

int
verify_digest_rows(struct verify_digest *d, const uint8_t *rows, size_t len)
{
    size_t off = 0;
    while (off < len) {
        if (len - off < 5)
            return -1;
        const uint8_t *m = rows + off;
        size_t n = 1 + ((size_t)m[1] << 24 | (size_t)m[2] << 16 | (size_t)m[3] << 8 | m[4]);
        if (n < 5 || n > len - off)
            return -1;
        verify_digest_row(d, m, n);
        off += n;
    }
    return 0;
}

void
verify_digest_tag(struct verify_digest *d, const char *tag, size_t len)
{
    if (len >= sizeof(d->tag))
        len = sizeof(d->tag) - 1;
    memcpy(d->tag, tag, len);
    d->tag[len] = '\0';
}

uint64_t
verify_digest_value(const struct verify_digest *d)
{
    uint64_t v = d->rows_sum ^ (d->nrows * 0x9e3779b97f4a7c15ULL);
    if (d->has_desc)
        v ^= d->desc << 7;
    return v ^ hash_bytes((const uint8_t *)d->tag, strlen(d->tag));
}

enum verify_outcome
verify_judge(const struct verify_digest *served, const struct verify_digest *got, bool exact)
{
    bool same = served->nrows == got->nrows && served->rows_sum == got->rows_sum &&
                strcmp(served->tag, got->tag) == 0 &&
                (!served->has_desc || (got->has_desc && served->desc == got->desc));
    if (same)
        return VERIFY_SAME;
    return exact ? VERIFY_MISMATCH : VERIFY_STALE;
}

bool
verify_sample(uint64_t *rng, uint64_t fraction)
{
    if (fraction == 0)
        return false;
    if (fraction >= VERIFY_FRACTION_ONE)
        return true;
    uint64_t x = *rng ? *rng : 0x9e3779b97f4a7c15ULL; /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *rng = x;
    return (x * 0x2545f4914f6cdd1dULL) % VERIFY_FRACTION_ONE < fraction;
}
