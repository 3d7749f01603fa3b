//! Greedy generation: llama.cpp's steps for runtime-common's generation loop, which owns the
//! token limit, stop strings and the time of every token.

use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::token::LlamaToken;

use joulebench_abi::{AbiError, GenerateRequest, Generation, TimedGeneration, TimedRequest};
use joulebench_runtime_common::Stepper;
use joulebench_runtime_common::generate::{generate, generate_timed};

use crate::llama::{LlamaCppModel, decode_error};

/// The first index of the largest value.
pub(crate) fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in row.iter().enumerate() {
        if x > row[best] {
            best = i;
        }
    }
    best
}

impl Stepper for LlamaCppModel {
    fn tokenize(&self, text: &str) -> Result<Vec<i32>, AbiError> {
        Ok(self.tokens(text, true))
    }

    fn context_size(&self) -> usize {
        self.ctx.n_ctx() as usize
    }

    fn clear(&mut self) -> Result<(), AbiError> {
        self.ctx.clear_kv_cache();
        Ok(())
    }

    fn feed(&mut self, tokens: &[i32], pos: usize, want: bool) -> Result<Option<i32>, AbiError> {
        let n_ctx = self.ctx.n_ctx();
        let n_batch = (self.ctx.n_batch() as usize).max(1);
        let mut batch = LlamaBatch::new(n_batch.min(tokens.len()).max(1), 1);
        let mut last_row = 0;
        for (ci, chunk) in tokens.chunks(n_batch).enumerate() {
            batch.clear();
            for (i, &t) in chunk.iter().enumerate() {
                let at = ci * n_batch + i;
                let last = want && at + 1 == tokens.len();
                batch
                    .add(LlamaToken(t), (pos + at) as i32, &[0], last)
                    .map_err(|e| AbiError::backend(format!("building a batch: {e}")))?;
                if last {
                    last_row = i;
                }
            }
            self.ctx.decode(&mut batch).map_err(|e| decode_error(e, chunk.len(), n_ctx))?;
        }
        Ok(want.then(|| argmax(self.ctx.get_logits_ith(last_row as i32)) as i32))
    }

    fn is_eog(&self, token: i32) -> bool {
        self.model.vocab().is_eog(LlamaToken(token))
    }

    fn piece(&self, token: i32, bytes: &mut Vec<u8>) {
        bytes.extend(self.model.vocab().token_to_piece(LlamaToken(token), false, None));
    }
}

impl LlamaCppModel {
    /// Generates greedily from `request.prompt` (used as it is, no chat template).
    pub fn generate_text(&mut self, request: &GenerateRequest) -> Result<Generation, AbiError> {
        generate(self, request)
    }

    /// Generates greedily and times every token.
    pub fn generate_tokens(&mut self, request: &TimedRequest) -> Result<TimedGeneration, AbiError> {
        generate_timed(self, request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_takes_the_first_maximum() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0, 2.0]), 1);
        assert_eq!(argmax(&[-1.0]), 0);
    }
}
