//! What a network is: its architecture, what it observes and how many actions it chooses among.
//! A checkpoint stores this so a loader can rebuild the same network and refuse a wrong one.

use alloc::format;
use alloc::string::String;
use core::fmt;
use core::str::FromStr;

use crate::nn::net::HEAD_UNITS;

/// The observation a network reads, as the seed code lays it out: a `d0 x d1 x channels` array.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObsKind {
    /// MiniGrid's egocentric `image` (`view x view x 3`: object, colour, state); 7 by default.
    View { size: u16 },
    /// The seed repositories' memory map (`width x height x 4`).
    MemoryMap { width: u16, height: u16 },
    /// When2Ask's mediator input: the change of the memory map since the last step.
    MemoryMapDiff { width: u16, height: u16 },
    /// The `width x height` memory map centred on the agent and turned to face up, laid out
    /// like the view (`side x side x 3`, `side = 2 * max(width, height) - 1`; see
    /// [`MemoryMap::egocentric_into`](crate::obs::MemoryMap::egocentric_into)).
    EgoMap { width: u16, height: u16 },
    /// The egocentric map with each cell's codes as one-hot planes (`side x side x 20`: object
    /// type, colour, state; see [`crate::obs::one_hot_into`]). With integer codes a network must
    /// learn that colour 2 at the door equals colour 2 at a key from one scalar plane; one
    /// plane per colour makes "same colour" a sum a linear layer can form.
    EgoMapOneHot { width: u16, height: u16 },
    /// [`EgoMapOneHot`](ObsKind::EgoMapOneHot) with the colours of keys, balls, boxes and doors
    /// swapped so that the first door seen this episode (a locked one if the first sight shows
    /// several) reads as red, and red as that door's colour (see
    /// [`crate::obs::door_relative_colours`]). When2Ask's ColoredDoorKey draws the
    /// door's colour at random and neither network learnt "the key of the door's colour" from
    /// plain colour planes in 600k frames; relative to the door the right key is always red.
    EgoMapDoorRelative { width: u16, height: u16 },
    /// The view with the BabyAI instruction added to every cell (`view x view x 10`): the view's
    /// 3 channels, then the [`mission_code`](crate::obs::mission_code)'s 7 indices (task kind,
    /// two objects' type, colour and location; zeros outside BabyAI), so that one network can
    /// play a level that mixes tasks.
    ViewMission { size: u16 },
}

impl ObsKind {
    /// The observation as stored: `(d0, d1, channels)`.
    pub fn shape(self) -> [usize; 3] {
        match self {
            ObsKind::View { size } => [size as usize, size as usize, 3],
            ObsKind::ViewMission { size } => [
                size as usize,
                size as usize,
                3 + crate::obs::MISSION_CHANNELS,
            ],
            ObsKind::MemoryMap { width, height } | ObsKind::MemoryMapDiff { width, height } => {
                [width as usize, height as usize, 4]
            }
            ObsKind::EgoMap { width, height } => {
                let side = crate::obs::MemoryMap::ego_side(width as i32, height as i32);
                [side, side, 3]
            }
            ObsKind::EgoMapOneHot { width, height }
            | ObsKind::EgoMapDoorRelative { width, height } => {
                let side = crate::obs::MemoryMap::ego_side(width as i32, height as i32);
                [side, side, crate::obs::ONE_HOT_CHANNELS]
            }
        }
    }

    /// Numbers in one observation.
    pub fn len(self) -> usize {
        self.shape().iter().product()
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// The network input's shape for one observation: `[channels, h, w]`.
    pub fn input_shape(self) -> [usize; 3] {
        let [d0, d1, c] = self.shape();
        [c, d1, d0]
    }

    /// Write one observation as the network's `[channels, h, w]` input.
    ///
    /// Both seeds feed `obs.transpose(1, 3)` of a `(d0, d1, c)` array: `out[c][j][i] = in[i][j][c]`.
    /// core's view is `[row][col][c]` while MiniGrid's array is `[col][row][c]`, so for the view
    /// this gives rl-starter-files' `[c][col][row]` input exactly (the mission's planes are
    /// constant, so their order does not matter); the memory map is already
    /// `[x][y][c]` like the seeds' array. The egocentric map is laid out like the view, so it
    /// goes in as the view does. Values are not rescaled (neither seed does).
    pub fn write_input<T: Copy + Into<f32>>(self, obs: &[T], out: &mut [f32]) {
        let [d0, d1, c] = self.shape();
        assert_eq!(obs.len(), d0 * d1 * c, "observation length for {self}");
        assert_eq!(out.len(), d0 * d1 * c, "input buffer length for {self}");
        for i in 0..d0 {
            for j in 0..d1 {
                for k in 0..c {
                    out[(k * d1 + j) * d0 + i] = obs[(i * d1 + j) * c + k].into();
                }
            }
        }
    }
}

impl fmt::Display for ObsKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObsKind::View { size } => write!(f, "view{size}"),
            ObsKind::ViewMission { size } => write!(f, "view-mission{size}"),
            ObsKind::MemoryMap { width, height } => write!(f, "memory-map{width}x{height}"),
            ObsKind::MemoryMapDiff { width, height } => {
                write!(f, "memory-map-diff{width}x{height}")
            }
            ObsKind::EgoMap { width, height } => write!(f, "ego-map{width}x{height}"),
            ObsKind::EgoMapOneHot { width, height } => {
                write!(f, "ego-map-onehot{width}x{height}")
            }
            ObsKind::EgoMapDoorRelative { width, height } => {
                write!(f, "ego-map-door-relative{width}x{height}")
            }
        }
    }
}

impl FromStr for ObsKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("unknown observation kind {s:?}");
        let dims = |rest: &str| -> Result<(u16, u16), String> {
            let (w, h) = rest.split_once('x').ok_or_else(bad)?;
            Ok((w.parse().map_err(|_| bad())?, h.parse().map_err(|_| bad())?))
        };
        if let Some(rest) = s.strip_prefix("memory-map-diff") {
            let (width, height) = dims(rest)?;
            Ok(ObsKind::MemoryMapDiff { width, height })
        } else if let Some(rest) = s.strip_prefix("memory-map") {
            let (width, height) = dims(rest)?;
            Ok(ObsKind::MemoryMap { width, height })
        } else if let Some(rest) = s.strip_prefix("ego-map-door-relative") {
            let (width, height) = dims(rest)?;
            Ok(ObsKind::EgoMapDoorRelative { width, height })
        } else if let Some(rest) = s.strip_prefix("ego-map-onehot") {
            let (width, height) = dims(rest)?;
            Ok(ObsKind::EgoMapOneHot { width, height })
        } else if let Some(rest) = s.strip_prefix("ego-map") {
            let (width, height) = dims(rest)?;
            Ok(ObsKind::EgoMap { width, height })
        } else if let Some(rest) = s.strip_prefix("view-mission") {
            Ok(ObsKind::ViewMission {
                size: rest.parse().map_err(|_| bad())?,
            })
        } else if let Some(rest) = s.strip_prefix("view") {
            Ok(ObsKind::View {
                size: rest.parse().map_err(|_| bad())?,
            })
        } else {
            Err(bad())
        }
    }
}

/// The architectures, each as its seed defines it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NetKind {
    /// rl-starter-files' `ACModel`: conv 2x2 16, max-pool 2x2, conv 2x2 32, conv 2x2 64 (ReLU);
    /// actor and critic heads of 64 tanh units; linear layers initialised with unit-norm rows.
    MiniGridCnn,
    /// LLM4Teach's `MLPBase`: three 3x3 convs 16/32/64 with padding 1 (ReLU), no pooling;
    /// heads of 64 ReLU units; PyTorch's default initialisation.
    MemoryMapCnn,
    /// A flattening MLP: one 64-unit tanh layer shared by two 64-unit tanh heads.
    Mlp,
}

impl NetKind {
    pub const ALL: [NetKind; 3] = [NetKind::MiniGridCnn, NetKind::MemoryMapCnn, NetKind::Mlp];

    pub fn name(self) -> &'static str {
        match self {
            NetKind::MiniGridCnn => "minigrid-cnn",
            NetKind::MemoryMapCnn => "memory-map-cnn",
            NetKind::Mlp => "mlp",
        }
    }
}

impl fmt::Display for NetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for NetKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        NetKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown network kind {s:?}"))
    }
}

/// A network: architecture, observation, number of actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NetSpec {
    pub net: NetKind,
    pub obs: ObsKind,
    pub actions: usize,
}

impl NetSpec {
    /// rl-starter-files' model for MiniGrid's 7x7 view and its 7 actions.
    pub fn minigrid(actions: usize) -> NetSpec {
        NetSpec {
            net: NetKind::MiniGridCnn,
            obs: ObsKind::View { size: 7 },
            actions,
        }
    }

    /// Whether this is a network the project can make: every size within [`limits`], and an
    /// architecture that can read the observation (the CNN's pooling needs >= 5 cells).
    ///
    /// A checkpoint's header is untrusted input, and the network is built from these numbers,
    /// so this runs before anything is allocated for it.
    pub fn check(&self) -> Result<(), String> {
        if self.actions == 0 || self.actions > limits::MAX_ACTIONS {
            return Err(format!(
                "{}: {} actions (a network chooses among 1 to {})",
                self.net,
                self.actions,
                limits::MAX_ACTIONS
            ));
        }
        match self.obs {
            ObsKind::View { size } | ObsKind::ViewMission { size } => {
                if !(limits::MIN_VIEW..=limits::MAX_VIEW).contains(&size) || size % 2 == 0 {
                    return Err(format!(
                        "{}: the view is {size}x{size}; MiniGrid's view is odd, {} to {}",
                        self.obs,
                        limits::MIN_VIEW,
                        limits::MAX_VIEW
                    ));
                }
            }
            ObsKind::MemoryMap { width, height }
            | ObsKind::MemoryMapDiff { width, height }
            | ObsKind::EgoMap { width, height }
            | ObsKind::EgoMapOneHot { width, height }
            | ObsKind::EgoMapDoorRelative { width, height } => {
                let ok = |n: u16| (limits::MIN_MAP_SIDE..=limits::MAX_MAP_SIDE).contains(&n);
                if !ok(width) || !ok(height) {
                    return Err(format!(
                        "{}: a map is {} to {} cells a side",
                        self.obs,
                        limits::MIN_MAP_SIDE,
                        limits::MAX_MAP_SIDE
                    ));
                }
            }
        }
        let [_, h, w] = self.obs.input_shape();
        if self.net == NetKind::MiniGridCnn && (h < 5 || w < 5) {
            return Err(format!(
                "{} needs at least 5x5 cells, not {}",
                self.net, self.obs
            ));
        }
        let n = self.parameters();
        if n > limits::MAX_PARAMETERS {
            return Err(format!(
                "{} over {} has {n} parameters (at most {})",
                self.net,
                self.obs,
                limits::MAX_PARAMETERS
            ));
        }
        Ok(())
    }

    /// The number of weights and biases of this network, from the architecture alone (so a
    /// loader can bound what a header asks for before building anything). Sizes must be within
    /// [`limits`] (the arithmetic is exact there).
    pub fn parameters(&self) -> usize {
        let [c, h, w] = self.obs.input_shape();
        let conv = |c_in: usize, c_out: usize, k: usize| c_in * c_out * k * k + c_out;
        let linear = |i: usize, o: usize| i * o + o;
        let (encoder, embedding) = match self.net {
            NetKind::MiniGridCnn => {
                // conv 2x2, max-pool 2x2, conv 2x2, conv 2x2: a side of n cells ends as
                // (n - 1) / 2 - 2.
                let side = |n: usize| ((n.saturating_sub(1)) / 2).saturating_sub(2);
                (
                    conv(c, 16, 2) + conv(16, 32, 2) + conv(32, 64, 2),
                    side(h) * side(w) * 64,
                )
            }
            NetKind::MemoryMapCnn => (
                conv(c, 16, 3) + conv(16, 32, 3) + conv(32, 64, 3),
                h * w * 64,
            ),
            NetKind::Mlp => (linear(c * h * w, HEAD_UNITS), HEAD_UNITS),
        };
        let head = |out: usize| linear(embedding, HEAD_UNITS) + linear(HEAD_UNITS, out);
        encoder + head(self.actions) + head(1)
    }

    /// The byte lengths a burnpack record of this network's f32 weights can have: the data
    /// itself plus burnpack's header, its metadata and the 256-byte alignment of each tensor.
    pub fn weight_bytes(&self) -> core::ops::RangeInclusive<usize> {
        let data = self.parameters() * 4;
        data..=data + limits::MAX_RECORD_OVERHEAD
    }
}

/// The bounds of the networks the project makes; a checkpoint outside them is refused before
/// anything is built. The largest registered env is 25x25 (MultiRoom-N6), the largest view
/// MiniGrid draws 15x15; the largest network within them (LLM4Teach's CNN over a 32x32 map) has
/// 8.4M parameters.
pub mod limits {
    /// Actions (or options) a network chooses among; MiniGrid has 7.
    pub const MAX_ACTIONS: usize = 32;
    pub const MIN_VIEW: u16 = 3;
    pub const MAX_VIEW: u16 = 15;
    pub const MIN_MAP_SIDE: u16 = 3;
    pub const MAX_MAP_SIDE: u16 = 32;
    /// 16M parameters: 64 MiB of f32.
    pub const MAX_PARAMETERS: usize = 1 << 24;
    /// Burnpack's header, its metadata (names, shapes) and per-tensor alignment padding for
    /// our at most 14 tensors: 2 KB in practice, bounded generously.
    pub const MAX_RECORD_OVERHEAD: usize = 64 << 10;
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec::Vec;

    #[test]
    fn names_round_trip() {
        for obs in [
            ObsKind::View { size: 7 },
            ObsKind::ViewMission { size: 7 },
            ObsKind::MemoryMap {
                width: 10,
                height: 8,
            },
            ObsKind::MemoryMapDiff {
                width: 3,
                height: 12,
            },
            ObsKind::EgoMap {
                width: 10,
                height: 7,
            },
            ObsKind::EgoMapOneHot {
                width: 10,
                height: 7,
            },
            ObsKind::EgoMapDoorRelative {
                width: 8,
                height: 9,
            },
        ] {
            assert_eq!(obs.to_string().parse::<ObsKind>(), Ok(obs));
        }
        for net in NetKind::ALL {
            assert_eq!(net.to_string().parse::<NetKind>(), Ok(net));
        }
        assert!("view".parse::<ObsKind>().is_err());
        assert!("view-mission".parse::<ObsKind>().is_err());
        assert!("view-mission-7".parse::<ObsKind>().is_err());
        assert_eq!(ObsKind::ViewMission { size: 7 }.input_shape(), [10, 7, 7]);
        // rl-starter-files' 19,384 parameters, plus the first conv's 7 more input channels.
        let spec = NetSpec {
            obs: ObsKind::ViewMission { size: 7 },
            ..NetSpec::minigrid(7)
        };
        assert_eq!(spec.parameters(), 19_384 + 7 * 16 * 2 * 2);
        assert!("memory-map10".parse::<ObsKind>().is_err());
        assert!("ego-map10x".parse::<ObsKind>().is_err());
        assert_eq!(
            ObsKind::EgoMap {
                width: 10,
                height: 7
            }
            .shape(),
            [19, 19, 3]
        );
        assert_eq!(
            ObsKind::EgoMapOneHot {
                width: 10,
                height: 7
            }
            .input_shape(),
            [20, 19, 19]
        );
        assert!("ego-map-onehot10".parse::<ObsKind>().is_err());
        assert!("ego-map-door-relative".parse::<ObsKind>().is_err());
    }

    #[test]
    fn input_is_the_seeds_transpose() {
        let obs = ObsKind::MemoryMap {
            width: 3,
            height: 2,
        };
        // in[x][y][c] = 100x + 10y + c
        let mut input = Vec::new();
        for x in 0..3u8 {
            for y in 0..2u8 {
                for c in 0..4u8 {
                    input.push(100 * x + 10 * y + c);
                }
            }
        }
        let mut out = [0.0f32; 24];
        obs.write_input(&input, &mut out);
        // out[c][y][x]
        assert_eq!(obs.input_shape(), [4, 2, 3]);
        assert_eq!(out[(2 * 2 + 1) * 3 + 2], 212.0);
        assert_eq!(out[(3 * 2) * 3 + 1], 103.0);
    }
}
