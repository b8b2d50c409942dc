//! What `kdk` accepts: the one definition that parses the command line and, at build time
//! (`build.rs` includes this file), makes the shell completions and the man page.

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Keydeck on the command line: the same accounts, keychain entries and rotations as the
/// Keydeck window.
#[derive(Debug, Parser)]
#[command(name = "kdk", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// Print data as JSON instead of text (for scripts).
    #[arg(long, global = true)]
    pub json: bool,
    /// The workspace to act on (its ID or name): else the project file's, else the one used
    /// last.
    #[arg(long, short = 'w', global = true, env = "KEYDECK_WORKSPACE")]
    pub workspace: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

pub const EXIT_CODES: &str = "\
Exit codes:
  0   done (for `kdk test`: connected)
  1   the server or the keychain refused, or something else went wrong (the message says what)
  2   the command line was wrong
  3   nobody is signed in, or the session ended: run `kdk login`
  4   the workspace server did not answer (or, for `kdk login`, its address is wrong)
  5   no such key, workspace, rotation or keychain entry
  6   no keychain (or no clipboard for --copy) on this computer; or a new key the keychain did
      not keep (it was printed: the only copy)
  7   `kdk rotate --wait` gave up after --timeout
 10   `kdk test`: the key's text is wrong (spaces, cut off, mistyped); nothing was sent
 11   `kdk test`: the key is revoked, expired, disabled, unknown, or its maker left
 12   `kdk test`: the workspace is cut off (its plan has no API access, or it is read-only)
 13   `kdk test`: the key belongs to another workspace
 14   `kdk test`: the key is over its rate limit
 15   `kdk test`: the server refused the key for another reason
`kdk run` exits with the program's own code: 126 when it cannot be started, 127 when it is not
found, 128 + N when signal N ended it.";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sign in to a workspace server (or open the demo workspace).
    Login(Login),
    /// Sign out of the account used last: ends its session on the server.
    Logout,
    /// Who is signed in, where, and on which workspace.
    Whoami,
    /// The workspaces of the account.
    Workspaces,
    /// Use this workspace from now on (its ID or name).
    Use { workspace: String },
    /// List the workspace's keys, or manage one.
    Keys {
        #[command(subcommand)]
        command: Option<KeysCommand>,
    },
    /// Print one key from this computer's keychain, for `$(kdk get NAME)`.
    Get {
        /// The key's name.
        name: String,
    },
    /// Print keys from the keychain as environment variables: the project file's, or these.
    Env {
        /// Key names (each becomes a variable named after it, NAME_LIKE_THIS).
        names: Vec<String>,
        /// `shell` (export lines) or `dotenv` (a .env file).
        #[arg(long, value_enum, default_value_t = EnvFormat::Shell)]
        format: EnvFormat,
    },
    /// Run a program with keys from the keychain as environment variables, hiding them in its
    /// output.
    Run(Run),
    /// Test a key: the offline checks, then `GET /me`; the exit code says what is wrong.
    Test(Test),
    /// Rotate a key in four steps, with the same journal as the window.
    Rotate(Rotate),
    /// The unfinished rotations begun on this computer.
    Rotations,
    /// Print the shell completions made at build time.
    #[command(hide = true)]
    Completions {
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Print the man page made at build time.
    #[command(hide = true)]
    Man,
    /// Keep a key on the clipboard, then clear it (started by `--copy`; reads the key from
    /// standard input).
    #[command(hide = true)]
    HoldClipboard { seconds: u32 },
}

#[derive(Debug, Args)]
pub struct Login {
    /// The workspace server's address, such as https://keys.example.com.
    #[arg(required_unless_present = "demo")]
    pub server: Option<String>,
    /// Open the demo workspace that Keydeck runs on this computer.
    #[arg(long, conflicts_with_all = ["server", "email", "password_stdin"])]
    pub demo: bool,
    /// The account's email (asked for when missing).
    #[arg(long)]
    pub email: Option<String>,
    /// Read the password from standard input (for scripts) instead of asking for it.
    #[arg(long)]
    pub password_stdin: bool,
    /// Sign in over plain http:// to another computer although the password and keys could be
    /// read on the way.
    #[arg(long)]
    pub allow_unencrypted: bool,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a key, store it in the keychain first, and say where it is.
    Create(Create),
    /// Give a key a new name (its keychain entry moves with it).
    Rename { name: String, new_name: String },
    /// Refuse every request with this key until it is enabled again.
    Disable { name: String },
    /// Accept requests with this key again.
    Enable { name: String },
    /// Revoke a key for good (asks to type its name, unless --yes).
    Revoke {
        name: String,
        /// Do not ask.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Args)]
pub struct Create {
    /// The new key's name.
    pub name: String,
    /// What the key is for: picks the fewest scopes it needs and a suggested expiry.
    #[arg(long, value_enum)]
    pub purpose: PurposeArg,
    /// Instead of the purpose's scopes (repeat, or separate with commas).
    #[arg(long = "scope", value_delimiter = ',')]
    pub scopes: Vec<String>,
    /// Days until it expires (7, 30, 90, 180 or 365), or `never`.
    #[arg(long)]
    pub expires: Option<String>,
    /// Rate limit as REQUESTS/SECONDS (such as 100/60), or `none`.
    #[arg(long)]
    pub rate: Option<String>,
    /// Also print the key on standard output.
    #[arg(long)]
    pub print: bool,
    /// Also copy the key to the clipboard, cleared after the app's clipboard delay.
    #[arg(long)]
    pub copy: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PurposeArg {
    Zapier,
    Reporting,
    Finance,
    Export,
    Custom,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EnvFormat {
    Shell,
    Dotenv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Args)]
pub struct Run {
    /// VAR=KEY NAME: put this key in this variable (repeat); adds to the project file's.
    #[arg(long = "env", value_name = "VAR=NAME")]
    pub env: Vec<String>,
    /// Show the keys in the program's output instead of hiding them.
    #[arg(long)]
    pub no_masking: bool,
    /// The program and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct Test {
    /// A key to test, as text (else read from the keychain with --name, else from standard
    /// input, which keeps it out of the shell's history).
    pub key: Option<String>,
    /// Test the key of this name from the keychain.
    #[arg(long, conflicts_with = "key")]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct Rotate {
    /// The key to rotate.
    #[arg(required_unless_present = "resume")]
    pub name: Option<String>,
    /// Carry on with a rotation begun earlier (in the window or here); see `kdk rotations`.
    #[arg(long, value_name = "ID", conflicts_with = "name")]
    pub resume: Option<String>,
    /// Wait at step 3 until the integration uses the new key and the old key falls silent.
    #[arg(long)]
    pub wait: bool,
    /// Give up waiting after this many seconds.
    #[arg(long, default_value_t = 600, requires = "wait")]
    pub timeout: u64,
    /// Once step 3 has passed, revoke the old key (step 4).
    #[arg(long)]
    pub revoke_old: bool,
    /// Cancel the rotation instead: any replacement it made is revoked; the old key keeps working.
    #[arg(long, requires = "resume", conflicts_with_all = ["wait", "revoke_old"])]
    pub cancel: bool,
}
