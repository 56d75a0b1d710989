/*
 * fresh: the process-wide write clock. See fresh.h.
 *
 * Ordering: a writer takes its stamp (clock + 1) and then raises the stamps of its tables to
 * it; a reader takes `since` from the clock before its statement goes upstream. A write
 * confirmed before the reader's statement ran either has a stamp the reader already saw (its
 * data is in the answer) or one above `since` (the answer is refused): never an answer older
 * than a write it should contain. Everything is relaxed except the stamp raise (a CAS-max, so
 * two writers of one table cannot lower each other's stamp).
 */
#include "batcher/fresh.h"

#include <string.h>

void
fresh_init(struct fresh *f)
{
    atomic_init(&f->clock, 1);
    atomic_init(&f->all, 0);
    atomic_init(&f->ddl, 0);
    for (size_t i = 0; i < FRESH_SLOTS; i++)
        atomic_init(&f->slot[i], 0);
    for (size_t i = 0; i < FRESH_DISTRUST; i++)
        atomic_init(&f->distrusted[i], 0);
}

uint64_t
fresh_table(const char *name)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h;
}

uint64_t
fresh_now(struct fresh *f)
{
    return atomic_load_explicit(&f->clock, memory_order_acquire);
}

static void
raise_to(atomic_uint_fast64_t *a, uint64_t v)
{
    uint64_t cur = atomic_load_explicit(a, memory_order_relaxed);
    while (cur < v && !atomic_compare_exchange_weak_explicit(a, &cur, v, memory_order_release,
                                                             memory_order_relaxed))
        ;
}

uint64_t
fresh_publish(struct fresh *f, const uint64_t *tables, int n, bool all, bool ddl)
{
    uint64_t stamp = atomic_fetch_add_explicit(&f->clock, 1, memory_order_acq_rel) + 1;
    if (all)
        raise_to(&f->all, stamp);
    for (int i = 0; i < n; i++)
        raise_to(&f->slot[tables[i] % FRESH_SLOTS], stamp);
    if (ddl)
        atomic_fetch_add_explicit(&f->ddl, 1, memory_order_relaxed);
    return stamp;
}

bool
fresh_unchanged(struct fresh *f, uint64_t since, const uint64_t *tables, int n, bool any)
{
    if (any)
        return atomic_load_explicit(&f->clock, memory_order_acquire) <= since;
    if (atomic_load_explicit(&f->all, memory_order_acquire) > since)
        return false;
    for (int i = 0; i < n; i++)
        if (atomic_load_explicit(&f->slot[tables[i] % FRESH_SLOTS], memory_order_acquire) > since)
            return false;
    return true;
}

uint64_t
fresh_ddl(struct fresh *f)
{
    return atomic_load_explicit(&f->ddl, memory_order_relaxed);
}

bool
fresh_distrust(struct fresh *f, uint64_t fingerprint)
{
    if (fingerprint == 0)
        fingerprint = 1; /* 0 marks a free slot */
    for (int i = 0; i < FRESH_DISTRUST; i++) {
        uint_fast64_t cur = atomic_load_explicit(&f->distrusted[i], memory_order_relaxed);
        while (cur == 0 &&
               !atomic_compare_exchange_weak_explicit(&f->distrusted[i], &cur, fingerprint,
                                                      memory_order_relaxed, memory_order_relaxed))
            ;
        if (cur == 0 || cur == fingerprint)
            return true;
    }
    return false;
}

bool
fresh_distrusted(struct fresh *f, uint64_t fingerprint)
{
    if (fingerprint == 0)
        fingerprint = 1;
    for (int i = 0; i < FRESH_DISTRUST; i++) {
        uint_fast64_t cur = atomic_load_explicit(&f->distrusted[i], memory_order_relaxed);
        if (cur == 0)
            return false; /* slots fill in order */
        if (cur == fingerprint)
            return true;
    }
    return false;
}
