/*
 * load: faults of the clients: one that goes away mid-result or never reads, local answers
 * nobody reads, connection churn, cancels racing local answers. See faultclient.c.
 */
#include "tests/tools/fault/fault.h"

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

int
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

int
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

int
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

int
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

