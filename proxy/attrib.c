/*
 * attrib: the sites a pattern was seen under, bounded (attrib.h), and their renderings.
 *
 * Everything here runs under the pattern registry's lock (stats.c), so it only copies and
 * compares fixed-size fields: the comment was parsed before the lock was taken.
 */
#include "proxy/attrib.h"

#include <stdio.h>
#include <string.h>

#include "proxy/stats.h"

static void
copy_name(char *dst, const char *src)
{
    size_t n = src ? strnlen(src, ATTRIB_NAME_MAX - 1) : 0;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

static bool
same_name(const char *kept, const char *s)
{
    return strncmp(kept, s ? s : "", ATTRIB_NAME_MAX - 1) == 0;
}

static bool
site_is(const struct attrib_site *s, const struct attrib_origin *o)
{
    return same_name(s->database, o->database) && same_name(s->user, o->user) &&
           same_name(s->application, o->application) && comment_loc_equal(&s->loc, &o->loc);
}

static void
site_set(struct attrib_site *s, const struct attrib_origin *o)
{
    copy_name(s->database, o->database);
    copy_name(s->user, o->user);
    copy_name(s->application, o->application);
    s->loc = o->loc;
}

/* The slot a new site replaces when the table is full: the fewest loops, then the oldest;
 * never site 0. */
static struct attrib_site *
victim(struct attrib *a)
{
    struct attrib_site *v = &a->site[1];
    for (int i = 2; i < a->nsites; i++) {
        struct attrib_site *s = &a->site[i];
        if (s->loops < v->loops || (s->loops == v->loops && s->last_seen_ms < v->last_seen_ms))
            v = s;
    }
    return v;
}

void
attrib_note(struct attrib *a, const struct attrib_origin *o, uint64_t loops, uint64_t now_ms)
{
    struct attrib_site *s = NULL;
    for (int i = 0; i < a->nsites && !s; i++)
        if (site_is(&a->site[i], o))
            s = &a->site[i];
    if (!s && a->nsites < ATTRIB_SITES) {
        s = &a->site[a->nsites++];
        memset(s, 0, sizeof(*s));
        site_set(s, o);
    } else if (!s) {
        if (loops == 0)
            return; /* nothing to count, and a full table is not reshuffled for it */
        s = victim(a);
        uint64_t inherited = s->loops;
        site_set(s, o);
        s->loops = inherited;
        s->overcount = inherited;
    }
    s->loops += loops;
    s->last_seen_ms = now_ms;
}

/* Indices of the sites, the most loops first (site order breaks ties). */
static int
sorted(const struct attrib *a, int idx[ATTRIB_SITES])
{
    int n = a->nsites;
    for (int i = 0; i < n; i++)
        idx[i] = i;
    for (int i = 1; i < n; i++) {
        int v = idx[i], j = i;
        while (j > 0 && a->site[idx[j - 1]].loops < a->site[v].loops) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = v;
    }
    return n;
}

const struct attrib_site *
attrib_top(const struct attrib *a)
{
    int idx[ATTRIB_SITES];
    return sorted(a, idx) > 0 ? &a->site[idx[0]] : NULL;
}

static void
location_json(const struct comment_loc *loc, struct buf *out)
{
    if (loc->n == 0) {
        buf_puts(out, "null");
        return;
    }
    buf_put_u8(out, '{');
    for (int i = 0; i < loc->n; i++) {
        if (i)
            buf_put_u8(out, ',');
        stats_json_str(out, comment_loc_key(loc, i));
        buf_put_u8(out, ':');
        stats_json_str(out, comment_loc_value(loc, i));
    }
    buf_put_u8(out, '}');
}

void
attrib_render_json(const struct attrib *a, struct buf *out)
{
    int idx[ATTRIB_SITES];
    int n = sorted(a, idx);
    char loc[COMMENT_LOC_BYTES * 2];
    buf_put_u8(out, '[');
    for (int i = 0; i < n; i++) {
        const struct attrib_site *s = &a->site[idx[i]];
        comment_loc_format(&s->loc, loc, sizeof(loc));
        buf_puts(out, i ? ",{\"database\":" : "{\"database\":");
        stats_json_str(out, s->database);
        buf_puts(out, ",\"user\":");
        stats_json_str(out, s->user);
        buf_puts(out, ",\"application_name\":");
        stats_json_str(out, s->application);
        buf_puts(out, ",\"location\":");
        stats_json_str(out, loc);
        buf_puts(out, ",\"tags\":");
        location_json(&s->loc, out);
        buf_puts(out, ",\"comment_style\":");
        stats_json_str(out, comment_style_name((enum comment_style)s->loc.style));
        stats_printf(out, ",\"loops\":%llu,\"loops_overcount\":%llu,\"last_seen_ms\":%llu}",
                     (unsigned long long)s->loops, (unsigned long long)s->overcount,
                     (unsigned long long)s->last_seen_ms);
    }
    buf_put_u8(out, ']');
}

size_t
attrib_describe(const struct attrib_site *s, char *out, size_t cap)
{
    char loc[COMMENT_LOC_BYTES * 2];
    comment_loc_format(&s->loc, loc, sizeof(loc));
    const char *part[4][2] = {{"database ", s->database},
                              {"user ", s->user},
                              {"application_name ", s->application},
                              {"at ", loc}};
    size_t o = 0;
    if (cap == 0)
        return 0;
    out[0] = '\0';
    for (int i = 0; i < 4; i++) {
        if (!part[i][1][0])
            continue;
        int w = snprintf(out + o, cap - o, "%s%s%s", o ? ", " : "", part[i][0], part[i][1]);
        if (w < 0 || (size_t)w >= cap - o)
            return strnlen(out, cap);
        o += (size_t)w;
    }
    return o;
}

void
attrib_render_html(const struct attrib *a, struct buf *out)
{
    int idx[ATTRIB_SITES];
    int n = sorted(a, idx);
    char line[ATTRIB_NAME_MAX * 3 + COMMENT_LOC_BYTES * 2 + 64];
    for (int i = 0; i < n; i++) {
        const struct attrib_site *s = &a->site[idx[i]];
        attrib_describe(s, line, sizeof(line));
        if (i)
            buf_puts(out, "<br>");
        stats_html_str(out, line[0] ? line : "(no names)");
        stats_printf(out, " (%llu loop%s%s)", (unsigned long long)s->loops,
                     s->loops == 1 ? "" : "s", s->overcount ? ", over-counted" : "");
    }
}
