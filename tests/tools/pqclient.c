/*
 * pqclient: a libpq test client for pgfold's integration tests (tests/integration/t_libpq.sh).
 *
 * Each subcommand exercises one protocol feature a proxy can get wrong and prints everything it
 * sees (result statuses, rows, SQLSTATEs, transaction status) in a deterministic text form, so
 * the test can run it once against PostgreSQL and once through pgfold and diff the two.
 * Nothing printed on stdout depends on timing, process ids or ports; progress and retries go to
 * stderr.
 *
 *   pqclient pipeline CONNINFO   pipeline mode: several Sync groups, an error mid-group, Flush
 *   pqclient nosync   CONNINFO   pipeline mode without Sync: results must come back all the same
 *   pqclient cancel   CONNINFO   PQcancel of pg_sleep(30) while another session keeps running
 *   pqclient copy     CONNINFO   COPY FROM STDIN (10000 rows), COPY TO STDOUT, errors in COPY
 *   pqclient slowread CONNINFO [ROWS [EVERY [SLEEP_US [PAUSE_MS]]]]
 *                                a ~100 MB result read in single-row mode, slowly
 *   pqclient login    CONNINFO   connect; print who we are, or libpq's error (exit 1)
 *
 * Links libpq only. Exit status: 0 when the run went as scripted (expected errors included),
 * 1 on anything unexpected, 2 on usage errors.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

#include <libpq-fe.h>

static void
sleep_us(long us)
{
    struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static PGconn *
connect_or_die(const char *conninfo)
{
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "pqclient: connection failed: %s", PQerrorMessage(c));
        PQfinish(c);
        exit(1);
    }
    return c;
}

/* Error message on one line: libpq ends messages with newlines and may have several lines. */
static void
print_oneline(const char *s)
{
    for (; s && *s; s++) {
        if (*s == '\n') {
            if (s[1] != '\0')
                fputs(" | ", stdout);
        } else {
            putchar(*s);
        }
    }
}

static const char *
xact_name(PGTransactionStatusType t)
{
    switch (t) {
    case PQTRANS_IDLE:
        return "I";
    case PQTRANS_INTRANS:
        return "T";
    case PQTRANS_INERROR:
        return "E";
    case PQTRANS_ACTIVE:
        return "active";
    default:
        return "unknown";
    }
}

/* Prints one result: status, command tag, rows (binary columns in hex), or the error fields. */
static void
print_result(const char *prefix, const PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    int nrows = PQntuples(r), ncols = PQnfields(r);

    printf("%s%s", prefix, PQresStatus(st));
    if (st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR) {
        const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
        const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        const char *ctx = PQresultErrorField(r, PG_DIAG_CONTEXT);
        printf(" %s sqlstate=%s message=", sev ? sev : "-", code ? code : "-");
        print_oneline(msg ? msg : PQresultErrorMessage(r));
        if (ctx) {
            fputs(" context=", stdout);
            print_oneline(ctx);
        }
        putchar('\n');
        return;
    }
    if (PQcmdStatus((PGresult *)r)[0] != '\0')
        printf(" cmd=\"%s\"", PQcmdStatus((PGresult *)r));
    if (st == PGRES_TUPLES_OK || st == PGRES_SINGLE_TUPLE) {
        printf(" rows=%d cols=", nrows);
        for (int f = 0; f < ncols; f++)
            printf("%s%s:%u", f ? "," : "", PQfname(r, f), (unsigned)PQftype(r, f));
    }
    putchar('\n');
    for (int i = 0; i < nrows; i++) {
        printf("%s  |", prefix);
        for (int f = 0; f < ncols; f++) {
            if (PQgetisnull(r, i, f)) {
                fputs(" NULL |", stdout);
            } else if (PQfformat(r, f) == 1) {
                const unsigned char *v = (const unsigned char *)PQgetvalue(r, i, f);
                fputs(" \\x", stdout);
                for (int k = 0; k < PQgetlength(r, i, f); k++)
                    printf("%02x", v[k]);
                fputs(" |", stdout);
            } else {
                printf(" %s |", PQgetvalue(r, i, f));
            }
        }
        putchar('\n');
    }
}

/* Runs one statement outside pipeline mode, prints its result. Returns the status. */
static ExecStatusType
exec_print(PGconn *c, const char *prefix, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    print_result(prefix, r);
    PQclear(r);
    return st;
}

/* ------------------------------------------------------------------------------------------ */
/* pipeline */

static int
send_q(PGconn *c, const char *sql, int nparams, const char *const *params, int result_format)
{
    if (!PQsendQueryParams(c, sql, nparams, NULL, params, NULL, NULL, result_format)) {
        fprintf(stderr, "pqclient: PQsendQueryParams failed: %s", PQerrorMessage(c));
        return -1;
    }
    return 0;
}

static int
send_sync(PGconn *c)
{
    if (!PQpipelineSync(c)) {
        fprintf(stderr, "pqclient: PQpipelineSync failed: %s", PQerrorMessage(c));
        return -1;
    }
    return 0;
}

/*
 * Reads results until nsyncs PGRES_PIPELINE_SYNC have arrived, printing each one with its
 * group number. Two NULLs in a row mean nothing is pending: a protocol desync, so fail.
 */
static int
drain_pipeline(PGconn *c, int *group, int nsyncs)
{
    int syncs = 0, nulls = 0, query = 1;
    char prefix[64];

    while (syncs < nsyncs) {
        PGresult *r = PQgetResult(c);
        if (r == NULL) {
            if (++nulls > 1 || PQstatus(c) == CONNECTION_BAD) {
                printf("UNEXPECTED: no result pending in group %d: %s\n", *group,
                       PQerrorMessage(c));
                return -1;
            }
            query++;
            continue;
        }
        nulls = 0;
        snprintf(prefix, sizeof prefix, "[group %d query %d] ", *group, query);
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            printf("[group %d] PGRES_PIPELINE_SYNC xact=%s\n", *group,
                   xact_name(PQtransactionStatus(c)));
            syncs++;
            (*group)++;
            query = 1;
        } else {
            print_result(prefix, r);
        }
        PQclear(r);
    }
    return 0;
}

static int
cmd_pipeline(PGconn *c)
{
    const char *p41[] = {"41"};
    const char *p1[] = {"1"}, *p2[] = {"2"}, *p3[] = {"3"};
    const char *pbin[] = {"1234567"};
    int group = 1;

    if (!PQenterPipelineMode(c)) {
        fprintf(stderr, "pqclient: PQenterPipelineMode failed: %s", PQerrorMessage(c));
        return 1;
    }
    printf("pipeline status=%d\n", (int)PQpipelineStatus(c));

    /* Group 1: plain parameterized queries. */
    if (send_q(c, "SELECT $1::int + 1 AS answer", 1, p41, 0) ||
        send_q(c, "SELECT g, g * g AS sq FROM generate_series(1, 3) g", 0, NULL, 0) ||
        send_sync(c))
        return 1;
    /* Group 2: DDL and DML with RETURNING. */
    if (send_q(c, "CREATE TEMP TABLE pl (id int PRIMARY KEY, v text)", 0, NULL, 0) ||
        send_q(c, "INSERT INTO pl VALUES (1, 'one'), (2, 'two') RETURNING id, v", 0, NULL, 0) ||
        send_sync(c))
        return 1;
    /* Group 3: an error in the middle; the rest of the group is skipped (PIPELINE_ABORTED). */
    if (send_q(c, "SELECT 'before error' AS s", 0, NULL, 0) ||
        send_q(c, "SELECT 1 / (SELECT count(*) - 2 FROM pl)", 0, NULL, 0) ||
        send_q(c, "INSERT INTO pl VALUES (3, 'skipped') RETURNING id", 0, NULL, 0) ||
        send_q(c, "SELECT 'also skipped'", 0, NULL, 0) || send_sync(c))
        return 1;
    /* Group 4: a named prepared statement, executed three times. */
    if (!PQsendPrepare(c, "pl_get", "SELECT id, v FROM pl WHERE id = $1", 1, NULL))
        return 1;
    if (!PQsendQueryPrepared(c, "pl_get", 1, p1, NULL, NULL, 0) ||
        !PQsendQueryPrepared(c, "pl_get", 1, p2, NULL, NULL, 0) ||
        !PQsendQueryPrepared(c, "pl_get", 1, p3, NULL, NULL, 0) || send_sync(c))
        return 1;
    /* Group 5: explicit transaction that fails: xact status E after the Sync. */
    if (send_q(c, "BEGIN", 0, NULL, 0) ||
        send_q(c, "INSERT INTO pl VALUES (4, 'in tx')", 0, NULL, 0) ||
        send_q(c, "INSERT INTO pl VALUES (1, 'duplicate')", 0, NULL, 0) ||
        send_q(c, "COMMIT", 0, NULL, 0) || send_sync(c))
        return 1;
    /* Group 6: still in the failed transaction, then ROLLBACK in the next group. */
    if (send_q(c, "SELECT 'in failed tx'", 0, NULL, 0) || send_sync(c))
        return 1;
    if (send_q(c, "ROLLBACK", 0, NULL, 0) || send_sync(c))
        return 1;
    /* Group 8: later groups succeed; binary result format. */
    if (send_q(c, "SELECT id, v FROM pl ORDER BY id", 0, NULL, 0) ||
        send_q(c, "SELECT $1::int4 AS bin4, 'abc'::bytea AS bin_bytea", 1, pbin, 1) ||
        send_sync(c))
        return 1;
    if (drain_pipeline(c, &group, 8))
        return 1;

    /* Flush request: the result must arrive before any Sync is sent. */
    if (send_q(c, "SELECT 'flushed before sync' AS f", 0, NULL, 0))
        return 1;
    if (!PQsendFlushRequest(c) || PQflush(c) < 0) {
        fprintf(stderr, "pqclient: flush request failed: %s", PQerrorMessage(c));
        return 1;
    }
    {
        PGresult *r = PQgetResult(c);
        if (!r) {
            printf("UNEXPECTED: no result after flush request\n");
            return 1;
        }
        print_result("[flush] ", r);
        PQclear(r);
        r = PQgetResult(c);
        if (r) {
            printf("UNEXPECTED: second result after flush request\n");
            PQclear(r);
            return 1;
        }
    }
    if (send_sync(c))
        return 1;
    /* A statement that does not exist (26000), then a group that works. */
    if (!PQsendQueryPrepared(c, "no_such_stmt", 0, NULL, NULL, NULL, 0) || send_sync(c))
        return 1;
    if (send_q(c, "SELECT count(*) AS n FROM pl", 0, NULL, 0) || send_sync(c))
        return 1;
    printf("[group %d] (flush group)\n", group);
    if (drain_pipeline(c, &group, 3))
        return 1;

    if (!PQexitPipelineMode(c)) {
        fprintf(stderr, "pqclient: PQexitPipelineMode failed: %s", PQerrorMessage(c));
        return 1;
    }
    printf("pipeline status=%d xact=%s\n", (int)PQpipelineStatus(c),
           xact_name(PQtransactionStatus(c)));
    exec_print(c, "[after] ", "SELECT 'out of pipeline mode' AS done");
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* pipeline without Sync */

/*
 * The next result, waiting at most 10 s: a proxy that holds messages until a Sync the client
 * never sends would make PQgetResult block for ever. Returns NULL on timeout (printed).
 */
static PGresult *
result_within(PGconn *c, const char *what)
{
    int sock = PQsocket(c);
    for (int waited = 0; PQisBusy(c); waited += 100) {
        if (waited >= 10000) {
            printf("UNEXPECTED: %s: no result within 10 s (messages held without Sync?)\n", what);
            return NULL;
        }
        fd_set rf;
        FD_ZERO(&rf);
        FD_SET(sock, &rf);
        struct timeval tv = {0, 100000};
        if (select(sock + 1, &rf, NULL, NULL, &tv) > 0 && !PQconsumeInput(c))
            return NULL;
    }
    return PQgetResult(c);
}

/* Reads n queries' results (each ends with a NULL) as they come, with no Sync sent. */
static int
read_unsynced(PGconn *c, const char *label, int n)
{
    char prefix[64];
    for (int q = 1; q <= n; q++) {
        snprintf(prefix, sizeof prefix, "[%s %d] ", label, q);
        PGresult *r = result_within(c, prefix);
        if (!r)
            return -1;
        print_result(prefix, r);
        PQclear(r);
        r = result_within(c, prefix);
        if (r) {
            printf("UNEXPECTED: %ssecond result\n", prefix);
            PQclear(r);
            return -1;
        }
    }
    return 0;
}

/*
 * psycopg's test_pipeline_communicate_uniqviol, in libpq: five executions of a prepared INSERT
 * (the third violates the primary key) and a COMMIT, pipelined without a Sync, results read as
 * they come (PostgreSQL flushes its output at the error); then lookups of one shape followed
 * by a Flush instead of a Sync (a lookup group held for folding must go upstream when no Sync
 * follows). The Syncs come last.
 */
static int
cmd_nosync(PGconn *c)
{
    exec_print(c, "[setup] ", "DROP TABLE IF EXISTS pq_nosync");
    exec_print(c, "[setup] ", "CREATE TABLE pq_nosync (id bigint PRIMARY KEY, v bigint)");
    exec_print(c, "[setup] ", "INSERT INTO pq_nosync VALUES (10, 100), (11, 110), (12, 120)");
    exec_print(c, "[setup] ", "BEGIN");
    PGresult *pr = PQprepare(c, "nosync_ins", "INSERT INTO pq_nosync VALUES ($1, $2) RETURNING id",
                             2, NULL);
    print_result("[prepare] ", pr);
    PQclear(pr);
    if (!PQenterPipelineMode(c))
        return 1;
    static const char *const ids[] = {"1", "2", "1", "3", "4"};
    for (int i = 0; i < 5; i++) {
        const char *pv[] = {ids[i], "2"};
        if (!PQsendQueryPrepared(c, "nosync_ins", 2, pv, NULL, NULL, 0))
            return 1;
    }
    if (send_q(c, "COMMIT", 0, NULL, 0) || PQflush(c) < 0)
        return 1;
    if (read_unsynced(c, "insert", 6))
        return 1;
    if (send_sync(c) || drain_pipeline(c, &(int){1}, 1))
        return 1;
    if (send_q(c, "ROLLBACK", 0, NULL, 0) || send_sync(c) || drain_pipeline(c, &(int){2}, 1))
        return 1;
    static const char *const keys[] = {"10", "11", "12"};
    for (int i = 0; i < 3; i++) {
        const char *pv[] = {keys[i]};
        if (send_q(c, "SELECT id, v FROM pq_nosync WHERE id = $1", 1, pv, 0))
            return 1;
    }
    if (!PQsendFlushRequest(c) || PQflush(c) < 0 || read_unsynced(c, "lookup", 3))
        return 1;
    if (send_sync(c) || drain_pipeline(c, &(int){3}, 1) || !PQexitPipelineMode(c))
        return 1;
    exec_print(c, "[after] ", "SELECT count(*) FROM pq_nosync");
    exec_print(c, "[after] ", "DROP TABLE pq_nosync");
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* cancel */

/* Waits up to ms milliseconds for the connection to finish its current query. */
static int
wait_not_busy(PGconn *c, int ms)
{
    int sock = PQsocket(c);
    for (int waited = 0; waited < ms; waited += 100) {
        fd_set rf;
        struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
        if (!PQconsumeInput(c))
            return -1;
        if (!PQisBusy(c))
            return 0;
        FD_ZERO(&rf);
        FD_SET(sock, &rf);
        if (select(sock + 1, &rf, NULL, NULL, &tv) < 0 && errno != EINTR)
            return -1;
    }
    return 1;
}

static int
cmd_cancel(const char *conninfo)
{
    PGconn *victim = connect_or_die(conninfo);
    PGconn *bystander = connect_or_die(conninfo);
    char errbuf[256];
    PGresult *r;
    int done = 1;

    /* The bystander's query must not be the one cancelled (cancel keys route per backend). */
    if (!PQsendQuery(bystander, "SELECT pg_sleep(1.5), 'bystander finished' AS b") ||
        !PQsendQuery(victim, "SELECT pg_sleep(30)")) {
        fprintf(stderr, "pqclient: send failed\n");
        return 1;
    }
    sleep_us(500000);
    /*
     * A cancel that reaches the backend before the query starts is lost (PostgreSQL semantics),
     * so retry until the query ends. Attempts go to stderr: they depend on timing.
     */
    for (int attempt = 1; attempt <= 10; attempt++) {
        PGcancel *cn = PQgetCancel(victim);
        if (!cn || !PQcancel(cn, errbuf, sizeof errbuf)) {
            printf("PQcancel failed: %s\n", cn ? errbuf : "no cancel object");
            PQfreeCancel(cn);
            return 1;
        }
        PQfreeCancel(cn);
        fprintf(stderr, "pqclient: cancel request %d sent\n", attempt);
        done = wait_not_busy(victim, 3000);
        if (done <= 0)
            break;
    }
    if (done != 0) {
        printf("UNEXPECTED: query still running after 10 cancel requests\n");
        return 1;
    }
    printf("cancel request sent\n");
    while ((r = PQgetResult(victim)) != NULL) {
        print_result("[victim] ", r);
        PQclear(r);
    }
    while ((r = PQgetResult(bystander)) != NULL) {
        print_result("[bystander] ", r);
        PQclear(r);
    }
    printf("[victim] xact=%s\n", xact_name(PQtransactionStatus(victim)));
    exec_print(victim, "[victim] ", "SELECT 'victim session still usable' AS s");

    /* Cancelling an idle session does nothing. */
    {
        PGcancel *cn = PQgetCancel(bystander);
        int ok = cn && PQcancel(cn, errbuf, sizeof errbuf);
        PQfreeCancel(cn);
        printf("idle cancel %s\n", ok ? "sent" : "failed");
        exec_print(bystander, "[bystander] ", "SELECT 'bystander after idle cancel' AS s");
    }
    PQfinish(victim);
    PQfinish(bystander);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* copy */

static uint64_t
fnv1a(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

#define FNV_INIT 14695981039346656037ULL

/* COPY ... TO STDOUT: prints row count, byte count and checksum of everything received. */
static int
copy_out(PGconn *c, const char *label, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    char *buf;
    int n;
    long rows = 0, bytes = 0;
    uint64_t h = FNV_INIT;

    if (PQresultStatus(r) != PGRES_COPY_OUT) {
        print_result("[copy out] ", r);
        PQclear(r);
        return 1;
    }
    printf("[%s] %s binary=%d cols=%d\n", label, PQresStatus(PQresultStatus(r)), PQbinaryTuples(r),
           PQnfields(r));
    PQclear(r);
    while ((n = PQgetCopyData(c, &buf, 0)) > 0) {
        rows++;
        bytes += n;
        h = fnv1a(h, buf, (size_t)n);
        PQfreemem(buf);
    }
    if (n == -2) {
        printf("[%s] PQgetCopyData failed: %s", label, PQerrorMessage(c));
        return 1;
    }
    printf("[%s] messages=%ld bytes=%ld fnv1a=%016" PRIx64 "\n", label, rows, bytes, h);
    while ((r = PQgetResult(c)) != NULL) {
        print_result("[copy out done] ", r);
        PQclear(r);
    }
    return 0;
}

/*
 * COPY ... FROM STDIN of nrows generated rows; bad_row > 0 puts a non-integer id there;
 * fail_msg != NULL ends with PQputCopyFail instead of PQputCopyEnd. Prints the final result.
 */
static int
copy_in(PGconn *c, const char *label, const char *sql, int nrows, int bad_row, const char *fail_msg)
{
    PGresult *r = PQexec(c, sql);
    char line[256];
    int sent_ok = 1;

    if (PQresultStatus(r) != PGRES_COPY_IN) {
        print_result("[copy in] ", r);
        PQclear(r);
        return 1;
    }
    printf("[%s] %s cols=%d\n", label, PQresStatus(PQresultStatus(r)), PQnfields(r));
    PQclear(r);
    for (int i = 1; i <= nrows && sent_ok; i++) {
        int len;
        if (i == bad_row)
            len = snprintf(line, sizeof line, "x%d\tbad row\t0\t\\N\n", i);
        else if (i % 7 == 0)
            len = snprintf(line, sizeof line, "%d\tline %d\t%d.%02d\t\\N\n", i, i, i, i % 100);
        else
            len = snprintf(line, sizeof line, "%d\tline %d\t%d.%02d\tnote\\twith tab \\\\ é %d\n",
                           i, i, i, i % 100, i % 13);
        /* After a server error libpq may refuse more data; the final result tells the story. */
        if (PQputCopyData(c, line, len) != 1)
            sent_ok = 0;
    }
    if (fail_msg)
        PQputCopyEnd(c, fail_msg);
    else
        PQputCopyEnd(c, NULL);
    while ((r = PQgetResult(c)) != NULL) {
        print_result("[copy in done] ", r);
        PQclear(r);
    }
    return 0;
}

static int
cmd_copy(PGconn *c)
{
    if (exec_print(c, "", "CREATE TEMP TABLE cp (id int, txt text, amount numeric, note text)") !=
        PGRES_COMMAND_OK)
        return 1;
    if (copy_in(c, "copy in 10000", "COPY cp FROM STDIN", 10000, 0, NULL))
        return 1;
    if (copy_out(c, "copy out text", "COPY cp TO STDOUT") ||
        copy_out(c, "copy out binary", "COPY (SELECT * FROM cp ORDER BY id) TO STDOUT (FORMAT binary)") ||
        copy_out(c, "copy out csv", "COPY (SELECT * FROM cp WHERE id % 1000 = 0 ORDER BY id) TO STDOUT (FORMAT csv, HEADER)"))
        return 1;
    /* A bad row in the middle: 22P02, the table is unchanged, the session goes on. */
    if (copy_in(c, "copy in with bad row", "COPY cp FROM STDIN", 10000, 5001, NULL))
        return 1;
    /* The client gives up: PQputCopyFail-style abort (57014). */
    if (copy_in(c, "copy in aborted", "COPY cp FROM STDIN", 100, 0, "client gave up"))
        return 1;
    /* COPY inside a transaction, then an error, then ROLLBACK. */
    exec_print(c, "", "BEGIN");
    if (copy_in(c, "copy in tx", "COPY cp FROM STDIN", 50, 0, NULL))
        return 1;
    printf("xact=%s\n", xact_name(PQtransactionStatus(c)));
    exec_print(c, "", "SELECT 1/0");
    printf("xact=%s\n", xact_name(PQtransactionStatus(c)));
    exec_print(c, "", "ROLLBACK");
    exec_print(c, "", "SELECT count(*), sum(id), md5(string_agg(id || txt || amount || coalesce(note, '-'), ',' ORDER BY id)) FROM cp");
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* slowread */

static int
cmd_slowread(PGconn *c, long nrows, long every, long sleep_each_us, long pause_ms)
{
    char sql[256];
    PGresult *r;
    long rows = 0, bytes = 0, bad = 0;

    snprintf(sql, sizeof sql, "SELECT g, repeat('x', 1000) AS payload FROM generate_series(1, %ld) g",
             nrows);
    if (!PQsendQuery(c, sql) || !PQsetSingleRowMode(c)) {
        fprintf(stderr, "pqclient: send failed: %s", PQerrorMessage(c));
        return 1;
    }
    fprintf(stderr, "pqclient: slowread started\n");
    /* Read nothing for a while: the server can produce the whole result meanwhile. */
    sleep_us(pause_ms * 1000);
    while ((r = PQgetResult(c)) != NULL) {
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_SINGLE_TUPLE) {
            rows++;
            bytes += PQgetlength(r, 0, 1);
            if (atol(PQgetvalue(r, 0, 0)) != rows || PQgetlength(r, 0, 1) != 1000)
                bad++;
            if (every > 0 && rows % every == 0)
                sleep_us(sleep_each_us);
        } else if (st == PGRES_TUPLES_OK) {
            printf("final %s cmd=\"%s\"\n", PQresStatus(st), PQcmdStatus(r));
        } else {
            print_result("", r);
        }
        PQclear(r);
    }
    printf("slowread rows=%ld payload_bytes=%ld bad_rows=%ld\n", rows, bytes, bad);
    return rows == nrows && bad == 0 ? 0 : 1;
}

/* ------------------------------------------------------------------------------------------ */
/* login */

static int
cmd_login(const char *conninfo)
{
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        fputs("login failed: ", stdout);
        print_oneline(PQerrorMessage(c));
        putchar('\n');
        PQfinish(c);
        return 1;
    }
    printf("login ok: used_password=%d server_version=%s client_encoding=%s is_superuser=%s\n",
           PQconnectionUsedPassword(c), PQparameterStatus(c, "server_version"),
           PQparameterStatus(c, "client_encoding"), PQparameterStatus(c, "is_superuser"));
    exec_print(c, "", "SELECT current_user, session_user, current_database(), "
                      "current_setting('application_name') AS app");
    PQfinish(c);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */

static void
usage(void)
{
    fputs("usage: pqclient pipeline|cancel|copy|login CONNINFO\n"
          "       pqclient slowread CONNINFO [ROWS [EVERY [SLEEP_US [PAUSE_MS]]]]\n",
          stderr);
}

int
main(int argc, char **argv)
{
    const char *cmd, *conninfo;
    PGconn *c;
    int rc;

    if (argc < 3) {
        usage();
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    cmd = argv[1];
    conninfo = argv[2];
    if (strcmp(cmd, "login") == 0)
        return cmd_login(conninfo);
    if (strcmp(cmd, "cancel") == 0)
        return cmd_cancel(conninfo);
    if (strcmp(cmd, "pipeline") != 0 && strcmp(cmd, "copy") != 0 && strcmp(cmd, "slowread") != 0 &&
        strcmp(cmd, "nosync") != 0) {
        usage();
        return 2;
    }
    c = connect_or_die(conninfo);
    if (strcmp(cmd, "pipeline") == 0) {
        rc = cmd_pipeline(c);
    } else if (strcmp(cmd, "nosync") == 0) {
        rc = cmd_nosync(c);
    } else if (strcmp(cmd, "copy") == 0) {
        rc = cmd_copy(c);
    } else {
        long nrows = argc > 3 ? atol(argv[3]) : 100000;
        long every = argc > 4 ? atol(argv[4]) : 100;
        long sl = argc > 5 ? atol(argv[5]) : 1000;
        long pause = argc > 6 ? atol(argv[6]) : 500;
        rc = cmd_slowread(c, nrows, every, sl, pause);
    }
    PQfinish(c);
    return rc;
}
