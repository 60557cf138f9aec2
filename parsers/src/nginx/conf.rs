//! The `log_format` definitions of an nginx configuration, so access logs
//! written with them can be read (`--nginx-conf`). A small tokenizer, not a
//! full config parser: it reads directives, quotes and comments.

use super::format::{Escape, FormatError, LogFormat};

/// Every `log_format` in the text, compiled.
pub fn log_formats(conf: &str) -> Result<Vec<LogFormat>, FormatError> {
    let mut out = Vec::new();
    for directive in directives(conf) {
        if directive.first().map(String::as_str) != Some("log_format") || directive.len() < 3 {
            continue;
        }
        let name = &directive[1];
        let (escape, parts) = match directive[2].strip_prefix("escape=") {
            Some(kw) => (
                Escape::from_keyword(kw).ok_or_else(|| {
                    FormatError(format!("log_format {name}: unknown escape={kw}"))
                })?,
                &directive[3..],
            ),
            None => (Escape::Default, &directive[2..]),
        };
        out.push(LogFormat::compile(name, escape, &parts.concat())?);
    }
    Ok(out)
}

/// Splits a config into directives (words up to `;`), dropping comments and
/// block braces. Quoted words lose their quotes; `\"` escapes survive as `"`.
fn directives(conf: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut chars = conf.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            ';' => out.push(std::mem::take(&mut words)),
            '{' | '}' => words.clear(),
            c if c.is_whitespace() => {}
            '"' | '\'' => {
                let quote = c;
                let mut word = String::new();
                while let Some(c) = chars.next() {
                    if c == '\\' {
                        if let Some(&n) = chars.peek() {
                            if n == quote || n == '\\' {
                                word.push(n);
                                chars.next();
                                continue;
                            }
                        }
                    }
                    if c == quote {
                        break;
                    }
                    word.push(c);
                }
                words.push(word);
            }
            c => {
                let mut word = String::from(c);
                while let Some(&n) = chars.peek() {
                    if n.is_whitespace() || n == ';' || n == '{' || n == '}' {
                        break;
                    }
                    word.push(n);
                    chars.next();
                }
                words.push(word);
            }
        }
    }
    out
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
}
