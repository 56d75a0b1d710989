# pgfold: one non-recursive Makefile. Every folder is a module; new .c files are picked up
# by wildcard, so adding a unit means adding a file, not a rule.
#
#   make            build build/pgfold
#   make test       install missing packages, build, unit tests, integration tests
#   make unit       unit tests only (cmocka)
#   make memcheck   the unit tests under valgrind memcheck (BUILD/memcheck/)
#   make asan       the whole suite under AddressSanitizer + UBSan (build-asan/)
#   make demo       the seed's N+1 loop direct and through pgfold, with statement counts
#   make format     clang-format every C file
#   make install    PREFIX=/usr/local DESTDIR= : the binary, a sample config and a systemd unit
#   make bench      side-by-side figures: direct, pgfold, PgBouncer, with injected latency
#   make bench-quick  a two-minute subset
#   make fuzz       every libFuzzer target for FUZZ_SECONDS (300); fuzz-short: 20 s each
#   make soak       the differential test on random seeds for SOAK_SECONDS (600)

BUILD   ?= build
PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
PKGS    := libuv libpq inih openssl jansson
OPT     ?= -O2
SAN     ?=
CFLAGS  ?=
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wstrict-prototypes -g $(OPT) $(SAN)
CFLAGS  += -I. $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDFLAGS += $(SAN)

# One static archive per module, listed so that each depends only on those after it
# (docs/architecture.md). A module's archive is linked with the modules below it and their
# libraries, nothing else: the unit tests of pgwire/, parser/ and batcher/ are linked without
# libuv or proxy/, so a call that runs the wrong way fails the link, and scripts/layers.sh
# fails the build on an include that does.
MODULES := proxy batcher parser config pgwire
LIBS_pgwire  :=
LIBS_config  := $(shell pkg-config --libs libpq inih 2>/dev/null)
# -lc first: libpg_query exports PostgreSQL's own byte-by-byte strnlen, and a library loaded
# ahead of libc would interpose it on every caller in the process (seen in callgrind).
LIBS_parser  := -lc -lpg_query
LIBS_batcher :=
LIBS_proxy   := $(shell pkg-config --libs libuv openssl jansson 2>/dev/null) -lpthread
# The archives and libraries a program built on module $(1) links, in link order.
mod_chain  = $(wordlist $(call mod_index,$(1)),99,$(MODULES))
mod_index  = $(words $(call upto,$(1),$(MODULES)))
upto       = $(if $(filter $(1),$(firstword $(2))),$(firstword $(2)),$(firstword $(2)) $(call upto,$(1),$(wordlist 2,99,$(2))))
mod_archives = $(foreach m,$(call mod_chain,$(1)),$(BUILD)/lib$(m).a)
mod_libs     = -lc $(foreach m,$(call mod_chain,$(1)),$(LIBS_$(m))) -lm
LDLIBS  := $(call mod_libs,proxy)

MOD_SRC    = $(filter-out proxy/main.c,$(wildcard $(1)/*.c))
CORE_SRC  := $(foreach m,pgwire config parser batcher,$(call MOD_SRC,$(m)))
PROXY_SRC := $(call MOD_SRC,proxy)
UNIT_SRC  := $(wildcard tests/unit/*/test_*.c)
UNIT_BIN  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
TOOL_SRC  := $(wildcard tests/tools/*.c)
TOOL_BIN  := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRC))
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

.PHONY: all deps test unit integration asan demo format clean tools bench bench-quick install layers mutants

all: layers $(BUILD)/pgfold

deps:
	@scripts/deps.sh

# Includes must run down the module list; checked on every build (cheap: one grep).
layers:
	@scripts/layers.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

define module_rule
$(BUILD)/lib$(1).a: $(patsubst %.c,$(BUILD)/%.o,$(call MOD_SRC,$(1)))
	@mkdir -p $$(dir $$@)
	@rm -f $$@
	$$(AR) rcs $$@ $$^
endef
$(foreach m,$(MODULES),$(eval $(call module_rule,$(m))))

$(BUILD)/pgfold: $(BUILD)/proxy/main.o $(call mod_archives,proxy)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# A unit test of module M (tests/unit/M/) links M and the modules below it, and cmocka.
define unit_rule
$(BUILD)/tests/$(1)/%: $(BUILD)/tests/unit/$(1)/%.o $(call mod_archives,$(1))
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $(call mod_libs,$(1)) $$(shell pkg-config --libs cmocka)
endef
$(foreach m,$(MODULES),$(eval $(call unit_rule,$(m))))

# A test build with fault hooks (PGFOLD_FAULT_HOOKS in proxy/fold_verify.c: corrupted answers for
# the shadow verification tests). Built with the tools, never installed.
$(BUILD)/hooks/proxy/fold_verify.o: proxy/fold_verify.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DPGFOLD_FAULT_HOOKS -MMD -MP -c $< -o $@

$(BUILD)/pgfold-hooks: $(BUILD)/proxy/main.o $(BUILD)/hooks/proxy/fold_verify.o $(call mod_archives,proxy)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tools/%: $(BUILD)/tests/tools/%.o $(call mod_archives,proxy)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# faultclient's subcommands live in tests/tools/fault/ (one file per family).
$(BUILD)/tools/faultclient: $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/tools/fault/*.c))

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(call mod_archives,proxy)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

tools: $(TOOL_BIN) $(BENCH_BIN) $(BUILD)/pgfold-hooks

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

# Every rule of the fold engine broken on purpose, one at a time: a test must catch each.
mutants:
	tests/unit/batcher/mutants.py

# Every client test runs in passthrough and again in rewrite mode: pgfold must be
# indistinguishable from PostgreSQL in both.
integration: $(BUILD)/pgfold $(TOOL_BIN)
	PGFOLD_MODE=passthrough PGT_SKIP="fold admin" tests/integration/run.sh $(BUILD)
	PGFOLD_MODE=rewrite tests/integration/run.sh $(BUILD)

test: deps
	$(MAKE) all unit tools
	$(MAKE) memcheck
	$(MAKE) integration
	$(MAKE) fuzz-short

asan: deps
	$(MAKE) BUILD=build-asan OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer" all unit tools
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	    $(MAKE) BUILD=build-asan OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer" integration

demo: deps all
	tests/demo/demo.sh $(BUILD)

bench: deps all tools
	bench/run.sh $(BUILD) full

bench-quick: deps all tools
	bench/run.sh $(BUILD) quick

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan

# make install (PREFIX, DESTDIR): contrib/install.mk, beside the files it installs.
include contrib/install.mk

# Test-only targets, kept beside their tests (-include: the Dockerfile copies no tests/).
-include tests/conformance/conformance.mk
-include tests/workloads/workloads.mk
-include tests/unit/memcheck.mk
-include tests/fuzz/fuzz.mk
-include tests/diff/diff.mk

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
