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
PG_CTL=""
PGDATA=""

cleanup() {
    local status=$?
    set +e
    if [[ -f "$WORK/harness.pid" ]]; then
        local pid
        pid="$(cat "$WORK/harness.pid")"
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null
            for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        fi
    fi
    if [[ -n "$PG_CTL" && -f "$PGDATA/postmaster.pid" ]]; then
        as_pg_user "$PG_CTL" stop -D "$PGDATA" -m immediate -w >/dev/null 2>&1
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    local port
    for _ in $(seq 1 50); do
        port=$(( 20000 + RANDOM % 40000 ))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    die "found no free TCP port on 127.0.0.1"
}

PG_OS_USER=""
as_pg_user() {
    if [[ -n "$PG_OS_USER" ]]; then
        (cd "$WORK" && runuser -u "$PG_OS_USER" -- "$@")
    else
        (cd "$WORK" && "$@")
    fi
}

find_pg_bin() {
    local dir
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dir="$(dirname "$(readlink -f "$(command -v initdb)")")"
        [[ -x "$dir/pg_ctl" ]] && { echo "$dir"; return 0; }
    fi
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    [[ -n "$dir" && -x "$dir/initdb" ]] && { echo "$dir"; return 0; }
    return 1
}

start_postgres() {
    local bin port attempt
    bin="$(find_pg_bin)" || die "PostgreSQL server tools (initdb, pg_ctl) not found; install Debian's 'postgresql' package"
    PG_CTL="$bin/pg_ctl"
    if [[ "$(id -u)" == 0 ]]; then
        PG_OS_USER=postgres
        id "$PG_OS_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_OS_USER"
    fi

    PGDATA="$WORK/pg/data"
    local sockets="$WORK/pg/sockets" logfile="$WORK/pg/server.log"
    mkdir -p "$PGDATA" "$sockets"
    chmod 700 "$PGDATA"
    [[ -n "$PG_OS_USER" ]] && chown -R "$PG_OS_USER" "$WORK/pg"

    log "initialising a throwaway PostgreSQL cluster ($("$bin/postgres" --version))"
    as_pg_user "$bin/initdb" -D "$PGDATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 --no-sync \
        >"$WORK/pg/initdb.log" 2>&1 || { cat "$WORK/pg/initdb.log" >&2; die "initdb failed"; }

    # Unlike scripts/test, durability stays ON (fsync, synchronous_commit, full_page_writes at their defaults):
    # a webhook acknowledged with 2xx must survive a crash, so the commit cost belongs in the measurement.
    # ENSEMBLE_BENCH_PG_OPTIONS adds server options, e.g. "-c synchronous_commit=off" to see what the flush costs.
    for attempt in 1 2 3 4 5; do
        port="$(free_port)"
        if as_pg_user "$PG_CTL" start -D "$PGDATA" -l "$logfile" -w -t 60 -o \
            "-c listen_addresses=127.0.0.1 -p $port -k $sockets -c max_connections=300 ${ENSEMBLE_BENCH_PG_OPTIONS:-}" >/dev/null 2>&1; then
            break
        fi
        if [[ $attempt == 5 ]]; then
            tail -n 30 "$logfile" >&2 || true
            die "PostgreSQL did not start (log above)"
        fi
        log "PostgreSQL could not start on port $port; trying another"
    done

    local deadline=$((SECONDS + 60))
    until "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres; do
        (( SECONDS < deadline )) || { tail -n 30 "$logfile" >&2 || true; die "PostgreSQL on 127.0.0.1:$port did not answer within 60 s"; }
        sleep 0.2
    done
    ENSEMBLE_BENCH_POSTGRES="Host=127.0.0.1;Port=$port;Username=postgres;Database=postgres"
    log "PostgreSQL ready on 127.0.0.1:$port"
}

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
