#!/usr/bin/env bash
# libFuzzer + AddressSanitizer fuzzing of CityGate's parsers and decoders (docs/reliability.md, issue 8 item 2).
#
#   scripts/fuzz.sh --short                 every target ~25 s (CI-sized); fails on any crash, timeout or OOM,
#                                           and on a target that executed no input
#   scripts/fuzz.sh --long                  every target until 1,000,000 executions (capped at 2 h each); also fails
#                                           on a target that did not reach 1,000,000
#   scripts/fuzz.sh --time 600              every target for 600 s
#   scripts/fuzz.sh --runs 5000000          every target until 5,000,000 executions (same cap as --long)
#   scripts/fuzz.sh --targets coap,wal ...  only those targets (default: all)
#   scripts/fuzz.sh --no-build ...          reuse the binaries already built
#   scripts/fuzz.sh --list                  the targets and their entry files
#
# Recipe (../shared/testing/RELIABILITY.md §1): the project's modules and their dependencies are built once with
# `swift build -c release --build-path .build-fuzz -Xswiftc -sanitize=fuzzer,address` (a separate build path, so the
# normal .build is never touched), archived per module, and each entry file of Tests/Fuzz is compiled with
# `swiftc -O -sanitize=fuzzer,address -parse-as-library` against those modules: no SwiftPM executable target, so
# libFuzzer's main is the one that runs (Swift's own main would exit at once and run 0 inputs). Fuzzers run with
# SWIFT_BACKTRACE=enable=no (the Swift backtracer trips ASan) and -print_final_stats=1, and a run whose
# stat::number_of_executed_units is 0 fails. Leak detection is off (see ASAN_OPTIONS below).
#
# Each target starts from the seeds its entry file writes (CITYGATE_FUZZ_WRITE_SEEDS: shipped profiles and their
# test vectors, configs, rule files, CoAP frames, push bodies, WAL files and segments written by the store's own
# writers; ../shared/device-vectors when present) plus the corpus earlier runs kept in .build-fuzz/fuzz/corpus, and a
# dictionary made from the string literals of the code it fuzzes. Crashers are copied to Tests/Fuzz/FailCases/<target>/
# (replayed by `swift test --filter FuzzReplayTests`). Targets run one after another: the machine has two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=.build-fuzz
WORK=$BUILD/fuzz

ALL_TARGETS=(profile-decode profile-yaml rules-yaml config-yaml coap push wal segment json expression)
declare -A ENTRY=(
    [profile-decode]=FuzzProfileDecode [profile-yaml]=FuzzProfileYAML [rules-yaml]=FuzzRulesYAML
    [config-yaml]=FuzzConfigYAML [coap]=FuzzCoAP [push]=FuzzPush [wal]=FuzzWAL [segment]=FuzzSegment
    [json]=FuzzJSON [expression]=FuzzExpression
)
# Where each target's dictionary words come from (string literals of the code it fuzzes).
# Longest input per target: the YAML loaders are slow per byte (Yams), so they get short inputs and small seeds cut
# from the shipped files; the others use libFuzzer's default (the longest seed, at least 4096).
declare -A MAX_LEN=([profile-yaml]=1024 [rules-yaml]=1024 [config-yaml]=1024)
declare -A DICT_SOURCES=(
    [profile-decode]="Sources/DeviceProfiles" [profile-yaml]="Sources/DeviceProfiles"
    [rules-yaml]="Sources/Alerts/Rules" [config-yaml]="Sources/Gateway/GatewayConfiguration*.swift"
    [push]="Sources/PushIngest" [json]="Sources/DeviceProfiles/JSONParser.swift Sources/DeviceProfiles/JSONPath.swift"
    [expression]="Sources/DeviceProfiles/Expression.swift"
)

MODE=short
SECONDS_EACH=25
RUNS=0
CAP=7200
BUILD_FIRST=1
TARGETS=("${ALL_TARGETS[@]}")

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --short) MODE=short; SECONDS_EACH=25 ;;
        --long) MODE=long; RUNS=1000000 ;;
        --time) MODE=time; SECONDS_EACH="${2:?--time needs seconds}"; shift ;;
        --runs) MODE=long; RUNS="${2:?--runs needs a count}"; shift ;;
        --targets) IFS=, read -r -a TARGETS <<< "${2:?--targets needs a list}"; shift ;;
        --no-build) BUILD_FIRST=0 ;;
        --list) for t in "${ALL_TARGETS[@]}"; do echo "$t  Tests/Fuzz/${ENTRY[$t]}.swift"; done; exit 0 ;;
        -h|--help) usage 0 ;;
        *) echo "fuzz.sh: unknown argument '$1'" >&2; usage 2 >&2 ;;
    esac
    shift
done
for t in "${TARGETS[@]}"; do
    [[ -n "${ENTRY[$t]:-}" ]] || { echo "fuzz.sh: unknown target '$t' (see --list)" >&2; exit 2; }
done

SWIFT_FLAGS=(-c release --build-path "$BUILD" -Xswiftc -sanitize=fuzzer,address)

build() {
    local BIN_PATH
    BIN_PATH=$(swift build "${SWIFT_FLAGS[@]}" --show-bin-path)
    echo "== building the modules with -sanitize=fuzzer,address into $BUILD (first time: long)"
    # Gateway depends on every module a target imports (DeviceProfiles, Alerts, CoAPIngest, PushIngest,
    # TimeSeriesStore, ...), so building it builds them all.
    swift build "${SWIFT_FLAGS[@]}" --target Gateway

    echo "== archiving each module's objects"
    rm -rf "$WORK/lib"
    mkdir -p "$WORK/lib"
    local dir name
    for dir in "$BIN_PATH"/*.build; do
        name=$(basename "$dir" .build)
        # Executables (they have a main) and test targets are not libraries.
        case "$name" in citygate|wal-crash-child|*Tests|*-tool|GatewayTesting) continue ;; esac
        mapfile -t objects < <(find "$dir" -name '*.o' | sort)
        [[ ${#objects[@]} -gt 0 ]] || continue
        ar rcs "$WORK/lib/lib$name.a" "${objects[@]}"
    done

    # The clang module maps and include paths SwiftPM compiled Gateway with (C shims of NIO, BoringSSL, Yams, and
    # the system libraries), so the entry files can import the modules that sit on them.
    python3 - "$BUILD/release.yaml" > "$WORK/clang-args" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
key = '"C.Gateway-x86_64-unknown-linux-gnu-release.module":'
start = text.index(key)
line = next(l for l in text[start:].splitlines() if l.strip().startswith("args:"))
args = json.loads(line.strip()[len("args:"):])
out = []
for i, a in enumerate(args):
    if a == "-Xcc" and i + 1 < len(args):
        out += ["-Xcc", args[i + 1]]
print("\n".join(out))
PY

    mkdir -p "$WORK/bin"
    mapfile -t clang_args < "$WORK/clang-args"
    local libs=()
    for a in "$WORK"/lib/*.a; do libs+=(-Xlinker "$a"); done
    for t in "${TARGETS[@]}"; do
        echo "== compiling fuzz-$t (Tests/Fuzz/${ENTRY[$t]}.swift)"
        swiftc -O -sanitize=fuzzer,address -parse-as-library -D CITYGATE_FUZZ -swift-version 6 \
            -enable-upcoming-feature ExistentialAny -enable-upcoming-feature MemberImportVisibility \
            -module-name "Fuzz_${ENTRY[$t]}" -I "$BIN_PATH/Modules" "${clang_args[@]}" \
            "$ROOT/Tests/Fuzz/FuzzSupport.swift" "$ROOT/Tests/Fuzz/${ENTRY[$t]}.swift" \
            -Xlinker --start-group "${libs[@]}" -Xlinker --end-group \
            -lzstd -lsqlite3 -lmosquitto -lz \
            -o "$WORK/bin/fuzz-$t.new" 2> >(grep -v "Cannot export local symbol '__asan_\|^$" >&2)
        mv -f "$WORK/bin/fuzz-$t.new" "$WORK/bin/fuzz-$t"  # a rename, so a fuzzer still running keeps its binary
    done
}

# Words for a target's dictionary: string literals of the code it reads, plus YAML and JSON punctuation.
dictionary() {
    local t=$1 out=$2 sources=${DICT_SOURCES[$1]:-}
    : > "$out"
    [[ -n "$sources" ]] || return 0
    # shellcheck disable=SC2086
    grep -rohE --include='*.swift' '"[A-Za-z_$][A-Za-z0-9_.$ -]{0,30}"' $sources 2>/dev/null | sort -u >> "$out" || true
    case "$t" in
        *-yaml) printf '%s\n' '": "' '"- "' '"---\x0a"' '"{ "' '" }"' '"[ "' '" ]"' '"&a "' '"*a"' '"!!str "' '"|\x0a"' '"# "' '"\"\\u00e9\""' >> "$out" ;;
        json|push|profile-decode) printf '%s\n' '"{\"a\":"' '"[1,"' '"\\u"' '"\\ud83d\\ude00"' '"null"' '"true"' '"false"' '"1e308"' '"-0.0"' >> "$out" ;;
    esac
}

[[ $BUILD_FIRST -eq 1 ]] && build
for t in "${TARGETS[@]}"; do
    [[ -x "$WORK/bin/fuzz-$t" ]] || { echo "fuzz.sh: $WORK/bin/fuzz-$t is missing: run without --no-build" >&2; exit 2; }
done

export SWIFT_BACKTRACE=enable=no
# LeakSanitizer is off: it cannot follow pointers that Swift keeps in enum payloads with tag bits set, so objects
# reachable only through such enums (a loaded ProfileSet's compiled steps and expressions) are reported as leaked.
export ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
declare -A EXECS RATE ELAPSED RESULT SPURIOUS
failed=0

# A timeout only counts if it reproduces: libFuzzer's alarm is wall-clock time, and on a machine shared with other
# builds a process can wait more than a second for a core. A timeout input that then runs three times within the
# limit is logged as spurious and the target goes on (same corpus) for what is left of its executions or time.
reproduces() {
    local bin=$1 input=$2
    "$bin" -timeout=1 -rss_limit_mb=2048 -runs=3 "$input" > /dev/null 2>&1 && return 1
    return 0
}

for t in "${TARGETS[@]}"; do
    bin="$WORK/bin/fuzz-$t"
    seeds="$WORK/seeds/$t"
    corpus="$WORK/corpus/$t"
    artifacts="$WORK/artifacts/$t"
    log="$WORK/logs/$t.log"
    rm -rf "$seeds" "$artifacts"
    mkdir -p "$seeds" "$corpus" "$artifacts" "$WORK/logs" "$WORK/dict"
    : > "$log"
    CITYGATE_FUZZ_WRITE_SEEDS="$ROOT/$seeds" "$bin" > "$WORK/logs/$t.seeds.log" 2>&1 \
        || { echo "fuzz.sh: fuzz-$t could not write its seeds:" >&2; cat "$WORK/logs/$t.seeds.log" >&2; exit 1; }
    dictionary "$t" "$WORK/dict/$t.dict"
    flags=(-timeout=1 -rss_limit_mb=2048 -print_final_stats=1 -detect_leaks=0 -artifact_prefix="$artifacts/")
    [[ -s "$WORK/dict/$t.dict" ]] && flags+=(-dict="$WORK/dict/$t.dict")
    [[ -n "${MAX_LEN[$t]:-}" ]] && flags+=(-max_len="${MAX_LEN[$t]}")
    if [[ $MODE == long ]]; then
        echo "== fuzz-$t: until $RUNS executions (at most ${CAP} s)"
    else
        echo "== fuzz-$t: ${SECONDS_EACH} s"
    fi
    start=$(date +%s)
    execs=0
    status=0
    SPURIOUS[$t]=0
    while :; do
        elapsed=$(( $(date +%s) - start ))
        if [[ $MODE == long ]]; then
            limit=(-runs=$(( RUNS - execs )) -max_total_time=$(( CAP - elapsed )))
        else
            limit=(-max_total_time=$(( SECONDS_EACH - elapsed > 1 ? SECONDS_EACH - elapsed : 1 )))
        fi
        set +e
        "$bin" "${flags[@]}" "${limit[@]}" "$corpus" "$seeds" >> "$log" 2>&1
        status=$?
        set -e
        n=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1 || true)
        execs=$(( execs + ${n:-0} ))
        # Only timeouts, none of which reproduces: go on.
        mapfile -t found < <(find "$artifacts" -type f | sort)
        [[ ${#found[@]} -gt 0 ]] || break
        real=0
        for f in "${found[@]}"; do
            if [[ $(basename "$f") == timeout-* ]] && ! reproduces "$bin" "$f"; then
                echo "   spurious timeout (ran within 1 s three times alone): $(basename "$f")"
                rm -f "$f"
                SPURIOUS[$t]=$(( SPURIOUS[$t] + 1 ))
            else
                real=$(( real + 1 ))
            fi
        done
        [[ $real -eq 0 && ${SPURIOUS[$t]} -le 100 ]] || break
        elapsed=$(( $(date +%s) - start ))
        if [[ $MODE == long ]]; then [[ $execs -lt $RUNS && $elapsed -lt $CAP ]] || break
        else [[ $elapsed -lt $SECONDS_EACH ]] || break; fi
        status=0
    done
    ELAPSED[$t]=$(( $(date +%s) - start ))
    EXECS[$t]=$execs
    RATE[$t]=$(( execs / (ELAPSED[$t] > 0 ? ELAPSED[$t] : 1) ))
    found=$(find "$artifacts" -type f | wc -l)
    if [[ $found -gt 0 ]]; then
        mkdir -p "Tests/Fuzz/FailCases/$t"
        cp "$artifacts"/* "Tests/Fuzz/FailCases/$t/"
        RESULT[$t]="FAIL: $found crasher(s) -> Tests/Fuzz/FailCases/$t/"
        grep -m1 -E 'ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)|Fatal error|Precondition failed' "$log" | sed "s/^/   fuzz-$t: /" || true
    elif [[ $status -ne 0 ]]; then
        RESULT[$t]="FAIL: exit $status (see $log)"
    elif [[ ${EXECS[$t]} -eq 0 ]]; then
        RESULT[$t]="FAIL: 0 inputs executed"
    elif [[ $MODE == long && ${EXECS[$t]} -lt $RUNS ]]; then
        RESULT[$t]="FAIL: ${EXECS[$t]} < $RUNS executions"
    else
        RESULT[$t]="ok"
    fi
    [[ ${SPURIOUS[$t]} -eq 0 ]] || RESULT[$t]+=" (${SPURIOUS[$t]} spurious timeout(s) re-run)"
    [[ ${RESULT[$t]} == ok* ]] || failed=$((failed + 1))
    echo "   ${EXECS[$t]} executions, ${RATE[$t]}/s, ${ELAPSED[$t]} s: ${RESULT[$t]}"
done

echo
printf '%-15s %12s %9s %8s  %s\n' target executions exec/s seconds result
for t in "${TARGETS[@]}"; do
    printf '%-15s %12s %9s %8s  %s\n' "$t" "${EXECS[$t]}" "${RATE[$t]}" "${ELAPSED[$t]}" "${RESULT[$t]}"
done
echo
echo "$(( ${#TARGETS[@]} - failed )) passed, $failed failed"
[[ $failed -eq 0 ]]
