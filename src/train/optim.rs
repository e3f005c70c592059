//! Adam, written out over tensors so that its state (first and second moments, step count) can
//! be checkpointed and restored exactly. The update is torch.optim.Adam's (no weight decay):
//! `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
//! `p ← p − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε)`.

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
}

impl Adam {
    /// Adam over named parameters (requires_grad tensors).
    pub fn new(params: Vec<(String, Tensor)>, beta1: f64, beta2: f64) -> Self {
        let mut params = params;
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let m = params.iter().map(|(_, p)| p.zeros_like()).collect();
        let v = params.iter().map(|(_, p)| p.zeros_like()).collect();
        Self { beta1, beta2, eps: 1e-8, t: 0, params, m, v }
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
        let bc1 = 1.0 - self.beta1.powi(self.t as i32);
        let bc2 = 1.0 - self.beta2.powi(self.t as i32);
        for ((_, p), (m, v)) in self.params.iter_mut().zip(self.m.iter_mut().zip(self.v.iter_mut())) {
            let g = p.grad();
            if !g.defined() {
                continue;
            }
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

    /// Restores the moments (and the step count `t`).
    pub(crate) fn load_state(
        &mut self,
        state: &std::collections::HashMap<String, Tensor>,
        t: u64,
    ) -> Result<(), String> {
        let _g = tch::no_grad_guard();
        for ((n, _), (m, v)) in self.params.iter().zip(self.m.iter_mut().zip(self.v.iter_mut())) {
            let sm = state.get(&format!("m.{n}")).ok_or(format!("optimizer state has no m.{n}"))?;
            let sv = state.get(&format!("v.{n}")).ok_or(format!("optimizer state has no v.{n}"))?;
            m.copy_(&sm.to_device(m.device()));
            v.copy_(&sv.to_device(v.device()));
        }
        self.t = t;
        Ok(())
    }
}
