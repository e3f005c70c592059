//! Bucketed gradient averaging, as PyTorch's DistributedDataParallel does it: the gradients
//! are packed into a few flat buffers of about `bucket_bytes` each (one all-reduce per buffer
//! instead of one per parameter), averaged over the ranks, and unpacked.

use super::group::ProcessGroup;
use crate::error::{Error, Result};
use tch::Tensor;

/// The bucket layout of a parameter list (fixed for a run, the same on every rank).
pub struct GradReducer {
    /// Parameter indices of each bucket, in parameter order.
    buckets: Vec<Vec<usize>>,
}

impl GradReducer {
    /// Buckets of consecutive parameters, each closed once it holds `bucket_bytes` or more.
    pub fn new(params: &[Tensor], bucket_bytes: usize) -> Self {
        let mut buckets = vec![vec![]];
        let mut bytes = 0;
        for (i, p) in params.iter().enumerate() {
            if bytes >= bucket_bytes.max(1) {
                buckets.push(vec![]);
                bytes = 0;
            }
            buckets.last_mut().expect("one bucket").push(i);
            bytes += p.numel() * p.kind().elt_size_in_bytes();
        }
        buckets.retain(|b| !b.is_empty());
        Self { buckets }
    }

    /// Number of buckets (all-reduces per step).
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Replaces every parameter's gradient by its average over the ranks (every parameter
    /// must have one: the same on all ranks, or the buckets would not match).
    pub fn average(&self, group: &ProcessGroup, params: &[Tensor]) -> Result<()> {
        let _g = tch::no_grad_guard();
        if let Some(i) = params.iter().position(|p| !p.grad().defined()) {
            return Err(Error::Distributed(format!("parameter {i} has no gradient to average")));
        }
        let mut flats: Vec<Tensor> = self
            .buckets
            .iter()
            .map(|b| Tensor::cat(&b.iter().map(|&i| params[i].grad().reshape([-1])).collect::<Vec<_>>(), 0))
            .collect();
        group.all_reduce(&mut flats, true)?;
        for (b, flat) in self.buckets.iter().zip(&flats) {
            let mut offset = 0;
            for &i in b {
                let n = params[i].numel() as i64;
                let avg = flat.narrow(0, offset, n).view_as(&params[i]);
                params[i].grad().copy_(&avg);
                offset += n;
            }
        }
        Ok(())
    }
}
