//! Spin's variable name rules, shared by the `spin.toml` reader and the host.

/// Why `name` is not a Spin variable name, if it is not: lowercase ASCII letters, digits and
/// single `_`, starting with a letter and ending with a letter or digit (Spin's rules).
pub fn spin_variable_name_error(name: &str) -> Option<String> {
    let why = if name.is_empty() {
        "must not be empty".to_owned()
    } else if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        format!(
            "invalid character {c:?}. Variable names may contain only lower-case letters, \
             numbers, and underscores."
        )
    } else if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        "must start with a lowercase ASCII letter".to_owned()
    } else if !name.ends_with(|c: char| c.is_ascii_alphanumeric()) {
        "must end with a lowercase ASCII letter or digit".to_owned()
    } else if name.contains("__") {
        "must not contain multiple consecutive underscores".to_owned()
    } else {
        return None;
    };
    Some(format!("{name:?}: {why}"))
}

#[cfg(test)]
mod tests {
    use super::spin_variable_name_error as variable_name_error;

    #[test]
    fn spin_variable_names() {
        for ok in ["api_key", "a", "a1", "x_2_y"] {
            assert_eq!(variable_name_error(ok), None, "{ok}");
        }
        for (bad, why) in [
            ("", "must not be empty"),
            ("API_KEY", "invalid character 'A'"),
            ("a-b", "invalid character '-'"),
            ("1a", "must start with a lowercase ASCII letter"),
            ("_a", "must start with a lowercase ASCII letter"),
            ("a_", "must end with a lowercase ASCII letter or digit"),
            ("a__b", "must not contain multiple consecutive underscores"),
        ] {
            let e = variable_name_error(bad).unwrap();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
