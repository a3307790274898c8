//! The `prov` binary: parse the command line, run, map errors to ansible-playbook's exit codes
//! (README.md, "Exit codes": 0 ok, 1 error, 2 a host failed or a command-line syntax error,
//! 4 a host unreachable or a parse error, 5 bad options, 99 Ctrl-C).

use clap::Parser;

fn main() {
    // At most two glibc malloc arenas. The runtime's threads (and those that briefly take over
    // a worker while another blocks) each get an arena of their own by default; with two,
    // prov's peak RSS on a 50-host run is about 40 MB instead of 43-52, no slower
    // (bench/RESULTS.md, "Memory"). Set before any thread starts.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a malloc parameter; no other thread exists yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
    prov::run::hold_signals();
    let cli = match prov::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                // ansible-playbook's argparse: an unknown flag or a bad flag value exits 2.
                _ => 2,
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    // A chroot run keeps its mounts in a private mount namespace: the kernel removes them
    // when prov exits, however it exits. This must happen before any thread starts.
    if prov::run::wants_private_mounts(&cli)
        && unsafe { libc::geteuid() } == 0
        && let Err(e) = prov::transport::chroot::private_mount_namespace()
    {
        eprintln!(
            "prov: warning: no private mount namespace ({e}); chroot mounts are undone on exit instead"
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = runtime.block_on(async {
        match prov::run::main(cli).await {
            Ok(code) => code,
            Err(e) => {
                eprintln!("ERROR: {}", e.render());
                e.exit_code()
            }
        }
    });
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    std::process::exit(code);
}
