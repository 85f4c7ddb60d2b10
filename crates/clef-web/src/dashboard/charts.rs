//! The geometry of the server-drawn SVG charts: numbers in, coordinates out. The templates
//! draw the elements (so every label is escaped there); nothing here knows HTML.

use clef_core::Millis;
use clef_core::trends::{OpenAt, ResolveTime};

/// The plot area inside a chart's view box.
const LEFT: f64 = 44.0;
const TOP: f64 = 10.0;

/// A stacked area chart of open alerts by severity, most severe at the bottom.
pub struct StackedChart {
    pub width: u32,
    pub height: u32,
    pub layers: Vec<Layer>,
    /// Horizontal grid lines: (y, label).
    pub ticks: Vec<(f64, String)>,
    /// Dates under the x axis: (x, label, text-anchor), the last one ending at the right edge.
    pub dates: Vec<(f64, String, &'static str)>,
    pub max: u64,
    pub bottom: f64,
    pub right: f64,
}

pub struct Layer {
    /// `critical`, `error`, `warning` or `info`: the CSS class that colours it.
    pub severity: &'static str,
    pub points: String,
    /// The newest value, for the legend.
    pub latest: u64,
}

impl StackedChart {
    pub fn new(series: &[OpenAt], width: u32, height: u32) -> Self {
        let (right, bottom) = (f64::from(width) - 8.0, f64::from(height) - 22.0);
        let max = series.iter().map(|p| p.open.total()).max().unwrap_or(0).max(1);
        let max = nice_ceiling(max);
        let x = |i: usize| {
            if series.len() < 2 { LEFT } else { LEFT + (right - LEFT) * i as f64 / (series.len() - 1) as f64 }
        };
        let y = |v: u64| bottom - (bottom - TOP) * v as f64 / max as f64;
        let mut below = vec![0u64; series.len()];
        let mut layers = Vec::new();
        // Most severe first, so it lies at the bottom.
        for severity in clef_core::Severity::ALL.into_iter().rev() {
            let above: Vec<u64> = series.iter().zip(&below).map(|(p, b)| b + p.open.get(severity)).collect();
            let top = above.iter().enumerate().map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)));
            let base = below.iter().enumerate().rev().map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)));
            layers.push(Layer {
                severity: severity.as_str(),
                points: top.chain(base).collect::<Vec<_>>().join(" "),
                latest: series.last().map(|p| p.open.get(severity)).unwrap_or(0),
            });
            below = above;
        }
        let ticks = [0, max / 2, max].into_iter().map(|v| (y(v), v.to_string())).collect();
        let n = series.len();
        let dates = if n == 0 {
            Vec::new()
        } else {
            let mut picks = vec![0, n / 2, n - 1];
            picks.dedup();
            let anchor = |i: usize| match i {
                0 => "start",
                i if i == n - 1 => "end",
                _ => "middle",
            };
            picks.into_iter().map(|i| (x(i), day_label(series[i].at), anchor(i))).collect()
        };
        Self { width, height, layers, ticks, dates, max, bottom, right }
    }
}

/// Horizontal bars: the median as a solid bar, the 90th percentile as a thin one beside it.
pub struct BarChart {
    pub width: u32,
    pub height: u32,
    pub bars: Vec<Bar>,
    /// The longest p90, as a label for the scale's end.
    pub scale: String,
}

pub struct Bar {
    pub by: &'static str,
    pub group: String,
    pub y: f64,
    pub median_width: f64,
    pub p90_width: f64,
    pub median: String,
    pub p90: String,
    pub resolved: u64,
}

/// Where the bars start, after their labels.
pub const BAR_LEFT: f64 = 170.0;
const ROW: f64 = 26.0;

impl BarChart {
    pub fn new(stats: &[ResolveTime], width: u32) -> Self {
        let longest = stats.iter().map(|s| s.p90_ms).max().unwrap_or(0).max(1);
        // Room after the longest bar for its figures.
        let span = f64::from(width) - BAR_LEFT - 240.0;
        let w = |ms: Millis| (span * ms as f64 / longest as f64).max(1.0);
        let bars = stats
            .iter()
            .enumerate()
            .map(|(i, s)| Bar {
                by: s.by,
                group: s.group.clone(),
                y: 6.0 + i as f64 * ROW,
                median_width: w(s.median_ms),
                p90_width: w(s.p90_ms),
                median: duration(s.median_ms),
                p90: duration(s.p90_ms),
                resolved: s.resolved,
            })
            .collect::<Vec<_>>();
        let height = (bars.len() as f64 * ROW + 12.0) as u32;
        Self { width, height, bars, scale: duration(longest) }
    }
}

/// The smallest of 1, 2, 5 × 10ⁿ at or above `v`, so grid labels are round.
fn nice_ceiling(v: u64) -> u64 {
    let mut step = 1;
    loop {
        for m in [1, 2, 5] {
            if m * step >= v {
                return m * step;
            }
        }
        step *= 10;
    }
}

/// "3 Nov", for the x axis.
fn day_label(ms: Millis) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms / 1000)
        .map(|t| format!("{} {}", t.day(), &t.month().to_string()[..3]))
        .unwrap_or_default()
}

/// "45 min", "3.5 h", "12 d": a duration for people.
pub fn duration(ms: Millis) -> String {
    let minutes = ms as f64 / 60_000.0;
    if minutes < 60.0 {
        format!("{} min", minutes.round().max(1.0))
    } else if minutes < 48.0 * 60.0 {
        format!("{:.1} h", minutes / 60.0)
    } else {
        format!("{:.0} d", minutes / 1440.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clef_core::SeverityCounts;

    fn at(critical: u64, info: u64) -> OpenAt {
        OpenAt { at: 1_700_000_000_000, open: SeverityCounts { critical, info, ..Default::default() } }
    }

    #[test]
    fn layers_stack_from_the_most_severe_up_on_a_round_scale() {
        let chart = StackedChart::new(&[at(2, 1), at(4, 3)], 400, 200);
        assert_eq!(chart.max, 10, "7 rounds up to 10");
        let names: Vec<&str> = chart.layers.iter().map(|l| l.severity).collect();
        assert_eq!(names, ["critical", "error", "warning", "info"]);
        assert_eq!((chart.layers[0].latest, chart.layers[3].latest), (4, 3));
        // Each layer is a closed band: two points along its top, two back along its base.
        assert_eq!(chart.layers[0].points.split(' ').count(), 4);
        assert_eq!(chart.ticks.iter().map(|t| t.1.as_str()).collect::<Vec<_>>(), ["0", "5", "10"]);
        assert_eq!(chart.dates.len(), 2, "the first and last day (the middle is one of them)");
    }

    #[test]
    fn durations_and_scales_read_naturally() {
        assert_eq!(duration(90_000), "2 min");
        assert_eq!(duration(5 * 3_600_000), "5.0 h");
        assert_eq!(duration(10 * 86_400_000), "10 d");
        assert_eq!([1, 3, 7, 20, 21, 450].map(nice_ceiling), [1, 5, 10, 20, 50, 500]);
    }
}
