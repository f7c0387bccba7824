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
log "dotnet run -c Release --project bench/pr-throughput -- $*"
# In the background so a TERM to this script is handled at once and the harness stops before its services do.
{
    dotnet run -c Release --no-build --project bench/pr-throughput -- --command "bench/pr-throughput/run.sh${*:+ $*}" "$@" &
    echo $! >"$WORK/harness.pid"
    wait $!
} &
status=0
wait $! || status=$?
exit "$status"
