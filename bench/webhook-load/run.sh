#!/usr/bin/env bash
# The webhook ingress benchmark, one command:
#
#   bench/webhook-load/run.sh                     # writes the "Webhook ingress" section of docs/benchmarks.md
#   bench/webhook-load/run.sh --roles web --duration 10   # extra arguments go to the harness (see Program usage)
#
# Starts a throwaway PostgreSQL on loopback (same recipe as scripts/test), builds the App and the harness in Release,
# runs the harness (which starts the bare endpoint and the App as child processes on loopback ports) and stops
# everything it started. Nothing leaves 127.0.0.1. Set ENSEMBLE_BENCH_POSTGRES to use an existing cluster instead
# (a superuser connection string: the harness drops and creates databases webhook_load_*).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

log() { printf '[webhook-load/run.sh] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/ensemble-bench.XXXXXX")"
chmod 755 "$WORK"
# shellcheck source=../services.sh
source "$ROOT/bench/services.sh"

if [[ -n "${ENSEMBLE_BENCH_POSTGRES:-}" ]]; then
    log "using PostgreSQL from ENSEMBLE_BENCH_POSTGRES"
else
    start_postgres
fi

log "building App and bench/webhook-load (Release)"
dotnet build App/App.csproj -c Release -nologo -v quiet >"$WORK/build-app.log" 2>&1 || { cat "$WORK/build-app.log" >&2; die "building App failed"; }
dotnet build bench/webhook-load/WebhookLoad.csproj -c Release -nologo -v quiet >"$WORK/build-bench.log" 2>&1 || { cat "$WORK/build-bench.log" >&2; die "building the harness failed"; }

# Under 3 minutes by default: per target 3 s warm-up + 30 s at 200/s + 10 s at max throughput.
{
    dotnet bench/webhook-load/bin/Release/net10.0/webhook-load.dll \
        --app-dll App/bin/Release/net10.0/Ensemble.App.dll \
        --postgres "$ENSEMBLE_BENCH_POSTGRES" \
        --docs docs/benchmarks.md \
        --command "bench/webhook-load/run.sh${*:+ $*}" \
        "$@" &
    echo $! >"$WORK/harness.pid"
    wait $!
} &
status=0
wait $! || status=$?
exit "$status"
