# What the benchmark scripts share; sourced by them (`. scripts/bench-lib.sh`),
# from the repository's root.

# install_missing COMMAND:PACKAGE ...: installs (apt, as root or with sudo) the
# Debian packages whose command is not on PATH.
install_missing() {
    local want=() pair
    for pair in "$@"; do
        command -v "${pair%%:*}" >/dev/null 2>&1 || want+=("${pair#*:}")
    done
    ((${#want[@]})) || return 0
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${want[@]}" >/dev/null
}

# build_baseline REV TARGET_DIR: `pierhead` as of git revision REV, built into
# TARGET_DIR (binary TARGET_DIR/release/pierhead); kept, and rebuilt only when REV
# is not the revision it was built from.
build_baseline() {
    local rev=$1 target=$2 src="$2-src"
    if [ -x "$target/release/pierhead" ] && [ "$(cat "$target/REV" 2>/dev/null)" = "$rev" ]; then
        return 0
    fi
    rm -rf "$src"
    git worktree prune
    git worktree add -f --detach "$src" "$rev" >/dev/null 2>&1
    cargo build --release -q -p pierhead-cli --manifest-path "$src/Cargo.toml" --target-dir "$target"
    git worktree remove --force "$src"
    echo "$rev" >"$target/REV"
}

# Clock ticks per second, and a process's CPU time (user + system) in ticks.
TICK=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# A process's resident memory, KiB.
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# wait_port PORT: returns once 127.0.0.1:PORT accepts a connection (fails after 10 s).
wait_port() {
    for _ in $(seq 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "port $1 not up" >&2
    return 1
}

# nginx_conf FILE PORT [LISTEN_FLAGS [HTTP_LINES [SERVER_LINES]]]: an nginx config
# for the side-by-side runs: one worker, in the foreground, no access log, keep-alive
# without limits, answering every request `200 hello\n` as pierhead's fixed answer
# does. Its pid and error log go beside FILE.
nginx_conf() {
    local file=$1 port=$2 listen=${3:-} http=${4:-} server=${5:-} dir
    dir=$(cd "$(dirname "$file")" && pwd)
    cat >"$file" <<CONF
worker_processes 1;
daemon off;
master_process off;
pid $dir/$(basename "$file").pid;
error_log $dir/$(basename "$file")-error.log;
worker_rlimit_nofile 65536;
events { worker_connections 65536; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  client_body_temp_path $dir;
$http
  server {
    listen 127.0.0.1:$port $listen reuseport;
$server
    location / { default_type text/plain; return 200 "hello\n"; }
  }
}
CONF
}
