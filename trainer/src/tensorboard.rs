//! TensorBoard event files without dependencies: TFRecord framing (length and data, each with a
//! masked CRC32C) around hand-encoded protobuf `Event` records holding scalar summaries.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Writes one TensorBoard event file in a run folder.
pub struct EventWriter {
    out: BufWriter<File>,
    path: PathBuf,
}

impl EventWriter {
    /// Creates `dir/events.out.tfevents.{unix_secs}.{hostname}.gridmentor` (TensorBoard reads
    /// every file with `tfevents` in its name) and writes the `file_version` event first.
    /// A second writer in the same second gets a `.2`, `.3`, ... suffix rather than
    /// overwriting the first.
    pub fn create(dir: &Path) -> io::Result<EventWriter> {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let base = format!("events.out.tfevents.{secs}.{}.gridmentor", hostname());
        let mut n = 1;
        let (file, path) = loop {
            let name = if n == 1 {
                base.clone()
            } else {
                format!("{base}.{n}")
            };
            let path = dir.join(name);
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(f) => break (f, path),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
                Err(e) => return Err(e),
            }
        };
        let mut w = EventWriter {
            out: BufWriter::new(file),
            path,
        };
        let mut event = event_header(wall_time(), 0);
        put_bytes(&mut event, 3, b"brain.Event:2");
        w.write_record(&event)?;
        w.flush()?;
        Ok(w)
    }

    /// The event file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends the scalar `tag` = `value` at `step` (a `simple_value` summary).
    pub fn add_scalar(&mut self, tag: &str, value: f32, step: i64) -> io::Result<()> {
        let mut v = Vec::with_capacity(tag.len() + 8);
        put_bytes(&mut v, 1, tag.as_bytes());
        put_tag(&mut v, 2, WIRE_FIXED32);
        v.extend_from_slice(&value.to_le_bytes());
        let mut summary = Vec::with_capacity(v.len() + 4);
        put_bytes(&mut summary, 1, &v);
        let mut event = event_header(wall_time(), step);
        put_bytes(&mut event, 5, &summary);
        self.write_record(&event)
    }

    /// Pushes buffered events to the file, so TensorBoard sees them while training runs.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// TFRecord framing: length (u64 LE), its masked CRC, the data, the data's masked CRC.
    fn write_record(&mut self, data: &[u8]) -> io::Result<()> {
        let len = (data.len() as u64).to_le_bytes();
        self.out.write_all(&len)?;
        self.out.write_all(&masked_crc32c(&len).to_le_bytes())?;
        self.out.write_all(data)?;
        self.out.write_all(&masked_crc32c(data).to_le_bytes())
    }
}

fn wall_time() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The machine's name for the file name (as TensorFlow's writer does); "localhost" if unknown.
fn hostname() -> String {
    let name = ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_default();
    let name: String = name
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    if name.is_empty() {
        "localhost".into()
    } else {
        name
    }
}

// Protobuf, by hand: the few fields of `Event`, `Summary` and `Summary.Value` we write.
const WIRE_VARINT: u8 = 0;
const WIRE_FIXED64: u8 = 1;
const WIRE_LEN: u8 = 2;
const WIRE_FIXED32: u8 = 5;

/// `Event { wall_time = 1 (double), step = 2 (int64) }`, ready for its payload field.
fn event_header(wall_time: f64, step: i64) -> Vec<u8> {
    let mut e = Vec::with_capacity(64);
    put_tag(&mut e, 1, WIRE_FIXED64);
    e.extend_from_slice(&wall_time.to_le_bytes());
    if step != 0 {
        put_tag(&mut e, 2, WIRE_VARINT);
        // int64 is encoded as its two's-complement u64: a negative step takes 10 bytes.
        put_varint(&mut e, step as u64);
    }
    e
}

fn put_tag(buf: &mut Vec<u8>, field: u32, wire: u8) {
    put_varint(buf, (field as u64) << 3 | wire as u64);
}

fn put_bytes(buf: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_tag(buf, field, WIRE_LEN);
    put_varint(buf, bytes.len() as u64);
    buf.extend_from_slice(bytes);
}

fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push(v as u8 | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven.
pub fn crc32c(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0x82F6_3B78 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    !data.iter().fold(!0u32, |c, &b| {
        TABLE[((c ^ b as u32) & 0xFF) as usize] ^ (c >> 8)
    })
}

/// TFRecord's masked CRC: rotate right by 15 and add a constant, so a CRC of data that itself
/// holds CRCs stays well distributed.
pub fn masked_crc32c(data: &[u8]) -> u32 {
    crc32c(data).rotate_right(15).wrapping_add(0xA282_EAD8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
        // RFC 3720 B.4: 32 bytes of zeros.
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
    }

    /// A decoded event: wall time, step, file_version, and (tag, value) summaries.
    #[derive(Debug, Default)]
    struct Event {
        wall_time: f64,
        step: i64,
        file_version: Option<String>,
        scalars: Vec<(String, f32)>,
    }

    fn varint(b: &[u8], i: &mut usize) -> u64 {
        let (mut v, mut shift) = (0u64, 0);
        loop {
            let byte = b[*i];
            *i += 1;
            v |= ((byte & 0x7F) as u64) << shift;
            if byte < 0x80 {
                return v;
            }
            shift += 7;
        }
    }

    /// Walks a protobuf message, calling `f(field, wire, payload)`; varints come as 8 LE bytes.
    fn fields(b: &[u8], mut f: impl FnMut(u64, u8, &[u8])) {
        let mut i = 0;
        while i < b.len() {
            let key = varint(b, &mut i);
            let (field, wire) = (key >> 3, (key & 7) as u8);
            let n = match wire {
                WIRE_VARINT => {
                    let v = varint(b, &mut i).to_le_bytes();
                    f(field, wire, &v);
                    continue;
                }
                WIRE_FIXED64 => 8,
                WIRE_FIXED32 => 4,
                WIRE_LEN => varint(b, &mut i) as usize,
                w => panic!("unexpected wire type {w}"),
            };
            f(field, wire, &b[i..i + n]);
            i += n;
        }
    }

    fn decode_event(b: &[u8]) -> Event {
        let mut e = Event::default();
        fields(b, |field, _, p| match field {
            1 => e.wall_time = f64::from_le_bytes(p.try_into().unwrap()),
            2 => e.step = i64::from_le_bytes(p.try_into().unwrap()),
            3 => e.file_version = Some(String::from_utf8(p.to_vec()).unwrap()),
            5 => fields(p, |field, _, value| {
                assert_eq!(field, 1, "Summary.value");
                let (mut tag, mut v) = (String::new(), f32::NAN);
                fields(value, |field, wire, p| match (field, wire) {
                    (1, WIRE_LEN) => tag = String::from_utf8(p.to_vec()).unwrap(),
                    (2, WIRE_FIXED32) => v = f32::from_le_bytes(p.try_into().unwrap()),
                    other => panic!("unexpected Summary.Value field {other:?}"),
                });
                e.scalars.push((tag, v));
            }),
            other => panic!("unexpected Event field {other}"),
        });
        e
    }

    /// Reads TFRecords, checking both CRCs of each.
    fn read_records(b: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut i = 0;
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
        while i < b.len() {
            let len_bytes = &b[i..i + 8];
            assert_eq!(u32_at(i + 8), masked_crc32c(len_bytes), "length CRC");
            let n = u64::from_le_bytes(len_bytes.try_into().unwrap()) as usize;
            let data = &b[i + 12..i + 12 + n];
            assert_eq!(u32_at(i + 12 + n), masked_crc32c(data), "data CRC");
            out.push(data.to_vec());
            i += 16 + n;
        }
        out
    }

    #[test]
    fn scalars_read_back() {
        let dir = std::env::temp_dir().join(format!("gridmentor-tb-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut w = EventWriter::create(&dir).unwrap();
        let second = EventWriter::create(&dir).unwrap();
        assert_ne!(
            w.path(),
            second.path(),
            "a second writer never overwrites the first"
        );
        let name = w.path().file_name().unwrap().to_str().unwrap().to_owned();
        assert!(name.starts_with("events.out.tfevents.") && name.contains(".gridmentor"));

        w.add_scalar("charts/episodic_return", 0.75, 128).unwrap();
        w.add_scalar("losses/value_loss", -1.5e-3, 256).unwrap();
        w.add_scalar("charts/learning_rate", 1e-3, 0).unwrap();
        w.add_scalar("debug/negative_step", 2.0, -3).unwrap();
        w.flush().unwrap();

        let bytes = std::fs::read(w.path()).unwrap();
        let events: Vec<Event> = read_records(&bytes)
            .iter()
            .map(|r| decode_event(r))
            .collect();
        assert_eq!(events.len(), 5);
        assert_eq!(events[0].file_version.as_deref(), Some("brain.Event:2"));
        assert!(events[0].scalars.is_empty());
        let got: Vec<(&str, f32, i64)> = events[1..]
            .iter()
            .map(|e| {
                assert_eq!(e.scalars.len(), 1);
                (e.scalars[0].0.as_str(), e.scalars[0].1, e.step)
            })
            .collect();
        assert_eq!(
            got,
            [
                ("charts/episodic_return", 0.75, 128),
                ("losses/value_loss", -1.5e-3, 256),
                ("charts/learning_rate", 1e-3, 0),
                ("debug/negative_step", 2.0, -3),
            ]
        );
        let now = wall_time();
        for e in &events {
            assert!(e.wall_time > 1.6e9 && e.wall_time <= now, "{}", e.wall_time);
        }
        drop(second);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
