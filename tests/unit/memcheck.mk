# make memcheck: every unit test binary under valgrind's memcheck. Included by the Makefile.
#
# ASan (make asan) and memcheck overlap but are not the same net: memcheck sees reads of
# uninitialised memory (ASan does not; MSan would, but needs an instrumented libc), and it runs
# the binaries as the linker made them, without sanitizer runtimes. It builds its own copy of the
# library and tests without sanitizers at -O1 -g into $(BUILD)/memcheck: objects built with
# other flags must never be mixed in, and make does not track flags, so the copy lives apart
# from $(BUILD)'s own objects (which the pgfold binary is linked from).
#
# Any memcheck error, any definite, indirect or possible leak, or any failing test fails the
# target. Every binary runs even after one fails; the failures are listed at the end.
#
# tests/unit/valgrind.supp, when present, holds suppressions for proven third-party noise only,
# each with a comment saying why it is not ours. Today there is none and the file does not exist:
# libpg_query's per-thread memory contexts are freed by shape_thread_exit(), which the parser
# tests call, and cmocka frees what it allocates.

MEMCHECK_BUILD := $(BUILD)/memcheck
MEMCHECK_SUPP  := $(wildcard tests/unit/valgrind.supp)
MEMCHECK_BIN   := $(patsubst tests/unit/%.c,$(MEMCHECK_BUILD)/tests/%,$(UNIT_SRC))
VALGRIND       := valgrind --tool=memcheck --leak-check=full \
                  --show-leak-kinds=definite,indirect,possible \
                  --errors-for-leak-kinds=definite,indirect,possible \
                  --error-exitcode=99 --track-origins=yes --quiet \
                  $(addprefix --suppressions=,$(MEMCHECK_SUPP))

.PHONY: memcheck memcheck-bins

memcheck:
	@command -v valgrind >/dev/null || { echo "memcheck: valgrind not installed (make deps)"; exit 1; }
	$(MAKE) BUILD=$(MEMCHECK_BUILD) OPT="-O1" SAN= memcheck-bins
	@failed=; for t in $(MEMCHECK_BIN); do \
	    echo "== memcheck $$t"; \
	    $(VALGRIND) $$t || failed="$$failed $$(basename $$t)(exit $$?)"; \
	done; \
	if [ -n "$$failed" ]; then echo "memcheck FAILED:$$failed"; exit 1; fi; \
	echo "memcheck: $(words $(MEMCHECK_BIN)) unit test binaries clean"

# Runs in the sub-make, where $(BUILD) is $(MEMCHECK_BUILD): builds, does not run.
memcheck-bins: $(UNIT_BIN)
