//! YAML, TOML and JSON configs as one tree of maps, lists and scalars,
//! each node with the 1-based line it was written on (Traefik's static
//! and dynamic configuration, compose files, `docker inspect`). No
//! diagnosis here: the tree says what the file holds, where.
//!
//! Keys keep their spelling; `Node::get` looks them up case-insensitively,
//! as Traefik reads its keys (labels are usually written lowercase).

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// One value of the tree and the line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub line: u32,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Entries in the file's order (a key written twice: both kept; the
    /// last one is the one `get` finds).
    Map(Vec<Entry>),
    List(Vec<Node>),
    /// Strings, numbers, booleans and dates, as written (unquoted).
    Scalar(String),
    /// YAML's `~`, `null` or nothing after a key.
    Null,
}

/// A map's key, the line the key is on, and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub line: u32,
    pub node: Node,
}

/// Why a text could not be read, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based; 0 where the parser does not say.
    pub line: u32,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            0 => write!(f, "{}", self.message),
            line => write!(f, "line {line}: {}", self.message),
        }
    }
}

const EMPTY_ENTRIES: &[Entry] = &[];
const EMPTY_NODES: &[Node] = &[];

impl Node {
    pub fn new(line: u32, value: Value) -> Node {
        Node { line, value }
    }

    /// An empty map on this line.
    pub fn map(line: u32) -> Node {
        Node::new(line, Value::Map(Vec::new()))
    }

    pub fn scalar(line: u32, text: &str) -> Node {
        Node::new(line, Value::Scalar(text.to_string()))
    }

    /// The entry of this key (case-insensitive; the last one written).
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.entries()
            .iter()
            .rev()
            .find(|e| e.key.eq_ignore_ascii_case(key))
    }

    /// The value of this key (case-insensitive).
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.node)
    }

    /// The value down this path of keys.
    pub fn path(&self, keys: &[&str]) -> Option<&Node> {
        keys.iter().try_fold(self, |n, k| n.get(k))
    }

    /// The entry at the end of this path of keys.
    pub fn entry_at(&self, keys: &[&str]) -> Option<&Entry> {
        let (last, rest) = keys.split_last()?;
        self.path(rest)?.entry(last)
    }

    /// A map's entries (none for anything else).
    pub fn entries(&self) -> &[Entry] {
        match &self.value {
            Value::Map(e) => e,
            _ => EMPTY_ENTRIES,
        }
    }

    /// A list's items (none for anything else).
    pub fn items(&self) -> &[Node] {
        match &self.value {
            Value::List(items) => items,
            _ => EMPTY_NODES,
        }
    }

    /// A scalar's text (`""` for a null).
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s) => Some(s),
            Value::Null => Some(""),
            _ => None,
        }
    }

    pub fn is_map(&self) -> bool {
        matches!(self.value, Value::Map(_))
    }

    pub fn is_list(&self) -> bool {
        matches!(self.value, Value::List(_))
    }

    /// Sets the value down `keys`, making maps on the way (keys matched
    /// case-insensitively, as `get` finds them); each map made takes the
    /// line of the key that made it. A scalar in the way is replaced.
    pub fn insert_path(&mut self, keys: &[&str], line: u32, leaf: Node) {
        let Some((first, rest)) = keys.split_first() else {
            *self = leaf;
            return;
        };
        if !self.is_map() {
            *self = Node::map(line);
        }
        let Value::Map(entries) = &mut self.value else {
            unreachable!("made a map above")
        };
        let i = match entries
            .iter()
            .rposition(|e| e.key.eq_ignore_ascii_case(first))
        {
            Some(i) => i,
            None => {
                entries.push(Entry {
                    key: first.to_string(),
                    line,
                    node: Node::map(line),
                });
                entries.len() - 1
            }
        };
        entries[i].node.insert_path(rest, line, leaf);
    }
}

/// The 1-based line of a byte offset in `text`.
pub fn line_of(text: &str, byte: usize) -> u32 {
    let end = byte.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as u32
        + 1
}

enum Frame {
    Map {
        line: u32,
        anchor: usize,
        entries: Vec<Entry>,
        key: Option<(String, u32)>,
        /// `<<` merges: their entries come after, where not written.
        merges: Vec<Node>,
    },
    List {
        line: u32,
        anchor: usize,
        items: Vec<Node>,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    docs: Vec<Node>,
    anchors: std::collections::HashMap<usize, Node>,
    error: Option<ParseError>,
}

fn marker_line(m: &Marker) -> u32 {
    // yaml-rust2's markers count lines from 1.
    m.line().max(1) as u32
}

impl Builder {
    /// A finished node: into its map or list, or a document of its own.
    fn push(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::List { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                key,
                merges,
                ..
            }) => match key.take() {
                None => {
                    // A key that is itself a map or a list: Traefik has none.
                    let text = match &node.value {
                        Value::Scalar(s) => s.clone(),
                        Value::Null => String::new(),
                        _ => {
                            self.error.get_or_insert(ParseError {
                                line: node.line,
                                message: "a map or list used as a key".into(),
                            });
                            String::new()
                        }
                    };
                    *key = Some((text, node.line));
                }
                Some((k, _)) if k == "<<" => match node.value {
                    Value::List(items) => merges.extend(items),
                    _ => merges.push(node),
                },
                Some((k, line)) => entries.push(Entry { key: k, line, node }),
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let line = marker_line(&mark);
        match ev {
            Event::Scalar(text, style, anchor, _) => {
                let null = style == TScalarStyle::Plain
                    && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL");
                let value = if null {
                    Value::Null
                } else {
                    Value::Scalar(text)
                };
                self.push(Node::new(line, value), anchor);
            }
            Event::Alias(id) => {
                let node = self.anchors.get(&id).cloned().unwrap_or(Node {
                    line,
                    value: Value::Null,
                });
                self.push(node, 0);
            }
            Event::MappingStart(anchor, _) => self.stack.push(Frame::Map {
                line,
                anchor,
                entries: Vec::new(),
                key: None,
                merges: Vec::new(),
            }),
            Event::SequenceStart(anchor, _) => self.stack.push(Frame::List {
                line,
                anchor,
                items: Vec::new(),
            }),
            Event::MappingEnd => {
                if let Some(Frame::Map {
                    line,
                    anchor,
                    mut entries,
                    merges,
                    ..
                }) = self.stack.pop()
                {
                    for m in merges {
                        for e in m.entries() {
                            if !entries.iter().any(|x| x.key == e.key) {
                                entries.push(e.clone());
                            }
                        }
                    }
                    self.push(Node::new(line, Value::Map(entries)), anchor);
                }
            }
            Event::SequenceEnd => {
                if let Some(Frame::List {
                    line,
                    anchor,
                    items,
                }) = self.stack.pop()
                {
                    self.push(Node::new(line, Value::List(items)), anchor);
                }
            }
            _ => {}
        }
    }
}

/// Every document of a YAML text (`---` separates them); an empty text is
/// one null document.
pub fn parse_yaml(text: &str) -> Result<Vec<Node>, ParseError> {
    let mut b = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut b, true).map_err(|e| ParseError {
        line: marker_line(e.marker()),
        message: e.info().to_string(),
    })?;
    if let Some(e) = b.error {
        return Err(e);
    }
    if b.docs.is_empty() {
        b.docs.push(Node::new(1, Value::Null));
    }
    Ok(b.docs)
}

/// A TOML text's top table.
pub fn parse_toml(text: &str) -> Result<Node, ParseError> {
    let doc = toml_edit::Document::parse(text).map_err(|e| ParseError {
        line: e.span().map_or(0, |s| line_of(text, s.start)),
        message: e.message().trim().to_string(),
    })?;
    Ok(toml_table(text, doc.as_table(), 1))
}

fn span_line(text: &str, span: Option<std::ops::Range<usize>>, or: u32) -> u32 {
    span.map_or(or, |s| line_of(text, s.start))
}

fn toml_table(text: &str, t: &toml_edit::Table, line: u32) -> Node {
    let line = span_line(text, t.span(), line);
    let entries = t
        .iter()
        .map(|(k, item)| {
            let kline = span_line(text, t.key(k).and_then(|k| k.span()), line);
            Entry {
                key: k.to_string(),
                line: kline,
                node: toml_item(text, item, kline),
            }
        })
        .collect();
    Node::new(line, Value::Map(entries))
}

fn toml_item(text: &str, item: &toml_edit::Item, line: u32) -> Node {
    match item {
        toml_edit::Item::None => Node::new(line, Value::Null),
        toml_edit::Item::Value(v) => toml_value(text, v, line),
        toml_edit::Item::Table(t) => toml_table(text, t, line),
        toml_edit::Item::ArrayOfTables(a) => Node::new(
            span_line(text, a.span(), line),
            Value::List(a.iter().map(|t| toml_table(text, t, line)).collect()),
        ),
    }
}

fn toml_value(text: &str, v: &toml_edit::Value, line: u32) -> Node {
    use toml_edit::Value as V;
    let at = span_line(text, v.span(), line);
    let value = match v {
        V::String(s) => Value::Scalar(s.value().clone()),
        V::Integer(i) => Value::Scalar(i.value().to_string()),
        V::Float(f) => Value::Scalar(f.value().to_string()),
        V::Boolean(b) => Value::Scalar(b.value().to_string()),
        V::Datetime(d) => Value::Scalar(d.value().to_string()),
        V::Array(a) => Value::List(a.iter().map(|v| toml_value(text, v, at)).collect()),
        V::InlineTable(t) => Value::Map(
            t.iter()
                .map(|(k, v)| {
                    let kline = span_line(text, t.key(k).and_then(|k| k.span()), at);
                    Entry {
                        key: k.to_string(),
                        line: kline,
                        node: toml_value(text, v, kline),
                    }
                })
                .collect(),
        ),
    };
    Node::new(at, value)
}

/// A JSON text (`docker inspect`): read as YAML, of which JSON is a part,
/// for its lines; where the YAML reader refuses it (tabs), serde_json
/// reads it and each key takes the first line after its parent's that
/// names it.
pub fn parse_json(text: &str) -> Result<Node, ParseError> {
    if let Ok(mut docs) = parse_yaml(text) {
        if docs.len() == 1 {
            return Ok(docs.remove(0));
        }
    }
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| ParseError {
        line: e.line() as u32,
        message: e.to_string(),
    })?;
    let lines: Vec<&str> = text.lines().collect();
    Ok(json_node(&v, &lines, 1))
}

fn json_node(v: &serde_json::Value, lines: &[&str], line: u32) -> Node {
    use serde_json::Value as J;
    let value = match v {
        J::Null => Value::Null,
        J::Bool(b) => Value::Scalar(b.to_string()),
        J::Number(n) => Value::Scalar(n.to_string()),
        J::String(s) => Value::Scalar(s.clone()),
        J::Array(items) => Value::List(items.iter().map(|i| json_node(i, lines, line)).collect()),
        J::Object(map) => Value::Map(
            map.iter()
                .map(|(k, v)| {
                    let quoted = serde_json::to_string(k).unwrap_or_default();
                    let kline = lines
                        .iter()
                        .enumerate()
                        .skip(line.saturating_sub(1) as usize)
                        .find(|(_, l)| l.contains(&quoted))
                        .map_or(line, |(i, _)| i as u32 + 1);
                    Entry {
                        key: k.clone(),
                        line: kline,
                        node: json_node(v, lines, kline),
                    }
                })
                .collect(),
        ),
    };
    Node::new(line, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Node {
        parse_yaml(text).unwrap().remove(0)
    }

    #[test]
    fn yaml_keeps_each_keys_line() {
        let t = yaml(
            "# comment\nhttp:\n  routers:\n    oc:\n      rule: \"PathPrefix(`/`)\"\n      \
             middlewares: [a, b]\n  services:\n    oc:\n      loadBalancer:\n        servers:\n          \
             - url: \"http://127.0.0.1:3000\"\n",
        );
        let routers = t.entry_at(&["http", "routers"]).unwrap();
        assert_eq!(routers.line, 3);
        let rule = t.entry_at(&["http", "routers", "oc", "rule"]).unwrap();
        assert_eq!(
            (rule.line, rule.node.as_str()),
            (5, Some("PathPrefix(`/`)"))
        );
        let mws = t.path(&["http", "routers", "oc", "middlewares"]).unwrap();
        let names: Vec<_> = mws.items().iter().map(|n| n.as_str().unwrap()).collect();
        assert_eq!(names, ["a", "b"]);
        let servers = t
            .path(&["http", "services", "oc", "loadBalancer", "servers"])
            .unwrap();
        let url = servers.items()[0].entry("url").unwrap();
        assert_eq!(url.line, 11);
    }

    #[test]
    fn keys_are_found_whatever_their_case() {
        let t = yaml("entryPoints:\n  web:\n    address: \":80\"\n");
        assert_eq!(
            t.path(&["entrypoints", "WEB", "Address"]).unwrap().as_str(),
            Some(":80")
        );
    }

    #[test]
    fn yaml_nulls_quoted_empties_anchors_and_merges() {
        let t = yaml(
            "a:\nb: \"\"\nc: ~\nbase: &base\n  x: 1\n  y: 2\nd:\n  <<: *base\n  y: 3\ne: *base\n",
        );
        assert_eq!(t.get("a").unwrap().value, Value::Null);
        assert_eq!(t.get("b").unwrap().value, Value::Scalar(String::new()));
        assert_eq!(t.get("c").unwrap().value, Value::Null);
        let d = t.get("d").unwrap();
        assert_eq!(d.get("x").unwrap().as_str(), Some("1"));
        assert_eq!(d.get("y").unwrap().as_str(), Some("3"));
        assert_eq!(t.path(&["e", "y"]).unwrap().as_str(), Some("2"));
    }

    #[test]
    fn yaml_documents_and_errors() {
        let docs = parse_yaml("a: 1\n---\nb: 2\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].entry("b").unwrap().line, 3);
        let err = parse_yaml("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.line >= 1, "{err}");
    }

    #[test]
    fn toml_keeps_each_keys_line() {
        let t = parse_toml(
            "[entryPoints]\n  [entryPoints.web]\n    address = \":80\"\n\n\
             [entryPoints.web.transport.respondingTimeouts]\n    writeTimeout = \"3s\"\n\
             [[http.services.oc.loadBalancer.servers]]\nurl = \"http://a:3000\"\n\
             [http.routers.oc]\nmiddlewares = [\"x\"]\npriority = 10\n",
        )
        .unwrap();
        let address = t.entry_at(&["entryPoints", "web", "address"]).unwrap();
        assert_eq!((address.line, address.node.as_str()), (3, Some(":80")));
        let wt = t
            .entry_at(&[
                "entrypoints",
                "web",
                "transport",
                "respondingTimeouts",
                "writeTimeout",
            ])
            .unwrap();
        assert_eq!((wt.line, wt.node.as_str()), (6, Some("3s")));
        let servers = t
            .path(&["http", "services", "oc", "loadBalancer", "servers"])
            .unwrap();
        assert_eq!(servers.items()[0].entry("url").unwrap().line, 8);
        let prio = t.entry_at(&["http", "routers", "oc", "priority"]).unwrap();
        assert_eq!((prio.line, prio.node.as_str()), (11, Some("10")));
        assert!(parse_toml("[a\nb = 1").unwrap_err().line >= 1);
    }

    #[test]
    fn json_lines_through_yaml_and_serde() {
        let text =
            "[\n  {\n    \"Name\": \"/oc\",\n    \"Config\": {\n      \"Labels\": {\n        \
                    \"traefik.enable\": \"true\"\n      }\n    }\n  }\n]\n";
        let t = parse_json(text).unwrap();
        let labels = t.items()[0].path(&["Config", "Labels"]).unwrap();
        assert_eq!(labels.entries()[0].line, 6);
        // Tabs: read by serde_json, lines found by the keys' text.
        let tabbed = text.replace("        \"traefik", "\t\"traefik");
        let t = parse_json(&tabbed).unwrap();
        let labels = t.items()[0].path(&["Config", "Labels"]).unwrap();
        assert_eq!(labels.entries()[0].line, 6);
    }

    #[test]
    fn insert_path_makes_maps_case_insensitively() {
        let mut t = Node::map(1);
        t.insert_path(
            &["http", "routers", "oc", "rule"],
            4,
            Node::scalar(4, "Path(`/`)"),
        );
        t.insert_path(
            &["HTTP", "Routers", "oc", "service"],
            5,
            Node::scalar(5, "s"),
        );
        assert_eq!(t.entries().len(), 1);
        let oc = t.path(&["http", "routers", "oc"]).unwrap();
        assert_eq!(oc.entries().len(), 2);
        assert_eq!(oc.entry("service").unwrap().line, 5);
    }
}
