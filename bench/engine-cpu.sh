#!/usr/bin/env bash
# CPU time of a whole `fisherflow run` — the engine and every process it starts, guards included
# (they leave the engine's process tree, not its cgroup) — on the fan-out pipeline of
# bench/schedule.ts: one root command stage and N-1 `cat` leaves. Interleaves the checkouts given,
# ROUNDS times, and prints one line per run. Linux, root, cgroup v1 cpuacct.
#
#   bench/engine-cpu.sh [-n STAGES] [-r ROUNDS] CHECKOUT...     e.g. bench/engine-cpu.sh /work/main .
set -euo pipefail
n=300 rounds=3
while getopts n:r: o; do case $o in n) n=$OPTARG ;; r) rounds=$OPTARG ;; *) exit 2 ;; esac; done
shift $((OPTIND - 1))
acct=/sys/fs/cgroup/cpuacct
[ -w "$acct" ] || { echo "needs root and $acct (cgroup v1)" >&2; exit 2; }
echo "# $n stages, $(uptime)"
for r in $(seq "$rounds"); do
  for repo in "$@"; do
    ws=$(mktemp -d /tmp/ff-engine-cpu-XXXX) && mkdir "$ws/.git"
    {
      echo "params:"; echo "  items: [$(seq -s, 1 $((n - 1)))]"; echo "stages:"
      echo "  root:"; echo "    run: echo root > root.txt"; echo "    outs: [root.txt]"
      echo "  leaf:"; echo '    foreach: ${{ params.items }}'; echo '    run: cat root.txt > leaf-${{ item }}.txt'
      echo '    deps: [root.txt]'; echo '    outs: ["leaf-${{ item }}.txt"]'
    } > "$ws/fisherflow.yaml"
    cg=$acct/ff-engine-cpu-$$-$r && mkdir "$cg"
    t0=$(date +%s%N)
    bash -c "echo \$\$ > $cg/tasks; cd $ws && exec node $(cd "$repo" && pwd)/bin/fisherflow.js run -j 2 --json > /dev/null"
    t1=$(date +%s%N)
    sleep 0.5 # let the last stage's guard die
    awk -v repo="$repo" -v n="$n" -v wall=$(((t1 - t0) / 1000000)) '{ printf "%s  cpu %.2f s (%.1f ms/stage)  wall %.1f s\n", repo, $1 / 1e9, $1 / 1e6 / n, wall / 1000 }' "$cg/cpuacct.usage"
    rmdir "$cg"; rm -rf "$ws"
  done
done
echo "# $(uptime)"
