#!/bin/bash
# Benchmark: wall time of site.yml on fresh lab hosts, of the no-op re-run (plain ssh + pipelining,
# then the Mitogen strategy), and tasks executed per host. Figures only - nothing passes or fails.
#   benchmarks/node.sh [N hosts, default 3]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benchmarks/lib.sh
. benchmarks/lib.sh
N=${1:-3}
bench_fresh_lab "$N"
echo "site.yml on $N lab hosts (ssh + pipelining, artifacts cached on the controller after the first run)"
bench_run "converge (fresh hosts)"
bench_run "re-run (no-op)"
KS_MITOGEN=1 bench_run "re-run, Mitogen"
bash tools/lab down
