//! Inputs from the `winogrande` fuzz target: each must give tasks or an error naming the file
//! and line, never a panic.

use std::path::Path;

use joulebench_abi::ErrorCode;
use joulebench_dataset_winogrande::parse_tasks;

#[test]
fn a_quoted_sentence_ending_in_a_multibyte_character_is_an_error() {
    // The quote was stripped by cutting one byte off each end, which split the "é".
    let csv = "0,\"She\" _ caf\u{e9},a,b,1\n";
    let e = parse_tasks(Path::new("eval.csv"), csv.as_bytes(), None).unwrap_err();
    assert_eq!(e.code, ErrorCode::INVALID_DATA);
    assert_eq!(
        e.message.as_str(),
        "eval.csv:1: a quoted sentence does not end with its closing quote"
    );
}

#[test]
fn quoted_sentences_lose_their_quotes() {
    let csv = "0,\"The trophy, _ said caf\u{e9}\",trophy,suitcase,2\n";
    let tasks = parse_tasks(Path::new("eval.csv"), csv.as_bytes(), None).unwrap();
    // Two conventions of one item, each with two candidates.
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[0].gold, 1);
    assert_eq!(tasks[0].candidates[0].context.as_str(), "The trophy, trophy");
    assert_eq!(tasks[1].candidates[1].continuation.as_str(), " said caf\u{e9}");
}

#[test]
fn labels_come_after_the_data_and_an_unlabelled_file_without_them_is_an_error() {
    let jsonl = r#"{"sentence": "A _ b", "option1": "x", "option2": "y"}"#;
    let e = parse_tasks(Path::new("dev.jsonl"), jsonl.as_bytes(), None).unwrap_err();
    assert_eq!(e.message.as_str(), "dev.jsonl:1: no answer, and no labels file");
    let tasks = parse_tasks(Path::new("dev.jsonl"), jsonl.as_bytes(), Some(b"2\n")).unwrap();
    assert_eq!(tasks[0].gold, 1);
    let e = parse_tasks(Path::new("dev.jsonl"), jsonl.as_bytes(), Some(b"1\n2\n")).unwrap_err();
    assert_eq!(e.message.as_str(), "dev-labels.lst: 2 labels for 1 items in dev.jsonl");
}
