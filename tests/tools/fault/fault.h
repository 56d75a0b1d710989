/*
 * fault: what the parts of faultclient share (tests/tools/faultclient.c has the usage): the
 * libpq helpers (fault/helpers.c), the subcommands that kill a backend or restart PostgreSQL
 * under a session (fault/kill.c), and those that load pgfold itself: clients that vanish or
 * never read, connection churn, cancels racing local answers (fault/load.c).
 */
#ifndef PGFOLD_TESTS_FAULT_H
#define PGFOLD_TESTS_FAULT_H

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

/* helpers.c */
void sleep_ms(long ms);
long now_ms(void);
bool file_exists(const char *path);
PGconn *connect_app(const char *conninfo, const char *app);
PGconn *connect_or_die(const char *conninfo, const char *app);
void print_line1(const char *s);
void print_result(const char *prefix, const PGresult *r);
int drain_results(PGconn *c, const char *prefix);
const char *conn_state(PGconn *c);
long admin_long(PGconn *admin, const char *sql, const char *param);
long admin_wait_backend(PGconn *admin, const char *app, const char *cond, long timeout_ms);
int admin_terminate(PGconn *admin, long pid);
int admin_wait_gone(PGconn *admin, const char *app, long timeout_ms);

/* kill.c, load.c: the subcommands; each returns the process's exit status */
int cmd_bystander(const char *conninfo, const char *stopfile);
int cmd_kill_copyin(const char *conninfo, const char *admin_ci);
int cmd_kill_copyout(const char *conninfo, const char *admin_ci);
int cmd_kill_pipeline(const char *conninfo, const char *admin_ci);
int cmd_kill_batch(const char *conninfo, const char *admin_ci, const char *mode);
int cmd_restart(const char *conninfo, const char *readyfile, const char *gofile);
int cmd_gone(const char *conninfo, const char *admin_ci, const char *what, long pid, long limit_kb, long seconds);
int cmd_localflood(const char *conninfo, long pid, long limit_kb);
int cmd_churn(const char *conninfo, long total, int conc);
int cmd_cancelrace(const char *conninfo, const char *mode, long ms);

#endif
