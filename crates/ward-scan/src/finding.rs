//! The finding model: what a scan reports, with a stable code and a documented remedy.

use std::fmt;

use serde::{Serialize, Serializer};

/// How much a finding matters. Ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; never a reason to fail a gate by default.
    Info,
    /// Unusual but unlikely to be exploitable.
    Low,
    /// Could hide an attack or stop a full inspection; fails the default gate.
    Medium,
    /// Runs code or reaches outside the model that is not known to be safe.
    High,
    /// Known to run arbitrary code, read or write files, or reach the network.
    Critical,
}

impl Severity {
    /// Every severity, least severe first.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The lowercase name used in reports, policies and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|sev| sev.as_str() == s)
            .ok_or_else(|| {
                format!("unknown severity `{s}`; expected one of info, low, medium, high, critical")
            })
    }
}

/// A stable, documented kind of finding, such as `pickle-unsafe-global`.
///
/// Codes are part of ward's interface: users write waivers and CI rules against them, so
/// an `id` is never renamed or reused. Each code has an entry in `docs/findings.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Code {
    /// Kebab-case identifier, prefixed by the format or area (`pickle-`, `zip-`, `scan-`).
    pub id: &'static str,
    /// Severity given to findings of this code unless the rule says otherwise.
    pub severity: Severity,
    /// One line that says what was found.
    pub title: &'static str,
    /// What the user can do about it.
    pub remedy: &'static str,
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.id)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id)
    }
}

/// Where a finding is: the file, the chain of archive members inside it, and a byte offset.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize)]
pub struct Location {
    /// The path as the user named it (or found under a directory they named).
    pub path: String,
    /// Members of nested containers, outermost first (`archive/data.pkl`, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    /// Byte offset inside the innermost member (or the file), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

impl Location {
    /// The location of a whole file.
    pub fn file(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            members: Vec::new(),
            offset: None,
        }
    }

    /// This location, one member deeper.
    pub fn member(&self, name: impl Into<String>) -> Self {
        let mut members = self.members.clone();
        members.push(name.into());
        Self {
            path: self.path.clone(),
            members,
            offset: None,
        }
    }

    /// This location at a byte offset.
    pub fn at(&self, offset: u64) -> Self {
        Self {
            offset: Some(offset),
            ..self.clone()
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path)?;
        for member in &self.members {
            write!(f, "!{member}")?;
        }
        if let Some(offset) = self.offset {
            write!(f, "@{offset}")?;
        }
        Ok(())
    }
}

/// One thing a scan found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The kind of finding.
    pub code: Code,
    /// Its severity; usually `code.severity`.
    pub severity: Severity,
    /// Where it is.
    pub location: Location,
    /// What exactly was found, with values in backticks.
    pub message: String,
}

impl Finding {
    /// A finding with the code's own severity.
    pub fn new(code: Code, location: Location, message: impl Into<String>) -> Self {
        Self {
            code,
            severity: code.severity,
            location,
            message: message.into(),
        }
    }

    /// The same finding at another severity.
    pub fn with_severity(self, severity: Severity) -> Self {
        Self { severity, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEMO: Code = Code {
        id: "demo-code",
        severity: Severity::High,
        title: "a demonstration",
        remedy: "nothing to do",
    };

    #[test]
    fn severities_are_ordered_and_round_trip() {
        assert!(Severity::Critical > Severity::High && Severity::Medium > Severity::Low);
        for sev in Severity::ALL {
            assert_eq!(sev.as_str().parse::<Severity>(), Ok(sev));
        }
        assert!("severe".parse::<Severity>().is_err());
    }

    #[test]
    fn locations_render_members_and_offsets() {
        let loc = Location::file("m.pt").member("archive/data.pkl").at(17);
        assert_eq!(loc.to_string(), "m.pt!archive/data.pkl@17");
        let finding = Finding::new(DEMO, loc, "found `x`");
        let json = serde_json::to_value(&finding).unwrap();
        assert_eq!(json["code"], "demo-code");
        assert_eq!(json["severity"], "high");
        assert_eq!(json["location"]["offset"], 17);
    }
}
