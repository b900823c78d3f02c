//! Text in and out. With the model folder's `tokenizer.json` (HF tokenizers) string prompts
//! are encoded with the model's special tokens (BOS), as vLLM does for completions, and
//! outputs decoded without special tokens. Without one the server speaks token ids only:
//! prompts must be id arrays, and a completion's `text` is its ids in decimal, joined by
//! commas (the same ids are always in `token_ids`).
//!
//! Either way the text never includes a stop token that ended the request (EOS or one of
//! `stop_token_ids`), as in vLLM; `token_ids` does.

use anyhow::{Context as _, Result};
use std::path::Path;
use std::sync::Arc;
use tokenizers::Tokenizer;

/// Prompt tokens decoded in front of the output, so that the first output token's text is
/// what it is in context (SentencePiece-style decoders drop the leading space of the first
/// token they see). vLLM and TGI use the same window.
const CONTEXT_TOKENS: usize = 5;

#[derive(Clone)]
pub enum Codec {
    Ids,
    Tokenizer(Arc<Tokenizer>),
}

impl Codec {
    /// The tokenizer of a model folder if it has one; token ids otherwise.
    pub fn load(dir: &Path) -> Result<Codec> {
        let file = dir.join("tokenizer.json");
        if !file.exists() {
            return Ok(Codec::Ids);
        }
        let tok = Tokenizer::from_file(&file).map_err(|e| anyhow::anyhow!("{e}")).with_context(|| format!("load {}", file.display()))?;
        Ok(Codec::Tokenizer(Arc::new(tok)))
    }

    pub fn has_tokenizer(&self) -> bool {
        matches!(self, Codec::Tokenizer(_))
    }

    pub fn encode(&self, text: &str) -> std::result::Result<Vec<u32>, String> {
        match self {
            Codec::Ids => Err("this server has no tokenizer (no tokenizer.json in the model folder): send the prompt as an array of token ids".into()),
            Codec::Tokenizer(t) => t.encode(text, true).map(|e| e.get_ids().to_vec()).map_err(|e| format!("the prompt cannot be tokenized: {e}")),
        }
    }

    /// A decoder for one request's output; `prompt` supplies the context window.
    pub fn decoder(&self, prompt: &[u32]) -> TextDecoder {
        let tail = &prompt[prompt.len().saturating_sub(CONTEXT_TOKENS)..];
        match self {
            Codec::Ids => TextDecoder::Ids { count: 0 },
            Codec::Tokenizer(t) => {
                let base = decode(t, tail);
                TextDecoder::Text(Incremental { tok: t.clone(), ids: tail.to_vec(), prefix_offset: 0, read_offset: tail.len(), context: tail.len(), base, emitted: String::new() })
            }
        }
    }
}

fn decode(t: &Tokenizer, ids: &[u32]) -> String {
    // Ids the tokenizer does not know (a model whose embedding is padded past the vocabulary)
    // decode to nothing rather than failing the request.
    t.decode(ids, true).unwrap_or_default()
}

/// Turns output tokens into text deltas whose concatenation is the decoded output, holding
/// back text while the last tokens end inside a multi-byte character (the decoder shows that
/// as U+FFFD until the rest arrives).
pub enum TextDecoder {
    Ids { count: usize },
    Text(Incremental),
}

pub struct Incremental {
    tok: Arc<Tokenizer>,
    /// The prompt's tail, then the output so far.
    ids: Vec<u32>,
    /// `ids[prefix_offset..read_offset]` has been emitted; decoding from `prefix_offset`
    /// rather than from the start keeps each step's cost bounded.
    prefix_offset: usize,
    read_offset: usize,
    context: usize,
    /// The prompt tail's own text, which is not output.
    base: String,
    emitted: String,
}

impl TextDecoder {
    /// The next output token (not a final stop token); returns the text to emit now.
    pub fn push(&mut self, token: u32) -> String {
        match self {
            TextDecoder::Ids { count } => {
                *count += 1;
                if *count == 1 {
                    token.to_string()
                } else {
                    format!(",{token}")
                }
            }
            TextDecoder::Text(d) => d.push(token),
        }
    }

    /// The output has ended: whatever text is still held back.
    pub fn finish(&mut self) -> String {
        match self {
            TextDecoder::Ids { .. } => String::new(),
            TextDecoder::Text(d) => d.finish(),
        }
    }
}

impl Incremental {
    fn push(&mut self, token: u32) -> String {
        self.ids.push(token);
        let before = decode(&self.tok, &self.ids[self.prefix_offset..self.read_offset]);
        let now = decode(&self.tok, &self.ids[self.prefix_offset..]);
        if now.len() <= before.len() || now.ends_with('\u{FFFD}') {
            return String::new(); // nothing new yet, or a character still incomplete
        }
        match now.strip_prefix(before.as_str()) {
            Some(delta) => {
                let delta = delta.to_string();
                self.prefix_offset = self.read_offset;
                self.read_offset = self.ids.len();
                self.emitted.push_str(&delta);
                delta
            }
            // The window's text is not an extension of what it was (a decoder that
            // rewrites earlier text); wait, and let `finish` settle it from the full text.
            None => String::new(),
        }
    }

    fn finish(&mut self) -> String {
        let full = self.full_text();
        match full.strip_prefix(self.emitted.as_str()) {
            Some(rest) => {
                let rest = rest.to_string();
                self.emitted.push_str(&rest);
                rest
            }
            None => String::new(),
        }
    }

    /// The whole output's text, in the context of the prompt's tail.
    fn full_text(&self) -> String {
        let with_context = decode(&self.tok, &self.ids);
        match with_context.strip_prefix(self.base.as_str()) {
            Some(out) => out.to_string(),
            // The tail ends inside a character that the output completes: no clean cut.
            None => decode(&self.tok, &self.ids[self.context..]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokenizers::decoders::byte_level::ByteLevel;
    use tokenizers::models::bpe::BPE;

    /// A byte-level BPE with only the 256 byte tokens: every UTF-8 byte is its own token, so
    /// multi-byte characters arrive in pieces.
    fn bytes_tokenizer() -> Tokenizer {
        let mut chars: Vec<char> = ByteLevel::alphabet().into_iter().collect();
        chars.sort_unstable();
        assert_eq!(chars.len(), 256);
        let vocab: [(String, u32); 256] = std::array::from_fn(|i| (chars[i].to_string(), i as u32));
        let bpe = BPE::builder().vocab_and_merges(vocab, vec![]).build().expect("bpe");
        let mut t = Tokenizer::new(bpe);
        t.with_pre_tokenizer(Some(ByteLevel::new(false, false, false)));
        t.with_decoder(Some(ByteLevel::default()));
        t
    }

    #[test]
    fn deltas_hold_back_partial_characters_and_add_up_to_the_text() {
        let codec = Codec::Tokenizer(Arc::new(bytes_tokenizer()));
        let ids = codec.encode("héllo → 世界!").expect("encode");
        assert!(ids.len() > "héllo → 世界!".chars().count(), "multi-byte characters should span several tokens");
        let (prompt, out) = ids.split_at(3);
        let mut dec = codec.decoder(prompt);
        let mut deltas = Vec::new();
        for &t in out {
            deltas.push(dec.push(t));
        }
        deltas.push(dec.finish());
        assert!(deltas.iter().all(|d| !d.contains('\u{FFFD}')), "{deltas:?}");
        assert!(deltas.iter().any(|d| d.is_empty()), "some byte must have been held back: {deltas:?}");
        assert_eq!(deltas.concat(), "llo → 世界!");
    }

    /// Any real tokenizer: streamed deltas add up to the whole output's text, which continues
    /// the prompt's text.
    #[test]
    #[ignore = "needs FK_TOKENIZER_JSON=path/to/tokenizer.json"]
    fn a_real_tokenizer_streams_what_it_decodes() {
        let Ok(path) = std::env::var("FK_TOKENIZER_JSON") else { return };
        let tok = Tokenizer::from_file(&path).expect("load tokenizer.json");
        let codec = Codec::Tokenizer(Arc::new(tok));
        let text = "The café's owner said: \"naïve résumé\" — 世界, 😀 ok.\n  Indented line; numbers 12345.";
        let ids = codec.encode(text).expect("encode");
        for cut in 1..ids.len() {
            let (prompt, out) = ids.split_at(cut);
            let mut dec = codec.decoder(prompt);
            let mut streamed: String = out.iter().map(|&t| dec.push(t)).collect();
            streamed.push_str(&dec.finish());
            let Codec::Tokenizer(t) = &codec else { unreachable!() };
            let whole = decode(t, &ids);
            let head = decode(t, prompt);
            assert!(whole.starts_with(&head), "cut {cut}: {head:?} is not a prefix of {whole:?}");
            assert_eq!(format!("{head}{streamed}"), whole, "cut {cut}");
        }
    }

    #[test]
    fn id_mode_joins_ids_with_commas() {
        let mut dec = Codec::Ids.decoder(&[1, 2]);
        let text: String = [dec.push(7), dec.push(8), dec.push(9), dec.finish()].concat();
        assert_eq!(text, "7,8,9");
        assert!(Codec::Ids.encode("hi").unwrap_err().contains("no tokenizer"));
    }
}
