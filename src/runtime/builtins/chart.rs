//! `plotHistory(history, file, names)` (ours, not SystemDS's): the history of a training run as
//! an SVG line chart, one line per history column and epoch on the x axis, for the converters'
//! training scripts. Losses (`loss`, `val_loss`, any name ending in `loss`) share the upper panel,
//! the metrics the lower one (left out when there are none); `learning_rate` stays in the CSV
//! only, its scale has nothing in common with the others'. Drawn with plotters' SVG backend; the
//! file is written atomically.

use super::{Args, BuiltinFn::Plain, Impl};
use crate::runtime::error::{RtError, RtResult};
use crate::types::value::Value;
use ndarray::Array2;
use plotters::prelude::*;
use std::path::Path;

pub(super) const IMPLS: &[Impl] = &[("plotHistory", Plain(plot_history))];

fn plot_history(a: Args) -> RtResult<Vec<Value>> {
    let history = a.matrix("history")?.to_dense();
    let file = a.text("file")?;
    let names: Vec<String> = a.text("names")?.split(',').map(|s| s.trim().to_string()).collect();
    if names.len() != history.ncols() {
        return Err(a.error(format!(
            "names lists {} columns, but the history has {}",
            names.len(),
            history.ncols()
        )));
    }
    let svg = history_svg(&history, &names).map_err(|e| a.error(format!("cannot draw the chart: {e}")))?;
    crate::runtime::io::write_atomic(Path::new(&*file), svg.as_bytes())
        .map_err(|e| RtError::new(e.to_string()))?;
    Ok(vec![])
}

/// The panels of a history chart: a title and the columns drawn in it.
fn panels(names: &[String]) -> Vec<(&'static str, Vec<usize>)> {
    let losses: Vec<usize> = (0..names.len()).filter(|&c| names[c].ends_with("loss")).collect();
    let metrics: Vec<usize> =
        (0..names.len()).filter(|&c| !names[c].ends_with("loss") && names[c] != "learning_rate").collect();
    [("loss", losses), ("metrics", metrics)].into_iter().filter(|(_, cols)| !cols.is_empty()).collect()
}

/// The y range of some columns: their finite values, padded by 5% (a flat line gets a unit
/// range around it).
fn y_range(h: &Array2<f64>, cols: &[usize]) -> (f64, f64) {
    let values = cols.iter().flat_map(|&c| h.column(c).to_vec()).filter(|v| v.is_finite());
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = if hi > lo { (hi - lo) * 0.05 } else { 0.5 };
    (lo - pad, hi + pad)
}

/// The SVG text of the chart of `h` (one row per epoch, columns named by `names`).
pub fn history_svg(h: &Array2<f64>, names: &[String]) -> Result<String, String> {
    let panels = panels(names);
    if panels.is_empty() {
        return Err("the history has no loss or metric column".into());
    }
    let epochs = h.nrows();
    let mut svg = String::new();
    {
        let height = 300 * panels.len() as u32;
        let root = SVGBackend::with_string(&mut svg, (800, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let areas = root.split_evenly((panels.len(), 1));
        for (area, (title, cols)) in areas.iter().zip(&panels) {
            let (lo, hi) = y_range(h, cols);
            let mut chart = ChartBuilder::on(area)
                .caption(*title, ("sans-serif", 18))
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(60)
                .build_cartesian_2d(1f64..(epochs.max(2)) as f64, lo..hi)
                .map_err(|e| e.to_string())?;
            chart.configure_mesh().x_desc("epoch").draw().map_err(|e| e.to_string())?;
            for (k, &c) in cols.iter().enumerate() {
                let color = Palette99::pick(k).to_rgba();
                let points =
                    (0..epochs).filter(|&r| h[[r, c]].is_finite()).map(|r| ((r + 1) as f64, h[[r, c]]));
                chart
                    .draw_series(LineSeries::new(points, color.stroke_width(2)))
                    .map_err(|e| e.to_string())?
                    .label(names[c].as_str())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn losses_and_metrics_get_a_panel_each_and_the_learning_rate_none() {
        let names: Vec<String> = ["loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(panels(&names), vec![("loss", vec![0, 2]), ("metrics", vec![1, 3])]);
        let only_loss = vec!["loss".to_string(), "learning_rate".to_string()];
        assert_eq!(panels(&only_loss), vec![("loss", vec![0])]);
    }

    #[test]
    fn the_chart_has_a_line_per_column_and_the_names_in_its_legend() {
        let h = array![[1.0, 0.5, 0.01], [0.6, 0.7, 0.01], [0.4, 0.8, 0.005]];
        let names = vec!["loss".to_string(), "accuracy".to_string(), "learning_rate".to_string()];
        let svg = history_svg(&h, &names).unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        // Axes and ticks are black; each series is a coloured polyline, and so is its legend mark.
        let coloured = svg.matches("<polyline").count()
            - svg.matches("<polyline fill=\"none\" opacity=\"1\" stroke=\"#000000\"").count();
        assert_eq!(coloured, 2 + 2, "two series and their legend marks: {svg}");
        assert!(svg.contains("\nloss\n") && svg.contains("\naccuracy\n"), "the legend names the series");
        assert!(!svg.contains("learning_rate"), "the learning rate is not drawn");
        assert!(svg.contains("\nepoch\n"), "the x axis is labelled");
    }

    #[test]
    fn ranges_ignore_non_finite_values() {
        let h = array![[1.0], [f64::NAN], [3.0]];
        assert_eq!(y_range(&h, &[0]), (0.9, 3.1));
        assert_eq!(y_range(&array![[2.0]], &[0]), (1.5, 2.5));
    }
}
