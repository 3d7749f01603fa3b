//! What a generation experiment asks for: llama-bench's shapes, or a dataset's prompts answered
//! greedily, from the experiment's `generate` table.
//!
//! ```toml
//! [[experiment]]
//! id = "gen"
//! workload = "generate"
//! runtime = "llama"
//! model = "smollm2"
//! meter = "estimate"
//! generate = { pp = [64, 128], tg = [16], d = [0, 256], repetitions = 3 }
//! ```
//!
//! As in llama-bench, every depth `d` runs every `pp` alone (prompt processing), every `tg` alone
//! (one BOS token, then `tg` decode steps), and every `pg = [pp, tg]` pair together. Without
//! `pp`, `tg` and `pg` the prompts come from the experiment's dataset: each task's context
//! (its question, few-shot prompt included) answered greedily up to `max_tokens` or a stop string.

use std::ops::Range;

use anyhow::{Result, anyhow, bail};
use serde::{Deserialize, Serialize};
use toml::Spanned;

/// llama-bench's default prompt length.
pub const DEFAULT_PP: u32 = 512;
/// llama-bench's default generation length.
pub const DEFAULT_TG: u32 = 128;

/// One synthetic request shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    /// Prompt tokens in the timed prefill (0: one BOS token).
    pub pp: u32,
    /// Decode steps after the first token.
    pub tg: u32,
    /// Tokens already in the context, untimed.
    pub d: u32,
}

impl Shape {
    /// llama-bench's name for the test: `pp512`, `tg128`, `pp512+tg128`, with ` @ d256`.
    pub fn label(&self) -> String {
        let mut s = match (self.pp, self.tg) {
            (pp, 0) => format!("pp{pp}"),
            (0, tg) => format!("tg{tg}"),
            (pp, tg) => format!("pp{pp}+tg{tg}"),
        };
        if self.d > 0 {
            s.push_str(&format!(" @ d{}", self.d));
        }
        s
    }

    /// Tokens of context the shape needs: depth, prompt (at least one token), first token and
    /// the decode steps.
    pub fn context_need(&self) -> u64 {
        u64::from(self.d) + u64::from(self.pp.max(1)) + 1 + u64::from(self.tg)
    }
}

/// Where the prompts come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prompts {
    /// Synthetic prompts of these shapes.
    Shapes(Vec<Shape>),
    /// The experiment's dataset: each selected task's context.
    Dataset {
        /// Most tokens to generate per answer.
        max_tokens: u32,
        /// Stop strings.
        stop: Vec<String>,
    },
}

/// A generation experiment's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateSpec {
    /// The prompts.
    pub prompts: Prompts,
    /// Measured requests per shape (per prompt for a dataset).
    pub repetitions: u32,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Ints {
    One(u32),
    Many(Vec<u32>),
}

impl Ints {
    fn items(self) -> Vec<u32> {
        match self {
            Ints::One(x) => vec![x],
            Ints::Many(v) => v,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    pp: Option<Ints>,
    tg: Option<Ints>,
    pg: Option<Vec<[u32; 2]>>,
    d: Option<Ints>,
    max_tokens: Option<u32>,
    stop: Option<Vec<String>>,
    repetitions: Option<u32>,
}

/// The most requests one experiment's shapes may expand to.
pub const MAX_SHAPES: usize = 1000;

impl GenerateSpec {
    /// Whether the prompts come from the experiment's dataset.
    pub fn uses_dataset(&self) -> bool {
        matches!(self.prompts, Prompts::Dataset { .. })
    }

    /// Reads a `generate` table (absent: `{}`). `has_dataset` says whether the experiment names a
    /// dataset, which prompts come from when no shape is given.
    pub fn parse(table: Option<&toml::Table>, has_dataset: bool) -> Result<GenerateSpec, String> {
        let table = table.cloned().unwrap_or_default();
        let raw: Raw = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| format!("generate: {}", e.message().trim_end()))?;
        let shaped = raw.pp.is_some() || raw.tg.is_some() || raw.pg.is_some();
        let repetitions = raw.repetitions.unwrap_or(if shaped || !has_dataset { 5 } else { 1 });
        if repetitions == 0 {
            return Err("generate: repetitions must be >= 1".into());
        }
        if !shaped && has_dataset {
            if raw.d.is_some() {
                return Err(
                    "generate: d (depth) applies to pp/tg/pg shapes, not dataset prompts".into()
                );
            }
            let max_tokens = raw.max_tokens.unwrap_or(32);
            if max_tokens == 0 {
                return Err("generate: max_tokens must be >= 1".into());
            }
            let stop = raw.stop.unwrap_or_else(|| vec!["\n".into()]);
            return Ok(GenerateSpec {
                prompts: Prompts::Dataset { max_tokens, stop },
                repetitions,
            });
        }
        if has_dataset {
            return Err(
                "generate: pp, tg and pg shapes use synthetic prompts: name no dataset, or \
                        drop the shapes to answer the dataset's prompts"
                    .into(),
            );
        }
        if raw.max_tokens.is_some() || raw.stop.is_some() {
            return Err("generate: max_tokens and stop apply to dataset prompts; shapes generate \
                        exactly tg tokens"
                .into());
        }
        let (pp, tg) = if shaped {
            (
                raw.pp.map(Ints::items).unwrap_or_default(),
                raw.tg.map(Ints::items).unwrap_or_default(),
            )
        } else {
            (vec![DEFAULT_PP], vec![DEFAULT_TG])
        };
        let depths = raw.d.map(Ints::items).unwrap_or_else(|| vec![0]);
        if depths.is_empty() {
            return Err("generate: d lists no depth".into());
        }
        let mut shapes = Vec::new();
        for &d in &depths {
            shapes.extend(pp.iter().filter(|&&p| p > 0).map(|&pp| Shape { pp, tg: 0, d }));
            shapes.extend(tg.iter().filter(|&&t| t > 0).map(|&tg| Shape { pp: 0, tg, d }));
            for &[pp, tg] in raw.pg.iter().flatten() {
                if pp == 0 || tg == 0 {
                    return Err(format!("generate: pg = [{pp}, {tg}] needs both > 0"));
                }
                shapes.push(Shape { pp, tg, d });
            }
        }
        if shapes.is_empty() {
            return Err("generate: pp, tg and pg give no shape with a length > 0".into());
        }
        if shapes.len() > MAX_SHAPES {
            return Err(format!("generate: {} shapes, more than {MAX_SHAPES}", shapes.len()));
        }
        Ok(GenerateSpec { prompts: Prompts::Shapes(shapes), repetitions })
    }
}

/// Reads an experiment's `workload` and `generate` keys: `None` for a scoring experiment.
pub(crate) fn manifest_entry(
    id: &str,
    workload: Option<&Spanned<String>>,
    table: Option<&Spanned<toml::Table>>,
    has_dataset: bool,
    at: &impl Fn(Range<usize>) -> String,
) -> Result<Option<GenerateSpec>> {
    let generate = match workload.map(|w| (w.get_ref().as_str(), w.span())) {
        None | Some(("score", _)) => false,
        Some(("generate", _)) => true,
        Some((other, span)) => bail!(
            "{}: experiment {id:?}: unknown workload {other:?} (expected score or generate)",
            at(span)
        ),
    };
    if !generate {
        if let Some(t) = table {
            bail!(
                "{}: experiment {id:?}: a generate table needs workload = \"generate\"",
                at(t.span())
            );
        }
        return Ok(None);
    }
    GenerateSpec::parse(table.map(Spanned::get_ref), has_dataset).map(Some).map_err(|e| {
        let span = table.map(Spanned::span).or(workload.map(Spanned::span)).unwrap_or(0..0);
        anyhow!("{}: experiment {id:?}: {e}", at(span))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, dataset: bool) -> Result<GenerateSpec, String> {
        let t: toml::Table = toml::from_str(text).unwrap();
        GenerateSpec::parse(Some(&t), dataset)
    }

    #[test]
    fn lists_expand_like_llama_bench() {
        let g = parse("pp = [64, 128]\ntg = 16\npg = [[32, 8]]\nd = [0, 100]", false).unwrap();
        let Prompts::Shapes(s) = &g.prompts else { panic!() };
        let labels: Vec<String> = s.iter().map(Shape::label).collect();
        assert_eq!(
            labels,
            [
                "pp64",
                "pp128",
                "tg16",
                "pp32+tg8",
                "pp64 @ d100",
                "pp128 @ d100",
                "tg16 @ d100",
                "pp32+tg8 @ d100"
            ]
        );
        assert_eq!(g.repetitions, 5);
        assert_eq!(s[3].context_need(), 32 + 1 + 8);
    }

    #[test]
    fn defaults_and_dataset_prompts() {
        let g = parse("", false).unwrap();
        assert_eq!(
            g.prompts,
            Prompts::Shapes(vec![Shape { pp: 512, tg: 0, d: 0 }, Shape { pp: 0, tg: 128, d: 0 }])
        );
        let g = parse("max_tokens = 8", true).unwrap();
        assert_eq!(g.prompts, Prompts::Dataset { max_tokens: 8, stop: vec!["\n".into()] });
        assert_eq!(g.repetitions, 1);
    }

    #[test]
    fn mistakes_are_named() {
        assert!(parse("pp = 8\nmax_tokens = 3", false).unwrap_err().contains("max_tokens"));
        assert!(parse("pq = 8", false).unwrap_err().contains("unknown field `pq`"));
        assert!(parse("pg = [[8, 0]]", false).unwrap_err().contains("needs both"));
        assert!(parse("repetitions = 0", false).unwrap_err().contains("repetitions"));
        assert!(parse("d = [4]", true).unwrap_err().contains("depth"));
        assert!(parse("pp = 4", true).unwrap_err().contains("name no dataset"));
    }
}
