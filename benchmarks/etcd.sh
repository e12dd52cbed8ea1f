#!/bin/bash
# Benchmark: a 3-member TLS etcd from nothing (preflight + PKI + etcd on fresh lab hosts), then the
# no-op re-run, over ssh + pipelining and under Mitogen. Figures only - nothing passes or fails.
# Targets: from nothing <= 40 s, re-run <= 10 s with 0 changed (Kubespray on the same hosts: 76 s / 43 s).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benchmarks/lib.sh
. benchmarks/lib.sh
TAGS=(--tags preflight,pki,etcd)
echo "3-member TLS etcd on lab hosts (target: from nothing <= 40 s, re-run <= 10 s; Kubespray 76 s / 43 s)"
bench_fresh_lab 3
bench_run "from nothing (ssh + pipelining)" "${TAGS[@]}"
bench_run "re-run (ssh + pipelining)" "${TAGS[@]}"
KS_MITOGEN=1 bench_run "re-run (Mitogen)" "${TAGS[@]}"
bench_fresh_lab 3
KS_MITOGEN=1 bench_run "from nothing (Mitogen)" "${TAGS[@]}"
bash tools/lab down
