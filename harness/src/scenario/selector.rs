//! Which daemon an expectation is for: `[expect.daemon."keepalived<1.4"]`.
//!
//! A selector is a daemon name, optionally followed by version bounds separated by commas:
//! `keepalived`, `keepalived<1.4`, `keepalived>=2`, `keepalived>=1.2,<1.3`,
//! `keepalived=1.2.13`. A run picks, among the selectors that match its daemon's name and
//! version, the most specific one (see [`Selector::specificity`]); its known failures are
//! the ones that apply, and the verdict says which selector that was.

use std::cmp::Ordering;
use std::fmt;

/// A daemon's version as it reports it (`Keepalived v2.2.7` → 2.2.7). Missing parts
/// count as 0, so `2` = `2.0` = `2.0.0`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version {
    /// The numeric parts, most significant first (at least one).
    pub parts: Vec<u64>,
}

impl Version {
    /// Parses `1.2.13` (digits and dots only; at most four parts).
    pub fn parse(s: &str) -> Option<Version> {
        let parts: Option<Vec<u64>> = s.split('.').map(|p| p.parse::<u64>().ok()).collect();
        let parts = parts?;
        if parts.is_empty() || parts.len() > 4 {
            return None;
        }
        Some(Version { parts })
    }

    /// Finds the first version-looking word in a program's `--version` output:
    /// `Keepalived v2.2.7 (01/16,2022)` → 2.2.7, `vrrpd 0.1.0` → 0.1.0.
    pub fn find_in(text: &str) -> Option<Version> {
        text.split(|c: char| c.is_whitespace() || c == '(' || c == ',')
            .filter_map(|w| {
                let w = w.strip_prefix('v').unwrap_or(w);
                let w = w.trim_end_matches(|c: char| !c.is_ascii_digit());
                w.contains('.').then(|| Version::parse(w)).flatten()
            })
            .next()
    }

    fn part(&self, i: usize) -> u64 {
        self.parts.get(i).copied().unwrap_or(0)
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let n = self.parts.len().max(other.parts.len());
        (0..n)
            .map(|i| self.part(i).cmp(&other.part(i)))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s: Vec<String> = self.parts.iter().map(u64::to_string).collect();
        f.write_str(&s.join("."))
    }
}

/// A comparison of a version bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `=`
    Eq,
}

impl Op {
    fn holds(self, o: Ordering) -> bool {
        match self {
            Op::Lt => o == Ordering::Less,
            Op::Le => o != Ordering::Greater,
            Op::Gt => o == Ordering::Greater,
            Op::Ge => o != Ordering::Less,
            Op::Eq => o == Ordering::Equal,
        }
    }
}

/// A parsed `[expect.daemon."..."]` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// The daemon name (`keepalived`, `vrrpd:no-lease`, `mixed`).
    pub name: String,
    /// Version bounds, all of which must hold.
    pub bounds: Vec<(Op, Version)>,
}

impl Selector {
    /// Parses a key; the error says what is wrong with it.
    pub fn parse(key: &str) -> Result<Selector, String> {
        let start = key
            .find(['<', '>', '='])
            .unwrap_or(key.len());
        let name = key[..start].trim().to_string();
        if name.is_empty() {
            return Err(format!("{key:?} names no daemon"));
        }
        let mut bounds = Vec::new();
        let rest = key[start..].trim();
        if !rest.is_empty() {
            for b in rest.split(',') {
                let b = b.trim();
                let (op, v) = if let Some(v) = b.strip_prefix("<=") {
                    (Op::Le, v)
                } else if let Some(v) = b.strip_prefix(">=") {
                    (Op::Ge, v)
                } else if let Some(v) = b.strip_prefix('<') {
                    (Op::Lt, v)
                } else if let Some(v) = b.strip_prefix('>') {
                    (Op::Gt, v)
                } else if let Some(v) = b.strip_prefix('=') {
                    (Op::Eq, v)
                } else {
                    return Err(format!(
                        "version bound {b:?} must start with <, <=, >, >= or ="
                    ));
                };
                let ver = Version::parse(v.trim()).ok_or_else(|| {
                    format!("{:?} is not a version (digits and dots, like 1.4 or 2.2.7)", v.trim())
                })?;
                bounds.push((op, ver));
            }
        }
        Ok(Selector { name, bounds })
    }

    /// Whether a daemon with this name and version is selected. A selector with bounds
    /// never matches a daemon whose version is unknown.
    pub fn matches(&self, name: &str, version: Option<&Version>) -> bool {
        if self.name != name {
            return false;
        }
        if self.bounds.is_empty() {
            return true;
        }
        let Some(v) = version else {
            return false;
        };
        self.bounds.iter().all(|(op, b)| op.holds(v.cmp(b)))
    }

    /// How specific the selector is: an exact version beats a range with two ends, which
    /// beats a range with one end, which beats the bare name. Between two one-ended
    /// ranges that both match, the tighter one wins (`<1.3` beats `<1.4`, `>=2.2` beats
    /// `>=2`).
    pub fn specificity(&self) -> (u8, Vec<u64>, Vec<u64>) {
        let rank = if self.bounds.iter().any(|(o, _)| *o == Op::Eq) {
            3
        } else {
            self.bounds.len().min(2) as u8
        };
        // Tightness: the larger the lower bound and the smaller the upper bound, the
        // tighter. Upper bounds are compared negated (by complementing each part).
        let lower = self
            .bounds
            .iter()
            .filter(|(o, _)| matches!(o, Op::Gt | Op::Ge))
            .map(|(_, v)| padded(v))
            .max()
            .unwrap_or_default();
        let upper = self
            .bounds
            .iter()
            .filter(|(o, _)| matches!(o, Op::Lt | Op::Le))
            .map(|(_, v)| padded(v).into_iter().map(|p| u64::MAX - p).collect())
            .max()
            .unwrap_or_default();
        (rank, lower, upper)
    }
}

fn padded(v: &Version) -> Vec<u64> {
    (0..4).map(|i| v.part(i)).collect()
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        let b: Vec<String> = self
            .bounds
            .iter()
            .map(|(o, v)| {
                let op = match o {
                    Op::Lt => "<",
                    Op::Le => "<=",
                    Op::Gt => ">",
                    Op::Ge => ">=",
                    Op::Eq => "=",
                };
                format!("{op}{v}")
            })
            .collect();
        f.write_str(&b.join(","))
    }
}

/// Among `keys` (the `[expect.daemon]` keys as written), the one that applies to a daemon
/// with this name and version: the most specific match, ties broken by the key text so
/// the choice never depends on file order. Keys that do not parse never match.
pub fn most_specific<'a, I>(keys: I, name: &str, version: Option<&Version>) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a String>,
{
    keys.into_iter()
        .filter_map(|k| Selector::parse(k).ok().map(|s| (k, s)))
        .filter(|(_, s)| s.matches(name, version))
        .max_by(|(ka, a), (kb, b)| {
            a.specificity()
                .cmp(&b.specificity())
                .then_with(|| kb.cmp(ka))
        })
        .map(|(k, _)| k.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn versions_compare_by_number() {
        assert!(v("1.2.13") < v("1.4"));
        assert!(v("1.10") > v("1.9"));
        assert_eq!(v("2"), v("2.0.0"));
        assert!(Version::parse("2.x").is_none());
        assert!(Version::parse("").is_none());
    }

    #[test]
    fn versions_found_in_version_output() {
        assert_eq!(
            Version::find_in("Keepalived v1.2.13 (11/30,2026)"),
            Some(v("1.2.13"))
        );
        assert_eq!(
            Version::find_in("Keepalived v2.2.7 (01/16,2022)\n\nCopyright(C) 2001-2022"),
            Some(v("2.2.7"))
        );
        assert_eq!(Version::find_in("vrrpd 0.1.0"), Some(v("0.1.0")));
        assert_eq!(
            Version::find_in("vrrpd version 8.4.4\nCopyright 1996-2005"),
            Some(v("8.4.4"))
        );
        assert_eq!(Version::find_in("no version here"), None);
    }

    #[test]
    fn selectors_parse_and_match() {
        let s = Selector::parse("keepalived<1.4").unwrap();
        assert!(s.matches("keepalived", Some(&v("1.2.13"))));
        assert!(!s.matches("keepalived", Some(&v("2.2.7"))));
        assert!(!s.matches("keepalived", None), "bounds need a known version");
        assert!(!s.matches("vrrpd", Some(&v("1.0"))));
        let s = Selector::parse("keepalived>=1.2,<1.3").unwrap();
        assert_eq!(s.bounds.len(), 2);
        assert!(s.matches("keepalived", Some(&v("1.2.13"))));
        assert!(!s.matches("keepalived", Some(&v("1.3.0"))));
        assert!(Selector::parse("keepalived").unwrap().matches("keepalived", None));
        assert_eq!(s.to_string(), "keepalived>=1.2,<1.3");
    }

    #[test]
    fn bad_selectors_say_why() {
        assert!(Selector::parse("<1.4").unwrap_err().contains("names no daemon"));
        assert!(Selector::parse("keepalived<one")
            .unwrap_err()
            .contains("not a version"));
        assert!(Selector::parse("keepalived>=1,~2")
            .unwrap_err()
            .contains("must start with"));
    }

    fn keys(k: &[&str]) -> Vec<String> {
        k.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_most_specific_selector_wins() {
        let k = keys(&[
            "keepalived",
            "keepalived<1.4",
            "keepalived<1.3",
            "keepalived>=2",
            "vrrpd",
        ]);
        let pick = |ver: Option<&str>| {
            most_specific(&k, "keepalived", ver.map(v).as_ref()).map(str::to_string)
        };
        // 1.2.13: both upper bounds match; the tighter one (<1.3) wins over <1.4 and
        // over the bare name.
        assert_eq!(pick(Some("1.2.13")).as_deref(), Some("keepalived<1.3"));
        assert_eq!(pick(Some("1.3.5")).as_deref(), Some("keepalived<1.4"));
        assert_eq!(pick(Some("2.2.7")).as_deref(), Some("keepalived>=2"));
        // 1.4 to 2: only the bare name applies.
        assert_eq!(pick(Some("1.4.5")).as_deref(), Some("keepalived"));
        // Unknown version: only the bare name can match.
        assert_eq!(pick(None).as_deref(), Some("keepalived"));
        assert_eq!(
            most_specific(&k, "vrrpd", Some(&v("0.1"))),
            Some("vrrpd")
        );
        assert_eq!(most_specific(&k, "frr", None), None);
    }

    #[test]
    fn exact_and_two_ended_beat_one_ended() {
        let k = keys(&["keepalived<1.4", "keepalived>=1.2,<1.3", "keepalived=1.2.13"]);
        assert_eq!(
            most_specific(&k, "keepalived", Some(&v("1.2.13"))),
            Some("keepalived=1.2.13")
        );
        assert_eq!(
            most_specific(&k, "keepalived", Some(&v("1.2.12"))),
            Some("keepalived>=1.2,<1.3")
        );
    }
}
