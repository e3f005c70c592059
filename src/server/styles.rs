//! The style gallery (the committed public-domain images, a `--styles` folder, and styles
//! uploaded by the page, bounded) and the cache of decoded styles with their statistics,
//! keyed by the hash of the file's bytes, so that moving a slider or sending the next camera
//! frame does not decode or encode the style again.

use super::error::ApiError;
use adain::data::image as img;
use image::Rgb32FImage;
use lru::LruCache;
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

/// Shorter side at which styles are encoded (the default style size of every front end).
pub const STYLE_SIZE: u32 = adain::infer::settings::DEFAULT_SIZE;
/// The most pixels of a decoded style (a 4:1 panorama at [`STYLE_SIZE`]; wider ones are
/// scaled down further), which bounds the cache's memory.
pub const STYLE_MAX_PIXELS: u64 = 4 * (STYLE_SIZE as u64) * (STYLE_SIZE as u64);
/// Side of the gallery thumbnails.
const THUMB: u32 = 256;
/// Uploaded styles kept in the gallery (oldest dropped first).
pub const MAX_UPLOADS: usize = 32;
/// Uploaded styles one peer address may keep (unless `adain serve --per-client 0`): its own
/// oldest is dropped first, so that no client can push out everyone else's.
pub const MAX_UPLOADS_PER_PEER: usize = 8;

/// A style image of the gallery.
pub struct GalleryItem {
    pub id: String,
    pub name: String,
    /// `built-in`, `folder` or `upload`.
    pub source: &'static str,
    pub bytes: Arc<Vec<u8>>,
    /// The sha256 of the bytes: the same image uploaded again by the same peer is the same item.
    hash: [u8; 32],
    /// The address that uploaded it (`None` for the built-in and `--styles` images).
    owner: Option<IpAddr>,
    thumb: OnceLock<Result<Vec<u8>, String>>,
}

impl GalleryItem {
    fn new(id: String, name: String, source: &'static str, bytes: Vec<u8>) -> Self {
        Self { id, name, source, hash: hash(&bytes), bytes: Arc::new(bytes), owner: None, thumb: OnceLock::new() }
    }

    /// A JPEG thumbnail (made once; `one_at_a_time` keeps decodes for thumbnails serial).
    pub fn thumbnail(&self, max_pixels: u64, one_at_a_time: &Mutex<()>) -> Result<Vec<u8>, ApiError> {
        self.thumb
            .get_or_init(|| {
                let _serial = one_at_a_time.lock().unwrap_or_else(|e| e.into_inner());
                let im = img::decode(&self.bytes, max_pixels).map_err(|e| e.to_string())?;
                let sq = img::center_crop(&img::resize_shorter(&im, THUMB), THUMB);
                encode(&sq, image::ImageFormat::Jpeg).map_err(|e| e.message)
            })
            .clone()
            .map_err(ApiError::internal)
    }
}

/// A `--styles` folder's optional `gallery.toml`: one `[[style]]` table per painting, with its
/// `file` (relative to the folder), `title`, and optionally `artist`, `year`, `source` and
/// `licence` (the provenance, kept beside the images as `assets/PROVENANCE.md` is).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct GalleryFile {
    #[serde(default)]
    style: Vec<GalleryEntry>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct GalleryEntry {
    file: String,
    title: String,
    artist: Option<String>,
    year: Option<String>,
    #[allow(dead_code, reason = "provenance read for completeness; kept in the file")]
    source: Option<String>,
    #[allow(dead_code, reason = "provenance read for completeness; kept in the file")]
    licence: Option<String>,
}

/// The names `dir/gallery.toml` gives its files, in its order, as the gallery shows them:
/// "Title (Artist, year)" like the built-in painting's. No file: none. A file that does not
/// parse, or names an image that is not there, is an error naming it.
fn gallery_names(dir: &Path) -> anyhow::Result<Vec<(std::path::PathBuf, String)>> {
    let path = dir.join("gallery.toml");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => anyhow::bail!("{}: {e}", path.display()),
    };
    let parsed: GalleryFile = toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    parsed
        .style
        .into_iter()
        .map(|e| {
            if !dir.join(&e.file).is_file() {
                anyhow::bail!("{}: {:?} is not a file in {}", path.display(), e.file, dir.display());
            }
            let by: Vec<String> = [e.artist, e.year].into_iter().flatten().collect();
            let name = if by.is_empty() { e.title } else { format!("{} ({})", e.title, by.join(", ")) };
            Ok((std::path::PathBuf::from(e.file), name))
        })
        .collect()
}

/// The images built into the binary, paintings first (public domain and CC0; title, artist,
/// year and source of each in assets/PROVENANCE.md).
const BUILT_IN: [(&str, &str, &[u8]); 12] = [
    ("starry_night", "The Starry Night (van Gogh, 1889)", include_bytes!("../../assets/starry_night.jpg")),
    (
        "van_gogh_wheat_field_with_cypresses",
        "Wheat Field with Cypresses (van Gogh, 1889)",
        include_bytes!("../../assets/van_gogh_wheat_field_with_cypresses.jpg"),
    ),
    (
        "van_gogh_self_portrait_1889",
        "Self-Portrait (van Gogh, 1889)",
        include_bytes!("../../assets/van_gogh_self_portrait_1889.jpg"),
    ),
    ("van_gogh_night_cafe", "The Night Café (van Gogh, 1888)", include_bytes!("../../assets/van_gogh_night_cafe.jpg")),
    (
        "kandinsky_composition_vii",
        "Composition VII (Kandinsky, 1913)",
        include_bytes!("../../assets/kandinsky_composition_vii.jpg"),
    ),
    ("picabia_edtaonisl", "Edtaonisl (Picabia, 1913)", include_bytes!("../../assets/picabia_edtaonisl.jpg")),
    ("monet_water_lilies", "Water Lilies (Monet, 1897–1926)", include_bytes!("../../assets/monet_water_lilies.jpg")),
    ("turner_snow_storm", "Snow Storm (Turner, 1842)", include_bytes!("../../assets/turner_snow_storm.jpg")),
    (
        "gauguin_te_arii_vahine",
        "Te Arii Vahine (Gauguin, 1896)",
        include_bytes!("../../assets/gauguin_te_arii_vahine.jpg"),
    ),
    ("coffee", "Coffee (photo)", include_bytes!("../../assets/coffee.jpg")),
    ("chelsea", "Chelsea the cat (photo)", include_bytes!("../../assets/chelsea.jpg")),
    ("astronaut", "Astronaut (photo)", include_bytes!("../../assets/astronaut.jpg")),
];

/// A decoded style at [`STYLE_SIZE`] and its style code (as plain numbers, per level) once a
/// worker computed it.
pub struct CachedStyle {
    pub image: Rgb32FImage,
    pub code: OnceLock<Vec<(Vec<f32>, Vec<f32>)>>,
}

/// The gallery and the decoded-style cache.
pub struct Styles {
    gallery: Mutex<Vec<Arc<GalleryItem>>>,
    /// Held while a thumbnail is decoded, so that at most one is (memory bound).
    pub thumbnails: Mutex<()>,
    cache: Mutex<LruCache<[u8; 32], Arc<CachedStyle>>>,
    max_pixels: u64,
}

/// The sha256 of some bytes.
pub fn hash(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Encodes an image as PNG or JPEG bytes.
pub fn encode(im: &Rgb32FImage, format: image::ImageFormat) -> Result<Vec<u8>, ApiError> {
    let rgb = image::DynamicImage::ImageRgb32F(im.clone()).to_rgb8();
    let mut out = std::io::Cursor::new(Vec::new());
    rgb.write_to(&mut out, format).map_err(|e| ApiError::internal(format!("encoding the result: {e}")))?;
    Ok(out.into_inner())
}

impl Styles {
    /// The built-in gallery plus the images of `dir` (each up to `max_bytes`).
    pub fn new(dir: Option<&Path>, cache_entries: usize, max_pixels: u64, max_bytes: usize) -> anyhow::Result<Self> {
        let mut items: Vec<Arc<GalleryItem>> = BUILT_IN
            .iter()
            .map(|(id, name, bytes)| {
                Arc::new(GalleryItem::new(id.to_string(), name.to_string(), "built-in", bytes.to_vec()))
            })
            .collect();
        if let Some(dir) = dir {
            if !dir.is_dir() {
                anyhow::bail!("{}: not a folder (--styles takes a folder of style images)", dir.display());
            }
            let named = gallery_names(dir)?;
            let mut files = img::list_images(dir)?;
            // The folder's gallery.toml order first, then the other images.
            files.sort_by_key(|p| named.iter().position(|(f, _)| p.ends_with(f)).unwrap_or(usize::MAX));
            for p in files {
                let len = std::fs::metadata(&p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?.len() as usize;
                if len > max_bytes {
                    eprintln!("adain: skipping style {}: larger than the upload limit", p.display());
                    continue;
                }
                let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                let id = format!(
                    "folder-{}",
                    stem.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect::<String>()
                );
                if items.iter().any(|i| i.id == id) {
                    continue;
                }
                let name = named.iter().find(|(f, _)| p.ends_with(f)).map_or(stem, |(_, name)| name.clone());
                items.push(Arc::new(GalleryItem::new(id, name, "folder", std::fs::read(&p)?)));
            }
        }
        let cap = NonZeroUsize::new(cache_entries.max(1)).expect("at least one");
        Ok(Self {
            gallery: Mutex::new(items),
            thumbnails: Mutex::new(()),
            cache: Mutex::new(LruCache::new(cap)),
            max_pixels,
        })
    }

    /// The gallery, in order.
    pub fn list(&self) -> Vec<Arc<GalleryItem>> {
        self.gallery.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A gallery item by id.
    pub fn get(&self, id: &str) -> Option<Arc<GalleryItem>> {
        self.list().into_iter().find(|i| i.id == id)
    }

    /// Adds a style uploaded from `owner` (checked to be a readable image) and returns its
    /// item; the same bytes uploaded again from the same address give that item back (a
    /// gallery image's bytes, the gallery item). Its id
    /// is random (128 bits): knowing an image does not give its id, so only the uploader's
    /// page can use it. Each address keeps at most `per_peer` (its own oldest goes first);
    /// when the store holds [`MAX_UPLOADS`], the oldest upload of the address that holds the
    /// most goes.
    pub fn upload(
        &self,
        owner: IpAddr,
        per_peer: usize,
        name: &str,
        bytes: Vec<u8>,
    ) -> Result<Arc<GalleryItem>, ApiError> {
        super::upload::check_image(&bytes, self.max_pixels, "style")?;
        let h = hash(&bytes);
        let mut g = self.gallery.lock().unwrap_or_else(|e| e.into_inner());
        // A built-in or `--styles` image is everyone's: its own id comes back.
        if let Some(i) = g.iter().find(|i| i.hash == h && (i.owner.is_none() || i.owner == Some(owner))) {
            return Ok(i.clone());
        }
        let count = |g: &[Arc<GalleryItem>], who: IpAddr| g.iter().filter(|i| i.owner == Some(who)).count();
        let evict = if count(&g, owner) >= per_peer {
            Some(owner)
        } else if g.iter().filter(|i| i.owner.is_some()).count() >= MAX_UPLOADS {
            g.iter().filter_map(|i| i.owner).max_by_key(|who| count(&g, *who))
        } else {
            None
        };
        if let Some(at) = evict.and_then(|who| g.iter().position(|i| i.owner == Some(who))) {
            g.remove(at);
        }
        let id = random_id("an upload id")?;
        let name = if name.is_empty() { "upload".to_owned() } else { name.chars().take(80).collect() };
        let mut item = GalleryItem::new(format!("upload-{id}"), name, "upload", bytes);
        item.owner = Some(owner);
        let item = Arc::new(item);
        g.push(item.clone());
        Ok(item)
    }

    /// The decoded style for these bytes, from the cache or decoded now (and cached).
    pub fn decoded(&self, bytes: &[u8]) -> Result<Arc<CachedStyle>, ApiError> {
        let key = hash(bytes);
        if let Some(c) = self.cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(c.clone());
        }
        let im = img::decode(bytes, self.max_pixels).map_err(|e| super::upload::decode_error(e, "style"))?;
        let image = img::resize_shorter_within(&im, STYLE_SIZE, STYLE_MAX_PIXELS);
        let entry = Arc::new(CachedStyle { image, code: OnceLock::new() });
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).put(key, entry.clone());
        Ok(entry)
    }

    /// Styles in the cache.
    pub fn cached(&self) -> usize {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// Lowercase hex.
/// 128 random bits in hex: an id that only those it was given to know (`what` names it in
/// the error).
pub fn random_id(what: &str) -> Result<String, ApiError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| ApiError::internal(format!("no randomness for {what}: {e}")))?;
    Ok(hex(&b))
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
