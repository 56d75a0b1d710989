/*
 * server: process-wide state shared by the main thread and the workers.
 *
 * The main thread owns the listeners, the signals and the master copy of the config; each
 * worker owns a loop, its connections and its own copy of the config (so a reload never
 * changes settings under a running callback). Only the atomics below are touched by more than
 * one thread.
 */
#ifndef PGFOLD_SERVER_H
#define PGFOLD_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "batcher/fresh.h"
#include "config/config.h"
#include "proxy/registry.h"
#include "proxy/stats.h"

struct worker;
struct tls_ctx;

struct server_stats {
    atomic_uint_fast64_t client_conns;    /* open client connections (gauge) */
    atomic_uint_fast64_t accepted_total;
    atomic_uint_fast64_t rejected_total;  /* refused by pgfold: max_client_conn, console access */
    atomic_uint_fast64_t login_failures_total;    /* the server (or the console) said no */
    atomic_uint_fast64_t upstream_failures_total; /* upstream connects that failed */
    atomic_uint_fast64_t client_msgs_total;
    atomic_uint_fast64_t server_msgs_total;
};

struct server {
    struct config cfg;
    char config_file[1024];
    int nworkers;
    struct worker *workers;
    atomic_uint_fast64_t next_session_id;
    struct server_stats stats;
    struct stats st; /* counters, histograms, patterns (admin port) */
    struct registry clients; /* every client connection, for SHOW CLIENTS */
    struct fresh fresh; /* the write clock every session's answers are checked against */
    struct tls_ctx *tls_server; /* towards clients; NULL = SSLRequest answered 'N' */
    struct tls_ctx *tls_client; /* towards the upstream; NULL = plain (sslmode disable/allow) */
};

/*
 * The process's own figures at now_ms (monotonic, the clock st.started_ms was read on), with
 * the mode of cfg (the caller's copy of the config).
 */
void server_snapshot(struct server *srv, const struct config *cfg, uint64_t now_ms,
                     struct stats_process *out);

#endif
