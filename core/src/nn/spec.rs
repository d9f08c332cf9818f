//! What a network is: its architecture, what it observes and how many actions it chooses among.
//! A checkpoint stores this so a loader can rebuild the same network and refuse a wrong one.

use alloc::format;
use alloc::string::String;
use core::fmt;
use core::str::FromStr;

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
}

impl ObsKind {
    /// The observation as stored: `(d0, d1, channels)`.
    pub fn shape(self) -> [usize; 3] {
        match self {
            ObsKind::View { size } => [size as usize, size as usize, 3],
            ObsKind::MemoryMap { width, height } | ObsKind::MemoryMapDiff { width, height } => {
                [width as usize, height as usize, 4]
            }
            ObsKind::EgoMap { width, height } => {
                let side = crate::obs::MemoryMap::ego_side(width as i32, height as i32);
                [side, side, 3]
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
    /// this gives rl-starter-files' `[c][col][row]` input exactly; the memory map is already
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
            ObsKind::MemoryMap { width, height } => write!(f, "memory-map{width}x{height}"),
            ObsKind::MemoryMapDiff { width, height } => {
                write!(f, "memory-map-diff{width}x{height}")
            }
            ObsKind::EgoMap { width, height } => write!(f, "ego-map{width}x{height}"),
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
        } else if let Some(rest) = s.strip_prefix("ego-map") {
            let (width, height) = dims(rest)?;
            Ok(ObsKind::EgoMap { width, height })
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

    /// Whether the architecture can read this observation (the CNN's pooling needs >= 5 cells).
    pub fn check(&self) -> Result<(), String> {
        let [_, h, w] = self.obs.input_shape();
        if self.actions == 0 {
            return Err(format!("{}: zero actions", self.net));
        }
        if self.net == NetKind::MiniGridCnn && (h < 5 || w < 5) {
            return Err(format!(
                "{} needs at least 5x5 cells, not {}",
                self.net, self.obs
            ));
        }
        Ok(())
    }
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
        ] {
            assert_eq!(obs.to_string().parse::<ObsKind>(), Ok(obs));
        }
        for net in NetKind::ALL {
            assert_eq!(net.to_string().parse::<NetKind>(), Ok(net));
        }
        assert!("view".parse::<ObsKind>().is_err());
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
