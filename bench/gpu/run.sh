#!/bin/sh
# Issue 18, item 4: every GPU figure in one run, on a GPU machine with no network and no Node.js,
# from the portable bundle (`npm run bundle`, then copy bundle/fisherflow-linux-x64 there):
#
#   sh BUNDLE/app/bench/gpu/run.sh BUNDLE [OUT]    # OUT defaults to ./gpu-bench-<date>; ~6 minutes on one H200
#
# 1. the machine: nvidia-smi, CPU, the WebGPU adapter Dawn finds (through the bundled Vulkan loader);
# 2. data: the seed notebook's 200 SST-2 rows (dev, shuffle seed 42), 512 training rows, tokenized
#    with bert-base-cased by fisherflow's own load and tokenize stages;
# 3. BERT-base Fisher (random weights, vocab 28,999, the fim computation, batch 16): 200 rows on
#    webgpu, 24 rows on the CPU of the same machine (wasm, + OpenBLAS if installed) for the ratio;
# 4. BERT-base training throughput (AdamW, batch 32, 2 epochs, the second one warm): 512 rows on
#    webgpu, 32 on the CPU;
# 5. the demo (pipelines/demo.yaml) end to end with --gpus 0, then on the CPU alone.
# Writes OUT/results.md (for bench/README.md), one JSON per measurement and every log. A failing
# step is recorded and the next one runs. GPU_BENCH_SMALL=1 shrinks every size (a dry run on any
# machine; bench/README.md).
set -u
if [ $# -lt 1 ] || [ ! -x "$1/fisherflow" ]; then echo "usage: sh run.sh BUNDLE_DIR [OUT_DIR]" >&2; exit 2; fi
BUNDLE=$(CDPATH= cd -- "$1" && pwd)
OUT=${2:-$PWD/gpu-bench-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT" && OUT=$(CDPATH= cd -- "$OUT" && pwd) && cd "$OUT" || exit 2
FF="$BUNDLE/fisherflow"
M="$BUNDLE/app/dist/bench/gpu/measure.js"
DATA_DIR="$BUNDLE/app/data"
if [ "${GPU_BENCH_SMALL:-0}" = 1 ]; then
  FISHER_ROWS=12 CPU_FISHER_ROWS=4 TRAIN_ROWS=16 CPU_TRAIN_ROWS=8 DEMO="--set train_sentences=120 --set train.epochs=1 --set model.hidden_size=16 --set model.num_hidden_layers=1 --set model.intermediate_size=32 --set examples=24"
  MODEL="--small"
else
  FISHER_ROWS=200 CPU_FISHER_ROWS=24 TRAIN_ROWS=512 CPU_TRAIN_ROWS=32 DEMO="" MODEL=""
fi

step() { echo "== $(date +%H:%M:%S) $*"; }
# measure NAME ARGS...: one JSON line into NAME.json, everything else into NAME.log
measure() {
  name=$1; shift
  step "$name"
  if "$FF" --node "$M" "$@" > "$name.json" 2> "$name.log"; then tail -n 1 "$name.json"; else echo "   failed (see $OUT/$name.log)"; rm -f "$name.json"; fi
}

step "machine"
{ date; uname -a; nvidia-smi 2>&1; } > machine.txt
measure machine machine

step "data: SST-2 rows tokenized with bert-base-cased"
cat > data.yaml <<EOF
stages:
  dev: { uses: load, with: { path: $DATA_DIR/sst2/dev.tsv, shuffle_seed: 42, take: 200 } }
  dev-tok: { uses: tokenize, with: { data: "\${{ stages.dev.outputs.data }}", tokenizer: $DATA_DIR/bert-base-cased, add_tokens: [zeroa, onea, synt] } }
  train: { uses: load, with: { path: $DATA_DIR/sst2/train.tsv.gz, shuffle_seed: 0, take: 512 } }
  train-tok: { uses: tokenize, with: { data: "\${{ stages.train.outputs.data }}", tokenizer: $DATA_DIR/bert-base-cased, add_tokens: [zeroa, onea, synt] } }
EOF
"$FF" run data.yaml > data.log 2>&1 || { echo "data preparation failed: $OUT/data.log"; exit 1; }
DEV=$("$FF" show dev-tok.data data.yaml)
TRAIN=$("$FF" show train-tok.data data.yaml)

measure model model "$OUT/bert-base" $MODEL
measure fisher-webgpu fisher "$OUT/bert-base" "$DEV" --rows "$FISHER_ROWS" --batch 16 --backend webgpu
measure fisher-cpu fisher "$OUT/bert-base" "$DEV" --rows "$CPU_FISHER_ROWS" --batch 4 --backend wasm --warmup 2
measure train-webgpu train "$OUT/bert-base" "$TRAIN" --rows "$TRAIN_ROWS" --batch 32 --backend webgpu
measure train-cpu train "$OUT/bert-base" "$TRAIN" --rows "$CPU_TRAIN_ROWS" --batch 8 --backend wasm

# The demo end to end, each in a fresh workspace: --gpus 0 (auto picks webgpu on a hardware adapter), then CPU alone.
for mode in gpu cpu; do
  step "demo ($mode)"
  mkdir -p "demo-$mode" && cp "$BUNDLE/app/pipelines/demo.yaml" "demo-$mode/demo.yaml"
  set -- run demo.yaml --set "sst2_train=$DATA_DIR/sst2/train.tsv.gz" --set "sst2_dev=$DATA_DIR/sst2/dev.tsv" --set "tokenizer=$DATA_DIR/bert-base-cased"
  if [ "$mode" = gpu ]; then set -- "$@" --gpus 0; else set -- "$@" --gpus none; fi
  start=$(date +%s)
  # shellcheck disable=SC2086 # DEMO holds several --set arguments
  if (cd "demo-$mode" && "$FF" "$@" $DEMO > run.log 2>&1); then
    echo "$(( $(date +%s) - start )) s wall, \`fisherflow $* $DEMO\`" > "demo-$mode.time"
  else
    echo "failed after $(( $(date +%s) - start )) s, see demo-$mode/run.log" > "demo-$mode.time"
  fi
  # What the model stages ran on, and their speeds (every stage log of the run).
  grep -h -E '^backend|^webgpu not used|^fim: .*examples/s|^epoch .*ex/s' "demo-$mode"/artifacts/logs/*.log 2>/dev/null | sort | uniq -c | sed 's/^/    /' >> "demo-$mode.time"
  cat "demo-$mode.time"
done

"$FF" --node "$M" summarize "$OUT" > results.md
step "done: $OUT/results.md"
cat results.md
