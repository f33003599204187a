#!/usr/bin/env bash
# Fuzzes every input format the trainer reads (scripts/cmake/Fuzz.cmake, tests/*/fuzz/):
#   config_pipeline        pipeline config text with --override's     tests/config/fuzz/
#   data_tfrecord_example  TFRecord framing + tf.train.Example         tests/data/fuzz/*/tfrecord_example
#   data_label_map         label map (StringIntLabelMap text)          tests/data/fuzz/*/label_map
#   data_image_decode      JPEG and PNG through decode_image           tests/data/fuzz/*/image_decode
#   data_idx               IDX (MNIST) images + labels, raw or gzip    tests/data/fuzz/*/idx
#   train_safetensors      safetensors checkpoints                     tests/train/fuzz/
#   eval_coco_json         COCO instances and results JSON             tests/eval/fuzz/
# Each has a corpus (grown by libFuzzer, minimised, files named by SHA-1) and, but the COCO one,
# seeds (hand-made and real files named for what they try, never minimised).
#
#   scripts/ci/fuzz.sh [-t CPU_SECONDS] [-j PARALLEL] [-m | -M] [-n] [TARGET...]
#
# Configures and builds build-fuzz/ with clang, libFuzzer, ASan and UBSan (-DTRAINER_FUZZ=ON,
# everything instrumented), then runs each TARGET (default: all) until it has used CPU_SECONDS
# of CPU time (default 600; CPU, not wall, time so that a busy machine does not shorten the
# run), PARALLEL at a time (default 2), at nice 19. Each run starts from the committed corpus
# and grows a working copy in build-fuzz/fuzz/<target>/corpus; its log, with libFuzzer's final
# statistics (executions, coverage), is build-fuzz/fuzz/<target>/log. A finding (crash, leak,
# sanitizer report, timeout, out-of-memory) is written to build-fuzz/fuzz/<target>/ and ends the
# run with an error: fix the parser, keep the input among the seeds as a regression.
# With -m the working corpus is merged, minimised (libFuzzer -merge=1), into the committed one;
# -M only merges, fuzzing nothing.
# With -n nothing is configured or built (the binaries are already there).
#
# CI does not run this: every build's ctest replays the committed corpora
# (ctest -R '\.fuzz\.', GCC included), which is the regression check.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build="$root/build-fuzz"
cpu_seconds=600
parallel=2
merge=0
fuzz=1
build_first=1
while getopts "t:j:mMn" opt; do
  case $opt in
    t) cpu_seconds=$OPTARG ;;
    j) parallel=$OPTARG ;;
    m) merge=1 ;;
    M) merge=1 fuzz=0 ;;
    n) build_first=0 ;;
    *) sed -n '2,30p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))

declare -A corpus=(
  [config_pipeline]=tests/config/fuzz/corpus
  [data_tfrecord_example]=tests/data/fuzz/corpus/tfrecord_example
  [data_label_map]=tests/data/fuzz/corpus/label_map
  [data_image_decode]=tests/data/fuzz/corpus/image_decode
  [data_idx]=tests/data/fuzz/corpus/idx
  [train_safetensors]=tests/train/fuzz/corpus
  [eval_coco_json]=tests/eval/fuzz/corpus
)
# A target's seeds sit beside its corpus (.../fuzz/seeds[/x] for .../fuzz/corpus[/x]); nothing
# for a target without any.
seeds_of() {
  local d=$root/${corpus[$1]/\/corpus/\/seeds}
  [[ -d $d ]] && echo "$d"
  return 0
}
# The committed inputs of a target, the folders that exist.
inputs() {
  [[ -d $root/${corpus[$1]} ]] && echo "$root/${corpus[$1]}"
  seeds_of "$1"
}
# The largest input worth trying: a little over the largest seed.
declare -A max_len=(
  [config_pipeline]=16384 [data_tfrecord_example]=4096 [data_label_map]=8192 [data_image_decode]=16384
  [data_idx]=4096 [train_safetensors]=8192 [eval_coco_json]=4096
)
# Targets whose parsers log warnings for every bad input run with their stderr closed (the
# findings still land in build-fuzz/fuzz/<target>/; replay one to see its report).
declare -A quiet=([data_tfrecord_example]=-close_fd_mask=2 [data_image_decode]=-close_fd_mask=2)
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(config_pipeline data_tfrecord_example data_label_map data_image_decode data_idx
                                       train_safetensors eval_coco_json)
for t in "${targets[@]}"; do
  [[ -n ${corpus[$t]:-} ]] || { echo "fuzz.sh: unknown target $t (known: ${!corpus[*]})" >&2; exit 2; }
done

if [[ $build_first == 1 ]]; then
  if [[ ! -f $build/build.ninja ]]; then
    CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTRAINER_CUDA=OFF \
      -DTRAINER_TESTS=ON -DTRAINER_FUZZ=ON
  fi
  ninja -C "$build" $(printf '%s_fuzz ' "${targets[@]}")
fi

binary() { find "$build/tests" -name "$1_fuzz" -type f -perm -u+x | head -1; }

# Dictionaries: the field names of the text-format schemas, the feature keys of the Examples.
dictionary() {
  local t=$1 out="$build/fuzz/$1/dict"
  case $t in
    config_pipeline | data_label_map)
      local protos="$root/src/config/proto"
      [[ $t == data_label_map ]] && protos="$root/src/data/proto/object_detection/protos/string_int_label_map.proto"
      grep -rhoE '^\s*(optional |repeated |required )?[A-Za-z0-9_.]+ [a-z][a-z0-9_]* = [0-9]+' $protos |
        awk '{print $(NF-2)}' | sort -u | sed 's/.*/"&"/' > "$out"
      grep -rhoE '^\s+[A-Z][A-Z0-9_]+ = [0-9]+' $protos | awk '{print $1}' | sort -u | sed 's/.*/"&"/' >> "$out" ;;
    data_tfrecord_example)
      grep -ohE '"image/[a-z_/]+"' "$root/src/data/tf_example.cpp" | sort -u > "$out" ;;
    *) return 0 ;;
  esac
  echo "-dict=$out"
}

# Runs one target until it has used $cpu_seconds of CPU time, then interrupts it (libFuzzer
# prints its final statistics on SIGINT).
run() {
  local t=$1 dir="$build/fuzz/$1"
  mkdir -p "$dir/corpus"
  local bin dict
  bin=$(binary "$t")
  dict=$(dictionary "$t")
  (
    cd "$dir"
    # The targets that read files write each input to $TMPDIR: memory, where there is some.
    [[ -d /dev/shm && -w /dev/shm ]] && export TMPDIR=/dev/shm
    nice -n 19 "$bin" -max_len="${max_len[$t]}" -rss_limit_mb=2048 -timeout=120 -print_final_stats=1 \
      -artifact_prefix="$dir/" $dict ${quiet[$t]:-} "$dir/corpus" $(inputs "$t") > "$dir/log" 2>&1 &
    local pid=$!
    while kill -0 "$pid" 2> /dev/null; do
      local used
      used=$(ps -o times= -p "$pid" 2> /dev/null | tr -d ' ' || true)
      if [[ -n $used && $used -ge $cpu_seconds ]]; then
        kill -INT "$pid"
        break
      fi
      sleep 5
    done
    wait "$pid" || true
  )
  local findings
  findings=$(find "$dir" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \))
  if [[ -n $findings ]] || grep -qE '^==[0-9]+== ?ERROR|^SUMMARY|deadly signal' "$dir/log"; then
    echo "fuzz.sh: $t FOUND A BUG: $(grep -m1 -E 'ERROR|SUMMARY|deadly' "$dir/log"); see $dir/log" $findings >&2
    return 1
  fi
  echo "fuzz.sh: $t: $(grep -E '^#[0-9]+' "$dir/log" | tail -1)"
  grep -E '^stat::' "$dir/log" | sed "s/^/fuzz.sh: $t: /"
}

failed=0
if [[ $fuzz == 1 ]]; then
  for t in "${targets[@]}"; do
    while [[ $(jobs -rp | wc -l) -ge $parallel ]]; do wait -n || failed=1; done
    run "$t" &
  done
  while [[ $(jobs -rp | wc -l) -gt 0 ]]; do wait -n || failed=1; done
fi

if [[ $merge == 1 && $failed == 0 ]]; then
  for t in "${targets[@]}"; do
    dir="$build/fuzz/$t" committed="$root/${corpus[$t]}"
    rm -rf "$dir/merged" && mkdir -p "$dir/merged" "$dir/corpus" "$committed"
    # The seeds go in first, so that the corpus keeps only what they do not already reach, and
    # are taken out again (they are committed apart).
    seed_dir=$(seeds_of "$t")
    [[ -n $seed_dir ]] && cp "$seed_dir"/* "$dir/merged"/
    [[ -d /dev/shm && -w /dev/shm ]] && export TMPDIR=/dev/shm
    nice -n 19 "$(binary "$t")" -merge=1 ${quiet[$t]:-} -max_len="${max_len[$t]}" -rss_limit_mb=2048 "$dir/merged" \
      "$committed" "$dir/corpus" > "$dir/merge.log" 2>&1
    [[ -n $seed_dir ]] && (cd "$seed_dir" && for f in *; do rm -f "$dir/merged/$f"; done)
    rm -rf "$committed" && mkdir -p "$committed"
    find "$dir/merged" -maxdepth 1 -type f -exec cp {} "$committed"/ \;
    echo "fuzz.sh: $t: $(ls "$committed" | wc -l) inputs in ${corpus[$t]}, $(du -sh "$committed" | cut -f1)"
  done
fi
exit $failed
