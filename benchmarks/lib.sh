# shellcheck shell=bash
# Shared by the benchmark scripts: time one converge of the lab and print the per-host recap.
bench_run() {  # bench_run LABEL [ansible-playbook args...]; the environment passes through (e.g. KS_MITOGEN);
  # KS_BENCH_PLAY=upgrade.yml times that playbook instead of site.yml
  local label=$1 log start end
  shift
  log=$(mktemp /tmp/ks-bench-XXXX.log)
  start=$(date +%s.%N)
  if [ -n "${KS_BENCH_PLAY:-}" ]; then set -- play "$KS_BENCH_PLAY" "$@"; else set -- converge "$@"; fi
  bash tools/lab "$@" >"$log" 2>&1 || { tail -n 40 "$log"; echo "converge failed"; rm -f "$log"; exit 1; }
  end=$(date +%s.%N)
  awk -v l="$label" -v s="$start" -v e="$end" 'BEGIN { printf "%-34s %6.1f s\n", l, e - s }'
  sed -n '/PLAY RECAP/,$p' "$log" | grep -E '^ks-' |
    awk '{printf "  %-12s tasks run=%s changed=%s\n", $1, substr($3,4), substr($4,9)}'
  rm -f "$log"
}

bench_fresh_lab() {  # bench_fresh_lab N: N new lab hosts, nothing converged yet
  bash tools/lab down
  KS_LAB_NO_CONVERGE=1 bash tools/lab up "$1" >/dev/null
}
