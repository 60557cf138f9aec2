//! The nginx and Caddyfile readers as they were before they shared one
//! lexer (`parsers/src/config_lexer.rs`), copied verbatim (only their types
//! are imported): they pin the pre-refactor behaviour, and
//! `config_lexer_equivalence.rs` checks that the readers built on the
//! shared lexer give exactly what these gave (the same trees, lines and
//! error messages) on generated and shipped text. Test-only, and kept out
//! of `parsers/src/` so that the library holds one lexer.

pub mod nginx_conf {
    use chamber_parsers::nginx::conf::{ConfError, Directive, MAX_NESTING};

    #[derive(Debug, PartialEq)]
    enum Token {
        Word(String),
        /// `;`
        End,
        Open,
        Close,
    }

    /// Splits the text into words and the punctuation between them, each with
    /// its line.
    fn tokens(conf: &str) -> Result<Vec<(Token, u32)>, ConfError> {
        let mut out = Vec::new();
        let mut line = 1u32;
        let mut chars = conf.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\n' => line += 1,
                '#' => {
                    for c in chars.by_ref() {
                        if c == '\n' {
                            line += 1;
                            break;
                        }
                    }
                }
                ';' => out.push((Token::End, line)),
                '{' => out.push((Token::Open, line)),
                '}' => out.push((Token::Close, line)),
                c if c.is_whitespace() => {}
                '"' | '\'' => {
                    let (quote, start) = (c, line);
                    let mut word = String::new();
                    let mut closed = false;
                    while let Some(c) = chars.next() {
                        match c {
                            '\\' => match chars.next() {
                                Some(n) if n == quote || n == '\\' => word.push(n),
                                Some(n) => {
                                    if n == '\n' {
                                        line += 1;
                                    }
                                    word.push('\\');
                                    word.push(n);
                                }
                                None => break,
                            },
                            c if c == quote => {
                                closed = true;
                                break;
                            }
                            c => {
                                if c == '\n' {
                                    line += 1;
                                }
                                word.push(c);
                            }
                        }
                    }
                    if !closed {
                        return Err(ConfError {
                            line: start,
                            message: format!("unterminated {quote}quoted{quote} string"),
                        });
                    }
                    out.push((Token::Word(word), start));
                }
                c => {
                    let mut word = String::from(c);
                    // `${var}` keeps its braces inside the word.
                    let mut in_var = false;
                    while let Some(&n) = chars.peek() {
                        if in_var {
                            in_var = n != '}';
                        } else if n.is_whitespace() || n == ';' || n == '}' || n == '{' {
                            if n == '{' && word.ends_with('$') {
                                in_var = true;
                            } else {
                                break;
                            }
                        }
                        word.push(n);
                        chars.next();
                    }
                    out.push((Token::Word(word), line));
                }
            }
        }
        Ok(out)
    }

    /// The directives of a config file (or of a snippet: an Advanced-tab text
    /// is directives and locations without a `server` around them).
    pub fn parse(conf: &str) -> Result<Vec<Directive>, ConfError> {
        let tokens = tokens(conf)?;
        let mut stack: Vec<(Directive, Vec<Directive>)> = Vec::new();
        let mut level: Vec<Directive> = Vec::new();
        let mut words: Vec<(String, u32)> = Vec::new();
        let last_line = tokens.last().map_or(1, |t| t.1);
        for (token, line) in tokens {
            match token {
                Token::Word(w) => words.push((w, line)),
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
}

pub mod caddyfile {
    use chamber_parsers::caddyfile::{CaddyfileError, Node, MAX_NESTING};

    /// A word and whether it was quoted (a quoted `{` opens nothing).
    struct Word {
        text: String,
        quoted: bool,
    }

    /// The text's logical lines: words with the line they start on.
    fn lines(text: &str) -> Result<Vec<(Vec<Word>, u32)>, CaddyfileError> {
        let mut out: Vec<(Vec<Word>, u32)> = Vec::new();
        let mut words: Vec<Word> = Vec::new();
        let mut start = 1u32;
        let mut line = 1u32;
        let mut chars = text.chars().peekable();
        let end_line = |words: &mut Vec<Word>, start: u32, out: &mut Vec<(Vec<Word>, u32)>| {
            if !words.is_empty() {
                out.push((std::mem::take(words), start));
            }
        };
        while let Some(c) = chars.next() {
            match c {
                '\n' => {
                    end_line(&mut words, start, &mut out);
                    line += 1;
                }
                c if c.is_whitespace() => {}
                '#' => {
                    while chars.peek().is_some_and(|&c| c != '\n') {
                        chars.next();
                    }
                }
                '\\' if matches!(chars.peek(), Some('\n')) => {
                    chars.next();
                    line += 1;
                }
                '"' | '`' => {
                    let (quote, from) = (c, line);
                    let mut word = String::new();
                    let mut closed = false;
                    while let Some(c) = chars.next() {
                        match c {
                            '\\' if quote == '"' && matches!(chars.peek(), Some('"' | '\\')) => {
                                word.push(chars.next().expect("peeked"));
                            }
                            c if c == quote => {
                                closed = true;
                                break;
                            }
                            c => {
                                if c == '\n' {
                                    line += 1;
                                }
                                word.push(c);
                            }
                        }
                    }
                    if !closed {
                        return Err(CaddyfileError {
                            line: from,
                            message: format!("unterminated {quote}quoted{quote} word"),
                        });
                    }
                    if words.is_empty() {
                        start = from;
                    }
                    words.push(Word {
                        text: word,
                        quoted: true,
                    });
                }
                c => {
                    let mut word = String::from(c);
                    while let Some(&n) = chars.peek() {
                        if n.is_whitespace() {
                            break;
                        }
                        word.push(n);
                        chars.next();
                    }
                    if words.is_empty() {
                        start = line;
                    }
                    words.push(Word {
                        text: word,
                        quoted: false,
                    });
                }
            }
        }
        end_line(&mut words, start, &mut out);
        Ok(out)
    }

    /// The Caddyfile's top-level lines: the global options block (a block with
    /// no words), snippets (`(name)`), site blocks (their addresses as words),
    /// or, for a single site written without braces, its address line
    /// followed by its directives.
    pub fn parse(text: &str) -> Result<Vec<Node>, CaddyfileError> {
        let mut stack: Vec<(Node, Vec<Node>)> = Vec::new();
        let mut level: Vec<Node> = Vec::new();
        for (words, line) in lines(text)? {
            let opens = words.last().is_some_and(|w| w.text == "{" && !w.quoted);
            let closes = words.len() == 1 && words[0].text == "}" && !words[0].quoted;
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
}
