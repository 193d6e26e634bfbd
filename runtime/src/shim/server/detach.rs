//! Docker's detach keys on tty streams: the sequence that lets a client
//! leave while the process keeps running.

/// Docker's default detach keys, ctrl-p ctrl-q (tty attaches only, as Docker).
pub(crate) const DETACH_KEYS: &[u8] = &[0x10, 0x11];

/// Filter a tty client's input for the detach sequence. `held` carries how
/// many sequence bytes ended the previous chunk. Returns the bytes to pass
/// to the container and whether the sequence was completed.
pub(crate) fn scan_detach(keys: &[u8], held: &mut usize, input: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::with_capacity(input.len());
    if keys.is_empty() {
        return (input.to_vec(), false);
    }
    for &b in input {
        if b == keys[*held] {
            *held += 1;
            if *held == keys.len() {
                *held = 0;
                return (out, true);
            }
            continue;
        }
        // A false start: the held bytes were ordinary input after all.
        out.extend_from_slice(&keys[..*held]);
        *held = 0;
        if b == keys[0] {
            *held = 1;
            if keys.len() == 1 {
                *held = 0;
                return (out, true);
            }
        } else {
            out.push(b);
        }
    }
    (out, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_sequence_is_found_across_chunks_and_false_starts_pass() {
        let k = DETACH_KEYS;
        let mut held = 0;
        assert_eq!(
            scan_detach(k, &mut held, b"ls\n"),
            (b"ls\n".to_vec(), false)
        );
        assert_eq!(scan_detach(k, &mut held, b"a\x10"), (b"a".to_vec(), false));
        assert_eq!(held, 1);
        assert_eq!(scan_detach(k, &mut held, b"\x11rest"), (Vec::new(), true));
        let mut held = 0;
        assert_eq!(
            scan_detach(k, &mut held, b"\x10x\x10\x10\x11"),
            (b"\x10x\x10".to_vec(), true)
        );
        // `--detach-keys ctrl-a`: one key is enough; Ctrl-P passes.
        let mut held = 0;
        assert_eq!(
            scan_detach(&[1], &mut held, b"\x10\x11x\x01y"),
            (b"\x10\x11x".to_vec(), true)
        );
    }
}
