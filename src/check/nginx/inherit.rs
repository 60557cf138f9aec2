//! The settings in force for one route, with nginx's inheritance: a
//! single-valued directive from the innermost level that sets it; an
//! array directive (`proxy_set_header`, `add_header`) all or nothing.

use chamber_parsers::time::parse_duration_ms;

use super::super::At;
use super::load::Dir;

/// The settings in force for one route: the levels from `http` in, each
/// level's own directives (blocks aside).
pub(super) struct Scope<'a> {
    pub(super) levels: Vec<&'a [Dir]>,
    /// Whether a location matched (else the server itself serves it).
    pub(super) in_location: bool,
    pub(super) block_at: At,
    /// How the user would name the block: `location = /api/event/ws`.
    pub(super) label: String,
}

impl<'a> Scope<'a> {
    /// The innermost directive of that name (a single-valued setting).
    pub(super) fn last(&self, name: &str) -> Option<&'a Dir> {
        self.levels
            .iter()
            .rev()
            .find_map(|l| l.iter().rev().find(|d| d.name == name))
    }

    /// An array setting (`proxy_set_header`, `add_header`): the innermost
    /// level that sets any replaces everything outside it. Returns the
    /// directives in force, and those outside that are dropped.
    pub(super) fn array(&self, name: &str) -> (Vec<&'a Dir>, Vec<&'a Dir>) {
        let mut in_force = Vec::new();
        let mut dropped = Vec::new();
        for l in self.levels.iter().rev() {
            let here: Vec<&Dir> = l.iter().filter(|d| d.name == name).collect();
            if here.is_empty() {
                continue;
            }
            if in_force.is_empty() {
                in_force = here;
            } else {
                dropped.extend(here);
            }
        }
        (in_force, dropped)
    }
}

/// nginx time (`60`, `60s`, `1m`, `1h30m`, `500ms`) in milliseconds.
pub(super) fn parse_time(v: &str) -> Option<i64> {
    parse_duration_ms(v).map(|ms| ms.round() as i64)
}

/// nginx size (`50M`, `1m`, `512k`, `1g`, bytes).
pub(super) fn parse_size(v: &str) -> Option<u64> {
    let (n, mult) = match v.chars().last()? {
        'k' | 'K' => (&v[..v.len() - 1], 1u64 << 10),
        'm' | 'M' => (&v[..v.len() - 1], 1 << 20),
        'g' | 'G' => (&v[..v.len() - 1], 1 << 30),
        _ => (v, 1),
    };
    n.parse::<u64>().ok().map(|n| n * mult)
}

/// Whether a header's value does what an upgrade needs.
pub(super) type HeaderTest<'a> = &'a dyn Fn(&str) -> bool;

/// The proxy_set_header lines in force for a route, those outside its
/// block that nginx drops, and where the block's own begin.
pub(super) struct Headers<'a> {
    pub(super) in_force: Vec<&'a Dir>,
    pub(super) dropped: Vec<&'a Dir>,
    pub(super) own: Option<At>,
}

impl<'a> Headers<'a> {
    pub(super) fn of(scope: &Scope<'a>) -> Headers<'a> {
        let (in_force, dropped) = scope.array("proxy_set_header");
        let own = in_force.first().map(|d| d.at);
        Headers {
            in_force,
            dropped,
            own,
        }
    }

    pub(super) fn get(&self, name: &str) -> Option<&'a Dir> {
        self.in_force
            .iter()
            .rev()
            .find(|d| d.arg(0).eq_ignore_ascii_case(name))
            .copied()
    }
}
