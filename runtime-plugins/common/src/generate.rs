//! Greedy generation with token times, written once for every runtime.
//!
//! A runtime supplies the steps ([`Stepper`]: clear the context, feed tokens and take the greedy
//! next token, tell end-of-generation, render a token), and [`generate_timed`] runs the loop the
//! ABI promises: depth tokens untimed, the prompt's prefill, then one decode step per token, with
//! the time each token was chosen, the token limit, stop strings and end-of-generation. Both
//! runtimes therefore stop, count and time in exactly the same way.

use std::time::Instant;

use joulebench_abi::{
    AbiError, Counters, GenerateRequest, Generation, TimedGeneration, TimedRequest,
};

/// What a runtime does for one step of greedy generation.
pub trait Stepper {
    /// The prompt text's tokens, special tokens (BOS) added as the vocabulary says.
    fn tokenize(&self, text: &str) -> Result<Vec<i32>, AbiError>;
    /// Tokens the context holds.
    fn context_size(&self) -> usize;
    /// Empties the context.
    fn clear(&mut self) -> Result<(), AbiError>;
    /// Appends `tokens` to the context (they take positions `pos..`), and returns the greedy
    /// next token after the last of them when `want_next`.
    fn feed(
        &mut self,
        tokens: &[i32],
        pos: usize,
        want_next: bool,
    ) -> Result<Option<i32>, AbiError>;
    /// Whether `token` ends generation.
    fn is_eog(&self, token: i32) -> bool;
    /// Appends `token`'s text to `bytes`.
    fn piece(&self, token: i32, bytes: &mut Vec<u8>);
}

/// The earliest position in `bytes`, at `from` or after, where one of `stops` begins. The
/// search is on bytes, so that the loop below looks only at what the last token could have
/// completed instead of decoding the whole text again after every token.
pub fn find_stop(bytes: &[u8], from: usize, stops: &[&str]) -> Option<usize> {
    let tail = bytes.get(from..)?;
    stops
        .iter()
        .filter_map(|s| tail.windows(s.len()).position(|w| w == s.as_bytes()))
        .min()
        .map(|at| from + at)
}

fn missing_next() -> AbiError {
    AbiError::backend("generate: the runtime returned no next token")
}

/// Generates greedily as `request` asks and times every token (see [`TimedGeneration`]).
pub fn generate_timed<S: Stepper>(
    s: &mut S,
    request: &TimedRequest,
) -> Result<TimedGeneration, AbiError> {
    let start = Instant::now();
    let since = |t: Instant| t.duration_since(start).as_secs_f64();
    let stops: Vec<&str> =
        request.stop.iter().map(|s| s.as_str()).filter(|s| !s.is_empty()).collect();
    let longest_stop = stops.iter().map(|s| s.len()).max().unwrap_or(0);
    let prompt: Vec<i32> = if request.prompt_tokens.is_empty() {
        s.tokenize(request.prompt.as_str())?
    } else {
        request.prompt_tokens.to_vec()
    };
    if request.max_tokens == 0 {
        return Ok(TimedGeneration {
            generation: Generation {
                text: "".into(),
                finish: "max_tokens".into(),
                time_to_first_token_s: 0.0,
                decode_tokens_per_s: 0.0,
                counters: Counters::default(),
            },
            prompt_tokens: 0,
            prefill_start_s: since(Instant::now()),
            token_times_s: Vec::new().into(),
        });
    }
    if prompt.is_empty() {
        return Err(AbiError::data("generate: the prompt has no tokens"));
    }
    let depth = request.depth_tokens.len();
    let n_ctx = s.context_size();
    let needed = depth + prompt.len() + request.max_tokens as usize;
    if needed > n_ctx {
        return Err(AbiError::unsupported(format!(
            "generate: {depth} depth tokens, the prompt's {} tokens and max_tokens = {} need {needed} tokens, more than the context size {n_ctx}",
            prompt.len(),
            request.max_tokens
        )));
    }
    s.clear()?;
    if depth > 0 {
        s.feed(&request.depth_tokens, 0, false)?;
    }
    let prefill_start = Instant::now();
    let mut next = s.feed(&prompt, depth, true)?.ok_or_else(missing_next)?;
    let mut times = Vec::with_capacity(request.max_tokens as usize);
    let mut counters = Counters { prompt_tokens: prompt.len() as u64, generated_tokens: 0 };
    let mut bytes = Vec::new();
    let mut pos = depth + prompt.len();
    let mut stop_at = None;
    let finish = loop {
        times.push(since(Instant::now()));
        if !request.ignore_eog && s.is_eog(next) {
            break "eog";
        }
        counters.generated_tokens += 1;
        let before = bytes.len();
        s.piece(next, &mut bytes);
        // A stop that begins before this window ended before this token and was found then.
        stop_at = find_stop(&bytes, before.saturating_sub(longest_stop.saturating_sub(1)), &stops);
        if stop_at.is_some() {
            break "stop";
        }
        if counters.generated_tokens >= u64::from(request.max_tokens) {
            break "max_tokens";
        }
        next = s.feed(&[next], pos, true)?.ok_or_else(missing_next)?;
        pos += 1;
    };
    if let Some(at) = stop_at {
        bytes.truncate(at);
    }
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let first = times[0];
    let last = times[times.len() - 1];
    let steps = times.len() - 1;
    let tps = if steps > 0 && last > first { steps as f64 / (last - first) } else { 0.0 };
    Ok(TimedGeneration {
        generation: Generation {
            text: text.into(),
            finish: finish.into(),
            time_to_first_token_s: first,
            decode_tokens_per_s: tps,
            counters,
        },
        prompt_tokens: prompt.len() as u32,
        prefill_start_s: since(prefill_start),
        token_times_s: times.into(),
    })
}

/// [`Model::generate`](joulebench_abi::Model::generate) by way of [`generate_timed`].
pub fn generate<S: Stepper>(s: &mut S, request: &GenerateRequest) -> Result<Generation, AbiError> {
    let timed = TimedRequest {
        prompt: request.prompt.clone(),
        max_tokens: request.max_tokens,
        stop: request.stop.clone(),
        ..TimedRequest::default()
    };
    generate_timed(s, &timed).map(|t| t.generation)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model that answers `next = last + 1` and ends generation at token 9.
    struct Counting {
        fed: Vec<(Vec<i32>, usize)>,
    }

    impl Stepper for Counting {
        fn tokenize(&self, text: &str) -> Result<Vec<i32>, AbiError> {
            Ok(text.bytes().map(|b| i32::from(b - b'0')).collect())
        }
        fn context_size(&self) -> usize {
            32
        }
        fn clear(&mut self) -> Result<(), AbiError> {
            self.fed.clear();
            Ok(())
        }
        fn feed(&mut self, t: &[i32], pos: usize, want: bool) -> Result<Option<i32>, AbiError> {
            self.fed.push((t.to_vec(), pos));
            Ok(want.then(|| t[t.len() - 1] + 1))
        }
        fn is_eog(&self, token: i32) -> bool {
            token == 9
        }
        fn piece(&self, token: i32, bytes: &mut Vec<u8>) {
            bytes.extend(token.to_string().bytes());
        }
    }

    fn request(prompt: &str, max_tokens: u32) -> TimedRequest {
        TimedRequest { prompt: prompt.into(), max_tokens, ..TimedRequest::default() }
    }

    #[test]
    fn tokens_are_timed_in_order_and_counted() {
        let mut m = Counting { fed: vec![] };
        let g = generate_timed(&mut m, &request("12", 3)).unwrap();
        assert_eq!(g.generation.text.as_str(), "345");
        assert_eq!(g.generation.finish.as_str(), "max_tokens");
        assert_eq!(g.generation.counters, Counters { prompt_tokens: 2, generated_tokens: 3 });
        assert_eq!(g.token_times_s.len(), 3);
        assert!(g.token_times_s.windows(2).all(|w| w[0] <= w[1]));
        assert!(g.prefill_start_s <= g.token_times_s[0]);
        assert_eq!(m.fed, vec![(vec![1, 2], 0), (vec![3], 2), (vec![4], 3)]);
    }

    #[test]
    fn depth_goes_first_untimed_and_eog_ends_unless_ignored() {
        let mut m = Counting { fed: vec![] };
        let r = TimedRequest {
            prompt_tokens: vec![6].into(),
            depth_tokens: vec![0, 0, 0].into(),
            max_tokens: 5,
            ..TimedRequest::default()
        };
        let g = generate_timed(&mut m, &r).unwrap();
        assert_eq!(m.fed[0], (vec![0, 0, 0], 0));
        assert_eq!(m.fed[1], (vec![6], 3));
        assert_eq!(g.generation.text.as_str(), "78");
        assert_eq!(g.generation.finish.as_str(), "eog");
        assert_eq!(g.token_times_s.len(), 3, "the end-of-generation token was computed");
        assert_eq!(g.prompt_tokens, 1);

        let g = generate_timed(&mut m, &TimedRequest { ignore_eog: true, ..r }).unwrap();
        assert_eq!(g.generation.counters.generated_tokens, 5);
        assert_eq!(g.generation.finish.as_str(), "max_tokens");
    }

    #[test]
    fn stop_strings_end_and_are_cut_and_the_context_is_checked() {
        let mut m = Counting { fed: vec![] };
        let r = TimedRequest { stop: vec!["45".into()].into(), ..request("2", 6) };
        let g = generate_timed(&mut m, &r).unwrap();
        assert_eq!(g.generation.text.as_str(), "3");
        assert_eq!(g.generation.finish.as_str(), "stop");
        let e = generate_timed(&mut m, &request("12", 31)).unwrap_err();
        assert!(e.message.contains("more than the context size 32"), "{e}");
    }

    #[test]
    fn stops_are_found_from_the_window_on_in_bytes() {
        let stops = ["«end»", "x"];
        let text = "ab«end»x".as_bytes();
        assert_eq!(find_stop(text, 0, &stops), Some(2));
        assert_eq!(find_stop(text, 3, &stops), Some(text.len() - 1));
        assert_eq!(find_stop(text, text.len(), &stops), None);
        assert_eq!(find_stop(text, text.len() + 1, &stops), None);
    }
}
