//! The nginx and Caddyfile readers give exactly what they gave before they
//! shared the lexer (`old`): the same trees, lines and error messages, on
//! generated config-like text and on every text file under `samples/`.

use std::path::{Path, PathBuf};

use proptest::prelude::*;

#[path = "config_lexer/old.rs"]
mod old;
use chamber_parsers::{caddyfile, nginx::conf};

/// Both readers, new and old, on `text`: each pair must agree.
fn same_as_before(text: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        conf::parse(text),
        old::nginx_conf::parse(text),
        "nginx {:?}",
        text
    );
    prop_assert_eq!(
        caddyfile::parse(text),
        old::caddyfile::parse(text),
        "Caddyfile {:?}",
        text
    );
    Ok(())
}

/// Pieces of either grammar, and of neither, that lexing has to tell
/// apart: put side by side with nothing between them, they also make
/// `a"b"`, `"a"#b`, `x;#`, `${a\nb}`, `\` before CRLF and the like.
#[rustfmt::skip]
const PIECES: &[&str] = &[
    // Words.
    "a", "gzip", "on", "listen", "80", "server", "location", "/api", "~", "^/a(b|c)$",
    "http://127.0.0.1:3000", "reverse_proxy", "header_up", "é", "日本", "🙂", "x;y", "a#b", "a{", "}b",
    "$", "$x", "a$", "(snippet)", "import",
    // Blanks and line ends, Unicode ones too.
    " ", " ", "  ", "\t", "\n", "\n", "\n\n", "\r\n", "\r", "\u{a0}", "\u{85}", "\u{2028}",
    "\u{3000}", "\u{feff}",
    // Punctuation.
    "{", "}", ";", " {\n", "\n}\n", ";\n", "{}", "};",
    // Comments, at a word's start and inside one.
    "#", "# c", "#c {", " # x ; {\n", "\n# x\n", "#\"", "#`", "x#", "\\#",
    // Quotes of each kind, with escapes, across lines, unterminated.
    "\"", "'", "`", "\"a b\"", "'a b'", "`a b`", "\"\"", "''", "``", "\"a\\\"b\"", "'a\\'b'",
    "\"a\\'b\"", "'a\\\"b'", "`a\\`", "`a\\``", "\"\\\\\"", "'\\\\'", "\"a\\nb\"", "\"a\nb\"",
    "'a\r\nb'", "`a\nb`", "\"{ }\"", "\"}\"", "`{`", "\"\\", "'\\", "\"\\\n\"", "\"#\"", "\"a;b\"",
    // Variables and placeholders.
    "${var}", "${", "${a b;}", "${\n}", "${a\r\nb}", "$${x}", "${a}${b}", "${}", "{host}",
    "{http.request.uri}", "{$ENV}", "{ }", "{$", "$}",
    // Backslashes: escapes, continuations, before CRLF.
    "\\", "\\\n", "\\\r\n", " \\\n", "\\\\", "\\\"", "\\'", "\\`", "\\\\\n",
];

/// Config-like text: pieces, any characters and short words, put side by
/// side with nothing between them.
fn soup() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        8 => proptest::sample::select(PIECES).prop_map(String::from),
        1 => any::<char>().prop_map(String::from),
        2 => "[a-z_./:0-9]{1,6}",
    ];
    proptest::collection::vec(piece, 0..80).prop_map(|v| v.concat())
}

/// A word as either grammar writes one.
fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        16 => "[a-z_][a-z_0-9./:-]{0,8}",
        1 => "[a-z ]{0,5}".prop_map(|s| format!("\"{s}\"")),
        1 => "[a-z ]{0,5}".prop_map(|s| format!("'{s}'")),
        1 => "[a-z ]{0,5}".prop_map(|s| format!("`{s}`")),
        1 => Just("\"a\\\"b\\\\\"".to_string()),
        1 => Just("http://${up}:3000".to_string()),
        1 => Just("{host}".to_string()),
        1 => Just("{http.request.header.X-A}".to_string()),
        1 => Just("日本🙂".to_string()),
    ]
}

/// A directive tree.
#[derive(Debug, Clone)]
struct Tree {
    words: Vec<String>,
    block: Option<Vec<Tree>>,
}

fn tree() -> impl Strategy<Value = Tree> {
    let leaf =
        proptest::collection::vec(word(), 0..5).prop_map(|words| Tree { words, block: None });
    leaf.prop_recursive(4, 40, 6, |inner| {
        (
            // A Caddyfile's global options block has no words.
            prop_oneof![
                9 => proptest::collection::vec(word(), 1..4),
                1 => Just(Vec::new()),
            ],
            proptest::collection::vec(inner, 0..6),
        )
            .prop_map(|(words, children)| Tree {
                words,
                block: Some(children),
            })
    })
}

/// How a tree is written out: which grammar's punctuation, and what
/// between words.
#[derive(Debug, Clone, Copy)]
enum Style {
    Nginx,
    Caddyfile,
    /// Each line either way.
    Mixed,
}

/// `trees` written in `style`, `choices` picking the blanks, comments,
/// continuations and (for `Mixed`) the grammar at each place.
fn write(
    trees: &[Tree],
    style: Style,
    choices: &mut impl Iterator<Item = u8>,
    depth: usize,
    out: &mut String,
) {
    const BETWEEN: &[&str] = &[" ", " ", " ", "\t", "  ", " \\\n  ", "\u{a0}"];
    const AFTER: &[&str] = &["", "", " # a comment ; {", "\r", " #x"];
    for t in trees {
        let c = choices.next().unwrap_or(0);
        let nginx = match style {
            Style::Nginx => true,
            Style::Caddyfile => false,
            Style::Mixed => c.is_multiple_of(2),
        };
        out.push_str(&"\t".repeat(depth));
        if nginx && t.block.is_some() && t.words.is_empty() {
            out.push_str("events"); // nginx's blocks all have a name
        }
        for (i, w) in t.words.iter().enumerate() {
            if i > 0 {
                out.push_str(BETWEEN[usize::from(choices.next().unwrap_or(0)) % BETWEEN.len()]);
            }
            if nginx && w.starts_with('{') {
                out.push('$'); // a placeholder, made an nginx variable
            }
            out.push_str(w);
        }
        let after = AFTER[usize::from(choices.next().unwrap_or(0)) % AFTER.len()];
        match &t.block {
            None if nginx => out.push(';'),
            None => {}
            Some(children) => {
                out.push_str(" {");
                out.push_str(after);
                out.push('\n');
                write(children, style, choices, depth + 1, out);
                out.push_str(&"\t".repeat(depth));
                out.push('}');
            }
        }
        if t.block.is_none() {
            out.push_str(after);
        }
        out.push('\n');
    }
}

/// Written-out trees, now and then with a piece put in anywhere.
fn configs() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(tree(), 0..5),
        prop_oneof![
            Just(Style::Nginx),
            Just(Style::Caddyfile),
            Just(Style::Mixed)
        ],
        proptest::collection::vec(any::<u8>(), 0..200),
        proptest::collection::vec((any::<usize>(), proptest::sample::select(PIECES)), 0..3),
    )
        .prop_map(|(trees, style, choices, insert)| {
            let mut text = String::new();
            write(
                &trees,
                style,
                &mut choices.into_iter().cycle(),
                0,
                &mut text,
            );
            for (at, piece) in insert {
                let mut at = at % (text.len() + 1);
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                text.insert_str(at, piece);
            }
            text
        })
}

/// 1024 cases each, or `PROPTEST_CASES`.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1024)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Any mix of the pieces both grammars are made of.
    #[test]
    fn readers_read_soup_as_before(text in soup()) {
        same_as_before(&text)?;
    }

    /// Text shaped like configs (mostly read whole, so the trees and their
    /// lines are compared, not only the errors).
    #[test]
    fn readers_read_configs_as_before(text in configs()) {
        same_as_before(&text)?;
    }

    /// Any characters at all.
    #[test]
    fn readers_read_any_text_as_before(text in "\\PC{0,200}") {
        same_as_before(&text)?;
    }
}

/// Every file under `dir`, depth first.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Every text file under `samples/` (configs, and logs and the rest as
/// more text), whole and cut after each of its lines.
#[test]
fn readers_read_every_sample_as_before() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples");
    let mut paths = Vec::new();
    files(&root, &mut paths);
    let (mut configs, mut other, mut read_whole) = (0, 0, [0, 0]);
    for path in paths {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue; // captures
        };
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let config = name.ends_with(".conf") || name.starts_with("Caddyfile");
        let check = |text: &str| {
            same_as_before(text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        };
        check(&text);
        read_whole[0] += usize::from(conf::parse(&text).is_ok());
        read_whole[1] += usize::from(caddyfile::parse(&text).is_ok());
        if config {
            configs += 1;
            for (at, _) in text.match_indices('\n') {
                check(&text[..at]);
            }
        } else {
            other += 1;
        }
    }
    eprintln!(
        "compared {configs} config files (and each cut after each line) and {other} other text files; \
         {} read whole as nginx, {} as Caddyfiles",
        read_whole[0], read_whole[1]
    );
    assert!(configs >= 50, "only {configs} config files under samples/");
}
