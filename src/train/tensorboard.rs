//! A TensorBoard event-file writer: scalars and images.
//!
//! The file is a sequence of TFRecords (`u64` length, masked CRC-32C of the length, the bytes,
//! masked CRC-32C of the bytes), each holding a `tensorflow.Event` protobuf. The few messages
//! needed are declared here with `prost` derives, field numbers as in TensorFlow's
//! `event.proto` and `summary.proto`, so no `.proto` compiler is involved.

use crate::error::{Error, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// `tensorflow.Event` (the fields used here).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Event {
    #[prost(double, tag = "1")]
    pub(crate) wall_time: f64,
    #[prost(int64, tag = "2")]
    pub(crate) step: i64,
    #[prost(string, optional, tag = "3")]
    pub(crate) file_version: Option<String>,
    #[prost(message, optional, tag = "5")]
    pub(crate) summary: Option<Summary>,
}

/// `tensorflow.Summary`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Summary {
    #[prost(message, repeated, tag = "1")]
    pub(crate) value: Vec<SummaryValue>,
}

/// `tensorflow.Summary.Value` (simple_value or image).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryValue {
    #[prost(string, tag = "1")]
    pub(crate) tag: String,
    #[prost(float, optional, tag = "2")]
    pub(crate) simple_value: Option<f32>,
    #[prost(message, optional, tag = "4")]
    pub(crate) image: Option<SummaryImage>,
}

/// `tensorflow.Summary.Image`: an encoded PNG.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryImage {
    #[prost(int32, tag = "1")]
    pub(crate) height: i32,
    #[prost(int32, tag = "2")]
    pub(crate) width: i32,
    #[prost(int32, tag = "3")]
    pub(crate) colorspace: i32,
    #[prost(bytes = "vec", tag = "4")]
    pub(crate) encoded_image_string: Vec<u8>,
}

fn masked_crc(data: &[u8]) -> u32 {
    let c = crc32c::crc32c(data);
    c.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// Frames one record.
pub(crate) fn record(data: &[u8]) -> Vec<u8> {
    let len = (data.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc(data).to_le_bytes());
    out
}

/// Appends events to `events.out.tfevents.<time>.adain` in a log directory.
pub(crate) struct EventWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

impl EventWriter {
    /// Creates a new event file in `dir`.
    pub fn create(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let t = now();
        let path = dir.join(format!("events.out.tfevents.{}.adain.{}", t as u64, std::process::id()));
        let f = File::create(&path).map_err(|e| Error::io(&path, e))?;
        let mut w = Self { path, out: BufWriter::new(f) };
        w.write(&Event { wall_time: t, step: 0, file_version: Some("brain.Event:2".into()), summary: None })?;
        Ok(w)
    }

    fn write(&mut self, e: &Event) -> Result<()> {
        let bytes = prost::Message::encode_to_vec(e);
        self.out.write_all(&record(&bytes)).map_err(|e| Error::io(&self.path, e))
    }

    fn summary(&mut self, step: u64, value: Vec<SummaryValue>) -> Result<()> {
        self.write(&Event { wall_time: now(), step: step as i64, file_version: None, summary: Some(Summary { value }) })
    }

    /// Logs scalars `(tag, value)` at `step`.
    pub(crate) fn scalars(&mut self, step: u64, values: &[(&str, f64)]) -> Result<()> {
        let v = values
            .iter()
            .map(|(t, x)| SummaryValue { tag: t.to_string(), simple_value: Some(*x as f32), image: None })
            .collect();
        self.summary(step, v)
    }

    /// Logs an RGB image at `step`.
    pub fn image(&mut self, step: u64, tag: &str, img: &image::RgbImage) -> Result<()> {
        let mut png = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .map_err(|e| Error::Invalid(format!("encoding a TensorBoard image: {e}")))?;
        let image = SummaryImage {
            height: img.height() as i32,
            width: img.width() as i32,
            colorspace: 3,
            encoded_image_string: png,
        };
        self.summary(step, vec![SummaryValue { tag: tag.into(), simple_value: None, image: Some(image) }])
    }

    /// Pushes buffered events to the file (TensorBoard reads it while training runs).
    pub fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(|e| Error::io(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_tensorflow_masking() {
        // crc32c("123456789") = 0xe3069283 (the standard check value).
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
        let c: u32 = 0xe306_9283;
        assert_eq!(masked_crc(b"123456789"), c.rotate_right(15).wrapping_add(0xa282_ead8));
        let r = record(b"abc");
        assert_eq!(r.len(), 8 + 4 + 3 + 4);
        assert_eq!(&r[..8], &3u64.to_le_bytes());
    }
}
