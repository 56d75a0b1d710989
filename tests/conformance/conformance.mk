# make conformance: two PostgreSQL drivers' own test suites (psycopg 3.1.7; node-postgres
# pg@8.23.0 with pg-cursor, pg-query-stream, pg-pool) run direct, through pgfold passthrough and
# through pgfold rewrite; prints every test whose outcome differs from direct and fails if any
# does. Not part of make test (about 30 minutes on 2 cores). docs/conformance.md.
#
#   make conformance [PGFOLD_BIN=path] [PSYCOPG_SRC=checkout] [NODEPG_SRC=checkout]
#                    [CONF_SUITES="psycopg pg ..."] [CONF_MODES="direct rewrite"] [CONF_OUT=dir]
#
# PGFOLD_BIN given: that binary is tested and nothing is built. Command-line variables reach
# tests/conformance/run.sh through the environment (its header lists them all).
.PHONY: conformance
conformance: deps $(if $(PGFOLD_BIN),,$(BUILD)/pgfold)
	PGFOLD_BIN="$(or $(PGFOLD_BIN),$(BUILD)/pgfold)" tests/conformance/run.sh $(BUILD)
