#!/bin/bash
# Where a converge of the existing lab spends its time: runs site.yml (or KS_BENCH_PLAY) once with the
# ansible.posix.profile_tasks callback and prints wall time, tasks per host, the costliest tasks and the time per
# role. Figures only - nothing passes or fails. Needs a lab (tools/lab up N); on a converged lab this profiles the
# no-op re-run.
#   benchmarks/profile.sh [TOP, default 15] [ansible-playbook args...]
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=${1:-15}
shift || true
[ -f .lab/hosts.yml ] || { echo "no lab: run tools/lab up N first" >&2; exit 2; }
log=$(mktemp /tmp/ks-profile-XXXX.log)
trap 'rm -f "$log"' EXIT
if [ -n "${KS_BENCH_PLAY:-}" ]; then set -- play "$KS_BENCH_PLAY" "$@"; else set -- converge "$@"; fi
start=$(date +%s.%N)
ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks PROFILE_TASKS_TASK_OUTPUT_LIMIT=all PROFILE_TASKS_SORT_ORDER=descending \
  bash tools/lab "$@" >"$log" 2>&1 || { tail -n 40 "$log"; echo "converge failed"; exit 1; }
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" -v l="$(cut -d' ' -f1 /proc/loadavg)" \
  'BEGIN { printf "wall %.1f s (load average at the end: %s)\n", e - s, l }'
sed -n '/PLAY RECAP/,/^$/p' "$log" | grep -E '^ks-' |
  awk '{printf "  %-12s tasks run=%s changed=%s skipped=%s\n", $1, substr($3,4), substr($4,9), substr($7,9)}'
# profile_tasks lines: "<role> : <task name> ----- 1.23s" (a task counted once per run of it, all hosts together)
tasks=$(sed -n '/^TASKS RECAP/,$p' "$log" | grep -E ' -+ [0-9.]+s$' || true)
echo "costliest $TOP tasks:"
printf '%s\n' "$tasks" | head -n "$TOP" | sed 's/^/  /'
echo "time per role (sum of its tasks):"
printf '%s\n' "$tasks" | awk '{ t = $NF; sub(/s$/, "", t); role = ($0 ~ / : /) ? $1 : "(play)"; sum[role] += t; n[role]++ }
  END { for (r in sum) printf "  %-36s %6.1f s  %3d tasks\n", r, sum[r], n[r] }' | sort -k2 -rn
