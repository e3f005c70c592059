//! Atomic file writes: content goes to a temp file in the target directory, which is renamed
//! over the target only when complete, so readers (and a crash) never see a partial file.
//! Also the process's peak memory, which benchmarks and the fuzz harness report.

use crate::error::{Error, Result};
use std::path::Path;

/// Writes `path` through `write(tmp_path)`, then renames into place with mode 0644.
pub fn atomic_write(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| {
        // A file where a directory should be: name it rather than echo "File exists".
        let file = dir.ancestors().find(|a| a.is_file());
        match file {
            Some(f) => Error::Path {
                path: f.to_owned(),
                msg: format!("is a file, so the directory {} cannot be made", dir.display()),
            },
            None => {
                Error::Path { path: dir.to_owned(), msg: format!("cannot create the output directory: {}", e.kind()) }
            }
        }
    })?;
    if path.is_dir() {
        return Err(Error::Path {
            path: path.to_owned(),
            msg: "is a directory, not a file that can be written".into(),
        });
    }
    let ext = path.extension().and_then(|e| e.to_str()).map(|e| format!(".{e}")).unwrap_or_default();
    let tmp = tempfile::Builder::new().prefix(".adain-").suffix(&ext).tempfile_in(dir).map_err(|e| Error::Path {
        path: dir.to_owned(),
        msg: format!("cannot write into this directory: {}", e.kind()),
    })?;
    write(tmp.path())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))
            .map_err(|e| Error::io(tmp.path(), e))?;
    }
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// Peak resident set size of this process in MiB (Linux `VmHWM`), or `None` elsewhere.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
