//! HellaSwag on the real data (`$JOULEBENCH_DATA` or `../shared/datasets`: llama.cpp's text
//! file) and on a hand-written jsonl in the original format. Expected values come from the file
//! itself (10042 items, their labels, its `sha256sum`), `docs/scoring-conventions.md#hellaswag-selection`
//! (selection) and the file's lines read by eye, with the preprocessing rules of
//! `docs/scoring-conventions.md#hellaswag` applied by hand.

use joulebench_abi::{Convention, Dataset, Selection, SelectionRule, Task};
use joulebench_dataset_common::files::test_data_root;
use joulebench_dataset_hellaswag::{DatasetPlugin, Format, HellaSwag, new};

fn load(extra: &str) -> DatasetPlugin<HellaSwag> {
    let config = format!("data_dir = {:?}\n{extra}", test_data_root().display().to_string());
    match new(&config) {
        Ok(d) => d,
        Err(e) => panic!("loading hellaswag with {config:?}: {e}"),
    }
}

fn fixture(name: &str) -> DatasetPlugin<HellaSwag> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
    new(&format!("path = \"{path}{name}\"")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn task(d: &DatasetPlugin<HellaSwag>, i: u64, convention: Convention) -> Task {
    d.tasks([i][..].into(), convention).unwrap().into_vec().remove(0)
}

fn continuations(t: &Task) -> Vec<&str> {
    t.candidates.iter().map(|c| c.continuation.as_str()).collect()
}

#[test]
fn count_labels_and_checksum() {
    let d = load("");
    assert_eq!(d.0.format(), Format::LlamaCpp);
    let info = d.info();
    assert_eq!(info.len, 10042);
    assert_eq!(info.split.as_str(), "validation");
    assert_eq!(info.metric.as_str(), "acc_norm");
    assert_eq!(
        info.checksum.as_str(),
        "d572539320eb2050e858ca34b495bbe2103e3b3f1391a9c3bcdf215b0bb93bd1"
    );
    let all: Vec<u64> = (0..info.len).collect();
    let mut counts = [0; 4];
    for t in d.tasks(all.as_slice().into(), Convention::LM_EVAL).unwrap().iter() {
        counts[t.gold as usize] += 1;
    }
    assert_eq!(counts, [2515, 2485, 2584, 2458]);
}

#[test]
fn first_item_as_llama_cpp_builds_it() {
    let d = load("");
    let t = task(&d, 0, Convention::LLAMA_CPP);
    assert_eq!(t.id.as_str(), "0");
    assert_eq!(t.group.as_str(), "Roof shingle removal");
    assert_eq!(t.gold, 3);
    for c in t.candidates.iter() {
        assert_eq!(c.context.as_str(), "Roof shingle removal: A man is sitting on a roof. he");
    }
    assert_eq!(
        continuations(&t),
        [
            " is using wrap to wrap a pair of skis.",
            " is ripping level tiles off.",
            " is holding a rubik's cube.",
            " starts pulling up roofing on a roof.",
        ]
    );
}

#[test]
fn lm_eval_preprocessing_on_the_text_file() {
    let d = load("");
    // Item 3505 (line 21031) keeps "[www.kiddio.org]"; lm-eval's regex removes it and the
    // doubled space left behind.
    let t = task(&d, 3505, Convention::LM_EVAL);
    assert_eq!(
        t.candidates[0].context.as_str(),
        "Family Life: How to entertain a toddler. Ask the toddler what he or she would like to do \
         instead of doing what you would like to do.. Visit a site like to find loads of creative \
         activities for toddlers and preschoolers.. Choose small, simple games like candy land or \
         chutes and ladders."
    );
    assert_eq!(task(&d, 3505, Convention::LLAMA_CPP).candidates[0].context.matches('[').count(), 1);
    // Item 3691's ending 2 (line 22151) has a "[" with no "]" after it: unchanged.
    let t = task(&d, 3691, Convention::LM_EVAL);
    assert_eq!(
        t.candidates[2].continuation.as_str(),
        " You may be prompted to upgrade when you launch notes for the first time after upgrading \
         to ios 9. If you're not, tap the \" [\" button to view the folder screen, then tap the \" \
         upgrade \" button in the corner."
    );
    assert_eq!(t.gold, 2);
    assert_eq!(t.group.as_str(), "Computers and Electronics");
}

#[test]
fn llama_cpp_selection_of_400() {
    let d = load("");
    let sel = Selection { rule: SelectionRule::LLAMA_CPP, limit: 400, seed: 1 };
    let picked = d.select(&sel).unwrap().into_vec();
    assert_eq!(picked.len(), 400);
    // docs/scoring-conventions.md#hellaswag-selection.
    assert_eq!(&picked[..10], &[4187, 10013, 7233, 9363, 1, 1286, 3036, 10032, 1474, 2371]);
}

#[test]
fn original_jsonl_under_both_conventions() {
    let d = fixture("val.jsonl");
    assert_eq!(d.0.format(), Format::Jsonl);
    assert_eq!(d.info().len, 2);

    // The first item is the text file's first item in its original form: llama.cpp's build of
    // it must equal the text file's lines exactly.
    let real = task(&load(""), 0, Convention::LLAMA_CPP);
    assert_eq!(task(&d, 0, Convention::LLAMA_CPP).candidates, real.candidates);
    // lm-eval capitalises ctx_b.
    let t = task(&d, 0, Convention::LM_EVAL);
    assert_eq!(
        t.candidates[0].context.as_str(),
        "Roof shingle removal: A man is sitting on a roof. He"
    );
    assert_eq!(continuations(&t)[0], " is using wrap to wrap a pair of skis.");
    assert_eq!(t.gold, 3);

    // A WikiHow-style item with tags, a string label, and a ctx_b to capitalise.
    let t = task(&d, 1, Convention::LM_EVAL);
    assert_eq!(t.gold, 1);
    assert_eq!(t.group.as_str(), "Home and Garden");
    assert_eq!(
        t.candidates[0].context.as_str(),
        "Home and Garden: How to clean a window. Mix the solution. Pour warm water Into a bucket"
    );
    assert_eq!(
        continuations(&t),
        [" and add soap. Stir it.", "  Wipe the glass.", " and rinse.", " and wait a bit.",]
    );
    let t = task(&d, 1, Convention::LLAMA_CPP);
    assert_eq!(
        t.candidates[0].context.as_str(),
        "Home and Garden: How to clean a window. Mix the solution. Pour warm water into a BUCKET"
    );
    assert_eq!(
        continuations(&t),
        [
            " and add soap. Stir it.",
            " . Wipe the glass.",
            " and rinse.",
            " and wait [citation needed] a bit.",
        ]
    );
}

#[test]
fn format_can_be_forced() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/val.jsonl");
    let e = new(&format!("path = \"{path}\"\nformat = \"llama-cpp\"")).err().unwrap();
    assert!(e.message.contains("not a multiple of 6"), "{}", e.message);
    let e = new("format = \"csv\"").err().unwrap();
    assert!(e.message.contains("format \"csv\" is not one of"), "{}", e.message);
}
