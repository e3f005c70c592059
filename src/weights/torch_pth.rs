//! PyTorch `.pth` / `.pt` state dicts, read without Python and without executing the pickle.
//!
//! Two container formats exist:
//! - the zip format of `torch.save` since 1.6: `<name>/data.pkl` plus one entry per storage in
//!   `<name>/data/<key>`;
//! - the legacy format (before 1.6, e.g. pytorch-AdaIN's released `vgg_normalised.pth`): five
//!   pickles in a row (magic number, protocol, system info, the object, the storage keys), then
//!   each storage as an 8-byte element count followed by its raw bytes.
//!
//! In both, a tensor is `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, …)` with
//! the storage referenced by a persistent id `('storage', torch.FloatStorage, key, device, n)`.

use super::pickle::{self, Value};
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::rc::Rc;
use tch::{Kind, Tensor};

const LEGACY_MAGIC: i64 = 0x1950a86a20f9469cfc6c_i128 as i64;

fn storage_kind(path: &Path, ty: &Value) -> Result<Kind> {
    let Value::Global { module, name } = ty else {
        return Err(Error::weights(path, format!("storage type is a {}", ty.kind())));
    };
    if module != "torch" {
        return Err(Error::weights(path, format!("unknown storage type {module}.{name}")));
    }
    Ok(match name.as_str() {
        "FloatStorage" => Kind::Float,
        "DoubleStorage" => Kind::Double,
        "HalfStorage" => Kind::Half,
        "BFloat16Storage" => Kind::BFloat16,
        "LongStorage" => Kind::Int64,
        "IntStorage" => Kind::Int,
        "ByteStorage" => Kind::Uint8,
        "BoolStorage" => Kind::Bool,
        other => return Err(Error::weights(path, format!("storage type torch.{other} is not supported"))),
    })
}

/// A storage reference found in the pickle: its key, element type and element count.
struct StorageRef {
    key: String,
    kind: Kind,
    numel: i64,
}

fn storage_ref(path: &Path, pid: &Value) -> Result<StorageRef> {
    let t = pid.as_seq().ok_or_else(|| Error::weights(path, "persistent id is not a tuple"))?;
    if t.len() < 5 || t[0].as_str() != Some("storage") {
        return Err(Error::weights(path, "persistent id is not a torch storage"));
    }
    let key = match &*t[2] {
        Value::Str(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        other => return Err(Error::weights(path, format!("storage key is a {}", other.kind()))),
    };
    let numel = t[4]
        .as_int()
        .filter(|n| *n >= 0)
        .ok_or_else(|| Error::weights(path, "storage size is not a non-negative integer"))?;
    Ok(StorageRef { key, kind: storage_kind(path, &t[1])?, numel })
}

/// Rebuilds the tensors of a decoded state dict; `storage` returns the bytes of one storage.
fn rebuild(
    path: &Path,
    root: &Rc<Value>,
    storage: &mut dyn FnMut(&StorageRef) -> Result<Tensor>,
) -> Result<Vec<(String, Tensor)>> {
    let dict = state_dict_of(path, root)?;
    let mut cache: HashMap<String, Tensor> = HashMap::new();
    let mut out = Vec::new();
    for (k, v) in dict {
        let Some(name) = k.as_str() else { continue };
        let t = tensor_of(path, name, v, &mut cache, storage)?;
        out.push((name.to_owned(), t));
    }
    Ok(out)
}

/// Finds the `{name: tensor}` dict: the root itself, or its `state_dict` / `model` entry.
fn state_dict_of<'a>(path: &Path, root: &'a Rc<Value>) -> Result<&'a [(Rc<Value>, Rc<Value>)]> {
    let mut v: &Value = root;
    loop {
        match v {
            Value::Build { obj, .. } => v = obj,
            Value::Dict(items) => {
                let nested = items
                    .iter()
                    .find(|(k, _)| matches!(k.as_str(), Some("state_dict") | Some("model")))
                    .map(|(_, v)| v);
                match nested {
                    Some(n) if matches!(&**n, Value::Dict(_) | Value::Build { .. }) => v = n,
                    _ => return Ok(items),
                }
            }
            other => return Err(Error::weights(path, format!("the file holds a {}, not a state dict", other.kind()))),
        }
    }
}

fn tensor_of(
    path: &Path,
    name: &str,
    v: &Value,
    cache: &mut HashMap<String, Tensor>,
    storage: &mut dyn FnMut(&StorageRef) -> Result<Tensor>,
) -> Result<Tensor> {
    let Value::Reduce { callable, args } = v else {
        return Err(Error::weights(path, format!("{name} is a {}, not a tensor", v.kind())));
    };
    let args = args.as_seq().ok_or_else(|| Error::weights(path, format!("{name}: arguments are not a tuple")))?;
    if callable.is_global("torch._utils", "_rebuild_parameter") {
        let inner = args.first().ok_or_else(|| Error::weights(path, format!("{name}: empty parameter")))?;
        return tensor_of(path, name, inner, cache, storage);
    }
    if !callable.is_global("torch._utils", "_rebuild_tensor_v2")
        && !callable.is_global("torch._utils", "_rebuild_tensor")
    {
        return Err(Error::weights(path, format!("{name} is built by {}, which is not supported", callable.kind())));
    }
    let [pid, offset, size, stride, ..] = args else {
        return Err(Error::weights(path, format!("{name}: tensor has {} arguments, expected at least 4", args.len())));
    };
    let Value::PersistentId(pid) = &**pid else {
        return Err(Error::weights(path, format!("{name}: storage is a {}", pid.kind())));
    };
    let r = storage_ref(path, pid)?;
    let ints = |v: &Value, what: &str| -> Result<Vec<i64>> {
        v.as_seq()
            .and_then(|s| s.iter().map(|d| d.as_int()).collect::<Option<Vec<_>>>())
            .ok_or_else(|| Error::weights(path, format!("{name}: {what} is not a tuple of integers")))
    };
    let size = ints(size, "size")?;
    let stride = ints(stride, "stride")?;
    let offset = offset.as_int().ok_or_else(|| Error::weights(path, format!("{name}: offset is not an integer")))?;
    // The view must lie inside the storage, with sizes, strides and offset that are plausible
    // for a state dict: no negative values, and no more elements than the storage holds (a
    // broadcast view of a huge size would be materialised by `contiguous`).
    if size.len() != stride.len() || size.iter().chain(&stride).any(|v| *v < 0) || offset < 0 {
        return Err(Error::weights(
            path,
            format!("{name}: bad view (size {size:?}, stride {stride:?}, offset {offset})"),
        ));
    }
    let numel = size.iter().try_fold(1i64, |n, s| n.checked_mul(*s));
    let last =
        size.iter().zip(&stride).try_fold(offset, |acc, (s, st)| acc.checked_add((s - 1).max(0).checked_mul(*st)?));
    let empty = size.contains(&0);
    match (numel, last) {
        (Some(n), Some(l)) if empty || (n <= r.numel && l < r.numel) => {}
        _ => {
            return Err(Error::weights(
                path,
                format!(
                    "{name}: a view of size {size:?} (stride {stride:?}, offset {offset}) does not fit a storage of {}",
                    r.numel
                ),
            ));
        }
    }
    let base = match cache.get(&r.key) {
        Some(t) => t.shallow_clone(),
        None => {
            let t = storage(&r)?;
            cache.insert(r.key.clone(), t.shallow_clone());
            t
        }
    };
    Ok(base.f_as_strided(size.as_slice(), stride.as_slice(), offset)?.contiguous().to_kind(if r.kind == Kind::Double {
        Kind::Float
    } else {
        r.kind
    }))
}

/// Bytes a storage needs (`None` when the count is absurd).
fn storage_bytes(r: &StorageRef) -> Option<usize> {
    usize::try_from(r.numel).ok()?.checked_mul(r.kind.elt_size_in_bytes())
}

fn tensor_from_bytes(path: &Path, r: &StorageRef, bytes: &[u8]) -> Result<Tensor> {
    let need = storage_bytes(r)
        .ok_or_else(|| Error::weights(path, format!("storage {} declares {} elements", r.key, r.numel)))?;
    if bytes.len() < need {
        return Err(Error::weights(
            path,
            format!("storage {} has {} bytes, expected {need}: the file is truncated", r.key, bytes.len()),
        ));
    }
    Ok(Tensor::f_from_data_size(&bytes[..need], &[r.numel], r.kind)?)
}

/// Reads a zip-format `.pth`.
fn read_zip(path: &Path, file: std::fs::File) -> Result<Vec<(String, Tensor)>> {
    let mut zip =
        zip::ZipArchive::new(file).map_err(|e| Error::weights(path, format!("not a readable zip archive: {e}")))?;
    let pkl_name = zip
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .find(|n| n.ends_with("data.pkl"))
        .ok_or_else(|| Error::weights(path, "zip archive has no data.pkl: not a torch.save file"))?;
    let prefix = pkl_name.trim_end_matches("data.pkl").to_owned();
    let mut pkl = Vec::new();
    // The pickle is small next to the weights; a compressed entry that inflates far beyond the
    // file (a zip bomb) is cut off and then fails to parse.
    let pkl_limit = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0).saturating_mul(4).max(1 << 20);
    zip.by_name(&pkl_name)
        .and_then(|f| f.take(pkl_limit).read_to_end(&mut pkl).map_err(Into::into))
        .map_err(|e| Error::weights(path, format!("reading {pkl_name}: {e}")))?;
    let (root, _) = pickle::read(&pkl).map_err(|e| Error::weights(path, e.to_string()))?;
    let file_len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    rebuild(path, &root, &mut |r| {
        let entry = format!("{prefix}data/{}", r.key);
        // torch.save stores storages uncompressed: an entry larger than the file itself is a
        // lie (or a zip bomb) and is not read.
        let need = storage_bytes(r).filter(|n| *n as u64 <= file_len).ok_or_else(|| {
            Error::weights(path, format!("storage {} declares {} elements, more than the file holds", r.key, r.numel))
        })?;
        let mut bytes = Vec::new();
        zip.by_name(&entry)
            .and_then(|f| f.take(need as u64 + 1).read_to_end(&mut bytes).map_err(Into::into))
            .map_err(|e| Error::weights(path, format!("reading {entry}: {e}")))?;
        tensor_from_bytes(path, r, &bytes)
    })
}

/// Reads a legacy (pre-1.6) `.pth`.
fn read_legacy(path: &Path, data: &[u8]) -> Result<Vec<(String, Tensor)>> {
    let mut pos = 0;
    let mut next = |what: &str| -> Result<Rc<Value>> {
        let (v, used) = pickle::read(&data[pos..]).map_err(|e| Error::weights(path, format!("{what}: {e}")))?;
        pos += used;
        Ok(v)
    };
    let magic = next("magic number")?;
    if magic.as_int() != Some(LEGACY_MAGIC) {
        return Err(Error::weights(path, "not a PyTorch file (wrong magic number)"));
    }
    let _protocol = next("protocol version")?;
    let _sys_info = next("system info")?;
    let root = next("state dict")?;
    let keys = next("storage keys")?;
    let keys: Vec<String> = keys
        .as_seq()
        .ok_or_else(|| Error::weights(path, "storage keys are not a list"))?
        .iter()
        .map(|k| k.as_str().map(str::to_owned))
        .collect::<Option<_>>()
        .ok_or_else(|| Error::weights(path, "a storage key is not a string"))?;
    // The storages follow in the order of `keys`; their sizes come from the persistent ids.
    let mut sizes: HashMap<String, (Kind, i64)> = HashMap::new();
    collect_storages(path, &root, &mut sizes)?;
    let mut offsets: HashMap<String, usize> = HashMap::new();
    for k in &keys {
        let (kind, _) = *sizes.get(k).ok_or_else(|| Error::weights(path, format!("storage {k} is never used")))?;
        if pos + 8 > data.len() {
            return Err(Error::weights(path, format!("storage {k} is missing: the file is truncated")));
        }
        let n = i64::from_le_bytes(data[pos..pos + 8].try_into().unwrap());
        pos += 8;
        offsets.insert(k.clone(), pos);
        let len = usize::try_from(n)
            .ok()
            .and_then(|n| n.checked_mul(kind.elt_size_in_bytes()))
            .ok_or_else(|| Error::weights(path, format!("storage {k} has an impossible size {n}")))?;
        pos = pos
            .checked_add(len)
            .filter(|p| *p <= data.len())
            .ok_or_else(|| Error::weights(path, format!("storage {k} runs past the end: the file is truncated")))?;
    }
    rebuild(path, &root, &mut |r| {
        let at = *offsets.get(&r.key).ok_or_else(|| Error::weights(path, format!("storage {} has no data", r.key)))?;
        tensor_from_bytes(path, r, &data[at..])
    })
}

fn collect_storages(path: &Path, v: &Value, out: &mut HashMap<String, (Kind, i64)>) -> Result<()> {
    match v {
        Value::PersistentId(pid) => {
            let r = storage_ref(path, pid)?;
            out.insert(r.key, (r.kind, r.numel));
        }
        Value::Tuple(items) | Value::List(items) => {
            for i in items {
                collect_storages(path, i, out)?;
            }
        }
        Value::Dict(items) => {
            for (_, v) in items {
                collect_storages(path, v, out)?;
            }
        }
        Value::Reduce { args, .. } => collect_storages(path, args, out)?,
        Value::Build { obj, .. } => collect_storages(path, obj, out)?,
        _ => {}
    }
    Ok(())
}

/// Reads a PyTorch state dict saved with `torch.save`, in the zip or the legacy format.
/// Returns `(name, tensor)` pairs in file order, as float/half tensors on the CPU.
pub fn read(path: &Path) -> Result<Vec<(String, Tensor)>> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut head = [0u8; 4];
    let n = file.read(&mut head).map_err(|e| Error::io(path, e))?;
    if n >= 2 && &head[..2] == b"PK" {
        return read_zip(path, file);
    }
    if n >= 2 && head[0] == 0x80 {
        let data = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        return read_legacy(path, &data);
    }
    Err(Error::weights(path, "not a PyTorch file (neither the zip nor the legacy pickle format)"))
}
