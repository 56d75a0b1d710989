/*
 * console_int: what console.c (the protocol: login, messages, commands) shares with
 * console_show.c (what each SHOW prints): the writers of a result set. Private to those two.
 */
#ifndef PGFOLD_CONSOLE_INT_H
#define PGFOLD_CONSOLE_INT_H

#include <stdint.h>

#include "config/config.h"
#include "pgwire/buf.h"

struct server;

#define CONSOLE_TEXT 25 /* text */
#define CONSOLE_INT8 20 /* bigint: psql right-aligns it */

struct console_col {
    const char *name;
    uint32_t type; /* CONSOLE_TEXT or CONSOLE_INT8; every value is sent in text format */
};

/* What a SHOW command is given: where to write, and the process to describe. */
struct console_show {
    struct buf *out;
    struct server *srv;
    const struct config *cfg; /* the worker's copy: what its sessions run with */
    uint64_t now_ms;          /* monotonic */
};

/* RowDescription of n columns. */
void console_put_rowdesc(struct buf *b, const struct console_col *cols, int n);
/* DataRow of n text values (NULL = SQL NULL). */
void console_put_row(struct buf *b, const char *const *vals, int n);

/* Each writes RowDescription, its rows and CommandComplete "SHOW". Returns 0 or -ENOMEM. */
int console_show_stats(const struct console_show *sh);
int console_show_patterns(const struct console_show *sh);
int console_show_clients(const struct console_show *sh);
int console_show_config(const struct console_show *sh);
int console_show_version(const struct console_show *sh);
int console_show_help(const struct console_show *sh);

#endif
