//! Error logs: nginx's error log and Caddy's runtime entries, as
//! `ErrorEvent`s with what went wrong and, for an upstream that could not
//! be reached, why.

use super::*;

pub(super) fn classify_caddy_error(text: &str) -> ErrorKind {
    if text.contains("request body too large") {
        ErrorKind::BodyTooLarge
    } else if text.contains("timeout awaiting response headers") {
        ErrorKind::UpstreamTimeout(Phase::Header)
    } else if text.contains("i/o timeout") && !text.contains("dial tcp") {
        ErrorKind::UpstreamTimeout(Phase::Body)
    } else if text.contains("connection refused")
        || text.contains("no upstreams available")
        || text.contains("no such host")
        || text.contains("dial tcp")
    {
        ErrorKind::UpstreamUnreachable(Unreachable::of(text))
    } else {
        ErrorKind::Other
    }
}

pub(super) fn ingest_nginx_error(input: usize, data: &[u8], opts: &Options) -> Ingested {
    // Sequential: entries span lines, and error logs are small.
    let mut out = Ingested {
        newlines: memchr::memchr_iter(b'\n', data).count() as u64,
        ..Ingested::default()
    };
    let mut last: Option<usize> = None;
    for (number, line) in lines(data) {
        let number = opts.base_line + number;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if !nginx_error::starts_entry(line) {
            // A continuation of the previous entry (FastCGI stderr...).
            if last.is_none() {
                out.skip(number, "not an nginx error log entry");
            }
            continue;
        }
        let text = String::from_utf8_lossy(line);
        match nginx_error::parse_entry(&text) {
            Ok(rec) => {
                if !in_window(opts, Some(rec.time_ms)) {
                    out.outside_window += 1;
                    last = None;
                    continue;
                }
                out.records += 1;
                out.saw_time(Some(rec.time_ms));
                last = Some(out.errors.len());
                let at = Place {
                    input,
                    line: number,
                    offset: opts.base_offset + (line.as_ptr() as usize - data.as_ptr() as usize),
                    ..Place::default()
                };
                let mut event = nginx_error_event(at, &rec, opts);
                event.text = opts.keep_text.then(|| evidence_text(line).into());
                out.errors.push(event);
            }
            Err(reason) => {
                out.skip(number, &reason);
                last = None;
            }
        }
    }
    // Numbered from the input's start already.
    out.settle_lines(0);
    out
}

fn nginx_error_event(at: Place, rec: &ErrorRecord, opts: &Options) -> ErrorEvent {
    let m = rec.message;
    let (kind, bytes) = if let Some(rest) = m
        .strip_prefix("client intended to send too large body: ")
        .or_else(|| m.strip_prefix("client intended to send too large chunked body: "))
    {
        // `N bytes` or `N+M bytes` (chunked: received + announced).
        let n = rest
            .trim_end_matches(" bytes")
            .split('+')
            .filter_map(|p| p.trim().parse::<u64>().ok())
            .sum();
        (ErrorKind::BodyTooLarge, Some(n))
    } else if m.starts_with("upstream timed out") {
        let phase = match rec.action {
            Some(a) if a.starts_with("connecting to upstream") => None,
            Some(a)
                if a.starts_with("reading response header") || a.starts_with("sending request") =>
            {
                Some(Phase::Header)
            }
            Some(a)
                if a.starts_with("reading upstream")
                    || a.starts_with("proxying upgraded")
                    || a.starts_with("sending to client") =>
            {
                Some(Phase::Body)
            }
            _ => Some(Phase::Unknown),
        };
        match phase {
            Some(p) => (ErrorKind::UpstreamTimeout(p), None),
            None => (ErrorKind::UpstreamUnreachable(Unreachable::TimedOut), None),
        }
    } else if m.starts_with("connect() failed")
        || m.starts_with("no live upstreams")
        || m.contains("could not be resolved")
        || m.starts_with("host not found")
    {
        // The errno says why a connect() failed: `(111: Connection refused)`.
        let why = match rec.errno {
            Some((_, text)) => Unreachable::of(&format!("{m} {text}")),
            None => Unreachable::of(m),
        };
        (ErrorKind::UpstreamUnreachable(why), None)
    } else if m.starts_with("an upstream response is buffered to a temporary file") {
        (ErrorKind::ResponseBufferedToFile, None)
    } else if m.starts_with("a client request body is buffered to a temporary file") {
        (ErrorKind::RequestBodyBufferedToFile, None)
    } else {
        (ErrorKind::Other, None)
    };
    let route = rec
        .request
        .and_then(|r| r.split(' ').nth(1))
        .map(|target| classify(target, opts.base_path));
    ErrorEvent {
        at,
        proxy: Proxy::Nginx,
        time_ms: Some(rec.time_ms),
        kind,
        connection: rec.connection,
        client: rec.client.map(str::to_string),
        route,
        bytes,
        wire: None,
        text: None,
        upstream: rec.upstream.and_then(upstream_address),
        server_name: rec.server.filter(|s| !s.is_empty()).map(Into::into),
    }
}
