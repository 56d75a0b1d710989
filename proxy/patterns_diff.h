/*
 * patterns_diff: the regression gate for application test suites (docs/patterns-gate.md).
 *
 *   pgfold --patterns-diff BASELINE.json [--admin URL | --patterns FILE] [-c FILE]
 *          [--factor F] [--min-lookups N] [--timeout-ms MS]
 *
 * compares the N+1 patterns a pgfold sees now (its /patterns, fetched from the admin port, or
 * a saved copy) with a baseline saved from an earlier run, and fails when a pattern is new or
 * has grown past a factor, printing each as source query -> repeated query -> location ->
 * suggested ORM fix. Patterns are matched as the registry keys them: repeated query's
 * fingerprint, source query's fingerprint, source column. Exit status: 0 nothing new or grown,
 * 1 some, 2 the inputs could not be read.
 */
#ifndef PGFOLD_PATTERNS_DIFF_H
#define PGFOLD_PATTERNS_DIFF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct patterns_diff_opts {
    double factor;        /* grown: lookups now > factor x lookups in the baseline */
    uint64_t min_lookups; /* patterns with fewer lookups now are left out */
};

/* Exit statuses. */
#define PATTERNS_DIFF_OK 0
#define PATTERNS_DIFF_REGRESSION 1
#define PATTERNS_DIFF_ERROR 2

/*
 * Compares two /patterns documents (a JSON array of patterns, or an object whose "patterns"
 * member is one). The names label the report. Writes the report to out and what is wrong with
 * an input to err. Returns one of the exit statuses above.
 */
int patterns_diff_compare(const char *baseline, size_t blen, const char *baseline_name,
                          const char *current, size_t clen, const char *current_name,
                          const struct patterns_diff_opts *o, FILE *out, FILE *err);

/* Is this command line a --patterns-diff run? */
int patterns_diff_wanted(int argc, char **argv);

/* The whole command: parses argv, loads both documents, compares. Returns the exit status. */
int patterns_diff_main(int argc, char **argv);

#endif
