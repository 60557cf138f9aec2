//! nginx configuration text as a tree of directives, the way nginx's own
//! parser reads it: words up to `;`, blocks in braces, quotes, `#`
//! comments, `${var}` inside words. `include` is left as a directive: the
//! caller decides where included files come from. Also the `log_format`
//! definitions, so access logs written with them can be read
//! (`--nginx-conf`).

use std::fmt;

use super::format::{Escape, FormatError, LogFormat};
use crate::config_lexer::{Grammar, Lexer, Token};

/// One directive: its name, its arguments (quotes removed), the 1-based
/// line its name is on, and its block when it has one (`server { ... }`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub name: String,
    pub args: Vec<String>,
    pub line: u32,
    pub block: Option<Vec<Directive>>,
}

impl Directive {
    pub fn arg(&self, i: usize) -> Option<&str> {
        self.args.get(i).map(String::as_str)
    }

    pub fn children(&self) -> &[Directive] {
        self.block.as_deref().unwrap_or_default()
    }
}

/// Text nginx itself would refuse, with the line it stopped at.
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

/// nginx's words: `"` and `'` quote, `\` escaping the quote inside either;
/// `;` ends a directive and braces open and close blocks wherever they
/// are (but a `${var}`'s); line ends are blanks.
pub(crate) const GRAMMAR: Grammar = Grammar {
    quotes: &['"', '\''],
    escaping: &['"', '\''],
    punctuation: true,
    newlines: false,
    continuation: false,
};

/// Blocks nested deeper than this are refused (nginx configs nest a few
/// levels; the readers after this one recurse once per level).
pub const MAX_NESTING: usize = 64;

/// The directives of a config file (or of a snippet: an Advanced-tab text
/// is directives and locations without a `server` around them).
pub fn parse(conf: &str) -> Result<Vec<Directive>, ConfError> {
    // All of them first: an unterminated quote is the error, wherever it is.
    let tokens = Lexer::new(conf, GRAMMAR)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ConfError {
            line: e.line,
            message: e.message("string"),
        })?;
    let mut stack: Vec<(Directive, Vec<Directive>)> = Vec::new();
    let mut level: Vec<Directive> = Vec::new();
    let mut words: Vec<(String, u32)> = Vec::new();
    let last_line = tokens.last().map_or(1, |t| t.1);
    for (token, line) in tokens {
        match token {
            Token::Word(w) => words.push((w.text, line)),
            Token::End => {
                let Some(d) = directive(std::mem::take(&mut words)) else {
                    continue; // a stray `;` is nothing to nginx either
                };
                level.push(d);
            }
            Token::Open => {
                let Some(d) = directive(std::mem::take(&mut words)) else {
                    return Err(ConfError {
                        line,
                        message: "a block with no directive name before `{`".into(),
                    });
                };
                if stack.len() >= MAX_NESTING {
                    return Err(ConfError {
                        line,
                        message: format!("blocks nested more than {MAX_NESTING} deep"),
                    });
                }
                stack.push((d, std::mem::take(&mut level)));
            }
            Token::Close => {
                if !words.is_empty() {
                    return Err(ConfError {
                        line,
                        message: format!("`{}` is not ended by `;`", words[0].0),
                    });
                }
                let Some((mut d, outer)) = stack.pop() else {
                    return Err(ConfError {
                        line,
                        message: "unexpected `}`".into(),
                    });
                };
                d.block = Some(std::mem::replace(&mut level, outer));
                level.push(d);
            }
            Token::Newline => {} // not a token in nginx's grammar
        }
    }
    if let Some((w, line)) = words.first() {
        return Err(ConfError {
            line: *line,
            message: format!("`{w}` is not ended by `;`"),
        });
    }
    if let Some((d, _)) = stack.last() {
        return Err(ConfError {
            line: last_line,
            message: format!(
                "the `{}` block opened on line {} is not closed",
                d.name, d.line
            ),
        });
    }
    Ok(level)
}

fn directive(words: Vec<(String, u32)>) -> Option<Directive> {
    let mut words = words.into_iter();
    let (name, line) = words.next()?;
    Some(Directive {
        name,
        args: words.map(|(w, _)| w).collect(),
        line,
        block: None,
    })
}

/// Every directive of the tree, depth first, in the order of the text.
pub fn walk(tree: &[Directive]) -> Vec<&Directive> {
    let mut out = Vec::new();
    for d in tree {
        out.push(d);
        out.extend(walk(d.children()));
    }
    out
}

/// Every `log_format` in the text, compiled.
pub fn log_formats(conf: &str) -> Result<Vec<LogFormat>, FormatError> {
    let tree = parse(conf).map_err(|e| FormatError(format!("nginx config {e}")))?;
    let mut out = Vec::new();
    for directive in walk(&tree) {
        if directive.name != "log_format" || directive.args.len() < 2 {
            continue;
        }
        let name = &directive.args[0];
        let (escape, parts) = match directive.args[1].strip_prefix("escape=") {
            Some(kw) => (
                Escape::from_keyword(kw).ok_or_else(|| {
                    FormatError(format!("log_format {name}: unknown escape={kw}"))
                })?,
                &directive.args[2..],
            ),
            None => (Escape::Default, &directive.args[1..]),
        };
        out.push(LogFormat::compile(name, escape, &parts.concat())?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_multi_part_formats_and_escape() {
        let conf = r#"
http {
    # log_format commented '$nothing';
    log_format timing '$remote_addr [$time_local] "$request" '
                      '$status rt=$request_time';
    log_format js escape=json '{"s":"$status","r":"$request"}';
    server { listen 80; access_log /var/log/x timing; }
}"#;
        let f = log_formats(conf).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].name, "timing");
        assert_eq!(
            f[0].text,
            r#"$remote_addr [$time_local] "$request" $status rt=$request_time"#
        );
        assert_eq!(f[1].escape, Escape::Json);
        assert!(log_formats("log_format bad escape=weird '$status';").is_err());
    }

    #[test]
    fn builds_the_tree_with_lines() {
        let conf = "http {\n  gzip on; # comment ; {\n  server {\n    listen 80;\n    location ~ ^/a(b|c)$ {\n      proxy_pass http://${up}:3000;\n      proxy_set_header Connection \"\";\n    }\n  }\n}\n";
        let tree = parse(conf).unwrap();
        assert_eq!(tree.len(), 1);
        let http = &tree[0];
        assert_eq!((http.name.as_str(), http.line), ("http", 1));
        assert_eq!(http.children()[0].args, vec!["on"]);
        let server = &http.children()[1];
        assert_eq!(server.line, 3);
        let location = &server.children()[1];
        assert_eq!(location.args, vec!["~", "^/a(b|c)$"]);
        assert_eq!(location.line, 5);
        assert_eq!(location.children()[0].args, vec!["http://${up}:3000"]);
        assert_eq!(location.children()[1].args, vec!["Connection", ""]);
        assert_eq!(location.children()[1].line, 7);
        assert_eq!(walk(&tree).len(), 7);
    }

    #[test]
    fn refuses_what_nginx_refuses_with_the_line() {
        for (conf, line) in [
            ("server {\n listen 80;\n", 2),
            ("server {\n}\n}\n", 3),
            ("gzip on\n", 1),
            ("server {\n return 200 \"x;\n}\n", 2),
            ("location /a {\n gzip on\n}\n", 3),
        ] {
            let e = parse(conf).unwrap_err();
            assert_eq!(e.line, line, "{conf:?}: {e}");
        }
        let deep = "a {".repeat(MAX_NESTING + 1);
        assert!(parse(&deep).unwrap_err().message.contains("nested"));
        // A stray `;` is nothing.
        assert_eq!(parse("; gzip on;;").unwrap().len(), 1);
    }
}
