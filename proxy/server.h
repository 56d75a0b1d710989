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
#include "proxy/stats.h"

struct worker;
struct tls_ctx;

struct server_stats {
    atomic_uint_fast64_t client_conns;    /* open client connections (gauge) */
    atomic_uint_fast64_t accepted_total;
    atomic_uint_fast64_t rejected_total;  /* over max_client_conn */
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
    struct fresh fresh; /* the write clock every session's answers are checked against */
    struct tls_ctx *tls_server; /* towards clients; NULL = SSLRequest answered 'N' */
    struct tls_ctx *tls_client; /* towards the upstream; NULL = plain (sslmode disable/allow) */
};

#endif
