//! MMLU on the real data (`$JOULEBENCH_DATA` or `../shared/datasets`). Expected values come from
//! the CSV files themselves (row counts and answer distributions counted from them, read by eye or
//! with `sha256sum`) and the prompts of `docs/scoring-conventions.md#mmlu`.

use joulebench_abi::{Convention, Dataset, Selection, SelectionRule, Task};
use joulebench_dataset_common::files::test_data_root;
use joulebench_dataset_mmlu::{DatasetPlugin, Mmlu, new};

fn load(extra: &str) -> DatasetPlugin<Mmlu> {
    let config = format!("data_dir = {:?}\n{extra}", test_data_root().display().to_string());
    match new(&config) {
        Ok(d) => d,
        Err(e) => panic!("loading mmlu with {config:?}: {e}"),
    }
}

fn all_tasks(d: &DatasetPlugin<Mmlu>, convention: Convention) -> Vec<Task> {
    let indices: Vec<u64> = (0..d.info().len).collect();
    d.tasks(indices.as_slice().into(), convention).unwrap().into_vec()
}

fn answer_counts(d: &DatasetPlugin<Mmlu>) -> [usize; 4] {
    let mut counts = [0; 4];
    for t in all_tasks(d, Convention::LM_EVAL) {
        counts[t.gold as usize] += 1;
    }
    counts
}

#[test]
fn item_counts_and_answer_distributions() {
    let test = load("");
    assert_eq!(test.info().len, 14042);
    assert_eq!(test.info().split.as_str(), "test");
    assert_eq!(test.info().metric.as_str(), "acc");
    assert_eq!(answer_counts(&test), [3222, 3462, 3582, 3776]);
    let dev = load("split = \"dev\"");
    assert_eq!(dev.info().len, 285);
    assert_eq!(answer_counts(&dev), [67, 69, 71, 78]);
    let val = load("split = \"val\"");
    assert_eq!(val.info().len, 1531);
    assert_eq!(val.info().split.as_str(), "validation");
    assert_eq!(answer_counts(&val), [381, 379, 387, 384]);
}

#[test]
fn checksums_match_sha256sum() {
    // (cd mmlu && LC_ALL=C ls test/*.csv | xargs sha256sum) | sha256sum
    assert_eq!(
        load("").info().checksum.as_str(),
        "efaea304bab34c51c1138e281bbcecf363c407ffbd223755f6f50af80e4a7ec7"
    );
    // (cd mmlu && LC_ALL=C ls dev/*.csv test/*.csv | xargs sha256sum) | sha256sum
    assert_eq!(
        load("shots = 5").info().checksum.as_str(),
        "72b8150ca794d433b847f80bc4937084c6f3a32738643e9b0a901a66ddc92338"
    );
    // One file: its own sha256 (SHA256SUMS).
    assert_eq!(
        load("subjects = [\"abstract_algebra\"]").info().checksum.as_str(),
        "4be89c0fb1d2419722e88880f6da3da95750367185ecd36f6492a6f74785cf64"
    );
}

const ZERO_SHOT_FIRST: &str = "The following are multiple choice questions (with answers) about \
abstract algebra.\n\nFind the degree for the given field extension Q(sqrt(2), sqrt(3), sqrt(18)) \
over Q.\nA. 0\nB. 4\nC. 2\nD. 6\nAnswer:";

#[test]
fn first_abstract_algebra_question_zero_shot() {
    let d = load("");
    let t = &d.tasks([0u64][..].into(), Convention::LM_EVAL).unwrap()[0];
    assert_eq!(t.id.as_str(), "abstract_algebra/0");
    assert_eq!(t.group.as_str(), "abstract_algebra");
    assert_eq!(t.gold, 1); // B
    let conts: Vec<&str> = t.candidates.iter().map(|c| c.continuation.as_str()).collect();
    assert_eq!(conts, [" A", " B", " C", " D"]);
    for c in t.candidates.iter() {
        assert_eq!(c.context.as_str(), ZERO_SHOT_FIRST);
    }
}

#[test]
fn first_abstract_algebra_question_five_shot() {
    // The five rows of dev/abstract_algebra_dev.csv, rendered as docs/scoring-conventions.md#mmlu says.
    let expected = "The following are multiple choice questions (with answers) about abstract \
algebra.\n\n\
Find all c in Z_3 such that Z_3[x]/(x^2 + c) is a field.\nA. 0\nB. 1\nC. 2\nD. 3\nAnswer: B\n\n\
Statement 1 | If aH is an element of a factor group, then |aH| divides |a|. Statement 2 | If H and \
K are subgroups of G then HK is a subgroup of G.\nA. True, True\nB. False, False\nC. True, False\n\
D. False, True\nAnswer: B\n\n\
Statement 1 | Every element of a group generates a cyclic subgroup of the group. Statement 2 | The \
symmetric group S_10 has 10 elements.\nA. True, True\nB. False, False\nC. True, False\nD. False, \
True\nAnswer: C\n\n\
Statement 1| Every function from a finite set onto itself must be one to one. Statement 2 | Every \
subgroup of an abelian group is abelian.\nA. True, True\nB. False, False\nC. True, False\nD. False, \
True\nAnswer: A\n\n\
Find the characteristic of the ring 2Z.\nA. 0\nB. 3\nC. 12\nD. 30\nAnswer: A\n\n\
Find the degree for the given field extension Q(sqrt(2), sqrt(3), sqrt(18)) over Q.\nA. 0\nB. 4\n\
C. 2\nD. 6\nAnswer:";
    let d = load("shots = 5");
    let t = &d.tasks([0u64][..].into(), Convention::LM_EVAL).unwrap()[0];
    assert_eq!(t.candidates[0].context.as_str(), expected);
    // One shot: the header, the first exemplar, the question.
    let d = load("shots = 1\nsubjects = [\"abstract_algebra\"]");
    let t = &d.tasks([0u64][..].into(), Convention::LM_EVAL).unwrap()[0];
    let one_shot = "The following are multiple choice questions (with answers) about abstract \
algebra.\n\nFind all c in Z_3 such that Z_3[x]/(x^2 + c) is a field.\nA. 0\nB. 1\nC. 2\nD. \
3\nAnswer: B\n\nFind the degree for the given field extension Q(sqrt(2), sqrt(3), sqrt(18)) over \
Q.\nA. 0\nB. 4\nC. 2\nD. 6\nAnswer:";
    assert_eq!(t.candidates[3].context.as_str(), one_shot);
}

#[test]
fn quoted_fields_keep_commas_crlf_and_stray_feff() {
    let d = load("subjects = [\"abstract_algebra\"]");
    // Row 3 of test/abstract_algebra_test.csv: unquoted question, quoted "0,1" and "0,4".
    let t = &d.tasks([2u64][..].into(), Convention::LLAMA_CPP).unwrap()[0];
    assert_eq!(
        t.candidates[0].context.as_str(),
        "Find all zeros in the indicated finite field of the given polynomial with coefficients in \
         that field. x^5 + 3x^3 + x^2 + 2x in Z_5"
    );
    let conts: Vec<&str> = t.candidates.iter().map(|c| c.continuation.as_str()).collect();
    assert_eq!(conts, [" 0", " 1", " 0,1", " 0,4"]);
    assert_eq!(t.gold, 3);

    // Question 80 of test/college_medicine_test.csv holds "\n\u{feff}\n" inside its quotes.
    let d = load("subjects = [\"college_medicine\"]");
    let t = &d.tasks([80u64][..].into(), Convention::LLAMA_CPP).unwrap()[0];
    assert!(
        t.candidates[0].context.starts_with(
            "What is the most likely outcome of this modification?\n\u{feff}\nAn RNA strand"
        ),
        "{:?}",
        t.candidates[0].context
    );

    // The third exemplar of dev/college_mathematics_dev.csv has CRLF line breaks in its quotes,
    // in a file with LF record ends.
    let d = load("shots = 3\nsubjects = [\"college_mathematics\"]");
    let t = &d.tasks([0u64][..].into(), Convention::LM_EVAL).unwrap()[0];
    assert!(t.candidates[0].context.contains(
        "Let A be a real 2x2 matrix. Which of the following statements must be true?\r\nI. All of \
         the entries of A^2 are nonnegative.\r\n"
    ));
}

#[test]
fn llama_cpp_layout_is_question_space_answer() {
    let d = load("");
    let t = &d.tasks([0u64][..].into(), Convention::LLAMA_CPP).unwrap()[0];
    let full: Vec<String> =
        t.candidates.iter().map(|c| format!("{}{}", c.context, c.continuation)).collect();
    let q = "Find the degree for the given field extension Q(sqrt(2), sqrt(3), sqrt(18)) over Q.";
    assert_eq!(full, [format!("{q} 0"), format!("{q} 4"), format!("{q} 2"), format!("{q} 6")]);
    let e = load("shots = 5").tasks([0u64][..].into(), Convention::LLAMA_CPP).into_result();
    assert!(e.unwrap_err().message.contains("0-shot only"));
}

#[test]
fn subjects_filter_and_task_ids() {
    // README table: anatomy 135, abstract_algebra 100, professional_law 1534.
    let d = load("subjects = [\"anatomy\", \"abstract_algebra\"]");
    assert_eq!(d.info().len, 235);
    let t = d.tasks([99u64, 100, 234][..].into(), Convention::LM_EVAL).unwrap();
    let ids: Vec<&str> = t.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["abstract_algebra/99", "anatomy/0", "anatomy/134"]);
    assert!(t[1].candidates[0].context.starts_with(
        "The following are multiple choice questions (with answers) about anatomy.\n\n"
    ));
    assert_eq!(load("subjects = [\"professional_law\"]").info().len, 1534);
    let e = new(&format!(
        "data_dir = {:?}\nsubjects = [\"astrology\"]",
        test_data_root().display().to_string()
    ))
    .err()
    .unwrap();
    assert!(e.message.starts_with("mmlu config: unknown subject \"astrology\""), "{}", e.message);
}

#[test]
fn dev_split_never_uses_a_question_as_its_own_exemplar() {
    let d = load("split = \"dev\"\nshots = 2\nsubjects = [\"abstract_algebra\"]");
    let t = d.tasks([0u64, 4][..].into(), Convention::LM_EVAL).unwrap();
    // Question 0 ("Find all c in Z_3 ...") gets dev rows 1 and 2 as exemplars.
    let ctx0 = t[0].candidates[0].context.as_str();
    assert_eq!(ctx0.matches("Find all c in Z_3").count(), 1);
    assert!(ctx0.contains("Answer: B\n\nStatement 1 | Every element of a group"));
    // Question 4 gets rows 0 and 1.
    let ctx4 = t[1].candidates[0].context.as_str();
    assert!(ctx4.contains("about abstract algebra.\n\nFind all c in Z_3"));
    assert!(
        ctx4.ends_with(
            "Find the characteristic of the ring 2Z.\nA. 0\nB. 3\nC. 12\nD. 30\nAnswer:"
        )
    );
}

#[test]
fn study_selection_of_1000() {
    let d = load("");
    let sel = Selection { rule: SelectionRule::LLAMA_CPP, limit: 1000, seed: 1 };
    let picked = d.select(&sel).unwrap().into_vec();
    assert_eq!(picked.len(), 1000);
    let mut sorted = picked.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 1000);
    assert!(sorted.iter().all(|&i| i < 14042));
    let first = Selection { rule: SelectionRule::FIRST, limit: 3, seed: 0 };
    assert_eq!(d.select(&first).unwrap().into_vec(), [0, 1, 2]);
}
