#!/usr/bin/env bash
# The plan throughput and pickup latency benchmark, one command:
#
#   bench/pr-throughput/run.sh                              # 200-project PR ×3 runs, then pickup latency
#   bench/pr-throughput/run.sh --only pickup                # extra arguments go to the harness (see BenchOptions.Usage)
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
# The zero-cost stand-in: terraform-sim published with NativeAOT starts in ~10 ms instead of ~120 ms, so the plans'
# cost is Ensemble's, not three .NET runtime starts per plan. NativeAOT links with a C toolchain; without one the
# JIT-compiled stand-in is used and the report says which ran.
STAND_IN=()
if [[ " $* " != *" --terraform "* ]]; then
    if command -v clang >/dev/null || command -v gcc >/dev/null; then
        linker=clang; command -v clang >/dev/null || linker=gcc
        log "publishing the NativeAOT stand-in (tools/TerraformSim, linker $linker)"
        if dotnet publish tools/TerraformSim/TerraformSim.csproj -c Release -r linux-x64 -p:PublishAot=true \
            -p:CppCompilerAndLinker="$linker" -o "$WORK/terraform-sim-aot" -nologo -v quiet >"$WORK/aot.log" 2>&1; then
            STAND_IN=(--terraform "$WORK/terraform-sim-aot/terraform-sim")
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
    dotnet run -c Release --no-build --project bench/pr-throughput -- --command "bench/pr-throughput/run.sh${*:+ $*}" "$@" ${STAND_IN[@]+"${STAND_IN[@]}"} &
    echo $! >"$WORK/harness.pid"
    wait $!
} &
status=0
wait $! || status=$?
exit "$status"
