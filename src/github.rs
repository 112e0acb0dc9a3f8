//! GitHub Actions conventions: workflow commands and their escaping, `GITHUB_OUTPUT` entries.
//! Pure formatting; `log` and `report` decide where it goes.

/// Escapes a workflow command's message as the runner expects.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escapes a workflow command's property value: as data, plus `:` and `,`.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Whether the runner would take this line for a workflow command: `::name::` after leading spaces
/// (the current syntax), or `##[name]` anywhere in it (the old one, still parsed).
pub fn is_command_like(line: &str) -> bool {
    line.trim_start().starts_with("::") || line.contains("##[")
}

/// Text the tool did not write itself (a stack event, a response at the edge, an input), made inert:
/// any line the runner would take for a command is written between `::stop-commands::` and its
/// resume token, as actions/toolkit does for untrusted text, so it shows as it is and does nothing.
/// A random token, so that the text cannot end the block early.
pub fn inert(text: &str) -> String {
    if !text.lines().any(is_command_like) {
        return text.to_owned();
    }
    let token = format!("lambda-edge-deploy-{}", uuid::Uuid::new_v4().simple());
    format!("::stop-commands::{token}\n{text}\n::{token}::")
}

/// Control characters (terminal escapes, a lone CR that hides what precedes it) shown as `\u{..}`;
/// newlines and tabs stay.
pub fn visible(text: &str) -> String {
    if !text.chars().any(hidden) {
        return text.to_owned();
    }
    text.chars().map(|c| if hidden(c) { format!("\\u{{{:x}}}", c as u32) } else { c.to_string() }).collect()
}

fn hidden(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

/// `::name key=value,key=value::message`
pub fn command(name: &str, properties: &[(&str, &str)], message: &str) -> String {
    let props: Vec<String> = properties.iter().map(|(k, v)| format!("{k}={}", escape_property(v))).collect();
    if props.is_empty() {
        format!("::{name}::{}", escape_data(message))
    } else {
        format!("::{name} {}::{}", props.join(","), escape_data(message))
    }
}

/// One `GITHUB_OUTPUT` entry: `name=value`, or for a multi-line value the heredoc form with
/// `delimiter`, which must not occur in the value (the caller draws a random one).
pub fn output_entry(name: &str, value: &str, delimiter: &str) -> Result<String, String> {
    if name.is_empty() || name.contains(['=', '<', '\n', '\r']) {
        return Err(format!("`{name}` is not a valid output name"));
    }
    if !value.contains(['\n', '\r']) {
        return Ok(format!("{name}={value}\n"));
    }
    if value.contains(delimiter) {
        return Err(format!("the value of output `{name}` contains the delimiter"));
    }
    Ok(format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"))
}

/// A delimiter shaped like actions/toolkit's, random so that no value can end the heredoc early.
pub fn random_delimiter() -> String {
    format!("ghadelimiter_{}", uuid::Uuid::new_v4())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_escape_percent_cr_and_lf() {
        assert_eq!(escape_data("100% done\r\nnext"), "100%25 done%0D%0Anext");
        assert_eq!(command("error", &[], "a\nb"), "::error::a%0Ab");
    }

    #[test]
    fn properties_also_escape_colon_and_comma() {
        let line = command("error", &[("title", "Stack failed: a, b"), ("file", "t.yaml")], "x: y, z");
        assert_eq!(line, "::error title=Stack failed%3A a%2C b,file=t.yaml::x: y, z");
    }

    #[test]
    fn single_line_values_use_the_plain_form() {
        assert_eq!(output_entry("version", "7", "D").unwrap(), "version=7\n");
        assert_eq!(output_entry("a", "x<<y=z", "D").unwrap(), "a=x<<y=z\n");
    }

    #[test]
    fn multi_line_values_use_a_heredoc() {
        assert_eq!(output_entry("notes", "one\ntwo", "EOF_1").unwrap(), "notes<<EOF_1\none\ntwo\nEOF_1\n");
    }

    #[test]
    fn a_value_holding_the_delimiter_is_refused() {
        assert!(output_entry("notes", "one\nEOF_1\ntwo", "EOF_1").is_err());
        assert!(output_entry("", "x", "D").is_err());
    }

    #[test]
    fn text_that_looks_like_a_command_is_made_inert() {
        assert_eq!(inert("stack site UPDATE_COMPLETE"), "stack site UPDATE_COMPLETE");
        for hostile in [
            "reason\n::stop-commands::x\n::error::fake",
            "  ::add-mask::whatever",
            "header: ##[error]injected",
            "::endgroup::",
        ] {
            let out = inert(hostile);
            let lines: Vec<&str> = out.lines().collect();
            let token = lines[0].strip_prefix("::stop-commands::").expect("starts a stop-commands block");
            assert_eq!(lines.last().copied(), Some(format!("::{token}::").as_str()));
            assert_eq!(lines[1..lines.len() - 1].join("\n"), hostile, "the text itself is kept");
            assert!(!hostile.contains(token), "the token is not in the text");
        }
        assert_ne!(inert("::x::"), inert("::x::"), "tokens are random");
    }

    #[test]
    fn control_characters_show_as_escapes() {
        assert_eq!(visible("plain\ttext\nline"), "plain\ttext\nline");
        assert_eq!(visible("a\u{1b}[31mred\rb"), "a\\u{1b}[31mred\\u{d}b");
    }

    #[test]
    fn delimiters_are_random() {
        assert_ne!(random_delimiter(), random_delimiter());
        assert!(random_delimiter().starts_with("ghadelimiter_"));
    }
}
