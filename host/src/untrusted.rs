//! Plugin-supplied text on its way to a log line or a problem `detail`:
//! one limit, one place.
//!
//! A plugin is third-party code. Whatever string it hands the host (a log
//! message, a `provider-error` message, its stderr, a trap message) may be
//! megabytes long or carry newlines and terminal escapes that forge log
//! lines. Every such string passes through [`sanitize`] before it is logged
//! or answered: control characters are escaped (so one record stays one
//! line and no escape sequence reaches a terminal) and the result is cut to
//! [`MAX_PLUGIN_TEXT`] bytes with a note saying how much was dropped.

/// Longest plugin-supplied text kept, in bytes (after escaping).
pub const MAX_PLUGIN_TEXT: usize = 4096;

/// `s` made safe for one log line or a problem `detail`: control characters
/// escaped (`\n`, `\r`, `\t`, `\u{1b}` …), at most [`MAX_PLUGIN_TEXT`] bytes.
pub fn sanitize(s: &str) -> String {
    sanitize_to(s, MAX_PLUGIN_TEXT)
}

/// [`sanitize`] with another limit (tests, trap messages with a head and a
/// tail).
pub fn sanitize_to(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max) + 32);
    let mut consumed = 0;
    for c in s.chars() {
        let before = out.len();
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // C0, DEL, C1 controls, and the Unicode line/paragraph
            // separators and bidi overrides that reorder what a reader sees.
            c if c.is_control()
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') =>
            {
                use std::fmt::Write;
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
        if out.len() > max {
            out.truncate(before);
            break;
        }
        consumed += c.len_utf8();
    }
    if consumed < s.len() {
        use std::fmt::Write;
        let _ = write!(out, "…[{} more bytes]", s.len() - consumed);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newlines_and_escapes_cannot_forge_a_line() {
        let s = sanitize("ok\n2026-11-28T05:00:00Z ERROR b2c_host: admin token is x\r\u{1b}[2J\u{1b}[31mred\u{7}");
        assert_eq!(s, "ok\\n2026-11-28T05:00:00Z ERROR b2c_host: admin token is x\\r\\u{1b}[2J\\u{1b}[31mred\\u{7}");
        assert!(!s.chars().any(char::is_control));
        assert_eq!(sanitize("plain €"), "plain €");
        assert_eq!(sanitize("a\u{202e}b"), "a\\u{202e}b");
    }

    #[test]
    fn long_text_is_cut_at_the_limit_and_says_how_much() {
        let big = "\u{1}".repeat(10_000);
        let s = sanitize_to(&big, 100);
        // 16 escapes of 6 bytes fit in 100; the rest is counted.
        assert!(s.starts_with(&"\\u{1}".repeat(16)), "{s}");
        assert!(s.ends_with(&format!("…[{} more bytes]", 10_000 - 20)), "{s}");
        assert!(s.len() < 100 + 32);
        let euro = "€".repeat(100); // 3 bytes each: never cut inside a char
        let s = sanitize_to(&euro, 10);
        assert_eq!(s, format!("€€€…[{} more bytes]", 300 - 9));
        assert_eq!(sanitize_to("short", 10), "short");
    }
}
