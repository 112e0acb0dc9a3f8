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
    fn delimiters_are_random() {
        assert_ne!(random_delimiter(), random_delimiter());
        assert!(random_delimiter().starts_with("ghadelimiter_"));
    }
}
