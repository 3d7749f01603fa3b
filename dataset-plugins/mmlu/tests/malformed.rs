//! Malformed input gives errors that name the file and the line (fixtures in tests/fixtures).

use joulebench_abi::ErrorCode;
use joulebench_dataset_mmlu::new;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn error(config: &str) -> joulebench_abi::AbiError {
    match new(&format!("data_dir = {FIXTURES:?}\n{config}")) {
        Ok(_) => panic!("{config:?} loaded"),
        Err(e) => e,
    }
}

#[test]
fn a_row_with_five_fields() {
    let e = error("path = \"five-fields\"");
    assert_eq!(e.code, ErrorCode::INVALID_DATA);
    assert_eq!(
        e.message.as_str(),
        format!(
            "{FIXTURES}/five-fields/test/arith_test.csv:2: expected 6 fields (question, A, B, C, \
             D, answer), found 5"
        )
    );
}

#[test]
fn an_answer_out_of_range_after_a_multiline_field() {
    let e = error("path = \"bad-answer\"");
    assert_eq!(
        e.message.as_str(),
        format!(
            "{FIXTURES}/bad-answer/test/arith_test.csv:3: answer \"E\" is not one of A, B, C, D"
        )
    );
}

#[test]
fn an_unclosed_quote() {
    let e = error("path = \"unclosed-quote\"");
    assert_eq!(
        e.message.as_str(),
        format!(
            "{FIXTURES}/unclosed-quote/test/arith_test.csv:2: a quoted field is not closed before \
             the end of the file"
        )
    );
}

#[test]
fn missing_folders() {
    let e = error("path = \"nowhere\"");
    assert_eq!(e.code, ErrorCode::NOT_FOUND);
    assert!(e.message.starts_with(&format!("{FIXTURES}/nowhere/test: ")), "{}", e.message);
    // Few-shot prompts need the dev folder.
    let e = error("path = \"no-dev\"\nshots = 1");
    assert_eq!(e.code, ErrorCode::NOT_FOUND);
    assert!(
        e.message.starts_with(&format!("{FIXTURES}/no-dev/dev/arith_dev.csv: ")),
        "{}",
        e.message
    );
    // An empty split folder.
    let e = error("path = \"no-dev\"\nsplit = \"val\"");
    assert_eq!(e.code, ErrorCode::NOT_FOUND);
}

#[test]
fn bad_config() {
    assert_eq!(
        error("path = \"no-dev\"\nshots = 6").message.as_str(),
        "mmlu config: shots = 6 is more than 5 (the dev split has five exemplars per subject)"
    );
    assert!(error("split = \"train\"").message.contains("split \"train\" is not one of"));
    let e = error("shot = 1");
    assert_eq!(e.code, ErrorCode::INVALID_CONFIG);
    assert!(e.message.starts_with("mmlu config, line 2: unknown field `shot`"), "{}", e.message);
}
