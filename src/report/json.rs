//! `--format json`: the contract's schema, pretty-printed.

use super::Report;

/// The report, and where the inputs could not clear the site (nothing of
/// OpenChamber's in them, a probe stopped by a password), why, as
/// `summary.cannot_clear`: a script reading `findings: []` is not told
/// all is well.
pub fn render(report: &Report) -> String {
    let mut value = serde_json::to_value(report).expect("a report always serializes");
    if let (Some(why), Some(summary)) = (report.cannot_clear(), value.get_mut("summary")) {
        if let Some(map) = summary.as_object_mut() {
            map.insert("cannot_clear".into(), serde_json::Value::String(why));
        }
    }
    let mut s = serde_json::to_string_pretty(&value).expect("a report always serializes");
    s.push('\n');
    s
}
