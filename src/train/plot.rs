//! `loss.png`: training and validation loss curves, rendered with plotters' bitmap backend
//! (the DejaVu Sans font is embedded, so no system fonts are needed).

use crate::error::{Error, Result};
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

static FONT: Once = Once::new();

fn register_font() {
    FONT.call_once(|| {
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
    });
}

/// One named curve of `(step, value)` points.
pub(crate) struct Series<'a> {
    pub(crate) name: &'a str,
    pub(crate) points: Vec<(f64, f64)>,
}

/// Draws the curves (log-scale y) into a PNG, through a temp file and a rename.
pub(crate) fn render(path: &Path, title: &str, series: &[Series]) -> Result<()> {
    register_font();
    let pts = series.iter().flat_map(|s| s.points.iter()).filter(|(_, y)| y.is_finite() && *y > 0.0);
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in pts {
        x0 = x0.min(*x);
        x1 = x1.max(*x);
        y0 = y0.min(*y);
        y1 = y1.max(*y);
    }
    if x0 > x1 {
        return Ok(()); // nothing to draw yet
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    if y1 <= y0 * 1.01 {
        y1 = y0 * 1.1;
        y0 /= 1.1;
    }
    crate::io::atomic_write(path, |tmp| {
        let root = BitMapBackend::new(tmp, (900, 500)).into_drawing_area();
        let draw_err = |e: String| Error::image(path, format!("drawing the plot: {e}"));
        root.fill(&WHITE).map_err(|e| draw_err(e.to_string()))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, (y0..y1).log_scale())
            .map_err(|e| draw_err(e.to_string()))?;
        chart.configure_mesh().x_desc("step").y_desc("loss").draw().map_err(|e| draw_err(e.to_string()))?;
        let colors = [BLUE, RED, GREEN, MAGENTA, CYAN, BLACK];
        for (i, s) in series.iter().enumerate() {
            let color = colors[i % colors.len()];
            let pts: Vec<(f64, f64)> = s.points.iter().copied().filter(|(_, y)| y.is_finite() && *y > 0.0).collect();
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)))
                .map_err(|e| draw_err(e.to_string()))?
                .label(s.name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| draw_err(e.to_string()))?;
        root.present().map_err(|e| draw_err(e.to_string()))
    })
}

/// Reads `metrics.csv` columns by name: `(step, value)` pairs for each requested column.
pub(crate) fn read_csv(path: &Path, columns: &[&str]) -> Result<Vec<Vec<(f64, f64)>>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let idx: Vec<Option<usize>> = columns.iter().map(|c| header.iter().position(|h| h == c)).collect();
    let mut out = vec![Vec::new(); columns.len()];
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        let Some(step) = f.first().and_then(|s| s.parse::<f64>().ok()) else { continue };
        for (k, i) in idx.iter().enumerate() {
            if let Some(v) = i.and_then(|i| f.get(i)).and_then(|s| s.parse::<f64>().ok()) {
                out[k].push((step, v));
            }
        }
    }
    Ok(out)
}
