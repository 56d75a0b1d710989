/*
 * test_config_load: config/ against its contract in config.h and DESIGN.md §2, as a whole
 * configuration arrives: INI files (file:line errors, sections, comments, BOMs, CRLF,
 * unreadable files), argv (flags, -c, flags over file whatever their order, --help and
 * --version), config_reload_tunables on SIGHUP, and the --help text.
 *
 * Value-by-value parsing is in test_config_values.c; the field table is in config_harness.h.
 */

#include "tests/unit/config_harness.h"

/* ---- config_load_file ---- */

struct file_case {
    const char *text;
    const char *err; /* OK, or the text expected right after the path */
    const char *key; /* for OK: a key to check */
    uint64_t num;
    const char *str;
};

static const struct file_case file_cases[] = {
    {"[pgfold]\nmax_batch_keys = 500\n", OK, "max_batch_keys", 500, NULL},
    {"[pgfold]\nlisten = 127.0.0.1:7000 ; inline comment\n", OK, "listen", 0, "127.0.0.1:7000"},
    {"; comment\n# another\n\n[pgfold]\nmax_batch_bytes = 32MB\n", OK, "max_batch_bytes", 32 << 20,
     NULL},
    {"[pgfold]\nmax_batch_keys = 100\n[pgfold]\nmax_batch_keys = 200\n", OK, "max_batch_keys", 200,
     NULL},
    {"[pgfold]\nmode = observe\n[pgfold]\nworkers = 2\n", OK, "mode", MODE_OBSERVE, NULL},
    {"[pgfold]\nmax_batch_keys = 100\nmax_batch_keys = 300\n", OK, "max_batch_keys", 300, NULL},
    {"[pgfold]\nmax_batch_keys = 100\n[empty]\n", OK, "max_batch_keys", 100, NULL},
    {"", OK, "max_batch_keys", 1000, NULL},
    {"[pgfold]\nupstream = host=db port=5433 dbname=app\n", OK, "upstream_port", 5433, NULL},
    {"[pgfold]\nupstream = postgresql://db.internal:5432/appdb?sslmode=prefer\n", OK,
     "upstream_dbname", 0, "appdb"},
    {"[PGFOLD]\nWorkers = 4\n", OK, "workers", 4, NULL},
    {"\xEF\xBB\xBF[pgfold]\nworkers = 3\n", OK, "workers", 3, NULL},
    {"[pgfold]\r\nworkers = 5\r\n", OK, "workers", 5, NULL},
    {"[pgfold]\nworkers: 6\n", OK, "workers", 6, NULL},
    {"[pgfold]\nadmin_listen =\n", OK, "admin_listen", 0, ""},
    {"[pgfold]\nworkers = 7", OK, "workers", 7, NULL},
    {"[pgfold]\nlisten = 127.0.0.1:6432\nmax_bath_keys = 5\n", ":3: unknown key 'max_bath_keys'",
     NULL, 0, NULL},
    {"[pgfold]\n\n\n\n\n\nmax_batch_keys = lots\n",
     ":7: key 'max_batch_keys': expected a positive integer, got 'lots'", NULL, 0, NULL},
    {"workers = 2\n[pgfold]\n", ":1: key 'workers': outside any section", NULL, 0, NULL},
    {"[pgfold]\nworkers = 2\n[db]\nhost = x\n",
     ":4: key 'host': in section [db], expected [pgfold]", NULL, 0, NULL},
    {"[pgfold]\nthis line has no equals sign\n", ":2: syntax error", NULL, 0, NULL},
    {"[pgfold\nworkers = 1\n", ":1: syntax error", NULL, 0, NULL},
    {"[pgfold]\nlisten =\n", ":2: key 'listen': must not be empty", NULL, 0, NULL},
    {"[pgfold]\nmax_batch_bytes = 16XB\n", ":2: key 'max_batch_bytes': expected bytes", NULL, 0,
     NULL},
    {"[pgfold]\nworkers = 1\nnot valid\nmax_batch_keys = 0\n", ":3: syntax error", NULL, 0, NULL},
    {"[pgfold]\nmax_batch_keys = 0\nnot valid\n", ":2: key 'max_batch_keys': must be between", NULL,
     0, NULL},
    {"[pgfold]\nworkers = 4\nmax_batch_keys = nope\n", ":3: key 'max_batch_keys'", NULL, 0, NULL},
    {"[pgfold]\nmode = fast\n",
     ":2: key 'mode': expected one of rewrite, observe, passthrough, got 'fast'", NULL, 0, NULL},
    {"[pgfold]\nupstream = garbage\n", ":2: key 'upstream': missing \"=\" after \"garbage\"", NULL,
     0, NULL},
    {"[pgfold]\nlisten = 127.0.0.1:6432\n  6433\n", ":3: key 'listen': expected host:port", NULL, 0,
     NULL},
    {"[pgfold]\nupstream = "
     "host=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nworkers = 1\n",
     ":2: line too long", NULL, 0, NULL},
};

static void
run_file_case(size_t i, const struct file_case *t)
{
    struct config c, before;
    char path[64], err[512] = "", why[512], want[600];
    int rc;

    write_temp(t->text, path);
    config_defaults(&c);
    before = c;
    rc = config_load_file(&c, path, err, sizeof(err));
    unlink(path);
    if (t->err == OK) {
        if (rc != 0)
            fail_msg("file %zu: rc %d: %s", i, rc, err);
        if (field_check(&c, t->key, t->num, t->str, why, sizeof(why)) < 0)
            fail_msg("file %zu: %s", i, why);
        return;
    }
    snprintf(want, sizeof(want), "%s%s", path, t->err);
    if (rc >= 0)
        fail_msg("file %zu: accepted, expected '%s'", i, t->err);
    if (strncmp(err, want, strlen(want)) != 0)
        fail_msg("file %zu: error '%s', expected it to start with '%s'", i, err, want);
    if (memcmp(&c, &before, sizeof(c)) != 0)
        fail_msg("file %zu: a rejected file changed the config", i);
}

static void
test_file_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(file_cases); i++)
        run_file_case(i, &file_cases[i]);
    print_message("config_load_file: %zu cases\n", ARRAY_LEN(file_cases));
}

static void
test_file_exact_message(void **state)
{
    struct config c;
    char path[64], err[512], want[600];

    (void)state;
    write_temp("[pgfold]\nlisten = 127.0.0.1:6432\nmax_bath_keys = 5\n", path);
    config_defaults(&c);
    assert_int_equal(config_load_file(&c, path, err, sizeof(err)), -ENOENT);
    snprintf(want, sizeof(want), "%s:3: unknown key 'max_bath_keys'", path);
    assert_string_equal(err, want);
    unlink(path);
}

static void
test_file_unreadable(void **state)
{
    struct config c;
    char path[64], err[512];

    (void)state;
    config_defaults(&c);
    assert_int_equal(config_load_file(&c, "/nonexistent/pgfold.ini", err, sizeof(err)), -ENOENT);
    assert_string_equal(err, "/nonexistent/pgfold.ini: cannot open: No such file or directory");

    assert_int_equal(config_load_file(&c, "/tmp", err, sizeof(err)), -EISDIR);
    assert_string_equal(err, "/tmp: cannot read: Is a directory");

    if (geteuid() == 0)
        return; /* root reads anything; the permission case cannot be shown */
    write_temp("[pgfold]\n", path);
    chmod(path, 0);
    assert_int_equal(config_load_file(&c, path, err, sizeof(err)), -EACCES);
    assert_non_null(strstr(err, "cannot open: Permission denied"));
    unlink(path);
}

/* ---- config_parse_args ---- */

#define FILE_ARG "@FILE" /* replaced by the path of a file with the text below */
#define ARGS_FILE "[pgfold]\nworkers = 2\nmax_batch_keys = 500\nmode = passthrough\n"

struct args_case {
    const char *argv[10];
    const char *err; /* OK, or a piece of the expected message */
    config_action action;
    const char *key; /* for OK: a key to check */
    uint64_t num;
    const char *str;
};

static const struct args_case args_cases[] = {
    {{"pgfold"}, OK, CONFIG_RUN, "workers", 0, NULL},
    {{"pgfold", "--help"}, OK, CONFIG_HELP, "workers", 0, NULL},
    {{"pgfold", "-h"}, OK, CONFIG_HELP, "workers", 0, NULL},
    {{"pgfold", "--version"}, OK, CONFIG_VERSION, "workers", 0, NULL},
    {{"pgfold", "-V"}, OK, CONFIG_VERSION, "workers", 0, NULL},
    {{"pgfold", "--version", "--help"}, OK, CONFIG_HELP, "workers", 0, NULL},
    {{"pgfold", "-c", "/nonexistent.ini", "--help"}, OK, CONFIG_HELP, "workers", 0, NULL},
    {{"pgfold", "--listen", "127.0.0.1:7000"}, OK, CONFIG_RUN, "listen", 0, "127.0.0.1:7000"},
    {{"pgfold", "--listen=/tmp"}, OK, CONFIG_RUN, "listen", 0, "/tmp"},
    {{"pgfold", "--upstream", "host=db port=6000"}, OK, CONFIG_RUN, "upstream_port", 6000, NULL},
    {{"pgfold", "--admin-listen", "127.0.0.1:7001"},
     OK,
     CONFIG_RUN,
     "admin_listen",
     0,
     "127.0.0.1:7001"},
    {{"pgfold", "--admin-listen="}, OK, CONFIG_RUN, "admin_listen", 0, ""},
    {{"pgfold", "--mode", "observe"}, OK, CONFIG_RUN, "mode", MODE_OBSERVE, NULL},
    {{"pgfold", "--workers", "4"}, OK, CONFIG_RUN, "workers", 4, NULL},
    {{"pgfold", "--log-level", "debug"}, OK, CONFIG_RUN, "log_level", LOG_DEBUG, NULL},
    {{"pgfold", "--workers", "3", "--workers", "5"}, OK, CONFIG_RUN, "workers", 5, NULL},
    {{"pgfold", "-c", FILE_ARG}, OK, CONFIG_RUN, "workers", 2, NULL},
    {{"pgfold", "--config", FILE_ARG}, OK, CONFIG_RUN, "max_batch_keys", 500, NULL},
    {{"pgfold", "-c", FILE_ARG, "--workers", "4"}, OK, CONFIG_RUN, "workers", 4, NULL},
    {{"pgfold", "--workers", "4", "-c", FILE_ARG}, OK, CONFIG_RUN, "workers", 4, NULL},
    {{"pgfold", "--mode=observe", "-c", FILE_ARG}, OK, CONFIG_RUN, "mode", MODE_OBSERVE, NULL},
    {{"pgfold", "--mode=observe", "-c", FILE_ARG}, OK, CONFIG_RUN, "max_batch_keys", 500, NULL},
    {{"pgfold", "--bogus"}, "unknown option '--bogus'", CONFIG_RUN, NULL, 0, NULL},
    {{"pgfold", "-x"}, "unknown option '-x'", CONFIG_RUN, NULL, 0, NULL},
    {{"pgfold", "--l", "x"}, "ambiguous option '--l'", CONFIG_RUN, NULL, 0, NULL},
    {{"pgfold", "--bogus=1"}, "unknown option '--bogus'", CONFIG_RUN, NULL, 0, NULL},
    {{"pgfold", "--work", "3"}, OK, CONFIG_RUN, "workers", 3, NULL},
    {{"pgfold", "--listen"}, "option '--listen' needs a value", CONFIG_RUN, NULL, 0, NULL},
    {{"pgfold", "-c"}, "option '-c' needs a value", CONFIG_RUN, NULL, 0, NULL},
    {{"pgfold", "--help=yes"}, "option '--help' takes no value", CONFIG_RUN, NULL, 0, NULL},
    {{"pgfold", "extra"}, "unexpected argument 'extra'", CONFIG_RUN, NULL, 0, NULL},
    {{"pgfold", "--workers", "lots"},
     "option '--workers': expected a non-negative integer, got 'lots'",
     CONFIG_RUN,
     NULL,
     0,
     NULL},
    {{"pgfold", "--mode", "fast"}, "option '--mode': expected one of", CONFIG_RUN, NULL, 0, NULL},
    {{"pgfold", "--listen="}, "option '--listen': must not be empty", CONFIG_RUN, NULL, 0, NULL},
    {{"pgfold", "--upstream", "garbage"},
     "option '--upstream': missing \"=\"",
     CONFIG_RUN,
     NULL,
     0,
     NULL},
    {{"pgfold", "-c", "/nonexistent.ini"},
     "/nonexistent.ini: cannot open",
     CONFIG_RUN,
     NULL,
     0,
     NULL},
    {{"pgfold", "-c", FILE_ARG, "--workers", "x"}, "option '--workers'", CONFIG_RUN, NULL, 0, NULL},
};

static void
run_args_case(size_t i, const struct args_case *t, const char *file)
{
    struct config c, before;
    char *argv[11] = {NULL};
    char cfile[256] = "x", err[512] = "", why[512];
    config_action action = CONFIG_VERSION;
    int argc = 0, rc;

    for (; t->argv[argc] != NULL; argc++)
        argv[argc] = (char *)(strcmp(t->argv[argc], FILE_ARG) == 0 ? file : t->argv[argc]);
    config_defaults(&c);
    before = c;
    rc = config_parse_args(&c, argc, argv, &action, cfile, sizeof(cfile), err, sizeof(err));
    if (t->err != OK) {
        if (rc >= 0 || strstr(err, t->err) == NULL)
            fail_msg("args %zu: rc %d, error '%s', expected '%s'", i, rc, err, t->err);
        if (memcmp(&c, &before, sizeof(c)) != 0)
            fail_msg("args %zu: rejected flags changed the config", i);
        return;
    }
    if (rc != 0)
        fail_msg("args %zu: rc %d: %s", i, rc, err);
    if (action != t->action)
        fail_msg("args %zu: action %d, expected %d", i, (int)action, (int)t->action);
    if (field_check(&c, t->key, t->num, t->str, why, sizeof(why)) < 0)
        fail_msg("args %zu: %s", i, why);
    for (int a = 0; a < argc; a++)
        if (argv[a] == file && action == CONFIG_RUN && strcmp(cfile, file) != 0)
            fail_msg("args %zu: config_file '%s', expected '%s'", i, cfile, file);
    if (argc == 1 && cfile[0] != '\0')
        fail_msg("args %zu: config_file '%s', expected ''", i, cfile);
}

static void
test_args_table(void **state)
{
    char path[64];

    (void)state;
    write_temp(ARGS_FILE, path);
    for (size_t i = 0; i < ARRAY_LEN(args_cases); i++)
        run_args_case(i, &args_cases[i], path);
    unlink(path);
    print_message("config_parse_args: %zu cases\n", ARRAY_LEN(args_cases));
}

/* The file is loaded before the flags, whatever their order, and only then the flags win. */
static void
test_args_file_then_flags(void **state)
{
    char path[64], err[512], cfile[256];
    char *before[] = {"pgfold", "--log-level", "warn", "--workers", "9", "-c", path};
    char *after[] = {"pgfold", "-c", path, "--log-level", "warn", "--workers", "9"};
    struct config a, b;
    config_action action;

    (void)state;
    write_temp("[pgfold]\nworkers = 2\nlog_level = error\nsource_rows = 77\n", path);
    config_defaults(&a);
    config_defaults(&b);
    assert_int_equal(
        config_parse_args(&a, 7, before, &action, cfile, sizeof(cfile), err, sizeof(err)), 0);
    assert_int_equal(
        config_parse_args(&b, 7, after, &action, cfile, sizeof(cfile), err, sizeof(err)), 0);
    unlink(path);
    assert_int_equal(a.workers, 9);
    assert_int_equal(a.log_level, LOG_WARN);
    assert_int_equal(a.source_rows, 77);
    assert_memory_equal(&a, &b, sizeof(a));
    assert_string_equal(cfile, path);
}

/* ---- config_reload_tunables ---- */

static void
test_reload_nothing_changed(void **state)
{
    struct config dst, src;
    char changed[256] = "junk";

    (void)state;
    config_defaults(&dst);
    config_defaults(&src);
    assert_int_equal(config_reload_tunables(&dst, &src, changed, sizeof(changed)), 0);
    assert_string_equal(changed, "");
    assert_int_equal(config_reload_tunables(&dst, &src, NULL, 0), 0);
}

static void
test_reload_tunables(void **state)
{
    struct config dst, src;
    char changed[1024], err[256];

    (void)state;
    config_defaults(&dst);
    config_defaults(&src);
    assert_int_equal(config_set(&src, "max_batch_keys", "500", err, sizeof(err)), 0);
    assert_int_equal(config_set(&src, "mode", "observe", err, sizeof(err)), 0);
    assert_int_equal(config_set(&src, "max_batch_bytes", "32MB", err, sizeof(err)), 0);
    assert_int_equal(config_set(&src, "batch_deny", "users", err, sizeof(err)), 0);
    assert_int_equal(config_reload_tunables(&dst, &src, changed, sizeof(changed)), 4);
    assert_string_equal(changed, "mode rewrite -> observe; max_batch_keys 1000 -> 500; "
                                 "max_batch_bytes 16MB -> 32MB; batch_deny '' -> users");
    assert_int_equal(dst.max_batch_keys, 500);
    assert_int_equal(dst.mode, MODE_OBSERVE);
    assert_int_equal(dst.max_batch_bytes, 32 << 20);
    assert_string_equal(dst.batch_deny, "users");
    assert_int_equal(config_reload_tunables(&dst, &src, changed, sizeof(changed)), 0);
}

static void
test_reload_restart_keys(void **state)
{
    struct config dst, src;
    char changed[1024], err[256];

    (void)state;
    config_defaults(&dst);
    config_defaults(&src);
    assert_int_equal(config_set(&src, "listen", "127.0.0.1:7000", err, sizeof(err)), 0);
    assert_int_equal(config_set(&src, "upstream", "host=db", err, sizeof(err)), 0);
    assert_int_equal(config_set(&src, "admin_listen", "", err, sizeof(err)), 0);
    assert_int_equal(config_set(&src, "workers", "4", err, sizeof(err)), 0);
    assert_int_equal(config_set(&src, "log_level", "debug", err, sizeof(err)), 0);
    assert_int_equal(config_reload_tunables(&dst, &src, changed, sizeof(changed)), 1);
    assert_non_null(strstr(changed, "listen '127.0.0.1:6432' -> '127.0.0.1:7000' needs a restart"));
    assert_non_null(strstr(changed, "upstream '' -> 'host=db' needs a restart"));
    assert_non_null(strstr(changed, "admin_listen '127.0.0.1:6433' -> '' needs a restart"));
    assert_non_null(strstr(changed, "workers '0' -> '4' needs a restart"));
    assert_non_null(strstr(changed, "log_level info -> debug"));
    assert_string_equal(dst.listen, "127.0.0.1:6432");
    assert_string_equal(dst.upstream, "");
    assert_string_equal(dst.upstream_host, "/var/run/postgresql");
    assert_string_equal(dst.admin_listen, "127.0.0.1:6433");
    assert_int_equal(dst.workers, 0);
    assert_int_equal(dst.log_level, LOG_DEBUG);
}

/* The admin token reloads, but its value never reaches the log line. */
static void
test_reload_hides_token(void **state)
{
    struct config dst, src;
    char changed[1024], err[256];

    (void)state;
    config_defaults(&dst);
    config_defaults(&src);
    assert_int_equal(config_set(&src, "admin_token", "tok-123", err, sizeof(err)), 0);
    assert_int_equal(config_reload_tunables(&dst, &src, changed, sizeof(changed)), 1);
    assert_string_equal(dst.admin_token, "tok-123");
    assert_null(strstr(changed, "tok-123"));
    assert_non_null(strstr(changed, "admin_token '' -> (set)"));
    config_defaults(&src);
    assert_int_equal(config_reload_tunables(&dst, &src, changed, sizeof(changed)), 1);
    assert_null(strstr(changed, "tok-123"));
    assert_non_null(strstr(changed, "admin_token (hidden) -> ''"));
    assert_string_equal(dst.admin_token, "");
}

/* config_describe: every key once, in table order, a secret never copied out. */
static void
test_describe(void **state)
{
    struct config c;
    struct config_key_info k;
    char err[256];
    size_t n = 0;
    int token_seen = 0;

    (void)state;
    config_defaults(&c);
    assert_int_equal(config_set(&c, "admin_token", "tok-123", err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "max_batch_keys", "500", err, sizeof(err)), 0);
    while (config_describe(&c, n, &k) == 0) {
        assert_non_null(field_find(k.name));
        assert_null(strstr(k.value, "tok-123"));
        if (strcmp(k.name, "admin_token") == 0) {
            assert_string_equal(k.value, "(set)");
            token_seen = 1;
        }
        if (strcmp(k.name, "max_batch_keys") == 0) {
            assert_string_equal(k.value, "500");
            assert_string_equal(k.def, "1000");
            assert_int_equal(k.reloadable, 1);
        }
        if (strcmp(k.name, "listen") == 0)
            assert_int_equal(k.reloadable, 0);
        n++;
    }
    assert_int_equal(n, NKEYS);
    assert_true(token_seen);
    assert_int_equal(config_describe(&c, NKEYS, &k), -ENOENT);
}

static void
test_reload_small_buffer(void **state)
{
    struct config dst, src;
    char changed[16];
    char err[256];

    (void)state;
    config_defaults(&dst);
    config_defaults(&src);
    assert_int_equal(config_set(&src, "max_batch_keys", "500", err, sizeof(err)), 0);
    assert_int_equal(config_set(&src, "source_rows", "5", err, sizeof(err)), 0);
    memset(changed, 'x', sizeof(changed));
    assert_int_equal(config_reload_tunables(&dst, &src, changed, sizeof(changed)), 2);
    assert_int_equal(strlen(changed), sizeof(changed) - 1);
    assert_int_equal(dst.source_rows, 5);
}

/* ---- usage ---- */

static void
test_usage(void **state)
{
    static const char *const want[] = {
        "-c, --config=FILE",
        "--listen=ADDR",
        "--upstream=CONNINFO",
        "--admin-listen=ADDR",
        "--mode=MODE",
        "--workers=N",
        "--log-level=LEVEL",
        "-V, --version",
        "-h, --help",
        "16MB",
        "8MB",
        "256kB",
        "1GB",
        "127.0.0.1:6433",
    };
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    (void)state;
    assert_non_null(out);
    config_usage(out);
    fclose(out);
    for (size_t i = 0; i < ARRAY_LEN(want); i++)
        if (strstr(text, want[i]) == NULL)
            fail_msg("usage lacks '%s'", want[i]);
    for (size_t i = 0; i < NKEYS; i++) {
        char line[64];
        snprintf(line, sizeof(line), "\n  %s ", fields[i].key);
        if (strstr(text, line) == NULL)
            fail_msg("usage lacks key '%s' on a line of its own", fields[i].key);
    }
    free(text);
}
int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_table),           cmocka_unit_test(test_file_exact_message),
        cmocka_unit_test(test_file_unreadable),      cmocka_unit_test(test_args_table),
        cmocka_unit_test(test_args_file_then_flags), cmocka_unit_test(test_reload_nothing_changed),
        cmocka_unit_test(test_reload_tunables),      cmocka_unit_test(test_reload_restart_keys),
        cmocka_unit_test(test_reload_small_buffer),  cmocka_unit_test(test_usage),
        cmocka_unit_test(test_reload_hides_token),   cmocka_unit_test(test_describe),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
