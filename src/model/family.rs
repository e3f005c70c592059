//! Which network family a model is: the VGG model, the lite network, or MicroAST (a peer read
//! from its released weights). Inference, export, evaluation and training all dispatch on it.

use serde::{Deserialize, Serialize};

/// Which network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// VGG-16 encoder + mirrored decoder.
    #[default]
    Vgg,
    /// The lite network.
    Lite,
    /// MicroAST (Wang et al., AAAI 2023) with its released weights (a peer; not shipped).
    MicroAst,
}

impl Family {
    /// The names the command line and config files use.
    pub const NAMES: [&str; 3] = ["vgg", "lite", "microast"];

    /// The family's name (`vgg`, `lite`, `microast`).
    pub fn name(self) -> &'static str {
        match self {
            Family::Vgg => "vgg",
            Family::Lite => "lite",
            Family::MicroAst => "microast",
        }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Family {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "vgg" => Ok(Family::Vgg),
            "lite" => Ok(Family::Lite),
            "microast" => Ok(Family::MicroAst),
            _ => Err(format!("{s:?}: expected one of {}", Family::NAMES.join(", "))),
        }
    }
}
