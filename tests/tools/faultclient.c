/*
 * faultclient: fault injection for pgfold's integration tests (tests/integration/t_fault.sh,
 * t_fold_fault.sh). Each subcommand sets up one fault with libpq: an upstream backend killed
 * with pg_terminate_backend() at a chosen moment (found in pg_stat_activity through a direct
 * "admin" connection), PostgreSQL restarted under open sessions, a client that vanishes, a
 * client that never reads, connection churn, cancels at random moments.
 *
 * What a client sees is printed on stdout in a form that depends neither on timing nor on
 * process ids, so a run direct and a run through pgfold can be diffed; progress, timings and
 * figures that do vary go to stderr or to lines starting with "#".
 *
 *   faultclient bystander  CONNINFO STOPFILE
 *       loops (simple and extended queries, an N+1 loop over fault_ref/fault_item) until
 *       STOPFILE exists; checks every answer. Exit 1 on any wrong answer or error.
 *   faultclient kill-copyin  CONNINFO ADMIN      backend terminated during COPY FROM STDIN
 *   faultclient kill-copyout CONNINFO ADMIN      backend terminated during COPY TO STDOUT
 *   faultclient kill-pipeline CONNINFO ADMIN     backend terminated during a pipelined group
 *   faultclient kill-batch CONNINFO ADMIN autocommit|tx
 *       rewrite mode: a lookup whose batch is slow (fault_slowv); the backend is terminated
 *       while the batch runs
 *   faultclient restart CONNINFO READYFILE GOFILE
 *       opens sessions (idle, idle in transaction, running pg_sleep, mid N+1 loop), creates
 *       READYFILE, waits for GOFILE (the test restarts PostgreSQL meanwhile), then prints what
 *       each session gets, and what new sessions get
 *   faultclient gone CONNINFO ADMIN midresult|noread|midbatch [PID LIMIT_KB SECONDS]
 *       a child process sends a query and is killed without reading (all / part of) the
 *       answer; the parent checks the backend goes away. With PID: samples that process's
 *       RSS while the child is not reading and prints whether it stayed under LIMIT_KB.
 *   faultclient localflood CONNINFO PID LIMIT_KB
 *       rewrite mode: 20,000 pipelined lookups of one cached 8 kB row (answered locally, 160
 *       MB), none read for 2 s while PID's RSS is sampled; then all read and checked.
 *   faultclient churn CONNINFO TOTAL CONCURRENCY
 *       TOTAL sessions, CONCURRENCY at a time: connect, one query, disconnect (politely, or
 *       abruptly mid-query). Prints counts; connections refused with 53300 are counted apart.
 *   faultclient cancelrace CONNINFO autocommit|tx MILLISECONDS
 *       N+1 loops answered locally by pgfold while another thread sends cancels at random
 *       moments; every answer must be right or 57014 (25P02 only after a 57014 in the same
 *       block), the next statement works, and the session is usable at the end.
 *
 * Exit status: 0 when the run went as expected, 1 otherwise, 2 on usage errors.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

/* ---- helpers ----------------------------------------------------------------------------- */

static void
sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static long
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool
file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static PGconn *
connect_app(const char *conninfo, const char *app)
{
    const char *keys[] = {"dbname", "application_name", NULL};
    const char *vals[] = {conninfo, app, NULL};
    return PQconnectdbParams(keys, vals, 1);
}

static PGconn *
connect_or_die(const char *conninfo, const char *app)
{
    PGconn *c = connect_app(conninfo, app);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "faultclient: connection failed: %s", PQerrorMessage(c));
        PQfinish(c);
        exit(1);
    }
    return c;
}

/* First line of a message, without the newline. */
static void
print_line1(const char *s)
{
    if (!s)
        s = "";
    size_t n = strcspn(s, "\n");
    fwrite(s, 1, n, stdout);
}

/* One result, compactly: status, then sqlstate and primary message for errors. */
static void
print_result(const char *prefix, const PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    printf("%s%s", prefix, PQresStatus(st));
    if (st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR) {
        const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
        const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        printf(" %s sqlstate=%s message=", sev ? sev : "-", code ? code : "-");
        print_line1(msg ? msg : PQresultErrorMessage(r));
    } else if (st == PGRES_TUPLES_OK || st == PGRES_SINGLE_TUPLE) {
        printf(" rows=%d", PQntuples(r));
        if (PQntuples(r) > 0 && PQnfields(r) > 0)
            printf(" first=%s", PQgetvalue(r, 0, 0));
    }
    putchar('\n');
}

/* Prints every remaining result of the current query; returns how many there were. */
static int
drain_results(PGconn *c, const char *prefix)
{
    PGresult *r;
    int n = 0;
    while ((r = PQgetResult(c)) != NULL) {
        print_result(prefix, r);
        PQclear(r);
        if (++n > 100)
            break;
    }
    return n;
}

static const char *
conn_state(PGconn *c)
{
    return PQstatus(c) == CONNECTION_OK ? "ok" : "bad";
}

/* Runs sql (no parameters) on the admin connection and returns the first value as a long. */
static long
admin_long(PGconn *admin, const char *sql, const char *param)
{
    const char *params[1] = {param};
    PGresult *r = PQexecParams(admin, sql, param ? 1 : 0, NULL, params, NULL, NULL, 0);
    long v = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        v = atol(PQgetvalue(r, 0, 0));
    else if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fprintf(stderr, "faultclient: admin query failed: %s", PQerrorMessage(admin));
    PQclear(r);
    return v;
}

/*
 * Waits until the backend of application_name app satisfies cond (SQL over pg_stat_activity
 * columns) and returns its pid, or -1 after timeout_ms.
 */
static long
admin_wait_backend(PGconn *admin, const char *app, const char *cond, long timeout_ms)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND (%s) LIMIT 1", cond);
    long deadline = now_ms() + timeout_ms;
    do {
        long pid = admin_long(admin, sql, app);
        if (pid > 0)
            return pid;
        sleep_ms(10);
    } while (now_ms() < deadline);
    return -1;
}

/* Terminates pid and waits until it is gone; returns 0 when it went. */
static int
admin_terminate(PGconn *admin, long pid)
{
    char p[32];
    snprintf(p, sizeof p, "%ld", pid);
    if (admin_long(admin, "SELECT pg_terminate_backend($1::int)::int", p) != 1)
        return -1;
    for (int i = 0; i < 1000; i++) {
        if (admin_long(admin, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1::int", p) == 0)
            return 0;
        sleep_ms(10);
    }
    return -1;
}

/* Waits until no backend of application_name app exists; returns 0, or -1 after timeout. */
static int
admin_wait_gone(PGconn *admin, const char *app, long timeout_ms)
{
    long deadline = now_ms() + timeout_ms;
    do {
        if (admin_long(admin, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                       app) == 0)
            return 0;
        sleep_ms(20);
    } while (now_ms() < deadline);
    return -1;
}

/* ---- bystander --------------------------------------------------------------------------- */

/* One N+1 loop over fault_ref -> fault_item; returns the number of wrong answers. */
static int
nplus1_loop(PGconn *c, long *lookups, int *errors)
{
    int wrong = 0;
    PGresult *src = PQexec(c, "SELECT id, item_id FROM fault_ref ORDER BY id");
    if (PQresultStatus(src) != PGRES_TUPLES_OK) {
        fprintf(stderr, "bystander: source failed: %s", PQresultErrorMessage(src));
        PQclear(src);
        (*errors)++;
        return 0;
    }
    for (int i = 0; i < PQntuples(src); i++) {
        const char *key = PQgetvalue(src, i, 1);
        const char *params[1] = {key};
        PGresult *r = PQexecParams(c, "SELECT id, label FROM fault_item WHERE id = $1", 1, NULL,
                                   params, NULL, NULL, 0);
        char want[64];
        snprintf(want, sizeof want, "item %s", key);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            fprintf(stderr, "bystander: lookup %s failed: %s", key, PQresultErrorMessage(r));
            (*errors)++;
        } else if (PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, 0), key) != 0 ||
                   strcmp(PQgetvalue(r, 0, 1), want) != 0) {
            fprintf(stderr, "bystander: WRONG answer for key %s\n", key);
            wrong++;
        }
        (*lookups)++;
        PQclear(r);
        if (PQstatus(c) != CONNECTION_OK)
            break;
    }
    PQclear(src);
    return wrong;
}

static int
cmd_bystander(const char *conninfo, const char *stopfile)
{
    PGconn *c = connect_or_die(conninfo, "fault_bystander");
    long iters = 0, lookups = 0;
    int wrong = 0, errors = 0;
    while (!file_exists(stopfile) && PQstatus(c) == CONNECTION_OK) {
        char p[32], want[32];
        snprintf(p, sizeof p, "%ld", iters);
        snprintf(want, sizeof want, "%ld", iters * 2 + 1);
        const char *params[1] = {p};
        PGresult *r = PQexecParams(c, "SELECT $1::int8 * 2 + 1", 1, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            fprintf(stderr, "bystander: query failed: %s", PQresultErrorMessage(r));
            errors++;
        } else if (strcmp(PQgetvalue(r, 0, 0), want) != 0) {
            fprintf(stderr, "bystander: WRONG answer %s, want %s\n", PQgetvalue(r, 0, 0), want);
            wrong++;
        }
        PQclear(r);
        r = PQexec(c, "SELECT count(*), sum(g) FROM generate_series(1, 1000) g");
        if (PQresultStatus(r) != PGRES_TUPLES_OK || strcmp(PQgetvalue(r, 0, 1), "500500") != 0) {
            fprintf(stderr, "bystander: simple query failed or wrong\n");
            errors++;
        }
        PQclear(r);
        wrong += nplus1_loop(c, &lookups, &errors);
        iters++;
        sleep_ms(5);
    }
    printf("bystander %s iterations=%s lookups=%s wrong=%d errors=%d connection=%s\n",
           wrong || errors || iters == 0 ? "FAILED" : "ok", iters > 0 ? ">0" : "0",
           lookups > 0 ? ">0" : "0", wrong, errors, conn_state(c));
    fprintf(stderr, "bystander: %ld iterations, %ld lookups\n", iters, lookups);
    int bad = wrong || errors || iters == 0 || PQstatus(c) != CONNECTION_OK;
    PQfinish(c);
    return bad;
}

/* ---- killed during COPY ------------------------------------------------------------------ */

static int
cmd_kill_copyin(const char *conninfo, const char *admin_ci)
{
    PGconn *admin = connect_or_die(admin_ci, "fault_admin");
    PGconn *c = connect_or_die(conninfo, "fault_copyin");
    PGresult *r = PQexec(c, "CREATE TEMP TABLE cpin (id int, txt text)");
    print_result("[create] ", r);
    PQclear(r);
    r = PQexec(c, "COPY cpin FROM STDIN");
    print_result("[copy] ", r);
    PQclear(r);
    char line[64];
    int sent = 0;
    for (int i = 1; i <= 1000; i++) {
        int n = snprintf(line, sizeof line, "%d\trow %d\n", i, i);
        if (PQputCopyData(c, line, n) == 1)
            sent++;
    }
    PQflush(c);
    printf("[copy] sent %d rows before the kill\n", sent);
    long pid = admin_wait_backend(admin, "fault_copyin", "query LIKE 'COPY%'", 10000);
    printf("[copy] backend in COPY: %s\n", pid > 0 ? "yes" : "no");
    if (pid <= 0 || admin_terminate(admin, pid) != 0) {
        printf("UNEXPECTED: could not terminate the backend\n");
        return 1;
    }
    printf("[copy] backend terminated\n");
    /* Let the FATAL and the close arrive before writing more, so the client reads them
     * first whichever way (a write to a closed socket can make the kernel drop them). */
    sleep_ms(300);
    PQconsumeInput(c);
    int more = 0;
    for (int i = 1001; i <= 2000; i++) {
        int n = snprintf(line, sizeof line, "%d\trow %d\n", i, i);
        if (PQputCopyData(c, line, n) != 1)
            break;
        more++;
    }
    /* Whether libpq still buffers rows, and whether its final write fails, depends on when it
     * notices the close: stderr. So do the errors libpq makes up itself (no SQLSTATE). */
    int end = PQputCopyEnd(c, NULL);
    fprintf(stderr, "copyin: %d more rows accepted, PQputCopyEnd=%d\n", more, end);
    PGresult *r2;
    while ((r2 = PQgetResult(c)) != NULL) {
        if (PQresultErrorField(r2, PG_DIAG_SQLSTATE) || PQresultStatus(r2) != PGRES_FATAL_ERROR)
            print_result("[copy result] ", r2);
        else
            fprintf(stderr, "copyin: libpq: %s", PQresultErrorMessage(r2));
        PQclear(r2);
    }
    printf("[copy] connection=%s\n", conn_state(c));
    PQfinish(c);
    PQfinish(admin);
    return 0;
}

static int
cmd_kill_copyout(const char *conninfo, const char *admin_ci)
{
    PGconn *admin = connect_or_die(admin_ci, "fault_admin");
    PGconn *c = connect_or_die(conninfo, "fault_copyout");
    /* Rows come at once, then slowly: the kill lands while the backend sleeps mid-COPY. */
    if (!PQsendQuery(
            c, "COPY (SELECT g, repeat('x', 100), "
               "CASE WHEN g > 2000 THEN pg_sleep(0.05) END FROM generate_series(1, 100000) g) "
               "TO STDOUT")) {
        fprintf(stderr, "send failed: %s", PQerrorMessage(c));
        return 1;
    }
    PGresult *r = PQgetResult(c);
    print_result("[copy] ", r);
    PQclear(r);
    long rows = 0;
    char *buf;
    int n;
    bool killed = false;
    while ((n = PQgetCopyData(c, &buf, 0)) > 0) {
        rows++;
        PQfreemem(buf);
        if (rows == 1000 && !killed) {
            long pid = admin_wait_backend(admin, "fault_copyout", "wait_event = 'PgSleep'", 10000);
            printf("[copy] backend sleeping mid-COPY: %s\n", pid > 0 ? "yes" : "no");
            if (pid <= 0 || admin_terminate(admin, pid) != 0) {
                printf("UNEXPECTED: could not terminate the backend\n");
                return 1;
            }
            printf("[copy] backend terminated after %s rows were read\n", ">=1000");
            killed = true;
        }
    }
    printf("[copy] PQgetCopyData=%d rows read %s\n", n, rows >= 2000 ? ">=2000" : "<2000");
    fprintf(stderr, "copyout: %ld rows read\n", rows);
    drain_results(c, "[copy result] ");
    printf("[copy] connection=%s\n", conn_state(c));
    PQfinish(c);
    PQfinish(admin);
    return 0;
}

/* ---- killed during a pipelined group ----------------------------------------------------- */

static int
cmd_kill_pipeline(const char *conninfo, const char *admin_ci)
{
    PGconn *admin = connect_or_die(admin_ci, "fault_admin");
    PGconn *c = connect_or_die(conninfo, "fault_pipeline");
    const char *p7[] = {"7"};
    if (!PQenterPipelineMode(c))
        return 1;
    /* Group 1 completes; group 2 is killed in its second query; group 3 never runs. */
    if (!PQsendQueryParams(c, "SELECT $1::int * 6", 1, NULL, p7, NULL, NULL, 0) ||
        !PQpipelineSync(c) ||
        !PQsendQueryParams(c, "SELECT 'group 2 first'", 0, NULL, NULL, NULL, NULL, 0) ||
        !PQsendQueryParams(c, "SELECT pg_sleep(60)", 0, NULL, NULL, NULL, NULL, 0) ||
        !PQsendQueryParams(c, "SELECT 'group 2 third'", 0, NULL, NULL, NULL, NULL, 0) ||
        !PQpipelineSync(c) ||
        !PQsendQueryParams(c, "SELECT 'group 3'", 0, NULL, NULL, NULL, NULL, 0) ||
        !PQpipelineSync(c) || PQflush(c) < 0) {
        fprintf(stderr, "send failed: %s", PQerrorMessage(c));
        return 1;
    }
    /* Group 1 (group 2's first result stays in the server's buffer until its Sync). */
    int nulls = 0;
    for (;;) {
        PGresult *r = PQgetResult(c);
        if (!r) {
            if (++nulls > 3)
                break;
            continue;
        }
        print_result("[before kill] ", r);
        bool sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
        PQclear(r);
        if (sync)
            break;
    }
    long pid = admin_wait_backend(admin, "fault_pipeline", "wait_event = 'PgSleep'", 10000);
    printf("[pipeline] backend in pg_sleep: %s\n", pid > 0 ? "yes" : "no");
    if (pid <= 0 || admin_terminate(admin, pid) != 0) {
        printf("UNEXPECTED: could not terminate the backend\n");
        return 1;
    }
    /* Everything after: results until libpq has nothing more (two NULLs in a row, or 20). */
    nulls = 0;
    for (int i = 0; i < 20 && nulls < 2; i++) {
        PGresult *r = PQgetResult(c);
        if (!r) {
            printf("[after kill] (end of query)\n");
            nulls++;
            continue;
        }
        nulls = 0;
        print_result("[after kill] ", r);
        PQclear(r);
    }
    printf("[pipeline] connection=%s\n", conn_state(c));
    PQfinish(c);
    PQfinish(admin);
    return 0;
}

/* ---- killed during a fold batch ---------------------------------------------------------- */

static int
cmd_kill_batch(const char *conninfo, const char *admin_ci, const char *mode)
{
    PGconn *admin = connect_or_die(admin_ci, "fault_admin");
    PGconn *c = connect_or_die(conninfo, "fault_batch");
    PGconn *bystander = connect_or_die(conninfo, "fault_bystander2");
    bool tx = strcmp(mode, "tx") == 0;
    if (tx) {
        PGresult *r = PQexec(c, "BEGIN");
        print_result("[begin] ", r);
        PQclear(r);
    }
    /* A bystander mid-statement while the victim dies: its query must finish normally. */
    if (!PQsendQuery(bystander, "SELECT pg_sleep(0.5), 'bystander done'")) {
        fprintf(stderr, "send failed: %s", PQerrorMessage(bystander));
        return 1;
    }
    PGresult *src =
        PQexec(c, "SELECT id, slowv_id FROM fault_slowref WHERE grp = 'long' ORDER BY id");
    print_result("[source] ", src);
    if (PQresultStatus(src) != PGRES_TUPLES_OK)
        return 1;
    const char *params[1] = {PQgetvalue(src, 0, 1)};
    if (!PQsendQueryParams(c, "SELECT id, label, one FROM fault_slowv WHERE id = $1", 1, NULL,
                           params, NULL, NULL, 0)) {
        fprintf(stderr, "send failed: %s", PQerrorMessage(c));
        return 1;
    }
    PQclear(src);
    long pid = admin_wait_backend(admin, "fault_batch",
                                  "query LIKE '%ORDINALITY%' AND wait_event = 'PgSleep'", 10000);
    printf("[batch] the batch is running: %s\n", pid > 0 ? "yes" : "no");
    if (pid <= 0 || admin_terminate(admin, pid) != 0) {
        printf("UNEXPECTED: could not terminate the backend\n");
        drain_results(c, "[lookup] ");
        return 1;
    }
    drain_results(c, "[lookup] ");
    printf("[batch] connection=%s\n", conn_state(c));
    drain_results(bystander, "[bystander] ");
    PGresult *r = PQexec(bystander, "SELECT 'bystander still usable'");
    print_result("[bystander] ", r);
    PQclear(r);
    PQfinish(bystander);
    PQfinish(c);
    PQfinish(admin);
    return 0;
}

/* ---- PostgreSQL restarted under open sessions -------------------------------------------- */

static int
cmd_restart(const char *conninfo, const char *readyfile, const char *gofile)
{
    PGconn *idle = connect_or_die(conninfo, "fault_restart");
    PGconn *intx = connect_or_die(conninfo, "fault_restart");
    PGconn *busy = connect_or_die(conninfo, "fault_restart");
    PGconn *loop = connect_or_die(conninfo, "fault_restart");
    PGresult *r;
    long lookups = 0;
    int errors = 0;

    r = PQexec(intx, "BEGIN");
    PQclear(r);
    r = PQexec(intx, "SELECT count(*) FROM fault_item");
    print_result("[in tx] ", r);
    PQclear(r);
    /* A folded loop, so the session has key sources and cached answers. */
    printf("[loop] wrong=%d\n", nplus1_loop(loop, &lookups, &errors));
    printf("[loop] errors=%d\n", errors);
    if (!PQsendQuery(busy, "SELECT pg_sleep(60)")) {
        fprintf(stderr, "send failed: %s", PQerrorMessage(busy));
        return 1;
    }
    FILE *f = fopen(readyfile, "w");
    if (!f)
        return 1;
    fclose(f);
    for (int i = 0; i < 600 && !file_exists(gofile); i++)
        sleep_ms(100);
    if (!file_exists(gofile)) {
        printf("UNEXPECTED: no go file\n");
        return 1;
    }
    drain_results(busy, "[busy] ");
    printf("[busy] connection=%s\n", conn_state(busy));
    PGconn *olds[] = {idle, intx, loop};
    const char *names[] = {"[idle] ", "[in tx] ", "[loop] "};
    for (int i = 0; i < 3; i++) {
        r = PQexec(olds[i], "SELECT 1");
        print_result(names[i], r);
        PQclear(r);
        drain_results(olds[i], names[i]);
        printf("%sconnection=%s\n", names[i], conn_state(olds[i]));
        PQfinish(olds[i]);
    }
    PQfinish(busy);
    /* New sessions work (PostgreSQL is back; pgfold reconnects per session). */
    int newok = 0;
    for (int i = 0; i < 5; i++) {
        PGconn *c = connect_app(conninfo, "fault_restart_new");
        if (PQstatus(c) == CONNECTION_OK) {
            lookups = 0;
            errors = 0;
            int wrong = nplus1_loop(c, &lookups, &errors);
            if (!wrong && !errors && lookups > 0)
                newok++;
            else
                printf("[new] session %d: wrong=%d errors=%d\n", i, wrong, errors);
        } else {
            printf("[new] session %d: connection failed: ", i);
            print_line1(PQerrorMessage(c));
            putchar('\n');
        }
        PQfinish(c);
    }
    printf("[new] %d of 5 new sessions ran an N+1 loop correctly\n", newok);
    return newok == 5 ? 0 : 1;
}

/* ---- a client that goes away ------------------------------------------------------------- */

static long
rss_kb(long pid)
{
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/*
 * The victim, in a child process: sends its query, reads `readrows` rows (single-row mode),
 * then tells the parent (one byte on the pipe) and waits to be killed. It never calls
 * PQfinish: its socket is closed by the kernel when it dies, with unread data (an RST).
 */
static void
victim_child(const char *conninfo, const char *what, int wfd)
{
    PGconn *c = connect_app(conninfo, "fault_gone");
    if (PQstatus(c) != CONNECTION_OK)
        _exit(3);
    if (strcmp(what, "midbatch") == 0) {
        PGresult *src =
            PQexec(c, "SELECT id, slowv_id FROM fault_slowref WHERE grp = 'short' ORDER BY id");
        if (PQresultStatus(src) != PGRES_TUPLES_OK)
            _exit(4);
        const char *params[1] = {PQgetvalue(src, 0, 1)};
        if (!PQsendQueryParams(c, "SELECT id, label, one FROM fault_slowv WHERE id = $1", 1, NULL,
                               params, NULL, NULL, 0))
            _exit(4);
    } else {
        if (!PQsendQuery(c, "SELECT g, repeat('x', 1000) FROM generate_series(1, 100000) g") ||
            !PQsetSingleRowMode(c))
            _exit(4);
        if (strcmp(what, "midresult") == 0) {
            for (int i = 0; i < 2000; i++) {
                PGresult *r = PQgetResult(c);
                if (!r || PQresultStatus(r) != PGRES_SINGLE_TUPLE)
                    _exit(5);
                PQclear(r);
            }
        }
    }
    if (write(wfd, "x", 1) != 1)
        _exit(6);
    for (;;)
        pause();
}

static int
cmd_gone(const char *conninfo, const char *admin_ci, const char *what, long pid, long limit_kb,
         long seconds)
{
    PGconn *admin = connect_or_die(admin_ci, "fault_admin");
    int fds[2];
    if (pipe(fds) != 0)
        return 1;
    fflush(stdout);
    pid_t child = fork();
    if (child < 0)
        return 1;
    if (child == 0) {
        close(fds[0]);
        victim_child(conninfo, what, fds[1]);
        _exit(0);
    }
    close(fds[1]);
    char ch;
    if (read(fds[0], &ch, 1) != 1) {
        int st;
        waitpid(child, &st, 0);
        printf("UNEXPECTED: the victim failed (status %d)\n", WEXITSTATUS(st));
        return 1;
    }
    close(fds[0]);
    const char *cond = strcmp(what, "midbatch") == 0
                           ? "query LIKE '%ORDINALITY%' AND wait_event = 'PgSleep'"
                           : "state = 'active'";
    long bpid = admin_wait_backend(admin, "fault_gone", cond, 10000);
    printf("[%s] backend busy with the victim's query: %s\n", what, bpid > 0 ? "yes" : "no");
    long max_kb = 0, base_kb = pid > 0 ? rss_kb(pid) : 0, samples = 0;
    if (pid > 0) {
        long deadline = now_ms() + seconds * 1000;
        while (now_ms() < deadline) {
            long kb = rss_kb(pid);
            if (kb > max_kb)
                max_kb = kb;
            samples++;
            sleep_ms(20);
        }
        /* The server should be blocked writing to pgfold, which stopped reading from it. */
        long blocked = admin_wait_backend(admin, "fault_gone", "wait_event = 'ClientWrite'", 5000);
        printf("[%s] backend blocked writing (backpressure): %s\n", what,
               blocked > 0 ? "yes" : "no");
    }
    kill(child, SIGKILL);
    int st;
    waitpid(child, &st, 0);
    long t0 = now_ms();
    int gone = admin_wait_gone(admin, "fault_gone", 15000);
    printf("[%s] backend ended after the client went away: %s\n", what, gone == 0 ? "yes" : "no");
    fprintf(stderr, "gone %s: backend ended %ld ms after the client died\n", what, now_ms() - t0);
    int rc = gone == 0 && bpid > 0 ? 0 : 1;
    if (pid > 0) {
        bool under = max_kb > 0 && max_kb < limit_kb;
        printf("[%s] pgfold RSS under %ld MB while the client did not read: %s\n", what,
               limit_kb / 1024, under ? "yes" : "no");
        printf("# pgfold RSS: start %ld MB, max %ld MB, %ld samples\n", base_kb / 1024,
               max_kb / 1024, samples);
        if (!under)
            rc = 1;
    }
    PQfinish(admin);
    return rc;
}

/* ---- local answers nobody reads ---------------------------------------------------------- */

#define FLOOD_N 20000
#define FLOOD_SQL "SELECT id, payload FROM fault_big WHERE id = $1"

static int
cmd_localflood(const char *conninfo, long pid, long limit_kb)
{
    PGconn *c = connect_or_die(conninfo, "fault_flood");
    const char *params[1] = {"3"};
    PGresult *r = PQexecParams(c, FLOOD_SQL, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        print_result("[first] ", r);
        return 1;
    }
    char *want = strdup(PQgetvalue(r, 0, 1));
    PQclear(r);
    /* Non-blocking, as libpq asks of pipelining clients: both ends may stop reading. */
    if (PQsetnonblocking(c, 1) != 0 || !PQenterPipelineMode(c))
        return 1;
    for (int i = 0; i < FLOOD_N; i++)
        if (!PQsendQueryParams(c, FLOOD_SQL, 1, NULL, params, NULL, NULL, 0) ||
            !PQpipelineSync(c)) {
            fprintf(stderr, "send failed: %s", PQerrorMessage(c));
            return 1;
        }
    long max_kb = 0, base_kb = pid > 0 ? rss_kb(pid) : 0;
    long deadline = now_ms() + 2000;
    while (now_ms() < deadline) {
        if (PQflush(c) < 0)
            return 1;
        long kb = pid > 0 ? rss_kb(pid) : 0;
        if (kb > max_kb)
            max_kb = kb;
        sleep_ms(20);
    }
    long answers = 0, wrong = 0, syncs = 0, other = 0;
    int sock = PQsocket(c);
    deadline = now_ms() + 60000;
    while (syncs < FLOOD_N && now_ms() < deadline) {
        int fl = PQflush(c);
        if (fl < 0 || !PQconsumeInput(c))
            break;
        while (!PQisBusy(c)) {
            r = PQgetResult(c);
            if (!r)
                continue; /* end of one query's results */
            ExecStatusType st = PQresultStatus(r);
            if (st == PGRES_PIPELINE_SYNC)
                syncs++;
            else if (st == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
                     strcmp(PQgetvalue(r, 0, 0), "3") == 0 &&
                     strcmp(PQgetvalue(r, 0, 1), want) == 0)
                answers++;
            else if (st == PGRES_TUPLES_OK)
                wrong++;
            else {
                if (other++ == 0)
                    print_result("[unexpected] ", r);
            }
            PQclear(r);
            if (syncs == FLOOD_N)
                break;
        }
        if (syncs == FLOOD_N)
            break;
        fd_set rf, wf;
        FD_ZERO(&rf);
        FD_ZERO(&wf);
        FD_SET(sock, &rf);
        if (fl > 0)
            FD_SET(sock, &wf);
        struct timeval tv = {0, 100000};
        select(sock + 1, &rf, &wf, NULL, &tv);
    }
    bool under = pid <= 0 || (max_kb > 0 && max_kb < limit_kb);
    printf("localflood answers=%ld of %d wrong=%ld other=%ld syncs=%ld\n", answers, FLOOD_N, wrong,
           other, syncs);
    if (pid > 0) {
        printf("localflood pgfold RSS under %ld MB while nothing was read: %s\n", limit_kb / 1024,
               under ? "yes" : "no");
        printf("# pgfold RSS: start %ld MB, max %ld MB\n", base_kb / 1024, max_kb / 1024);
    }
    free(want);
    PQfinish(c);
    return answers == FLOOD_N && !wrong && !other && under ? 0 : 1;
}

/* ---- churn ------------------------------------------------------------------------------- */

struct churn {
    const char *conninfo;
    atomic_long next;
    long total;
    atomic_long ok, rejected, failed, wrong, abrupt;
};

static void *
churn_thread(void *arg)
{
    struct churn *ch = arg;
    long i;
    while ((i = atomic_fetch_add(&ch->next, 1)) < ch->total) {
        PGconn *c = connect_app(ch->conninfo, "fault_churn");
        if (PQstatus(c) != CONNECTION_OK) {
            if (strstr(PQerrorMessage(c), "too many clients"))
                atomic_fetch_add(&ch->rejected, 1);
            else {
                fprintf(stderr, "churn: connect failed: %s", PQerrorMessage(c));
                atomic_fetch_add(&ch->failed, 1);
            }
            PQfinish(c);
            continue;
        }
        char p[32], want[32];
        snprintf(p, sizeof p, "%ld", i);
        snprintf(want, sizeof want, "%ld", i * 3);
        const char *params[1] = {p};
        switch (i % 4) {
        case 0:
        case 1: {
            PGresult *r =
                i % 4 == 0 ? PQexecParams(c, "SELECT $1::int8 * 3", 1, NULL, params, NULL, NULL, 0)
                           : NULL;
            if (!r) {
                char sql[64];
                snprintf(sql, sizeof sql, "SELECT %ld * 3", i);
                r = PQexec(c, sql);
            }
            if (PQresultStatus(r) != PGRES_TUPLES_OK) {
                fprintf(stderr, "churn: query failed: %s", PQresultErrorMessage(r));
                atomic_fetch_add(&ch->failed, 1);
            } else if (strcmp(PQgetvalue(r, 0, 0), want) != 0) {
                atomic_fetch_add(&ch->wrong, 1);
            } else {
                atomic_fetch_add(&ch->ok, 1);
            }
            PQclear(r);
            break;
        }
        case 2:
            /* Abrupt: a query in flight, the socket shut down without Terminate. */
            PQsendQuery(c, "SELECT pg_sleep(0.05)");
            PQflush(c);
            shutdown(PQsocket(c), SHUT_RDWR);
            atomic_fetch_add(&ch->abrupt, 1);
            break;
        case 3:
            /* Abrupt while idle, right after connecting. */
            shutdown(PQsocket(c), SHUT_RDWR);
            atomic_fetch_add(&ch->abrupt, 1);
            break;
        }
        PQfinish(c);
    }
    return NULL;
}

static int
cmd_churn(const char *conninfo, long total, int conc)
{
    struct churn ch = {.conninfo = conninfo, .total = total};
    pthread_t th[256];
    if (conc < 1 || conc > 256)
        return 2;
    for (int i = 0; i < conc; i++)
        if (pthread_create(&th[i], NULL, churn_thread, &ch) != 0)
            return 1;
    for (int i = 0; i < conc; i++)
        pthread_join(th[i], NULL);
    printf("churn sessions=%ld answered=%ld abrupt=%ld rejected=%ld failed=%ld wrong=%ld\n", total,
           atomic_load(&ch.ok), atomic_load(&ch.abrupt), atomic_load(&ch.rejected),
           atomic_load(&ch.failed), atomic_load(&ch.wrong));
    return atomic_load(&ch.failed) || atomic_load(&ch.wrong) ? 1 : 0;
}

/* ---- cancel racing local answers --------------------------------------------------------- */

struct canceller {
    PGcancel *cn;
    atomic_bool stop;
    atomic_long sent;
    unsigned seed;
};

static void
sleep_us(long us)
{
    struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* A cancel every 0-3 ms, whatever the session is doing. */
static void *
cancel_thread(void *arg)
{
    struct canceller *k = arg;
    char err[256];
    while (!atomic_load(&k->stop)) {
        sleep_us(rand_r(&k->seed) % 3000);
        if (PQcancel(k->cn, err, sizeof err))
            atomic_fetch_add(&k->sent, 1);
    }
    return NULL;
}

static void
quiet_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

struct race {
    long answers, cancelled, wrong, unexpected, loops, aborted_ok;
    bool tx_aborted; /* a 57014 hit our transaction: 25P02 is expected until ROLLBACK */
};

/* Classifies one result; returns 1 if it is a right answer, 0 if cancelled, -1 otherwise. */
static int
race_check(struct race *rc, PGresult *r, const char *want0, const char *want1, const char *what)
{
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        if (want0 && (PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, 0), want0) != 0 ||
                      (want1 && strcmp(PQgetvalue(r, 0, 1), want1) != 0))) {
            fprintf(stderr, "cancelrace: WRONG answer to %s: %s\n", what,
                    PQntuples(r) ? PQgetvalue(r, 0, 0) : "(no rows)");
            rc->wrong++;
            return -1;
        }
        rc->answers++;
        return 1;
    }
    const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (code && strcmp(code, "57014") == 0) {
        rc->cancelled++;
        return 0;
    }
    if (code && strcmp(code, "25P02") == 0 && rc->tx_aborted) {
        rc->aborted_ok++;
        return 0;
    }
    fprintf(stderr, "cancelrace: unexpected result to %s: %s %s", what, PQresStatus(st),
            PQresultErrorMessage(r));
    rc->unexpected++;
    return -1;
}

/* Runs sql until it succeeds (cancels may hit it too); returns false if it never does. */
static bool
race_recover(PGconn *c, struct race *rc, const char *sql)
{
    for (int i = 0; i < 50; i++) {
        PGresult *r = PQexec(c, sql);
        int v = race_check(rc, r, NULL, NULL, sql);
        PQclear(r);
        if (v == 1)
            return true;
        if (v < 0 || PQstatus(c) != CONNECTION_OK)
            return false;
    }
    return false;
}

static int
cmd_cancelrace(const char *conninfo, const char *mode, long ms)
{
    PGconn *c = connect_or_die(conninfo, "fault_cancelrace");
    PQsetNoticeProcessor(c, quiet_notice, NULL);
    bool tx = strcmp(mode, "tx") == 0;
    struct canceller k = {.cn = PQgetCancel(c), .seed = (unsigned)getpid()};
    struct race rc = {0};
    pthread_t th;
    if (!k.cn || pthread_create(&th, NULL, cancel_thread, &k) != 0)
        return 1;
    long deadline = now_ms() + ms;
    while (now_ms() < deadline && PQstatus(c) == CONNECTION_OK && !rc.wrong && !rc.unexpected) {
        rc.loops++;
        if (tx && !race_recover(c, &rc, "BEGIN"))
            break;
        rc.tx_aborted = false;
        PGresult *src = PQexec(c, "SELECT id, item_id FROM fault_ref ORDER BY id");
        int v = race_check(&rc, src, NULL, NULL, "source");
        if (v == 1) {
            for (int i = 0; i < PQntuples(src); i++) {
                const char *key = PQgetvalue(src, i, 1);
                const char *params[1] = {key};
                char want[64];
                snprintf(want, sizeof want, "item %s", key);
                PGresult *r = PQexecParams(c, "SELECT id, label FROM fault_item WHERE id = $1", 1,
                                           NULL, params, NULL, NULL, 0);
                v = race_check(&rc, r, key, want, "lookup");
                PQclear(r);
                if (v == 0 && tx)
                    rc.tx_aborted = true;
                if (v < 0 || rc.tx_aborted)
                    break;
                /* After a cancel, the next statement must work (or be cancelled too). */
                if (v == 0 && !tx && !race_recover(c, &rc, "SELECT 'alive'"))
                    break;
            }
        } else if (v == 0 && tx) {
            rc.tx_aborted = true;
        }
        PQclear(src);
        if (rc.wrong || rc.unexpected)
            break;
        if (tx) {
            /* COMMIT of an aborted block reports ROLLBACK; a cancel can hit it too. */
            if (!race_recover(c, &rc, rc.tx_aborted ? "ROLLBACK" : "COMMIT"))
                break;
            rc.tx_aborted = false;
        }
    }
    atomic_store(&k.stop, true);
    pthread_join(th, NULL);
    PQfreeCancel(k.cn);
    /* Stray cancels may still be on their way: the session must come back to a clean state. */
    sleep_ms(50);
    rc.tx_aborted = true;
    bool alive =
        (!tx || race_recover(c, &rc, "ROLLBACK")) && race_recover(c, &rc, "SELECT 'final'");
    printf("cancelrace %s: wrong=%ld unexpected=%ld usable_at_end=%s\n", mode, rc.wrong,
           rc.unexpected, alive ? "yes" : "no");
    printf("# loops=%ld answers=%ld cancelled=%ld aborted_in_tx=%ld cancels_sent=%ld\n", rc.loops,
           rc.answers, rc.cancelled, rc.aborted_ok, atomic_load(&k.sent));
    PQfinish(c);
    return rc.wrong || rc.unexpected || !alive ? 1 : 0;
}

/* ------------------------------------------------------------------------------------------ */

static void
usage(void)
{
    fputs(
        "usage: faultclient bystander CONNINFO STOPFILE\n"
        "       faultclient kill-copyin|kill-copyout|kill-pipeline CONNINFO ADMIN\n"
        "       faultclient kill-batch CONNINFO ADMIN autocommit|tx\n"
        "       faultclient restart CONNINFO READYFILE GOFILE\n"
        "       faultclient gone CONNINFO ADMIN midresult|noread|midbatch [PID LIMIT_KB SECONDS]\n"
        "       faultclient localflood CONNINFO PID LIMIT_KB\n"
        "       faultclient churn CONNINFO TOTAL CONCURRENCY\n"
        "       faultclient cancelrace CONNINFO autocommit|tx MILLISECONDS\n",
        stderr);
}

int
main(int argc, char **argv)
{
    if (argc < 3) {
        usage();
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    const char *cmd = argv[1], *ci = argv[2];
    if (strcmp(cmd, "bystander") == 0 && argc == 4)
        return cmd_bystander(ci, argv[3]);
    if (strcmp(cmd, "kill-copyin") == 0 && argc == 4)
        return cmd_kill_copyin(ci, argv[3]);
    if (strcmp(cmd, "kill-copyout") == 0 && argc == 4)
        return cmd_kill_copyout(ci, argv[3]);
    if (strcmp(cmd, "kill-pipeline") == 0 && argc == 4)
        return cmd_kill_pipeline(ci, argv[3]);
    if (strcmp(cmd, "kill-batch") == 0 && argc == 5)
        return cmd_kill_batch(ci, argv[3], argv[4]);
    if (strcmp(cmd, "restart") == 0 && argc == 5)
        return cmd_restart(ci, argv[3], argv[4]);
    if (strcmp(cmd, "gone") == 0 && (argc == 5 || argc == 8))
        return cmd_gone(ci, argv[3], argv[4], argc == 8 ? atol(argv[5]) : 0,
                        argc == 8 ? atol(argv[6]) : 0, argc == 8 ? atol(argv[7]) : 0);
    if (strcmp(cmd, "localflood") == 0 && argc == 5)
        return cmd_localflood(ci, atol(argv[3]), atol(argv[4]));
    if (strcmp(cmd, "churn") == 0 && argc == 5)
        return cmd_churn(ci, atol(argv[3]), atoi(argv[4]));
    if (strcmp(cmd, "cancelrace") == 0 && argc == 5)
        return cmd_cancelrace(ci, argv[3], atol(argv[4]));
    usage();
    return 2;
}
