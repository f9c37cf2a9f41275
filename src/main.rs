//! The `tenantry` binary: every command is in `cli`.

fn main() -> std::process::ExitCode {
    tenantry::cli::main()
}
