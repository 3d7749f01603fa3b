//! Greedy generation with a token limit and stop strings.

use std::time::Instant;

use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::token::LlamaToken;

use joulebench_abi::{AbiError, Counters, GenerateRequest, Generation};

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

/// The earliest position in `text` where one of `stops` begins.
fn find_stop(text: &str, stops: &[&str]) -> Option<usize> {
    stops.iter().filter_map(|s| text.find(s)).min()
}

impl LlamaCppModel {
    /// Generates greedily from `request.prompt` (used as it is, no chat template).
    pub fn generate_text(&mut self, request: &GenerateRequest) -> Result<Generation, AbiError> {
        let start = Instant::now();
        let stops: Vec<&str> =
            request.stop.iter().map(|s| s.as_str()).filter(|s| !s.is_empty()).collect();
        let done =
            |text: String, finish: &str, ttft: f64, tps: f64, counters: Counters| Generation {
                text: text.into(),
                finish: finish.into(),
                time_to_first_token_s: ttft,
                decode_tokens_per_s: tps,
                counters,
            };
        if request.max_tokens == 0 {
            return Ok(done(String::new(), "max_tokens", 0.0, 0.0, Counters::default()));
        }
        let prompt = self.tokens(request.prompt.as_str(), true);
        if prompt.is_empty() {
            return Err(AbiError::data("generate: the prompt has no tokens"));
        }
        let n_ctx = self.ctx.n_ctx();
        let needed = prompt.len() + request.max_tokens as usize;
        if needed > n_ctx as usize {
            return Err(AbiError::unsupported(format!(
                "generate: the prompt's {} tokens and max_tokens = {} need {needed} tokens, more than the context size {n_ctx}",
                prompt.len(),
                request.max_tokens
            )));
        }
        let n_batch = (self.ctx.n_batch() as usize).max(1);
        let mut batch = LlamaBatch::new(n_batch.min(prompt.len()).max(1), 1);
        self.ctx.clear_kv_cache();
        let mut last_row = 0;
        for (ci, chunk) in prompt.chunks(n_batch).enumerate() {
            batch.clear();
            for (i, &t) in chunk.iter().enumerate() {
                let pos = ci * n_batch + i;
                let last = pos + 1 == prompt.len();
                batch
                    .add(LlamaToken(t), pos as i32, &[0], last)
                    .map_err(|e| AbiError::backend(format!("building a batch: {e}")))?;
                if last {
                    last_row = i;
                }
            }
            self.ctx.decode(&mut batch).map_err(|e| decode_error(e, chunk.len(), n_ctx))?;
        }
        let mut counters = Counters { prompt_tokens: prompt.len() as u64, generated_tokens: 0 };
        let mut bytes: Vec<u8> = Vec::new();
        let mut pos = prompt.len();
        let mut first_at = None;
        let (finish, last_at) = loop {
            let token = argmax(self.ctx.get_logits_ith(last_row as i32)) as i32;
            let now = Instant::now();
            first_at.get_or_insert(now);
            let vocab = self.model.vocab();
            if vocab.is_eog(LlamaToken(token)) {
                break ("eog", now);
            }
            counters.generated_tokens += 1;
            bytes.extend(vocab.token_to_piece(LlamaToken(token), false, None));
            if !stops.is_empty() && find_stop(&String::from_utf8_lossy(&bytes), &stops).is_some() {
                break ("stop", now);
            }
            if counters.generated_tokens >= u64::from(request.max_tokens) {
                break ("max_tokens", now);
            }
            batch.clear();
            batch
                .add(LlamaToken(token), pos as i32, &[0], true)
                .map_err(|e| AbiError::backend(format!("building a batch: {e}")))?;
            self.ctx.decode(&mut batch).map_err(|e| decode_error(e, 1, n_ctx))?;
            last_row = 0;
            pos += 1;
        };
        let mut text = String::from_utf8_lossy(&bytes).into_owned();
        if let Some(at) = find_stop(&text, &stops) {
            text.truncate(at);
        }
        let first_at = first_at.unwrap_or(last_at);
        let ttft = first_at.duration_since(start).as_secs_f64();
        // the end-of-generation token was computed too, and its time is in the span
        let produced = counters.generated_tokens + u64::from(finish == "eog");
        let after_first = produced.saturating_sub(1);
        let span = last_at.duration_since(first_at).as_secs_f64();
        let tps = if after_first > 0 && span > 0.0 { after_first as f64 / span } else { 0.0 };
        Ok(done(text, finish, ttft, tps, counters))
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

    #[test]
    fn stops_are_found_at_their_earliest_place() {
        assert_eq!(find_stop("abc\n\nQ:", &["Q:", "\n\n"]), Some(3));
        assert_eq!(find_stop("abc", &["x"]), None);
    }
}
