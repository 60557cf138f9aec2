//! HAProxy's ACLs and conditions (`if`/`unless` ...), evaluated for the
//! request a probe sends. What cannot be known from a config (the client's
//! address, a pattern file, a map, a Lua fetch) is taken as not matching,
//! and said so: the caller turns `unknown` into a note.

use std::collections::BTreeMap;

use regex::RegexBuilder;

/// The request a probe sends, as HAProxy's fetches see it.
pub(super) struct Req<'a> {
    pub path: &'a str,
    /// None: the site's host is not known (no `--server`): conditions on
    /// the Host are taken as matching, and said so.
    pub host: Option<&'a str>,
    pub method: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    /// Whether the frontend terminates TLS (`ssl_fc`).
    pub tls: bool,
    /// The request body's declared length.
    pub content_length: u64,
}

/// The named ACLs of one proxy section: each name's lines, any of which
/// matching is a match.
#[derive(Default)]
pub(super) struct Acls {
    by_name: BTreeMap<String, Vec<Vec<String>>>,
}

/// What evaluating a condition could not know.
#[derive(Default)]
pub(super) struct Unknowns {
    /// Terms taken as matching because the Host is not known.
    pub assumed_host: bool,
    /// Fetches or flags this reader does not evaluate (taken as not matching).
    pub unread: Vec<String>,
}

impl Acls {
    /// `acl <name> <criterion> [flags] [values]`, as written.
    pub fn add(&mut self, words: &[String]) {
        if let Some((name, rest)) = words.split_first() {
            self.by_name
                .entry(name.clone())
                .or_default()
                .push(rest.to_vec());
        }
    }

    /// Evaluates a condition (the words after `if` or `unless`, that word
    /// included); none: always true.
    pub fn holds(&self, cond: &[String], req: &Req, unknown: &mut Unknowns) -> bool {
        let Some((first, terms)) = cond.split_first() else {
            return true;
        };
        let value = self.or_groups(terms, req, unknown);
        if first == "unless" {
            !value
        } else {
            value
        }
    }

    /// Terms ANDed, groups ORed (`||` or `or`).
    fn or_groups(&self, terms: &[String], req: &Req, unknown: &mut Unknowns) -> bool {
        let mut any = false;
        for group in terms.split(|w| w == "||" || w == "or") {
            if self.and_terms(group, req, unknown) {
                any = true;
            }
        }
        any
    }

    fn and_terms(&self, group: &[String], req: &Req, unknown: &mut Unknowns) -> bool {
        let mut all = true;
        let mut i = 0;
        while i < group.len() {
            let mut negate = false;
            let mut word = group[i].as_str();
            // `!name` or `! name`
            while let Some(rest) = word.strip_prefix('!') {
                negate = !negate;
                if rest.is_empty() {
                    i += 1;
                    word = group.get(i).map_or("", String::as_str);
                } else {
                    word = rest;
                }
            }
            let value = if word == "{" {
                // An anonymous ACL, up to its closing brace.
                let end = group[i..]
                    .iter()
                    .position(|w| w == "}")
                    .map_or(group.len(), |p| i + p);
                let v = criterion(&group[i + 1..end], req, unknown);
                i = end;
                v
            } else {
                self.named(word, req, unknown)
            };
            all &= value != negate;
            i += 1;
        }
        all
    }

    fn named(&self, name: &str, req: &Req, unknown: &mut Unknowns) -> bool {
        if let Some(lines) = self.by_name.get(name) {
            return lines.iter().any(|l| criterion(l, req, unknown));
        }
        match name {
            "TRUE" | "HTTP" | "HTTP_1.1" | "REQ_CONTENT" | "HTTP_URL_SLASH" => true,
            "FALSE" => false,
            "METH_GET" => matches!(req.method, "GET" | "HEAD"),
            "METH_POST" => req.method == "POST",
            "HTTP_CONTENT" => req.content_length > 0,
            "WAIT_END" => true,
            _ => {
                unknown
                    .unread
                    .push(format!("the ACL `{name}` (not defined here)"));
                false
            }
        }
    }
}

/// How a criterion's values are compared.
#[derive(Clone, Copy, PartialEq)]
enum Method {
    Str,
    Beg,
    End,
    Sub,
    Reg,
    Dir,
    Dom,
    Found,
    Int,
    Bool,
}

/// One criterion: `<fetch>[,<converter>...] [flags] [values]`.
fn criterion(words: &[String], req: &Req, unknown: &mut Unknowns) -> bool {
    let Some((fetch_word, rest)) = words.split_first() else {
        return false;
    };
    let mut converters = fetch_word.split(',');
    let fetch = converters.next().unwrap_or_default();
    let mut lower = false;
    for c in converters {
        match c {
            "lower" => lower = true,
            _ => {
                unknown
                    .unread
                    .push(format!("the converter `{c}` in `{fetch_word}`"));
                return false;
            }
        }
    }
    let (name, arg) = match fetch.split_once('(') {
        Some((n, a)) => (n, a.trim_end_matches(')').split(',').next().unwrap_or("")),
        None => (fetch, ""),
    };
    // The fetch's value, and the match its name implies.
    let (sample, mut method): (Option<String>, Method) = match name {
        "path" => (Some(req.path.to_string()), Method::Str),
        "path_beg" => (Some(req.path.to_string()), Method::Beg),
        "path_end" => (Some(req.path.to_string()), Method::End),
        "path_sub" => (Some(req.path.to_string()), Method::Sub),
        "path_reg" => (Some(req.path.to_string()), Method::Reg),
        "path_dir" => (Some(req.path.to_string()), Method::Dir),
        "url" | "base" | "pathq" => (Some(req.path.to_string()), Method::Str),
        "url_beg" | "base_beg" => (Some(req.path.to_string()), Method::Beg),
        "url_end" | "base_end" => (Some(req.path.to_string()), Method::End),
        "url_sub" | "base_sub" => (Some(req.path.to_string()), Method::Sub),
        "url_reg" | "base_reg" => (Some(req.path.to_string()), Method::Reg),
        "url_dir" | "base_dir" => (Some(req.path.to_string()), Method::Dir),
        "method" => (Some(req.method.to_string()), Method::Str),
        "ssl_fc" => (Some(req.tls.to_string()), Method::Bool),
        "always_true" => return true,
        "always_false" => return false,
        "req.body_size" | "req.body_len" => (Some(req.content_length.to_string()), Method::Int),
        "hdr" | "req.hdr" | "req.fhdr" | "hdr_beg" | "hdr_end" | "hdr_sub" | "hdr_reg"
        | "hdr_dom" | "hdr_dir" | "hdr_val" | "req.hdr_val" | "hdr_cnt" | "req.hdr_cnt"
        | "hdr_len" => {
            let header = arg.to_ascii_lowercase();
            let method = match name {
                "hdr_beg" => Method::Beg,
                "hdr_end" => Method::End,
                "hdr_sub" => Method::Sub,
                "hdr_reg" => Method::Reg,
                "hdr_dom" => Method::Dom,
                "hdr_dir" => Method::Dir,
                "hdr_val" | "req.hdr_val" | "hdr_cnt" | "req.hdr_cnt" | "hdr_len" => Method::Int,
                _ => Method::Str,
            };
            let value = match header.as_str() {
                "host" => match req.host {
                    Some(h) => Some(h.to_string()),
                    // The Host is the site's: a condition on it is taken as
                    // met (the user names the site with --server).
                    None => {
                        unknown.assumed_host = true;
                        return true;
                    }
                },
                "content-length" => Some(req.content_length.to_string()),
                _ => req
                    .headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(&header))
                    .map(|(_, v)| v.to_string()),
            };
            let value = match name {
                "hdr_cnt" | "req.hdr_cnt" => Some(usize::from(value.is_some()).to_string()),
                "hdr_len" => Some(value.map_or(0, |v| v.len()).to_string()),
                _ => value,
            };
            (value, method)
        }
        _ => {
            unknown.unread.push(format!("the fetch `{fetch}`"));
            return false;
        }
    };
    // Flags, then the patterns.
    let mut ignore_case = false;
    let mut i = 0;
    while i < rest.len() && rest[i].starts_with('-') && rest[i].len() > 1 {
        match rest[i].as_str() {
            "-i" => ignore_case = true,
            "-n" | "-u" => {}
            "--" => {
                i += 1;
                break;
            }
            "-m" => {
                i += 1;
                method = match rest.get(i).map(String::as_str) {
                    Some("str") => Method::Str,
                    Some("beg") => Method::Beg,
                    Some("end") => Method::End,
                    Some("sub") => Method::Sub,
                    Some("reg") => Method::Reg,
                    Some("dir") => Method::Dir,
                    Some("dom") => Method::Dom,
                    Some("found") => Method::Found,
                    Some("int") => Method::Int,
                    Some("bool") => Method::Bool,
                    Some(other) => {
                        unknown.unread.push(format!("the match `-m {other}`"));
                        return false;
                    }
                    None => return false,
                };
            }
            flag @ ("-f" | "-M") => {
                unknown.unread.push(format!(
                    "patterns from a file (`{flag} {}`)",
                    rest.get(i + 1).map_or("", String::as_str)
                ));
                return false;
            }
            _ => {}
        }
        i += 1;
    }
    let patterns = &rest[i.min(rest.len())..];
    let Some(mut sample) = sample else {
        // A missing header matches nothing (but `-m found` says so).
        return false;
    };
    if method == Method::Found {
        return true;
    }
    if lower {
        sample = sample.to_ascii_lowercase();
    }
    match method {
        Method::Bool => sample == "true",
        Method::Int => int_matches(&sample, patterns),
        _ => patterns
            .iter()
            .any(|p| text_matches(&sample, p, method, ignore_case)),
    }
}

/// `gt N`, `ge N`, `lt N`, `le N`, `eq N`, `N`, `N:M`.
fn int_matches(sample: &str, patterns: &[String]) -> bool {
    let Ok(v) = sample.trim().parse::<i64>() else {
        return false;
    };
    let n = |s: &String| s.parse::<i64>().ok();
    match patterns {
        [op, x] if matches!(op.as_str(), "gt" | "ge" | "lt" | "le" | "eq") => {
            let Some(x) = n(x) else { return false };
            match op.as_str() {
                "gt" => v > x,
                "ge" => v >= x,
                "lt" => v < x,
                "le" => v <= x,
                _ => v == x,
            }
        }
        _ => patterns.iter().any(|p| match p.split_once(':') {
            Some((a, b)) => {
                a.parse::<i64>().map_or(true, |a| v >= a)
                    && b.parse::<i64>().map_or(true, |b| v <= b)
            }
            None => p.parse::<i64>().is_ok_and(|x| x == v),
        }),
    }
}

fn text_matches(sample: &str, pattern: &str, method: Method, ignore_case: bool) -> bool {
    let (s, p) = if ignore_case {
        (sample.to_ascii_lowercase(), pattern.to_ascii_lowercase())
    } else {
        (sample.to_string(), pattern.to_string())
    };
    match method {
        Method::Str => s == p,
        Method::Beg => s.starts_with(&p),
        Method::End => s.ends_with(&p),
        Method::Sub => s.contains(&p),
        Method::Reg => RegexBuilder::new(pattern)
            .case_insensitive(ignore_case)
            .build()
            .is_ok_and(|re| re.is_match(sample)),
        // Slash-delimited words (`path_dir /api` matches /api/x).
        Method::Dir => s.split('/').any(|w| w == p.trim_matches('/')),
        // Dot-delimited (`hdr_dom(host) example.com` matches a.example.com).
        Method::Dom => {
            let p = p.trim_matches('.');
            s.split(':').next().is_some_and(|host| {
                host == p || host.ends_with(&format!(".{p}")) || host.starts_with(&format!("{p}."))
            })
        }
        _ => false,
    }
}

/// The hosts a section's ACLs compare the Host with (`hdr(host)`,
/// `req.hdr(host)`, `hdr_dom(host)`, `hdr_beg(host)`, `-m str|dom|beg`),
/// each once, lower-cased, in the config's order.
pub(super) fn hosts_named(lines: &[chamber_parsers::haproxy_cfg::Line]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in lines.iter().filter(|l| l.keyword() == "acl") {
        let Some(fetch) = l.words.get(2) else {
            continue;
        };
        let f = fetch.to_ascii_lowercase();
        let f = f.split(',').next().unwrap_or_default();
        if !matches!(
            f,
            "hdr(host)" | "req.hdr(host)" | "hdr_dom(host)" | "hdr_beg(host)" | "req.fhdr(host)"
        ) {
            continue;
        }
        let mut i = 3;
        while i < l.words.len() && l.words[i].starts_with('-') {
            // `-m <method>` takes a word; other flags stand alone; `-f`
            // names a file (nothing to take).
            if l.words[i] == "-f" {
                i = l.words.len();
                break;
            }
            i += if l.words[i] == "-m" { 2 } else { 1 };
        }
        for v in l.words.iter().skip(i) {
            let v = v.to_ascii_lowercase();
            if !v.is_empty() && !out.contains(&v) {
                out.push(v);
            }
        }
    }
    out
}

/// The body sizes a condition compares against (`req.hdr_val(content-length)
/// gt N`, `req.body_size ge N`): the thresholds at which its truth may change.
pub(super) fn body_thresholds(acls: &Acls, cond: &[String]) -> Vec<u64> {
    let mut words: Vec<&[String]> = Vec::new();
    let mut i = 0;
    while i < cond.len() {
        if cond[i] == "{" {
            let end = cond[i..]
                .iter()
                .position(|w| w == "}")
                .map_or(cond.len(), |p| i + p);
            words.push(&cond[i + 1..end]);
            i = end;
        } else if let Some(lines) = acls.by_name.get(cond[i].trim_start_matches('!')) {
            words.extend(lines.iter().map(Vec::as_slice));
        }
        i += 1;
    }
    let mut out = Vec::new();
    for w in words {
        let Some(fetch) = w.first() else { continue };
        let sized = fetch.starts_with("req.body_size")
            || fetch.starts_with("req.body_len")
            || fetch.to_ascii_lowercase().contains("(content-length)");
        if !sized {
            continue;
        }
        for x in w.iter().skip(1).filter_map(|x| x.parse::<u64>().ok()) {
            out.extend([x.saturating_sub(1), x, x + 1]);
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        chamber_parsers::haproxy_cfg::words(s).unwrap()
    }

    fn req<'a>(path: &'a str, host: Option<&'a str>, headers: &'a [(&'a str, &'a str)]) -> Req<'a> {
        Req {
            path,
            host,
            method: "GET",
            headers,
            tls: false,
            content_length: 0,
        }
    }

    #[test]
    fn named_and_anonymous_acls_combine_as_haproxy_combines_them() {
        let mut acls = Acls::default();
        acls.add(&w("is_ws hdr(upgrade) -i websocket"));
        acls.add(&w("is_api path_beg /api/"));
        acls.add(&w("is_api path_beg /health"));
        acls.add(&w("host_oc hdr(host) -i chat.example.com"));
        let ws = [("Upgrade", "WebSocket")];
        let mut u = Unknowns::default();
        let r = req("/api/terminal/ws", Some("chat.example.com"), &ws);
        assert!(acls.holds(&w("if is_api is_ws"), &r, &mut u));
        assert!(!acls.holds(&w("unless is_api"), &r, &mut u));
        assert!(acls.holds(&w("if !is_ws || is_api"), &r, &mut u));
        assert!(!acls.holds(&w("if ! is_ws"), &r, &mut u));
        assert!(acls.holds(
            &w("if host_oc { path_reg ^/api/(terminal|global)/ }"),
            &r,
            &mut u
        ));
        // The second line of a name is ORed with the first.
        assert!(acls.holds(&w("if is_api"), &req("/health", None, &[]), &mut u));
        // Another host does not match; no Host known: taken as matching.
        assert!(!acls.holds(
            &w("if host_oc"),
            &req("/", Some("other.example"), &[]),
            &mut u
        ));
        assert!(!u.assumed_host);
        assert!(acls.holds(&w("if host_oc"), &req("/", None, &[]), &mut u));
        assert!(u.assumed_host);
        assert!(u.unread.is_empty());
    }

    #[test]
    fn what_cannot_be_known_does_not_match_and_is_said() {
        let acls = Acls::default();
        let mut u = Unknowns::default();
        let r = req("/", None, &[]);
        assert!(!acls.holds(&w("if { src 10.0.0.0/8 }"), &r, &mut u));
        assert!(!acls.holds(&w("if { path_beg -f /etc/haproxy/paths.lst }"), &r, &mut u));
        assert!(!acls.holds(&w("if undefined_acl"), &r, &mut u));
        assert_eq!(u.unread.len(), 3, "{:?}", u.unread);
    }

    #[test]
    fn body_size_conditions_compare_the_declared_length() {
        let mut acls = Acls::default();
        acls.add(&w("too_big req.hdr_val(content-length) gt 1048576"));
        let mut r = req("/api/fs/upload", None, &[]);
        r.method = "POST";
        let mut u = Unknowns::default();
        r.content_length = 1_048_576;
        assert!(!acls.holds(&w("if too_big"), &r, &mut u));
        r.content_length = 1_048_577;
        assert!(acls.holds(&w("if too_big"), &r, &mut u));
        assert!(acls.holds(&w("if { req.body_size ge 1048577 } METH_POST"), &r, &mut u));
        assert_eq!(
            body_thresholds(&acls, &w("too_big")),
            [1_048_575, 1_048_576, 1_048_577]
        );
    }

    #[test]
    fn match_methods_and_flags() {
        assert!(text_matches("/api/event", "/api", Method::Beg, false));
        assert!(text_matches("/API/x", "/api", Method::Beg, true));
        assert!(!text_matches("/API/x", "/api", Method::Beg, false));
        assert!(text_matches("/a/api/b", "api", Method::Dir, false));
        assert!(text_matches(
            "chat.example.com:443",
            "example.com",
            Method::Dom,
            false
        ));
        assert!(!text_matches(
            "badexample.com",
            "example.com",
            Method::Dom,
            false
        ));
        assert!(text_matches(
            "/api/global/event",
            "^/api/(global|x)/",
            Method::Reg,
            false
        ));
        let mut u = Unknowns::default();
        let r = req("/API/Event", None, &[]);
        assert!(criterion(&w("path,lower -m beg /api/event"), &r, &mut u));
        assert!(criterion(&w("path -m sub -i event"), &r, &mut u));
    }
}
