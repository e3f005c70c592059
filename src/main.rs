//! The `adain` command line.
mod cli;
mod server;

fn main() -> std::process::ExitCode {
    adain::allocator::reuse_large_blocks();
    cli::main()
}
