//! The real keychain and clipboard, checked from outside with `secret-tool` and `xclip`.
//! `make test` runs these inside a D-Bus session with an unlocked gnome-keyring under Xvfb
//! and sets KEYDECK_REAL_DESKTOP=1; without it they say so and do nothing.

use std::process::Command;

use keydeck_vault::{
    KeychainAddress, OsKeychain, SecretClipboard, SecretStore, SystemClipboard, clear_if_holds, store_verified,
};

fn real_desktop() -> bool {
    let on = std::env::var_os("KEYDECK_REAL_DESKTOP").is_some();
    if !on {
        eprintln!("KEYDECK_REAL_DESKTOP is not set: run `make test` to check the real keychain and clipboard");
    }
    on
}

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap_or_else(|e| panic!("{cmd}: {e}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_key_stored_in_the_keychain_is_readable_by_secret_tool_at_its_documented_address() {
    if !real_desktop() {
        return;
    }
    let keychain = OsKeychain;
    keychain.probe().expect("a keychain answers");
    let address = KeychainAddress::for_key("ws_vaulttest", "Vault test key");
    let secret = "kdk_VaultTestSecretValue0000000000000000";
    store_verified(&keychain, &address, secret).unwrap();
    let found = run("secret-tool", &["lookup", "service", "keydeck", "username", "ws_vaulttest/Vault test key"]);
    assert_eq!(found.trim_end(), secret);
    assert!(keychain.remove(&address).unwrap());
    assert_eq!(keychain.load(&address).unwrap(), None);
    assert!(!keychain.remove(&address).unwrap());
    assert_eq!(run("secret-tool", &["lookup", "service", "keydeck", "username", "ws_vaulttest/Vault test key"]), "");
}

#[test]
fn a_copied_secret_is_marked_for_no_history_and_cleared_only_if_unchanged() {
    if !real_desktop() {
        return;
    }
    let clipboard = SystemClipboard::open().expect("an X11 clipboard");
    let secret = "kdk_ClipboardTestSecret00000000000000000";
    clipboard.copy_secret(secret).unwrap();
    assert_eq!(run("xclip", &["-o", "-selection", "clipboard"]), secret);
    let targets = run("xclip", &["-o", "-selection", "clipboard", "-t", "TARGETS"]);
    assert!(targets.contains("x-kde-passwordManagerHint"), "targets: {targets}");
    assert!(clear_if_holds(&clipboard, secret).unwrap());
    assert_eq!(run("xclip", &["-o", "-selection", "clipboard"]), "");
}
