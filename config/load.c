/*
 * load: the two places settings come from, the INI file and the command line, turned into
 * config_set() calls. inih does the INI grammar; getopt_long does the flags.
 *
 * Both work on a copy of the caller's struct config and copy it back only when everything was
 * accepted, so a bad file on SIGHUP leaves the running settings untouched.
 *
 * inih does not tell its handler the line number, so we feed it through our own line reader
 * and count the lines it asks for: the handler always runs for the line read last. The same
 * reader notices lines longer than inih's buffer, which inih would otherwise split silently,
 * and read errors (a directory), which inih would take for the end of the file.
 */
#include "config/config.h"

#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include "config/value.h"

#define SECTION "pgfold"

struct ini_state {
    struct config *c;
    const char *path;
    FILE *fp;
    int lineno;     /* lines handed to inih so far */
    int err_line;   /* line of the first error we found; 0 = none */
    int rc;         /* 0, or the code of that error */
    int read_errno; /* errno of a failed read */
    char *err;
    size_t errlen;
};


/* fgets with bookkeeping. Returning NULL ends the parse, which we do after the first error. */
static char *
ini_read_line(char *str, int num, void *stream)
{
    struct ini_state *st = stream;
    size_t n;
    int ch;

    if (st->rc < 0)
        return NULL;
    errno = 0;
    if (fgets(str, num, st->fp) == NULL) {
        if (ferror(st->fp))
            st->read_errno = errno != 0 ? errno : EIO;
        return NULL;
    }
    st->lineno++;
    n = strlen(str);
    if ((n > 0 && str[n - 1] == '\n') || n + 1 < (size_t)num)
        return str;
    ch = getc(st->fp); /* the buffer is full: is there more of this line? */
    if (ch == EOF || ch == '\n')
        return str;
    st->rc = -EINVAL;
    st->err_line = st->lineno;
    value_fail(st->err, st->errlen, "%s:%d: line too long (max %d bytes)", st->path, st->lineno, num - 3);
    return NULL;
}

static int
ini_on_key(void *user, const char *section, const char *name, const char *value)
{
    struct ini_state *st = user;
    char why[512];

    if (st->rc < 0)
        return 1;
    if (section[0] == '\0') {
        st->rc = -EINVAL;
        value_fail(st->err, st->errlen, "%s:%d: key '%s': outside any section; put it under [%s]",
             st->path, st->lineno, name, SECTION);
    } else if (strcasecmp(section, SECTION) != 0) {
        st->rc = -EINVAL;
        value_fail(st->err, st->errlen, "%s:%d: key '%s': in section [%s], expected [%s]", st->path,
             st->lineno, name, section, SECTION);
    } else {
        st->rc = config_set(st->c, name, value, why, sizeof(why));
        if (st->rc < 0)
            value_fail(st->err, st->errlen, "%s:%d: %s", st->path, st->lineno, why);
    }
    if (st->rc < 0)
        st->err_line = st->lineno;
    return st->rc == 0;
}

int
config_load_file(struct config *c, const char *path, char *err, size_t errlen)
{
    struct config copy = *c;
    struct ini_state st = {.c = &copy, .path = path, .err = err, .errlen = errlen};
    int line;

    st.fp = fopen(path, "r");
    if (st.fp == NULL) {
        int e = errno;
        value_fail(err, errlen, "%s: cannot open: %s", path, strerror(e));
        return -e;
    }
    line = ini_parse_stream(ini_read_line, &st, ini_on_key, &st);
    fclose(st.fp);
    if (st.read_errno != 0) {
        value_fail(err, errlen, "%s: cannot read: %s", path, strerror(st.read_errno));
        return -st.read_errno;
    }
    if (line == -2) {
        value_fail(err, errlen, "%s: out of memory", path);
        return -ENOMEM;
    }
    if (line > 0 && (st.err_line == 0 || line < st.err_line)) {
        value_fail(err, errlen, "%s:%d: syntax error: expected 'key = value' or '[section]'", path, line);
        return -EINVAL;
    }
    if (st.rc < 0)
        return st.rc;
    *c = copy;
    return 0;
}

/* Flags that set a key have values above any char; getopt_long returns them as is. */
enum { OPT_KEY = 256 };

static const struct option longopts[] = {
    {"config", required_argument, NULL, 'c'},
    {"listen", required_argument, NULL, OPT_KEY + 0},
    {"upstream", required_argument, NULL, OPT_KEY + 1},
    {"admin-listen", required_argument, NULL, OPT_KEY + 2},
    {"mode", required_argument, NULL, OPT_KEY + 3},
    {"workers", required_argument, NULL, OPT_KEY + 4},
    {"log-level", required_argument, NULL, OPT_KEY + 5},
    {"version", no_argument, NULL, 'V'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Indexed by getopt's value - OPT_KEY. */
static const char *const flag_keys[] = {
    "listen", "upstream", "admin_listen", "mode", "workers", "log_level",
};

/*
 * '+': stop at the first non-option instead of permuting argv (so two passes see the same
 * thing); ':': report a missing value as ':' rather than printing anything ourselves.
 */
#define OPTSTRING "+:c:hV"

static void
getopt_restart(void)
{
    optind = 0; /* glibc: 0 also resets its internal state, so we can scan argv again */
    opterr = 0;
}

/* getopt_long's '?' covers both "--bogus" and "--help=yes"; tell them apart. */
static int
args_bad_option(int ch, char **argv, char *err, size_t errlen)
{
    const char *arg = argv[optind - 1];
    size_t n = strcspn(arg, "=");

    if (ch == ':') {
        value_fail(err, errlen, "option '%s' needs a value", arg);
        return -EINVAL;
    }
    if (strncmp(arg, "--", 2) != 0 && optopt != 0) {
        value_fail(err, errlen, "unknown option '-%c'", optopt);
        return -EINVAL;
    }
    int prefix_of = 0;
    for (const struct option *o = longopts; o->name != NULL; o++) {
        if (arg[n] == '=' && strlen(o->name) == n - 2 && strncmp(o->name, arg + 2, n - 2) == 0) {
            value_fail(err, errlen, "option '--%s' takes no value", o->name);
            return -EINVAL;
        }
        prefix_of += strncmp(o->name, arg + 2, n - 2) == 0;
    }
    value_fail(err, errlen, "%s option '%.*s'", prefix_of > 1 ? "ambiguous" : "unknown", (int)n, arg);
    return -EINVAL;
}

/* First pass: syntax, -c, --help, --version. Keys are applied in the second pass. */
static int
args_scan(int argc, char **argv, config_action *action, char *config_file, size_t config_file_len,
          char *err, size_t errlen)
{
    int ch;

    getopt_restart();
    while ((ch = getopt_long(argc, argv, OPTSTRING, longopts, NULL)) != -1) {
        if (ch == '?' || ch == ':')
            return args_bad_option(ch, argv, err, errlen);
        if (ch == 'h')
            *action = CONFIG_HELP;
        else if (ch == 'V' && *action != CONFIG_HELP)
            *action = CONFIG_VERSION;
        else if (ch == 'c' && strlen(optarg) >= config_file_len) {
            value_fail(err, errlen, "option '-c': path is too long (max %zu bytes)", config_file_len - 1);
            return -ENAMETOOLONG;
        } else if (ch == 'c')
            snprintf(config_file, config_file_len, "%s", optarg);
    }
    if (optind < argc) {
        value_fail(err, errlen, "unexpected argument '%s'", argv[optind]);
        return -EINVAL;
    }
    return 0;
}

static const char *
flag_name(int ch)
{
    for (const struct option *o = longopts; o->name != NULL; o++)
        if (o->val == ch)
            return o->name;
    return "?";
}

/* Second pass: every flag that sets a key, in the order written. */
static int
args_apply(struct config *c, int argc, char **argv, char *err, size_t errlen)
{
    char why[512];
    int ch, rc;

    getopt_restart();
    while ((ch = getopt_long(argc, argv, OPTSTRING, longopts, NULL)) != -1) {
        if (ch < OPT_KEY)
            continue;
        rc = config_set_reason(c, flag_keys[ch - OPT_KEY], optarg, why, sizeof(why));
        if (rc < 0) {
            value_fail(err, errlen, "option '--%s': %s", flag_name(ch), why);
            return rc;
        }
    }
    return 0;
}

int
config_parse_args(struct config *c, int argc, char **argv, config_action *action, char *config_file,
                  size_t config_file_len, char *err, size_t errlen)
{
    char path[4096] = "";
    struct config copy = *c;
    int rc;

    *action = CONFIG_RUN;
    if (config_file != NULL && config_file_len > 0)
        config_file[0] = '\0';
    rc = args_scan(argc, argv, action, path, sizeof(path), err, errlen);
    if (rc < 0 || *action != CONFIG_RUN)
        return rc;
    if (config_file != NULL && config_file_len > 0) {
        if (strlen(path) >= config_file_len) {
            value_fail(err, errlen, "option '-c': path is too long (max %zu bytes)", config_file_len - 1);
            return -ENAMETOOLONG;
        }
        snprintf(config_file, config_file_len, "%s", path);
    }
    if (path[0] != '\0' && (rc = config_load_file(&copy, path, err, errlen)) < 0)
        return rc;
    rc = args_apply(&copy, argc, argv, err, errlen);
    if (rc < 0)
        return rc;
    *c = copy;
    return 0;
}
