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

/// `--follow --format json`: one line for a change in the findings.
pub fn event(report: &Report, change: &crate::analyse::live::Change) -> String {
    use crate::analyse::live::Change;
    let mut line = serde_json::Map::new();
    match change {
        Change::Found(i) => {
            line.insert("event".into(), "finding".into());
            if let Ok(serde_json::Value::Object(finding)) =
                serde_json::to_value(&report.findings[*i])
            {
                line.extend(finding);
            }
        }
        Change::Grew { at, was } => {
            let f = &report.findings[*at];
            line.insert("event".into(), "update".into());
            line.insert("rule".into(), f.rule.into());
            line.insert("title".into(), f.title.as_str().into());
            line.insert("severity".into(), f.severity.as_str().into());
            line.insert("confidence".into(), f.confidence.as_str().into());
            line.insert("count".into(), f.count.into());
            line.insert("was".into(), (*was).into());
        }
        Change::Withdrawn { rule, title } => {
            line.insert("event".into(), "withdrawn".into());
            line.insert("rule".into(), (*rule).into());
            line.insert("title".into(), title.as_str().into());
        }
    }
    let mut s = serde_json::Value::Object(line).to_string();
    s.push('\n');
    s
}

/// `--follow --format json`: the last line, the report's summary (with
/// `cannot_clear` where it applies) and the exit status the run ends with.
pub fn summary_event(report: &Report, exit_status: u8) -> String {
    let mut line = serde_json::Map::new();
    line.insert("event".into(), "summary".into());
    if let Ok(serde_json::Value::Object(summary)) = serde_json::to_value(&report.summary) {
        line.extend(summary);
    }
    if let Some(why) = report.cannot_clear() {
        line.insert("cannot_clear".into(), why.into());
    }
    line.insert("exit_status".into(), exit_status.into());
    let mut s = serde_json::Value::Object(line).to_string();
    s.push('\n');
    s
}
