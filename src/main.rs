//! The `adain` command line.
mod cli;
mod server;

fn main() -> std::process::ExitCode {
    cli::main()
}
