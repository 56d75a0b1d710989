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
#include "tests/tools/fault/fault.h"

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

