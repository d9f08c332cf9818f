//! A digest of a rollout (layouts, observations, rewards, ends), so that two builds (native and
//! wasm, or two machines) can prove they produce the same episodes from the same seeds.

use crate::registry::{self, UnknownEnv};
use crate::rng::Rng;
use crate::world::Action;

/// The sha256 of `bytes` in lowercase hex: a checkpoint's id (the server, the page and share
/// links name a checkpoint by it) and the stem of a shared episode's id.
#[cfg(feature = "sha256")]
pub fn sha256_hex(bytes: &[u8]) -> alloc::string::String {
    use sha2::{Digest, Sha256};
    let digest: [u8; 32] = Sha256::digest(bytes).into();
    crate::agent_ref::checkpoint_id_to_hex(&digest)
}

/// FNV-1a, 64-bit.
#[derive(Clone, Debug)]
pub struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv64 {
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    pub fn finish(&self) -> u64 {
        self.0
    }
}

/// Run `steps` uniformly random actions (from `Rng::new(action_seed)`) in `env_name`, starting
/// at `seed` and resetting to `seed + k` after the k-th episode end; digest the mission, every
/// image, reward bit pattern and end flag.
pub fn rollout_digest(
    env_name: &str,
    seed: u64,
    action_seed: u64,
    steps: u32,
) -> Result<u64, UnknownEnv> {
    let mut env = registry::make(env_name, seed)?;
    let mut rng = Rng::new(action_seed);
    let mut h = Fnv64::default();
    let mut episodes = 0u64;
    h.write(env.mission.as_bytes());
    h.write(&env.world.image());
    for _ in 0..steps {
        let a = Action::ALL[rng.index(Action::COUNT)];
        let t = env.step(a);
        h.write(&env.world.image());
        h.write(&t.reward.to_bits().to_le_bytes());
        h.write(&[t.terminated as u8, t.truncated as u8]);
        if t.terminated || t.truncated {
            episodes += 1;
            env.reset(seed.wrapping_add(episodes));
            h.write(env.mission.as_bytes());
            h.write(&env.world.image());
        }
    }
    Ok(h.finish())
}

/// Pinned digests, checked natively (core's tests) and in the browser (web's wasm tests).
pub mod pinned {
    /// `rollout_digest("MiniGrid-DoorKey-8x8-v0", 7, 1, 2000)`.
    pub const DOORKEY8_SEED7: u64 = 0x3281_d067_3adb_a305;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "sha256")]
    #[test]
    fn sha256_hex_matches_the_fips_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn doorkey_rollout_digest_is_pinned() {
        let d = rollout_digest("MiniGrid-DoorKey-8x8-v0", 7, 1, 2000).unwrap();
        assert_eq!(d, pinned::DOORKEY8_SEED7, "got {d:#x}");
    }

    #[test]
    fn digest_depends_on_seed() {
        let a = rollout_digest("MiniGrid-DoorKey-8x8-v0", 7, 1, 200).unwrap();
        let b = rollout_digest("MiniGrid-DoorKey-8x8-v0", 8, 1, 200).unwrap();
        assert_ne!(a, b);
    }
}
