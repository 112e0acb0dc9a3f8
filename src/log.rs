//! The run's log, on stderr (stdout carries only the JSON outputs). In GitHub Actions: groups,
//! annotations and debug lines as workflow commands; elsewhere plain timestamped lines. With
//! `log-format: json`, every other line is one JSON object (`time`, `level`, `phase`, `message`,
//! and fields such as `stack-event` or `version-arn`) for log systems and programs.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use serde_json::{Map, Value};

use crate::github;

struct Logger {
    github: bool,
    debug: bool,
    out: Mutex<Box<dyn Write + Send>>,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();
/// `log-format: json`: known only once the inputs are read, after the logger started.
static JSON: AtomicBool = AtomicBool::new(false);
/// The phase the run is in, for JSON lines.
static PHASE: Mutex<String> = Mutex::new(String::new());

/// Switches the log to one JSON object a line (workflow commands stay as they are in GitHub Actions).
pub fn set_json(on: bool) {
    JSON.store(on, Ordering::Relaxed);
}

fn json() -> bool {
    JSON.load(Ordering::Relaxed)
}

/// One JSON line. `##[` is written `##\u005b` (the same JSON string): the runner takes `##[name]`
/// anywhere in a line for a workflow command.
fn json_line(level: &str, message: &str, fields: &[(&str, Value)]) -> String {
    let mut line = Map::new();
    line.insert("time".into(), humantime::format_rfc3339_millis(SystemTime::now()).to_string().into());
    line.insert("level".into(), level.into());
    let phase = PHASE.lock().map(|p| p.clone()).unwrap_or_default();
    line.insert("phase".into(), phase.into());
    line.insert("message".into(), message.into());
    for (k, v) in fields {
        line.insert((*k).to_owned(), v.clone());
    }
    Value::Object(line).to_string().replace("##[", "##\\u005b")
}

/// Sets where the log goes; the first call wins. Without it, plain lines go to stderr.
pub fn init(github: bool, debug: bool, out: Box<dyn Write + Send>) {
    let _ = LOGGER.set(Logger { github, debug, out: Mutex::new(out) });
}

fn logger() -> &'static Logger {
    LOGGER.get_or_init(|| Logger { github: false, debug: false, out: Mutex::new(Box::new(std::io::stderr())) })
}

fn emit(line: &str) {
    let mut out = logger().out.lock().unwrap_or_else(|e| e.into_inner());
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn stamped(prefix: &str, message: &str) -> String {
    let now = humantime::format_rfc3339_seconds(SystemTime::now());
    message.lines().map(|l| format!("{now} {prefix}{l}")).collect::<Vec<_>>().join("\n")
}

/// A plain line of the log. Every message may carry text from AWS, the edge or an input, so in
/// GitHub Actions none of it can become a workflow command.
pub fn info(message: &str) {
    info_with(message, &[]);
}

/// A line with structured fields, which only the JSON log shows apart (the text log has them in
/// the message already).
pub fn info_with(message: &str, fields: &[(&str, Value)]) {
    let message = github::visible(message);
    if json() {
        emit(&json_line("info", &message, fields));
    } else if logger().github {
        emit(&github::inert(&message));
    } else {
        emit(&stamped("", &message));
    }
}

pub fn warn(message: &str) {
    let message = &github::visible(message);
    if logger().github {
        emit(&github::command("warning", &[], message));
    } else if json() {
        emit(&json_line("warning", message, &[]));
    } else {
        emit(&stamped("warning: ", message));
    }
}

pub fn error(title: &str, message: &str) {
    let message = &github::visible(message);
    if logger().github {
        emit(&github::command("error", &[("title", title)], message));
    } else if json() {
        emit(&json_line("error", message, &[("title", title.into())]));
    } else {
        emit(&stamped("error: ", &format!("{title}: {message}")));
    }
}

pub fn debug(message: &str) {
    let l = logger();
    if !l.debug {
        return;
    }
    let message = &github::visible(message);
    if l.github {
        emit(&github::command("debug", &[], message));
    } else if json() {
        emit(&json_line("debug", message, &[]));
    } else {
        emit(&stamped("debug: ", message));
    }
}

/// Starts a phase; the group ends when the guard drops.
#[must_use]
pub fn group(title: &str) -> Group {
    if let Ok(mut phase) = PHASE.lock() {
        title.clone_into(&mut phase);
    }
    if logger().github {
        emit(&format!("::group::{}", github::escape_data(title)));
    } else if json() {
        emit(&json_line("info", &format!("phase {title}"), &[]));
    } else {
        emit(&stamped("", &format!("== {title}")));
    }
    Group
}

pub struct Group;

impl Drop for Group {
    fn drop(&mut self) {
        if logger().github {
            emit("::endgroup::");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_line_is_one_object_that_no_runner_takes_for_a_command() {
        let line = json_line("warning", "from AWS: ##[error]x\n::add-mask::y", &[("version-arn", "arn:v:3".into())]);
        assert!(!line.contains('\n') && !line.contains("##["), "{line}");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["message"], "from AWS: ##[error]x\n::add-mask::y", "the same text");
        assert_eq!((v["level"].as_str(), v["version-arn"].as_str()), (Some("warning"), Some("arn:v:3")));
        assert!(v["time"].as_str().is_some_and(|t| t.ends_with('Z')) && v.get("phase").is_some());
    }
}
