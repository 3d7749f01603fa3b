//! What joulebench's runtime plugins (llama.cpp, burn) share, so that a runtime writes only how it
//! loads a model, tokenizes and computes log-probabilities.
//!
//! - [`plugin`]: the ABI's `Runtime` and `Model` for any [`Engine`] and [`LanguageModel`]. A
//!   plugin implements these plain traits, returning `Result<_, AbiError>`; the adapters
//!   ([`RuntimePlugin`], [`ModelPlugin`]) answer the host and catch every panic, in `info()` and
//!   in dropping too, so that no panic unwinds into the host (where it would abort it).
//! - [`boundary`]: lm-evaluation-harness's tokenization rule for multiple-choice scoring, derived
//!   from the model's one tokenize function: each candidate's tokens, where its continuation
//!   starts, the task's common token prefix and the first token that gets a log-probability.
//!   Written once here, every runtime scores the same tokens.
//! - [`generate`]: greedy generation with the time of every token, over a runtime's
//!   [`Stepper`], so that both runtimes stop, count and time generation the same way.
//! - [`softmax`]: the log-probability of a token from a row of logits (a stable, vectorized
//!   log-softmax), so that every runtime normalizes its logits the same way.
#![deny(missing_docs)]

pub mod boundary;
pub mod generate;
pub mod plugin;
pub mod softmax;

pub use boundary::{
    PreparedCandidate, PreparedTask, common_prefix, prepare_task, split_trailing_whitespace,
};
pub use generate::Stepper;
pub use plugin::{Engine, LanguageModel, ModelPlugin, RuntimePlugin};
