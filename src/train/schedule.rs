//! Learning-rate schedules, optionally after a linear warm-up.

use serde::{Deserialize, Serialize};

/// A learning-rate schedule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    /// `lr`.
    Constant,
    /// `lr · γ^⌊t / step_size⌋`.
    Step,
    /// `lr / (1 + decay · t)` (the original AdaIN training uses decay 5e-5).
    InverseDecay,
    /// `lr · γ^k`, k growing by one whenever the validation loss has not improved for
    /// `patience` validations.
    Plateau,
}

crate::settings! {
    /// Learning-rate settings.
    pub struct LrConfig {
        /// Adam's base learning rate.
        lr: f64 = 1e-4,
        /// constant | step | inverse-decay | plateau (validation loss not improving).
        schedule: Schedule = Schedule::InverseDecay,
        /// For the inverse-decay schedule: lr / (1 + decay · step).
        decay: f64 = 5e-5,
        /// For the step schedule: steps between cuts by gamma.
        step_size: u64 = 10_000,
        /// For the step and plateau schedules: the factor of each cut.
        gamma: f64 = 0.5,
        /// Linear warm-up from 0 over this many steps.
        warmup: u64 = 0,
        /// For the plateau schedule: validations without improvement before the rate is cut.
        patience: u32 = 3,
    }
}

impl LrConfig {
    /// Learning rate at step `t` (0-based), given the plateau state (ignored by the others).
    pub fn at(&self, t: u64, plateau: &Plateau) -> f64 {
        let base = match self.schedule {
            Schedule::Constant => self.lr,
            Schedule::Plateau => self.lr * self.gamma.powi(plateau.reductions as i32),
            Schedule::Step => self.lr * self.gamma.powi((t / self.step_size.max(1)) as i32),
            Schedule::InverseDecay => self.lr / (1.0 + self.decay * t as f64),
        };
        if t < self.warmup { base * (t + 1) as f64 / self.warmup as f64 } else { base }
    }
}

/// State of the plateau schedule, checkpointed with the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plateau {
    pub(crate) best: Option<f64>,
    pub(crate) bad: u32,
    pub(crate) reductions: u32,
}

impl Plateau {
    /// Records a validation loss; returns true when the rate was just cut.
    pub(crate) fn observe(&mut self, val_loss: f64, patience: u32) -> bool {
        match self.best {
            Some(b) if val_loss >= b * (1.0 - 1e-4) => {
                self.bad += 1;
                if self.bad >= patience.max(1) {
                    self.bad = 0;
                    self.reductions += 1;
                    return true;
                }
                false
            }
            _ => {
                self.best = Some(val_loss);
                self.bad = 0;
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        let c = LrConfig { lr: 1.0, schedule: Schedule::InverseDecay, decay: 0.5, ..Default::default() };
        let p = Plateau::default();
        assert_eq!(c.at(0, &p), 1.0);
        assert_eq!(c.at(2, &p), 0.5);
        let s = LrConfig { lr: 1.0, schedule: Schedule::Step, step_size: 10, gamma: 0.1, ..Default::default() };
        assert!((s.at(25, &p) - 0.01).abs() < 1e-12);
        let w = LrConfig { lr: 1.0, schedule: Schedule::Constant, warmup: 4, ..Default::default() };
        assert_eq!(w.at(0, &p), 0.25);
        assert_eq!(w.at(3, &p), 1.0);
        assert_eq!(w.at(100, &p), 1.0);
    }

    #[test]
    fn plateau_cuts_after_patience() {
        let c = LrConfig { lr: 1.0, schedule: Schedule::Plateau, gamma: 0.5, patience: 2, ..Default::default() };
        let mut p = Plateau::default();
        assert!(!p.observe(1.0, 2));
        assert!(!p.observe(0.9, 2));
        assert!(!p.observe(0.95, 2));
        assert!(p.observe(0.91, 2));
        assert_eq!(c.at(10, &p), 0.5);
        assert!(!p.observe(0.5, 2));
        assert_eq!(p.bad, 0);
    }
}
