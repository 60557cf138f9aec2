//! The lexer the nginx and Caddyfile readers share: the text as words
//! (quoted or not, unescaped), punctuation and line ends, each with the
//! 1-based line it starts on. Blanks, `#` comments, quotes with their
//! escapes and the line count are read here once; what differs between
//! the two languages is a [`Grammar`], and what each makes of the tokens
//! (directives up to `;`, lines, blocks) stays in its own reader.

use std::iter::Peekable;
use std::str::Chars;

/// What a config language makes of the characters the lexer decides on.
///
/// Common to both: any whitespace separates words, only `\n` counts a
/// line, and a `#` where a word would start comments out the rest of the
/// line (inside a word it is a character of the word).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Grammar {
    /// The characters that open a quoted word; the same character closes
    /// it. A quote only opens where a word would start.
    pub(crate) quotes: &'static [char],
    /// The quotes inside which `\` escapes the quote and itself (`\"` is
    /// `"`, `\\` is `\`); any other `\` is kept as written. Inside other
    /// quotes `\` is a character like any other.
    pub(crate) escaping: &'static [char],
    /// `;`, `{` and `}` end a word and are tokens of their own, except the
    /// braces of a `${var}`, which stay in the word (nginx). Otherwise
    /// they are characters of words like any other, a `{placeholder}` is
    /// a word, and a block's braces are words for the reader to recognise
    /// (Caddyfile).
    pub(crate) punctuation: bool,
    /// A line end is a token (Caddyfile, where it ends a directive);
    /// otherwise it is a blank like any other.
    pub(crate) newlines: bool,
    /// A `\` where a word would start, right before a line end, joins the
    /// two lines: neither is a token (Caddyfile).
    pub(crate) continuation: bool,
}

/// A word: its text, unescaped, and whether it was quoted (a quoted `{`
/// opens nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word {
    pub(crate) text: String,
    pub(crate) quoted: bool,
}

impl Word {
    /// The word is `text`, written without quotes.
    pub(crate) fn is_bare(&self, text: &str) -> bool {
        !self.quoted && self.text == text
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    Word(Word),
    /// `;` (with [`Grammar::punctuation`])
    End,
    /// `{` (with [`Grammar::punctuation`])
    Open,
    /// `}` (with [`Grammar::punctuation`])
    Close,
    /// A line end (with [`Grammar::newlines`]).
    Newline,
}

/// A quoted word the text ends inside of: its quote, and the line it
/// opened on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unterminated {
    pub(crate) quote: char,
    pub(crate) line: u32,
}

impl Unterminated {
    /// "unterminated "quoted" `what`", in the quote's own characters.
    pub(crate) fn message(&self, what: &str) -> String {
        let q = self.quote;
        format!("unterminated {q}quoted{q} {what}")
    }
}

/// The tokens of a text, each with the 1-based line it starts on; an
/// unterminated quote ends them.
pub(crate) struct Lexer<'a> {
    chars: Peekable<Chars<'a>>,
    line: u32,
    grammar: Grammar,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(text: &'a str, grammar: Grammar) -> Self {
        Lexer {
            chars: text.chars().peekable(),
            line: 1,
            grammar,
        }
    }

    /// A quoted word, its opening `quote` read.
    fn quoted(&mut self, quote: char) -> Result<Word, Unterminated> {
        let (line, escapes) = (self.line, self.grammar.escaping.contains(&quote));
        let mut text = String::new();
        while let Some(c) = self.chars.next() {
            match c {
                c if c == quote => return Ok(Word { text, quoted: true }),
                '\\' if escapes => {
                    let escaped = self.chars.next_if(|&n| n == quote || n == '\\');
                    text.push(escaped.unwrap_or('\\'));
                }
                c => {
                    if c == '\n' {
                        self.line += 1;
                    }
                    text.push(c);
                }
            }
        }
        Err(Unterminated { quote, line })
    }

    /// An unquoted word starting with `first`: up to a blank, or with
    /// [`Grammar::punctuation`] up to `;`, `{` or `}` too.
    ///
    /// Line ends are not counted here: none ends up in a word but one
    /// inside nginx's `${...}`, which the nginx reader never counted (the
    /// lines after it are numbered as they always were).
    fn bare(&mut self, first: char) -> Word {
        let punctuation = self.grammar.punctuation;
        let mut text = String::from(first);
        let mut in_var = false;
        while let Some(&c) = self.chars.peek() {
            if in_var {
                in_var = c != '}';
            } else if c.is_whitespace() || (punctuation && matches!(c, ';' | '{' | '}')) {
                if c == '{' && text.ends_with('$') {
                    in_var = true;
                } else {
                    break;
                }
            }
            text.push(c);
            self.chars.next();
        }
        Word {
            text,
            quoted: false,
        }
    }
}

impl Iterator for Lexer<'_> {
    type Item = Result<(Token, u32), Unterminated>;

    fn next(&mut self) -> Option<Self::Item> {
        let grammar = self.grammar;
        loop {
            let line = self.line;
            let token = match self.chars.next()? {
                '\n' => {
                    self.line += 1;
                    if !grammar.newlines {
                        continue;
                    }
                    Token::Newline
                }
                c if c.is_whitespace() => continue,
                // To the line's end, which is read as any other.
                '#' => {
                    while self.chars.next_if(|&c| c != '\n').is_some() {}
                    continue;
                }
                '\\' if grammar.continuation && self.chars.peek() == Some(&'\n') => {
                    self.chars.next();
                    self.line += 1;
                    continue;
                }
                ';' if grammar.punctuation => Token::End,
                '{' if grammar.punctuation => Token::Open,
                '}' if grammar.punctuation => Token::Close,
                q if grammar.quotes.contains(&q) => match self.quoted(q) {
                    Ok(word) => Token::Word(word),
                    Err(e) => return Some(Err(e)),
                },
                c => Token::Word(self.bare(c)),
            };
            return Some(Ok((token, line)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::caddyfile::GRAMMAR as LINES;
    use crate::nginx::conf::GRAMMAR as SEMICOLONS;

    fn word(text: &str, quoted: bool) -> Token {
        Token::Word(Word {
            text: text.into(),
            quoted,
        })
    }

    fn lex(text: &str, grammar: Grammar) -> Result<Vec<(Token, u32)>, Unterminated> {
        Lexer::new(text, grammar).collect()
    }

    #[test]
    fn punctuation_ends_words_but_not_variables() {
        let text = "a#x \"b\\\"c\\n\"'d\\''#x ;\n${v w}x{$y}z;# c {\n}\n";
        assert_eq!(
            lex(text, SEMICOLONS).unwrap(),
            vec![
                // Inside a word, `#` is the word's.
                (word("a#x", false), 1),
                (word("b\"c\\n", true), 1),
                (word("d'", true), 1),
                (word("${v w}x", false), 2),
                (Token::Open, 2),
                (word("$y", false), 2),
                (Token::Close, 2),
                (word("z", false), 2),
                (Token::End, 2),
                (Token::Close, 3),
            ]
        );
    }

    #[test]
    fn lines_keep_braces_in_words_and_join_at_backslashes() {
        let text = "a {x} \"q\\\"\\\\\\n\" `b\\` c#d \\\n e # f {\n}\n\"\n\"";
        assert_eq!(
            lex(text, LINES).unwrap(),
            vec![
                (word("a", false), 1),
                (word("{x}", false), 1),
                (word("q\"\\\\n", true), 1),
                (word("b\\", true), 1),
                (word("c#d", false), 1),
                (word("e", false), 2),
                (Token::Newline, 2),
                (word("}", false), 3),
                (Token::Newline, 3),
                (word("\n", true), 4),
            ]
        );
    }

    #[test]
    fn an_unterminated_quote_is_reported_at_its_line() {
        let e = lex("a\n`b\nc", LINES).unwrap_err();
        assert_eq!(
            e,
            Unterminated {
                quote: '`',
                line: 2
            }
        );
        assert_eq!(e.message("word"), "unterminated `quoted` word");
        // An escaped quote closes nothing; where quotes do not escape, a
        // backslash does not hold one back.
        assert!(lex("\"a\\\"", LINES).is_err());
        assert!(lex("`a\\`", LINES).is_ok());
    }

    #[test]
    fn both_of_nginx_quotes_escape() {
        assert_eq!(
            lex("'a\\'\\\\' \"\\\"\\'\"", SEMICOLONS).unwrap(),
            vec![(word("a'\\", true), 1), (word("\"\\'", true), 1)]
        );
        let e = lex("a\n'b\\", SEMICOLONS).unwrap_err();
        assert_eq!(
            e,
            Unterminated {
                quote: '\'',
                line: 2
            }
        );
        assert_eq!(e.message("string"), "unterminated 'quoted' string");
    }

    /// A line end inside `${...}` is not counted: the nginx reader has
    /// always numbered the lines after it so.
    #[test]
    fn a_line_end_inside_a_variable_is_not_counted() {
        let tokens = lex("${a\n}\nb", SEMICOLONS).unwrap();
        assert_eq!(tokens[1], (word("b", false), 2));
    }
}
