//! A c10d process group of libtorch (`csrc/dist.cpp`): the rendezvous and the collectives.
//! Failures in libtorch (a peer that died, a timeout, a bad tensor) come back as
//! [`Error::Distributed`], never as an abort.

use super::world::World;
use crate::error::{Error, Result};
use std::ffi::{CString, c_char, c_int, c_void};
use std::time::Duration;
use tch::{Device, Kind, Tensor};

unsafe extern "C" {
    fn adain_dist_has_nccl() -> c_int;
    fn adain_dist_new(
        backend: *const c_char,
        host: *const c_char,
        port: c_int,
        rank: c_int,
        world: c_int,
        timeout_ms: i64,
        err: *mut *mut c_char,
    ) -> *mut c_void;
    fn adain_dist_all_reduce(
        g: *mut c_void,
        ts: *mut *mut c_void,
        n: usize,
        average: c_int,
        err: *mut *mut c_char,
    ) -> c_int;
    fn adain_dist_broadcast(
        g: *mut c_void,
        ts: *mut *mut c_void,
        n: usize,
        root: c_int,
        err: *mut *mut c_char,
    ) -> c_int;
    fn adain_dist_barrier(g: *mut c_void, err: *mut *mut c_char) -> c_int;
    fn adain_dist_free(g: *mut c_void);
}

/// Which c10d backend carries the collectives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Gloo: CPU tensors (and CUDA tensors through host copies).
    Gloo,
    /// NCCL: CUDA tensors, GPU to GPU.
    Nccl,
}

impl Backend {
    /// The backend torch would pick for tensors on `device`: NCCL on CUDA (when this build
    /// has it), Gloo otherwise.
    pub(crate) fn for_device(device: Device) -> Self {
        if device.is_cuda() && Self::nccl_available() { Backend::Nccl } else { Backend::Gloo }
    }

    /// Whether this build of adain can make NCCL groups.
    pub(crate) fn nccl_available() -> bool {
        // SAFETY: a constant query without arguments.
        unsafe { adain_dist_has_nccl() != 0 }
    }

    /// The backend's name in torch.distributed: `gloo`, `nccl`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Gloo => "gloo",
            Backend::Nccl => "nccl",
        }
    }
}

/// A process group: every rank of a [`World`] constructs one (rank 0 first serves the TCP
/// store the others join); collectives must then be called in the same order on all ranks.
pub struct ProcessGroup {
    raw: *mut c_void,
    world: World,
    backend: Backend,
    /// Where this rank's tensors live (CPU for Gloo; the rank's GPU for NCCL).
    device: Device,
    timeout: Duration,
}

// SAFETY: the c10d group is used from one thread at a time (`&mut`-free calls below are
// serialised by the collectives' own ordering requirement); libtorch's backends are thread-safe
// for that use.
unsafe impl Send for ProcessGroup {}

/// Turns a shim status and its message into a result.
fn check(status: c_int, err: *mut c_char, what: &str, world: &World, timeout: Duration) -> Result<()> {
    if status == 0 {
        return Ok(());
    }
    // SAFETY: a failed shim call hands over its malloc'ed message (or null), used only here.
    let msg = unsafe { crate::ffi::take_message(err) };
    let hint = if msg.contains("timed out") || msg.contains("Timed out") {
        format!(" (no answer from the other ranks within {}s)", timeout.as_secs())
    } else {
        String::new()
    };
    Err(Error::Distributed(format!("rank {} of {}: {what} failed: {msg}{hint}", world.rank, world.size)))
}

impl ProcessGroup {
    /// Joins the group of `world` for tensors on `device` (waiting up to `timeout` for every
    /// rank to arrive), with the backend torch would choose for it (`Backend::for_device`).
    /// The same `timeout` bounds every later collective: a rank that stops answering makes
    /// the others fail after it instead of hanging.
    pub fn new(world: &World, device: Device, timeout: Duration) -> Result<Self> {
        let backend = Backend::for_device(device);
        let cstr = |s: &str| CString::new(s).map_err(|_| Error::Distributed(format!("{s:?} contains a NUL byte")));
        let (name, host) = (cstr(backend.name())?, cstr(&world.master_addr)?);
        let mut err = std::ptr::null_mut();
        // SAFETY: valid C strings; the shim returns NULL and sets `err` on failure.
        let raw = unsafe {
            adain_dist_new(
                name.as_ptr(),
                host.as_ptr(),
                world.master_port as c_int,
                world.rank as c_int,
                world.size as c_int,
                timeout.as_millis() as i64,
                &mut err,
            )
        };
        if raw.is_null() {
            check(1, err, &format!("joining {}:{}", world.master_addr, world.master_port), world, timeout)?;
        }
        let device = if backend == Backend::Nccl { device } else { Device::Cpu };
        Ok(Self { raw, world: world.clone(), backend, device, timeout })
    }

    pub fn world(&self) -> &World {
        &self.world
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The device of the tensors the collectives take (CPU for Gloo, the GPU for NCCL).
    pub fn device(&self) -> Device {
        self.device
    }

    /// Averages a few numbers over the ranks.
    pub(crate) fn average_values(&self, values: &[f64]) -> Result<Vec<f64>> {
        let mut t = [Tensor::from_slice(values).to_device(self.device)];
        self.all_reduce(&mut t, true)?;
        Ok(Vec::<f64>::try_from(&t[0].to_device(Device::Cpu))?)
    }

    /// Rank 0's number on every rank (`value` is read on rank 0 only).
    pub(crate) fn broadcast_value(&self, value: f64) -> Result<f64> {
        let mut t = [Tensor::from_slice(&[value]).to_device(self.device)];
        self.broadcast(&mut t, 0)?;
        Ok(t[0].to_device(Device::Cpu).double_value(&[0]))
    }

    /// Handles of dense contiguous tensors, as the shim takes them.
    fn handles(tensors: &mut [Tensor]) -> Result<Vec<*mut c_void>> {
        tensors
            .iter_mut()
            .map(|t| {
                if !t.is_contiguous() {
                    return Err(Error::Distributed("collectives need contiguous tensors".into()));
                }
                Ok(t.as_mut_ptr() as *mut c_void)
            })
            .collect()
    }

    /// Sums (with `average`, averages) each tensor over the ranks, in place.
    pub fn all_reduce(&self, tensors: &mut [Tensor], average: bool) -> Result<()> {
        let mut h = Self::handles(tensors)?;
        let mut err = std::ptr::null_mut();
        // SAFETY: `h` holds live tensor handles for the duration of the call.
        let s = unsafe { adain_dist_all_reduce(self.raw, h.as_mut_ptr(), h.len(), average as c_int, &mut err) };
        check(s, err, "all-reduce", &self.world, self.timeout)
    }

    /// Overwrites each tensor with rank `root`'s, in place.
    pub fn broadcast(&self, tensors: &mut [Tensor], root: usize) -> Result<()> {
        let mut h = Self::handles(tensors)?;
        let mut err = std::ptr::null_mut();
        // SAFETY: as in `all_reduce`.
        let s = unsafe { adain_dist_broadcast(self.raw, h.as_mut_ptr(), h.len(), root as c_int, &mut err) };
        check(s, err, "broadcast", &self.world, self.timeout)
    }

    /// Rank 0's bytes on every rank (`bytes` is read on rank 0 only).
    pub fn broadcast_bytes(&self, bytes: &[u8]) -> Result<Vec<u8>> {
        let leader = self.world.is_leader();
        let n = self.broadcast_value(bytes.len() as f64)? as i64;
        let mut data = [if leader {
            Tensor::from_slice(bytes).to_device(self.device)
        } else {
            Tensor::zeros([n], (Kind::Uint8, self.device))
        }];
        self.broadcast(&mut data, 0)?;
        Ok(Vec::<u8>::try_from(&data[0].to_device(Device::Cpu))?)
    }

    /// Waits until every rank has arrived.
    pub fn barrier(&self) -> Result<()> {
        let mut err = std::ptr::null_mut();
        // SAFETY: a live group.
        let s = unsafe { adain_dist_barrier(self.raw, &mut err) };
        check(s, err, "barrier", &self.world, self.timeout)
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        // SAFETY: `raw` came from `adain_dist_new` and is freed once.
        unsafe { adain_dist_free(self.raw) };
    }
}
