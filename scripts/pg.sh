#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests of workflow-store-postgres (SCALE-1..4).
#
#   url=$(bash scripts/pg.sh start DIR)   # prints ONLY postgres://postgres@127.0.0.1:PORT/postgres
#   bash scripts/pg.sh stop DIR           # stops it and removes DIR
#
# `start` installs PostgreSQL from the Debian packages when no /usr/lib/postgresql/*/bin/initdb
# exists (as root), creates a cluster in DIR/data (trust authentication, no fsync at initdb),
# and starts it on a free loopback port with its socket in DIR. Run as root, the server runs as
# the `postgres` user (PostgreSQL refuses to run as root); run as anyone else, as that user.
# Calling `start` again on a running cluster prints its URL again; on a stopped one, restarts
# it. Diagnostics go to stderr; stdout carries the URL only.
set -euo pipefail

log() { echo "pg.sh: $*" >&2; }
die() { log "$*"; exit 1; }

usage() { die "usage: $0 start|stop DIR"; }

[ $# -eq 2 ] || usage
cmd=$1
dir=$2
case "$dir" in
    /*) ;;
    *) dir="$PWD/$dir" ;;
esac

is_root() { [ "$(id -u)" -eq 0 ]; }

# The newest installed server's bin directory, or nothing.
find_bin() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$d" ] && [ -x "$d/initdb" ]; then
        echo "$d"
    fi
}

install_postgres() {
    is_root || die "PostgreSQL is not installed and we are not root: install the 'postgresql' package"
    log "installing PostgreSQL from the Debian packages"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -qq postgresql >&2; then
        apt-get update -qq >&2
        apt-get install -y -qq postgresql >&2
    fi
}

# Run a server binary as the cluster's owner.
as_owner() {
    if is_root; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
    local p tries=0
    while [ $tries -lt 200 ]; do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        if ! port_in_use "$p"; then
            echo "$p"
            return 0
        fi
        tries=$((tries + 1))
    done
    die "no free loopback port found"
}

url_of() { echo "postgres://postgres@127.0.0.1:$1/postgres"; }

running() {
    [ -f "$dir/data/postmaster.pid" ] && as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

start() {
    bin=$(find_bin)
    if [ -z "$bin" ]; then
        install_postgres
        bin=$(find_bin)
        [ -n "$bin" ] || die "installed PostgreSQL but found no /usr/lib/postgresql/*/bin/initdb"
    fi
    mkdir -p "$dir"
    if is_root; then
        id postgres >/dev/null 2>&1 || useradd --system --home-dir "$dir" postgres
        chown postgres "$dir"
        chmod 0700 "$dir"
    fi
    if running && [ -f "$dir/port" ]; then
        log "already running in $dir"
        url_of "$(cat "$dir/port")"
        return 0
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        rm -rf "$dir/data"
        log "initdb in $dir/data ($bin)"
        as_owner "$bin/initdb" -D "$dir/data" -A trust --no-sync -U postgres >"$dir/initdb.log" 2>&1 \
            || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    fi
    local attempt port
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        log "starting on 127.0.0.1:$port (attempt $attempt)"
        if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200" \
            start >&2; then
            echo "$port" >"$dir/port"
            url_of "$port"
            return 0
        fi
        tail -n 5 "$dir/log" >&2 || true
    done
    die "could not start PostgreSQL (see $dir/log)"
}

stop() {
    if [ ! -d "$dir" ]; then
        log "$dir does not exist: nothing to stop"
        return 0
    fi
    bin=$(find_bin)
    if [ -n "$bin" ] && [ -f "$dir/data/postmaster.pid" ]; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || log "pg_ctl stop failed"
    fi
    rm -rf "$dir"
}

case "$cmd" in
    start) start ;;
    stop) stop ;;
    *) usage ;;
esac
