//! Printing errors: `error: ...` then numbered `Caused by:` lines.

/// Writes `err` and its causes to stderr.
pub fn print_error(err: &anyhow::Error) {
    eprintln!("{}", render(err));
}

/// `error: top` and, when there are causes, `Caused by:` with one numbered line each.
pub fn render(err: &anyhow::Error) -> String {
    let mut out = format!("error: {err}");
    let causes: Vec<String> = err.chain().skip(1).map(|c| c.to_string()).collect();
    if !causes.is_empty() {
        out.push_str("\n\nCaused by:");
        for (i, cause) in causes.iter().enumerate() {
            let mut lines = cause.lines();
            out.push_str(&format!("\n  {i}: {}", lines.next().unwrap_or_default()));
            for line in lines {
                out.push_str(&format!("\n     {line}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use anyhow::Context;

    #[test]
    fn numbers_causes() {
        let err = Err::<(), _>(anyhow::anyhow!("root\nsecond line"))
            .context("middle")
            .context("top")
            .unwrap_err();
        assert_eq!(
            super::render(&err),
            "error: top\n\nCaused by:\n  0: middle\n  1: root\n     second line"
        );
    }
}
