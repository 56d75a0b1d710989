# tests/diff/diff.mk: the long form of the differential test (docs/differential.md).
# The Makefile includes it:   include tests/diff/diff.mk
#
#   make soak                              random seeds for SOAK_SECONDS (600) against $(BUILD)/pgfold
#   make soak SOAK_SECONDS=3600 SOAK_JOBS=2
#   make soak BUILD=build-asan             the same against the sanitizer build (make asan builds it)
#
# A failure prints its seed; tests/diff/difftest.py --seed N replays it (starting its own
# PostgreSQL and pgfold instances, with BUILD=dir or PGFOLD_BIN=path for the binary).

SOAK_SECONDS ?= 600
SOAK_JOBS    ?= 1

.PHONY: soak
soak: all
	BUILD=$(BUILD) SOAK_SECONDS=$(SOAK_SECONDS) SOAK_JOBS=$(SOAK_JOBS) tests/diff/soak.sh
