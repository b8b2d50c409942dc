//! How `kdk` prints: aligned tables and plain lines for people, JSON for scripts (`--json`),
//! colour and live progress only when standard output is a terminal (and `NO_COLOR` is unset).

use std::io::{IsTerminal, Write};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::Failure;

pub fn is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

fn colour_on() -> bool {
    is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

pub enum Colour {
    Green,
    Yellow,
    Red,
    Dim,
}

/// `text` in a colour, on a terminal; as it is elsewhere.
pub fn paint(text: &str, colour: Colour) -> String {
    if !colour_on() {
        return text.to_owned();
    }
    let code = match colour {
        Colour::Green => "32",
        Colour::Yellow => "33",
        Colour::Red => "31",
        Colour::Dim => "2",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

pub fn json<T: Serialize>(value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Failure::new(crate::EXIT_FAILED, e.to_string()))?;
    println!("{text}");
    Ok(())
}

/// Rows under a header, each column as wide as its widest cell (colour codes not counted).
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let width = |s: &str| strip_colour(s).chars().count();
    let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(width(cell));
        }
    }
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < cells.len() {
                out.push_str(&" ".repeat(widths[i] - width(cell) + 2));
            }
        }
        out
    };
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{}", line(header.iter().map(|h| paint(h, Colour::Dim)).collect()));
    for row in rows {
        let _ = writeln!(stdout, "{}", line(row.clone()));
    }
}

fn strip_colour(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// "3 minutes ago", "in 6 days", "just now".
pub fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (now - at).num_seconds();
    let (n, future) = if seconds < 0 { (-seconds, true) } else { (seconds, false) };
    if n < 45 {
        return "just now".to_owned();
    }
    let (amount, unit) = match n {
        n if n < 55 * 60 => ((n + 30) / 60, "minute"),
        n if n < 36 * 3600 => ((n + 1800) / 3600, "hour"),
        n => ((n + 43_200) / 86_400, "day"),
    };
    let plural = if amount == 1 { "" } else { "s" };
    if future { format!("in {amount} {unit}{plural}") } else { format!("{amount} {unit}{plural} ago") }
}

/// A progress line that rewrites itself on a terminal; elsewhere, a line whenever it changes.
pub struct Progress {
    last: String,
    terminal: bool,
}

impl Progress {
    pub fn new() -> Progress {
        Progress { last: String::new(), terminal: std::io::stderr().is_terminal() }
    }

    pub fn show(&mut self, text: &str) {
        if text == self.last {
            return;
        }
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let _ = write!(err, "\r\x1b[2K{text}");
        } else {
            let _ = writeln!(err, "{text}");
        }
        let _ = err.flush();
        text.clone_into(&mut self.last);
    }

    pub fn done(&mut self) {
        if self.terminal && !self.last.is_empty() {
            eprintln!();
        }
        self.last.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_people_say_them() {
        let now = Utc::now();
        assert_eq!(relative(now - chrono::Duration::seconds(10), now), "just now");
        assert_eq!(relative(now - chrono::Duration::minutes(3), now), "3 minutes ago");
        assert_eq!(relative(now - chrono::Duration::hours(1), now), "1 hour ago");
        assert_eq!(relative(now + chrono::Duration::days(6), now), "in 6 days");
    }

    #[test]
    fn colour_codes_take_no_width() {
        assert_eq!(strip_colour("\x1b[32mActive\x1b[0m"), "Active");
    }
}
