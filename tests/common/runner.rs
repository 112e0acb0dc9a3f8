//! The GitHub runner's side of the file commands, as actions/runner's FileCommandManager reads them.

/// Parses a `GITHUB_OUTPUT` file: `NAME=VALUE` lines, or `NAME<<DELIM`, value lines, `DELIM`.
/// Whichever of `=` and `<<` comes first on a line decides the form.
pub fn parse_output_file(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut lines = text.split('\n').peekable();
    while let Some(line) = lines.next() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() && lines.peek().is_none() {
            break;
        }
        if line.is_empty() {
            continue;
        }
        let eq = line.find('=');
        let heredoc = line.find("<<");
        match (eq, heredoc) {
            (Some(e), h) if h.is_none_or(|h| e < h) => {
                let name = &line[..e];
                if name.is_empty() {
                    return Err(format!("empty name in {line:?}"));
                }
                out.push((name.to_owned(), line[e + 1..].to_owned()));
            }
            (_, Some(h)) => {
                let name = &line[..h];
                let delimiter = &line[h + 2..];
                if name.is_empty() || delimiter.is_empty() {
                    return Err(format!("empty name or delimiter in {line:?}"));
                }
                let mut value = Vec::new();
                loop {
                    let Some(l) = lines.next() else {
                        return Err(format!("Matching delimiter not found '{delimiter}'"));
                    };
                    let l = l.strip_suffix('\r').unwrap_or(l);
                    if l == delimiter {
                        if lines.peek().is_none() {
                            return Err("EOF marker missing new line".into());
                        }
                        break;
                    }
                    value.push(l);
                }
                out.push((name.to_owned(), value.join("\n")));
            }
            _ => return Err(format!("Invalid format {line:?}")),
        }
    }
    Ok(out)
}
