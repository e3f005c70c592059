//! Where this process stands in a distributed run, read from the environment that `torchrun`,
//! SLURM's `srun` or `adain train --nproc` sets.

use crate::error::{Error, Result};

/// One rank's place in the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct World {
    /// This process's rank, `0..size`.
    pub rank: usize,
    /// Number of ranks.
    pub size: usize,
    /// Rank on this machine (selects the GPU: `cuda:<local_rank>`).
    pub local_rank: usize,
    /// Host of the rendezvous store (rank 0 serves it).
    pub master_addr: String,
    /// Port of the rendezvous store.
    pub master_port: u16,
}

impl World {
    /// Reads `RANK`, `WORLD_SIZE`, `LOCAL_RANK`, `MASTER_ADDR`, `MASTER_PORT` (torchrun's
    /// variables), falling back to SLURM's `SLURM_PROCID`, `SLURM_NTASKS`, `SLURM_LOCALID` for the
    /// first three. `None` when there is no world of more than one rank.
    pub fn from_env() -> Result<Option<Self>> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// [`World::from_env`] over any variable lookup.
    pub(crate) fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Option<Self>> {
        let first = |names: &[&'static str]| names.iter().find_map(|&n| get(n).map(|v| (n, v)));
        let Some((size_var, size)) = first(&["WORLD_SIZE", "SLURM_NTASKS"]) else { return Ok(None) };
        let number = |var: &str, v: &str| {
            v.trim().parse::<usize>().map_err(|_| Error::Distributed(format!("{var}={v}: not a whole number")))
        };
        let size = number(size_var, &size)?;
        if size <= 1 {
            return Ok(None);
        }
        let (rank_var, rank) = first(&["RANK", "SLURM_PROCID"])
            .ok_or_else(|| Error::Distributed(format!("{size_var}={size} but neither RANK nor SLURM_PROCID is set")))?;
        let rank = number(rank_var, &rank)?;
        if rank >= size {
            return Err(Error::Distributed(format!("{rank_var}={rank} is not below {size_var}={size}")));
        }
        let local_rank = match first(&["LOCAL_RANK", "SLURM_LOCALID"]) {
            Some((var, v)) => number(var, &v)?,
            None => 0,
        };
        let master_addr = get("MASTER_ADDR").ok_or_else(|| {
            Error::Distributed(format!("{size_var}={size} but MASTER_ADDR (the host of rank 0) is not set"))
        })?;
        let port = get("MASTER_PORT").unwrap_or_else(|| "29500".into());
        let master_port = port
            .trim()
            .parse::<u16>()
            .map_err(|_| Error::Distributed(format!("MASTER_PORT={port}: not a port number")))?;
        Ok(Some(Self { rank, size, local_rank, master_addr, master_port }))
    }

    /// Whether this rank writes the run's files (rank 0).
    pub fn is_leader(&self) -> bool {
        self.rank == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world(vars: &[(&str, &str)]) -> Result<Option<World>> {
        World::from_lookup(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn torchrun_and_slurm_variables_are_read_and_bad_ones_named() {
        assert_eq!(world(&[]).unwrap(), None);
        assert_eq!(world(&[("WORLD_SIZE", "1"), ("RANK", "0")]).unwrap(), None);
        let w = world(&[
            ("WORLD_SIZE", "4"),
            ("RANK", "3"),
            ("LOCAL_RANK", "1"),
            ("MASTER_ADDR", "node1"),
            ("MASTER_PORT", "1234"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!((w.rank, w.size, w.local_rank, w.master_addr.as_str(), w.master_port), (3, 4, 1, "node1", 1234));
        let s = world(&[("SLURM_NTASKS", "8"), ("SLURM_PROCID", "5"), ("SLURM_LOCALID", "1"), ("MASTER_ADDR", "n0")])
            .unwrap()
            .unwrap();
        assert_eq!((s.rank, s.size, s.local_rank, s.master_port), (5, 8, 1, 29500));
        let e = world(&[("WORLD_SIZE", "2"), ("RANK", "2"), ("MASTER_ADDR", "h")]).unwrap_err().to_string();
        assert!(e.contains("RANK=2") && e.contains("WORLD_SIZE=2"), "{e}");
        let e = world(&[("WORLD_SIZE", "2"), ("RANK", "1")]).unwrap_err().to_string();
        assert!(e.contains("MASTER_ADDR"), "{e}");
        let e = world(&[("WORLD_SIZE", "two")]).unwrap_err().to_string();
        assert!(e.contains("WORLD_SIZE=two"), "{e}");
    }
}
