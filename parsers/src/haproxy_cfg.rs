//! HAProxy's configuration language (`haproxy.cfg`): sections (`global`,
//! `defaults`, `frontend`, `backend`, `listen`, ...) of keyword lines, each
//! line split into words as HAProxy splits them. Nothing here knows what a
//! keyword means.
//!
//! As HAProxy reads a line: words are separated by blanks; `#` starts a
//! comment outside quotes; double quotes group words (with `\"`, `\\`
//! and `$VAR` expansion inside, which is kept as written here); single
//! quotes group words with no escapes; a backslash escapes the next
//! character (`\ ` a blank, `\#` a hash). A section starts with its
//! keyword at the start of a line (indentation does not matter).

/// One configuration line: its words, unquoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub words: Vec<String>,
    /// 1-based.
    pub line: u32,
}

impl Line {
    /// The word at `i`, or "".
    pub fn word(&self, i: usize) -> &str {
        self.words.get(i).map_or("", String::as_str)
    }

    /// The keyword, lower-cased (HAProxy's keywords are lower case; a
    /// config may not be).
    pub fn keyword(&self) -> String {
        self.word(0).to_ascii_lowercase()
    }
}

/// One section and its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// `global`, `defaults`, `frontend`, `backend`, `listen`, or another
    /// section keyword (`userlist`, `peers`, `resolvers`, `cache`, ...).
    pub kind: String,
    /// Its name (empty for `global` and an unnamed `defaults`).
    pub name: String,
    /// `from <defaults>`: the named defaults it takes its settings from.
    pub from: Option<String>,
    /// The line of the section keyword.
    pub line: u32,
    pub lines: Vec<Line>,
}

/// What a config holds: its sections in order, the lines before any
/// section (HAProxy refuses them), and the lines it could not split.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Config {
    pub sections: Vec<Section>,
    /// Keyword lines before the first section.
    pub outside: Vec<Line>,
    /// Lines that cannot be split: an unclosed quote (line, why).
    pub broken: Vec<(u32, String)>,
}

/// The section keywords HAProxy knows (2.x and 3.x).
pub const SECTION_KEYWORDS: &[&str] = &[
    "global",
    "defaults",
    "frontend",
    "backend",
    "listen",
    "userlist",
    "peers",
    "resolvers",
    "mailers",
    "program",
    "http-errors",
    "ring",
    "cache",
    "log-forward",
    "crt-store",
    "traces",
    "acme",
];

/// Splits one line into words, as HAProxy does. Err: an unclosed quote.
pub fn words(line: &str) -> Result<Vec<String>, &'static str> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\r' => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '#' => break,
            '\\' => {
                in_word = true;
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        None => return Err("a double quote is not closed"),
                        Some('"') => break,
                        Some('\\') => {
                            if let Some(next) = chars.next() {
                                word.push(next);
                            }
                        }
                        Some(other) => word.push(other),
                    }
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        None => return Err("a single quote is not closed"),
                        Some('\'') => break,
                        Some(other) => word.push(other),
                    }
                }
            }
            other => {
                in_word = true;
                word.push(other);
            }
        }
    }
    if in_word {
        out.push(word);
    }
    Ok(out)
}

/// Reads a whole config. Never fails: lines it cannot split are listed in
/// `broken`, keyword lines before any section in `outside`.
pub fn parse(text: &str) -> Config {
    let mut config = Config::default();
    for (i, raw) in text.lines().enumerate() {
        let line = i as u32 + 1;
        let words = match words(raw) {
            Ok(w) if w.is_empty() => continue,
            Ok(w) => w,
            Err(why) => {
                config.broken.push((line, why.to_string()));
                continue;
            }
        };
        let keyword = words[0].to_ascii_lowercase();
        if SECTION_KEYWORDS.contains(&keyword.as_str()) {
            let (name, from) = match words.get(1).map(String::as_str) {
                // `defaults from base` is an unnamed defaults taking from base.
                Some("from") => (String::new(), words.get(2).cloned()),
                Some(name) => (
                    name.to_string(),
                    words
                        .iter()
                        .position(|w| w == "from")
                        .and_then(|i| words.get(i + 1).cloned()),
                ),
                None => (String::new(), None),
            };
            config.sections.push(Section {
                kind: keyword,
                name,
                from,
                line,
                lines: Vec::new(),
            });
            continue;
        }
        let l = Line { words, line };
        match config.sections.last_mut() {
            Some(s) => s.lines.push(l),
            None => config.outside.push(l),
        }
    }
    config
}

/// Whether `text` reads as an HAProxy config: a proxy section, and the
/// keywords that live in one.
pub fn looks_like_haproxy(text: &str) -> bool {
    let config = parse(text);
    let proxies = config
        .sections
        .iter()
        .filter(|s| {
            matches!(
                s.kind.as_str(),
                "frontend" | "backend" | "listen" | "defaults"
            )
        })
        .count();
    let haproxy_words = config.sections.iter().flat_map(|s| &s.lines).any(|l| {
        matches!(
            l.keyword().as_str(),
            "bind" | "server" | "default_backend" | "use_backend" | "timeout" | "mode" | "balance"
        )
    });
    proxies > 0 && haproxy_words && config.outside.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_split_as_haproxy_splits_them() {
        assert_eq!(
            words("  http-request set-header X-Forwarded-Proto https if { ssl_fc } # tls").unwrap(),
            [
                "http-request",
                "set-header",
                "X-Forwarded-Proto",
                "https",
                "if",
                "{",
                "ssl_fc",
                "}"
            ]
        );
        assert_eq!(
            words(r#"errorfile 503 "/etc/haproxy/errors/my 503.http""#).unwrap(),
            ["errorfile", "503", "/etc/haproxy/errors/my 503.http"]
        );
        assert_eq!(
            words(r"acl a path_reg ^/api/(event|global)\ x").unwrap(),
            ["acl", "a", "path_reg", "^/api/(event|global) x"]
        );
        assert_eq!(
            words("log-format '%ci:%cp [%tr] #x'").unwrap(),
            ["log-format", "%ci:%cp [%tr] #x"]
        );
        assert_eq!(words("http-request \\#x").unwrap(), ["http-request", "#x"]);
        assert!(words("option \"unclosed").is_err());
    }

    #[test]
    fn sections_take_their_lines_names_and_defaults() {
        let text = "# Debian\nglobal\n\tlog /dev/log local0\n\ndefaults base\n\tmode http\n\
                    defaults from base\n\ttimeout client 1m\nfrontend web from base\n\tbind :80\n\
                    \tdefault_backend oc\nbackend oc\n\tserver s1 127.0.0.1:3000 check\n";
        let c = parse(text);
        let kinds: Vec<(&str, &str, Option<&str>, u32)> = c
            .sections
            .iter()
            .map(|s| (s.kind.as_str(), s.name.as_str(), s.from.as_deref(), s.line))
            .collect();
        assert_eq!(
            kinds,
            [
                ("global", "", None, 2),
                ("defaults", "base", None, 5),
                ("defaults", "", Some("base"), 7),
                ("frontend", "web", Some("base"), 9),
                ("backend", "oc", None, 12)
            ]
        );
        assert_eq!(c.sections[4].lines[0].line, 13);
        assert_eq!(c.sections[4].lines[0].word(2), "127.0.0.1:3000");
        assert!(c.outside.is_empty() && c.broken.is_empty());
        assert!(looks_like_haproxy(text));
    }

    #[test]
    fn other_configs_are_not_haproxys() {
        assert!(!looks_like_haproxy(
            "server {\n listen 80;\n location / { proxy_pass http://x; }\n}\n"
        ));
        assert!(!looks_like_haproxy(
            ":80 {\n reverse_proxy 127.0.0.1:3000\n}\n"
        ));
        assert!(!looks_like_haproxy(
            "<VirtualHost *:80>\n ProxyPass / http://x/\n</VirtualHost>\n"
        ));
        assert!(!looks_like_haproxy(
            "http:\n  routers:\n    x:\n      rule: a\n"
        ));
    }

    #[test]
    fn broken_lines_are_listed_not_fatal() {
        let c = parse("frontend a\n bind :80 \"x\n default_backend b\n");
        assert_eq!(c.broken, [(2, "a double quote is not closed".to_string())]);
        assert_eq!(c.sections[0].lines.len(), 1);
    }
}
