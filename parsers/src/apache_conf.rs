//! An Apache httpd config file as a tree of directives, the way httpd's
//! own reader (`ap_build_config`, `ap_getword_conf`) takes it apart: one
//! directive a line, its name matched without regard to case, a `\` as the
//! last character of a line joining the next one to it, `#` starting a
//! comment only as the first thing on a line, words separated by blanks
//! with `"..."` or `'...'` quoting (a backslash escapes the quote inside),
//! and sections `<Name args>` ... `</Name>` holding directives of their
//! own. What a directive means (includes, `${VAR}`, which section applies)
//! is left to the caller: nothing here knows about proxies.

use std::fmt;

/// One directive or section: its name as written, its words (quotes
/// removed), the line it starts on (1-based), and a section's insides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// As written (`ProxyPass`, `VirtualHost` for a section, without `<`).
    pub name: String,
    pub args: Vec<String>,
    pub line: u32,
    /// `Some` for a section (`<VirtualHost ...>`), with what it holds.
    pub section: Option<Vec<Directive>>,
}

impl Directive {
    /// Whether it is this directive (or section), as httpd compares names:
    /// without regard to case.
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    pub fn arg(&self, i: usize) -> &str {
        self.args.get(i).map_or("", String::as_str)
    }

    pub fn children(&self) -> &[Directive] {
        self.section.as_deref().unwrap_or_default()
    }
}

/// Why a file cannot be read: what httpd would say at `apache2 -t`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfError {
    pub line: u32,
    pub message: String,
}

impl fmt::Display for ConfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ConfError {}

/// One logical line: its text (continuations joined) and the line it
/// starts on.
fn logical_lines(text: &str) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let mut pending: Option<(u32, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let n = i as u32 + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        // httpd joins a line ending in a backslash (nothing after it) with
        // the next one, the backslash and the line break dropped.
        let (body, continues) = match raw.strip_suffix('\\') {
            Some(b) => (b, true),
            None => (raw, false),
        };
        let (start, mut acc) = pending.take().unwrap_or((n, String::new()));
        acc.push_str(body);
        if continues {
            pending = Some((start, acc));
        } else {
            out.push((start, acc));
        }
    }
    if let Some(last) = pending {
        out.push(last);
    }
    out
}

/// The words of a directive's arguments, as `ap_getword_conf` splits them.
pub fn words(mut s: &str) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        s = s.trim_start();
        if s.is_empty() {
            return out;
        }
        let first = s.chars().next().unwrap_or(' ');
        if first == '"' || first == '\'' {
            let mut word = String::new();
            let mut chars = s[1..].char_indices();
            let mut end = s.len();
            while let Some((i, c)) = chars.next() {
                if c == '\\' {
                    // A backslash escapes the quote (and a backslash); any
                    // other backslash stays as written.
                    match chars.clone().next() {
                        Some((_, q)) if q == first || q == '\\' => {
                            word.push(q);
                            chars.next();
                        }
                        _ => word.push(c),
                    }
                    continue;
                }
                if c == first {
                    end = 1 + i + 1;
                    break;
                }
                word.push(c);
            }
            out.push(word);
            s = &s[end.min(s.len())..];
        } else {
            let end = s.find(char::is_whitespace).unwrap_or(s.len());
            out.push(s[..end].to_string());
            s = &s[end..];
        }
    }
}

/// An open section while reading: its name, args, line, and what it holds.
struct Open {
    name: String,
    args: Vec<String>,
    line: u32,
    inside: Vec<Directive>,
}

/// Reads a config file into its directives. Sections must close in the
/// order they open (httpd refuses the file otherwise, and so does this).
pub fn parse(text: &str) -> Result<Vec<Directive>, ConfError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut stack: Vec<Open> = vec![Open {
        name: String::new(),
        args: Vec::new(),
        line: 0,
        inside: Vec::new(),
    }];
    for (line, content) in logical_lines(text) {
        let t = content.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if let Some(rest) = t.strip_prefix("</") {
            let Some(name) = rest.strip_suffix('>') else {
                return Err(ConfError {
                    line,
                    message: format!("</{rest} directive missing closing '>'"),
                });
            };
            let name = name.trim();
            if stack.len() == 1 {
                return Err(ConfError {
                    line,
                    message: format!("</{name}> without matching <{name}> section"),
                });
            }
            let open = stack.pop().expect("more than the top level");
            if !open.name.eq_ignore_ascii_case(name) {
                return Err(ConfError {
                    line,
                    message: format!(
                        "</{name}> closes <{}> (opened at line {}): sections must close in the order they open",
                        open.name, open.line
                    ),
                });
            }
            let d = Directive {
                name: open.name,
                args: open.args,
                line: open.line,
                section: Some(open.inside),
            };
            stack.last_mut().expect("top level").inside.push(d);
            continue;
        }
        if let Some(rest) = t.strip_prefix('<') {
            let Some(inner) = rest.strip_suffix('>') else {
                let name = rest.split_whitespace().next().unwrap_or("");
                return Err(ConfError {
                    line,
                    message: format!("<{name}> directive missing closing '>'"),
                });
            };
            let inner = inner.trim();
            let name_end = inner.find(char::is_whitespace).unwrap_or(inner.len());
            let name = &inner[..name_end];
            if name.is_empty() {
                return Err(ConfError {
                    line,
                    message: "a section with no name (`<>`)".into(),
                });
            }
            stack.push(Open {
                name: name.to_string(),
                args: words(&inner[name_end..]),
                line,
                inside: Vec::new(),
            });
            continue;
        }
        let name_end = t.find(char::is_whitespace).unwrap_or(t.len());
        let d = Directive {
            name: t[..name_end].to_string(),
            args: words(&t[name_end..]),
            line,
            section: None,
        };
        stack.last_mut().expect("top level").inside.push(d);
    }
    if stack.len() > 1 {
        let open = stack.pop().expect("an open section");
        return Err(ConfError {
            line: open.line,
            message: format!(
                "<{}> section not closed (no </{}> before the end of the file)",
                open.name, open.name
            ),
        });
    }
    Ok(stack.pop().expect("top level").inside)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apache_conf_directives_with_quotes_continuations_and_comments() {
        let text = "# a comment\nServerRoot \"/etc/apache2\"\n  ProxyPass / \\\n    http://127.0.0.1:3000/ \\\n    upgrade=websocket\n\
                    RequestHeader set X-Forwarded-Proto 'https'\nLogFormat \"%h \\\"%r\\\" %>s\" combined\n\
                    Header set X-Note \"a # not a comment\"\n";
        let d = parse(text).unwrap();
        assert_eq!(d.len(), 5);
        assert_eq!(d[0].name, "ServerRoot");
        assert_eq!(d[0].args, ["/etc/apache2"]);
        assert_eq!(d[0].line, 2);
        // Continued lines are one directive, at the line it starts on.
        assert!(d[1].is("proxypass"));
        assert_eq!(
            d[1].args,
            ["/", "http://127.0.0.1:3000/", "upgrade=websocket"]
        );
        assert_eq!(d[1].line, 3);
        assert_eq!(d[2].args, ["set", "X-Forwarded-Proto", "https"]);
        assert_eq!(d[2].line, 6);
        assert_eq!(d[3].args, ["%h \"%r\" %>s", "combined"]);
        // `#` inside a line is not a comment.
        assert_eq!(d[4].args, ["set", "X-Note", "a # not a comment"]);
    }

    #[test]
    fn apache_conf_nested_sections() {
        let text = "<IfModule mod_proxy.c>\n<VirtualHost *:443>\n  ServerName a.example\n  <Location \"/api/terminal/ws\">\n    ProxyPass ws://127.0.0.1:3000/api/terminal/ws\n  </Location>\n</virtualhost>\n</IfModule>\nListen 80\n";
        let d = parse(text).unwrap();
        assert_eq!(d.len(), 2);
        assert!(d[0].is("IfModule"));
        assert_eq!(d[0].args, ["mod_proxy.c"]);
        let vhost = &d[0].children()[0];
        // Names compare without case: `</virtualhost>` closes it.
        assert!(vhost.is("VirtualHost"));
        assert_eq!(vhost.args, ["*:443"]);
        assert_eq!(vhost.line, 2);
        let loc = &vhost.children()[1];
        assert!(loc.is("Location"));
        assert_eq!(loc.args, ["/api/terminal/ws"]);
        assert_eq!(loc.children()[0].line, 5);
        assert_eq!(d[1].line, 9);
    }

    #[test]
    fn apache_conf_unbalanced_sections_are_errors_with_their_line() {
        let e = parse("<VirtualHost *:80>\nServerName a\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("not closed"), "{e}");
        let e = parse("ServerName a\n</VirtualHost>\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("without matching"), "{e}");
        let e = parse("<VirtualHost *:80>\n<Location />\n</VirtualHost>\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("opened at line 2"), "{e}");
        let e = parse("<Location /api\nProxyPass http://x/\n</Location>\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("missing closing '>'"), "{e}");
    }

    #[test]
    fn apache_conf_odd_input_does_not_panic() {
        for text in [
            "",
            "\\",
            "<",
            "</",
            "<>",
            "\"",
            "ProxyPass \"unclosed",
            "a \\\n",
            "<a>\n</a>\n</a>",
            "\u{feff}Listen 80",
            "x '\\",
            "<é b>\n</é>",
        ] {
            let _ = parse(text);
        }
        assert_eq!(words("a \"b c\" 'd\\'e' \"\""), ["a", "b c", "d'e", ""]);
    }
}
