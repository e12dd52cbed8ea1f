#!/bin/bash
# Benchmark: wall time of the site.yml converge (preflight + node + containerd) on fresh lab
# hosts, of the no-op re-run (plain ssh + pipelining, then the Mitogen strategy), and tasks executed
# per host. Figures only - nothing passes or fails.
#   benchmarks/node.sh [N hosts, default 3]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-3}
bash tools/lab down
KS_LAB_NO_CONVERGE=1 bash tools/lab up "$N" >/dev/null

run() {  # run LABEL: converge, print wall time and the per-host recap (env passes through, e.g. KS_MITOGEN)
  local label=$1 log start end
  log=$(mktemp /tmp/ks-bench-XXXX.log)
  start=$(date +%s.%N)
  bash tools/lab converge >"$log" 2>&1 || { tail -n 40 "$log"; echo "converge failed"; exit 1; }
  end=$(date +%s.%N)
  awk -v l="$label" -v s="$start" -v e="$end" 'BEGIN { printf "%-22s %6.1f s\n", l, e - s }'
  sed -n '/PLAY RECAP/,$p' "$log" | grep -E '^ks-' | awk '{printf "  %-12s tasks run=%s changed=%s\n", $1, substr($3,4), substr($4,9)}'
  rm -f "$log"
}
echo "site.yml on $N lab hosts (ssh + pipelining, artifacts cached on the controller after the first run)"
run "converge (fresh hosts)"
run "re-run (no-op)"
KS_MITOGEN=1 run "re-run, Mitogen"
bash tools/lab down
