//! Adam, written out over tensors so that its state (first and second moments, step count) can
//! be checkpointed and restored exactly. The update is torch.optim.Adam's (no weight decay):
//! `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
//! `p ← p − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε)`. A parameter added to a resumed run (a
//! grown network) counts `t` from the update at which it joined.

use std::collections::BTreeMap;
use tch::{Kind, Tensor};

/// Adam state for a list of parameters.
pub struct Adam {
    pub(crate) beta1: f64,
    pub(crate) beta2: f64,
    pub(crate) eps: f64,
    /// Number of updates done so far.
    pub(crate) t: u64,
    params: Vec<(String, Tensor)>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    /// The update count at which each parameter joined (0 but for those a grown network
    /// added on resume): its bias correction counts its own updates.
    start: Vec<u64>,
    /// Learning-rate multiplier of the parameters that joined late (a grown network's new
    /// blocks would otherwise start from zero at the run's decayed rate).
    pub(crate) late_lr_scale: f64,
}

impl Adam {
    /// Adam over named parameters (requires_grad tensors).
    pub fn new(params: Vec<(String, Tensor)>, beta1: f64, beta2: f64) -> Self {
        let mut params = params;
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let m = params.iter().map(|(_, p)| p.zeros_like()).collect();
        let v = params.iter().map(|(_, p)| p.zeros_like()).collect();
        let start = vec![0; params.len()];
        Self { beta1, beta2, eps: 1e-8, t: 0, params, m, v, start, late_lr_scale: 1.0 }
    }

    /// The parameters (shallow copies), in the fixed name order of the optimiser state.
    pub fn parameters(&self) -> Vec<Tensor> {
        self.params.iter().map(|(_, p)| p.shallow_clone()).collect()
    }

    /// Clears the gradients.
    pub fn zero_grad(&mut self) {
        for (_, p) in &mut self.params {
            p.zero_grad();
        }
    }

    /// L2 norm of all gradients together.
    pub fn grad_norm(&self) -> f64 {
        let mut total = 0.0;
        for (_, p) in &self.params {
            let g = p.grad();
            if g.defined() {
                total += g.square().sum(Kind::Double).double_value(&[]);
            }
        }
        total.sqrt()
    }

    /// One update with learning rate `lr`.
    pub fn step(&mut self, lr: f64) {
        let _g = tch::no_grad_guard();
        self.t += 1;
        let moments = self.m.iter_mut().zip(self.v.iter_mut());
        for (((_, p), start), (m, v)) in self.params.iter_mut().zip(&self.start).zip(moments) {
            let g = p.grad();
            if !g.defined() {
                continue;
            }
            let t = (self.t - start).min(i32::MAX as u64) as i32;
            let (bc1, bc2) = (1.0 - self.beta1.powi(t), 1.0 - self.beta2.powi(t));
            let lr = if *start > 0 { lr * self.late_lr_scale } else { lr };
            let _ = m.g_mul_scalar_(self.beta1).g_add_(&(&g * (1.0 - self.beta1)));
            let _ = v.g_mul_scalar_(self.beta2).g_add_(&(g.square() * (1.0 - self.beta2)));
            let denom = v.sqrt() / bc2.sqrt() + self.eps;
            let _ = p.g_sub_(&(&*m / denom * (lr / bc1)));
        }
    }

    /// The moments as named tensors (`m.<param>`, `v.<param>`), for checkpoints.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for ((n, _), (m, v)) in self.params.iter().zip(self.m.iter().zip(&self.v)) {
            out.push((format!("m.{n}"), m.shallow_clone()));
            out.push((format!("v.{n}"), v.shallow_clone()));
        }
        out
    }

    /// Restores the moments, the step count `t` and when each parameter joined (`starts`, as
    /// [`Self::starts`] gave them). A parameter the state lacks is an error unless `is_new`
    /// says the network grew it: it then joins now, with zero moments.
    pub(crate) fn load_state(
        &mut self,
        state: &std::collections::HashMap<String, Tensor>,
        t: u64,
        starts: &BTreeMap<String, u64>,
        is_new: &dyn Fn(&str) -> bool,
    ) -> Result<(), String> {
        let _g = tch::no_grad_guard();
        let moments = self.m.iter_mut().zip(self.v.iter_mut());
        for (((n, _), (m, v)), start) in self.params.iter().zip(moments).zip(self.start.iter_mut()) {
            match (state.get(&format!("m.{n}")), state.get(&format!("v.{n}"))) {
                (Some(sm), Some(sv)) => {
                    m.copy_(&sm.to_device(m.device()));
                    v.copy_(&sv.to_device(v.device()));
                    *start = starts.get(n).copied().unwrap_or(0);
                }
                _ if is_new(n) => {
                    let _ = m.zero_();
                    let _ = v.zero_();
                    *start = t;
                }
                (None, _) => return Err(format!("optimizer state has no m.{n}")),
                (_, None) => return Err(format!("optimizer state has no v.{n}")),
            }
        }
        self.t = t;
        Ok(())
    }

    /// When each parameter that joined after the first update did (by name), for the
    /// checkpoint's state.
    pub(crate) fn starts(&self) -> BTreeMap<String, u64> {
        self.params.iter().zip(&self.start).filter(|(_, s)| **s > 0).map(|((n, _), s)| (n.clone(), *s)).collect()
    }

    /// Sets when each parameter joined (`starts`: [`Self::starts`] of another optimiser over
    /// the same parameters).
    pub(crate) fn set_starts(&mut self, starts: &BTreeMap<String, u64>) {
        for ((n, _), s) in self.params.iter().zip(self.start.iter_mut()) {
            *s = starts.get(n).copied().unwrap_or(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A parameter added on resume joins with zero moments at the resumed count and is
    /// bias-corrected as a fresh start: its first update is `lr` per element, in the
    /// gradient's sign (times the late joiners' rate multiplier), while an old one's follows its
    /// restored moments at the plain rate.
    #[test]
    fn a_parameter_added_on_resume_starts_fresh() {
        let old = Tensor::from_slice(&[1.0f32, -1.0]).set_requires_grad(true);
        let new = Tensor::from_slice(&[0.0f32, 0.0]).set_requires_grad(true);
        let mut adam =
            Adam::new(vec![("old".into(), old.shallow_clone()), ("new".into(), new.shallow_clone())], 0.9, 0.999);
        let state: HashMap<String, Tensor> = [
            ("m.old".to_string(), Tensor::from_slice(&[0.1f32, 0.1])),
            ("v.old".to_string(), Tensor::from_slice(&[1.0f32, 1.0])),
        ]
        .into();
        assert!(adam.load_state(&state, 500, &BTreeMap::new(), &|_| false).is_err(), "new is missing");
        adam.load_state(&state, 500, &BTreeMap::new(), &|n| n == "new").unwrap();
        assert_eq!(adam.starts(), BTreeMap::from([("new".to_string(), 500)]));
        let loss = (&old * Tensor::from_slice(&[2.0f32, 2.0])).sum(Kind::Float)
            + (&new * Tensor::from_slice(&[3.0f32, -0.5])).sum(Kind::Float);
        loss.backward();
        adam.late_lr_scale = 2.0;
        adam.step(0.01);
        let step: Vec<f32> = Vec::try_from(new.detach()).unwrap();
        assert!((step[0] + 0.02).abs() < 1e-6 && (step[1] - 0.02).abs() < 1e-6, "at twice the rate: {step:?}");
        let moved: Vec<f32> = Vec::try_from(old.detach() - Tensor::from_slice(&[1.0f32, -1.0])).unwrap();
        assert!(moved.iter().all(|d| d.abs() < 0.005), "the old parameter keeps its moments: {moved:?}");
        let mut other = Adam::new(vec![("old".into(), old), ("new".into(), new)], 0.9, 0.999);
        other.set_starts(&adam.starts());
        assert_eq!(other.starts(), adam.starts());
    }
}
