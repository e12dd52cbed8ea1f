#!/bin/bash
# Benchmark: scale.yml adding one control-plane host and one worker to a running HA lab (3 stacked control-plane +
# etcd hosts behind the VIP, 1 worker; artifacts in the controller's download cache), then its no-op re-run. The
# new control-plane host is an etcd member too (the lab's etcd group holds the control plane); the running worker
# joins etcd as well, so etcd grows from 3 to 5 members (an even count is refused) - as in Molecule `cluster`.
# Prints wall time and tasks run / changed per host. Figures only - nothing passes or fails.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benchmarks/lib.sh
. benchmarks/lib.sh
# shellcheck source=tools/lib/env.sh
. tools/lib/env.sh
echo "scale.yml: add 1 control-plane host + 1 worker to a 3 + 1 lab"
bench_fresh_lab 4
bench_run "build the 3 + 1 lab (site.yml)"
bash tools/testhosts.sh up ks-lab-5 "$KS_PREFIX.105" ks-lab-6 "$KS_PREFIX.106" >/dev/null
extra=.lab/scale-extra.yml
{
  echo "all:"
  echo "  children:"
  echo "    control_plane: {hosts: {ks-lab-5: {ansible_host: $KS_PREFIX.105}}}"
  echo "    workers: {hosts: {ks-lab-6: {ansible_host: $KS_PREFIX.106}}}"
  echo "    etcd: {hosts: {ks-lab-4: {}}}"
} >"$extra"
KS_BENCH_PLAY=scale.yml bench_run "add 1 control plane + 1 worker, etcd 3 -> 5" -i "$extra"
KS_BENCH_PLAY=scale.yml bench_run "re-run (nothing to add)" -i "$extra"
bash tools/lab down
