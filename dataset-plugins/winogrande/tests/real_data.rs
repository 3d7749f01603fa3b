//! Winogrande on the real data (`$JOULEBENCH_DATA` or `../shared/datasets`: the release's
//! `dev.jsonl` and `dev-labels.lst`) and on hand-written files in llama.cpp's CSV format.
//! Expected values come from the files themselves (1267 items, their answers, `sha256sum`, the
//! first item), `docs/scoring-conventions.md#multiple-choice-selection` and `docs/scoring-conventions.md#winogrande`, and
//! the file's lines read by eye.

use joulebench_abi::{Convention, Dataset, Selection, SelectionRule, Task, TaskShape};
use joulebench_dataset_common::files::test_data_root;
use joulebench_dataset_winogrande::{DatasetPlugin, Format, Winogrande, new};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn load(extra: &str) -> DatasetPlugin<Winogrande> {
    let config = format!("data_dir = {:?}\n{extra}", test_data_root().display().to_string());
    match new(&config) {
        Ok(d) => d,
        Err(e) => panic!("loading winogrande with {config:?}: {e}"),
    }
}

fn task(d: &DatasetPlugin<Winogrande>, i: u64, convention: Convention) -> Task {
    d.tasks([i][..].into(), convention).unwrap().into_vec().remove(0)
}

fn pairs(t: &Task) -> Vec<(&str, &str)> {
    t.candidates.iter().map(|c| (c.context.as_str(), c.continuation.as_str())).collect()
}

#[test]
fn count_answers_and_checksum() {
    let d = load("");
    assert_eq!(d.0.format(), Format::Jsonl);
    let info = d.info();
    assert_eq!(info.len, 1267);
    assert_eq!(info.split.as_str(), "validation");
    assert_eq!(info.metric.as_str(), "acc");
    assert_eq!(
        info.checksum.as_str(),
        "4609c7d725bd5095c0b8a5821d4df93500d650ce08b40fb65cfdac61a84a43af"
    );
    let all: Vec<u64> = (0..info.len).collect();
    let mut counts = [0; 2];
    for t in d.tasks(all.as_slice().into(), Convention::LM_EVAL).unwrap().iter() {
        counts[t.gold as usize] += 1;
    }
    assert_eq!(counts, [628, 639]);
}

#[test]
fn the_labels_file_agrees_and_enters_the_checksum() {
    let d = load("labels = \"winogrande/dev-labels.lst\"");
    assert_eq!(d.info().len, 1267);
    // cd winogrande && sha256sum dev-labels.lst dev.jsonl | sha256sum
    assert_eq!(
        d.info().checksum.as_str(),
        "5b19f5898ae9366d0cf1b656dc95e93a4597fa34fd2f4f9541136a5326ccd67b"
    );
}

#[test]
fn first_item_under_both_conventions() {
    let d = load("");
    let t = task(&d, 0, Convention::LM_EVAL);
    assert_eq!(t.id.as_str(), "3FCO4VKOZ4BJQ6IFC0VAIBK4KTWE7U-2");
    assert_eq!(t.group.as_str(), "");
    assert_eq!(t.gold, 1);
    assert_eq!(t.shape, TaskShape::PARTIAL);
    let expected = [
        ("Sarah was a much better surgeon than Maria so Sarah", " always got the easier cases."),
        ("Sarah was a much better surgeon than Maria so Maria", " always got the easier cases."),
    ];
    assert_eq!(pairs(&t), expected);
    assert_eq!(pairs(&task(&d, 0, Convention::LLAMA_CPP)), expected);
}

#[test]
fn irregular_whitespace_after_the_blank() {
    // Item 180 (line 181) ends "... I was in the  _  ." with answer "1" (garage).
    let d = load("");
    let head = "I started playing drums young.  Sometimes I played in the garage and sometimes my \
                room, but my parents preferred knowing I was in the  ";
    let t = task(&d, 180, Convention::LM_EVAL);
    assert_eq!(t.gold, 0);
    assert_eq!(
        pairs(&t),
        [(format!("{head}garage").as_str(), " ."), (&format!("{head}room"), " .")]
    );
    let t = task(&d, 180, Convention::LLAMA_CPP);
    assert_eq!(
        pairs(&t),
        [(format!("{head}garage").as_str(), "  ."), (&format!("{head}room"), "  .")]
    );
}

#[test]
fn llama_cpp_selection_of_500() {
    let d = load("");
    let sel = Selection { rule: SelectionRule::LLAMA_CPP, limit: 500, seed: 1 };
    let picked = d.select(&sel).unwrap().into_vec();
    assert_eq!(picked.len(), 500);
    // docs/scoring-conventions.md#multiple-choice-selection.
    assert_eq!(&picked[..10], &[528, 1262, 911, 1178, 0, 161, 381, 1258, 184, 296]);
    // All tasks: file order.
    let all = Selection { rule: SelectionRule::LLAMA_CPP, limit: 0, seed: 1 };
    assert_eq!(d.select(&all).unwrap().into_vec(), (0..1267).collect::<Vec<u64>>());
}

#[test]
fn llama_cpp_csv() {
    let d = new(&format!("path = \"{FIXTURES}/eval.csv\"")).unwrap();
    assert_eq!(d.0.format(), Format::LlamaCpp);
    // The header is skipped; the last row, with no newline after it, is kept.
    assert_eq!(d.info().len, 3);
    let t = task(&d, 1, Convention::LLAMA_CPP);
    assert_eq!(t.id.as_str(), "1");
    assert_eq!(t.gold, 0);
    let head = "The trophy doesn't fit into the brown suitcase because the ";
    assert_eq!(
        pairs(&t),
        [
            (format!("{head}trophy").as_str(), " is too large, so they left it."),
            (&format!("{head}suitcase"), " is too large, so they left it."),
        ]
    );
    let t = task(&d, 2, Convention::LLAMA_CPP);
    assert_eq!(t.id.as_str(), "7");
    assert_eq!(t.gold, 1);
    assert_eq!(pairs(&t)[1], ("Ian ate the soup because Dennis", " was hungry."));
}

#[test]
fn answers_from_the_sibling_labels_file() {
    let d = new(&format!("path = \"{FIXTURES}/unlabelled/dev.jsonl\"")).unwrap();
    let t = d.tasks([0u64, 1][..].into(), Convention::LM_EVAL).unwrap();
    assert_eq!((t[0].gold, t[1].gold), (0, 1));
    assert!(d.info().source.contains("dev-labels.lst"));
}
