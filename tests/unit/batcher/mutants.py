#!/usr/bin/python3
"""mutants.py: each rule of the fold engine, broken on purpose, must make an engine test fail.

    tests/unit/batcher/mutants.py            (or: make mutants)

For every mutant below (file, the code as it is, the code with its rule broken) the file is
changed in place, the engine's unit tests are built into build/mutants/ and run, and the file is
restored (also on ^C). A mutant that no test kills is a rule without a test: the script says so
and exits 1. Add a mutant here with every rule added to batcher/.
"""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILD = "build/mutants"
TESTS = ["test_engine_decide", "test_engine_split", "test_engine_effects", "test_engine_fresh",
         "test_keysrc_search", "test_engine_keys", "test_verify"]

M = [
 ("batcher/engine.c","if (cx->txn_status == 'E' || !cx->idle","if (!cx->idle"),
 ("batcher/engine.c","|| !cx->idle || cx->cfg->mode","|| cx->cfg->mode"),
 ("batcher/engine.c","    if (cx->now_ms - a->fetched_ms > cx->cfg->max_staleness_ms)\n        return false;",""),
 ("batcher/engine.c","    case SHAPE_WRITE:\n        e->block_fresh = false;\n        engine_invalidate(e);","    case SHAPE_WRITE:\n        e->block_fresh = false;"),
 ("batcher/engine.c","    if (!quiet || schema || verb_is(t, \"lock\"))\n        engine_invalidate(e);",""),
 ("batcher/engine.c","        return cx->txn_status == 'T' && e->snapshot_iso;","        return cx->txn_status == 'T';"),
 ("batcher/engine.c","    if (sh->txn.op == SHAPE_TXN_SAVEPOINT || sh->txn.op == SHAPE_TXN_RELEASE)","    if (sh->txn.op != SHAPE_TXN_NONE)"),
 ("batcher/engine.c","        engine_invalidate(e); /* it ended */","        ;"),
 ("batcher/engine.c","    if ((sh->contains & ~reads) == 0)","    if (1)"),
 ("batcher/engine.c","    e->snapshot_iso = iso_snapshot(iso) && e->block_fresh && cx->txn_status == 'T';","    e->snapshot_iso = iso_snapshot(iso);"),
 ("batcher/engine.c","        e->default_snapshot = false; /* unknown or reset: assume READ COMMITTED */",";"),
 ("batcher/engine.c","        fx |= ENGINE_FX_FORGET_STATEMENTS;\n    if (ss->op","        ;\n    if (ss->op"),
 ("batcher/decide.c","    if (cfg->batch_deny[0] && list_names(cfg->batch_deny, sh))","    if (0)"),
 ("batcher/decide.c","    return !cfg->batch_allow[0] || list_names(cfg->batch_allow, sh);","    return true;"),
 ("batcher/decide.c","    return c && !c->requested && !engine_catalog_current(cx)","    return false && !c->requested && !engine_catalog_current(cx)"),
 ("batcher/decide.c","    if (cx->cfg->mode != MODE_REWRITE || !engine_cache_usable(e, cx))","    if (0)"),
 ("batcher/decide.c","        if (!policy_may_batch(ps, ch.score >= POLICY_EVIDENCE))","        if (0)"),
 ("batcher/decide.c","    if (ch.score < POLICY_EVIDENCE)\n        return ENGINE_FORWARD;",""),
 ("batcher/decide.c","            if (!column_varies(&hits[h], canon, cl))\n                continue;",""),
 ("batcher/decide.c","            if (hits[h].res->source_shape == lk->shape->fingerprint)\n                continue;",""),
 ("batcher/decide.c","    int least = cx->txn_status == 'T' ? POLICY_BLOCK_MIN_KEYS : 2;","    int least = 1;"),
 ("batcher/decide.c","    uint32_t oid = sl->flags & SHAPE_SLOT_CAST_MOD ? 0 : keyval_oid_named(sl->cast_type);","    uint32_t oid = keyval_oid_named(sl->cast_type);"),
 ("batcher/decide.c","c == KEYVAL_CLASS_NONE || c == KEYVAL_CLASS_BPCHAR ? -1","c == KEYVAL_CLASS_NONE ? -1"),
 ("batcher/decide.c","    if (oid == 0 && fmt == 1)\n        return keyval_canon_binary(c, v, vl, k->key, sizeof(k->key), &k->keylen) == 0;",""),
 ("batcher/decide.c","    if (from != keyval_class(c))\n        return false;",""),
 ("batcher/decide.c","    return rc == 0 && keyval_canon_text(c, tmp, tl, k->key, sizeof(k->key), &k->keylen) == 0;","    memcpy(k->key, tmp, tl);\n    k->keylen = tl;\n    return rc == 0;"),
 ("batcher/decide.c","    if (c->k->cast_oid && keyval_canon_text(c->k->cast_oid, key, len, tmp, sizeof(tmp), &tl) != 0)\n        return true;",""),
 ("batcher/split.c","    if (k->cast_oid)\n        return k->cast_oid;","    if (0)\n        return k->cast_oid;"),
 ("batcher/decide.c","    if ((ps && ps->distrusted) ||","    if ((0) ||"),
 ("batcher/catalog.c","            d->any |= r->view_any;",""),
 ("batcher/catalog.c","field_char(&f[2], 0) == 'v' ? '!' : 'a'","'a'"),
 ("batcher/decide.c","        (cx->fresh && fresh_distrusted(cx->fresh, lk->shape->fingerprint)))","        (0))"),
 ("batcher/engine.c","    return cx->txn_status == 'T' && e->snapshot_iso && a->txn_seq != 0 && a->txn_seq == e->txn_seq;","    return cx->txn_status == 'T' && a->txn_seq != 0 && a->txn_seq == e->txn_seq;"),
 ("batcher/engine.c","    return cx->txn_status == 'T' && e->snapshot_iso && a->txn_seq != 0 && a->txn_seq == e->txn_seq;","    return e->snapshot_iso && a->txn_seq != 0;"),
 ("batcher/engine.c","        engine_invalidate(e); /* what else this session holds was fetched the same way */",""),
 ("batcher/verify.c","    return exact ? VERIFY_MISMATCH : VERIFY_STALE;","    return VERIFY_MISMATCH;"),
 ("batcher/verify.c","                (!served->has_desc || (got->has_desc && served->desc == got->desc));","                1;"),
 ("batcher/decide.c","    int least = cx->txn_status == 'T' ? POLICY_BLOCK_MIN_KEYS : 2;","    int least = 2;"),
 ("batcher/split.c","    store_answers(e, cx);\n    record_source(e);","    store_answers(e, cx);"),
 ("batcher/capture.c","    if (sh && catalog_reads_system(sh))\n        return;",""),
 ("batcher/decide.c","    if (lk->nkeys == 0 || cx->cfg->mode != MODE_REWRITE || cx->txn_status == 'E' ||","    if (lk->nkeys == 0 ||"),
 ("batcher/decide.c","        e->cur.src_seq == 0)\n        return -ENOENT;","        0)\n        return -ENOENT;"),
 ("batcher/decide.c","    if (!resumed)\n        engine_count(e, ENGINE_C_LOOKUPS, 1);","    engine_count(e, ENGINE_C_LOOKUPS, 1);"),
 ("batcher/decide.c","    if (!retry) {\n        enum engine_verdict v","    if (1) {\n        enum engine_verdict v"),
 ("batcher/decide.c","    engine_count(e, ENGINE_C_ROUNDTRIPS_SAVED, !retry);","    engine_count(e, ENGINE_C_ROUNDTRIPS_SAVED, 1);"),
 ("batcher/split.c","    if (b->bytes > cx->cfg->max_batch_bytes) {","    if (0) {"),
 ("batcher/split.c","ord < 1 ||","ord < 0 ||"),
 ("batcher/split.c","        ord > b->nkeys) {","        0) {"),
 ("batcher/split.c","    if (!b->single_seen || buf_used(&b->batch_desc) == 0)\n        return false;","    return true;"),
 ("batcher/split.c","    if (b->key_pidx < 0)\n        return true;","    return true;"),
 ("batcher/split.c","    plan->savepoint = cx->txn_status == 'T';","    plan->savepoint = false;"),
 ("batcher/split.c","            b->ps->paused_until = b->ps->lookups + POLICY_PAUSE_LOOKUPS;","            ;"),
 ("batcher/split.c","    } else if (type_ok && !b->failed && !b->too_big && rowdesc_matches(b)) {","    } else if (type_ok && !b->too_big && rowdesc_matches(b)) {"),
 ("batcher/split.c","        b->ps->untyped_key_oid = b->inferred_oid;",";"),
 ("batcher/capture.c","    } else if (head.epoch == e->epoch) {","    } else {"),
 ("batcher/capture.c","    buf_put(&e->cap.rows, m->raw, m->wire_len);\n        e->cap.nrows++;","    e->cap.nrows++;"),
 # Freshness across sessions and loops (issue 13).
 ("batcher/engine.c","    return !cx->fresh ||\n           fresh_unchanged(cx->fresh, a->deps.since, a->deps.t, a->deps.n, a->deps.any);","    return true;"),
 ("batcher/engine.c","    if (a->deps.src_seq && !keysrc_alive(&e->src, a->deps.src_seq))\n        return false;",""),
 ("batcher/engine.c","        fresh_publish(cx->fresh, w->t, w->n, w->all, w->ddl);","        ;"),
 ("batcher/engine.c","    if (cx->txn_status == 'I')\n        w->n = 0, w->all = false;","    w->n = 0, w->all = false;"),
 ("batcher/engine.c","    engine_invalidate(e);\n        note_write(e, cx, sh);","    engine_invalidate(e);"),
 ("batcher/engine.c","sh->txn.op == SHAPE_TXN_ROLLBACK_PREPARED)\n        e->pw.all = true;","sh->txn.op == SHAPE_TXN_ROLLBACK_PREPARED)\n        ;"),
 ("batcher/engine.c","    if (!quiet || schema)\n        e->pw.all = true;","    if (schema)\n        e->pw.all = true;"),
 ("batcher/engine.c","    if (schema && sh->kind == SHAPE_UTILITY)\n        e->pw.ddl = true;",""),
 ("batcher/engine.c","    engine_invalidate(e);\n    e->pw.all = true;\n}","    engine_invalidate(e);\n}"),
 ("batcher/decide.c","        !catalog_read_deps(cx->catalog, engine_catalog_current(cx), lk->shape, &e->cur))","        0)"),
 ("batcher/split.c","    b->deps.since = cx->fresh ? fresh_now(cx->fresh) : 0;","    b->deps.since = ~0ull;"),
 ("batcher/catalog.c","        *all = !r || r->kind == 'v' || r->writes_others || !set_add(out, max, n, r->hash);","        *all = !r || !set_add(out, max, n, r->hash);"),
 ("batcher/catalog.c","        *all = !r || r->kind == 'v' || r->writes_others || !set_add(out, max, n, r->hash);","        *all = r->kind == 'v' || r->writes_others || !set_add(out, max, n, r->hash);"),
 ("batcher/catalog.c","            uint64_t other = e->kind == 'c' && e->from == out[k]   ? e->to","            uint64_t other = e->kind == 'x' && e->from == out[k]   ? e->to"),
 ("batcher/catalog.c","            d->any = true; /* created after the catalog was read, or temporary */","            ;"),
 ("batcher/catalog.c","            if (!r->view_ok)\n                return false;",""),
 ("batcher/catalog.c","    if (catalog_reads_system(sh))\n        return false;",""),
 ("batcher/catalog.c","            v->view_ok = false; /* a system relation, a foreign table or materialized view, a","            ; /* a system relation, a foreign table or materialized view, a"),
 ("batcher/catalog.c","    d->any = !current || sh->ntables == 0;","    d->any = sh->ntables == 0;"),
 ("batcher/keysrc.c","        if (r->source_id)\n            retire(ks, r->source_id);",""),
 ("batcher/capture.c","        if (keysrc_resume(&e->src, st->portal))","        if (0)"),
 ("batcher/capture.c","            keysrc_suspend(&e->src, st->portal);","            keysrc_end(&e->src);"),
]


def run(cmd):
    return subprocess.run(cmd, shell=True, cwd=ROOT, capture_output=True).returncode


def main():
    bins = " ".join(f"{BUILD}/tests/batcher/{t}" for t in TESTS)
    if run(f"make -s BUILD={BUILD} {bins}") != 0:
        print("mutants: the unmutated tests do not build", file=sys.stderr)
        return 2
    for t in TESTS:
        if run(f"{BUILD}/tests/batcher/{t}") != 0:
            print(f"mutants: {t} fails without any mutant", file=sys.stderr)
            return 2
    survivors = 0
    for i, (path, code, broken) in enumerate(M, 1):
        full = os.path.join(ROOT, path)
        orig = open(full).read()
        if code not in orig:
            print(f"M{i:02d} STALE   {path}: {code.strip()[:60]!r} is no longer in the file")
            survivors += 1
            continue
        try:
            open(full, "w").write(orig.replace(code, broken, 1))
            if run(f"make -s BUILD={BUILD} {bins}") != 0:
                print(f"M{i:02d} NOBUILD {path}: {code.strip()[:60]!r}")
                survivors += 1
                continue
            killed = [t for t in TESTS if run(f"{BUILD}/tests/batcher/{t}") != 0]
        finally:
            open(full, "w").write(orig)
        verdict = "killed " if killed else "SURVIVED"
        survivors += not killed
        print(f"M{i:02d} {verdict} {path}: {code.strip()[:60]!r} by {' '.join(killed) or '-'}")
    run(f"make -s BUILD={BUILD} {bins}")  # leave the build matching the sources
    print(f"mutants: {len(M)} rules broken one at a time, {len(M) - survivors} caught")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
