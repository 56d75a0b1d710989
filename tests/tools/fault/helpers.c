/*
 * helpers: libpq connections, printing results in a form that does not depend on timing,
 * and the admin connection that finds and terminates backends. See fault.h.
 */
#include "tests/tools/fault/fault.h"

/* ---- helpers ----------------------------------------------------------------------------- */

void
sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

long
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool
file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

PGconn *
connect_app(const char *conninfo, const char *app)
{
    const char *keys[] = {"dbname", "application_name", NULL};
    const char *vals[] = {conninfo, app, NULL};
    return PQconnectdbParams(keys, vals, 1);
}

PGconn *
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
void
print_line1(const char *s)
{
    if (!s)
        s = "";
    size_t n = strcspn(s, "\n");
    fwrite(s, 1, n, stdout);
}

/* One result, compactly: status, then sqlstate and primary message for errors. */
void
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
int
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

const char *
conn_state(PGconn *c)
{
    return PQstatus(c) == CONNECTION_OK ? "ok" : "bad";
}

/* Runs sql (no parameters) on the admin connection and returns the first value as a long. */
long
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
long
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
int
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
int
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

