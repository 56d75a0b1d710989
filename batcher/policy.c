/*
 * policy: per-shape statistics, source scoring and back-off. See policy.h.
 */
#include "batcher/policy.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void
policy_init(struct policy *p)
{
    memset(p, 0, sizeof(*p));
}

void
policy_free(struct policy *p)
{
    for (size_t i = 0; i < p->nslots; i++) {
        struct policy_shape *s = p->slots[i];
        while (s) {
            struct policy_shape *n = s->next;
            free(s);
            s = n;
        }
    }
    free(p->slots);
    policy_init(p);
}

void
policy_each(struct policy *p, void (*fn)(struct policy_shape *, void *), void *ctx)
{
    for (size_t i = 0; i < p->nslots; i++)
        for (struct policy_shape *s = p->slots[i]; s; s = s->next)
            fn(s, ctx);
}

static void
grow(struct policy *p)
{
    size_t n = p->nslots ? p->nslots * 2 : 16;
    struct policy_shape **slots = calloc(n, sizeof(*slots));
    if (!slots)
        return;
    for (size_t i = 0; i < p->nslots; i++) {
        struct policy_shape *s = p->slots[i];
        while (s) {
            struct policy_shape *next = s->next;
            s->next = slots[s->id & (n - 1)];
            slots[s->id & (n - 1)] = s;
            s = next;
        }
    }
    free(p->slots);
    p->slots = slots;
    p->nslots = n;
}

struct policy_shape *
policy_find(struct policy *p, uint64_t id)
{
    if (!p->nslots)
        return NULL;
    for (struct policy_shape *s = p->slots[id & (p->nslots - 1)]; s; s = s->next)
        if (s->id == id)
            return s;
    return NULL;
}

struct policy_shape *
policy_shape(struct policy *p, uint64_t id)
{
    struct policy_shape *found = policy_find(p, id);
    if (found)
        return found;
    if (p->count >= p->nslots)
        grow(p);
    if (!p->nslots)
        return NULL;
    struct policy_shape *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->id = id;
    s->next = p->slots[id & (p->nslots - 1)];
    p->slots[id & (p->nslots - 1)] = s;
    p->count++;
    return s;
}

/* True if table ends with word, on a boundary ("polls_question" ends with "question"). */
/* Does table end with the word (its first wl bytes) plus suffix, as a whole word? */
static bool
ends_with(const char *table, const char *word, size_t wl, const char *suffix)
{
    size_t tl = strlen(table), sl = strlen(suffix), n = wl + sl;
    if (wl == 0 || n > tl || strncasecmp(table + tl - n, word, wl) != 0 ||
        strcasecmp(table + tl - sl, suffix) != 0)
        return false;
    return tl == n || table[tl - n - 1] == '_' || table[tl - n - 1] == '.';
}

/*
 * Is the table named after the word, singular or plural (Rails and many schemas name tables in
 * the plural, columns in the singular: blog_posts.id <- post_id; categories <- category_id)?
 */
static bool
ends_with_word(const char *table, const char *word, size_t wl)
{
    if (ends_with(table, word, wl, "") || ends_with(table, word, wl, "s") ||
        ends_with(table, word, wl, "es"))
        return true;
    return wl > 1 && (word[wl - 1] == 'y' || word[wl - 1] == 'Y') &&
           ends_with(table, word, wl - 1, "ies");
}

/* "question_id" -> "question" (length), or 0 if the name is not <x>_id / <x>Id. */
static size_t
fk_stem(const char *name)
{
    size_t n = strlen(name);
    if (n > 3 && strcasecmp(name + n - 3, "_id") == 0)
        return n - 3;
    if (n > 2 && name[n - 2] == 'I' && name[n - 1] == 'd')
        return n - 2;
    return 0;
}

int
policy_score(const struct policy_target *t, const struct keysrc_hit *h, bool prev_hit,
             bool declared_fk)
{
    const char *src = h->col->name;
    const char *srctab = h->res->source_table;
    int score = 10;
    if (t->column) {
        size_t stem = fk_stem(src);
        bool key_is_id = strcasecmp(t->column, "id") == 0;
        /* Forward: lookup on <table>.id, source column <table>_id. */
        if (key_is_id && stem && t->table && ends_with_word(t->table, src, stem))
            score += 100;
        /* Reverse: lookup on <x>_id, source column <x>'s id. */
        size_t kstem = fk_stem(t->column);
        if (kstem && strcasecmp(src, "id") == 0 && srctab[0] &&
            ends_with_word(srctab, t->column, kstem))
            score += 100;
        if (strcasecmp(src, t->column) == 0 && !key_is_id)
            score += 50;
        /* An id column of the same table as the lookup is the row itself, not a loop. */
        if (key_is_id && strcasecmp(src, "id") == 0 && t->table && srctab[0] &&
            strcasecmp(t->table, srctab) == 0)
            score -= 5;
    }
    if (h->col->table_oid == 0)
        score -= 2; /* an expression, not a stored column */
    if (prev_hit)
        score += 40;
    if (declared_fk)
        score += 200;
    return score > 0 ? score : 1;
}

bool
policy_may_batch(const struct policy_shape *ps, bool prev_in_same_column)
{
    if (ps->lookups < ps->paused_until)
        return false;
    if (ps->cautious && !prev_in_same_column)
        return false;
    return true;
}

void
policy_batch_done(struct policy_shape *ps, uint32_t batch_id, uint64_t n)
{
    ps->batches++;
    ps->keys_fetched += n;
    ps->last_batch_id = batch_id;
    ps->last_batch_keys = n;
    ps->last_batch_used = 0;
}

void
policy_key_used(struct policy_shape *ps, uint32_t batch_id)
{
    ps->keys_used++;
    if (batch_id == ps->last_batch_id)
        ps->last_batch_used++;
}

void
policy_review(struct policy_shape *ps)
{
    if (ps->last_batch_keys == 0)
        return;
    double ratio = (double)ps->last_batch_used / (double)ps->last_batch_keys;
    if (ratio >= POLICY_WASTE_RATIO) {
        ps->strikes = 0;
        ps->cautious = false;
    } else {
        ps->strikes++;
        ps->cautious = true;
        if (ps->strikes >= POLICY_WASTE_STRIKES) {
            ps->paused_until = ps->lookups + POLICY_PAUSE_LOOKUPS;
            ps->strikes = 0;
        }
    }
    ps->last_batch_keys = 0;
}

void
policy_remember(struct policy_shape *ps, const char *key, size_t len)
{
    if (len > sizeof(ps->prev_key))
        len = sizeof(ps->prev_key);
    memcpy(ps->prev_key, key, len);
    ps->prev_key_len = len;
}
