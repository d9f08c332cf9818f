//! One metrics.csv column: its name, its TensorBoard tag and its value now, declared together so
//! that a header and its rows cannot drift apart.

use std::fmt;

/// A metric's value, written to metrics.csv as it prints (an `f32` stays `9.995`, not
/// `9.994999885559082`).
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Num {
    F32(f32),
    F64(f64),
    Int(u64),
    /// Printed with this many decimals (clock readings: nobody needs their nanoseconds).
    Fixed(f64, usize),
    /// No value this update (an episode figure before any episode has ended): an empty cell.
    Missing,
}

impl Num {
    pub fn as_f32(self) -> f32 {
        match self {
            Num::F32(v) => v,
            Num::F64(v) | Num::Fixed(v, _) => v as f32,
            Num::Int(v) => v as f32,
            Num::Missing => f32::NAN,
        }
    }
}

impl From<f32> for Num {
    fn from(v: f32) -> Num {
        Num::F32(v)
    }
}

impl From<f64> for Num {
    fn from(v: f64) -> Num {
        Num::F64(v)
    }
}

impl From<u64> for Num {
    fn from(v: u64) -> Num {
        Num::Int(v)
    }
}

impl From<usize> for Num {
    fn from(v: usize) -> Num {
        Num::Int(v as u64)
    }
}

impl From<bool> for Num {
    fn from(v: bool) -> Num {
        Num::Int(v as u64)
    }
}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Num::F32(v) => write!(f, "{v}"),
            Num::F64(v) => write!(f, "{v}"),
            Num::Int(v) => write!(f, "{v}"),
            Num::Fixed(v, decimals) => write!(f, "{v:.decimals$}"),
            Num::Missing => Ok(()),
        }
    }
}

/// A metrics.csv column with its value for one update, and the TensorBoard tag it is also
/// written under (none: the CSV only).
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Metric {
    pub column: &'static str,
    pub tag: Option<&'static str>,
    pub value: Num,
}

impl Metric {
    pub fn new(column: &'static str, tag: Option<&'static str>, value: impl Into<Num>) -> Metric {
        Metric {
            column,
            tag,
            value: value.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_print_as_their_type_does() {
        assert_eq!(Num::from(9.995f32).to_string(), "9.995");
        assert_eq!(Num::from(0.1f64).to_string(), "0.1");
        assert_eq!(Num::from(42u64).to_string(), "42");
        assert_eq!(Num::from(true).to_string(), "1");
        assert_eq!(Num::Fixed(12.34567, 3).to_string(), "12.346");
        assert_eq!(Num::Fixed(99.6, 0).to_string(), "100");
        assert_eq!(Num::from(9.995f32).as_f32(), 9.995);
        assert_eq!(Num::Missing.to_string(), "");
    }
}
