#!/usr/bin/env bash
# Speed and memory, side by side with GoAccess and tshark, on generated
# OpenChamber traffic (WebSocket, SSE, uploads, errors; 100,000 clients):
#
#   benches/compare.sh [SIZE]        # default 1G per input
#   KINDS="pcap" benches/compare.sh  # only some of combined timing inferred caddy docker pcap
#                                    # (also haproxy, traefik: not in the default set)
#
# `inferred` is the timing-rich log read without its config (the format
# inferred from its lines), `docker` the combined log inside Docker's
# json-file lines.
#   OTHERS=no benches/compare.sh     # chamber-diag alone (no GoAccess, tshark)
#
# Writes the inputs to $BENCH_DIR (default /tmp/chamber-bench), then for
# each: chamber-diag --format json with 2 jobs, with 1, and from stdin (peak
# memory without a mapped file): median of 3 runs each (ROUNDS=5 for five),
# page cache warm, the three ways taking turns; then the 2-vs-1 ratio, GB/s
# and the memory of one job against two, per kind;
# GoAccess (--log-format=COMBINED) on the combined log and tshark (HTTP and
# WebSocket field extraction) on the capture, once each. Prints wall time,
# MB/s, ratios and peak RSS (/usr/bin/time -v).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SIZE=${1:-1G}
DIR=${BENCH_DIR:-/tmp/chamber-bench}
mkdir -p "$DIR"
OTHERS=${OTHERS:-yes}
tools=(/usr/bin/time)
[ "$OTHERS" = no ] || tools+=(goaccess tshark)
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null || { echo "compare.sh: needs $tool (apt-get install -y goaccess tshark time)"; exit 1; }
done
cargo build --quiet --release -p chamber-diag -p chamber-lab --manifest-path "$ROOT/Cargo.toml"
DIAG=$ROOT/target/release/chamber-diag
LAB=$ROOT/target/release/chamber-lab
TIMING_CONF=$ROOT/samples/lab/scenarios/nginx-healthy-timing/site.conf

KINDS=${KINDS:-combined timing inferred caddy docker pcap}
# The file each kind reads (inferred reads the timing log, without help).
file_of() { if [ "$1" = inferred ]; then echo "$DIR/timing-$SIZE"; else echo "$DIR/$1-$SIZE"; fi; }
for kind in $KINDS; do
  f=$(file_of "$kind")
  [ -s "$f" ] || "$LAB" generate "${kind/inferred/timing}" --size "$SIZE" --out "$f"
done

# once CMD...: one timed run; prints "wall_s max_rss_kb cpu_s". The input is read
# just before, untimed: the kernel may reclaim page cache it deems cold
# (DAMON does on this project's machines), and the runs are meant warm.
once() {
  cat "$f" > /dev/null
  /usr/bin/time -f "%e %M %U %S" -o "$DIR/time.out" "$@" > /dev/null 2> "$DIR/err.out" || [ $? -le 1 ] || { cat "$DIR/err.out"; exit 1; }
  tail -1 "$DIR/time.out" | awk '{ printf "%s %s %.2f\n", $1, $2, $3 + $4 }'
}
median() { # the median of the lines on stdin ("wall rss cpu"), by wall time
  sort -n | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }'
}
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / 1048576 / s }'; }
gbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.2f", b / 1e9 / s }'; }
ROUNDS=${ROUNDS:-3}

printf '%-10s %-26s %9s %9s %7s %11s\n' input run wall_s MiB/s GB/s max_rss_MB
row() { # input label bytes "wall rss cpu"
  set -- "$1" "$2" "$3" $4
  printf '%-10s %-26s %9.2f %9s %7s %11.0f\n' "$1" "$2" "$4" "$(mbps "$3" "$4")" "$(gbps "$3" "$4")" \
    "$(awk -v k="$5" 'BEGIN { print k / 1024 }')"
}
summary=()
for kind in $KINDS; do
  f=$(file_of "$kind")
  bytes=$(stat -c %s "$f")
  extra=()
  [ "$kind" = timing ] && extra=(--nginx-conf "$TIMING_CONF")
  # Three rounds, each running the three ways in turn: this machine's speed
  # drifts over minutes, and interleaving keeps the drift out of the ratios.
  : > "$DIR/two.runs"; : > "$DIR/one.runs"; : > "$DIR/stdin.runs"
  for round in $(seq "$ROUNDS"); do
    once "$DIAG" --format json --jobs 2 "${extra[@]}" "$f" >> "$DIR/two.runs"
    once "$DIAG" --format json --jobs 1 "${extra[@]}" "$f" >> "$DIR/one.runs"
    once sh -c "\"$DIAG\" --format json --jobs 2 ${extra[*]} - < \"$f\"" >> "$DIR/stdin.runs"
  done
  two=$(median < "$DIR/two.runs")
  one=$(median < "$DIR/one.runs")
  stdin=$(median < "$DIR/stdin.runs")
  row "$kind" "chamber-diag --jobs 2" "$bytes" "$two"
  row "$kind" "chamber-diag --jobs 1" "$bytes" "$one"
  row "$kind" "chamber-diag stdin" "$bytes" "$stdin"
  speedup=$(awk -v a="${one%% *}" -v b="${two%% *}" 'BEGIN { printf "%.2f", a / b }')
  # Peak memory is the largest of the rounds (it varies by a few MB from
  # run to run); how busy both cores were is CPU time over twice the wall
  # time of the median 2-job run, which the machine's drift leaves alone.
  rss1=$(awk '$2 > m { m = $2 } END { printf "%.0f", m / 1024 }' "$DIR/one.runs")
  rss2=$(awk '$2 > m { m = $2 } END { printf "%.0f", m / 1024 }' "$DIR/two.runs")
  busy=$(echo "$two" | awk '{ printf "%.2f", $3 / (2 * $1) }')
  echo "           two jobs vs one: ${speedup}x; $(gbps "$bytes" "${two%% *}") GB/s with 2 jobs, both cores ${busy} busy; peak memory ${rss1} MB with 1 job, ${rss2} MB with 2"
  summary+=("$(printf '%-10s %6sx %7s GB/s %6s %7s MB %7s MB' "$kind" "$speedup" "$(gbps "$bytes" "${two%% *}")" "$busy" "$rss1" "$rss2")")
  [ "$OTHERS" = no ] && continue
  case $kind in
    combined)
      g=$(once goaccess "$f" --log-format=COMBINED --no-global-config -o "$DIR/goaccess.json")
      row "$kind" "goaccess" "$bytes" "$g"
      echo "           chamber-diag is $(awk -v a="${g%% *}" -v b="${two%% *}" 'BEGIN { printf "%.0f", a / b }')x faster than GoAccess"
      ;;
    pcap)
      t=$(once tshark -r "$f" -T fields -e frame.number -e http.request.method -e http.request.uri -e http.response.code -e websocket.opcode)
      row "$kind" "tshark -T fields" "$bytes" "$t"
      echo "           chamber-diag is $(awk -v a="${t%% *}" -v b="${two%% *}" 'BEGIN { printf "%.1f", a / b }')x faster than tshark"
      ;;
  esac
done
echo
echo "median of $ROUNDS, runs taking turns: kind, 2 jobs vs 1, GB/s with 2 jobs, how busy both cores were with 2 jobs, peak RSS with 1 job and with 2 (largest of the rounds)"
printf '%s\n' "${summary[@]}"
