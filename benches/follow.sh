#!/usr/bin/env bash
# --follow over hours of generated traffic: memory against run time, and
# the cost per line against batch mode's.
#
#   benches/follow.sh [HOURS]      # default 24: a day of the generator's traffic
#
# The lab's generator writes OpenChamber traffic in the timing-rich nginx
# format at about 20 requests a second (sockets, streams, uploads, errors;
# 100,000 clients; every request on a connection of its own, the worst case
# for the connection count). The log is cut into HOURS parts of an hour of
# log time each; a follow of an empty access.log gets one part at a time,
# the next once it is idle again. After each hour: its resident memory
# (VmRSS), peak (VmHWM) and CPU time so far, from /proc. Then batch mode
# over the whole log, for CPU time per line.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HOURS=${1:-24}
DIR=${BENCH_DIR:-/tmp/chamber-bench}/follow
mkdir -p "$DIR"
cargo build --quiet --release -p chamber-diag -p chamber-lab --manifest-path "$ROOT/Cargo.toml"
DIAG=$ROOT/target/release/chamber-diag
LAB=$ROOT/target/release/chamber-lab

# The generator's log time runs at 148 s a MB (measured: 1 MB spans 2697
# lines and 148 s), so an hour is about 24.3 MB.
DAY=$DIR/traffic-${HOURS}h.log
[ -s "$DAY" ] || "$LAB" generate timing --size "$(( HOURS * 3600 * 1048576 / 148 ))" --out "$DAY" > /dev/null
rm -f "$DIR"/hour.* "$DIR/access.log"
split -n "l/$HOURS" -d -a 3 "$DAY" "$DIR/hour."
: > "$DIR/access.log"

cpu_s() { # user + system time of a process, in seconds
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"
}
kb() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }

cd "$DIR"
"$DIAG" -f --format json --jobs 2 --no-progress access.log > events.jsonl 2> follow.err &
pid=$!
sleep 1
printf '%5s %10s %9s %9s %9s %9s\n' hours lines rss_MB peak_MB cpu_s ns/line
lines=0
h=0
for part in hour.*; do
  h=$((h + 1))
  cat "$part" >> access.log
  lines=$(( lines + $(wc -l < "$part") ))
  # Idle again: no CPU used over half a second.
  prev=-1
  while :; do
    now=$(cpu_s $pid)
    [ "$now" = "$prev" ] && break
    prev=$now
    sleep 0.5
  done
  printf '%5d %10d %9.1f %9.1f %9.2f %9.0f\n' "$h" "$lines" \
    "$(echo "$(kb $pid VmRSS) / 1024" | bc -l)" "$(echo "$(kb $pid VmHWM) / 1024" | bc -l)" \
    "$now" "$(echo "$now * 1000000000 / $lines" | bc -l)"
done
kill -INT $pid
wait $pid || true
echo "follow: $(grep -c '"event":"finding"' events.jsonl) finding line(s), $(grep -c '"event":"update"' events.jsonl) update(s); last: $(tail -1 events.jsonl | cut -c1-160)"

/usr/bin/time -f "%U %S %M" -o batch.time "$DIAG" --format json --jobs 2 --no-progress "$DAY" > batch.json || true
read -r user sys rss < <(tail -1 batch.time)
printf 'batch over the same %d lines: cpu %.2f s (%.0f ns/line), peak %.1f MB\n' "$lines" \
  "$(echo "$user + $sys" | bc -l)" "$(echo "($user + $sys) * 1000000000 / $lines" | bc -l)" \
  "$(echo "$rss / 1024" | bc -l)"
