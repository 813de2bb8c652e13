//! JSON written by hand for the record the engine writes most, a departure price
//! version ([`PriceRef::write_json`](super::PriceRef::write_json)): hundreds of thousands
//! per batch, where serde's generic map and string code was about a tenth of the pricing
//! thread. The bytes are exactly serde_json's for the same record, which a test checks.

/// Appends `s` as a JSON string, escaped as serde_json escapes it: `"`, `\` and control
/// characters, nothing else.
pub(super) fn string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut unicode = *b"\\u00..";
    for (i, &b) in bytes.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => {
                unicode[4] = HEX[usize::from(b >> 4)];
                unicode[5] = HEX[usize::from(b & 0xf)];
                &unicode
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escaped);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends an integer.
pub(super) fn int(out: &mut Vec<u8>, n: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Appends `key` (the punctuation before a member and its quoted name, as in
/// `b",\"city\":"`) and `value` as a JSON string.
pub(super) fn string_member(out: &mut Vec<u8>, key: &[u8], value: &str) {
    out.extend_from_slice(key);
    string(out, value);
}

/// Appends `key` (as for [`string_member`]) and `value` as an integer.
pub(super) fn int_member(out: &mut Vec<u8>, key: &[u8], value: impl itoa::Integer) {
    out.extend_from_slice(key);
    int(out, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let every_control: String = (0u8..0x20).map(char::from).collect();
        for s in ["", "plain", "a \"quoted\" \\ path/x", "tab\there\nnew\r", "中文 €", "\u{7f}", &every_control] {
            let mut out = Vec::new();
            string(&mut out, s);
            assert_eq!(String::from_utf8(out).expect("utf-8"), serde_json::to_string(s).expect("json"), "{s:?}");
        }
    }

    #[test]
    fn integers_are_written_as_serde_json_writes_them() {
        let mut out = Vec::new();
        int(&mut out, i64::MIN);
        out.push(b' ');
        int(&mut out, 0u64);
        out.push(b' ');
        int(&mut out, u64::MAX);
        assert_eq!(out, format!("{} 0 {}", i64::MIN, u64::MAX).into_bytes());
    }
}
