# tests/fuzz/fuzz.mk: libFuzzer targets (docs/fuzzing.md). Included by the top Makefile, after
# CORE_SRC, PROXY_SRC, PKGS and LDLIBS are defined.
#
#   make fuzz            every target for FUZZ_SECONDS (default 300) on a copy of its corpus
#   make fuzz-short      the same, 20 s per target (part of make test)
#   make fuzz-regress    every target once over tests/fuzz/regress/<t>/ and its corpus, no fuzzing
#   make fuzz-build      build only
#
#   FUZZ_TARGETS="wire session"  a subset; FUZZ_SECONDS=N; FUZZ_ARGS="-only_ascii=1" extra flags
#
# Everything is built with clang into $(BUILD)/fuzz/: the library objects (instrumented with
# -fsanitize=fuzzer-no-link plus ASan/UBSan) in $(BUILD)/fuzz/obj, apart from gcc's objects.
# libFuzzer only ever writes new inputs into a temporary corpus folder (tests/fuzz/run.sh);
# the committed corpora are read-only inputs.

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 300
FUZZ_SHORT_SECONDS ?= 20
FUZZ_TARGETS ?=
FUZZ_ARGS    ?=
FUZZ_DIR     := $(BUILD)/fuzz
# Every UBSan report aborts.
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
                -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wstrict-prototypes -g -O1 \
                -I. $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(FUZZ_SAN) \
                -fsanitize=fuzzer-no-link
# The transport (sockets, threads, TLS) is not fuzzed here: no target links it, so it is not
# built either.
FUZZ_NOT_LIB := proxy/conn.c proxy/worker.c proxy/listener.c proxy/tls.c
FUZZ_LIB_OBJ := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(CORE_SRC) $(filter-out $(FUZZ_NOT_LIB),$(PROXY_SRC)))
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_ALL     := $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_SRC))
FUZZ_BIN     := $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_ALL))
FUZZ_RUN     := tests/fuzz/run.sh $(FUZZ_DIR)

.PHONY: fuzz fuzz-short fuzz-regress fuzz-build

# A shorter stem than $(BUILD)/%.o, so make prefers this rule for these objects. They depend on
# this file too: make does not track flags, and objects built with other flags must not mix.
$(FUZZ_DIR)/obj/%.o: %.c tests/fuzz/fuzz.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_DIR)/libpgfold.a: $(FUZZ_LIB_OBJ)
	@mkdir -p $(dir $@)
	@rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/tests/fuzz/fuzz_%.o $(FUZZ_DIR)/libpgfold.a
	$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $^ $(LDLIBS)

fuzz-build: $(FUZZ_BIN)

fuzz: $(FUZZ_BIN)
	FUZZ_ARGS="$(FUZZ_ARGS)" $(FUZZ_RUN) fuzz $(FUZZ_SECONDS) $(or $(FUZZ_TARGETS),$(FUZZ_ALL))

fuzz-short: $(FUZZ_BIN)
	FUZZ_ARGS="$(FUZZ_ARGS)" $(FUZZ_RUN) fuzz $(FUZZ_SHORT_SECONDS) $(or $(FUZZ_TARGETS),$(FUZZ_ALL))

fuzz-regress: $(FUZZ_BIN)
	$(FUZZ_RUN) regress 0 $(or $(FUZZ_TARGETS),$(FUZZ_ALL))
