//! Traefik's router rules: matchers (`Host`, `PathPrefix`, `Header`...)
//! joined by `&&`, `||`, `!` and parentheses, parsed and matched against
//! a request. Both v3's forms and v2's (several arguments to one matcher,
//! `{name:regexp}` templates in `Path` and `Host`, `Headers`, `Query(k=v)`)
//! are read.

use regex::Regex;

#[derive(Debug, Clone)]
pub(super) enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Matcher(String, Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Open,
    Close,
    Comma,
    And,
    Or,
    Not,
}

fn tokens(rule: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut chars = rule.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '(' => out.push(Tok::Open),
            ')' => out.push(Tok::Close),
            ',' => out.push(Tok::Comma),
            '!' => out.push(Tok::Not),
            '&' | '|' => {
                if chars.next() != Some(c) {
                    return Err(format!("`{c}` alone (Traefik writes `{c}{c}`)"));
                }
                out.push(if c == '&' { Tok::And } else { Tok::Or });
            }
            '`' => {
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('`') => break,
                        Some(c) => s.push(c),
                        None => return Err("a `-quoted value is not closed".into()),
                    }
                }
                out.push(Tok::Str(s));
            }
            '"' | '\'' => {
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('\\') => s.extend(chars.next()),
                        Some(q) if q == c => break,
                        Some(c) => s.push(c),
                        None => return Err("a quoted value is not closed".into()),
                    }
                }
                out.push(Tok::Str(s));
            }
            c if c.is_alphanumeric() || c == '_' => {
                let mut s = String::from(c);
                while let Some(&c) = chars.peek() {
                    if !(c.is_alphanumeric() || c == '_') {
                        break;
                    }
                    s.push(c);
                    chars.next();
                }
                out.push(Tok::Ident(s));
            }
            c => return Err(format!("unexpected `{c}`")),
        }
    }
    Ok(out)
}

struct P {
    toks: Vec<Tok>,
    i: usize,
}

impl P {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.i).cloned();
        self.i += 1;
        t
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.peek() == Some(&Tok::Or) {
            self.i += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while self.peek() == Some(&Tok::And) {
            self.i += 1;
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Tok::Not) => Ok(Expr::Not(Box::new(self.unary()?))),
            Some(Tok::Open) => {
                let e = self.or()?;
                match self.next() {
                    Some(Tok::Close) => Ok(e),
                    _ => Err("a `(` is not closed".into()),
                }
            }
            Some(Tok::Ident(name)) => {
                if self.next() != Some(Tok::Open) {
                    return Err(format!("`{name}` without its `(...)`"));
                }
                let mut args = Vec::new();
                loop {
                    match self.next() {
                        Some(Tok::Str(s)) => args.push(s),
                        Some(Tok::Close) if args.is_empty() => break,
                        t => {
                            return Err(format!("`{name}(`: a quoted value expected, found {t:?}"))
                        }
                    }
                    match self.next() {
                        Some(Tok::Comma) => continue,
                        Some(Tok::Close) => break,
                        t => return Err(format!("`{name}(`: `,` or `)` expected, found {t:?}")),
                    }
                }
                if !KNOWN.iter().any(|k| k.eq_ignore_ascii_case(&name)) {
                    return Err(format!(
                        "`{name}` is not a matcher Traefik's HTTP routers know"
                    ));
                }
                Ok(Expr::Matcher(name, args))
            }
            t => Err(format!("a matcher expected, found {t:?}")),
        }
    }
}

/// HTTP matchers of v3 and v2.
const KNOWN: &[&str] = &[
    "Host",
    "HostHeader",
    "HostRegexp",
    "Path",
    "PathPrefix",
    "PathRegexp",
    "Header",
    "Headers",
    "HeaderRegexp",
    "HeadersRegexp",
    "Method",
    "Query",
    "QueryRegexp",
    "ClientIP",
];

/// A rule as Traefik parses it.
pub(super) fn parse(rule: &str) -> Result<Expr, String> {
    let mut p = P {
        toks: tokens(rule)?,
        i: 0,
    };
    if p.toks.is_empty() {
        return Err("empty rule".into());
    }
    let e = p.or()?;
    match p.peek() {
        None => Ok(e),
        Some(t) => Err(format!("unexpected {t:?} after a whole rule")),
    }
}

/// The request a probe sends: the host is None where any host is taken
/// (no `--server`).
pub(super) struct Req<'a> {
    pub host: Option<&'a str>,
    pub path: &'a str,
    pub method: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
}

impl Req<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// v2's `{name}` and `{name:regexp}` in a Path or Host, as a regexp that
/// matches the whole (or, for a prefix, the start); None where there is no
/// template.
fn template(pattern: &str, segment: &str, whole: bool) -> Option<Regex> {
    let var =
        Regex::new(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([^{}]*(?:\{[^{}]*\}[^{}]*)*))?\}").ok()?;
    if !var.is_match(pattern) {
        return None;
    }
    let mut re = String::from("^");
    let mut last = 0;
    for c in var.captures_iter(pattern) {
        let m = c.get(0)?;
        re.push_str(&regex::escape(&pattern[last..m.start()]));
        match c.get(2) {
            Some(inner) => re.push_str(&format!("(?:{})", inner.as_str())),
            None => re.push_str(segment),
        }
        last = m.end();
    }
    re.push_str(&regex::escape(&pattern[last..]));
    if whole {
        re.push('$');
    }
    Regex::new(&re).ok()
}

fn host_only(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) && !h.ends_with(']') => h,
        _ => host,
    }
}

fn search(re: &str, text: &str) -> bool {
    Regex::new(re).is_ok_and(|r| r.is_match(text))
}

/// The literal hosts a rule's `Host` matchers name (not its regexps).
pub(super) fn hosts(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::And(a, b) | Expr::Or(a, b) => {
            hosts(a, out);
            hosts(b, out);
        }
        // A host a rule excludes is no site of its own.
        Expr::Not(_) => {}
        Expr::Matcher(name, args) => {
            if matches!(name.to_ascii_lowercase().as_str(), "host" | "hostheader") {
                for a in args {
                    let h = a.to_ascii_lowercase();
                    if !out.contains(&h) {
                        out.push(h);
                    }
                }
            }
        }
    }
}

/// Whether the request matches the rule.
pub(super) fn matches(e: &Expr, req: &Req) -> bool {
    match e {
        Expr::And(a, b) => matches(a, req) && matches(b, req),
        Expr::Or(a, b) => matches(a, req) || matches(b, req),
        Expr::Not(a) => !matches(a, req),
        Expr::Matcher(name, args) => matcher(name, args, req),
    }
}

fn matcher(name: &str, args: &[String], req: &Req) -> bool {
    let path = req.path;
    match name.to_ascii_lowercase().as_str() {
        // Any host is taken where none is given.
        "host" | "hostheader" => req.host.is_none_or(|h| {
            let h = host_only(h);
            args.iter().any(|a| a.eq_ignore_ascii_case(h))
        }),
        "hostregexp" => req.host.is_none_or(|h| {
            let h = host_only(h).to_ascii_lowercase();
            args.iter().any(|a| match template(a, "[^.]+", true) {
                Some(re) => re.is_match(&h),
                None => search(a, &h),
            })
        }),
        "path" => args.iter().any(|a| match template(a, "[^/]+", true) {
            Some(re) => re.is_match(path),
            None => a == path,
        }),
        "pathprefix" => args.iter().any(|a| match template(a, "[^/]+", false) {
            Some(re) => re.is_match(path),
            None => path.starts_with(a.as_str()),
        }),
        "pathregexp" => args.iter().any(|a| search(a, path)),
        "header" | "headers" => match args {
            [k, v] => req.header(k) == Some(v.as_str()),
            _ => false,
        },
        "headerregexp" | "headersregexp" => match args {
            [k, re] => req.header(k).is_some_and(|v| search(re, v)),
            _ => false,
        },
        "method" => args.iter().any(|m| m.eq_ignore_ascii_case(req.method)),
        // The probes carry no query string.
        "query" | "queryregexp" => false,
        // The browser's address is not known: taken as allowed.
        "clientip" => true,
        _ => false,
    }
}

/// Whether the rule names a client address (`ClientIP`), which the check
/// cannot know.
pub(super) fn uses(e: &Expr, name: &str) -> bool {
    match e {
        Expr::And(a, b) | Expr::Or(a, b) => uses(a, name) || uses(b, name),
        Expr::Not(a) => uses(a, name),
        Expr::Matcher(n, _) => n.eq_ignore_ascii_case(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(host: Option<&'a str>, path: &'a str, headers: &'a [(&'a str, &'a str)]) -> Req<'a> {
        Req {
            host,
            path,
            method: "GET",
            headers,
        }
    }

    fn m(rule: &str, r: &Req) -> bool {
        matches(&parse(rule).unwrap(), r)
    }

    #[test]
    fn matchers_and_operators() {
        let ws = [("Upgrade", "websocket")];
        let r = req(Some("chat.example.com"), "/api/terminal/ws", &ws);
        assert!(m("Host(`chat.example.com`) && PathPrefix(`/api`)", &r));
        assert!(!m("Host(`other.example.com`) && PathPrefix(`/api`)", &r));
        assert!(m("Host(`other.example.com`) || PathPrefix(`/api`)", &r));
        assert!(m("!Path(`/api`) && PathPrefix(`/`)", &r));
        assert!(!m("!(PathPrefix(`/api`) || Path(`/x`))", &r));
        assert!(m("Header(`Upgrade`, `websocket`)", &r));
        assert!(!m("Header(`Upgrade`, `h2c`)", &r));
        assert!(m("HeaderRegexp(`upgrade`, `^web`)", &r));
        assert!(m("PathRegexp(`/ws$`)", &r));
        assert!(m("HostRegexp(`^.+\\.example\\.com$`)", &r));
        assert!(m("Method(`GET`)", &r));
        assert!(!m("Query(`a`, `b`)", &r));
        // `&&` binds tighter than `||`.
        assert!(m("Path(`/no`) && Path(`/no2`) || PathPrefix(`/api`)", &r));
        // Host with a port; any host where none is given.
        assert!(m(
            "Host(`chat.example.com`)",
            &req(Some("chat.example.com:443"), "/", &[])
        ));
        assert!(m("Host(`chat.example.com`)", &req(None, "/", &[])));
    }

    #[test]
    fn v2_forms() {
        let r = req(Some("b.example.com"), "/api/session/s1/message", &[]);
        assert!(m("Host(`a.example.com`, `b.example.com`)", &r));
        assert!(m("HostRegexp(`{sub:[a-z]+}.example.com`)", &r));
        assert!(!m("HostRegexp(`{sub:[0-9]+}.example.com`)", &r));
        assert!(m("Path(`/api/session/{id}/message`)", &r));
        assert!(m("PathPrefix(`/api/session/{id:[a-z0-9]+}`)", &r));
        assert!(m("PathPrefix(`/nope`, `/api`)", &r));
        assert!(m(
            "Headers(`X`, `1`) || Path(\"/api/session/s1/message\")",
            &r
        ));
    }

    #[test]
    fn bad_rules_are_refused() {
        assert!(parse("PathPrefix(`/`").is_err());
        assert!(parse("PathPrefix(`/`) & Host(`a`)").is_err());
        assert!(parse("Pathprefx(`/`)").is_err());
        assert!(parse("").is_err());
        assert!(parse("PathPrefix(`/`) Host(`a`)").is_err());
    }
}
