#!/usr/bin/env bash
# `chamber-diag check` on large configs of each proxy it reads: N sites
# (default 1000), one of them OpenChamber's, the rest other apps, as a
# shared reverse proxy holds them. Prints the median wall time of three
# runs and the peak memory, per config.
#
#   benches/configs.sh [N]        (builds the release binary first)
#
# Shapes: HAProxy, one frontend routing N hosts by ACL to N backends;
# Apache, N name-based virtual hosts in one site file; Traefik, a folder of
# N dynamic files (one router and service each) named by a static config;
# Caddy, a Caddyfile of N sites. Each without --server (the reader finds
# OpenChamber's site) and with it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
N=${1:-1000}
cargo build --release -q
BIN=$PWD/target/release/chamber-diag
DIR=$(mktemp -d /tmp/chamber-configs.XXXXXX)
trap 'rm -rf "$DIR"' EXIT

python3 - "$DIR" "$N" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
oc = n // 2  # OpenChamber's site, in the middle

def host(i):
    return "chamber.example.com" if i == oc else f"app{i}.example.com"

def port(i):
    return 3000 if i == oc else 8000 + i

# HAProxy
with open(f"{d}/haproxy.cfg", "w") as f:
    f.write("defaults\n  mode http\n  timeout connect 5s\n  timeout client 1h\n  timeout server 1h\n"
            "  timeout tunnel 1h\n\nfrontend web\n  bind :80\n  option forwardfor\n"
            "  http-request set-header X-Forwarded-Proto http\n")
    for i in range(n):
        f.write(f"  acl h{i} hdr(host) -i {host(i)}\n  use_backend b{i} if h{i}\n")
    for i in range(n):
        f.write(f"\nbackend b{i}\n  server s{i} 127.0.0.1:{port(i)}\n")

# Apache
os.makedirs(f"{d}/apache", exist_ok=True)
with open(f"{d}/apache/apache2.conf", "w") as f:
    f.write("Timeout 300\nLoadModule proxy_module mod_proxy.so\nLoadModule proxy_http_module mod_proxy_http.so\n"
            "LoadModule headers_module mod_headers.so\nListen 80\nInclude sites.conf\n")
with open(f"{d}/apache/sites.conf", "w") as f:
    for i in range(n):
        f.write(f"<VirtualHost *:80>\n  ServerName {host(i)}\n  ProxyPreserveHost On\n"
                f"  RequestHeader set X-Forwarded-Proto \"http\"\n  ProxyTimeout 3600\n"
                f"  ProxyPass / http://127.0.0.1:{port(i)}/ upgrade=websocket\n</VirtualHost>\n")

# Traefik
os.makedirs(f"{d}/traefik/dyn", exist_ok=True)
with open(f"{d}/traefik/traefik.yml", "w") as f:
    f.write("entryPoints:\n  web:\n    address: \":80\"\nproviders:\n  file:\n    directory: dyn\n")
for i in range(n):
    with open(f"{d}/traefik/dyn/site{i:05}.yml", "w") as f:
        f.write(f"http:\n  routers:\n    r{i}:\n      rule: \"Host(`{host(i)}`)\"\n      service: s{i}\n"
                f"      middlewares: [proto]\n  middlewares:\n    proto:\n      headers:\n"
                f"        customRequestHeaders:\n          X-Forwarded-Proto: \"http\"\n"
                f"  services:\n    s{i}:\n      loadBalancer:\n        servers:\n"
                f"          - url: \"http://127.0.0.1:{port(i)}\"\n")

# Caddy
with open(f"{d}/Caddyfile", "w") as f:
    for i in range(n):
        f.write(f"{host(i)} {{\n  reverse_proxy 127.0.0.1:{port(i)}\n}}\n")
PY

run() { # label server path: server "-" for none (the site is found)
  local label=$1 server=$2 path=$3 flags=()
  [ "$server" != "-" ] && flags=(--server "$server")
  local times=() mem=0
  for _ in 1 2 3; do
    /usr/bin/time -f "%e %M" -o "$DIR/time" "$BIN" check -q --format json "${flags[@]}" "$path" > "$DIR/out.json" || [ $? -le 1 ]
    read -r t m < "$DIR/time"
    times+=("$t"); [ "$m" -gt "$mem" ] && mem=$m
  done
  local median sites
  median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 2p)
  sites=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(len({s["site"] for s in r.get("served", [])}))' "$DIR/out.json")
  printf '%-8s %6s sites  %-28s %6s s  %7s KB  (%s site(s) checked)\n' "$label" "$N" "${flags[*]:-(no --server)}" "$median" "$mem" "$sites"
}
for server in - chamber.example.com; do
  run haproxy "$server" "$DIR/haproxy.cfg"
  run apache "$server" "$DIR/apache/apache2.conf"
  run traefik "$server" "$DIR/traefik/traefik.yml"
  run caddy "$server" "$DIR/Caddyfile"
done
