#!/usr/bin/env bash
# Peak memory on pathological inputs (issue 7): each is generated into
# $BENCH_DIR (default /tmp/chamber-bench) and read from a file and from
# stdin; prints wall time, max RSS and what the report says of the input.
#
#   benches/hostile.sh
#
# Inputs: a million half-open connections (SYNs nobody answers, each from
# its own address); a 100 MB log line between ordinary ones; 300 MB of
# random bytes named .log and .pcap; a 1 GB log whose every other line is
# garbage.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${BENCH_DIR:-/tmp/chamber-bench}
mkdir -p "$DIR"
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
DIAG=$ROOT/target/release/chamber-diag
SAMPLE=$ROOT/samples/lab/out/nginx-guide/access.log
command -v /usr/bin/time > /dev/null || { echo "hostile.sh: needs /usr/bin/time (apt-get install -y time)"; exit 1; }

python3 - "$DIR" "$SAMPLE" <<'PY'
import os, struct, sys
d, sample = sys.argv[1], sys.argv[2]
def write(name, make):
    p = os.path.join(d, name)
    if not os.path.exists(p):
        with open(p, "wb") as f:
            make(f)
def syn_flood(f, n=1_000_000):
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for i in range(n):
        src = bytes([10, (i >> 16) & 255, (i >> 8) & 255, i & 255])
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0, 64, 6, 0, src, bytes([192, 0, 2, 9]))
        tcp = struct.pack("!HHIIBBHHH", 10000 + i % 50000, 80, 1, 0, 0x50, 0x02, 1024, 0, 0)
        frame = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + ip + tcp
        f.write(struct.pack("<IIII", 1795660000 + i // 1000, (i % 1000) * 1000, len(frame), len(frame)))
        f.write(frame)
lines = open(sample, "rb").read()
def long_line(f):
    f.write(lines); f.write(b"A" * (100 << 20) + b"\n"); f.write(lines)
def noise(f):
    f.write(os.urandom(300 << 20))
def half_garbage(f):
    garbage = b"\x00\xff garbage \x1b[31m line\n"
    good = [l + b"\n" for l in lines.splitlines()]
    block = b"".join(g + garbage for g in good)
    for _ in range((1 << 30) // len(block)):
        f.write(block)
write("syn-flood-1M.pcap", syn_flood)
write("long-line.log", long_line)
write("noise-300M.log", noise)
if not os.path.exists(os.path.join(d, "noise-300M.pcap")):
    os.link(os.path.join(d, "noise-300M.log"), os.path.join(d, "noise-300M.pcap"))
write("half-garbage-1G.log", half_garbage)
PY

printf '%-22s %-6s %8s %12s  %s\n' input how wall_s max_rss_MB "records / skipped / notes"
for name in syn-flood-1M.pcap long-line.log noise-300M.log noise-300M.pcap half-garbage-1G.log; do
  f=$DIR/$name
  for how in file stdin; do
    cat "$f" > /dev/null
    if [ $how = file ]; then
      /usr/bin/time -f "%e %M" -o "$DIR/time.out" "$DIAG" --format json "$f" > "$DIR/report.json" 2> /dev/null || true
    else
      /usr/bin/time -f "%e %M" -o "$DIR/time.out" sh -c "\"$DIAG\" --format json - < \"$f\"" > "$DIR/report.json" 2> /dev/null || true
    fi
    read -r wall rss < <(tail -1 "$DIR/time.out")
    said=$(python3 -c 'import json,sys; i=json.load(open(sys.argv[1]))["inputs"][0]; print(i["records"], "/", i["skipped"], "/", "; ".join(i["notes"])[:80])' "$DIR/report.json")
    printf '%-22s %-6s %8.2f %12.0f  %s\n' "$name" "$how" "$wall" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" "$said"
  done
done
