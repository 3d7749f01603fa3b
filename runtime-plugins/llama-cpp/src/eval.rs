//! Multiple-choice scoring: tokenization by lm-evaluation-harness's rule (in
//! `joulebench-runtime-common`), then each task's candidates decoded together with their common
//! prefix decoded once for all of them (one task per group on the CPU, `pack_tasks` of them on a
//! GPU; see the configuration's docs for why).

use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::token::LlamaToken;

use joulebench_abi::{AbiError, Counters, Evaluation, ScoredTask, Task};
use joulebench_runtime_common::{LanguageModel, PreparedTask};

use crate::llama::{LlamaCppModel, decode_error};
use joulebench_runtime_common::softmax::row_stats;

impl LlamaCppModel {
    /// Scores every candidate of every task.
    pub fn evaluate_tasks(&mut self, tasks: &[Task]) -> Result<Evaluation, AbiError> {
        let prepared = tasks.iter().map(|t| self.prepare(t)).collect::<Result<Vec<_>, _>>()?;
        let n_ctx = self.ctx.n_ctx() as usize;
        let max_seqs = self.settings.max_sequences as usize;
        let pack = self.settings.pack_tasks as usize;
        for (task, p) in tasks.iter().zip(&prepared) {
            if p.cells() > n_ctx {
                return Err(AbiError::unsupported(format!(
                    "task `{}` needs {} tokens, more than the context size {n_ctx}: raise `context_size`",
                    task.id,
                    p.cells()
                )));
            }
            if p.candidates.len() > max_seqs {
                return Err(AbiError::unsupported(format!(
                    "task `{}` has {} candidates, more than `max_sequences` = {max_seqs}",
                    task.id,
                    p.candidates.len()
                )));
            }
        }
        let mut scored: Vec<ScoredTask> = prepared.iter().map(empty_scores).collect();
        let mut counters = Counters::default();
        let mut start = 0;
        while start < prepared.len() {
            let (mut end, mut cells, mut seqs) = (start, 0, 0);
            while end < prepared.len()
                && end - start < pack
                && cells + prepared[end].cells() <= n_ctx
                && seqs + prepared[end].candidates.len() <= max_seqs
            {
                cells += prepared[end].cells();
                seqs += prepared[end].candidates.len();
                end += 1;
            }
            counters.prompt_tokens +=
                self.score_group(&prepared[start..end], &mut scored[start..end])? as u64;
            start = end;
        }
        for (task, s) in tasks.iter().zip(&scored) {
            if s.candidates.iter().any(|c| c.logprobs.iter().any(|x| x.is_nan())) {
                return Err(AbiError::backend(format!(
                    "task `{}`: llama.cpp returned NaN logits",
                    task.id
                )));
            }
        }
        Ok(Evaluation { tasks: scored.into(), counters })
    }

    /// Decodes one packed group of tasks (fresh KV cache, one sequence id per candidate, the
    /// common prefix shared) and fills in their log-probabilities. Returns the cells the group
    /// takes (its tokens, each common prefix counted once).
    fn score_group(
        &mut self,
        group: &[PreparedTask],
        out: &mut [ScoredTask],
    ) -> Result<usize, AbiError> {
        struct Entry {
            token: i32,
            pos: i32,
            seq: usize,
            n_seq: usize,
            logits: bool,
        }
        // (entry index, task, candidate, index in logprobs, target token)
        let mut targets: Vec<(usize, usize, usize, usize, usize)> = Vec::new();
        let mut entries: Vec<Entry> = Vec::with_capacity(group.iter().map(|t| t.cells()).sum());
        let mut seq_base = 0;
        for (ti, task) in group.iter().enumerate() {
            let c = task.common_prefix;
            let n = task.candidates.len();
            for pos in 0..c {
                let e = entries.len();
                let mut logits = false;
                for (k, cand) in task.candidates.iter().enumerate() {
                    let t = pos + 1;
                    if t >= cand.first_scored && t < cand.tokens.len() {
                        targets.push((e, ti, k, t - cand.first_scored, cand.tokens[t] as usize));
                        logits = true;
                    }
                }
                let token = task.candidates[0].tokens[pos];
                entries.push(Entry { token, pos: pos as i32, seq: seq_base, n_seq: n, logits });
            }
            // A candidate's last token is not decoded: nothing is predicted from it, and no
            // other row attends to it (the later rows belong to other sequences).
            for (k, cand) in task.candidates.iter().enumerate() {
                for pos in c..cand.tokens.len().saturating_sub(1) {
                    let e = entries.len();
                    let t = pos + 1;
                    let logits = t >= cand.first_scored;
                    if logits {
                        targets.push((e, ti, k, t - cand.first_scored, cand.tokens[t] as usize));
                    }
                    let token = cand.tokens[pos];
                    entries.push(Entry {
                        token,
                        pos: pos as i32,
                        seq: seq_base + k,
                        n_seq: 1,
                        logits,
                    });
                }
            }
            seq_base += n;
        }
        // The work reported is the cells the group takes, as the burn runtime counts it.
        let cells = group.iter().map(PreparedTask::cells).sum();
        if entries.is_empty() {
            return Ok(cells);
        }
        let seq_ids: Vec<i32> = (0..seq_base as i32).collect();
        let chunks = balanced_chunks(entries.len(), self.settings.ubatch_size as usize);
        let longest = chunks.iter().map(|r| r.len()).max().unwrap_or(1);
        let max_ids = group.iter().map(|t| t.candidates.len()).max().unwrap_or(1);
        let mut batch = LlamaBatch::new(longest, max_ids as i32);
        let n_ctx = self.ctx.n_ctx();
        self.ctx.clear_kv_cache();
        let mut next_target = 0;
        for chunk in chunks {
            let chunk_start = chunk.start;
            batch.clear();
            for e in &entries[chunk.clone()] {
                batch
                    .add(LlamaToken(e.token), e.pos, &seq_ids[e.seq..e.seq + e.n_seq], e.logits)
                    .map_err(|err| AbiError::backend(format!("building a batch: {err}")))?;
            }
            self.ctx.decode(&mut batch).map_err(|err| decode_error(err, chunk.len(), n_ctx))?;
            while next_target < targets.len() && targets[next_target].0 < chunk.end {
                let row_index = targets[next_target].0;
                let row = self.ctx.get_logits_ith((row_index - chunk_start) as i32);
                let stats = row_stats(row);
                while next_target < targets.len() && targets[next_target].0 == row_index {
                    let (_, ti, k, slot, token) = targets[next_target];
                    let cand = &mut out[ti].candidates[k];
                    if token >= row.len() {
                        return Err(AbiError::data(format!(
                            "token id {token} outside the vocabulary"
                        )));
                    }
                    cand.logprobs[slot] = stats.logprob(row, token);
                    cand.greedy[slot] = stats.is_greedy(row, token);
                    next_target += 1;
                }
            }
        }
        Ok(cells)
    }
}

/// Splits `n` items into the fewest runs of at most `max` items, of lengths that differ by at
/// most one.
///
/// Each run is one `llama_decode` call and one compute step (ubatch). Keeping every step under
/// llama.cpp's flash-attention tile (64 query rows on the CPU) keeps every row on the same
/// attention kernel whatever the packing, so a candidate's log-probabilities do not depend on
/// which tasks share its call; even lengths avoid a lone one-token step, which takes yet another
/// kernel once the cache holds 512 cells.
pub fn balanced_chunks(n: usize, max: usize) -> Vec<std::ops::Range<usize>> {
    if n == 0 {
        return Vec::new();
    }
    let max = max.max(1);
    let k = n.div_ceil(max);
    let (base, extra) = (n / k, n % k);
    let mut out = Vec::with_capacity(k);
    let mut start = 0;
    for i in 0..k {
        let len = base + usize::from(i < extra);
        out.push(start..start + len);
        start += len;
    }
    out
}

fn empty_scores(task: &PreparedTask) -> ScoredTask {
    ScoredTask {
        common_prefix: task.common_prefix as u32,
        candidates: task
            .candidates
            .iter()
            .map(|c| {
                let n = c.scored_len();
                c.to_scored(vec![f32::NAN; n], vec![false; n])
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_balanced() {
        assert_eq!(balanced_chunks(10, 4), vec![0..4, 4..7, 7..10]);
        assert_eq!(balanced_chunks(97, 48), vec![0..33, 33..65, 65..97]);
        assert_eq!(balanced_chunks(3, 48), vec![0..3]);
        assert!(balanced_chunks(0, 48).is_empty());
        assert!(balanced_chunks(1000, 48).iter().all(|r| r.len() >= 47 && r.len() <= 48));
    }
}
