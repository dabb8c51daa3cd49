//! Small helpers that several parts of the host share and that belong to
//! none of them: content digests and generated secrets. (Atomic file writes
//! live with the registry's artifact store, `b2c_registry::atomic_file`.)

/// Hex SHA-256 of some bytes: artifact digests, key hashes, request
/// fingerprints.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

/// A new random secret (192 bits), prefixed so it is recognisable in logs
/// and configs: `b2c_…` tenant keys, `b2cadm_…` admin tokens.
pub fn new_secret(prefix: &str) -> String {
    format!("{prefix}_{}", hex::encode(rand::random::<[u8; 24]>()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn digest_and_secret_shapes() {
        // The SHA-256 of "abc" (FIPS 180-2 test vector).
        assert_eq!(super::sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let (a, b) = (super::new_secret("b2c"), super::new_secret("b2c"));
        assert!(a.starts_with("b2c_") && a.len() == 4 + 48, "{a}");
        assert_ne!(a, b);
    }
}
