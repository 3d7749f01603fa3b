//! An RFC 4180 reader that keeps each record's line number for error messages.
//!
//! It reads what Python's `csv.reader` reads from these files: fields separated by commas,
//! records ended by LF, CRLF or CR; a field that starts with `"` is quoted, may hold commas and
//! line breaks, and writes a quote as `""`. Field contents are kept byte for byte (a CRLF inside a
//! quoted field stays CRLF, a U+FEFF stays). A U+FEFF at the very start of the file is a byte
//! order mark and is dropped. Blank lines are skipped.

use std::path::Path;

use joulebench_abi::AbiError;

/// One record: its fields and the line it starts on (1-based).
#[derive(Debug)]
pub struct Record {
    /// The fields, unquoted.
    pub fields: Vec<String>,
    /// The line the record starts on.
    pub line: usize,
}

/// The records of `text`, read from `path` (named in errors).
pub fn parse(path: &Path, text: &str) -> Result<Vec<Record>, AbiError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let bytes = text.as_bytes();
    let mut records = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < bytes.len() {
        let start_line = line;
        let mut fields = Vec::new();
        loop {
            // One field, starting at byte i.
            let mut field = String::new();
            if bytes.get(i) == Some(&b'"') {
                let quote_line = line;
                i += 1;
                let mut from = i;
                loop {
                    match bytes.get(i) {
                        None => {
                            return Err(AbiError::data(format!(
                                "{}:{quote_line}: a quoted field is not closed before the end of \
                                 the file",
                                path.display()
                            )));
                        }
                        Some(b'"') if bytes.get(i + 1) == Some(&b'"') => {
                            field.push_str(&text[from..=i]);
                            i += 2;
                            from = i;
                        }
                        Some(b'"') => {
                            field.push_str(&text[from..i]);
                            i += 1;
                            break;
                        }
                        Some(b'\n') => {
                            line += 1;
                            i += 1;
                        }
                        Some(_) => i += 1,
                    }
                }
                match bytes.get(i) {
                    None | Some(b',' | b'\n' | b'\r') => {}
                    Some(_) => {
                        return Err(AbiError::data(format!(
                            "{}:{line}: unexpected text after the closing quote of field {}",
                            path.display(),
                            fields.len() + 1
                        )));
                    }
                }
            } else {
                let from = i;
                while let Some(&b) = bytes.get(i) {
                    if matches!(b, b',' | b'\n' | b'\r') {
                        break;
                    }
                    i += 1;
                }
                field.push_str(&text[from..i]);
            }
            fields.push(field);
            match bytes.get(i) {
                Some(b',') => i += 1,
                Some(b'\r') => {
                    i += 1;
                    if bytes.get(i) == Some(&b'\n') {
                        i += 1;
                    }
                    line += 1;
                    break;
                }
                Some(b'\n') => {
                    i += 1;
                    line += 1;
                    break;
                }
                _ => break,
            }
        }
        if !(fields.len() == 1 && fields[0].is_empty()) {
            records.push(Record { fields, line: start_line });
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(text: &str) -> Vec<(usize, Vec<String>)> {
        parse(Path::new("t.csv"), text).unwrap().into_iter().map(|r| (r.line, r.fields)).collect()
    }

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn quotes_commas_newlines_and_mixed_endings() {
        let got = fields("a,\"b,c\",\"say \"\"hi\"\"\"\r\n\"x\ny\",z\n\nlast,\"\"");
        assert_eq!(
            got,
            vec![
                (1, v(&["a", "b,c", "say \"hi\""])),
                (2, v(&["x\ny", "z"])),
                (5, v(&["last", ""])),
            ]
        );
    }

    #[test]
    fn byte_order_mark_only_at_the_start_is_dropped() {
        let got = fields("\u{feff}a,\"b\u{feff}\"\n");
        assert_eq!(got, vec![(1, v(&["a", "b\u{feff}"]))]);
    }

    #[test]
    fn crlf_inside_quotes_is_kept() {
        assert_eq!(fields("\"a\r\nb\",c\r\n"), vec![(1, v(&["a\r\nb", "c"]))]);
    }

    #[test]
    fn unclosed_quote_names_its_line() {
        let e = parse(Path::new("t.csv"), "a,b\nc,\"d\ne\n").unwrap_err();
        assert_eq!(
            e.message.as_str(),
            "t.csv:2: a quoted field is not closed before the end of the file"
        );
        let e = parse(Path::new("t.csv"), "a,\"b\"x\n").unwrap_err();
        assert_eq!(
            e.message.as_str(),
            "t.csv:1: unexpected text after the closing quote of field 2"
        );
    }
}
