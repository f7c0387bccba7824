# Throwaway services for the benchmarks, on loopback: sourced by bench/*/run.sh after they set ROOT, WORK, log and die.
#
#   start_postgres   a PostgreSQL cluster under $WORK (durable, unlike scripts/test's); exports ENSEMBLE_BENCH_POSTGRES
#   start_s3         s3rver (tools/s3) under $WORK; exports ENSEMBLE_BENCH_S3_URL
#
# The EXIT trap stops the harness whose pid is in $WORK/harness.pid first, then the services, then removes $WORK.
# Same recipe as scripts/test, which keeps its own copy because it is CI's entry point and tunes durability off.

PG_CTL=""
PGDATA=""
S3_PID=""

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
    if [[ -n "$S3_PID" ]] && kill -0 "$S3_PID" 2>/dev/null; then
        kill "$S3_PID" 2>/dev/null
        wait "$S3_PID" 2>/dev/null
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
    # what a benchmark measures includes what commits cost in production (a webhook acknowledged with 2xx must
    # survive a crash). ENSEMBLE_BENCH_PG_OPTIONS adds server options, e.g. "-c synchronous_commit=off".
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
    export ENSEMBLE_BENCH_POSTGRES="Host=127.0.0.1;Port=$port;Username=postgres;Database=postgres"
    log "PostgreSQL ready on 127.0.0.1:$port"
}

s3_answers() {
    local reply
    reply="$(timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" >&3 && head -n 1 <&3' _ "$1" 2>/dev/null || true)"
    [[ "$reply" == HTTP/* ]]
}

start_s3() {
    local s3dir="$ROOT/tools/s3" entry port attempt deadline
    command -v node >/dev/null 2>&1 || die "node not found; install Node.js"
    entry="$s3dir/node_modules/s3rver/bin/s3rver.js"
    if [[ ! -f "$entry" ]]; then
        log "installing s3rver (npm ci in tools/s3)"
        (cd "$s3dir" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci in tools/s3 failed"
    fi
    mkdir -p "$WORK/s3"
    for attempt in 1 2 3 4 5; do
        port="$(free_port)"
        node "$entry" --address 127.0.0.1 --port "$port" --directory "$WORK/s3" --silent >"$WORK/s3.log" 2>&1 &
        S3_PID=$!
        deadline=$((SECONDS + 30))
        while kill -0 "$S3_PID" 2>/dev/null && ! s3_answers "$port"; do
            (( SECONDS < deadline )) || break
            sleep 0.2
        done
        if kill -0 "$S3_PID" 2>/dev/null && s3_answers "$port"; then
            export ENSEMBLE_BENCH_S3_URL="http://127.0.0.1:$port" ENSEMBLE_BENCH_S3_PID="$S3_PID"
            log "s3rver ready on 127.0.0.1:$port"
            return 0
        fi
        kill "$S3_PID" 2>/dev/null || true
        wait "$S3_PID" 2>/dev/null || true
        S3_PID=""
        [[ $attempt == 5 ]] && { cat "$WORK/s3.log" >&2 || true; die "s3rver did not answer on 127.0.0.1 within 30 s (log above)"; }
        log "s3rver did not come up on port $port; trying another"
    done
}
