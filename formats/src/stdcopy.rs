//! Docker's multiplexed stream framing ("stdcopy"), used by attach, logs
//! and exec when the container has no terminal: each frame is an 8-byte
//! header (stream type, three zero bytes, big-endian payload length)
//! followed by the payload. Written by the shim and the daemon, read by the
//! CLI and the builder's RUN steps.

/// The stream a frame belongs to (the header's first byte).
pub const STDIN: u8 = 0;
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;

/// Bytes in a frame header.
pub const HEADER_LEN: usize = 8;

/// The header of a frame of `len` payload bytes on `stream`.
pub fn header(stream: u8, len: usize) -> [u8; HEADER_LEN] {
    let n = (len as u32).to_be_bytes();
    [stream, 0, 0, 0, n[0], n[1], n[2], n[3]]
}

/// The payload length a header announces.
pub fn payload_len(header: &[u8; HEADER_LEN]) -> usize {
    u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize
}

/// One whole frame: header then payload.
pub fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER_LEN + payload.len());
    v.extend_from_slice(&header(stream, payload.len()));
    v.extend_from_slice(payload);
    v
}

/// Splits a multiplexed stream into (stream, payload) frames, however the
/// bytes were cut into reads.
#[derive(Debug, Default)]
pub struct Demux {
    buf: Vec<u8>,
}

impl Demux {
    /// Feed bytes; returns the frames they complete, payloads as they came.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
        self.buf.extend_from_slice(bytes);
        let mut frames = Vec::new();
        let mut at = 0;
        while let Some(head) = self.buf.get(at..at + HEADER_LEN) {
            let head: &[u8; HEADER_LEN] = head.try_into().expect("slice of HEADER_LEN bytes");
            let len = payload_len(head);
            let Some(payload) = self.buf.get(at + HEADER_LEN..at + HEADER_LEN + len) else {
                break;
            };
            frames.push((head[0], payload.to_vec()));
            at += HEADER_LEN + len;
        }
        self.buf.drain(..at);
        frames
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_have_dockers_header() {
        assert_eq!(
            frame(STDERR, b"hi"),
            vec![2, 0, 0, 0, 0, 0, 0, 2, b'h', b'i']
        );
        assert_eq!(payload_len(&header(STDOUT, 70_000)), 70_000);
        assert_eq!(frame(STDOUT, b""), vec![1, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn demux_splits_frames_across_reads() {
        let mut d = Demux::default();
        let mut wire = frame(STDOUT, b"out");
        wire.extend_from_slice(&frame(STDERR, b"err\n"));
        let (a, b) = wire.split_at(5);
        assert!(d.feed(a).is_empty());
        let (b1, b2) = b.split_at(9);
        assert_eq!(d.feed(b1), vec![(1, b"out".to_vec())]);
        assert_eq!(d.feed(b2), vec![(2, b"err\n".to_vec())]);
        assert!(d.feed(&[]).is_empty());
        // A frame may be empty.
        assert_eq!(d.feed(&[1, 0, 0, 0, 0, 0, 0, 0]), vec![(1, vec![])]);
    }
}
