//! Malformed input gives errors that name the file and the line (fixtures in tests/fixtures).

use joulebench_abi::{AbiError, ErrorCode};
use joulebench_dataset_winogrande::new;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn error(config: &str) -> AbiError {
    match new(&format!("data_dir = {FIXTURES:?}\n{config}")) {
        Ok(_) => panic!("{config} loaded"),
        Err(e) => e,
    }
}

#[test]
fn a_sentence_without_a_blank() {
    let e = error("path = \"no-blank.jsonl\"");
    assert_eq!(e.code, ErrorCode::INVALID_DATA);
    assert_eq!(
        e.message.as_str(),
        format!("{FIXTURES}/no-blank.jsonl:2: the sentence has no \"_\" blank")
    );
}

#[test]
fn an_answer_out_of_range() {
    assert_eq!(
        error("path = \"bad-answer.jsonl\"").message.as_str(),
        format!("{FIXTURES}/bad-answer.jsonl:1: answer \"3\" is not 1 or 2")
    );
}

#[test]
fn invalid_json() {
    let e = error("path = \"bad-json.jsonl\"");
    assert!(e.message.starts_with(&format!("{FIXTURES}/bad-json.jsonl:2:")), "{}", e.message);
    assert!(e.message.contains("invalid json: "), "{}", e.message);
}

#[test]
fn a_csv_row_with_four_fields() {
    assert_eq!(
        error("path = \"four-fields.csv\"").message.as_str(),
        format!(
            "{FIXTURES}/four-fields.csv:2: expected 5 fields (index, sentence, choice1, choice2, \
             answer), found 4"
        )
    );
}

#[test]
fn missing_answers_and_labels() {
    let e = error("path = \"missing-labels/dev.jsonl\"");
    assert_eq!(
        e.message.as_str(),
        format!(
            "{FIXTURES}/missing-labels/dev.jsonl:1: no answer, and no labels file (looked for \
             {FIXTURES}/missing-labels/dev-labels.lst)"
        )
    );
    // Labels that do not match the items.
    let e = error("path = \"bad-answer.jsonl\"\nlabels = \"unlabelled/dev-labels.lst\"");
    assert!(e.message.contains("answer \"3\" is not 1 or 2"), "{}", e.message);
    let e = error("path = \"no-blank.jsonl\"\nlabels = \"missing-labels/none.lst\"");
    assert!(e.message.contains("no-blank.jsonl:2"), "{}", e.message);
    let e = error("path = \"eval.csv\"\nlabels = \"unlabelled/dev-labels.lst\"");
    assert_eq!(
        e.message.as_str(),
        format!(
            "{FIXTURES}/unlabelled/dev-labels.lst: 2 labels for 3 items in {FIXTURES}/eval.csv"
        )
    );
}

#[test]
fn a_missing_file() {
    let e = error("path = \"nowhere/dev.jsonl\"");
    assert_eq!(e.code, ErrorCode::NOT_FOUND);
    assert!(e.message.starts_with(&format!("{FIXTURES}/nowhere/dev.jsonl: ")), "{}", e.message);
}
