//! Large, realistic inputs for the speed comparison (benches/compare.sh):
//! OpenChamber traffic as nginx (combined or the lab's timing format) and
//! Caddy would log it, and as a capture with many distinct connections.
//! Deterministic: the same arguments write the same bytes.

use std::io::{self, Write};

use chamber_parsers::time::civil_from_days;

/// xorshift64*: fast and good enough for traffic mixes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const AGENTS: [&str; 4] = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
];

/// One logged request of the mix: method, target, status, bytes, seconds.
fn request(rng: &mut Rng) -> (&'static str, String, u16, u64, f64) {
    let roll = rng.below(1000);
    let session = rng.below(5000);
    match roll {
        0..=299 => (
            "GET",
            format!("/assets/chunk-{:02}.js", rng.below(40)),
            200,
            2000 + rng.below(60_000),
            0.002,
        ),
        300..=399 => ("GET", "/".into(), 200, 1800, 0.001),
        400..=649 => (
            "GET",
            format!("/api/session/ses_{session}/message?directory=%2Fhome%2Fdev"),
            200,
            400 + rng.below(20_000),
            0.02,
        ),
        650..=719 => (
            "POST",
            format!("/api/session/ses_{session}/prompt_async"),
            204,
            0,
            0.01,
        ),
        720..=759 => (
            "GET",
            "/api/global/event/ws".into(),
            101,
            4000 + rng.below(400_000),
            30.0 + rng.below(3600) as f64,
        ),
        760..=789 => (
            "GET",
            "/api/terminal/ws".into(),
            101,
            2000 + rng.below(90_000),
            10.0 + rng.below(600) as f64,
        ),
        790..=849 => (
            "GET",
            "/api/event?directory=%2Fhome%2Fdev".into(),
            200,
            800 + rng.below(40_000),
            5.0 + rng.below(900) as f64,
        ),
        850..=879 => (
            "GET",
            "/api/notifications/stream".into(),
            200,
            100 + rng.below(4000),
            20.0 + rng.below(900) as f64,
        ),
        880..=899 => ("POST", "/api/fs/upload".into(), 200, 60, 0.5),
        900..=929 => ("GET", "/health".into(), 200, 15, 0.001),
        930..=949 => ("GET", "/api/global/event/ws".into(), 403, 14, 0.001),
        950..=959 => ("POST", "/api/fs/upload".into(), 413, 183, 0.001),
        960..=974 => (
            "GET",
            format!("/api/session/ses_{session}/message"),
            502,
            157,
            0.001,
        ),
        975..=984 => (
            "GET",
            format!("/api/session/ses_{session}/message"),
            504,
            167,
            60.0,
        ),
        _ => ("GET", "/api/notifications/stream".into(), 499, 0, 30.0),
    }
}

fn client(rng: &mut Rng, clients: u64) -> (u8, u8, u8) {
    let c = rng.below(clients);
    (10 + (c >> 16) as u8, (c >> 8) as u8, c as u8)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn time_local(epoch: i64) -> String {
    let (y, m, d) = civil_from_days(epoch.div_euclid(86400));
    let tod = epoch.rem_euclid(86400);
    format!(
        "{d:02}/{}/{y}:{:02}:{:02}:{:02} +0000",
        MONTHS[m as usize - 1],
        tod / 3600,
        tod % 3600 / 60,
        tod % 60
    )
}

/// nginx access log lines (`combined`, or the lab's timing-rich format)
/// until `size` bytes.
pub fn log(out: &mut dyn Write, timing: bool, size: u64, clients: u64) -> io::Result<u64> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut written = 0u64;
    let mut t = 1_795_600_000i64;
    let mut conn = 0u64;
    let mut line = String::with_capacity(512);
    let mut cached_time = (0i64, String::new());
    while written < size {
        if rng.below(20) == 0 {
            t += 1;
        }
        if cached_time.0 != t {
            cached_time = (t, time_local(t));
        }
        let (a, b, c) = client(&mut rng, clients);
        let (method, target, status, bytes, secs) = request(&mut rng);
        let agent = AGENTS[rng.below(4) as usize];
        line.clear();
        use std::fmt::Write as _;
        let _ = write!(
            line,
            "{a}.{b}.{c}.{} - - [{}] \"{method} {target} HTTP/1.1\" {status} {bytes} \"https://oc.example/\" \"{agent}\"",
            1 + rng.below(250),
            cached_time.1
        );
        if timing {
            conn += 1;
            let up = if status == 502 || (status == 504 && rng.below(2) == 0) {
                "-".to_string()
            } else {
                status.to_string()
            };
            let _ = write!(
                line,
                " rt={secs:.3} uct=\"0.000\" uht=\"0.001\" urt=\"{secs:.3}\" us=\"{up}\" ua=\"127.0.0.1:3000\" conn={conn} creq=1 rl={} bs={} gz=- msec={t}.{:03} pipe=. host=oc.example up=\"{}\"",
                300 + rng.below(900),
                bytes + 220,
                rng.below(1000),
                if status == 101 { "websocket" } else { "-" }
            );
        }
        line.push('\n');
        out.write_all(line.as_bytes())?;
        written += line.len() as u64;
    }
    Ok(written)
}

/// HAProxy's `option httplog` lines (bare, as `log stdout format raw`
/// writes them), the same traffic as `log`, until `size` bytes: the
/// termination state as HAProxy would give it (`sD--` on a cut stream,
/// `SC--` and 503 where OpenChamber was unreachable, `CD--` where the
/// client left).
pub fn haproxy(out: &mut dyn Write, size: u64, clients: u64) -> io::Result<u64> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut written = 0u64;
    let mut t = 1_795_600_000i64;
    let mut line = String::with_capacity(512);
    while written < size {
        if rng.below(20) == 0 {
            t += 1;
        }
        let (y, m, d) = civil_from_days(t.div_euclid(86400));
        let tod = t.rem_euclid(86400);
        let (a, b, c) = client(&mut rng, clients);
        let (method, target, status, bytes, secs) = request(&mut rng);
        let ms = (secs * 1000.0) as i64;
        let (status, flags, timers) = match status {
            502 => (503, "SC--", "0/0/-1/-1/3001".to_string()),
            504 => (504, "sH--", format!("0/0/0/-1/{ms}")),
            499 => (-1, "CD--", format!("0/0/0/-1/{ms}")),
            s => (i32::from(s), "----", format!("0/0/0/1/{ms}")),
        };
        line.clear();
        use std::fmt::Write as _;
        let _ = writeln!(
            line,
            "{a}.{b}.{c}.{}:{} [{d:02}/{}/{y}:{:02}:{:02}:{:02}.{:03}] openchamber~ openchamber/oc1 {timers} {status} {bytes} - - {flags} 12/12/3/3/0 0/0 \"{method} {target} HTTP/1.1\"",
            1 + rng.below(250),
            1024 + rng.below(60000),
            MONTHS[m as usize - 1],
            tod / 3600,
            tod % 3600 / 60,
            tod % 60,
            rng.below(1000),
        );
        out.write_all(line.as_bytes())?;
        written += line.len() as u64;
    }
    Ok(written)
}

/// Traefik's JSON access log, the same traffic as `log`, until `size`
/// bytes (a working socket logged as status 0, as Traefik does).
pub fn traefik_json(out: &mut dyn Write, size: u64, clients: u64) -> io::Result<u64> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut written = 0u64;
    let mut t = 1_795_600_000i64;
    let mut line = String::with_capacity(1024);
    while written < size {
        if rng.below(20) == 0 {
            t += 1;
        }
        let (y, m, d) = civil_from_days(t.div_euclid(86400));
        let tod = t.rem_euclid(86400);
        let (a, b, c) = client(&mut rng, clients);
        let (method, target, status, bytes, secs) = request(&mut rng);
        let status = match status {
            101 => 0,
            499 => 0,
            s => s,
        };
        let agent = AGENTS[rng.below(4) as usize];
        line.clear();
        use std::fmt::Write as _;
        let _ = writeln!(
            line,
            "{{\"ClientAddr\":\"{a}.{b}.{c}.{host}:{port}\",\"ClientHost\":\"{a}.{b}.{c}.{host}\",\"ClientPort\":\"{port}\",\"DownstreamContentSize\":{bytes},\"DownstreamStatus\":{status},\"Duration\":{ns},\"OriginContentSize\":{bytes},\"OriginDuration\":{ns},\"OriginStatus\":{status},\"RequestHost\":\"oc.example\",\"RequestMethod\":\"{method}\",\"RequestPath\":\"{target}\",\"RequestProtocol\":\"HTTP/1.1\",\"RouterName\":\"openchamber@docker\",\"ServiceURL\":\"http://172.18.0.5:3000\",\"StartUTC\":\"{y}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z\",\"entryPointName\":\"websecure\",\"level\":\"info\",\"msg\":\"\",\"request_User-Agent\":\"{agent}\",\"time\":\"{y}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z\"}}",
            tod / 3600,
            tod % 3600 / 60,
            tod % 60,
            rng.below(1000),
            tod / 3600,
            tod % 3600 / 60,
            tod % 60,
            host = 1 + rng.below(250),
            port = 1024 + rng.below(60000),
            ns = (secs * 1e9) as i64,
        );
        out.write_all(line.as_bytes())?;
        written += line.len() as u64;
    }
    Ok(written)
}

/// The combined log, as Docker's json-file driver stores a container's
/// stdout (`{"log":"...\n","stream":"stdout","time":"..."}`), until about
/// `size` bytes: a wrapped log for the benches.
pub fn docker(out: &mut dyn Write, size: u64, clients: u64) -> io::Result<u64> {
    struct Wrap<'a> {
        out: &'a mut dyn Write,
        written: u64,
        seq: u64,
    }
    impl Write for Wrap<'_> {
        fn write(&mut self, line: &[u8]) -> io::Result<usize> {
            // `log` writes one whole line per call.
            let text = String::from_utf8_lossy(line);
            self.seq += 1;
            let entry = format!(
                "{{\"log\":{},\"stream\":\"stdout\",\"time\":\"2026-11-26T04:{:02}:{:02}.{:09}Z\"}}\n",
                serde_json::to_string(&text).expect("a string"),
                self.seq / 60_000 % 60,
                self.seq / 1000 % 60,
                self.seq % 1_000_000_000
            );
            self.out.write_all(entry.as_bytes())?;
            self.written += entry.len() as u64;
            Ok(line.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            self.out.flush()
        }
    }
    let mut wrap = Wrap {
        out,
        written: 0,
        seq: 0,
    };
    // The envelope adds about a third to each line.
    log(&mut wrap, false, size * 3 / 4, clients)?;
    Ok(wrap.written)
}

/// Caddy JSON access entries until `size` bytes.
pub fn caddy(out: &mut dyn Write, size: u64, clients: u64) -> io::Result<u64> {
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    let mut written = 0u64;
    let mut t = 1_795_600_000.0f64;
    let mut line = String::with_capacity(1024);
    while written < size {
        t += 0.003;
        let (a, b, c) = client(&mut rng, clients);
        let (method, target, status, bytes, secs) = request(&mut rng);
        let status = if status == 101 && rng.below(2) == 0 {
            0
        } else {
            status
        };
        line.clear();
        use std::fmt::Write as _;
        let _ = writeln!(
            line,
            "{{\"level\":\"{}\",\"ts\":{t:.6},\"logger\":\"http.log.access.log0\",\"msg\":\"handled request\",\"request\":{{\"remote_ip\":\"{a}.{b}.{c}.{}\",\"remote_port\":\"{}\",\"client_ip\":\"{a}.{b}.{c}.{}\",\"proto\":\"HTTP/1.1\",\"method\":\"{method}\",\"host\":\"oc.example\",\"uri\":\"{target}\",\"headers\":{{\"User-Agent\":[\"{}\"],\"Accept-Encoding\":[\"gzip, deflate, br\"]}}}},\"bytes_read\":0,\"user_id\":\"\",\"duration\":{secs:.6},\"size\":{bytes},\"status\":{status},\"resp_headers\":{{\"Server\":[\"Caddy\"],\"Content-Type\":[\"application/json\"]}}}}",
            if status >= 500 { "error" } else { "info" },
            1 + rng.below(250),
            1024 + rng.below(60000),
            1 + rng.below(250),
            AGENTS[rng.below(4) as usize]
        );
        out.write_all(line.as_bytes())?;
        written += line.len() as u64;
    }
    Ok(written)
}

/// A capture (pcap, Ethernet) of many short HTTP connections and some
/// event streams, from `clients` distinct addresses, until `size` bytes.
pub fn pcap(out: &mut dyn Write, size: u64, clients: u64) -> io::Result<u64> {
    let mut rng = Rng(0x0F1E_2D3C_4B5A_6978);
    let mut written = 0u64;
    let mut header = Vec::new();
    header.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    header.extend_from_slice(&2u16.to_le_bytes());
    header.extend_from_slice(&4u16.to_le_bytes());
    for v in [0u32, 0, 262_144, 1] {
        header.extend_from_slice(&v.to_le_bytes());
    }
    out.write_all(&header)?;
    written += header.len() as u64;
    let server = ([192, 0, 2, 1], 80u16);
    let mut t_us = 1_795_600_000_000_000u64;
    let mut frame = Vec::with_capacity(2048);
    let mut flow = 0u64;
    let body: Vec<u8> = (0..1400u32).map(|i| b'a' + (i % 26) as u8).collect();
    while written < size {
        flow += 1;
        let (a, b, c) = client(&mut rng, clients);
        let cl = (
            [a, b, c, 1 + rng.below(250) as u8],
            1024 + (flow % 60000) as u16,
        );
        let (method, target, status, bytes, _) = request(&mut rng);
        let (mut cseq, mut sseq) = (rng.next() as u32, rng.next() as u32);
        let mut emit = |out: &mut dyn Write,
                        from_client: bool,
                        flags: u8,
                        seq: u32,
                        ack: u32,
                        payload: &[u8]|
         -> io::Result<u64> {
            let ((sip, sp), (dip, dp)) = if from_client {
                (cl, server)
            } else {
                (server, cl)
            };
            let mut bld =
                etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
                    .ipv4(sip, dip, 64)
                    .tcp(sp, dp, seq, 64240);
            if flags & 1 != 0 {
                bld = bld.syn();
            }
            if flags & 2 != 0 {
                bld = bld.ack(ack);
            }
            if flags & 4 != 0 {
                bld = bld.fin();
            }
            frame.clear();
            bld.write(&mut frame, payload)
                .map_err(|e| io::Error::other(e.to_string()))?;
            t_us += 50;
            let mut rec = [0u8; 16];
            rec[..4].copy_from_slice(&((t_us / 1_000_000) as u32).to_le_bytes());
            rec[4..8].copy_from_slice(&((t_us % 1_000_000) as u32).to_le_bytes());
            rec[8..12].copy_from_slice(&(frame.len() as u32).to_le_bytes());
            rec[12..16].copy_from_slice(&(frame.len() as u32).to_le_bytes());
            out.write_all(&rec)?;
            out.write_all(&frame)?;
            Ok(16 + frame.len() as u64)
        };
        written += emit(out, true, 1, cseq, 0, b"")?;
        written += emit(out, false, 3, sseq, cseq.wrapping_add(1), b"")?;
        cseq = cseq.wrapping_add(1);
        sseq = sseq.wrapping_add(1);
        let req = format!("{method} {target} HTTP/1.1\r\nHost: oc.example\r\nUser-Agent: {}\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n", AGENTS[0]);
        written += emit(out, true, 2, cseq, sseq, req.as_bytes())?;
        cseq = cseq.wrapping_add(req.len() as u32);
        let stream = status == 200
            && (target.starts_with("/api/event") || target.starts_with("/api/notifications"));
        let head = if status == 101 {
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n".to_string()
        } else if stream {
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n".to_string()
        } else {
            format!("HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", bytes.min(20_000))
        };
        written += emit(out, false, 2, sseq, cseq, head.as_bytes())?;
        sseq = sseq.wrapping_add(head.len() as u32);
        if status == 101 {
            for i in 0..(2 + rng.below(20)) {
                let frame_bytes = [
                    0x81u8,
                    20,
                    b'{',
                    b'"',
                    b't',
                    b'"',
                    b':',
                    b'"',
                    b'e',
                    b'v',
                    b'e',
                    b'n',
                    b't',
                    b'"',
                    b',',
                    b'"',
                    b'n',
                    b'"',
                    b':',
                    b'0' + (i % 10) as u8,
                    b'}',
                    b' ',
                ];
                written += emit(out, false, 2, sseq, cseq, &frame_bytes)?;
                sseq = sseq.wrapping_add(frame_bytes.len() as u32);
            }
        } else if stream {
            for i in 0..(2 + rng.below(20)) {
                let ev = format!("data: {{\"type\":\"session.status\",\"seq\":{i}}}\n\n");
                let chunk = format!("{:x}\r\n{ev}\r\n", ev.len());
                written += emit(out, false, 2, sseq, cseq, chunk.as_bytes())?;
                sseq = sseq.wrapping_add(chunk.len() as u32);
            }
        } else {
            let mut left = bytes.min(20_000) as usize;
            while left > 0 {
                let n = left.min(1400);
                written += emit(out, false, 2, sseq, cseq, &body[..n])?;
                sseq = sseq.wrapping_add(n as u32);
                left -= n;
            }
        }
        written += emit(out, true, 6, cseq, sseq, b"")?;
        written += emit(out, false, 6, sseq, cseq.wrapping_add(1), b"")?;
    }
    Ok(written)
}
