//! Python's string methods where lm-evaluation-harness's preprocessing relies on them.

/// Whether Python's `str.isspace()` holds for `c`: Unicode White_Space plus the ASCII
/// separators U+001C..U+001F.
pub fn py_is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `s.strip()`.
pub fn py_strip(s: &str) -> &str {
    s.trim_matches(py_is_space)
}

/// Python's `s.capitalize()`: the first character upper-cased, the rest lower-cased. (Python
/// title-cases the first character; the two differ only for a few digraph letters such as `ǆ`.)
pub fn py_capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        None => String::new(),
        Some(first) => {
            let mut out: String = first.to_uppercase().collect();
            out.push_str(&chars.as_str().to_lowercase());
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_and_capitalize_behave_like_python() {
        assert_eq!(py_strip("  a b\t\n"), "a b");
        assert_eq!(py_strip("\u{1f}x\u{a0}"), "x");
        // U+FEFF is not whitespace to Python.
        assert_eq!(py_strip("\u{feff}x "), "\u{feff}x");
        assert_eq!(py_capitalize("the lady"), "The lady");
        assert_eq!(py_capitalize("he SAID"), "He said");
        assert_eq!(py_capitalize(""), "");
    }
}
