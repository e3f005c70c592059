//! numpy arrays inside a pickle (`numpy.core.multiarray._reconstruct` + `__setstate__`).
//!
//! Only what weight files use is accepted: C-ordered arrays of little-endian `f4`. Anything
//! else is an error that says what was found.

use super::pickle::Value;
use crate::error::{Error, Result};
use std::path::Path;
use std::rc::Rc;

/// A decoded float32 array.
#[derive(Debug, Clone)]
pub struct Array {
    pub(crate) shape: Vec<i64>,
    pub(crate) data: Vec<f32>,
}

impl Array {
    /// Into a CPU tensor of the same shape.
    pub fn to_tensor(&self) -> tch::Tensor {
        tch::Tensor::from_slice(&self.data).reshape(&self.shape)
    }
}

fn is_reconstruct(v: &Value) -> bool {
    v.is_global("numpy.core.multiarray", "_reconstruct") || v.is_global("numpy._core.multiarray", "_reconstruct")
}

/// True when `v` is a pickled `numpy.ndarray`.
pub(crate) fn is_array(v: &Value) -> bool {
    matches!(v, Value::Build { obj, .. } if matches!(&**obj, Value::Reduce { callable, .. } if is_reconstruct(callable)))
}

/// Decodes the dtype object; returns an error unless it is little-endian float32.
fn check_dtype(path: &Path, dtype: &Value) -> Result<()> {
    let (args, state) = match dtype {
        Value::Build { obj, state } => match &**obj {
            Value::Reduce { callable, args } if callable.is_global("numpy", "dtype") => {
                (args.clone(), Some(state.clone()))
            }
            _ => return Err(Error::weights(path, format!("array dtype is a {}", dtype.kind()))),
        },
        Value::Reduce { callable, args } if callable.is_global("numpy", "dtype") => (args.clone(), None),
        _ => return Err(Error::weights(path, format!("array dtype is a {}", dtype.kind()))),
    };
    let code = args.as_seq().and_then(|a| a.first()).and_then(|c| c.as_str().map(str::to_owned));
    if code.as_deref() != Some("f4") {
        return Err(Error::weights(
            path,
            format!("array dtype {:?} is not supported (only float32 'f4')", code.unwrap_or_default()),
        ));
    }
    let order =
        state.as_ref().and_then(|s| s.as_seq().and_then(|s| s.get(1)).and_then(|o| o.as_str().map(str::to_owned)));
    match order.as_deref() {
        Some("<") | Some("|") | Some("=") | None => Ok(()),
        Some(o) => Err(Error::weights(path, format!("array byte order {o:?} is not supported (only little-endian)"))),
    }
}

/// Decodes one pickled ndarray.
pub fn array(path: &Path, v: &Value) -> Result<Array> {
    let Value::Build { state, .. } = v else {
        return Err(Error::weights(path, format!("expected a numpy array, found a {}", v.kind())));
    };
    if !is_array(v) {
        return Err(Error::weights(path, format!("expected a numpy array, found a {}", v.kind())));
    }
    let s = state.as_seq().ok_or_else(|| Error::weights(path, "array state is not a tuple"))?;
    // (version, shape, dtype, is_fortran, raw data)
    let [_, shape, dtype, fortran, raw] = s else {
        return Err(Error::weights(path, format!("array state has {} fields, expected 5", s.len())));
    };
    check_dtype(path, dtype)?;
    if fortran.as_int() != Some(0) {
        return Err(Error::weights(path, "Fortran-ordered arrays are not supported"));
    }
    let shape: Vec<i64> = shape
        .as_seq()
        .ok_or_else(|| Error::weights(path, "array shape is not a tuple"))?
        .iter()
        .map(|d| d.as_int().filter(|d| *d >= 0))
        .collect::<Option<_>>()
        .ok_or_else(|| Error::weights(path, "array shape holds a non-integer"))?;
    let Value::Bytes(raw) = &**raw else {
        return Err(Error::weights(path, format!("array data is a {}, expected bytes", raw.kind())));
    };
    // The declared shape is checked against the bytes actually there (no arithmetic overflow).
    let bytes = shape.iter().try_fold(4i64, |n, d| n.checked_mul(*d));
    if bytes != Some(raw.len() as i64) {
        let expected = bytes.map(|b| b.to_string()).unwrap_or_else(|| "more than exist".into());
        return Err(Error::weights(
            path,
            format!("array of shape {shape:?} has {} data bytes, expected {expected}", raw.len()),
        ));
    }
    let data = raw.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
    Ok(Array { shape, data })
}

/// Walks nested dicts of arrays, returning `("a/b/c", array)` pairs in file order.
pub fn flatten(path: &Path, v: &Rc<Value>) -> Result<Vec<(String, Array)>> {
    fn walk(path: &Path, prefix: &str, v: &Value, out: &mut Vec<(String, Array)>) -> Result<()> {
        match v {
            Value::Dict(items) => {
                for (k, v) in items {
                    let k = k
                        .as_str()
                        .ok_or_else(|| Error::weights(path, format!("dict key is a {}, expected str", k.kind())))?;
                    let name = if prefix.is_empty() { k.to_owned() } else { format!("{prefix}/{k}") };
                    walk(path, &name, v, out)?;
                }
                Ok(())
            }
            v if is_array(v) => {
                out.push((prefix.to_owned(), array(path, v)?));
                Ok(())
            }
            other => {
                Err(Error::weights(path, format!("{prefix:?} is a {}, expected a dict or a numpy array", other.kind())))
            }
        }
    }
    let mut out = Vec::new();
    walk(path, "", v, &mut out)?;
    Ok(out)
}
