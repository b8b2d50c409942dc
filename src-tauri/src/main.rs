//! The Keydeck desktop app.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    keydeck_app::run();
}
