#!/usr/bin/env bash
# Run `polyflup run` in a named tmux session: start it once, stop it cleanly, check it,
# attach to it, and restart it from cron when it died (see scripts/crontab.example).
#
#   scripts/polyflup-tmux.sh [start|stop|status|attach|watchdog]
#
# Environment (defaults in brackets; the bot's other settings come from its .env):
#   POLYFLUP_TMUX_SESSION  tmux session name [polyflup]
#   POLYFLUP_RUN_ARGS      `polyflup run` arguments, split on spaces [--profile aggressive]
#   POLYFLUP_DB            database, given to the bot as --db when set [the bot's default]
#   POLYFLUP_LOG_DIR       log folder [logs]: the session's output is appended to
#                          tmux-<session>.log there, the bot's pid is in tmux-<session>.pid
#   POLYFLUP_BIN           the executable [polyflup on PATH, else .venv/bin/polyflup]
#   POLYFLUP_WORKDIR       folder the bot runs in: its .env, relative paths [the repository]
#   POLYFLUP_STOP_TIMEOUT  seconds `stop` waits for a clean stop before SIGKILL [60]
#
# Exit codes: 0 ok (status: running), 1 failure, 2 usage, 3 status: stopped.
set -euo pipefail

SCRIPT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
REPO="$(cd "$(dirname "$SCRIPT")/.." && pwd)"

SESSION="${POLYFLUP_TMUX_SESSION:-polyflup}"
RUN_ARGS="${POLYFLUP_RUN_ARGS:---profile aggressive}"
WORKDIR="${POLYFLUP_WORKDIR:-$REPO}"
STOP_TIMEOUT="${POLYFLUP_STOP_TIMEOUT:-60}"
START_TIMEOUT=20
WINDOW=bot

die() {
    echo "❌ polyflup-tmux: $*" >&2
    exit 1
}

timestamp() {
    date '+%Y-%m-%d %H:%M:%S'
}

# Paths relative to the working directory, as the bot resolves them.
absolute() {
    case "$1" in
        /*) printf '%s\n' "$1" ;;
        *) printf '%s\n' "$WORKDIR/$1" ;;
    esac
}

[[ -d "$WORKDIR" ]] || die "POLYFLUP_WORKDIR $WORKDIR is not a folder"
WORKDIR="$(cd "$WORKDIR" && pwd)"
LOG_DIR="$(absolute "${POLYFLUP_LOG_DIR:-logs}")"
LOG_FILE="$LOG_DIR/tmux-$SESSION.log"
PID_FILE="$LOG_DIR/tmux-$SESSION.pid"
STOPPED_FILE="$LOG_DIR/tmux-$SESSION.stopped"
LOCK_FILE="$LOG_DIR/tmux-$SESSION.lock"

resolve_bin() {
    local bin="${POLYFLUP_BIN:-}"
    if [[ -z "$bin" ]]; then
        bin="$(command -v polyflup || true)"
        [[ -n "$bin" ]] || bin="$REPO/.venv/bin/polyflup"
    elif [[ "$bin" != */* ]]; then
        bin="$(command -v "$bin" || true)"
    fi
    [[ -n "$bin" && -x "$bin" ]] || die "no polyflup executable" \
        "(${POLYFLUP_BIN:-polyflup on PATH or $REPO/.venv/bin/polyflup});" \
        "run \`make install\` or set POLYFLUP_BIN"
    absolute "$bin"
}

# The launcher's lock (fd 9) must not leak into a tmux server this call may start.
tmux() {
    command tmux "$@" 9>&-
}

# Exact session name: a bare -t NAME would also match any session starting with NAME.
session_exists() {
    tmux has-session -t "=$SESSION" 2>/dev/null
}

# The bot's pid, from the pid file the session writes, if that process is alive and is a
# `polyflup run` (a recycled pid or a zombie is not the bot).
bot_pid() {
    local pid args state
    [[ -r "$PID_FILE" ]] || return 1
    pid="$(<"$PID_FILE")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    state="$(ps -o stat= -p "$pid" 2>/dev/null)" || return 1
    [[ "$state" != Z* ]] || return 1
    args="$(ps -ww -o args= -p "$pid" 2>/dev/null)" || return 1
    [[ "$args" == *"$(basename "$BIN") run"* ]] || return 1
    printf '%s\n' "$pid"
}

# One launcher at a time per session (cron's @reboot and watchdog may meet).
take_lock() {
    mkdir -p "$LOG_DIR"
    command -v flock >/dev/null 2>&1 || return 0
    exec 9>"$LOCK_FILE"
    flock -w 60 9 || die "another polyflup-tmux.sh is busy with session $SESSION"
}

log_line() {
    mkdir -p "$LOG_DIR"
    echo "[$(timestamp)] polyflup-tmux: $*" | tee -a "$LOG_FILE"
}

# The pane's command: this script's `_run`, with the environment it needs. Bot settings
# the caller did not set are unset, so a long-running tmux server's own environment
# cannot leak into the bot (an exported default POLYFLUP_DB would change the sim ledger).
pane_command() {
    local var
    PANE_CMD=(env)
    for var in POLYFLUP_DB POLYFLUP_LOG_DIR; do
        [[ -n "${!var:-}" ]] || PANE_CMD+=(-u "$var")
    done
    for var in POLYFLUP_DB POLYFLUP_LOG_DIR; do
        [[ -z "${!var:-}" ]] || PANE_CMD+=("$var=${!var}")
    done
    PANE_CMD+=(
        "POLYFLUP_TMUX_SESSION=$SESSION"
        "POLYFLUP_RUN_ARGS=$RUN_ARGS"
        "POLYFLUP_BIN=$BIN"
        "POLYFLUP_WORKDIR=$WORKDIR"
        "PYTHONUNBUFFERED=1"
        "$SCRIPT" _run
    )
}

export_to_session() {
    local var
    for var in POLYFLUP_DB POLYFLUP_LOG_DIR; do
        if [[ -n "${!var:-}" ]]; then
            tmux set-environment -t "=$SESSION" "$var" "${!var}"
        else
            tmux set-environment -t "=$SESSION" -u "$var" 2>/dev/null || true
        fi
    done
    tmux set-environment -t "=$SESSION" POLYFLUP_TMUX_SESSION "$SESSION"
    tmux set-environment -t "=$SESSION" POLYFLUP_RUN_ARGS "$RUN_ARGS"
    tmux set-environment -t "=$SESSION" POLYFLUP_BIN "$BIN"
}

# The window keeps its name and stays after the bot exits, so `start` can restart it there.
keep_window=(
    ';' set-option -w -t "=$SESSION:$WINDOW" remain-on-exit on
    ';' set-option -w -t "=$SESSION:$WINDOW" automatic-rename off
    ';' set-option -w -t "=$SESSION:$WINDOW" allow-rename off
)

pane_dead() {
    local dead
    dead="$(tmux display-message -p -t "=$SESSION:$WINDOW" '#{pane_dead}' 2>/dev/null)"
    [[ "$dead" == 1 ]]
}

# Start the bot in the session (creating it, or respawning its window) and wait for its pid.
launch() {
    pane_command
    rm -f "$PID_FILE"
    if ! session_exists; then
        tmux new-session -d -s "$SESSION" -n "$WINDOW" -c "$WORKDIR" "${PANE_CMD[@]}" \
            "${keep_window[@]}"
    elif tmux list-windows -t "=$SESSION" -F '#{window_name}' | grep -qx "$WINDOW"; then
        tmux respawn-pane -k -t "=$SESSION:$WINDOW" -c "$WORKDIR" "${PANE_CMD[@]}"
    else
        tmux new-window -d -t "=$SESSION:" -n "$WINDOW" -c "$WORKDIR" "${PANE_CMD[@]}" \
            "${keep_window[@]}"
    fi
    export_to_session
    local deadline=$((SECONDS + START_TIMEOUT))
    while ((SECONDS < deadline)); do
        if PID="$(bot_pid)"; then
            return 0
        fi
        if ! session_exists || pane_dead; then
            break
        fi
        sleep 0.1
    done
    echo "❌ polyflup-tmux: the bot did not start; the end of $LOG_FILE:" >&2
    tail -n 20 "$LOG_FILE" >&2 2>/dev/null || true
    exit 1
}

cmd_start() {
    take_lock
    rm -f "$STOPPED_FILE"
    if PID="$(bot_pid)"; then
        if session_exists; then
            echo "✅ already running: bot pid $PID in tmux session $SESSION" \
                "(log $LOG_FILE)"
        else
            echo "⚠️ a bot runs (pid $PID) but tmux session $SESSION is gone;" \
                "not starting another"
        fi
        return 0
    fi
    launch
    echo "🚀 started: bot pid $PID in tmux session $SESSION (log $LOG_FILE)"
}

cmd_watchdog() {
    take_lock
    if [[ -e "$STOPPED_FILE" ]] || bot_pid >/dev/null; then
        return 0 # running, or stopped on purpose with `stop`
    fi
    launch
    log_line "watchdog: the bot was not running; restarted it (pid $PID)" \
        "in session $SESSION"
}

cmd_stop() {
    take_lock
    touch "$STOPPED_FILE"
    if PID="$(bot_pid)"; then
        echo "🛑 stopping bot pid $PID (SIGTERM, up to ${STOP_TIMEOUT}s) …"
        kill -TERM "$PID" 2>/dev/null || true
        local deadline=$((SECONDS + STOP_TIMEOUT))
        while bot_pid >/dev/null && ((SECONDS < deadline)); do
            sleep 0.2
        done
        if bot_pid >/dev/null; then
            log_line "bot pid $PID did not stop within ${STOP_TIMEOUT}s; SIGKILL"
            kill -KILL "$PID" 2>/dev/null || true
        fi
    else
        echo "bot not running"
    fi
    if session_exists; then
        # Let the session's shell write the bot's exit line before the session goes.
        local deadline=$((SECONDS + 5))
        while ! pane_dead && ((SECONDS < deadline)); do
            sleep 0.1
        done
        tmux kill-session -t "=$SESSION" 2>/dev/null || true
        echo "✅ tmux session $SESSION closed"
    fi
    rm -f "$PID_FILE"
}

cmd_status() {
    if PID="$(bot_pid)"; then
        echo "running: bot pid $PID in tmux session $SESSION (log $LOG_FILE)"
        return 0
    fi
    local detail="no tmux session $SESSION"
    if session_exists; then
        detail="tmux session $SESSION exists, bot not running"
        local code
        code="$(tmux display-message -p -t "=$SESSION:$WINDOW" '#{pane_dead_status}' \
            2>/dev/null || true)"
        [[ -z "$code" ]] || detail+=" (exit status $code)"
    fi
    echo "stopped: $detail (log $LOG_FILE)"
    return 3
}

cmd_attach() {
    session_exists || die "no tmux session $SESSION; start it with $0 start"
    if [[ -n "${TMUX:-}" ]]; then
        exec tmux switch-client -t "=$SESSION"
    fi
    exec tmux attach-session -t "=$SESSION"
}

# Inside the session: run the bot with its output on the pane and appended to the log.
# Ctrl-C in the pane reaches the bot (a clean stop), not this shell or tee.
cmd_run_in_session() {
    local args=() pid rc=0 tee_pid
    read -r -a args <<<"$RUN_ARGS"
    if [[ -n "${POLYFLUP_DB:-}" ]]; then
        case " $RUN_ARGS " in
            *" --db "* | *" --db="*) ;;
            *) args+=(--db "$POLYFLUP_DB") ;;
        esac
    fi
    mkdir -p "$LOG_DIR"
    exec > >(exec tee -i -a "$LOG_FILE") 2>&1
    tee_pid=$!
    trap '' INT
    echo "[$(timestamp)] polyflup-tmux: starting $BIN run ${args[*]} (session $SESSION)"
    "$BIN" run "${args[@]}" &
    pid=$!
    echo "$pid" >"$PID_FILE"
    wait "$pid" || rc=$?
    echo "[$(timestamp)] polyflup-tmux: bot pid $pid exited with code $rc"
    exec >&- 2>&-
    wait "$tee_pid" 2>/dev/null || true
    exit "$rc"
}

action="${1:-start}"
case "$action" in
    start | stop | status | attach | watchdog | _run)
        command -v tmux >/dev/null || die "tmux is not installed (apt-get install tmux)"
        [[ "$action" == attach ]] || BIN="$(resolve_bin)"
        ;;
esac
case "$action" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    attach) cmd_attach ;;
    watchdog) cmd_watchdog ;;
    _run) cmd_run_in_session ;;
    -h | --help | help) sed -n '2,17p' "$SCRIPT" | sed 's/^# \{0,1\}//' ;;
    *)
        echo "usage: $0 [start|stop|status|attach|watchdog]" >&2
        exit 2
        ;;
esac
