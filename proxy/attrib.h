/*
 * attrib: whose loop a pattern is. For each N+1 pattern in the registry (stats.h), the
 * places it was seen under: database, user, application_name and the code location from the
 * statement's comment (parser/comment.h), with the loops each ran.
 *
 * Bounded in number and bytes: ATTRIB_SITES sites per pattern, each of fixed size. Site 0 is
 * where the pattern was first seen and stays (the pattern's log line names it); the other
 * slots keep the busiest sites with the Space-Saving rule (Metwally et al., 2005): a site new
 * to a full table takes the slot of the one with the fewest loops and inherits its count, which
 * it then reports as `overcount` (its true count lies between loops - overcount and loops).
 * Any site that ran more than a 1/(ATTRIB_SITES - 1) share of the loops outside site 0 is
 * certain to be listed.
 *
 * The caller holds the registry's lock for attrib_note and the renderings.
 */
#ifndef PGFOLD_ATTRIB_H
#define PGFOLD_ATTRIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parser/comment.h"
#include "pgwire/buf.h"

#define ATTRIB_SITES 5
#define ATTRIB_NAME_MAX 64 /* as struct session keeps them */

/* One event's origin, as the hook builds it from the session and the statement's text. */
struct attrib_origin {
    const char *database, *user, *application; /* NULL reads as "" */
    struct comment_loc loc;                    /* loc.n == 0: the statement named no place */
};

struct attrib_site {
    char database[ATTRIB_NAME_MAX];
    char user[ATTRIB_NAME_MAX];
    char application[ATTRIB_NAME_MAX];
    struct comment_loc loc;
    uint64_t loops;     /* loops seen here (see overcount) */
    uint64_t overcount; /* loops inherited from the site this one replaced */
    uint64_t last_seen_ms;
};

struct attrib {
    struct attrib_site site[ATTRIB_SITES]; /* [0]: where the pattern was first seen */
    uint8_t nsites;
};

/*
 * Records `loops` new loops (0 is fine: the site is still listed if there is room) from o at
 * now_ms (wall clock).
 */
void attrib_note(struct attrib *a, const struct attrib_origin *o, uint64_t loops, uint64_t now_ms);

/* The site with the most loops, NULL if none (for one-line reports). */
const struct attrib_site *attrib_top(const struct attrib *a);

/* Appends the sites as a JSON array, the most loops first. */
void attrib_render_json(const struct attrib *a, struct buf *out);

/* Appends the sites for the HTML page: one escaped line per site, the most loops first. */
void attrib_render_html(const struct attrib *a, struct buf *out);

/*
 * Writes "database d, user u, application_name a, at controller=orders action=index" for a
 * site ("" parts are left out), cut to cap. Returns the length.
 */
size_t attrib_describe(const struct attrib_site *s, char *out, size_t cap);

#endif
