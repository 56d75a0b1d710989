/*
 * console_show: what each of the console's SHOW commands prints, as one result set.
 *
 * The figures are the ones /metrics and /stats print (stats_items, server_snapshot, the
 * pattern registry, the registry of clients, config_describe), so the console, the HTTP port
 * and the log never disagree about a name or a value. Every column is sent in text format;
 * counts are typed bigint and SHOW STATS' values numeric, so psql right-aligns them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgwire/msg.h"
#include "proxy/console_int.h"
#include "proxy/registry.h"
#include "proxy/server.h"
#include "proxy/stats.h"
#include "proxy/version.h"

#define NUMERIC 1700
#define NCOLS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int
finish(const struct console_show *sh)
{
    msg_put_complete(sh->out, "SHOW");
    return buf_error(sh->out);
}

int
console_show_stats(const struct console_show *sh)
{
    static const struct console_col cols[] = {{"stat", CONSOLE_TEXT}, {"value", NUMERIC}};
    struct stats_process p;
    struct stats_item items[STATS_MAX_ITEMS];
    server_snapshot(sh->srv, sh->cfg, sh->now_ms, &p);
    size_t n = stats_items(&sh->srv->st, &p, items, STATS_MAX_ITEMS);
    console_put_rowdesc(sh->out, cols, NCOLS(cols));
    for (size_t i = 0; i < n; i++) {
        char v[32];
        stats_item_value(&items[i], v, sizeof(v));
        const char *row[] = {items[i].key, v};
        console_put_row(sh->out, row, NCOLS(cols));
    }
    return finish(sh);
}

static void
u64(char *out, size_t cap, uint64_t v)
{
    snprintf(out, cap, "%llu", (unsigned long long)v);
}

int
console_show_patterns(const struct console_show *sh)
{
    bool observe = sh->cfg->mode == MODE_OBSERVE;
    /* In observe mode nothing was batched: the figure is what batching would have saved. */
    const struct console_col cols[] = {
        {"fingerprint", CONSOLE_TEXT},
        {"query", CONSOLE_TEXT},
        {"source_query", CONSOLE_TEXT},
        {"source_column", CONSOLE_TEXT},
        {"loops", CONSOLE_INT8},
        {"lookups", CONSOLE_INT8},
        {"batches", CONSOLE_INT8},
        {"keys_fetched", CONSOLE_INT8},
        {"keys_used", CONSOLE_INT8},
        {observe ? "roundtrips_would_save" : "roundtrips_saved", CONSOLE_INT8},
        {"backoff", CONSOLE_TEXT},
        {"suggestion", CONSOLE_TEXT},
    };
    struct stats *st = &sh->srv->st;
    console_put_rowdesc(sh->out, cols, NCOLS(cols));
    pthread_mutex_lock(&st->lock);
    for (size_t i = 0; i < st->npatterns; i++) {
        const struct stats_pattern *p = &st->patterns[i];
        char fp[20], n[6][24], tip[512];
        snprintf(fp, sizeof(fp), "%016llx", (unsigned long long)p->fingerprint);
        u64(n[0], sizeof(n[0]), p->loops);
        u64(n[1], sizeof(n[1]), p->lookups);
        u64(n[2], sizeof(n[2]), p->batches);
        u64(n[3], sizeof(n[3]), p->keys_fetched);
        u64(n[4], sizeof(n[4]), p->keys_used);
        u64(n[5], sizeof(n[5]), observe ? p->would_save : p->roundtrips_saved);
        stats_suggestion(p, tip, sizeof(tip));
        const char *row[] = {fp,
                             p->repeated,
                             p->source,
                             p->source_column,
                             n[0],
                             n[1],
                             n[2],
                             n[3],
                             n[4],
                             n[5],
                             p->backoff[0] ? p->backoff : "none",
                             tip};
        console_put_row(sh->out, row, NCOLS(cols));
    }
    pthread_mutex_unlock(&st->lock);
    return finish(sh);
}

static const char *
known(const struct registry_row *r, const char *v)
{
    return r->logged_in ? v : NULL; /* not logged in yet: not known for sure */
}

int
console_show_clients(const struct console_show *sh)
{
    static const struct console_col cols[] = {
        {"id", CONSOLE_INT8},
        {"peer", CONSOLE_TEXT},
        {"user", CONSOLE_TEXT},
        {"database", CONSOLE_TEXT},
        {"application_name", CONSOLE_TEXT},
        {"client_tls", CONSOLE_TEXT},
        {"server_tls", CONSOLE_TEXT},
        {"state", CONSOLE_TEXT},
        {"age", CONSOLE_INT8},
        {"statements", CONSOLE_INT8},
        {"folded", CONSOLE_INT8},
        {"server_statements", CONSOLE_INT8},
    };
    struct registry_row *rows = NULL;
    long n = registry_snapshot(&sh->srv->clients, &rows);
    if (n < 0)
        return (int)n;
    console_put_rowdesc(sh->out, cols, NCOLS(cols));
    for (long i = n - 1; i >= 0; i--) { /* oldest first */
        const struct registry_row *r = &rows[i];
        char id[24], age[24], st[24], fo[24], ss[24];
        u64(id, sizeof(id), r->id);
        u64(age, sizeof(age), sh->now_ms > r->started_ms ? (sh->now_ms - r->started_ms) / 1000 : 0);
        u64(st, sizeof(st), r->statements);
        u64(fo, sizeof(fo), r->folded);
        u64(ss, sizeof(ss), r->server_statements);
        const char *row[] = {id,
                             r->peer,
                             known(r, r->user),
                             known(r, r->database),
                             known(r, r->application_name),
                             known(r, r->client_tls),
                             known(r, r->server_tls),
                             registry_state_name(r->state),
                             age,
                             st,
                             fo,
                             ss};
        console_put_row(sh->out, row, NCOLS(cols));
    }
    free(rows);
    return finish(sh);
}

int
console_show_config(const struct console_show *sh)
{
    static const struct console_col cols[] = {
        {"key", CONSOLE_TEXT},        {"value", CONSOLE_TEXT},       {"default", CONSOLE_TEXT},
        {"reloadable", CONSOLE_TEXT}, {"description", CONSOLE_TEXT},
    };
    struct config_key_info k;
    console_put_rowdesc(sh->out, cols, NCOLS(cols));
    for (size_t i = 0; config_describe(sh->cfg, i, &k) == 0; i++) {
        const char *row[] = {k.name, k.value, k.def, k.reloadable ? "yes" : "no", k.help};
        console_put_row(sh->out, row, NCOLS(cols));
    }
    return finish(sh);
}

int
console_show_version(const struct console_show *sh)
{
    static const struct console_col cols[] = {{"version", CONSOLE_TEXT}};
    const char *row[] = {"pgfold " PGFOLD_VERSION_STRING};
    console_put_rowdesc(sh->out, cols, NCOLS(cols));
    console_put_row(sh->out, row, NCOLS(cols));
    return finish(sh);
}

int
console_show_help(const struct console_show *sh)
{
    static const struct console_col cols[] = {{"command", CONSOLE_TEXT},
                                              {"description", CONSOLE_TEXT}};
    static const char *const help[][2] = {
        {"SHOW STATS", "counters: connections, statements, batches, round trips saved"},
        {"SHOW PATTERNS", "detected N+1 patterns: the repeated and the source query, figures"},
        {"SHOW CLIENTS", "client connections of every worker: peer, user, state, statements"},
        {"SHOW CONFIG", "every setting, its default, and whether RELOAD applies a change"},
        {"SHOW VERSION", "pgfold's version"},
        {"SHOW HELP", "this list"},
        {"RELOAD", "re-read the configuration file, as SIGHUP does (the log says what changed)"},
    };
    console_put_rowdesc(sh->out, cols, NCOLS(cols));
    for (size_t i = 0; i < sizeof(help) / sizeof(help[0]); i++)
        console_put_row(sh->out, help[i], NCOLS(cols));
    return finish(sh);
}
