# tests/workloads/workloads.mk, included by the top Makefile (-include).
#
#   make workloads          the workloads integration test alone (tests/integration/t_workloads.sh:
#                           every endpoint N+1 direct, N+1 through pgfold, hand-optimized direct)
#   make workloads-bench    tests/workloads/bench.sh at WL_RTT_MS (default 1) ms of injected
#                           round trip, WL_REPS runs per path (default 3)
WL_RTT_MS ?= 1
WL_REPS ?= 3

.PHONY: workloads workloads-bench

workloads: deps $(BUILD)/pgfold
	PGFOLD_MODE=rewrite tests/integration/run.sh $(BUILD) workloads

workloads-bench: deps $(BUILD)/pgfold $(BUILD)/bench/relay
	tests/workloads/bench.sh --build $(BUILD) --rtt-ms $(WL_RTT_MS) --reps $(WL_REPS)
