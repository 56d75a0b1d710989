/*
 * verify: shadow verification's decisions (issue 14). For a sampled local answer pgfold runs the
 * client's statement upstream again and compares what it served with what PostgreSQL returns.
 * This file holds the parts that decide, without I/O: which answers to sample, the digests the
 * two sides are reduced to, and what a difference means.
 *
 * A digest is the RowDescription (when one was served), the command tag, and the DataRows as
 * a multiset: PostgreSQL itself promises no row order beyond what ORDER BY fixes, so rows that
 * tie may come in another order when the statement runs again, and that is no difference.
 *
 * What a difference means depends on what the answer promised (DESIGN.md §4):
 *   exact  - the answer was fetched inside the REPEATABLE READ / SERIALIZABLE block still open,
 *            and the check runs in that block: it sees the same snapshot, so any difference is a
 *            pgfold bug (VERIFY_MISMATCH);
 *   else   - the check sees a later instant than the batch did (autocommit, a READ COMMITTED
 *            block): a difference means the rows changed since, by a writer pgfold did not see
 *            (VERIFY_STALE).
 */
#ifndef PGFOLD_VERIFY_H
#define PGFOLD_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VERIFY_FRACTION_ONE 1000000 /* verify_fraction is kept in millionths */

struct verify_digest {
    bool has_desc;
    uint64_t desc;     /* hash of the whole RowDescription message */
    uint64_t rows_sum; /* sum of the DataRows' (well mixed) hashes: a multiset */
    uint64_t nrows;
    char tag[24];
};

enum verify_outcome {
    VERIFY_SAME = 0,
    VERIFY_STALE,    /* different, and the answer was allowed to be older than the check */
    VERIFY_MISMATCH, /* different under the same snapshot: a pgfold bug */
};

void verify_digest_init(struct verify_digest *d);
/* One whole RowDescription message (type byte and length included). */
void verify_digest_desc(struct verify_digest *d, const uint8_t *msg, size_t len);
/* One whole DataRow message. */
void verify_digest_row(struct verify_digest *d, const uint8_t *msg, size_t len);
/* Concatenated whole DataRow messages (an answer's rows). Returns -1 if they do not frame. */
int verify_digest_rows(struct verify_digest *d, const uint8_t *rows, size_t len);
void verify_digest_tag(struct verify_digest *d, const char *tag, size_t len);
/* One 64-bit value for log lines. */
uint64_t verify_digest_value(const struct verify_digest *d);

/*
 * served: what pgfold sent the client; got: what the server returned for the same statement.
 * The RowDescription is compared only when one was served.
 */
enum verify_outcome verify_judge(const struct verify_digest *served,
                                 const struct verify_digest *got, bool exact);

/* Is this answer sampled? rng: the caller's state (any nonzero seed); fraction in millionths. */
bool verify_sample(uint64_t *rng, uint64_t fraction);

#endif
