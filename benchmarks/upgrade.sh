#!/bin/bash
# Benchmark: playbooks/upgrade.yml on a lab HA cluster (3 stacked control-plane + etcd hosts, 1 worker) built on
# v1.20.2 / etcd 3.4.23 / containerd 1.6.20, rolled to v1.20.2+kubesmith.1 / etcd 3.5.16 / containerd 1.7.24 (the
# mirror's second build), then the no-op re-run. Prints wall time, time per node, tasks per host. Figures only.
# Target: <= 60 s per node beyond drain time (the lab's nodes run no pods to drain: the figure is all overhead).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benchmarks/lib.sh
. benchmarks/lib.sh
NODES=4
echo "upgrade of a ${NODES}-node HA lab cluster (target: <= 60 s per node beyond drain time)"
bench_fresh_lab "$NODES"
bench_run "build the cluster (site.yml)" >/dev/null
targets=(-e kube_version=1.20.2+kubesmith.1 -e etcd_version=3.5.16 -e containerd_version=1.7.24)
start=$(date +%s.%N)
KS_BENCH_PLAY=upgrade.yml bench_run "upgrade (ssh + pipelining)" "${targets[@]}"
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" -v n="$NODES" 'BEGIN { printf "%-34s %6.1f s\n", "per node", (e - s) / n }'
KS_BENCH_PLAY=upgrade.yml bench_run "no-op re-run (ssh + pipelining)" "${targets[@]}"
bash tools/lab down
