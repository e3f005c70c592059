//! The `adain` command line.
mod cli;
#[cfg(feature = "torch")]
mod server;

fn main() -> std::process::ExitCode {
    cli::main()
}
