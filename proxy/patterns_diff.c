/*
 * patterns_diff: pgfold --patterns-diff (patterns_diff.h), a command that runs instead of the
 * proxy and exits.
 *
 * The two documents are what GET /patterns returns (stats.c renders it): the baseline as saved
 * by an earlier run (curl, or any copy of it), and the current one fetched from a running
 * pgfold's admin port (fetch.c) or read from a file. JSON is read with jansson; the baseline is
 * a file people keep in their repository and may edit, so no hand-written parser reads it.
 *
 * Matching uses the registry's own key; the figure compared is a pattern's lookups, what the
 * N+1 cost the test suite in statements. A test suite run through pgfold twice on the same
 * data makes the same lookups, so the default factor (1.5) only tolerates small changes in
 * data or test order; a new loop is always reported.
 */
#include "proxy/patterns_diff.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "proxy/fetch.h"

#define MAX_FILE (64u << 20)
#define SHOW_SITES 3 /* locations printed per pattern */

/* ---- reading the documents ---------------------------------------------------------------- */

/* The pattern list of a /patterns document, or NULL with the reason on err. */
static json_t *
load_list(const char *text, size_t len, const char *name, FILE *err)
{
    json_error_t je;
    json_t *doc = json_loadb(text ? text : "", text ? len : 0, 0, &je);
    if (!doc) {
        fprintf(err, "pgfold: %s: not JSON: %s (line %d, column %d)\n", name, je.text, je.line,
                je.column);
        return NULL;
    }
    json_t *list = json_is_object(doc) ? json_object_get(doc, "patterns") : doc;
    if (!json_is_array(list)) {
        fprintf(err, "pgfold: %s: not a /patterns document (want a JSON array of patterns)\n",
                name);
        json_decref(doc);
        return NULL;
    }
    json_incref(list);
    json_decref(doc);
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p)
    {
        if (!json_is_object(p) || !json_is_string(json_object_get(p, "fingerprint")) ||
            !json_is_integer(json_object_get(p, "lookups"))) {
            fprintf(err, "pgfold: %s: pattern %zu has no fingerprint or lookups\n", name, i + 1);
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

static const char *
str_of(const json_t *p, const char *key)
{
    const char *s = json_string_value(json_object_get(p, key));
    return s ? s : "";
}

static uint64_t
num_of(const json_t *p, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(p, key));
    return v > 0 ? (uint64_t)v : 0;
}

/* The registry's key of a pattern: "fingerprint/source_fingerprint/source_column". */
static void
key_of(const json_t *p, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s/%s", str_of(p, "fingerprint"), str_of(p, "source_fingerprint"),
             str_of(p, "source_column"));
}

/* ---- the report ----------------------------------------------------------------------------- */

static void
print_site(FILE *out, const json_t *site, bool first)
{
    const char *parts[4][2] = {{"database ", str_of(site, "database")},
                               {"user ", str_of(site, "user")},
                               {"application_name ", str_of(site, "application_name")},
                               {"at ", str_of(site, "location")}};
    fprintf(out, "%s", first ? "  -> location         " : "                       ");
    bool any = false;
    for (int i = 0; i < 4; i++) {
        if (!parts[i][1][0])
            continue;
        fprintf(out, "%s%s%s", any ? ", " : "", parts[i][0], parts[i][1]);
        any = true;
    }
    uint64_t loops = num_of(site, "loops");
    fprintf(out, "%s(%llu loop%s)%s\n", any ? " " : "", (unsigned long long)loops,
            loops == 1 ? "" : "s",
            str_of(site, "location")[0] ? "" : " - no location comment: docs/patterns-gate.md");
}

static void
print_pattern(FILE *out, const json_t *p, const char *what)
{
    uint64_t lookups = num_of(p, "lookups"), loops = num_of(p, "loops");
    fprintf(out, "%s (%llu lookup%s in %llu loop%s)\n", what, (unsigned long long)lookups,
            lookups == 1 ? "" : "s", (unsigned long long)loops, loops == 1 ? "" : "s");
    fprintf(out, "     source query     %s (column %s)\n", str_of(p, "source_query"),
            str_of(p, "source_column"));
    fprintf(out, "  -> repeated query   %s\n", str_of(p, "query"));
    const json_t *sites = json_object_get(p, "seen_under");
    size_t n = json_is_array(sites) ? json_array_size(sites) : 0;
    for (size_t i = 0; i < n && i < SHOW_SITES; i++)
        print_site(out, json_array_get(sites, i), i == 0);
    if (n == 0)
        fprintf(out, "  -> location         unknown (this pgfold records no sites)\n");
    else if (n > SHOW_SITES)
        fprintf(out, "                      and %zu more site%s\n", n - SHOW_SITES,
                n - SHOW_SITES == 1 ? "" : "s");
    fprintf(out, "  -> fix              %s\n", str_of(p, "suggestion"));
}

struct tally {
    size_t fresh, grown, within, gone, ignored;
};

/* How one pattern of the current document compares with the baseline's index; NULL when it
 * is within the factor (or too small to tell). */
static const char *
verdict(const json_t *p, const json_t *base, const struct patterns_diff_opts *o, char *what,
        size_t cap, struct tally *t)
{
    uint64_t now = num_of(p, "lookups"), was = base ? num_of(base, "lookups") : 0;
    if (now < o->min_lookups) {
        t->ignored++;
        return NULL;
    }
    if (!base) {
        t->fresh++;
        return "NEW N+1 pattern";
    }
    if ((double)now <= o->factor * (double)was) {
        t->within++;
        return NULL;
    }
    t->grown++;
    snprintf(what, cap, "GROWN N+1 pattern: %llu lookups, baseline %llu (%.2fx > %.2fx)",
             (unsigned long long)now, (unsigned long long)was,
             was ? (double)now / (double)was : 0.0, o->factor);
    return what;
}

/* Reports what current holds against the baseline's index; counts into *t. */
static void
compare_lists(json_t *index, json_t *current, const struct patterns_diff_opts *o, FILE *out,
              struct tally *t)
{
    json_t *seen = json_object();
    size_t i;
    json_t *p;
    char key[256], what[160];
    json_array_foreach(current, i, p)
    {
        key_of(p, key, sizeof(key));
        json_object_set_new(seen, key, json_true());
        const char *v = verdict(p, json_object_get(index, key), o, what, sizeof(what), t);
        if (v) {
            print_pattern(out, p, v);
            fputc('\n', out);
        }
    }
    const char *k;
    json_object_foreach(index, k, p)
    {
        t->gone += json_object_get(seen, k) == NULL;
    }
    json_decref(seen);
}

int
patterns_diff_compare(const char *baseline, size_t blen, const char *baseline_name,
                      const char *current, size_t clen, const char *current_name,
                      const struct patterns_diff_opts *o, FILE *out, FILE *err)
{
    json_t *bl = load_list(baseline, blen, baseline_name, err);
    json_t *cl = bl ? load_list(current, clen, current_name, err) : NULL;
    json_t *index = cl ? json_object() : NULL;
    if (!index) {
        json_decref(bl);
        json_decref(cl);
        return PATTERNS_DIFF_ERROR;
    }
    size_t i;
    json_t *p;
    char key[256];
    json_array_foreach(bl, i, p)
    {
        key_of(p, key, sizeof(key));
        json_object_set(index, key, p);
    }
    struct tally t = {0};
    compare_lists(index, cl, o, out, &t);
    fprintf(out,
            "patterns-diff: %zu new, %zu grown past %.2fx, %zu within, %zu gone, %zu under "
            "%llu lookups; baseline %s (%zu patterns), now %s (%zu patterns)\n",
            t.fresh, t.grown, o->factor, t.within, t.gone, t.ignored,
            (unsigned long long)o->min_lookups, baseline_name, json_array_size(bl), current_name,
            json_array_size(cl));
    json_decref(index);
    json_decref(bl);
    json_decref(cl);
    return t.fresh + t.grown > 0 ? PATTERNS_DIFF_REGRESSION : PATTERNS_DIFF_OK;
}

/* ---- the command ---------------------------------------------------------------------------- */

struct cli {
    const char *baseline;
    const char *admin;    /* URL or address; NULL: the config's admin_listen */
    const char *patterns; /* a saved /patterns instead of the live one */
    const char *config;
    struct patterns_diff_opts o;
    int timeout_ms;
};

static void
usage(FILE *f)
{
    fprintf(
        f, "Usage: pgfold --patterns-diff BASELINE.json [--admin URL | --patterns FILE] [-c FILE]\n"
           "              [--factor F] [--min-lookups N] [--timeout-ms MS]\n"
           "Compares the N+1 patterns of a running pgfold (GET /patterns on its admin port) or a\n"
           "saved copy with a baseline saved earlier the same way; exits 1 when a pattern is new\n"
           "or its lookups grew past F x the baseline's, 2 when an input cannot be read.\n\n"
           "  --admin=URL        the admin port (default: admin_listen of -c FILE, else\n"
           "                     127.0.0.1:6433); http://HOST:PORT[/PATH] or HOST:PORT\n"
           "  --patterns=FILE    compare this saved /patterns document instead\n"
           "  -c, --config=FILE  take admin_listen and admin_token from pgfold's config file\n"
           "  --factor=F         growth that fails the gate (default 1.5)\n"
           "  --min-lookups=N    leave out patterns with fewer lookups (default 2)\n"
           "  --timeout-ms=MS    for the admin port (default 10000)\n"
           "The bearer token for an admin port with admin_token comes from the environment\n"
           "(PGFOLD_ADMIN_TOKEN) or from -c FILE, never from the command line.\n"
           "Details: docs/patterns-gate.md\n");
}

int
patterns_diff_wanted(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--patterns-diff") == 0 ||
            strncmp(argv[i], "--patterns-diff=", 16) == 0)
            return 1;
    return 0;
}

static int
number(const char *s, double lo, double hi, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return errno == 0 && end != s && *end == '\0' && *v >= lo && *v <= hi ? 0 : -EINVAL;
}

static int
bad_value(const char *flag, const char *want, const char *got)
{
    fprintf(stderr, "pgfold: %s wants %s, not '%s'\n", flag, want, got);
    return PATTERNS_DIFF_ERROR;
}

/* One option of getopt_long's: 0, or PATTERNS_DIFF_ERROR after saying why. */
static int
take_option(int ch, const char *arg, struct cli *c)
{
    double v;
    switch (ch) {
    case 'b':
        c->baseline = arg;
        return 0;
    case 'a':
        c->admin = arg;
        return 0;
    case 'p':
        c->patterns = arg;
        return 0;
    case 'c':
        c->config = arg;
        return 0;
    case 'f':
        return number(arg, 1.0, 1e9, &c->o.factor) == 0
                   ? 0
                   : bad_value("--factor", "a number >= 1", arg);
    case 'm':
        if (number(arg, 0, 1e18, &v) != 0)
            return bad_value("--min-lookups", "a count", arg);
        c->o.min_lookups = (uint64_t)v;
        return 0;
    case 't':
        if (number(arg, 1, 3600000, &v) != 0)
            return bad_value("--timeout-ms", "1 to 3600000", arg);
        c->timeout_ms = (int)v;
        return 0;
    default:
        usage(stderr);
        return PATTERNS_DIFF_ERROR;
    }
}

/* Returns 0, -1 for --help, or PATTERNS_DIFF_ERROR after printing the problem. */
static int
parse_cli(int argc, char **argv, struct cli *c)
{
    static const struct option opts[] = {
        {"patterns-diff", required_argument, NULL, 'b'},
        {"admin", required_argument, NULL, 'a'},
        {"patterns", required_argument, NULL, 'p'},
        {"config", required_argument, NULL, 'c'},
        {"factor", required_argument, NULL, 'f'},
        {"min-lookups", required_argument, NULL, 'm'},
        {"timeout-ms", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *c = (struct cli){.o = {.factor = 1.5, .min_lookups = 2}, .timeout_ms = 10000};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (ch == 'h')
            return -1;
        if (take_option(ch, optarg, c) != 0)
            return PATTERNS_DIFF_ERROR;
    }
    const char *why = optind < argc             ? "unexpected argument"
                      : !c->baseline            ? "--patterns-diff needs BASELINE.json"
                      : c->admin && c->patterns ? "--admin and --patterns exclude each other"
                                                : NULL;
    if (why) {
        fprintf(stderr, "pgfold: %s\n", why);
        usage(stderr);
        return PATTERNS_DIFF_ERROR;
    }
    return 0;
}

/* Reads a whole file into *out. */
static int
read_file(const char *path, struct buf *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    int rc = 0;
    while (rc == 0) {
        if (buf_used(out) > MAX_FILE) {
            rc = -E2BIG;
        } else if (buf_reserve(out, 65536) != 0) {
            rc = -ENOMEM;
        } else {
            size_t n = fread(out->data + out->len, 1, 65536, f);
            buf_commit(out, n);
            if (n == 0)
                rc = ferror(f) ? -EIO : 1;
        }
    }
    fclose(f);
    return rc == 1 ? 0 : rc;
}

/* The live /patterns: the address and token from the flags, the environment, the config. */
static int
fetch_current(const struct cli *c, struct buf *body, char *name, size_t namelen)
{
    struct config cfg;
    char err[512];
    config_defaults(&cfg);
    if (c->config && config_load_file(&cfg, c->config, err, sizeof(err)) != 0) {
        fprintf(stderr, "pgfold: %s\n", err);
        return -EINVAL;
    }
    const char *addr = c->admin              ? c->admin
                       : cfg.admin_listen[0] ? cfg.admin_listen
                                             : "127.0.0.1:6433";
    const char *token = getenv("PGFOLD_ADMIN_TOKEN");
    if (!token || !token[0])
        token = cfg.admin_token;
    char host[256], path[256];
    int port;
    if (fetch_parse_url(addr, "/patterns", host, sizeof(host), &port, path, sizeof(path)) != 0) {
        fprintf(stderr, "pgfold: --admin '%s': want http://HOST:PORT[/PATH] or HOST:PORT\n", addr);
        return -EINVAL;
    }
    snprintf(name, namelen, "http://%s%s%s:%d%s", strchr(host, ':') ? "[" : "", host,
             strchr(host, ':') ? "]" : "", port, path);
    if (fetch_get(host, port, path, token, c->timeout_ms, body, err, sizeof(err)) != 0) {
        fprintf(stderr, "pgfold: cannot read %s: %s\n", name, err);
        return -EIO;
    }
    return 0;
}

int
patterns_diff_main(int argc, char **argv)
{
    /* "--patterns-diff --help" would hand --help to --patterns-diff as its file */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return PATTERNS_DIFF_OK;
        }
    }
    struct cli c;
    int rc = parse_cli(argc, argv, &c);
    if (rc != 0) {
        if (rc < 0)
            usage(stdout);
        return rc < 0 ? PATTERNS_DIFF_OK : rc;
    }
    struct buf base, now;
    buf_init(&base);
    buf_init(&now);
    char name[600];
    snprintf(name, sizeof(name), "%s", c.patterns ? c.patterns : "");
    rc = read_file(c.baseline, &base);
    if (rc != 0)
        fprintf(stderr, "pgfold: cannot read %s: %s\n", c.baseline, strerror(-rc));
    else if (c.patterns && (rc = read_file(c.patterns, &now)) != 0)
        fprintf(stderr, "pgfold: cannot read %s: %s\n", c.patterns, strerror(-rc));
    else if (!c.patterns)
        rc = fetch_current(&c, &now, name, sizeof(name));
    int status = PATTERNS_DIFF_ERROR;
    if (rc == 0)
        status = patterns_diff_compare((const char *)buf_head(&base), buf_used(&base), c.baseline,
                                       (const char *)buf_head(&now), buf_used(&now), name, &c.o,
                                       stdout, stderr);
    buf_free(&base);
    buf_free(&now);
    return status;
}
