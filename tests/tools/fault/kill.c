/*
 * kill: faults of the upstream under a session: backends terminated during COPY, a pipelined
 * group, a fold batch; PostgreSQL restarted under open sessions; and the bystander that checks
 * its own answers throughout. See faultclient.c for the subcommands.
 */
#include "tests/tools/fault/fault.h"

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

int
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

int
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

int
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

int
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

int
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

int
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

