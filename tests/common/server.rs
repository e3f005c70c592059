//! An `adain serve` process for the tests, on 127.0.0.1 and a free port; stopped (SIGTERM,
//! then SIGKILL) when dropped.

use super::*;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    pub child: Child,
    pub url: String,
    /// The line the server printed with its URL (workers, queue, memory bound).
    pub banner: String,
    pub stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Server {
    /// Starts `adain serve --port 0` with the given extra options (and, in the full build, a
    /// random VGG decoder unless they name one; the light build's is the shipped lite
    /// network); waits for the URL it prints.
    pub fn start(dir: &Path, extra: &[&str]) -> Self {
        let mut args = vec!["serve", "--host", "127.0.0.1", "--port", "0", "--device", "cpu"];
        #[cfg(feature = "torch")]
        let dec = random_decoder_file(dir, 5);
        #[cfg(feature = "torch")]
        if !extra.contains(&"--decoder") {
            args.extend(["--decoder", s(&dec)]);
        }
        #[cfg(not(feature = "torch"))]
        let _ = dir;
        if !extra.contains(&"--precision") {
            args.extend(["--precision", "f32"]);
        }
        let mut child =
            Command::new(bin()).args(&args).args(extra).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let err = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut stderr = child.stderr.take().unwrap();
        let e2 = err.clone();
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
            e2.lock().unwrap().push_str(&s);
        });
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if line.contains("http://") {
                    let _ = tx.send(line);
                }
            }
        });
        let banner = rx
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("no URL from adain serve: {}", err.lock().unwrap()));
        let at = banner.find("http://").expect("a URL");
        let url = banner[at..].split_whitespace().next().unwrap_or_default().to_owned();
        Server { child, url, banner, stderr: err }
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}{}", self.url, path.trim_start_matches('/'))
    }

    /// Sends SIGTERM and waits up to `limit` for the exit status.
    pub fn terminate(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).stderr(Stdio::null()).status();
        let t0 = Instant::now();
        while t0.elapsed() < limit {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.terminate(Duration::from_secs(10)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A PNG file whose header declares `w × h` pixels but holds no pixel data: a decompression
/// bomb's calling card (refused from the header alone).
pub fn png_header_only(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [
        (&b"IHDR"[..], &ihdr[..]),
        (&b"IDAT"[..], &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01][..]),
        (&b"IEND"[..], &[][..]),
    ] {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut chunk = kind.to_vec();
        chunk.extend_from_slice(data);
        out.extend_from_slice(&chunk);
        out.extend_from_slice(&crc32(&chunk).to_be_bytes());
    }
    out
}

/// CRC-32 (IEEE), as PNG chunks use it.
pub fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xffff_ffffu32;
    for b in data {
        c ^= *b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 { 0xedb8_8320 ^ (c >> 1) } else { c >> 1 };
        }
    }
    !c
}

/// An image of `w × h` filled with one colour, encoded as PNG.
pub fn solid_png(w: u32, h: u32, rgb: [u8; 3]) -> Vec<u8> {
    let im = image::RgbImage::from_pixel(w, h, image::Rgb(rgb));
    let mut out = std::io::Cursor::new(Vec::new());
    im.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}
