//! The transformer on burn tensors: Llama (SmolLM2) and Gemma 3, loaded from GGUF with every
//! weight dequantized to `f32` once.
//!
//! One forward pass takes a batch of equal-length token rows that continue an optional cached
//! prefix (batch 1, shared by every row), and returns the keys and values of every layer and the
//! logits of the requested positions only. Attention is written out (grouped-query heads share
//! their key/value head without copying it; an additive mask holds the causal and sliding-window
//! rules) so that the prefix cache and the batch broadcast cleanly.
//!
//! RoPE: Gemma's GGUF uses llama.cpp's NEOX mode (rotating dimension `i` with `i + d/2`); Llama's
//! uses the NORM mode (adjacent pairs). Llama's Q and K rows are permuted within each head at load
//! time so that one NEOX implementation serves both: the permutation is applied to Q and K alike,
//! so their dot products, and everything after them, are unchanged.

use burn::tensor::activation::{gelu_approximate, silu, softmax};
use burn::tensor::{Device, Int, Tensor, TensorData};
use joulebench_gguf::Gguf;

/// The supported architectures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// Llama (SmolLM2).
    Llama,
    /// Gemma 3.
    Gemma3,
}

/// Hyperparameters read from the GGUF metadata.
#[derive(Debug, Clone)]
pub struct Hparams {
    /// The architecture.
    pub arch: Arch,
    /// Transformer blocks.
    pub n_layer: usize,
    /// Embedding width.
    pub d: usize,
    /// Query heads.
    pub n_head: usize,
    /// Key/value heads.
    pub n_kv: usize,
    /// Head width.
    pub head_dim: usize,
    /// Feed-forward width.
    pub ffn: usize,
    /// RMSNorm epsilon.
    pub eps: f64,
    /// RoPE base of global layers.
    pub rope_base: f64,
    /// RoPE base of sliding-window layers.
    pub rope_base_swa: f64,
    /// The sliding window, for the layers that have one.
    pub window: Option<usize>,
    /// Which layers use the sliding window.
    pub swa: Vec<bool>,
    /// Vocabulary size.
    pub vocab: usize,
    /// The context length the model was trained with.
    pub context_length: usize,
    /// Factor on the token embeddings.
    pub embd_scale: f32,
    /// Factor on the queries.
    pub attn_scale: f64,
    /// Final logit soft-capping.
    pub softcap: Option<f32>,
}

impl Hparams {
    /// Reads the hyperparameters of a supported architecture.
    pub fn from_gguf(g: &Gguf) -> Result<Hparams, String> {
        let e = |x: joulebench_gguf::GgufError| x.to_string();
        let arch_name = g.architecture().map_err(e)?;
        let arch = match arch_name {
            "llama" => Arch::Llama,
            "gemma3" => Arch::Gemma3,
            other => {
                return Err(format!(
                    "{}: architecture {other:?} is not supported (llama, gemma3)",
                    g.path.display()
                ));
            }
        };
        let key = |k: &str| format!("{arch_name}.{k}");
        let u = |k: &str| g.get_u64(&key(k)).map(|v| v as usize).map_err(e);
        let n_layer = u("block_count")?;
        let d = u("embedding_length")?;
        let n_head = u("attention.head_count")?;
        let n_kv = u("attention.head_count_kv").unwrap_or(n_head);
        let head_dim = u("attention.key_length").unwrap_or(d / n_head.max(1));
        let ffn = u("feed_forward_length")?;
        let eps = g.get_f64(&key("attention.layer_norm_rms_epsilon")).map_err(e)?;
        let rope_base = g.get_f64(&key("rope.freq_base")).unwrap_or(10000.0);
        let rope_base_swa = g.get_f64(&key("rope.freq_base_swa")).unwrap_or(10000.0);
        let context_length = u("context_length").unwrap_or(2048);
        let vocab = g.get_array("tokenizer.ggml.tokens").map_err(e)?.len();
        if n_head == 0 || n_kv == 0 || n_head % n_kv != 0 || head_dim % 2 != 0 {
            return Err(format!(
                "{}: {n_head} query heads, {n_kv} key/value heads and head width {head_dim} do \
                 not fit together",
                g.path.display()
            ));
        }
        let (window, swa, embd_scale, softcap) = match arch {
            Arch::Llama => (None, vec![false; n_layer], 1.0, None),
            Arch::Gemma3 => {
                let window = u("attention.sliding_window").ok().filter(|&w| w > 0);
                let pattern = u("attention.sliding_window_pattern").unwrap_or(6).max(1);
                let swa =
                    (0..n_layer).map(|l| window.is_some() && l % pattern < pattern - 1).collect();
                let softcap = g.get_f64(&key("final_logit_softcapping")).ok().map(|v| v as f32);
                (window, swa, (d as f32).sqrt(), softcap.filter(|&c| c > 0.0))
            }
        };
        Ok(Hparams {
            arch,
            n_layer,
            d,
            n_head,
            n_kv,
            head_dim,
            ffn,
            eps,
            rope_base,
            rope_base_swa,
            window,
            swa,
            vocab,
            context_length,
            embd_scale,
            attn_scale: 1.0 / (head_dim as f64).sqrt(),
            softcap,
        })
    }
}

struct Layer {
    attn_norm: Tensor<2>,
    wq: Tensor<2>,
    wk: Tensor<2>,
    wv: Tensor<2>,
    wo: Tensor<2>,
    q_norm: Option<Tensor<2>>,
    k_norm: Option<Tensor<2>>,
    post_attn_norm: Option<Tensor<2>>,
    ffn_norm: Tensor<2>,
    w_gate: Tensor<2>,
    w_up: Tensor<2>,
    w_down: Tensor<2>,
    post_ffn_norm: Option<Tensor<2>>,
}

/// Keys and values of every layer, each `[batch, n_kv, tokens, head_dim]`.
#[derive(Clone)]
pub struct KvCache {
    layers: Vec<(Tensor<4>, Tensor<4>)>,
    /// Tokens held.
    pub len: usize,
}

/// A loaded model.
pub struct Transformer {
    /// Hyperparameters.
    pub hp: Hparams,
    layers: Vec<Layer>,
    out_norm: Tensor<2>,
    /// Token embeddings, `[vocab, d]` row-major (looked up on the host).
    embd: Vec<f32>,
    /// The output projection `[d, vocab]`.
    head: Tensor<2>,
    device: Device,
}

/// `[rows, cols]` row-major data of a GGUF matrix with `dims = [cols, rows]`.
fn matrix(g: &Gguf, name: &str, cols: usize, rows: usize) -> Result<Vec<f32>, String> {
    let t =
        g.tensor(name).ok_or_else(|| format!("{}: tensor {name} is missing", g.path.display()))?;
    if t.dims != [cols as u64, rows as u64] {
        return Err(format!(
            "{}: tensor {name} has dimensions {:?}, expected [{cols}, {rows}]",
            g.path.display(),
            t.dims
        ));
    }
    g.tensor_f32(name).map_err(|e| e.to_string())
}

fn transpose(w: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0f32; w.len()];
    const B: usize = 32;
    for r0 in (0..rows).step_by(B) {
        for c0 in (0..cols).step_by(B) {
            for r in r0..(r0 + B).min(rows) {
                for c in c0..(c0 + B).min(cols) {
                    out[c * rows + r] = w[r * cols + c];
                }
            }
        }
    }
    out
}

/// Rows of each head reordered from adjacent RoPE pairs to NEOX halves.
fn interleaved_to_neox(w: &[f32], heads: usize, head_dim: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0f32; w.len()];
    let half = head_dim / 2;
    for h in 0..heads {
        for j in 0..head_dim {
            let src = if j < half { 2 * j } else { 2 * (j - half) + 1 };
            let (o, s) = ((h * head_dim + j) * cols, (h * head_dim + src) * cols);
            out[o..o + cols].copy_from_slice(&w[s..s + cols]);
        }
    }
    out
}

impl Transformer {
    /// Loads the weights of `g` onto `device`.
    pub fn load(g: &Gguf, device: &Device) -> Result<Transformer, String> {
        let hp = Hparams::from_gguf(g)?;
        let (d, hd) = (hp.d, hp.head_dim);
        let q_out = hp.n_head * hd;
        let kv_out = hp.n_kv * hd;
        let tensor2 = |v: Vec<f32>, r: usize, c: usize| {
            Tensor::<2>::from_data(TensorData::new(v, [r, c]), device)
        };
        // A linear layer as `[in, out]` for `x @ w`.
        let linear = |name: String, input: usize, output: usize, neox_heads: Option<usize>| {
            let mut w = matrix(g, &name, input, output)?;
            if let Some(heads) = neox_heads {
                w = interleaved_to_neox(&w, heads, hd, input);
            }
            Ok::<_, String>(tensor2(transpose(&w, output, input), input, output))
        };
        let vector = |name: String, n: usize| {
            let t = g
                .tensor(&name)
                .ok_or_else(|| format!("{}: tensor {name} is missing", g.path.display()))?;
            if t.dims != [n as u64] {
                return Err(format!(
                    "{}: tensor {name} has dimensions {:?}, expected [{n}]",
                    g.path.display(),
                    t.dims
                ));
            }
            Ok(tensor2(g.tensor_f32(&name).map_err(|e| e.to_string())?, 1, n))
        };
        let gemma = hp.arch == Arch::Gemma3;
        let rope_perm = |heads| if gemma { None } else { Some(heads) };
        let mut layers = Vec::with_capacity(hp.n_layer);
        for l in 0..hp.n_layer {
            let n = |s: &str| format!("blk.{l}.{s}.weight");
            layers.push(Layer {
                attn_norm: vector(n("attn_norm"), d)?,
                wq: linear(n("attn_q"), d, q_out, rope_perm(hp.n_head))?,
                wk: linear(n("attn_k"), d, kv_out, rope_perm(hp.n_kv))?,
                wv: linear(n("attn_v"), d, kv_out, None)?,
                wo: linear(n("attn_output"), q_out, d, None)?,
                q_norm: if gemma { Some(vector(n("attn_q_norm"), hd)?) } else { None },
                k_norm: if gemma { Some(vector(n("attn_k_norm"), hd)?) } else { None },
                post_attn_norm: if gemma {
                    Some(vector(n("post_attention_norm"), d)?)
                } else {
                    None
                },
                ffn_norm: vector(n("ffn_norm"), d)?,
                w_gate: linear(n("ffn_gate"), d, hp.ffn, None)?,
                w_up: linear(n("ffn_up"), d, hp.ffn, None)?,
                w_down: linear(n("ffn_down"), hp.ffn, d, None)?,
                post_ffn_norm: if gemma { Some(vector(n("post_ffw_norm"), d)?) } else { None },
            });
        }
        let out_norm = vector("output_norm.weight".into(), d)?;
        let embd = matrix(g, "token_embd.weight", d, hp.vocab)?;
        let head = if g.tensor("output.weight").is_some() {
            linear("output.weight".into(), d, hp.vocab, None)?
        } else {
            tensor2(transpose(&embd, hp.vocab, d), d, hp.vocab)
        };
        Ok(Transformer { hp, layers, out_norm, embd, head, device: device.clone() })
    }

    fn rms_norm(&self, x: Tensor<2>, w: &Tensor<2>) -> Tensor<2> {
        let ms = x.clone().square().mean_dim(1);
        x * ms.add_scalar(self.hp.eps).sqrt().recip() * w.clone()
    }

    /// cos and sin tables `[1, 1, len, head_dim]` for positions `start..start + len`.
    fn rope_tables(&self, base: f64, start: usize, len: usize) -> (Tensor<4>, Tensor<4>) {
        let hd = self.hp.head_dim;
        let half = hd / 2;
        let mut cos = vec![0f32; len * hd];
        let mut sin = vec![0f32; len * hd];
        for p in 0..len {
            let pos = (start + p) as f64;
            for i in 0..half {
                let theta = pos * base.powf(-2.0 * i as f64 / hd as f64);
                let (s, c) = theta.sin_cos();
                cos[p * hd + i] = c as f32;
                cos[p * hd + half + i] = c as f32;
                sin[p * hd + i] = -s as f32;
                sin[p * hd + half + i] = s as f32;
            }
        }
        let t = |v| Tensor::<4>::from_data(TensorData::new(v, [1, 1, len, hd]), &self.device);
        (t(cos), t(sin))
    }

    /// NEOX RoPE on `[batch, heads, len, head_dim]`; `sin` carries the rotation's sign.
    fn rope(x: Tensor<4>, cos: &Tensor<4>, sin: &Tensor<4>, half: usize) -> Tensor<4> {
        let x1 = x.clone().narrow(3, 0, half);
        let x2 = x.clone().narrow(3, half, half);
        let rotated = Tensor::cat(vec![x2, x1], 3);
        x * cos.clone() + rotated * sin.clone()
    }

    /// Additive mask `[1, 1, group * len, start + len]` for queries at `start..start + len`.
    fn mask(&self, start: usize, len: usize, window: Option<usize>) -> Tensor<4> {
        let g = self.hp.n_head / self.hp.n_kv;
        let t = start + len;
        let mut m = vec![0f32; len * t];
        for s in 0..len {
            let q = start + s;
            for (k, v) in m[s * t..(s + 1) * t].iter_mut().enumerate() {
                let visible = k <= q && window.is_none_or(|w| q - k < w);
                if !visible {
                    *v = f32::NEG_INFINITY;
                }
            }
        }
        let mut full = Vec::with_capacity(g * m.len());
        for _ in 0..g {
            full.extend_from_slice(&m);
        }
        Tensor::<4>::from_data(TensorData::new(full, [1, 1, g * len, t]), &self.device)
    }

    /// Runs `rows` (each of the same length, continuing `prefix` when given) and returns the new
    /// cache (prefix included) and the logits `[out.len(), vocab]` of the positions `out`
    /// (indices into the flattened `batch × len` rows).
    pub fn forward(
        &self,
        rows: &[Vec<u32>],
        prefix: Option<&KvCache>,
        out: &[usize],
    ) -> Result<(KvCache, Vec<f32>), String> {
        let hp = &self.hp;
        let b = rows.len();
        let len = rows.first().map_or(0, Vec::len);
        if b == 0 || len == 0 || rows.iter().any(|r| r.len() != len) {
            return Err("forward needs a non-empty batch of equal-length rows".into());
        }
        let start = prefix.map_or(0, |p| p.len);
        let n = b * len;
        let (d, hd, nh, nkv) = (hp.d, hp.head_dim, hp.n_head, hp.n_kv);
        let g = nh / nkv;
        let mut x = Vec::with_capacity(n * d);
        for &tok in rows.iter().flatten() {
            let t = tok as usize;
            if t >= hp.vocab {
                return Err(format!("token id {t} outside the vocabulary ({})", hp.vocab));
            }
            x.extend(self.embd[t * d..(t + 1) * d].iter().map(|v| v * hp.embd_scale));
        }
        let mut x = Tensor::<2>::from_data(TensorData::new(x, [n, d]), &self.device);
        let global = (self.rope_tables(hp.rope_base, start, len), self.mask(start, len, None));
        let local = if hp.swa.iter().any(|&s| s) {
            Some((self.rope_tables(hp.rope_base_swa, start, len), self.mask(start, len, hp.window)))
        } else {
            None
        };
        let mut cache = Vec::with_capacity(hp.n_layer);
        for (l, layer) in self.layers.iter().enumerate() {
            let ((cos, sin), mask) = match (&local, hp.swa[l]) {
                (Some(loc), true) => (&loc.0, &loc.1),
                _ => (&global.0, &global.1),
            };
            let h = self.rms_norm(x.clone(), &layer.attn_norm);
            let mut q = h.clone().matmul(layer.wq.clone());
            let mut k = h.clone().matmul(layer.wk.clone());
            let v = h.matmul(layer.wv.clone());
            if let (Some(qn), Some(kn)) = (&layer.q_norm, &layer.k_norm) {
                q = self.rms_norm(q.reshape([n * nh, hd]), qn).reshape([n, nh * hd]);
                k = self.rms_norm(k.reshape([n * nkv, hd]), kn).reshape([n, nkv * hd]);
            }
            let q = q.reshape([b, len, nh, hd]).swap_dims(1, 2);
            let k = k.reshape([b, len, nkv, hd]).swap_dims(1, 2);
            let v = v.reshape([b, len, nkv, hd]).swap_dims(1, 2);
            let q = Self::rope(q, cos, sin, hd / 2).mul_scalar(hp.attn_scale);
            let k = Self::rope(k, cos, sin, hd / 2);
            let (k, v) = match prefix {
                Some(p) => {
                    let (pk, pv) = &p.layers[l];
                    let (pk, pv) = if b == 1 {
                        (pk.clone(), pv.clone())
                    } else {
                        (
                            pk.clone().expand([b, nkv, start, hd]),
                            pv.clone().expand([b, nkv, start, hd]),
                        )
                    };
                    (Tensor::cat(vec![pk, k], 2), Tensor::cat(vec![pv, v], 2))
                }
                None => (k, v),
            };
            let qg = q.reshape([b, nkv, g * len, hd]);
            let scores = qg.matmul(k.clone().swap_dims(2, 3)) + mask.clone();
            let att = softmax(scores, 3).matmul(v.clone());
            let att = att.reshape([b, nh, len, hd]).swap_dims(1, 2).reshape([n, nh * hd]);
            let mut o = att.matmul(layer.wo.clone());
            if let Some(pn) = &layer.post_attn_norm {
                o = self.rms_norm(o, pn);
            }
            x = x + o;
            let h = self.rms_norm(x.clone(), &layer.ffn_norm);
            let gate = h.clone().matmul(layer.w_gate.clone());
            let up = h.matmul(layer.w_up.clone());
            let act = match hp.arch {
                Arch::Llama => silu(gate),
                Arch::Gemma3 => gelu_approximate(gate),
            };
            let mut f = (act * up).matmul(layer.w_down.clone());
            if let Some(pn) = &layer.post_ffn_norm {
                f = self.rms_norm(f, pn);
            }
            x = x + f;
            cache.push((k, v));
        }
        let cache = KvCache { layers: cache, len: start + len };
        if out.is_empty() {
            return Ok((cache, Vec::new()));
        }
        if let Some(&bad) = out.iter().find(|&&i| i >= n) {
            return Err(format!("output row {bad} outside the batch ({n} rows)"));
        }
        let idx: Vec<i64> = out.iter().map(|&i| i as i64).collect();
        let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [out.len()]), &self.device);
        let sel = self.rms_norm(x.select(0, idx), &self.out_norm);
        let mut logits = sel.matmul(self.head.clone());
        if let Some(c) = hp.softcap {
            logits = logits.div_scalar(c).tanh().mul_scalar(c);
        }
        let logits =
            logits.try_into_vec_as::<f32>().map_err(|e| format!("reading logits: {e:?}"))?;
        Ok((cache, logits))
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }
}
