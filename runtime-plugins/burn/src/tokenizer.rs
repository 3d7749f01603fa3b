//! The tokenizer built from a GGUF file's own vocabulary, following llama.cpp's algorithms so
//! that both runtimes see the same tokens: byte-level BPE with ranked merges and llama.cpp's
//! pre-tokenizer for `tokenizer.ggml.model = "gpt2"`, and SentencePiece-style score-driven
//! merges with byte fallback for `"llama"`. User-defined tokens are split out of the text first,
//! as llama.cpp does even when special tokens are not parsed; control tokens never are.

use std::collections::{BinaryHeap, HashMap};
use std::sync::OnceLock;

use joulebench_gguf::{Gguf, Value};

const TOKEN_NORMAL: i32 = 1;
const TOKEN_CONTROL: i32 = 3;
const TOKEN_USER_DEFINED: i32 = 4;
const SPM_SPACE: &str = "\u{2581}";

#[derive(Debug)]
enum Kind {
    /// Byte-level BPE; `digits` says whether every number character is split off first.
    Bpe { ranks: HashMap<String, u32>, digits: bool },
    /// SentencePiece-style.
    Spm { add_space_prefix: bool, byte_tokens: Vec<Option<u32>> },
}

/// A tokenizer equal to llama.cpp's for the vocabularies joulebench's models use.
#[derive(Debug)]
pub struct Tokenizer {
    kind: Kind,
    tokens: Vec<String>,
    types: Vec<i32>,
    scores: Vec<f32>,
    to_id: HashMap<String, u32>,
    /// User-defined tokens, longest text first: split out of raw text before tokenizing.
    user_defined: Vec<u32>,
    bos: Option<u32>,
    add_bos: bool,
    eog: Vec<u32>,
}

fn strings(g: &Gguf, key: &str) -> Result<Vec<String>, String> {
    let arr = g.get_array(key).map_err(|e| e.to_string())?;
    arr.iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_str().map(str::to_owned).ok_or_else(|| {
                format!("{}: metadata key {key}[{i}]: not a string", g.path.display())
            })
        })
        .collect()
}

impl Tokenizer {
    /// Builds the tokenizer from `tokenizer.ggml.*` metadata.
    pub fn from_gguf(g: &Gguf) -> Result<Tokenizer, String> {
        let file = g.path.display().to_string();
        let model = g.get_str("tokenizer.ggml.model").map_err(|e| e.to_string())?;
        let tokens = strings(g, "tokenizer.ggml.tokens")?;
        let n = tokens.len();
        let types: Vec<i32> = match g.get("tokenizer.ggml.token_type") {
            Some(Value::Array(a)) => a.iter().map(|v| v.as_i64().unwrap_or(1) as i32).collect(),
            _ => vec![TOKEN_NORMAL; n],
        };
        if types.len() != n {
            return Err(format!(
                "{file}: metadata key tokenizer.ggml.token_type has {} entries for {n} tokens",
                types.len()
            ));
        }
        let scores: Vec<f32> = match g.get("tokenizer.ggml.scores") {
            Some(Value::Array(a)) => a.iter().map(|v| v.as_f64().unwrap_or(0.0) as f32).collect(),
            _ => vec![0.0; n],
        };
        let mut to_id = HashMap::with_capacity(n);
        for (i, t) in tokens.iter().enumerate() {
            to_id.insert(t.clone(), i as u32);
        }
        let id_key = |key: &str| -> Option<u32> {
            g.get(key)
                .and_then(Value::as_u64)
                .and_then(|v| u32::try_from(v).ok())
                .filter(|&v| (v as usize) < n)
        };
        let flag =
            |key: &str, default: bool| g.get(key).and_then(Value::as_bool).unwrap_or(default);
        let (kind, add_bos_default) = match model {
            "gpt2" => {
                let pre = g.get("tokenizer.ggml.pre").and_then(Value::as_str).unwrap_or("default");
                let digits = match pre {
                    "smollm" | "starcoder" | "refact" | "command-r" | "codeshell" | "exaone"
                    | "minerva-7b" => true,
                    "gpt-2" | "gpt2" | "phi-2" | "jina-es" | "jina-de" => false,
                    other => {
                        return Err(format!(
                            "{file}: metadata key tokenizer.ggml.pre: pre-tokenizer {other:?} is not \
                             supported"
                        ));
                    }
                };
                let merges = strings(g, "tokenizer.ggml.merges")?;
                let mut ranks = HashMap::with_capacity(merges.len());
                for (i, m) in merges.iter().enumerate() {
                    if !m.contains(' ') {
                        return Err(format!(
                            "{file}: metadata key tokenizer.ggml.merges[{i}]: {m:?} has no space"
                        ));
                    }
                    ranks.entry(m.clone()).or_insert(i as u32);
                }
                (Kind::Bpe { ranks, digits }, false)
            }
            "llama" => {
                let byte_tokens =
                    (0..=255u8).map(|b| to_id.get(&format!("<0x{b:02X}>")).copied()).collect();
                let add_space_prefix = flag("tokenizer.ggml.add_space_prefix", true);
                (Kind::Spm { add_space_prefix, byte_tokens }, true)
            }
            other => {
                return Err(format!(
                    "{file}: metadata key tokenizer.ggml.model: tokenizer {other:?} is not supported"
                ));
            }
        };
        let mut user_defined: Vec<u32> =
            (0..n as u32).filter(|&i| types[i as usize] == TOKEN_USER_DEFINED).collect();
        user_defined.sort_by_key(|&i| std::cmp::Reverse(tokens[i as usize].len()));
        let eos = id_key("tokenizer.ggml.eos_token_id");
        let mut eog: Vec<u32> = eos.into_iter().collect();
        for name in ["<|endoftext|>", "<|im_end|>", "<end_of_turn>", "<|eot_id|>", "<eos>", "</s>"]
        {
            if let Some(&id) = to_id.get(name)
                && types[id as usize] == TOKEN_CONTROL
                && !eog.contains(&id)
            {
                eog.push(id);
            }
        }
        Ok(Tokenizer {
            kind,
            add_bos: flag("tokenizer.ggml.add_bos_token", add_bos_default),
            bos: id_key("tokenizer.ggml.bos_token_id"),
            tokens,
            types,
            scores,
            to_id,
            user_defined,
            eog,
        })
    }

    /// The vocabulary size.
    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    /// The vocabulary's text of token `id`.
    pub fn token_text(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    /// Whether `id` ends generation.
    pub fn is_eog(&self, id: u32) -> bool {
        self.eog.contains(&id)
    }

    /// Tokenizes `text`; with `add_special`, a BOS is put first when the vocabulary asks for one.
    /// Special-token text is never parsed as special (user-defined tokens are matched, as in
    /// llama.cpp).
    pub fn encode(&self, text: &str, add_special: bool) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 3 + 2);
        let bos = if add_special && self.add_bos { self.bos } else { None };
        out.extend(bos);
        let mut prev_special = true;
        for frag in self.partition(text) {
            match frag {
                Fragment::Token(id) => {
                    out.push(id);
                    prev_special = true;
                }
                Fragment::Text(t) => {
                    match &self.kind {
                        Kind::Bpe { ranks, digits } => self.bpe(t, ranks, *digits, &mut out),
                        Kind::Spm { add_space_prefix, byte_tokens } => {
                            let mut s = String::with_capacity(t.len() + 1);
                            if *add_space_prefix && prev_special {
                                s.push(' ');
                            }
                            s.push_str(t);
                            self.spm(&s.replace(' ', SPM_SPACE), byte_tokens, &mut out);
                        }
                    }
                    prev_special = false;
                }
            }
        }
        out
    }

    /// The text of `id` as generated output (control tokens render as nothing).
    pub fn decode_bytes(&self, id: u32, out: &mut Vec<u8>) {
        let Some(t) = self.tokens.get(id as usize) else { return };
        match self.types[id as usize] {
            TOKEN_CONTROL => {}
            TOKEN_USER_DEFINED => out.extend_from_slice(t.as_bytes()),
            ty => match &self.kind {
                Kind::Bpe { .. } => {
                    let table = byte_decoder();
                    for c in t.chars() {
                        match table.get(&c) {
                            Some(&b) => out.push(b),
                            None => out.extend_from_slice(c.to_string().as_bytes()),
                        }
                    }
                }
                Kind::Spm { .. } => {
                    if ty == 6
                        && let Some(hex) = t.strip_prefix("<0x").and_then(|h| h.strip_suffix('>'))
                        && let Ok(b) = u8::from_str_radix(hex, 16)
                    {
                        out.push(b);
                    } else {
                        out.extend_from_slice(t.replace(SPM_SPACE, " ").as_bytes());
                    }
                }
            },
        }
    }

    fn partition<'a>(&self, text: &'a str) -> Vec<Fragment<'a>> {
        let mut frags = vec![Fragment::Text(text)];
        if text.is_empty() {
            return Vec::new();
        }
        for &id in &self.user_defined {
            let needle = self.tokens[id as usize].as_str();
            if needle.is_empty() {
                continue;
            }
            let mut next = Vec::with_capacity(frags.len());
            for f in frags {
                match f {
                    Fragment::Text(t) if t.contains(needle) => {
                        let mut rest = t;
                        while let Some(at) = rest.find(needle) {
                            if at > 0 {
                                next.push(Fragment::Text(&rest[..at]));
                            }
                            next.push(Fragment::Token(id));
                            rest = &rest[at + needle.len()..];
                        }
                        if !rest.is_empty() {
                            next.push(Fragment::Text(rest));
                        }
                    }
                    other => next.push(other),
                }
            }
            frags = next;
        }
        frags
    }

    fn bpe(&self, text: &str, ranks: &HashMap<String, u32>, digits: bool, out: &mut Vec<u32>) {
        let flags = char_flags();
        let chars: Vec<char> = text.chars().collect();
        let mut pieces: Vec<&[char]> = Vec::new();
        if digits {
            let mut start = 0;
            for (i, &c) in chars.iter().enumerate() {
                if flags.is_number(c) {
                    if i > start {
                        pieces.push(&chars[start..i]);
                    }
                    pieces.push(&chars[i..i + 1]);
                    start = i + 1;
                }
            }
            if start < chars.len() {
                pieces.push(&chars[start..]);
            }
        } else {
            pieces.push(&chars);
        }
        let enc = byte_encoder();
        let mut word = String::new();
        let mut buf = [0u8; 4];
        for piece in pieces {
            for w in gpt2_split(piece, flags) {
                word.clear();
                for &c in w {
                    for &b in c.encode_utf8(&mut buf).as_bytes() {
                        word.push(enc[b as usize]);
                    }
                }
                self.bpe_word(&word, ranks, out);
            }
        }
    }

    fn bpe_word(&self, word: &str, ranks: &HashMap<String, u32>, out: &mut Vec<u32>) {
        // Symbols are byte ranges of `word`; a merged-away symbol has len 0.
        let mut sym: Vec<(usize, usize)> =
            word.char_indices().map(|(i, c)| (i, c.len_utf8())).collect();
        let n = sym.len();
        let mut prev: Vec<isize> = (0..n as isize).map(|i| i - 1).collect();
        let mut next: Vec<isize> =
            (0..n as isize).map(|i| if i + 1 == n as isize { -1 } else { i + 1 }).collect();
        // Min-heap on (rank, left) through Reverse; the text guards against stale entries.
        let mut heap: BinaryHeap<std::cmp::Reverse<(u32, usize, usize, String)>> =
            BinaryHeap::new();
        let text_of = |sym: &[(usize, usize)], i: usize| &word[sym[i].0..sym[i].0 + sym[i].1];
        let push = |heap: &mut BinaryHeap<_>, sym: &[(usize, usize)], l: isize, r: isize| {
            if l < 0 || r < 0 {
                return;
            }
            let (l, r) = (l as usize, r as usize);
            let key = format!("{} {}", text_of(sym, l), text_of(sym, r));
            if let Some(&rank) = ranks.get(&key) {
                let merged = format!("{}{}", text_of(sym, l), text_of(sym, r));
                heap.push(std::cmp::Reverse((rank, l, r, merged)));
            }
        };
        for i in 1..n {
            push(&mut heap, &sym, i as isize - 1, i as isize);
        }
        while let Some(std::cmp::Reverse((_, l, r, merged))) = heap.pop() {
            if sym[l].1 == 0 || sym[r].1 == 0 {
                continue;
            }
            if sym[l].1 + sym[r].1 != merged.len()
                || format!("{}{}", text_of(&sym, l), text_of(&sym, r)) != merged
            {
                continue;
            }
            sym[l].1 += sym[r].1;
            sym[r].1 = 0;
            next[l] = next[r];
            if next[r] >= 0 {
                prev[next[r] as usize] = l as isize;
            }
            push(&mut heap, &sym, prev[l], l as isize);
            push(&mut heap, &sym, l as isize, next[l]);
        }
        let mut i = if n == 0 { -1 } else { 0 };
        while i >= 0 {
            let t = text_of(&sym, i as usize);
            if let Some(&id) = self.to_id.get(t) {
                out.push(id);
            } else {
                for b in t.bytes() {
                    if let Some(&id) = self.to_id.get(&(b as char).to_string()) {
                        out.push(id);
                    }
                }
            }
            i = next[i as usize];
        }
    }

    fn spm(&self, text: &str, byte_tokens: &[Option<u32>], out: &mut Vec<u32>) {
        let mut sym: Vec<(usize, usize)> =
            text.char_indices().map(|(i, c)| (i, c.len_utf8())).collect();
        let n = sym.len();
        let mut prev: Vec<isize> = (0..n as isize).map(|i| i - 1).collect();
        let mut next: Vec<isize> =
            (0..n as isize).map(|i| if i + 1 == n as isize { -1 } else { i + 1 }).collect();
        let mut heap: BinaryHeap<SpmBigram> = BinaryHeap::new();
        let try_add =
            |heap: &mut BinaryHeap<SpmBigram>, sym: &[(usize, usize)], l: isize, r: isize| {
                if l < 0 || r < 0 {
                    return;
                }
                let (l, r) = (l as usize, r as usize);
                let s = &text[sym[l].0..sym[r].0 + sym[r].1];
                if let Some(&id) = self.to_id.get(s) {
                    heap.push(SpmBigram {
                        score: self.scores[id as usize],
                        left: l,
                        right: r,
                        size: s.len(),
                    });
                }
            };
        for i in 1..n {
            try_add(&mut heap, &sym, i as isize - 1, i as isize);
        }
        while let Some(b) = heap.pop() {
            let (l, r) = (b.left, b.right);
            if sym[l].1 == 0 || sym[r].1 == 0 || sym[l].1 + sym[r].1 != b.size {
                continue;
            }
            sym[l].1 += sym[r].1;
            sym[r].1 = 0;
            next[l] = next[r];
            if next[r] >= 0 {
                prev[next[r] as usize] = l as isize;
            }
            try_add(&mut heap, &sym, prev[l], l as isize);
            try_add(&mut heap, &sym, l as isize, next[l]);
        }
        let mut i = if n == 0 { -1 } else { 0 };
        while i >= 0 {
            let (start, len) = sym[i as usize];
            let s = &text[start..start + len];
            if let Some(&id) = self.to_id.get(s) {
                out.push(id);
            } else {
                for b in s.bytes() {
                    let id = byte_tokens[b as usize]
                        .or_else(|| self.to_id.get(&(b as char).to_string()).copied());
                    out.extend(id);
                }
            }
            i = next[i as usize];
        }
    }
}

enum Fragment<'a> {
    Text(&'a str),
    Token(u32),
}

/// A candidate SentencePiece merge: the highest score first, then the leftmost.
struct SpmBigram {
    score: f32,
    left: usize,
    right: usize,
    size: usize,
}

impl PartialEq for SpmBigram {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == std::cmp::Ordering::Equal
    }
}
impl Eq for SpmBigram {}
impl PartialOrd for SpmBigram {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for SpmBigram {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.score.total_cmp(&o.score).then(o.left.cmp(&self.left))
    }
}

/// GPT-2's pre-tokenizer regex
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`, applied as
/// llama.cpp's hand-written matcher does (the piece's end counts as "no character").
fn gpt2_split<'a>(cpts: &'a [char], f: &CharFlags) -> Vec<&'a [char]> {
    let end = cpts.len();
    let mut words = Vec::new();
    let get = |p: usize| if p < end { Some(cpts[p]) } else { None };
    let letter = |p: usize| get(p).is_some_and(|c| f.is_letter(c));
    let number = |p: usize| get(p).is_some_and(|c| f.is_number(c));
    let space = |p: usize| get(p).is_some_and(char::is_whitespace);
    let other = |p: usize| p < end && !space(p) && !letter(p) && !number(p);
    let mut start = 0;
    let mut pos = 0;
    while pos < end {
        let c = cpts[pos];
        if c == '\'' && pos + 1 < end {
            let n1 = cpts[pos + 1];
            if matches!(n1, 's' | 't' | 'm' | 'd') {
                pos += 2;
                words.push(&cpts[start..pos]);
                start = pos;
                continue;
            }
            if pos + 2 < end {
                let n2 = cpts[pos + 2];
                if matches!((n1, n2), ('r', 'e') | ('v', 'e') | ('l', 'l')) {
                    pos += 3;
                    words.push(&cpts[start..pos]);
                    start = pos;
                    continue;
                }
            }
        }
        let q = if c == ' ' { pos + 1 } else { pos };
        let class: Option<&dyn Fn(usize) -> bool> = if letter(q) {
            Some(&letter)
        } else if number(q) {
            Some(&number)
        } else if other(q) {
            Some(&other)
        } else {
            None
        };
        if let Some(class) = class {
            pos = q;
            while class(pos) {
                pos += 1;
            }
            words.push(&cpts[start..pos]);
            start = pos;
            continue;
        }
        let mut ws = 0;
        while space(pos + ws) {
            ws += 1;
        }
        if ws > 1 && pos + ws < end {
            pos += ws - 1;
        } else if ws > 0 {
            pos += ws;
        } else {
            pos += 1;
        }
        words.push(&cpts[start..pos]);
        start = pos;
    }
    words
}

/// Unicode categories \p{L} and \p{N} for every code point.
struct CharFlags {
    bits: Vec<u8>,
}

impl CharFlags {
    fn is_letter(&self, c: char) -> bool {
        self.bits[c as usize] & 1 != 0
    }
    fn is_number(&self, c: char) -> bool {
        self.bits[c as usize] & 2 != 0
    }
}

fn char_flags() -> &'static CharFlags {
    static FLAGS: OnceLock<CharFlags> = OnceLock::new();
    FLAGS.get_or_init(|| {
        let all: String = (0..=0x10ffffu32).filter_map(char::from_u32).collect();
        let mut bits = vec![0u8; 0x110000];
        for (pattern, bit) in [(r"\p{L}+", 1u8), (r"\p{N}+", 2u8)] {
            let Ok(re) = regex::Regex::new(pattern) else { continue };
            for m in re.find_iter(&all) {
                for c in m.as_str().chars() {
                    bits[c as usize] |= bit;
                }
            }
        }
        CharFlags { bits }
    })
}

/// GPT-2's byte-to-character table: printable bytes map to themselves, the rest to U+0100 on.
fn byte_encoder() -> &'static [char; 256] {
    static TABLE: OnceLock<[char; 256]> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = ['\0'; 256];
        let mut n = 0u32;
        for b in 0..=255u32 {
            let printable =
                (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
            t[b as usize] = if printable {
                char::from_u32(b).unwrap_or('\0')
            } else {
                n += 1;
                char::from_u32(255 + n).unwrap_or('\0')
            };
        }
        t
    })
}

fn byte_decoder() -> &'static HashMap<char, u8> {
    static TABLE: OnceLock<HashMap<char, u8>> = OnceLock::new();
    TABLE.get_or_init(|| byte_encoder().iter().enumerate().map(|(b, &c)| (c, b as u8)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpt2_split_follows_the_regex() {
        let f = char_flags();
        let s: Vec<char> = "Hello world's  a   b!! \n".chars().collect();
        let words: Vec<String> = gpt2_split(&s, f).iter().map(|w| w.iter().collect()).collect();
        assert_eq!(words, ["Hello", " world", "'s", " ", " a", "  ", " b", "!!", " \n"]);
    }

    #[test]
    fn byte_table_maps_space_to_g_dot() {
        assert_eq!(byte_encoder()[b' ' as usize], 'Ġ');
        assert_eq!(byte_encoder()[b'\n' as usize], 'Ċ');
        assert_eq!(byte_encoder()[b'a' as usize], 'a');
    }
}
