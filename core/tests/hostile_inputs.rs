//! Untrusted bytes against core's two parsers of outside input, the checkpoint loader and the
//! share-link decoder: many thousands of random and damaged inputs, none may panic or build a
//! network beyond the limits (the server and the browser run these same parsers on uploads).
#![cfg(feature = "nn")]

use burn::tensor::Device;
use gridmentor_core::nn::spec::limits;
use gridmentor_core::nn::{Checkpoint, CheckpointError};
use gridmentor_core::share;
use proptest::prelude::*;
use sha2::{Digest, Sha256};

const CKPT: &[u8] = include_bytes!("fixtures/doorkey5x5.ckpt");

fn header_end(bytes: &[u8]) -> usize {
    bytes.windows(2).position(|w| w == b"\n\n").unwrap() + 2
}

/// Everything a consumer does with an upload: parse, check it can play its env, build it.
/// Returns whether it was accepted.
fn load(bytes: &[u8]) -> bool {
    let Ok(ck) = Checkpoint::from_bytes(bytes) else {
        return false;
    };
    let spec = ck.meta.spec;
    assert!(
        spec.check().is_ok(),
        "accepted an out-of-bounds spec {spec:?}"
    );
    assert!(spec.parameters() <= limits::MAX_PARAMETERS);
    assert!(spec.weight_bytes().contains(&ck.weights().len()));
    let _ = ck.check_playable();
    ck.model(&Device::flex()).is_ok()
}

/// Replace the weights and fix the header's length and sha256 so the damage gets past the
/// hash, into burnpack's reader and the record loader.
fn with_weights(bytes: &[u8], weights: &[u8]) -> Vec<u8> {
    let end = header_end(bytes);
    let header = std::str::from_utf8(&bytes[..end]).unwrap();
    let sha: String = Sha256::digest(weights)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut out = String::new();
    for line in header.lines() {
        if line.starts_with("weights ") {
            out.push_str(&format!("weights {} {sha}\n", weights.len()));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    let mut out = out.into_bytes();
    out.extend_from_slice(weights);
    out
}

fn header_line() -> impl Strategy<Value = (usize, String)> {
    let number = prop_oneof![
        Just("0".to_string()),
        Just("4000000000".to_string()),
        Just("18446744073709551615".to_string()),
        Just("-1".to_string()),
        (0u64..100_000).prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
    ];
    let obs = prop_oneof![
        number.clone().prop_map(|n| format!("obs view{n}")),
        (number.clone(), number.clone()).prop_map(|(w, h)| format!("obs memory-map{w}x{h}")),
        (number.clone(), number.clone()).prop_map(|(w, h)| format!("obs memory-map-diff{w}x{h}")),
        (number.clone(), number.clone()).prop_map(|(w, h)| format!("obs ego-map{w}x{h}")),
        (number.clone(), number.clone()).prop_map(|(w, h)| format!("obs ego-map-onehot{w}x{h}")),
        (number.clone(), number.clone())
            .prop_map(|(w, h)| format!("obs ego-map-door-relative{w}x{h}")),
    ];
    prop_oneof![
        obs.prop_map(|l| (3usize, l)),
        number
            .clone()
            .prop_map(|n| (4usize, format!("actions {n}"))),
        prop::sample::select(vec!["net minigrid-cnn", "net memory-map-cnn", "net mlp"])
            .prop_map(|l| (2usize, l.to_string())),
        number.prop_map(|n| (11usize, format!("weights {n} {}", "0".repeat(64)))),
    ]
}

/// Cases per property; `GRIDMENTOR_PROPTEST_CASES` raises it for a longer hunt.
fn cases() -> u32 {
    std::env::var("GRIDMENTOR_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn random_bytes_are_refused_cleanly(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        prop_assert!(!load(&bytes));
    }

    /// A real checkpoint flipped, cut or grown anywhere: refused, never a panic; the hash
    /// catches every change to the weights.
    #[test]
    fn damaged_checkpoints_are_refused(at in any::<prop::sample::Index>(), bit in 0u8..8,
                                       how in 0u8..3, byte in any::<u8>()) {
        let mut bytes = CKPT.to_vec();
        let i = at.index(bytes.len());
        match how {
            0 => bytes[i] ^= 1 << bit,
            1 => bytes.truncate(i),
            _ => bytes.insert(i, byte),
        }
        let accepted = load(&bytes);
        // Only a change to the header's eval/frames/seed text can leave a loadable file.
        if accepted {
            prop_assert!(i < header_end(CKPT));
        }
    }

    /// Header fields replaced by hostile numbers (the "header bomb" of a 224-byte upload).
    #[test]
    fn header_bombs_are_bounded(lines in prop::collection::vec(header_line(), 1..4)) {
        let end = header_end(CKPT);
        let mut header: Vec<String> =
            std::str::from_utf8(&CKPT[..end]).unwrap().lines().map(String::from).collect();
        for (i, line) in lines {
            header[i] = line;
        }
        let mut bytes = header.join("\n").into_bytes();
        bytes.push(b'\n');
        bytes.extend_from_slice(&CKPT[end..end + 200.min(CKPT.len() - end)]);
        let _ = load(&bytes);
    }

    /// Damaged weights behind a fixed-up hash reach burnpack's reader: errors, no panic.
    #[test]
    fn damaged_weights_behind_a_valid_hash(flips in prop::collection::vec(
            (any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<prop::sample::Index>(), how in 0u8..3) {
        let end = header_end(CKPT);
        let mut weights = CKPT[end..].to_vec();
        match how {
            0 => {
                // Damage the record's own header and metadata, where the sizes are.
                let n = weights.len().min(2048);
                for (at, b) in &flips {
                    weights[at.index(n)] = *b;
                }
            }
            1 => {
                for (at, b) in &flips {
                    let i = at.index(weights.len());
                    weights[i] = *b;
                }
            }
            _ => weights.truncate(cut.index(weights.len())),
        }
        let bytes = with_weights(CKPT, &weights);
        match Checkpoint::from_bytes(&bytes) {
            Ok(ck) => { let _ = ck.model(&Device::flex()); }
            Err(e) => prop_assert!(matches!(e, CheckpointError::Weights { .. }), "{e}"),
        }
    }

    #[test]
    fn random_share_codes_are_refused(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = share::decode(&share::base64url_encode(&bytes));
    }

    /// A checksum-valid payload of random content reaches every branch of the decoder.
    #[test]
    fn checksummed_share_garbage(body in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut bytes = vec![1u8];
        bytes.extend_from_slice(&body);
        let crc = share::crc32(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        if let Ok(s) = share::decode(&share::base64url_encode(&bytes)) {
            prop_assert!(s.actions.iter().all(|a| a.len() * 3 <= body.len() * 8));
        }
    }

    #[test]
    fn arbitrary_share_text(text in "\\PC{0,300}") {
        let _ = share::decode(&text);
    }
}

#[test]
fn the_fixture_loads() {
    assert!(load(CKPT));
}
