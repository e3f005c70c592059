//! The module graph (issue 25): no import from a lower floor of the library to a higher one,
//! no loop between the library's modules, and no loop between the files of a module. Read
//! from the sources (code lines, not comments): `crate::MODULE` paths for the floors, and
//! `super::NAME` / sibling paths for the files of a folder. Also: every `unsafe` says why it
//! is sound.
#![cfg(feature = "torch")]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The library's floors (src/lib.rs lists them): a module may use its own floor and below.
const FLOORS: &[(&str, u8)] = &[
    ("error", 1),
    ("io", 1),
    ("settings", 1),
    ("ffi", 1),
    ("model", 2),
    ("weights", 3),
    ("data", 4),
    ("metrics", 5),
    ("infer", 6),
    ("train", 6),
    ("dist", 6),
    ("export", 6),
];

fn floor(m: &str) -> Option<u8> {
    FLOORS.iter().find(|(n, _)| *n == m).map(|(_, f)| *f)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file without comments (line comments and doc comments) and without its unit
/// tests (a `#[cfg(test)]` module at the end, whose `super::` is the file itself).
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.split("\n#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every identifier that follows `prefix` in `code` (`prefix{a, b::c}` gives a and b).
fn after(code: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find(prefix) {
        let before_ok = i == 0 || !rest[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':');
        rest = &rest[i + prefix.len()..];
        if !before_ok {
            continue;
        }
        if let Some(inner) = rest.strip_prefix('{') {
            let end = inner.find('}').unwrap_or(inner.len());
            for item in inner[..end].split(',') {
                let name: String = item.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
        } else {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

/// A cycle in a directed graph, if any.
fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(2) => return None,
            Some(1) => {
                let start = path.iter().position(|p| p == n).unwrap();
                let mut c = path[start..].to_vec();
                c.push(n.to_owned());
                return Some(c);
            }
            _ => {}
        }
        state.insert(n.to_owned(), 1);
        path.push(n.to_owned());
        for m in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, edges, state, path) {
                return Some(c);
            }
        }
        path.pop();
        state.insert(n.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in edges.keys() {
        if let Some(c) = visit(n, edges, &mut state, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

#[test]
fn no_arrow_runs_back_up_and_no_loops() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut upward = Vec::new();
    let mut modules: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // Files of each folder: name → what it uses among its siblings.
    let mut folders: BTreeMap<PathBuf, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let top = rel.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_owned();
        let text = code(f);
        let binary = matches!(top.as_str(), "cli" | "server" | "main");
        for m in after(&text, "crate::") {
            if binary {
                if top == "server" && m == "cli" {
                    upward.push(format!("{}: crate::cli (the server below the CLI)", rel.display()));
                }
                continue;
            }
            if m == top || floor(&m).is_none() {
                continue;
            }
            modules.entry(top.clone()).or_default().insert(m.clone());
            if floor(&m) > floor(&top) {
                upward.push(format!("{}: crate::{m} (floor {:?} above {:?})", rel.display(), floor(&m), floor(&top)));
            }
        }
        let dir = f.parent().unwrap().to_owned();
        if dir == src {
            continue;
        }
        let siblings: BTreeSet<String> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .filter_map(|e| {
                let p = e.path();
                let stem = p.file_stem()?.to_string_lossy().into_owned();
                (p.extension().is_some_and(|x| x == "rs") && stem != "mod").then_some(stem)
            })
            .collect();
        let me = f.file_stem().unwrap().to_string_lossy().into_owned();
        let uses: BTreeSet<String> = if me == "mod" {
            // The folder's mod.rs uses a child when it calls into it (`child::…`), not when it
            // declares or re-exports it.
            siblings
                .iter()
                .filter(|s| {
                    text.lines().any(|l| {
                        let l = l.trim();
                        !l.starts_with("pub mod")
                            && !l.starts_with("mod ")
                            && !l.starts_with("pub use")
                            && !after(l, &format!("{s}::")).is_empty()
                    })
                })
                .cloned()
                .collect()
        } else {
            after(&text, "super::")
                .into_iter()
                .map(|n| if siblings.contains(&n) { n } else { "mod".to_owned() })
                .filter(|n| *n != me && (n != "mod" || dir.join("mod.rs").exists()))
                .collect()
        };
        folders.entry(dir).or_default().insert(me, uses);
    }
    assert!(upward.is_empty(), "imports from a lower floor to a higher one:\n{}", upward.join("\n"));
    if let Some(c) = cycle(&modules) {
        panic!("a loop between the library's modules: {}", c.join(" → "));
    }
    for (dir, graph) in &folders {
        if let Some(c) = cycle(graph) {
            panic!("a loop between the files of {}: {}", dir.display(), c.join(" → "));
        }
    }
}

/// Every `unsafe` block, impl or fn in src/ has a `SAFETY:` comment (or, for an `unsafe fn`,
/// a `# Safety` doc section) on its line or in the four lines above it. Foreign declarations
/// (`unsafe extern "C" {…}`) are exempt: their callers carry the comment.
#[test]
fn every_unsafe_says_why_it_is_sound() {
    let mut files = Vec::new();
    rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
    let mut missing = Vec::new();
    let mut seen = 0;
    for f in &files {
        let lines: Vec<String> = std::fs::read_to_string(f).unwrap().lines().map(str::to_owned).collect();
        for (i, line) in lines.iter().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            let is_unsafe = code.split(|c: char| !(c.is_alphanumeric() || c == '_')).any(|w| w == "unsafe");
            if !is_unsafe || code.contains("unsafe extern") {
                continue;
            }
            seen += 1;
            let above = &lines[i.saturating_sub(4)..=i];
            let fn_doc =
                code.contains("unsafe fn") && lines[i.saturating_sub(8)..i].iter().any(|l| l.contains("# Safety"));
            if !(above.iter().any(|l| l.contains("SAFETY:")) || fn_doc) {
                missing.push(format!("{}:{}: {}", f.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(seen >= 10, "only {seen} unsafe uses found: is the scan reading the sources?");
    assert!(missing.is_empty(), "unsafe without a SAFETY comment:\n{}", missing.join("\n"));
}
