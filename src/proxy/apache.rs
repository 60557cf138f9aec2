//! Apache httpd's words for a remedy: directives for the virtual host
//! that proxies to OpenChamber (mod_proxy, mod_proxy_http with
//! `upgrade=websocket`, mod_headers, mod_deflate; ModSecurity for bodies).

use super::{lines_once, Adapter, Claim, ReadConfig};
use crate::check::settings::Change;
use crate::rules::{Remedy, Scope};

pub(super) struct Apache;

pub(super) static APACHE: Apache = Apache;

/// Directives and sections only Apache httpd's configs use, compared
/// without regard to case as httpd compares them (nginx's, Caddy's and
/// HAProxy's words differ: `server_name`, `reverse_proxy`, lowercase
/// `listen` sections end in a block or a name, never these).
const APACHE_WORDS: &[&str] = &[
    "<virtualhost",
    "<location",
    "<locationmatch",
    "<ifmodule",
    "<directory",
    "<proxy",
    "proxypass",
    "proxypassmatch",
    "proxypassreverse",
    "proxypreservehost",
    "proxytimeout",
    "proxyrequests",
    "serverroot",
    "servername",
    "serveralias",
    "documentroot",
    "loadmodule",
    "includeoptional",
    "requestheader",
    "rewriteengine",
    "secruleengine",
];

/// Whether some line of `text` starts with one of httpd's own words (a
/// section's `<Name`, or a directive followed by a blank).
fn uses_apache_words(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start();
        let word_end = l
            .find(|c: char| c.is_whitespace() || c == '>')
            .unwrap_or(l.len());
        let word = l[..word_end].to_ascii_lowercase();
        APACHE_WORDS.contains(&word.as_str())
            && (word.starts_with('<') || l[word_end..].starts_with([' ', '\t']))
    }) || text
        .lines()
        .any(|l| l.trim_start().starts_with("Listen ") && !l.trim_end().ends_with(['{', ';']))
}

/// A regex matching every OpenChamber event-stream path (from the route
/// table; a placeholder such as `<id>` matches one segment).
fn stream_paths() -> String {
    let alternatives: Vec<String> = crate::routes::of_class(crate::routes::Class::Sse)
        .filter_map(|r| {
            let inner = r.name.strip_prefix("/api/")?;
            Some(match inner.split_once('<') {
                Some((before, rest)) => {
                    format!(
                        "{before}[^/]+{}",
                        rest.split_once('>').map_or("", |(_, a)| a)
                    )
                }
                None => inner.to_string(),
            })
        })
        .collect();
    format!("^/api/({})$", alternatives.join("|"))
}

/// The ProxyPass line OpenChamber needs (httpd 2.4.47 or later).
const PROXY_PASS: &str =
    "ProxyPass / http://{upstream}/ upgrade=websocket flushpackets=on timeout=3600\n\
                          ProxyPassReverse / http://{upstream}/";

fn words(change: &Change, scope: Scope) -> String {
    match change {
        Change::Timeouts(_, seconds) if scope == Scope::Api => format!("ProxyTimeout {seconds}"),
        Change::Timeouts(_, seconds) => format!(
            "ProxyTimeout {seconds}\n(or timeout={seconds} on the ProxyPass line; Apache cuts a stream that \
             stays quiet that long, AH01110 in the error log)"
        ),
        // Apache's timeouts count silence: no deadline to lift.
        Change::NoResponseDeadline => String::new(),
        Change::BodyLimit(bytes) => format!(
            "LimitRequestBody does not apply to proxied requests. Where ModSecurity refuses the upload:\n\
             SecRequestBodyLimit {bytes}\n(or SecRequestBodyAccess Off for /api/fs/upload)"
        ),
        Change::StreamRequestBodies => "mod_proxy streams request bodies unless `SetEnv proxy-sendcl` is set; \
                                        ModSecurity (SecRequestBodyAccess On) reads them whole: turn it off \
                                        for /api/fs/upload."
            .into(),
        Change::Http11Upstream => "mod_proxy_http speaks HTTP/1.1: remove `SetEnv force-proxy-request-1.0` \
                                   and `proxy-nokeepalive`."
            .into(),
        Change::NoStreamCompression => format!(
            "SetEnvIf Request_URI \"{}\" no-gzip=1\n(and no text/event-stream in AddOutputFilterByType DEFLATE)",
            stream_paths()
        ),
        Change::NoCompression => "SetEnv no-gzip 1    # in the OpenChamber virtual host: OpenChamber \
                                  compresses its own answers"
            .into(),
        Change::NoResponseBuffering(_) => PROXY_PASS.into(),
        Change::NoCache => "CacheDisable /api".into(),
        Change::PassUpgrade(..) => format!(
            "{PROXY_PASS}\n(before 2.4.47: mod_proxy_wstunnel, ProxyPassMatch \"^/(api/.*/ws)$\" \
             \"ws://{{upstream}}/$1\" ahead of the http ProxyPass)"
        ),
        Change::ForwardHeaders(..) => "ProxyPreserveHost On\nRequestHeader set X-Forwarded-Proto \"https\"    \
                                       # \"http\" for a plain-HTTP virtual host\n\
                                       (mod_proxy adds X-Forwarded-For and X-Forwarded-Host itself)"
            .into(),
        Change::BrowsersHost(_) => "ProxyPreserveHost On".into(),
        Change::AddResponseHeader(name, value) => format!("Header always set {name} \"{value}\""),
        Change::PassOn(prefix) => format!("ProxyPass {prefix} http://{{upstream}}{prefix}"),
        Change::SameUpstream(address) | Change::UpstreamAddress(address) => {
            PROXY_PASS.replace("{upstream}", address)
        }
        Change::ReachUpstream => format!(
            "Check OpenChamber directly first: curl http://{{upstream}}/health\n{PROXY_PASS}\nProxyPass must \
             name the address and port OpenChamber listens on; from another host or container, start \
             OpenChamber with --host 0.0.0.0 (OPENCHAMBER_HOST)."
        ),
    }
}

impl Adapter for Apache {
    fn key(&self) -> &'static str {
        "apache"
    }

    fn label(&self) -> &'static str {
        "Apache httpd"
    }

    fn wrote(&self, kind: &str, _format: Option<&str>, server: Option<&str>) -> Option<String> {
        match (kind, server) {
            ("apache-access", _) => Some("Apache's access log format".into()),
            ("apache-error", _) => Some("Apache's error log".into()),
            ("apache-config", _) => Some("Apache's config".into()),
            (_, Some(s)) if s.starts_with("Apache") => Some(format!("its answers say Server: {s}")),
            _ => None,
        }
    }

    /// A config httpd's grammar reads whole that uses its words; one with
    /// its words that does not read (an unclosed section), for its reader
    /// to say where it breaks. nginx's `;`-ended lines and `{` blocks are
    /// not httpd's.
    fn claims_config(&self, text: &str) -> Option<(Claim, ReadConfig)> {
        if !uses_apache_words(text) {
            return None;
        }
        let nginx_like = text.lines().any(|l| {
            let t = l.trim();
            !t.starts_with('#') && (t.ends_with('{') || t == "}")
        });
        if nginx_like {
            return None;
        }
        let claim = match chamber_parsers::apache_conf::parse(text) {
            Ok(_) => Claim::Grammar,
            Err(_) => Claim::Words,
        };
        Some((claim, crate::check::apache::check))
    }

    fn config_names(&self) -> &'static [&'static str] {
        &["Apache httpd config"]
    }

    fn fix(&self, remedy: &Remedy) -> String {
        lines_once(
            remedy
                .changes
                .iter()
                .map(|c| words(c, remedy.scope))
                .collect(),
        )
    }
}
