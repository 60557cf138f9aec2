//! A Caddyfile as a tree of lines, the way Caddy's lexer reads it: a line
//! is a directive with its arguments, a `{` ending a line opens a block
//! that a lone `}` closes, `"..."` and `` `...` `` quote, `#` starting a
//! word comments out the rest of the line, `\` at a line's end continues
//! it. `{placeholders}` are words. Snippets and `import` are left to the
//! caller, which knows where files come from.

use std::fmt;

use crate::config_lexer::{Grammar, Lexer, Token, Word};

/// One line: its words (quotes removed), its 1-based line, and its block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub words: Vec<String>,
    pub line: u32,
    pub block: Option<Vec<Node>>,
}

impl Node {
    pub fn name(&self) -> &str {
        self.words.first().map_or("", String::as_str)
    }

    pub fn arg(&self, i: usize) -> Option<&str> {
        self.words.get(i + 1).map(String::as_str)
    }

    pub fn children(&self) -> &[Node] {
        self.block.as_deref().unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaddyfileError {
    pub line: u32,
    pub message: String,
}

impl fmt::Display for CaddyfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// The Caddyfile's words: `"` quotes, `\` escaping `"` and itself inside
/// it, and `` ` `` quotes with no escapes; a line end ends a directive
/// and a `\` before one continues it; braces are words (`{placeholder}`
/// included), a block's being a bare `{` ending a line and a lone `}`.
pub(crate) const GRAMMAR: Grammar = Grammar {
    quotes: &['"', '`'],
    escaping: &['"'],
    punctuation: false,
    newlines: true,
    continuation: true,
};

/// The text's logical lines: words with the line they start on.
fn lines(text: &str) -> Result<Vec<(Vec<Word>, u32)>, CaddyfileError> {
    let mut out: Vec<(Vec<Word>, u32)> = Vec::new();
    let mut words: Vec<Word> = Vec::new();
    let mut start = 1u32;
    for token in Lexer::new(text, GRAMMAR) {
        let (token, line) = token.map_err(|e| CaddyfileError {
            line: e.line,
            message: e.message("word"),
        })?;
        match token {
            Token::Word(w) => {
                if words.is_empty() {
                    start = line;
                }
                words.push(w);
            }
            Token::Newline if !words.is_empty() => out.push((std::mem::take(&mut words), start)),
            // The end of a blank line; `;` and braces are words here.
            _ => {}
        }
    }
    if !words.is_empty() {
        out.push((words, start));
    }
    Ok(out)
}

/// Blocks nested deeper than this are refused (the readers after this one
/// recurse once per level).
pub const MAX_NESTING: usize = 64;

/// The Caddyfile's top-level lines: the global options block (a block with
/// no words), snippets (`(name)`), site blocks (their addresses as words),
/// or, for a single site written without braces, its address line
/// followed by its directives.
pub fn parse(text: &str) -> Result<Vec<Node>, CaddyfileError> {
    let mut stack: Vec<(Node, Vec<Node>)> = Vec::new();
    let mut level: Vec<Node> = Vec::new();
    for (words, line) in lines(text)? {
        let opens = words.last().is_some_and(|w| w.is_bare("{"));
        let closes = words.len() == 1 && words[0].is_bare("}");
        if closes {
            let Some((mut node, outer)) = stack.pop() else {
                return Err(CaddyfileError {
                    line,
                    message: "unexpected `}`".into(),
                });
            };
            node.block = Some(std::mem::replace(&mut level, outer));
            level.push(node);
            continue;
        }
        let mut texts: Vec<String> = words.into_iter().map(|w| w.text).collect();
        if opens {
            if stack.len() >= MAX_NESTING {
                return Err(CaddyfileError {
                    line,
                    message: format!("blocks nested more than {MAX_NESTING} deep"),
                });
            }
            texts.pop();
            stack.push((
                Node {
                    words: texts,
                    line,
                    block: None,
                },
                std::mem::take(&mut level),
            ));
        } else {
            level.push(Node {
                words: texts,
                line,
                block: None,
            });
        }
    }
    if let Some((node, _)) = stack.last() {
        return Err(CaddyfileError {
            line: node.line,
            message: format!(
                "the block opened here{} is not closed",
                if node.words.is_empty() {
                    String::new()
                } else {
                    format!(" (`{}`)", node.words.join(" "))
                }
            ),
        });
    }
    Ok(level)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_guides_caddyfile() {
        let text = "{\n\tadmin off\n}\n\nhttp://127.0.0.15 {\n\treverse_proxy 127.0.0.15:3000 {\n\t\t# a comment {\n\t\tflush_interval -1\n\t\theader_up Host {host}\n\t\ttransport http {\n\t\t\tread_timeout 3600s\n\t\t}\n\t}\n}\n";
        let tree = parse(text).unwrap();
        assert_eq!(tree.len(), 2);
        assert!(tree[0].words.is_empty());
        assert_eq!(tree[0].children()[0].words, vec!["admin", "off"]);
        let site = &tree[1];
        assert_eq!(
            (site.words[0].as_str(), site.line),
            ("http://127.0.0.15", 5)
        );
        let rp = &site.children()[0];
        assert_eq!(rp.words, vec!["reverse_proxy", "127.0.0.15:3000"]);
        assert_eq!(rp.children()[1].words, vec!["header_up", "Host", "{host}"]);
        assert_eq!(rp.children()[1].line, 9);
        let transport = &rp.children()[2];
        assert_eq!(transport.children()[0].words, vec!["read_timeout", "3600s"]);
        assert_eq!(transport.children()[0].line, 11);
    }

    #[test]
    fn quotes_continuations_and_errors() {
        let tree = parse("example.com\nrespond \"a { b\" `c\nd` \\\n  200\nheader X-A \"q\\\"\"\n")
            .unwrap();
        assert_eq!(tree.len(), 3);
        assert_eq!(tree[1].words, vec!["respond", "a { b", "c\nd", "200"]);
        assert_eq!(tree[2].words, vec!["header", "X-A", "q\""]);
        assert_eq!(tree[2].line, 5);
        assert_eq!(parse("a {\n b\n").unwrap_err().line, 1);
        assert_eq!(parse("a\n}\n").unwrap_err().line, 2);
        assert_eq!(parse("a \"b\n").unwrap_err().line, 1);
        assert!(parse(&"a {\n".repeat(MAX_NESTING + 1)).is_err());
    }
}
