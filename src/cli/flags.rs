//! Flags made from a settings struct ([`Settings`], declared by `adain::settings!`): one flag
//! per setting (or per chosen setting), named after its key (`lr.decay` → `--lr-decay`), its
//! help text the setting's doc comment with its default. Only the choice of keys, a few
//! short aliases and the help heading are written here; defaults and checks stay with the
//! settings. `adain train` takes every `TrainConfig` setting this way, the inference commands
//! the stylize settings they use.

use adain::infer::{Family, Settings as StylizeSettings};
use adain::settings::Settings;
use clap::{Arg, ArgMatches, Command};
use std::marker::PhantomData;

/// Which settings of a struct become flags, and how.
pub trait FlagSet: 'static {
    /// The settings struct.
    type S: Settings;
    /// The keys that become flags (`None`: all of them).
    const KEYS: Option<&'static [&'static str]>;
    /// Other names of some flags: (key, aliases).
    const ALIASES: &'static [(&'static str, &'static [&'static str])] = &[];
    /// The help heading of these flags.
    const HEADING: &'static str = "Stylize settings";
    /// Booleans take their value after `=` only (`--preserve-color`, `--preserve-color=false`),
    /// so that a positional argument after a switch is not read as its value.
    const EQUALS_ONLY: bool = false;
}

/// The flag of a setting key: `lr.lr` → `lr`, `lr.decay` → `lr-decay`, `style_loss.sqrt` →
/// `style-loss-sqrt`.
pub fn flag_of(key: &str) -> String {
    let key = match key.split_once('.') {
        Some((group, leaf)) if group == leaf => leaf,
        _ => key,
    };
    key.replace(['.', '_'], "-")
}

/// A library error, with a setting's key written as its flag (`--match-palette 2: must be in
/// [0, 1]`).
pub fn flag_error(e: adain::Error) -> anyhow::Error {
    match e {
        adain::Error::Setting { key, value, msg } => anyhow::anyhow!("--{} {value}: {msg}", flag_of(&key)),
        e => e.into(),
    }
}

/// The settings given on the command line, as `key = value` overrides.
pub struct SettingFlags<F: FlagSet> {
    given: Vec<(String, String)>,
    _set: PhantomData<F>,
}

impl<F: FlagSet> SettingFlags<F> {
    fn fields() -> Vec<adain::settings::SettingInfo> {
        F::S::fields().into_iter().filter(|f| F::KEYS.is_none_or(|keys| keys.contains(&f.key.as_str()))).collect()
    }

    /// `base` with the given flags applied (each checked as a config file's value is); an
    /// error names the flag.
    pub fn apply(&self, base: &F::S) -> anyhow::Result<F::S> {
        base.with_overrides(&self.given).map_err(flag_error)
    }

    /// The defaults with the given flags applied.
    #[cfg(feature = "torch")]
    pub fn resolve(&self) -> anyhow::Result<F::S> {
        self.apply(&F::S::default())
    }
}

impl<F: FlagSet<S = StylizeSettings>> SettingFlags<F> {
    /// The stylize settings of a network family's defaults ([`StylizeSettings::for_family`])
    /// with the given flags applied.
    pub fn resolve_for(&self, family: Family) -> anyhow::Result<StylizeSettings> {
        self.apply(&StylizeSettings::for_family(family))
    }
}

impl<F: FlagSet> clap::FromArgMatches for SettingFlags<F> {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let given = Self::fields()
            .into_iter()
            .filter_map(|f| m.get_one::<String>(flag_of(&f.key).as_str()).map(|v| (f.key, v.clone())));
        Ok(Self { given: given.collect(), _set: PhantomData })
    }
    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl<F: FlagSet> clap::Args for SettingFlags<F> {
    fn augment_args(mut cmd: Command) -> Command {
        let defaults = toml::Value::try_from(F::S::default()).unwrap_or(toml::Value::Boolean(false));
        for f in Self::fields() {
            let flag = flag_of(&f.key);
            let default = f.key.split('.').try_fold(&defaults, |v, k| v.get(k));
            // A setting whose default depends on the network says so in its doc ("Default: …").
            let help = match default {
                Some(d) if !f.doc.contains("Default:") => format!("{} [default: {d}]", f.doc),
                _ => f.doc.clone(),
            };
            let mut arg = Arg::new(flag.clone()).long(flag).help(help).help_heading(F::HEADING);
            arg = if f.boolean {
                let arg = arg.value_name("BOOL").num_args(0..=1).default_missing_value("true");
                if F::EQUALS_ONLY { arg.require_equals(true) } else { arg }
            } else {
                // `--alpha -0.2` is a value (refused by the setting's own check), not a flag.
                arg.value_name("VALUE").allow_negative_numbers(true)
            };
            if let Some((_, aliases)) = F::ALIASES.iter().find(|(k, _)| *k == f.key) {
                arg = arg.visible_aliases(aliases.iter().copied());
            }
            cmd = cmd.arg(arg);
        }
        cmd
    }
    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}
