//! License names as model cards and GGUF headers write them, mapped to SPDX license ids.
//!
//! Hugging Face cards use lowercase ids (`apache-2.0`) and names of their own (`llama3.2`,
//! `other`). Only names that are unambiguously an SPDX id are mapped; everything else is
//! kept as written and emitted as a license *name*, never guessed into an id.

/// Lowercase names and the SPDX ids they denote. `gpl-3.0` and the like are left out on
/// purpose: the Hub's `gpl-3.0` does not say whether "or later" applies.
const SPDX_IDS: &[(&str, &str)] = &[
    ("0bsd", "0BSD"),
    ("afl-3.0", "AFL-3.0"),
    ("apache-2.0", "Apache-2.0"),
    ("artistic-2.0", "Artistic-2.0"),
    ("bsd-2-clause", "BSD-2-Clause"),
    ("bsd-3-clause", "BSD-3-Clause"),
    ("bsd-3-clause-clear", "BSD-3-Clause-Clear"),
    ("bsl-1.0", "BSL-1.0"),
    ("cc-by-2.0", "CC-BY-2.0"),
    ("cc-by-2.5", "CC-BY-2.5"),
    ("cc-by-3.0", "CC-BY-3.0"),
    ("cc-by-4.0", "CC-BY-4.0"),
    ("cc-by-nc-2.0", "CC-BY-NC-2.0"),
    ("cc-by-nc-3.0", "CC-BY-NC-3.0"),
    ("cc-by-nc-4.0", "CC-BY-NC-4.0"),
    ("cc-by-nc-nd-3.0", "CC-BY-NC-ND-3.0"),
    ("cc-by-nc-nd-4.0", "CC-BY-NC-ND-4.0"),
    ("cc-by-nc-sa-2.0", "CC-BY-NC-SA-2.0"),
    ("cc-by-nc-sa-3.0", "CC-BY-NC-SA-3.0"),
    ("cc-by-nc-sa-4.0", "CC-BY-NC-SA-4.0"),
    ("cc-by-nd-4.0", "CC-BY-ND-4.0"),
    ("cc-by-sa-3.0", "CC-BY-SA-3.0"),
    ("cc-by-sa-4.0", "CC-BY-SA-4.0"),
    ("cc0-1.0", "CC0-1.0"),
    ("ecl-2.0", "ECL-2.0"),
    ("epl-1.0", "EPL-1.0"),
    ("epl-2.0", "EPL-2.0"),
    ("eupl-1.1", "EUPL-1.1"),
    ("isc", "ISC"),
    ("lppl-1.3c", "LPPL-1.3c"),
    ("mit", "MIT"),
    ("mpl-2.0", "MPL-2.0"),
    ("ms-pl", "MS-PL"),
    ("ncsa", "NCSA"),
    ("odbl", "ODbL-1.0"),
    ("odc-by", "ODC-By-1.0"),
    ("osl-3.0", "OSL-3.0"),
    ("postgresql", "PostgreSQL"),
    ("pddl", "PDDL-1.0"),
    ("unlicense", "Unlicense"),
    ("wtfpl", "WTFPL"),
    ("zlib", "Zlib"),
];

/// A license as written in a card or header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum License {
    /// An SPDX license id.
    Spdx(&'static str),
    /// A name that is not (unambiguously) an SPDX id, as written.
    Named(String),
}

/// Maps a written license to an SPDX id when the name is unambiguous.
pub fn classify(written: &str) -> License {
    let lower = written.trim().to_ascii_lowercase();
    SPDX_IDS
        .iter()
        .find(|(name, id)| *name == lower || id.eq_ignore_ascii_case(&lower))
        .map_or_else(
            || License::Named(written.trim().to_owned()),
            |(_, id)| License::Spdx(id),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_hub_ids_and_keeps_other_names() {
        assert_eq!(classify("apache-2.0"), License::Spdx("Apache-2.0"));
        assert_eq!(classify(" MIT "), License::Spdx("MIT"));
        assert_eq!(classify("CC-BY-4.0"), License::Spdx("CC-BY-4.0"));
        assert_eq!(classify("llama3.2"), License::Named("llama3.2".into()));
        assert_eq!(classify("gpl-3.0"), License::Named("gpl-3.0".into()));
        assert_eq!(classify("other"), License::Named("other".into()));
    }
}
