//! How an image is stylized, declared once: the defaults and the checks of every front end
//! (`adain stylize`, `video`, `eval`, `export`, the server's form and live mode, and the page,
//! which asks the server for them at `GET /api/settings`). The CLI's flags are made from this
//! declaration ([`crate::settings!`]), as `adain train`'s are from `TrainConfig`.

use super::tile::Tile;
use crate::error::{Error, Result};
use crate::model::Family;

/// The default shorter side of contents and styles: the scale the networks were trained at
/// (also the size gallery styles are encoded at by the server).
pub const DEFAULT_SIZE: u32 = 512;

crate::settings! {
    /// Stylize settings.
    pub struct Settings {
        /// Style strength in [0, 1] (1: full style; 0: the photo back through the network).
        alpha: f64 = 1.0,
        /// Shorter side of the content before stylizing; the result has this size (0: the
        /// image's own size).
        content_size: u32 = DEFAULT_SIZE,
        /// Shorter side of the style image before encoding (0: its own size).
        style_size: u32 = DEFAULT_SIZE,
        /// Keep the content's colours (the styles are recoloured to it first).
        preserve_color: bool = false,
        /// How far the result's colours are moved onto the painting's RGB mean and
        /// covariance, in [0, 1] (0: the network's own colours); scaled by alpha. Default: 1
        /// for vgg, 0.5 for lite (whose decoder learns the painting's colours itself).
        match_palette: f64 = 1.0,
        /// Large images in tiles (same result, bounded memory): auto (tiles of 512 above
        /// 1536² pixels), off, or a tile side in pixels.
        tile: Tile = Tile::Auto,
        /// Video and live mode: weight of the previous frame's AdaIN target, moved with the
        /// camera, where the scene stands still, in [0, 1) (less flicker without dragging
        /// behind the motion; 0: each frame on its own).
        temporal: f64 = 0.5,
        /// Live mode: shorter side of the camera frames, at most 1024 (0: as they come).
        live_size: u32 = 256,
    }
}

/// α outside [0, 1] (or not a number) is refused, by the network steps that take α and by
/// [`Settings::validate`].
pub(crate) fn check_alpha(alpha: f64) -> Result<()> {
    if (0.0..=1.0).contains(&alpha) { Ok(()) } else { Err(Error::setting("alpha", alpha, "must be in [0, 1]")) }
}

/// The largest frame side live mode takes.
pub(crate) const LIVE_MAX_SIZE: u32 = 1024;

/// The lite network's palette matching strength. Its decoder is modulated by the painting's
/// statistics and learns its colours; moving them the whole way onto the painting's RGB
/// covariance costs VGG style, content and AlexNet style. Chosen for the shipped weights on
/// `models/validation-pairs-fb.tsv` (held out from training, not the pairs the quality table
/// reports) as the strength that beats each other one of 0, 0.25, 0.5, 0.75 and 1 on most of
/// `adain eval`'s five metrics (models/README.md).
pub const LITE_MATCH_PALETTE: f64 = 0.5;

impl Settings {
    /// The defaults for a network family: [`Settings::default`] (the VGG model's), with the
    /// lite network's [`LITE_MATCH_PALETTE`]. Front ends apply their options on top of these.
    pub fn for_family(family: Family) -> Self {
        match family {
            Family::Lite => Settings { match_palette: LITE_MATCH_PALETTE, ..Default::default() },
            Family::Vgg | Family::MicroAst => Settings::default(),
        }
    }

    /// Checks every value; the error ([`Error::Setting`]) names the setting.
    pub fn validate(&self) -> Result<()> {
        check_alpha(self.alpha)?;
        if !(0.0..=1.0).contains(&self.match_palette) {
            return Err(Error::setting("match_palette", self.match_palette, "must be in [0, 1]"));
        }
        if !(0.0..1.0).contains(&self.temporal) {
            return Err(Error::setting("temporal", self.temporal, "must be in [0, 1)"));
        }
        if self.live_size > LIVE_MAX_SIZE {
            return Err(Error::setting("live_size", self.live_size, format!("must be at most {LIVE_MAX_SIZE}")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings as _;

    #[test]
    fn defaults_are_valid_and_overrides_are_checked() {
        let d = Settings::default();
        d.validate().unwrap();
        // The lite network's defaults differ in the palette matching only.
        let lite = Settings::for_family(Family::Lite);
        lite.validate().unwrap();
        assert_eq!(Settings { match_palette: d.match_palette, ..lite }, d);
        assert_eq!(Settings::for_family(Family::Vgg), d);
        let s = d.with_overrides(&[("alpha".into(), "0.5".into()), ("tile".into(), "off".into())]).unwrap();
        assert_eq!((s.alpha, s.tile), (0.5, Tile::Off));
        let s = d.with_overrides(&[("tile".into(), "256".into())]).unwrap();
        assert_eq!(s.tile, Tile::Size(256));
        assert!(d.with_overrides(&[("tile".into(), "17".into())]).is_err());
        let s = Settings { alpha: 1.5, ..Default::default() };
        assert!(s.validate().unwrap_err().to_string().contains("alpha"));
        let s = Settings { temporal: 1.0, ..Default::default() };
        assert!(s.validate().unwrap_err().to_string().contains("temporal"));
    }

    #[test]
    fn serialises_to_json_for_the_page() {
        let v = serde_json::to_value(Settings::default()).unwrap();
        assert_eq!(v["alpha"], 1.0);
        assert_eq!(v["content_size"], 512);
        assert_eq!(v["tile"], "auto");
        assert_eq!(v["live_size"], 256);
    }
}
