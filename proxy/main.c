/*
 * main: pgfold's process. Reads the config, opens the listeners, starts the workers, and runs
 * the main loop that accepts clients and handles signals.
 *
 * The main loop owns the listening sockets (polled with uv_poll, accepted with accept4) and
 * deals the accepted sockets round-robin to the workers. SIGHUP reloads the tunables from the
 * same file and flags; SIGTERM stops accepting and lets sessions finish within
 * shutdown_timeout_ms; SIGINT closes everything now. Exit codes: 0 after a shutdown, 1 when a
 * listener or worker cannot start, 2 for a bad configuration.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "config/config.h"
#include "proxy/admin.h"
#include "proxy/listener.h"
#include "proxy/log.h"
#include "proxy/patterns_diff.h"
#include "proxy/server.h"
#include "proxy/tls.h"
#include "proxy/version.h"
#include "proxy/worker.h"

#define PGFOLD_VERSION PGFOLD_VERSION_STRING

static struct {
    struct server srv;
    uv_loop_t *loop;
    struct listener listeners[LISTENER_MAX];
    uv_poll_t polls[LISTENER_MAX];
    int nlisteners;
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t watch; /* notices when every worker has finished */
    uv_timer_t accept_pause; /* out of file descriptors: accepting resumes from here */
    bool accept_paused;
    struct admin admin;
    int argc;
    char **argv;
    int next_worker;
    bool shutting_down;
} g;

static void on_accept(uv_poll_t *p, int status, int events);

static void
on_accept_resume(uv_timer_t *t)
{
    (void)t;
    g.accept_paused = false;
    for (int i = 0; i < g.nlisteners && !g.shutting_down; i++)
        uv_poll_start(&g.polls[i], UV_READABLE, on_accept);
}

/*
 * Out of file descriptors: the pending connection stays in the backlog and the poll would
 * fire again at once, so stop polling for a while instead of spinning (and log once).
 */
static void
pause_accepting(const struct listener *l)
{
    if (g.accept_paused)
        return;
    g.accept_paused = true;
    log_warn("accept on %s: %s; not accepting for 100 ms", l->name, strerror(errno));
    for (int i = 0; i < g.nlisteners; i++)
        uv_poll_stop(&g.polls[i]);
    uv_timer_start(&g.accept_pause, on_accept_resume, 100, 0);
}

static void
on_accept(uv_poll_t *p, int status, int events)
{
    (void)events;
    struct listener *l = p->data;
    if (status < 0)
        return;
    for (;;) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                pause_accepting(l);
            else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                log_warn("accept on %s: %s", l->name, strerror(errno));
            return;
        }
        worker_hand_off(&g.srv.workers[g.next_worker], fd, l->is_unix);
        g.next_worker = (g.next_worker + 1) % g.srv.nworkers;
    }
}

static void
close_listeners(void)
{
    uv_timer_stop(&g.accept_pause);
    for (int i = 0; i < g.nlisteners; i++) {
        if (!uv_is_closing((uv_handle_t *)&g.polls[i]))
            uv_close((uv_handle_t *)&g.polls[i], NULL);
        listener_close(&g.listeners[i]);
    }
    admin_close(&g.admin);
}

static void
on_watch(uv_timer_t *t)
{
    (void)t;
    for (int i = 0; i < g.srv.nworkers; i++)
        if (!atomic_load(&g.srv.workers[i].finished))
            return;
    uv_close((uv_handle_t *)&g.watch, NULL);
    uv_close((uv_handle_t *)&g.accept_pause, NULL);
    uv_close((uv_handle_t *)&g.sig_term, NULL);
    uv_close((uv_handle_t *)&g.sig_int, NULL);
    uv_close((uv_handle_t *)&g.sig_hup, NULL);
}

static void
shutdown_all(bool now)
{
    if (!g.shutting_down) {
        g.shutting_down = true;
        close_listeners();
        uv_timer_start(&g.watch, on_watch, 20, 20);
    }
    for (int i = 0; i < g.srv.nworkers; i++) {
        if (now)
            worker_stop(&g.srv.workers[i]);
        else
            worker_drain(&g.srv.workers[i]);
    }
}

static void
reload(void)
{
    struct config fresh;
    config_action action;
    char file[1024], err[512];
    config_defaults(&fresh);
    if (config_parse_args(&fresh, g.argc, g.argv, &action, file, sizeof(file), err,
                          sizeof(err)) != 0 ||
        config_validate(&fresh, err, sizeof(err)) != 0) {
        log_error("reload failed, keeping the running configuration: %s", err);
        return;
    }
    char changed[2048] = "";
    int n = config_reload_tunables(&g.srv.cfg, &fresh, changed, sizeof(changed));
    if (n == 0) {
        log_info("reload: no tunable changed%s%s", changed[0] ? "; " : "", changed);
        return;
    }
    log_setup(g.srv.cfg.log_level, g.srv.cfg.log_format);
    log_info("reload: %s", changed);
    for (int i = 0; i < g.srv.nworkers; i++)
        worker_reload(&g.srv.workers[i], &g.srv.cfg);
}

static void
on_signal(uv_signal_t *s, int signum)
{
    (void)s;
    switch (signum) {
    case SIGHUP:
        if (!g.shutting_down)
            reload();
        break;
    case SIGTERM:
        log_info("SIGTERM: no new connections; draining sessions (up to %llu ms)",
                 (unsigned long long)g.srv.cfg.shutdown_timeout_ms);
        shutdown_all(false);
        break;
    case SIGINT:
        log_info("SIGINT: closing every session now");
        shutdown_all(true);
        break;
    default:
        break;
    }
}

/* Two descriptors per session: use what the hard limit allows, not the 1024 soft default. */
static void
raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            log_warn("could not raise the open-file limit: %s", strerror(errno));
    }
}

static int
load_config(int argc, char **argv)
{
    struct config *cfg = &g.srv.cfg;
    config_action action;
    char err[512];
    config_defaults(cfg);
    if (config_parse_args(cfg, argc, argv, &action, g.srv.config_file,
                          sizeof(g.srv.config_file), err, sizeof(err)) != 0) {
        fprintf(stderr, "pgfold: %s\n", err);
        return 2;
    }
    if (action == CONFIG_HELP) {
        config_usage(stdout);
        exit(0);
    }
    if (action == CONFIG_VERSION) {
        printf("pgfold %s\n", PGFOLD_VERSION);
        exit(0);
    }
    if (config_validate(cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "pgfold: %s\n", err);
        return 2;
    }
    /* Certificates are read now: a bad file is a configuration error, not a failed client. */
    g.srv.tls_server = tls_server_ctx(cfg, err, sizeof(err));
    if (!g.srv.tls_server && err[0]) {
        fprintf(stderr, "pgfold: TLS towards clients: %s\n", err);
        return 2;
    }
    g.srv.tls_client = tls_client_ctx(cfg, err, sizeof(err));
    if (!g.srv.tls_client && err[0]) {
        fprintf(stderr, "pgfold: TLS towards the upstream: %s\n", err);
        tls_ctx_free(g.srv.tls_server);
        return 2;
    }
    return 0;
}

static int
start(void)
{
    struct config *cfg = &g.srv.cfg;
    char err[512];
    g.nlisteners = listener_open_all(cfg->listen, g.listeners, LISTENER_MAX, err, sizeof(err));
    if (g.nlisteners < 0) {
        log_error("%s", err);
        return 1;
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    g.srv.nworkers = cfg->workers ? (int)cfg->workers : (ncpu > 0 ? (int)ncpu : 1);
    g.srv.workers = calloc((size_t)g.srv.nworkers, sizeof(struct worker));
    if (!g.srv.workers)
        return 1;
    for (int i = 0; i < g.srv.nworkers; i++) {
        int rc = worker_start(&g.srv.workers[i], &g.srv, i);
        if (rc < 0) {
            log_error("cannot start worker %d: %s", i, uv_strerror(rc));
            return 1;
        }
    }
    for (int i = 0; i < g.nlisteners; i++) {
        uv_poll_init(g.loop, &g.polls[i], g.listeners[i].fd);
        g.polls[i].data = &g.listeners[i];
        uv_poll_start(&g.polls[i], UV_READABLE, on_accept);
        log_info("listening on %s", g.listeners[i].name);
    }
    if (admin_open(&g.admin, g.loop, &g.srv, err, sizeof(err)) != 0) {
        log_error("%s", err);
        return 1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    /* A command of its own: the regression gate compares patterns and exits (no proxy). */
    if (patterns_diff_wanted(argc, argv))
        return patterns_diff_main(argc, argv);
    g.argc = argc;
    g.argv = argv;
    fresh_init(&g.srv.fresh);
    if (stats_init(&g.srv.st) != 0 || registry_init(&g.srv.clients) != 0) {
        fprintf(stderr, "pgfold: out of memory\n");
        return 1;
    }
    g.srv.st.started_ms = uv_hrtime() / 1000000; /* uptime's zero, on uv_now's clock */
    int rc = load_config(argc, argv);
    if (rc != 0)
        return rc;
    log_setup(g.srv.cfg.log_level, g.srv.cfg.log_format);
    g.loop = uv_default_loop();
    uv_signal_init(g.loop, &g.sig_term);
    uv_signal_init(g.loop, &g.sig_int);
    uv_signal_init(g.loop, &g.sig_hup);
    uv_timer_init(g.loop, &g.watch);
    uv_timer_init(g.loop, &g.accept_pause);
    raise_fd_limit();
    uv_signal_start(&g.sig_term, on_signal, SIGTERM);
    uv_signal_start(&g.sig_int, on_signal, SIGINT);
    uv_signal_start(&g.sig_hup, on_signal, SIGHUP);
    rc = start();
    if (rc != 0) {
        close_listeners();
        return rc;
    }
    log_info("pgfold %s: upstream %s:%d, mode %s, %d workers", PGFOLD_VERSION,
             g.srv.cfg.upstream_host, g.srv.cfg.upstream_port,
             config_mode_name(g.srv.cfg.mode), g.srv.nworkers);
    uv_run(g.loop, UV_RUN_DEFAULT);
    for (int i = 0; i < g.srv.nworkers; i++)
        worker_join(&g.srv.workers[i]);
    free(g.srv.workers);
    uv_loop_close(g.loop);
    tls_ctx_free(g.srv.tls_server);
    tls_ctx_free(g.srv.tls_client);
    stats_destroy(&g.srv.st);
    registry_destroy(&g.srv.clients);
    log_info("pgfold stopped");
    return 0;
}
