//! The pieces of Hadoop's SequenceFile container that SystemDS's binary formats share (matrices
//! in `binary.rs`, frames in `frame_binary.rs`): the header we write and Hadoop's variable-length
//! integers. Each reader keeps its own cursor, because they report errors differently.

/// Our fixed sync marker (any 16 bytes do; readers take it from the header).
pub const SYNC: [u8; 16] = *b"dml-binary-sync!";

/// The header of an uncompressed version-6 SequenceFile of `key_class`/`value_class` records,
/// without metadata, ending with [`SYNC`].
pub fn header(key_class: &str, value_class: &str) -> Vec<u8> {
    let mut head = Vec::new();
    head.extend_from_slice(b"SEQ\x06");
    for class in [key_class, value_class] {
        // Class names are short ASCII, so their VInt length is one byte.
        head.push(class.len() as u8);
        head.extend_from_slice(class.as_bytes());
    }
    head.extend_from_slice(&[0, 0]);
    head.extend_from_slice(&0i32.to_be_bytes());
    head.extend_from_slice(&SYNC);
    head
}

/// Hadoop's variable-length integer (WritableUtils.readVInt), its bytes taken from `next`.
pub fn read_vint<E>(mut next: impl FnMut() -> Result<u8, E>) -> Result<i64, E> {
    let first = next()? as i8;
    if first >= -112 {
        return Ok(first as i64);
    }
    let negative = first < -120;
    let len = if negative { -119 - first as i32 } else { -111 - first as i32 } as usize;
    let mut v: i64 = 0;
    for _ in 1..len {
        v = (v << 8) | next()? as i64;
    }
    Ok(if negative { !v } else { v })
}
