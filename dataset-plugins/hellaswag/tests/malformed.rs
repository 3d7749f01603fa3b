//! Malformed input gives errors that name the file and the line (fixtures in tests/fixtures).

use joulebench_abi::{AbiError, ErrorCode};
use joulebench_dataset_hellaswag::new;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn error(name: &str) -> AbiError {
    match new(&format!("data_dir = {FIXTURES:?}\npath = {name:?}")) {
        Ok(_) => panic!("{name} loaded"),
        Err(e) => e,
    }
}

#[test]
fn a_label_out_of_range_in_the_text_file() {
    let e = error("bad-label.txt");
    assert_eq!(e.code, ErrorCode::INVALID_DATA);
    assert_eq!(
        e.message.as_str(),
        format!("{FIXTURES}/bad-label.txt:8: label \"4\" is not 0, 1, 2 or 3")
    );
}

#[test]
fn an_incomplete_item() {
    assert_eq!(
        error("short.txt").message.as_str(),
        format!(
            "{FIXTURES}/short.txt:7: incomplete item: 8 lines, not a multiple of 6 (context, \
             label, four endings)"
        )
    );
}

#[test]
fn invalid_json() {
    let e = error("bad-json.jsonl");
    assert!(e.message.starts_with(&format!("{FIXTURES}/bad-json.jsonl:2:")), "{}", e.message);
    assert!(e.message.contains("invalid json: "), "{}", e.message);
}

#[test]
fn a_label_out_of_range_in_the_jsonl() {
    assert_eq!(
        error("bad-label.jsonl").message.as_str(),
        format!("{FIXTURES}/bad-label.jsonl:3: label 5 is not 0, 1, 2 or 3")
    );
}

#[test]
fn a_missing_file() {
    let e = error("nowhere/hellaswag_val_full.txt");
    assert_eq!(e.code, ErrorCode::NOT_FOUND);
    assert!(e.message.starts_with(&format!("{FIXTURES}/nowhere/hellaswag_val_full.txt: ")));
}
