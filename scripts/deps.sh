#!/usr/bin/env bash
# Local servers for a production-like run (`make deps-up`, `make deps-down`):
#   - redis-server on REDIS_PORT (default 6380), no persistence;
#   - a MongoDB-wire server on MONGO_PORT (default 27018): secantusd-rs when on PATH,
#     otherwise secantusd-py from .venv (`make test-deps`), data kept in .tmp/deps/mongo/.
# REDIS_URL=... or MONGO_URI=... name servers you run yourself: nothing is started for it.
# Files (pids, logs, data) live in .tmp/deps/. `up` writes .tmp/deps/env.mk, which the
# Makefile includes so `run-dev`, `notify-test` and `mongo-index` use these servers.
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=.tmp/deps
REDIS_PORT="${REDIS_PORT:-6380}"
MONGO_PORT="${MONGO_PORT:-27018}"

wait_port() { # name port
    local i
    for i in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "deps: $1 did not accept connections on 127.0.0.1:$2 (see $DIR/$1.log)" >&2
    return 1
}

alive() { # pidfile
    [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

up() {
    mkdir -p "$DIR"
    local redis_url mongo_uri
    if [ -n "${REDIS_URL:-}" ]; then
        redis_url="$REDIS_URL"
        echo "deps: using Redis at the REDIS_URL you named"
    else
        redis_url="redis://127.0.0.1:$REDIS_PORT"
        if alive "$DIR/redis.pid"; then
            echo "deps: redis-server already running (pid $(cat "$DIR/redis.pid"))"
        else
            command -v redis-server >/dev/null || {
                echo "deps: redis-server not found; run \`make test-deps\` or apt-get install redis-server" >&2
                exit 1
            }
            redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
                --daemonize yes --pidfile "$PWD/$DIR/redis.pid" \
                --logfile "$PWD/$DIR/redis.log" --dir "$PWD/$DIR"
            wait_port redis "$REDIS_PORT"
            echo "deps: redis-server on 127.0.0.1:$REDIS_PORT"
        fi
    fi
    if [ -n "${MONGO_URI:-}" ]; then
        mongo_uri="$MONGO_URI"
        echo "deps: using MongoDB at the MONGO_URI you named"
    else
        mongo_uri="mongodb://127.0.0.1:$MONGO_PORT/?directConnection=true"
        if alive "$DIR/mongo.pid"; then
            echo "deps: MongoDB-wire server already running (pid $(cat "$DIR/mongo.pid"))"
        else
            local server
            if command -v secantusd-rs >/dev/null; then
                server="$(command -v secantusd-rs)"
            elif [ -x .venv/bin/secantusd-py ]; then
                server=.venv/bin/secantusd-py
            else
                echo "deps: no MongoDB-wire server; run \`make test-deps\` (installs secantusd-py into .venv)" >&2
                exit 1
            fi
            mkdir -p "$DIR/mongo"
            nohup "$server" --host 127.0.0.1 --port "$MONGO_PORT" --storage-path "$DIR/mongo" \
                >"$DIR/mongo.log" 2>&1 </dev/null &
            echo $! >"$DIR/mongo.pid"
            wait_port mongo "$MONGO_PORT"
            echo "deps: $(basename "$server") on 127.0.0.1:$MONGO_PORT (data in $DIR/mongo)"
        fi
    fi
    cat >"$DIR/env.mk" <<EOF
# Written by scripts/deps.sh up; removed by deps-down.
run-dev notify-test mongo-index: export NOTIFY__REDIS__URL := $redis_url
run-dev notify-test mongo-index: export NOTIFY__MONGO__URI := $mongo_uri
notify-test: export NOTIFY_CONFIG := etc/gateway.dev.yaml
EOF
    echo "deps: up; \`make mongo-index\`, then \`make run-dev\` or \`make notify-test METHOD=email-enqueue\`"
}

down() {
    if alive "$DIR/redis.pid"; then
        kill "$(cat "$DIR/redis.pid")" 2>/dev/null || true
        echo "deps: redis-server stopped"
    fi
    if alive "$DIR/mongo.pid"; then
        local pid i
        pid="$(cat "$DIR/mongo.pid")"
        kill "$pid" 2>/dev/null || true
        # A clean stop takes a few seconds; give it ten, then kill it.
        for i in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
        echo "deps: MongoDB-wire server stopped"
    fi
    rm -f "$DIR/redis.pid" "$DIR/mongo.pid" "$DIR/env.mk"
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
