//! Hiding keys in a program's output, as `op run` does: every occurrence of a secret in what the
//! program writes is replaced before it reaches the terminal or a log.
//!
//! Output arrives in chunks that may cut a secret in two, so the end of a chunk that could be
//! the start of a secret is held back until the next chunk (or the end) shows what it is.
//! Everything else passes at once: only a tail that could be the start of a key (`k`, `kdk_`,
//! ...) waits for the next chunk or the end.

/// What stands in for a hidden key.
pub const MASK: &str = "<hidden by kdk>";

pub struct Masker {
    secrets: Vec<Vec<u8>>,
    pending: Vec<u8>,
}

impl Masker {
    /// A masker of these secrets (empty ones are ignored).
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Masker {
        let mut secrets: Vec<Vec<u8>> = secrets.into_iter().filter(|s| !s.is_empty()).map(String::into_bytes).collect();
        // The longest first, so a secret that contains another is hidden whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Masker { secrets, pending: Vec::new() }
    }

    /// Takes a chunk of output; returns what may be written now.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        self.pending.extend_from_slice(chunk);
        let (out, used) = self.scan(false);
        self.pending.drain(..used);
        out
    }

    /// The end of the output: what was held back, masked.
    pub fn finish(&mut self) -> Vec<u8> {
        let (out, _) = self.scan(true);
        self.pending.clear();
        out
    }

    /// The pending bytes with every secret replaced, up to the first place where the rest
    /// could still become a secret (unless `end`); and how many pending bytes that used.
    fn scan(&self, end: bool) -> (Vec<u8>, usize) {
        let bytes = &self.pending;
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        'scan: while i < bytes.len() {
            let rest = &bytes[i..];
            // A longer secret that may still be completing wins over a shorter one that matches.
            if !end && self.secrets.iter().any(|s| s.len() > rest.len() && s.starts_with(rest)) {
                break;
            }
            for secret in &self.secrets {
                if rest.starts_with(secret) {
                    out.extend_from_slice(MASK.as_bytes());
                    i += secret.len();
                    continue 'scan;
                }
            }
            out.push(bytes[i]);
            i += 1;
        }
        (out, i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "kdk_live_0123456789abcdefghijklmnopqrstuvwxyzAB";

    fn through(masker: &mut Masker, chunks: &[&[u8]]) -> String {
        let mut out = Vec::new();
        for c in chunks {
            out.extend(masker.push(c));
        }
        out.extend(masker.finish());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_key_in_one_chunk_is_hidden() {
        let mut m = Masker::new([KEY.to_owned()]);
        assert_eq!(through(&mut m, &[format!("key={KEY}\n").as_bytes()]), format!("key={MASK}\n"));
    }

    #[test]
    fn a_key_cut_across_chunks_at_every_point_is_hidden() {
        let text = format!("before {KEY} after {KEY}");
        for cut in 0..=text.len() {
            let mut m = Masker::new([KEY.to_owned()]);
            let (a, b) = text.as_bytes().split_at(cut);
            assert_eq!(through(&mut m, &[a, b]), format!("before {MASK} after {MASK}"), "cut at {cut}");
        }
        // One byte at a time.
        let mut m = Masker::new([KEY.to_owned()]);
        let bytes: Vec<&[u8]> = text.as_bytes().chunks(1).collect();
        assert_eq!(through(&mut m, &bytes), format!("before {MASK} after {MASK}"));
    }

    #[test]
    fn output_without_keys_passes_at_once_and_unchanged() {
        let mut m = Masker::new([KEY.to_owned()]);
        assert_eq!(m.push(b"Password: "), b"Password: ".to_vec());
        assert_eq!(m.push("ünïcode ✓\n".as_bytes()), "ünïcode ✓\n".as_bytes().to_vec());
        assert!(m.finish().is_empty());
    }

    #[test]
    fn the_start_of_a_key_is_held_until_it_proves_not_to_be_one() {
        let mut m = Masker::new([KEY.to_owned()]);
        assert_eq!(m.push(b"id kdk_li"), b"id ".to_vec());
        assert_eq!(m.push(b"ttle\n"), b"kdk_little\n".to_vec());
    }

    #[test]
    fn a_key_that_begins_with_another_is_hidden_whole_even_across_chunks() {
        let short = KEY[..30].to_owned();
        let mut m = Masker::new([short, KEY.to_owned()]);
        let (a, b) = KEY.as_bytes().split_at(30);
        assert_eq!(through(&mut m, &[a, b]), MASK);
    }

    #[test]
    fn several_keys_are_hidden_each() {
        let other = "kdk_live_ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zz".to_owned();
        let mut m = Masker::new([KEY.to_owned(), other.clone(), String::new()]);
        let text = format!("{other}:{KEY}");
        assert_eq!(through(&mut m, &[text.as_bytes()]), format!("{MASK}:{MASK}"));
    }
}
