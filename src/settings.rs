//! Settings structs declared once: [`settings!`](crate::settings!) defines the struct (serde,
//! with its defaults and doc comments) and a description of its fields ([`Settings::fields`]),
//! from which front ends build their options (the CLI's `adain train` flags) without a second
//! list of settings. Overrides are applied by key to the TOML form and deserialised again, so
//! a value is checked by the same code that reads config files.

use crate::error::{Error, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// One leaf setting: its dotted key (`lr.decay`), its documentation, and how values are
/// read.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingInfo {
    pub key: String,
    pub doc: String,
    /// A `bool`: may be given without a value (meaning true).
    pub boolean: bool,
    /// A string or path: values are taken literally, never as TOML numbers or booleans.
    pub text: bool,
}

/// A settings struct made by [`settings!`](crate::settings!).
pub trait Settings: Serialize + DeserializeOwned + Default {
    /// Every leaf setting, nested groups flattened with dotted keys.
    fn fields() -> Vec<SettingInfo>;

    /// Applies `key = value` overrides (values in TOML syntax, or plain text for text
    /// settings and words that are not TOML) and checks the result. Errors name the key.
    fn with_overrides(&self, overrides: &[(String, String)]) -> Result<Self> {
        let fields = Self::fields();
        let mut table = toml::Table::try_from(self).map_err(|e| Error::Invalid(format!("settings: {e}")))?;
        for (key, value) in overrides {
            let info = fields.iter().find(|f| f.key == *key).ok_or_else(|| Error::Setting {
                key: key.clone(),
                value: value.clone(),
                msg: "no such setting".into(),
            })?;
            let v = if info.text { toml::Value::String(value.clone()) } else { parse_value(value) };
            let mut parts: Vec<&str> = key.split('.').collect();
            let leaf = parts.pop().expect("a key has a name");
            let mut t = &mut table;
            for p in parts {
                t = t
                    .entry(p)
                    .or_insert_with(|| toml::Value::Table(Default::default()))
                    .as_table_mut()
                    .ok_or_else(|| Error::Invalid(format!("setting {key:?}: {p} is not a group")))?;
            }
            t.insert(leaf.to_owned(), v);
            // Checked one at a time so that the error names the setting that is wrong.
            toml::Table::try_into::<Self>(table.clone()).map_err(|e| Error::Setting {
                key: key.clone(),
                value: value.clone(),
                msg: e.message().to_owned(),
            })?;
        }
        table.try_into().map_err(|e: toml::de::Error| Error::Invalid(format!("settings: {}", e.message())))
    }
}

/// A TOML value from its literal (`10`, `1e-4`, `true`, `"x"`), or the text as a string.
fn parse_value(s: &str) -> toml::Value {
    let doc = format!("v = {s}");
    match doc.parse::<toml::Table>() {
        Ok(mut t) => t.remove("v").unwrap_or_else(|| toml::Value::String(s.to_owned())),
        Err(_) => toml::Value::String(s.to_owned()),
    }
}

/// Joins doc-comment lines into one paragraph.
pub(crate) fn join_doc(lines: &[&str]) -> String {
    lines.iter().map(|l| l.trim()).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Declares a settings struct: fields with doc comments and defaults; a field marked
/// `; group` is a nested settings struct (its own `settings!`), flattened with dotted keys in
/// [`Settings::fields`]. Extra `#[serde(...)]` attributes go after the doc comment.
///
/// ```ignore
/// settings! {
///     /// Schedule settings.
///     pub struct LrConfig {
///         /// The base learning rate.
///         lr: f64 = 1e-4,
///     }
/// }
/// ```
#[macro_export]
macro_rules! settings {
    (
        $(#[doc = $sdoc:literal])*
        pub struct $name:ident {
            $(
                $(#[doc = $doc:literal])*
                $(#[serde($($serde:tt)*)])*
                $field:ident : $ty:ty = $default:expr $(; $group:ident)?,
            )*
        }
    ) => {
        $(#[doc = $sdoc])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            $(
                $(#[doc = $doc])*
                $(#[serde($($serde)*)])*
                pub $field: $ty,
            )*
        }

        impl Default for $name {
            fn default() -> Self {
                Self { $($field: $default,)* }
            }
        }

        impl $crate::settings::Settings for $name {
            fn fields() -> Vec<$crate::settings::SettingInfo> {
                let mut out = Vec::new();
                $(
                    $crate::settings!(@info out, $field, $ty, [$($doc),*] $(, $group)?);
                )*
                out
            }
        }
    };
    (@info $out:ident, $field:ident, $ty:ty, [$($doc:literal),*], group) => {
        for mut f in <$ty as $crate::settings::Settings>::fields() {
            f.key = format!("{}.{}", stringify!($field), f.key);
            $out.push(f);
        }
    };
    (@info $out:ident, $field:ident, $ty:ty, [$($doc:literal),*]) => {{
        let ty = std::any::type_name::<$ty>();
        $out.push($crate::settings::SettingInfo {
            key: stringify!($field).to_owned(),
            doc: $crate::settings::join_doc(&[$($doc),*]),
            boolean: ty == "bool",
            text: (ty.contains("PathBuf") || ty.contains("String")) && !ty.contains("Vec<"),
        });
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::settings! {
        /// Inner.
        pub struct Inner {
            /// A rate.
            rate: f64 = 0.5,
            /// A word.
            word: String = "a".into(),
        }
    }

    crate::settings! {
        /// Outer.
        pub struct Outer {
            /// Steps to run.
            steps: u64 = 10,
            /// On or off.
            flag: bool = true,
            /// A file.
            path: Option<std::path::PathBuf> = None,
            /// The group.
            inner: Inner = Inner::default(); group,
        }
    }

    #[test]
    fn fields_are_flattened_with_docs_and_kinds() {
        let f = Outer::fields();
        let keys: Vec<&str> = f.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["steps", "flag", "path", "inner.rate", "inner.word"]);
        assert_eq!(f[0].doc, "Steps to run.");
        assert!(f[1].boolean && !f[0].boolean);
        assert!(f[2].text && f[4].text && !f[3].text);
    }

    #[test]
    fn overrides_are_typed_and_errors_name_the_key() {
        let o = Outer::default();
        let kv = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        let n = o
            .with_overrides(&[
                kv("steps", "25"),
                kv("flag", "false"),
                kv("inner.rate", "1e-3"),
                kv("path", "123"),
                kv("inner.word", "true"),
            ])
            .unwrap();
        assert_eq!((n.steps, n.flag, n.inner.rate, n.inner.word.as_str()), (25, false, 1e-3, "true"));
        assert_eq!(n.path.as_deref(), Some(std::path::Path::new("123")));
        let e = o.with_overrides(&[kv("steps", "many")]).unwrap_err().to_string();
        assert!(e.contains("steps") && e.contains("many"), "{e}");
        let e = o.with_overrides(&[kv("stepz", "1")]).unwrap_err().to_string();
        assert!(e.contains("stepz"), "{e}");
        // An integer where a float is expected is fine.
        assert_eq!(o.with_overrides(&[kv("inner.rate", "2")]).unwrap().inner.rate, 2.0);
    }
}
