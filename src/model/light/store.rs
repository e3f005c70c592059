//! Named float32 tensors for the light kernels: what a `VarStore` is to the libtorch models.
//! Blocks read their weights through a [`StorePath`] whose names mirror the PyTorch state
//! dict (`decoder.up1.weight`).

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Tensors by name: shape and float32 values (row-major).
#[derive(Debug, Default)]
pub struct Store {
    tensors: HashMap<String, (Vec<usize>, Vec<f32>)>,
    /// The file they came from (for error messages).
    origin: PathBuf,
}

/// A prefix into a [`Store`] (`root / "decoder" / "up1"`).
#[derive(Debug, Clone)]
pub struct StorePath<'a> {
    store: &'a Store,
    prefix: String,
}

impl Store {
    /// A store of `(name, shape, values)`; the values' length must be the shape's product.
    pub fn from_tensors(tensors: Vec<(String, Vec<usize>, Vec<f32>)>) -> Self {
        Self::with_origin(tensors, PathBuf::from("(in memory)"))
    }

    /// As [`Store::from_tensors`], remembering the file they came from.
    pub fn with_origin(tensors: Vec<(String, Vec<usize>, Vec<f32>)>, origin: PathBuf) -> Self {
        let tensors = tensors
            .into_iter()
            .map(|(name, shape, values)| {
                assert_eq!(shape.iter().product::<usize>(), values.len(), "{name}: values fit the shape");
                (name, (shape, values))
            })
            .collect();
        Self { tensors, origin }
    }

    /// The file the tensors came from.
    pub fn origin(&self) -> &Path {
        &self.origin
    }

    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// The shape of a tensor, if present.
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.tensors.get(name).map(|(s, _)| s.as_slice())
    }

    /// A tensor by full name, whatever its shape: `(shape, values)`.
    pub fn tensor(&self, name: &str) -> Option<(&[usize], &[f32])> {
        self.tensors.get(name).map(|(s, v)| (s.as_slice(), v.as_slice()))
    }

    /// The names of all tensors.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// Adds (or replaces) a tensor.
    pub fn insert(&mut self, name: String, shape: Vec<usize>, values: Vec<f32>) {
        assert_eq!(shape.iter().product::<usize>(), values.len(), "{name}: values fit the shape");
        self.tensors.insert(name, (shape, values));
    }

    /// Copies every tensor whose name starts with `from` to the same name starting with `to`.
    pub fn copy_prefix(&mut self, from: &str, to: &str) {
        let copies: Vec<_> = self
            .tensors
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(from).map(|rest| (format!("{to}{rest}"), v.clone())))
            .collect();
        self.tensors.extend(copies);
    }

    /// A tensor by full name, checked against `shape`.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<&[f32]> {
        match self.tensors.get(name) {
            Some((s, v)) if s == shape => Ok(v),
            Some((s, _)) => Err(Error::weights(&self.origin, format!("{name} has shape {s:?}, expected {shape:?}"))),
            None => Err(Error::weights(&self.origin, format!("no tensor {name}"))),
        }
    }

    /// The path at the top of the names.
    pub fn root(&self) -> StorePath<'_> {
        StorePath { store: self, prefix: String::new() }
    }
}

impl StorePath<'_> {
    /// The path one level down (`p.sub("conv1")`).
    pub fn sub(&self, name: &str) -> Self {
        let prefix = if self.prefix.is_empty() { name.to_owned() } else { format!("{}.{name}", self.prefix) };
        StorePath { store: self.store, prefix }
    }

    /// The tensor `name` under this path, checked against `shape`.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<&[f32]> {
        self.store.get(&self.sub(name).prefix, shape)
    }
}
