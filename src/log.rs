//! The run's log, on stderr (stdout carries only the JSON outputs). In GitHub Actions: groups,
//! annotations and debug lines as workflow commands; elsewhere plain timestamped lines.

use std::io::Write;
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use crate::github;

struct Logger {
    github: bool,
    debug: bool,
    out: Mutex<Box<dyn Write + Send>>,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

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
    let message = github::visible(message);
    if logger().github {
        emit(&github::inert(&message));
    } else {
        emit(&stamped("", &message));
    }
}

pub fn warn(message: &str) {
    let message = &github::visible(message);
    if logger().github {
        emit(&github::command("warning", &[], message));
    } else {
        emit(&stamped("warning: ", message));
    }
}

pub fn error(title: &str, message: &str) {
    let message = &github::visible(message);
    if logger().github {
        emit(&github::command("error", &[("title", title)], message));
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
    } else {
        emit(&stamped("debug: ", message));
    }
}

/// Starts a phase; the group ends when the guard drops.
#[must_use]
pub fn group(title: &str) -> Group {
    if logger().github {
        emit(&format!("::group::{}", github::escape_data(title)));
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
