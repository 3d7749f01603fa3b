//! Plain paths for tests and benchmarks: one sequence at a time, nothing shared or packed.

use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::token::LlamaToken;

use joulebench_abi::AbiError;

use crate::llama::{LlamaCppModel, decode_error};

impl LlamaCppModel {
    /// The logits after every prefix of `tokens` (row `i` predicts `tokens[i + 1]`), from `tokens`
    /// decoded alone on a fresh cache: in calls of scoring's step (`ubatch_size`) one after the
    /// other, or with `one_by_one` one token per call.
    #[doc(hidden)]
    pub fn plain_logits(
        &mut self,
        tokens: &[i32],
        one_by_one: bool,
    ) -> Result<Vec<Vec<f32>>, AbiError> {
        let n_ctx = self.ctx.n_ctx();
        let step = if one_by_one { 1 } else { self.settings.ubatch_size as usize };
        let mut batch = LlamaBatch::new(step.min(tokens.len()).max(1), 1);
        self.ctx.clear_kv_cache();
        let mut rows = Vec::with_capacity(tokens.len());
        for (ci, chunk) in tokens.chunks(step).enumerate() {
            batch.clear();
            for (i, &t) in chunk.iter().enumerate() {
                let pos = (ci * step + i) as i32;
                batch
                    .add(LlamaToken(t), pos, &[0], true)
                    .map_err(|e| AbiError::backend(format!("building a batch: {e}")))?;
            }
            self.ctx.decode(&mut batch).map_err(|e| decode_error(e, chunk.len(), n_ctx))?;
            for i in 0..chunk.len() {
                rows.push(self.ctx.get_logits_ith(i as i32).to_vec());
            }
        }
        Ok(rows)
    }

    /// Plain prompt processing, as llama-bench's `pp` test does it: `tokens` decoded as
    /// sequences of `seq_len` tokens (fresh cache each), `batch_size` tokens per `llama_decode`
    /// call, logits for the last token of each sequence only. Returns the tokens decoded.
    #[doc(hidden)]
    pub fn raw_decode(&mut self, tokens: &[i32], seq_len: usize) -> Result<usize, AbiError> {
        let n_ctx = self.ctx.n_ctx();
        let step = self.ctx.n_batch() as usize;
        let seq_len = seq_len.clamp(1, n_ctx as usize);
        let mut batch = LlamaBatch::new(step.min(seq_len), 1);
        for seq in tokens.chunks(seq_len) {
            self.ctx.clear_kv_cache();
            for (ci, chunk) in seq.chunks(step).enumerate() {
                batch.clear();
                for (i, &t) in chunk.iter().enumerate() {
                    let pos = ci * step + i;
                    batch
                        .add(LlamaToken(t), pos as i32, &[0], pos + 1 == seq.len())
                        .map_err(|e| AbiError::backend(format!("building a batch: {e}")))?;
                }
                self.ctx.decode(&mut batch).map_err(|e| decode_error(e, chunk.len(), n_ctx))?;
            }
        }
        self.ctx.synchronize();
        Ok(tokens.len())
    }
}
