//! Properties of the text rules over wide spaces of input: scope identity is exact and
//! round-trips, lookalikes are one name, and nothing hidden survives.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use clef_core::Scope;
use clef_core::text::{free_text, is_hidden, name};
use proptest::prelude::*;

/// Strings made mostly of the characters that cause trouble: separators, controls, bidi and
/// zero-width characters, combining marks, spaces.
fn tricky() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("/".to_owned()),
        Just(" ".to_owned()),
        Just("\n".to_owned()),
        Just("\r".to_owned()),
        Just("\u{0}".to_owned()),
        Just("\u{1b}".to_owned()),
        Just("\u{202e}".to_owned()),
        Just("\u{200b}".to_owned()),
        Just("\u{feff}".to_owned()),
        Just("e\u{301}".to_owned()),
        Just("é".to_owned()),
        Just("db".to_owned()),
        Just("prod".to_owned()),
        "[a-z]{1,3}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(pieces, 0..6).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn every_scope_accepted_reads_back_from_its_stored_text(ns in tricky(), env in tricky(), raw in tricky()) {
        let accepted = [Scope::new(Some(&ns), Some(&env)), Scope::new(Some(&ns), None), Scope::new(None, Some(&env)), Scope::parse(&raw)];
        for scope in accepted.into_iter().flatten() {
            let stored = scope.canonical();
            prop_assert_eq!(Scope::parse(&stored), Ok(scope.clone()));
            prop_assert_eq!(Scope::from_stored(&stored), scope.clone());
            prop_assert!(!stored.chars().any(is_hidden));
        }
    }

    #[test]
    fn the_text_and_object_forms_of_one_scope_are_equal(ns in tricky(), env in tricky()) {
        if let Ok(object) = Scope::new(Some(&ns), Some(&env))
            && object.namespace().is_some()
        {
            prop_assert_eq!(Scope::parse(&format!("{ns}/{env}")), Ok(object));
        }
    }

    #[test]
    fn lookalike_names_are_one_name(base in "[a-z]{1,4}") {
        let composed = format!("{base}\u{e9}");
        let decomposed = format!("{base}e\u{301}");
        prop_assert_eq!(name(&composed, 64), name(&decomposed, 64));
        let hidden = format!("{base}\u{200b}");
        prop_assert!(name(&hidden, 64).is_err());
    }

    #[test]
    fn names_and_free_text_keep_nothing_hidden(raw in tricky()) {
        if let Ok(n) = name(&raw, 1000) {
            prop_assert!(!n.chars().any(is_hidden));
        }
        let shown = free_text(&raw, 1000).expect("short enough");
        prop_assert!(!shown.chars().any(is_hidden));
        prop_assert!(!shown.contains('\n') && !shown.contains('\r'));
    }
}
