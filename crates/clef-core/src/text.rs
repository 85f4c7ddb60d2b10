//! The rules for text from outside, in one place for the report JSON, OTLP, the API and the
//! dashboard.
//!
//! - **Names** (namespaces, environments, branches, rule ids, categories) identify things, so
//!   two that look alike must be equal: they are trimmed and normalised to NFC, and a control
//!   or format character (CR, LF, NUL, ESC, bidi overrides, zero-width characters) is refused.
//!   Matrix names (namespace, environment) may not contain `/`, the separator of a scope's text.
//! - **Free text** (messages, cell descriptions, drift summaries) is shown, never compared: its
//!   control and format characters are each replaced by a space, so it cannot forge lines in an
//!   e-mail or reorder what is shown around it.

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// A character that is not text: controls (Cc), format characters (Cf: bidi controls, zero
/// widths), and the line and paragraph separators.
pub fn is_hidden(c: char) -> bool {
    // Nearly all text is ASCII: its hidden characters are its controls, no table needed.
    if c.is_ascii() {
        return c.is_ascii_control();
    }
    matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

/// A name: trimmed, NFC, not empty, at most `max` characters, nothing hidden.
pub fn name(raw: &str, max: usize) -> Result<String, String> {
    // Checked before trimming, so a trailing newline is refused like any other.
    if raw.chars().any(is_hidden) {
        return Err("must not contain control or invisible formatting characters".into());
    }
    let value = nfc(raw.trim());
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    if value.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    Ok(value)
}

/// Names people give in Clef Pro (integrations, API keys, organisations), at most.
pub const MAX_DISPLAY_NAME: usize = 100;
/// A branch name, at most.
pub const MAX_BRANCH: usize = 256;

/// An integration's, key's or organisation's name.
pub fn display_name(raw: &str) -> Result<String, String> {
    name(raw, MAX_DISPLAY_NAME)
}

/// A branch name (the tracked branch of an integration, the branch of a report).
pub fn branch(raw: &str) -> Result<String, String> {
    name(raw, MAX_BRANCH)
}

/// A namespace or environment: a name without `/`.
pub fn axis_name(raw: &str, max: usize) -> Result<String, String> {
    let value = name(raw, max)?;
    if value.contains('/') {
        return Err("must not contain '/' (it separates namespace and environment in a scope)".into());
    }
    Ok(value)
}

/// Free text: NFC, hidden characters replaced by spaces, at most `max` characters.
pub fn free_text(raw: &str, max: usize) -> Result<String, String> {
    if raw.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if raw.is_ascii() {
        // ASCII is NFC already: only its controls change.
        return Ok(raw.chars().map(|c| if c.is_ascii_control() { ' ' } else { c }).collect());
    }
    Ok(raw.nfc().map(|c| if is_hidden(c) { ' ' } else { c }).collect())
}

fn nfc(s: &str) -> String {
    if s.is_ascii() { s.to_owned() } else { s.nfc().collect() }
}

/// An e-mail address (RFC 5322 `addr-spec`, at most 254 characters), trimmed.
pub fn email(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.len() > 254 {
        return Err("an e-mail address has at most 254 characters".into());
    }
    raw.parse::<email_address::EmailAddress>()
        .map(|a| a.to_string())
        .map_err(|e| format!("not an e-mail address: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised_and_hidden_characters_refused() {
        assert_eq!(name(" caf\u{65}\u{301} ", 10).as_deref(), Ok("café"));
        for bad in ["a\u{202e}b", "a\u{200b}", "a\nb", "a\0", "a\u{1b}[31m", "a\u{2028}b", ""] {
            assert!(name(bad, 10).is_err(), "{bad:?}");
        }
        assert!(name("abcdefghijk", 10).is_err());
        assert!(axis_name("team/app", 10).is_err());
    }

    #[test]
    fn free_text_is_neutralised() {
        assert_eq!(free_text("line\nPipeline: x\r\u{202e}", 100).as_deref(), Ok("line Pipeline: x  "));
        assert!(free_text(&"x".repeat(11), 10).is_err());
    }
}
