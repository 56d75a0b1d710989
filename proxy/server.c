/*
 * server: the one place that turns struct server's atomics into the figures every admin view
 * prints (/metrics, /stats, the HTML page, the console's SHOW STATS), so they cannot drift
 * apart. Read-only: any thread may call it.
 */
#include "proxy/server.h"

#include "proxy/version.h"

void
server_snapshot(struct server *srv, const struct config *cfg, uint64_t now_ms,
                struct stats_process *out)
{
    out->version = PGFOLD_VERSION_STRING;
    out->mode = config_mode_name(cfg->mode);
    out->observe = cfg->mode == MODE_OBSERVE;
    out->uptime_ms = now_ms > srv->st.started_ms ? now_ms - srv->st.started_ms : 0;
    out->workers = (uint64_t)srv->nworkers;
    out->client_conns = atomic_load(&srv->stats.client_conns);
    out->accepted = atomic_load(&srv->stats.accepted_total);
    out->rejected = atomic_load(&srv->stats.rejected_total);
    out->login_failures = atomic_load(&srv->stats.login_failures_total);
    out->upstream_failures = atomic_load(&srv->stats.upstream_failures_total);
}
