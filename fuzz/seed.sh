#!/usr/bin/env bash
# Seeds each fuzz target's corpus (fuzz/corpus/TARGET, not committed) from
# the shipped samples: the first 16 KiB of each log, the first 32 KiB of
# each capture (its header and first packets), and a few scripted TCP
# conversations for `stream` (HTTP, an event stream, a WebSocket).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
S=../samples
seed() { # target file bytes
  mkdir -p "corpus/$1"
  head -c "$3" "$2" > "corpus/$1/$(echo "$2" | tr '/' '_' | sed 's/^\.*_*//')"
}
for f in $S/lab/out/*/access.log $S/public/nginx-*.log $S/public/npm-*.log; do
  [ -s "$f" ] && seed nginx_access "$f" 16384
done
for f in $S/lab/out/*/error.log $S/public/nginx-error-beats.log; do
  [ -s "$f" ] && seed nginx_error "$f" 16384
done
for f in $S/lab/out/caddy-*/caddy.log $S/public/caddy-mixed.log; do
  [ -s "$f" ] && seed caddy "$f" 16384
done
for f in $S/lab/out/haproxy-*/*.log $S/lab/out/apache-*/*.log $S/lab/out/traefik-*/*.log \
  $S/public/haproxy-*.log $S/public/apache-*.log $S/public/traefik-*.log; do
  [ -s "$f" ] && seed other_logs "$f" 4096
done
for f in $S/lab/out/*/capture*.pcap* $S/captures/*.pcap*; do
  seed capture "$f" 32768
done
for f in $S/lab/out/*/capture.pcap $S/lab/out/*/capture-any.pcap $S/captures/*.pcap; do
  seed pcap "$f" 32768
done
for f in $S/lab/out/*/capture.pcapng $S/captures/*.pcapng; do
  seed pcapng "$f" 32768
done
for f in $S/public/har/*.har $S/lab/out/*/session.har ../tests/data/har/*.har; do
  [ -s "$f" ] && seed har "$f" 65536
done
for t in nginx_access nginx_error caddy capture; do
  mkdir -p corpus/report
  cp corpus/$t/* corpus/report/ 2>/dev/null || true
done
mkdir -p corpus/stream
python3 - <<'PY'
# A segment: head byte (bit 0: to the client), length byte, payload.
def script(*parts):
    out = bytearray()
    for to_client, data in parts:
        for i in range(0, len(data), 200):
            chunk = data[i:i + 200]
            out += bytes([1 if to_client else 0, len(chunk)]) + chunk
    return bytes(out)
get = b"GET /api/config HTTP/1.1\r\nHost: oc.example\r\n\r\n"
ok = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
sse_req = b"GET /api/event HTTP/1.1\r\nHost: oc.example\r\nAccept: text/event-stream\r\n\r\n"
sse = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
ev = b"data: {\"type\":\"server.heartbeat\"}\n\n"
chunk = b"%x\r\n" % len(ev) + ev + b"\r\n"
ws_req = (b"GET /api/event/ws HTTP/1.1\r\nHost: oc.example\r\nUpgrade: websocket\r\n"
          b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
          b"Sec-WebSocket-Version: 13\r\n\r\n")
ws_ok = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
text = b"\x81\x05hello"
masked = b"\x81\x85\x01\x02\x03\x04" + bytes(c ^ k for c, k in zip(b"hello", b"\x01\x02\x03\x04\x01"))
close = b"\x88\x02\x03\xe8"
seeds = {
    "http": script((0, get), (1, ok), (0, get), (1, ok)),
    "sse": script((0, sse_req), (1, sse + chunk * 3)),
    "ws": script((0, ws_req), (1, ws_ok), (1, text), (0, masked), (1, close)),
    "gzip": script((0, get), (1, b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\n\x1f\x8b\x08\x00")),
}
for name, data in seeds.items():
    open(f"corpus/stream/{name}", "wb").write(data)
PY
for t in nginx_access nginx_error caddy capture pcap pcapng stream report; do
  echo "$t: $(ls corpus/$t | wc -l) seeds"
done
for f in $S/lab/out/*/site.conf $S/lab/out/*/nginx.conf $S/lab/out/caddy-*-2.11/Caddyfile $S/configs/*.json \
  $S/lab/out/*/haproxy.cfg $S/lab/out/*/apache2.conf $S/lab/out/*/traefik.yml $S/lab/out/*/dynamic.yml; do
  seed config "$f" 16384
done
