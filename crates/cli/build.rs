//! Makes `kdk`'s shell completions (bash, zsh, fish) and man page from the command line's own
//! definition, into OUT_DIR; `kdk` carries them (`kdk completions SHELL`, `kdk man`), and the
//! .deb installs them.

use clap::CommandFactory;

#[allow(dead_code)]
#[path = "src/cli.rs"]
mod cli;

fn main() -> std::io::Result<()> {
    println!("cargo:rerun-if-changed=src/cli.rs");
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut command = cli::Cli::command();
    for (shell, file) in [
        (clap_complete::Shell::Bash, "kdk.bash"),
        (clap_complete::Shell::Zsh, "_kdk"),
        (clap_complete::Shell::Fish, "kdk.fish"),
    ] {
        let mut text = Vec::new();
        clap_complete::generate(shell, &mut command, "kdk", &mut text);
        std::fs::write(out.join(file), text)?;
    }
    let mut page = Vec::new();
    clap_mangen::Man::new(command).render(&mut page)?;
    std::fs::write(out.join("kdk.1"), page)
}
