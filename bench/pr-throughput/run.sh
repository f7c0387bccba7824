#!/usr/bin/env bash
# The plan throughput and pickup latency benchmark, one command:
#
#   bench/pr-throughput/run.sh                              # 200-project PR ×3 runs, then pickup latency
#   bench/pr-throughput/run.sh --only pickup                # extra arguments go to the harness (see BenchOptions.Usage)
#   bench/pr-throughput/run.sh --stand-in aot               # terraform-sim itself (NativeAOT) instead of the zero-cost replay
#
# Starts a throwaway PostgreSQL and s3rver on loopback (the same recipe as scripts/test), runs
# `dotnet run -c Release --project bench/pr-throughput` (which starts the App as a child process) and stops what it
# started. Nothing leaves 127.0.0.1. ENSEMBLE_BENCH_POSTGRES / ENSEMBLE_BENCH_S3_URL use existing services instead.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

log() { printf '[pr-throughput/run.sh] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/ensemble-prbench.XXXXXX")"
chmod 755 "$WORK"
# shellcheck source=../services.sh
source "$ROOT/bench/services.sh"

if [[ -n "${ENSEMBLE_BENCH_POSTGRES:-}" ]]; then log "using PostgreSQL from ENSEMBLE_BENCH_POSTGRES"; else start_postgres; fi
if [[ -n "${ENSEMBLE_BENCH_S3_URL:-}" ]]; then log "using S3 from ENSEMBLE_BENCH_S3_URL"; else start_s3; fi

log "building bench/pr-throughput and what it references (Release)"
dotnet build bench/pr-throughput/PrThroughput.csproj -c Release -nologo -v quiet >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; die "build failed"; }
# The stand-in. terraform-sim published with NativeAOT starts in ~15 ms instead of ~120 ms of .NET start-up and JIT;
# the zero-cost stand-in (the default) replays what that answered for one of the benchmark's projects from a tiny C
# program (bench/pr-throughput/zero-cost-terraform.c): ~2 ms a command, so the plans' cost is Ensemble's. Both need a C
# toolchain; without one the JIT-compiled terraform-sim runs, and the report names the stand-in either way.
COMMAND="bench/pr-throughput/run.sh${*:+ $*}" # as typed, for the report
KIND=zero-cost
ARGS=()
while [[ $# -gt 0 ]]; do
    if [[ "$1" == --stand-in ]]; then
        [[ $# -ge 2 && "$2" =~ ^(zero-cost|aot)$ ]] || die "--stand-in takes zero-cost or aot"
        KIND="$2"; shift 2
    else
        ARGS+=("$1"); shift
    fi
done
set -- ${ARGS[@]+"${ARGS[@]}"}
STAND_IN=()
if [[ " $* " != *" --terraform "* ]]; then
    if command -v clang >/dev/null || command -v gcc >/dev/null; then
        linker=clang; command -v clang >/dev/null || linker=gcc
        log "publishing the NativeAOT stand-in (tools/TerraformSim, linker $linker)"
        if dotnet publish tools/TerraformSim/TerraformSim.csproj -c Release -r linux-x64 -p:PublishAot=true \
            -p:CppCompilerAndLinker="$linker" -o "$WORK/terraform-sim-aot" -nologo -v quiet >"$WORK/aot.log" 2>&1; then
            STAND_IN=(--terraform "$WORK/terraform-sim-aot/terraform-sim")
            if [[ "$KIND" == zero-cost ]]; then
                log "recording terraform-sim's answers for the zero-cost stand-in"
                mkdir -p "$WORK/zero-cost"
                "$linker" -O2 -o "$WORK/zero-cost/terraform" bench/pr-throughput/zero-cost-terraform.c || die "compiling the zero-cost stand-in failed"
                dotnet run -c Release --no-build --project bench/pr-throughput -- --record-stand-in "$WORK/zero-cost" \
                    --terraform "$WORK/terraform-sim-aot/terraform-sim" || die "recording the stand-in's answers failed"
                STAND_IN=(--terraform "$WORK/zero-cost/terraform")
            fi
        else
            log "NativeAOT publish failed (see below); using the JIT-compiled stand-in"; tail -20 "$WORK/aot.log" >&2
        fi
    else
        log "no C toolchain (clang or gcc) for NativeAOT; using the JIT-compiled stand-in"
    fi
fi

log "dotnet run -c Release --project bench/pr-throughput -- $* ${STAND_IN[*]:-}"
# In the background so a TERM to this script is handled at once and the harness stops before its services do.
{
    dotnet run -c Release --no-build --project bench/pr-throughput -- --command "$COMMAND" "$@" ${STAND_IN[@]+"${STAND_IN[@]}"} &
    echo $! >"$WORK/harness.pid"
    wait $!
} &
status=0
wait $! || status=$?
exit "$status"
