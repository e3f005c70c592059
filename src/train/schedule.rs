//! Learning-rate schedules, optionally after a linear warm-up.

use serde::{Deserialize, Serialize};

/// A learning-rate schedule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    /// `lr`.
    Constant,
    /// `lr · γ^⌊t / step_size⌋`.
    Step,
    /// `lr / (1 + decay · t)` (the original AdaIN training uses decay 5e-5).
    InverseDecay,
}

/// Schedule settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LrConfig {
    pub lr: f64,
    pub schedule: Schedule,
    /// For `inverse-decay`.
    pub decay: f64,
    /// For `step`.
    pub step_size: u64,
    /// For `step`.
    pub gamma: f64,
    /// Linear warm-up from 0 over this many steps.
    pub warmup: u64,
}

impl Default for LrConfig {
    fn default() -> Self {
        Self { lr: 1e-4, schedule: Schedule::InverseDecay, decay: 5e-5, step_size: 10_000, gamma: 0.5, warmup: 0 }
    }
}

impl LrConfig {
    /// Learning rate at step `t` (0-based).
    pub fn at(&self, t: u64) -> f64 {
        let base = match self.schedule {
            Schedule::Constant => self.lr,
            Schedule::Step => self.lr * self.gamma.powi((t / self.step_size.max(1)) as i32),
            Schedule::InverseDecay => self.lr / (1.0 + self.decay * t as f64),
        };
        if t < self.warmup { base * (t + 1) as f64 / self.warmup as f64 } else { base }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        let c = LrConfig { lr: 1.0, schedule: Schedule::InverseDecay, decay: 0.5, ..Default::default() };
        assert_eq!(c.at(0), 1.0);
        assert_eq!(c.at(2), 0.5);
        let s = LrConfig { lr: 1.0, schedule: Schedule::Step, step_size: 10, gamma: 0.1, ..Default::default() };
        assert!((s.at(25) - 0.01).abs() < 1e-12);
        let w = LrConfig { lr: 1.0, schedule: Schedule::Constant, warmup: 4, ..Default::default() };
        assert_eq!(w.at(0), 0.25);
        assert_eq!(w.at(3), 1.0);
        assert_eq!(w.at(100), 1.0);
    }
}
