#!/usr/bin/env bash
# bench/http/run.sh - GET /api/v1/instances/{id} with auth: miaw beside a bare h2o handler
# (bench_http_bare) answering the same bytes, both started here and measured in the same
# run with the same load: HTTP/1.1 keep-alive with wrk, h2c (prior knowledge) with
# h2load. Prints req/s, p99 latency and CPU time per request per target and protocol, and
# the miaw/bare ratios; minor page faults, system CPU time and context switches per request;
# then miaw's POST send-text to a disconnected instance (the 503 fast path) over HTTP/1.1
# keep-alive beside its GET, with wrk's socket errors (must be 0: connections stay open).
# Builds nothing: needs <build>/miaw, <build>/plugins and <build>/bench/bench_http_bare.
# Loopback only; everything started here is stopped on exit.
# Usage: run.sh [BUILD_DIR]   (default: build, relative to the repository root)
# Environment (defaults in brackets):
#   BENCH_SECONDS [10]    measured seconds per run       BENCH_WARMUP [2]  warm-up seconds
#   BENCH_CONNS [32]      connections                    BENCH_THREADS [2] client threads
#   BENCH_H2_STREAMS [1]  concurrent streams per h2 connection (1: same in-flight as h1)
#   BENCH_ROUNDS [1]      rounds (miaw and bare alternate); shown: the median round by req/s,
#                         the median of the per-round ratios, then every round
#   BENCH_LOG_LEVEL []    LOG_LEVEL for miaw (empty: its default, info, one line per request,
#                         written to a file in the temp dir)
#   BENCH_MIAW_LOG []     where miaw's log goes instead of that file (e.g. /dev/null)
#   BENCH_PIN [0]         1: servers on CPU 0, load generators on the other CPUs (taskset)
#   BENCH_POST [1]        0: skip the POST send-text row
#   BENCH_PROFILE [0]     1 or h1: then profile miaw and bare (perf record, call graphs)
#                         over one more HTTP/1.1 run each and print where the CPU time goes:
#                         h2o and the kernel's part (which bare pays too) and each step of
#                         miaw's own; h2: the same over h2c (h2load); both: HTTP/1.1, then h2c
#   BENCH_PROFILE_TOP []  N: with the profile, also each server's N functions with the most
#                         self samples
#   BENCH_PROFILE_KEEP [] a directory: the perf data files are copied there (perf report -i)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-${MIAW_BUILD_DIR:-build}}
case $build in /*) ;; *) build="$root/$build" ;; esac
secs=${BENCH_SECONDS:-10}
warm=${BENCH_WARMUP:-2}
conns=${BENCH_CONNS:-32}
threads=${BENCH_THREADS:-2}
streams=${BENCH_H2_STREAMS:-1}
rounds=${BENCH_ROUNDS:-1}
pin=${BENCH_PIN:-0}
case ${BENCH_PROFILE:-0} in 0 | 1 | h1 | h2 | both | all) ;; *) echo "BENCH_PROFILE: want 0, 1 (= h1), h1, h2 or both" >&2; exit 2 ;; esac

miaw="$build/miaw"
bare="$build/bench/bench_http_bare"
for f in "$miaw" "$bare"; do [ -x "$f" ] || { echo "missing $f (build it first)" >&2; exit 2; }; done
[ -d "$build/plugins" ] || { echo "missing $build/plugins" >&2; exit 2; }
for t in wrk h2load curl; do
  command -v $t >/dev/null || { echo "missing $t (Debian: wrk, nghttp2-client, curl; scripts/deps.sh)" >&2; exit 2; }
done

srv_pin=() cli_pin=()
if [ "$pin" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  srv_pin=(taskset -c 0) cli_pin=(taskset -c "1-$(($(nproc) - 1))")
fi

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    port_free "$p" && { echo "$p"; return; }
  done
}
# wait_up PID URL [curl args]: until URL answers, or fail when PID died or 10 s passed
wait_up() {
  local pid=$1 url=$2 i
  shift 2
  for i in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || return 1
    curl -sf -o /dev/null "$@" "$url" && return 0
    sleep 0.1
  done
  return 1
}

key=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
auth="Authorization: Bearer $key"
path=/api/v1/instances/bench

# ---- miaw, on a fresh data dir and a free port (retried if the port was taken meanwhile)
mkdir -p "$tmp/data"
mlog=${BENCH_MIAW_LOG:-$tmp/miaw.log}
for attempt in 1 2 3 4 5; do
  mport=$(pick_port)
  (cd "$tmp" && exec env API_HOST=127.0.0.1 API_PORT="$mport" API_KEY="$key" SESSION_PATH="$tmp/data" \
    MIAW_PLUGIN_DIR="$build/plugins" ${BENCH_LOG_LEVEL:+LOG_LEVEL="$BENCH_LOG_LEVEL"} \
    "${srv_pin[@]}" "$miaw" serve >>"$mlog" 2>&1) &
  mpid=$!
  if wait_up "$mpid" "http://127.0.0.1:$mport/health"; then pids+=("$mpid"); break; fi
  kill "$mpid" 2>/dev/null || true; wait "$mpid" 2>/dev/null || true; mpid=
done
[ -n "$mpid" ] || { echo "miaw did not start; its log:" >&2; tail -20 "$mlog" >&2; exit 1; }
curl -sf -o /dev/null -H "$auth" -H 'content-type: application/json' -d '{"instanceId":"bench"}' \
  "http://127.0.0.1:$mport/api/v1/instances" || { echo "cannot create the instance" >&2; exit 1; }

# ---- the bytes miaw answers, handed to the bare server
curl -s -D "$tmp/miaw.hdr" -o "$tmp/body" -H "$auth" "http://127.0.0.1:$mport$path"
status=$(head -1 "$tmp/miaw.hdr" | awk '{print $2}')
[ "$status" = 200 ] || { echo "miaw answered $status for GET $path" >&2; exit 1; }
hdrs=()
while IFS= read -r line; do
  line=${line%$'\r'}
  [ -n "$line" ] || continue
  name=${line%%:*} value=${line#*: }
  case ${name,,} in
    http/*|date|server|connection|transfer-encoding|content-length) continue ;; # h2o's own
    x-request-id) value=$(printf '%*s' ${#value} '' | tr ' ' 0) ;;                # same length
  esac
  hdrs+=("${name,,}:$value")
done <"$tmp/miaw.hdr"

for attempt in 1 2 3 4 5; do
  bport=$(pick_port)
  "${srv_pin[@]}" "$bare" "$bport" "$tmp/body" "$status" "${hdrs[@]}" >"$tmp/bare.log" 2>&1 &
  bpid=$!
  if wait_up "$bpid" "http://127.0.0.1:$bport$path"; then pids+=("$bpid"); break; fi
  kill "$bpid" 2>/dev/null || true; wait "$bpid" 2>/dev/null || true; bpid=
done
[ -n "$bpid" ] || { echo "bench_http_bare did not start:" >&2; cat "$tmp/bare.log" >&2; exit 1; }

# ---- the same bytes, over both protocols (headers but the date and the request id's value)
norm() { tr -d '\r' | grep -viE '^(date|x-request-id):' | tr 'A-Z' 'a-z'; }
for proto in --http1.1 --http2-prior-knowledge; do
  for t in "miaw $mport" "bare $bport"; do
    set -- $t
    curl -s "$proto" -D "$tmp/$1.h" -o "$tmp/$1.b" -H "$auth" "http://127.0.0.1:$2$path"
  done
  cmp -s "$tmp/miaw.b" "$tmp/bare.b" || { echo "bodies differ ($proto)" >&2; exit 1; }
  diff <(norm <"$tmp/miaw.h") <(norm <"$tmp/bare.h") >&2 || { echo "headers differ ($proto)" >&2; exit 1; }
done
bytes=$(wc -c <"$tmp/body")

# ---- load
# CPU time a server used while measured, per request answered: utime+stime from
# /proc/PID/stat over the measured window, divided by the requests. Unlike req/s it does
# not depend on how much of the machine the server got, so on a busy machine it is the
# steadier measure of what a request costs (the kernel's share of sending it included).
clk=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# "faults,system-ticks,switches" so far: minor page faults (a fault per page the heap gets
# back after malloc gave it to the kernel: kernel time per request that strace does not
# show), system ticks, and context switches summed over the process's threads (each sleep
# in epoll_wait and wake-up is one; the kernel's share per request follows them)
kernel_sample() {
  local sw
  sw=$(cat /proc/"$1"/task/*/status 2>/dev/null | awk '/_ctxt_switches:/ {n += $2} END {print n + 0}')
  awk -v w="$sw" '{print $10 "," $15 "," w}' "/proc/$1/stat" 2>/dev/null || echo 0,0,0
}
note_kernel() { # pid proto before after rps -> "pid proto faults/req sys-us/req switches/req"
  awk -v p="$1" -v x="$2" -v a="$3" -v b="$4" -v r="$5" -v s="$secs" -v c="$clk" \
    'BEGIN {split(a, u, ","); split(b, v, ",");
            if (r > 0) printf "%s %s %.4f %.3f %.4f\n", p, x, (v[1] - u[1]) / s / r,
                              (v[2] - u[2]) / c / s / r * 1e6, (v[3] - u[3]) / s / r}' >>"$tmp/faults"
}
cpu_us() { # ticks-before ticks-after rps -> microseconds of CPU per request
  awk -v a="$1" -v b="$2" -v r="$3" -v c="$clk" -v s="$secs" 'BEGIN {printf "%.2f", (r > 0 ? (b - a) / c / s / r * 1e6 : 0)}'
}
# wrk: "Requests/sec: N" and, with --latency, "99%  1.23ms" (us, ms or s)
run_h1() { # port pid -> "rps p99ms cpu-us/req"
  local out t0 t1 f0 f1
  t0=$(ticks "$2") f0=$(kernel_sample "$2")
  out=$("${cli_pin[@]}" wrk -t"$threads" -c"$conns" -d"${secs}s" --latency -H "$auth" "http://127.0.0.1:$1$path")
  t1=$(ticks "$2") f1=$(kernel_sample "$2")
  if grep -q 'Non-2xx\|Socket errors' <<<"$out"; then echo "wrk reported errors:" >&2; echo "$out" >&2; exit 1; fi
  local rp
  rp=$(awk '/^Requests\/sec:/ {rps=$2}
       $1=="99%" {v=$2; u=v; sub(/^[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
                  p = (u=="us") ? v/1000 : (u=="ms") ? v : (u=="s") ? v*1000 : (u=="m") ? v*60000 : -1}
       END {printf "%.0f %.3f\n", rps, p}' <<<"$out")
  note_kernel "$2" h1 "$f0" "$f1" "${rp%% *}"
  echo "$rp $(cpu_us "$t0" "$t1" "${rp%% *}")"
}
# h2load: "finished in Xs, N req/s"; p99 from its per-request log (3rd column: microseconds).
# Its 1 s warm-up is not measured: the CPU window starts after it.
run_h2() { # port pid -> "rps p99ms cpu-us/req"
  local out log="$tmp/h2load.log" hp t0 t1 f0 f1
  rm -f "$log"
  "${cli_pin[@]}" h2load -t"$threads" -c"$conns" -m"$streams" -D"$secs" --warm-up-time=1 \
    --log-file="$log" -H "$auth" "http://127.0.0.1:$1$path" >"$tmp/h2load.out" 2>&1 &
  hp=$!
  sleep 1
  t0=$(ticks "$2") f0=$(kernel_sample "$2")
  wait "$hp" || true
  t1=$(ticks "$2") f1=$(kernel_sample "$2")
  out=$(cat "$tmp/h2load.out")
  if ! grep -qE 'requests: .* ([0-9]+) succeeded, 0 failed, 0 errored' <<<"$out"; then
    echo "h2load reported failures:" >&2; echo "$out" >&2; exit 1
  fi
  local rps p99
  rps=$(awk '/^finished in/ {for (i=1;i<=NF;i++) if ($(i+1) ~ /^req\/s/) print $i}' <<<"$out" | tr -d ,)
  p99=$(awk '{print $3}' "$log" | sort -n | awk '{v[NR]=$1} END {i=int(NR*0.99); if (i<1) i=1; printf "%.3f\n", v[i]/1000}')
  note_kernel "$2" h2 "$f0" "$f1" "${rps%.*}"
  echo "${rps%.*} $p99 $(cpu_us "$t0" "$t1" "${rps%.*}")"
}

warmup() { # port
  "${cli_pin[@]}" wrk -t"$threads" -c"$conns" -d"${warm}s" -H "$auth" "http://127.0.0.1:$1$path" >/dev/null
  "${cli_pin[@]}" h2load -t"$threads" -c"$conns" -m"$streams" -D"$warm" -H "$auth" "http://127.0.0.1:$1$path" >/dev/null
}

# POST send-text to the (disconnected) instance: the 503 INSTANCE_NOT_CONNECTED fast path,
# over HTTP/1.1 keep-alive; miaw only (the bare server has no such route). Every answer is
# a 503 by design; what counts is that wrk saw no socket errors (each connection stays
# open: before the fix every non-200 answer closed it). -> "rps p99ms errors non2xx"
run_post() { # port
  local out lua="$tmp/post.lua"
  printf 'wrk.method = "POST"\nwrk.body = [[{"to":"15550001111","text":"bench"}]]\nwrk.headers["Content-Type"] = "application/json"\n' >"$lua"
  out=$("${cli_pin[@]}" wrk -t"$threads" -c"$conns" -d"${secs}s" --latency -s "$lua" -H "$auth" \
    "http://127.0.0.1:$1$path/messages/text")
  awk '/^Requests\/sec:/ {rps=$2}
       /Socket errors:/ {gsub(/,/, ""); e=$4+$6+$8+$10}
       /Non-2xx or 3xx responses:/ {n=$5}
       $1=="99%" {v=$2; u=v; sub(/^[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
                  p = (u=="us") ? v/1000 : (u=="ms") ? v : (u=="s") ? v*1000 : (u=="m") ? v*60000 : -1}
       END {printf "%.0f %.3f %d %d\n", rps, p, e, n}' <<<"$out"
}

load() { uptime | sed 's/.*load average: //'; }
echo "bench/http: GET $path with auth, $bytes-byte JSON body, on $(nproc) CPUs"
echo "load: $threads client threads, $conns connections, h2 streams/connection $streams, ${secs}s per run, $rounds round(s), warm-up ${warm}s, pinning $([ ${#srv_pin[@]} -gt 0 ] && echo on || echo off)"
echo "miaw log level: ${BENCH_LOG_LEVEL:-default (info, a line per request)}, to ${BENCH_MIAW_LOG:-a file in the temp dir}"
echo "load average before: $(load)"
warmup "$mport"
warmup "$bport"

: >"$tmp/results"
: >"$tmp/post"
: >"$tmp/faults"
for r in $(seq "$rounds"); do
  for proto in h1 h2; do
    for t in "miaw $mport $mpid" "bare $bport $bpid"; do
      set -- $t
      echo "$1 $proto $(run_$proto "$2" "$3") $r" >>"$tmp/results"
    done
  done
  [ "${BENCH_POST:-1}" = 1 ] && echo "miaw post $(run_post "$mport") $r" >>"$tmp/post"
done
echo "load average after:  $(load)"
echo

# per target and protocol: the median round by req/s, and the median CPU time per request;
# the ratios are medians of the per-round ratios (miaw and bare measured back to back),
# which a busy machine skews less. "cpu" = bare's CPU per request over miaw's: the req/s
# ratio the two would show each with a whole CPU (the steadier one on a shared machine).
pick() { grep "^$1 $2 " "$tmp/results" | sort -k3,3n | awk '{l[NR]=$0} END {print l[int((NR+1)/2)]}'; }
median() { sort -n | awk '{v[NR]=$1} END {printf "%.2f", (NR ? v[int((NR+1)/2)] : 0)}'; }
cpu_median() { grep "^$1 $2 " "$tmp/results" | awk '{print $5}' | median; }
ratios() { # proto -> "rps-ratio p99-ratio cpu-ratio", medians over rounds (plain awk: no asort in mawk)
  local pairs
  pairs=$(awk -v p="$1" '$2==p {k=$6; if ($1=="miaw") {mr[k]=$3; mp[k]=$4; mc[k]=$5} else {br[k]=$3; bp[k]=$4; bc[k]=$5}}
    END {for (k in mr) if (br[k] > 0) printf "%f %f %f\n", mr[k]/br[k], (bp[k] > 0 ? mp[k]/bp[k] : 0), (mc[k] > 0 ? bc[k]/mc[k] : 0)}' "$tmp/results")
  echo "$(awk '{print $1}' <<<"$pairs" | median) $(awk '{print $2}' <<<"$pairs" | median) $(awk '{print $3}' <<<"$pairs" | median)"
}
printf '%-6s %-9s %12s %10s %12s\n' target protocol "req/s" "p99 (ms)" "CPU us/req"
for proto in h1 h2; do
  label=$([ $proto = h1 ] && echo "http/1.1" || echo "h2c")
  for t in miaw bare; do
    awk -v l="$label" -v c="$(cpu_median $t $proto)" '{printf "%-6s %-9s %12d %10.3f %12.2f\n", $1, l, $3, $4, c}' <<<"$(pick $t $proto)"
  done
  awk -v l="$label" '{printf "%-6s %-9s %11.2fx %9.2fx %11.2fx   (miaw/bare per round, median: req/s, p99; cpu: bare/miaw)\n", "ratio", l, $1, $2, $3}' <<<"$(ratios $proto)"
done
echo
# per request, medians over rounds: minor page faults, system (kernel) CPU time, context
# switches of all the server's threads
printf '%-6s %-9s %12s %12s %12s\n' target protocol "faults/req" "sys us/req" "switches/req"
for proto in h1 h2; do
  label=$([ $proto = h1 ] && echo "http/1.1" || echo "h2c")
  for t in "miaw $mpid" "bare $bpid"; do
    set -- $t
    printf '%-6s %-9s' "$1" "$label"
    for col in 3 4 5; do
      printf ' %12s' "$(awk -v p="$2" -v x=$proto -v c=$col '$1==p && $2==x {print $c}' "$tmp/faults" |
        sort -n | awk '{v[NR]=$1} END {printf "%.3f", (NR ? v[int((NR+1)/2)] : 0)}')"
    done
    echo
  done
done
if [ "$rounds" -gt 1 ]; then
  echo
  echo "every round (target protocol req/s p99-ms cpu-us/req round), to judge the noise:"
  sed 's/^/  /' "$tmp/results"
fi
if [ -s "$tmp/post" ]; then
  # the median round by req/s, beside miaw's GET over the same HTTP/1.1 keep-alive load
  post=$(sort -k3,3n "$tmp/post" | awk '{l[NR]=$0} END {print l[int((NR+1)/2)]}')
  get=$(pick miaw h1)
  echo
  printf '%-34s %12s %10s %14s\n' "miaw, HTTP/1.1 keep-alive" "req/s" "p99 (ms)" "socket errors"
  awk '{printf "%-34s %12d %10.3f %14s\n", "GET instance (200)", $3, $4, "0"}' <<<"$get"
  awk '{printf "%-34s %12d %10.3f %14d   (%d answers, all 503 by design)\n", "POST send-text, disconnected (503)", $3, $4, $5, $6}' <<<"$post"
  awk -v g="$(awk '{print $3}' <<<"$get")" '{if (g > 0) printf "%-34s %11.2fx\n", "POST/GET", $3 / g}' <<<"$post"
  [ "$(awk '{print $5}' <<<"$post")" = 0 ] || { echo "POST: socket errors: the connections did not stay open" >&2; exit 1; }
fi

# ---- where miaw's time goes: perf over one more run of each server, HTTP/1.1 (wrk) and/or
# h2c (h2load). First the CPU time per request split by where the code lives (kernel, libc,
# h2o, miaw ...), miaw beside bare; then, for miaw, per function the share of its samples
# spent in it and what it calls ("children").
profile=${BENCH_PROFILE:-0}
case $profile in
  0 | '') protos= ;;
  1 | h1) protos=h1 ;;
  h2) protos=h2 ;;
  both | all) protos="h1 h2" ;;
  *) echo "BENCH_PROFILE=$profile: want 0, 1 (= h1), h1, h2 or both" >&2; exit 2 ;;
esac
if [ -n "$protos" ] && ! command -v perf >/dev/null; then
  echo; echo "profile: perf not found (Debian: linux-perf)"; protos=
fi
prof() { # name port pid proto -> $tmp/perf-NAME-PROTO.data, and "cpu-us/req" on stdout
  local pp t0 t1 rps
  perf record -q -F 999 --call-graph dwarf,16384 -p "$3" -o "$tmp/perf-$1-$4.data" -- sleep "$secs" 2>"$tmp/perf.err" &
  pp=$!
  t0=$(ticks "$3")
  if [ "$4" = h1 ]; then
    rps=$("${cli_pin[@]}" wrk -t"$threads" -c"$conns" -d"${secs}s" -H "$auth" "http://127.0.0.1:$2$path" |
      awk '/^Requests\/sec:/ {printf "%.0f", $2}')
  else
    rps=$("${cli_pin[@]}" h2load -t"$threads" -c"$conns" -m"$streams" -D"$secs" -H "$auth" "http://127.0.0.1:$2$path" |
      awk '/^finished in/ {for (i=1;i<=NF;i++) if ($(i+1) ~ /^req\/s/) {v=$i; gsub(/,/, "", v); printf "%.0f", v}}')
  fi
  t1=$(ticks "$3")
  wait "$pp" || true
  cpu_us "$t0" "$t1" "$rps"
}
dso() { # data-file cpu-us/req -> "dso us/req" lines
  perf report -i "$1" --no-children --sort dso -g none --stdio 2>/dev/null | grep -v '^#' |
    awk -v c="$2" 'NF >= 2 && $1 ~ /%$/ {v=$1; sub(/%/, "", v); d=$2; sub(/\.so.*/, "", d); print d, v * c / 100}'
}
# name in the report -> label; per protocol the first line naming it is shown ("-": no
# samples). The h2o rows that only one protocol has show "-" on the other.
syms=$(cat <<'SYMS'
miaw_http_on_req|miaw's request handler, up to the answer
dispatch|  route, auth, instance check, the handler
miaw_router_match|    the router
miaw_http_authenticate|    the API key check
h_get|    the route's handler (core/instances), up to the answer
miaw_instance_json_text|      its JSON text (kept, checked against the fields)
miaw_req_reply_data_text|the answer: envelope, headers, log line, sending
miaw_http_log_request|  access log line and request metrics
h2o_send_inline|  h2o sending it (bare: the same)
__GI___writev|    of which the kernel's writev (h1; h2 writes after the handler)
on_req_dispose|the request's end (h2o frees its pool): miaw's clean-up
miaw_log_flush|the access log's buffered writes (at most every 5 ms)
judge|the early body gate's look at each request head (h1)
h2o_hpack_flatten_response|h2: the response headers' HPACK encoding (bare: the same call)
h2o_http2_conn_register_for_proceed_callback|h2: the stream queued for sending
on_write_complete|h2: after a write, the next frames (h2o)
SYMS
)
for proto in $protos; do
  label=$([ "$proto" = h1 ] && echo "HTTP/1.1" || echo "h2c")
  echo
  mc=$(prof miaw "$mport" "$mpid" "$proto")
  bc=$(prof bare "$bport" "$bpid" "$proto")
  md="$tmp/perf-miaw-$proto.data" bd="$tmp/perf-bare-$proto.data"
  if [ -n "${BENCH_PROFILE_KEEP:-}" ]; then
    mkdir -p "$BENCH_PROFILE_KEEP" && cp -f "$md" "$bd" "$BENCH_PROFILE_KEEP"/ 2>/dev/null || true
  fi
  if [ ! -s "$md" ] || [ ! -s "$bd" ]; then
    echo "profile: perf record failed: $(head -3 "$tmp/perf.err")"
    continue
  fi
  echo "profile, $label: CPU time per request by where the code runs (perf self samples x CPU us/req)"
  printf '  %-22s %10s %10s\n' "" "miaw us" "bare us"
  join -a1 -a2 -e 0 -o 0,1.2,2.2 <(dso "$md" "$mc" | sort) <(dso "$bd" "$bc" | sort) |
    sort -k2,2nr | awk '$2 >= 0.05 || $3 >= 0.05 {printf "  %-22s %10.2f %10.2f\n", $1, $2, $3}'
  printf '  %-22s %10.2f %10.2f\n' "total" "$mc" "$bc"
  for t in miaw bare; do
    perf report -i "$tmp/perf-$t-$proto.data" --children --sort sym -g none --stdio 2>/dev/null | grep -v '^#' >"$tmp/perf-$t.txt" || true
  done
  echo "$label, per function with what it calls (% of the samples, miaw beside bare; the stack"
  echo "is cut at the answer's 16 KiB encoding buffer, so the rows above it count the work"
  echo "before the answer only):"
  printf '  %7s %7s  %-44s %s\n' miaw bare function ""
  while IFS='|' read -r sym what; do
    m=$(awk -v s="$sym" '$4 == s {print $1; exit}' "$tmp/perf-miaw.txt")
    b=$(awk -v s="$sym" '$4 == s {print $1; exit}' "$tmp/perf-bare.txt")
    printf '  %7s %7s  %-44s %s\n' "${m:--}" "${b:--}" "$sym" "$what"
  done <<<"$syms"
  if [ -n "${BENCH_PROFILE_TOP:-}" ]; then
    echo "$label, the $BENCH_PROFILE_TOP functions with the most self samples (miaw, then bare):"
    for t in miaw bare; do
      perf report -i "$tmp/perf-$t-$proto.data" --no-children --sort dso,sym -g none --stdio 2>/dev/null |
        awk -v n="$BENCH_PROFILE_TOP" -v t="$t" '!/^#/ && NF && k++ < n {print "  " t " " $0}' # not head: perf's SIGPIPE
    done
  fi
done
