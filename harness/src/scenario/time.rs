//! Durations (`500ms`, `1.5s`) and timer expressions (`2 master_down`,
//! `master_down + 1s`) as scenario files write them, and the VRRP timers they refer to.

use std::fmt;
use std::time::Duration;

use vrrpd::instance::{master_down_interval, skew_time};

use super::NodeVrrp;

/// Extra time the `auto` wait deadline allows on top of three `Master_Down_Interval`s.
pub const AUTO_SLACK: Duration = Duration::from_secs(2);

/// The VRRP timers a scenario's expressions refer to.
///
/// For several nodes each timer is the largest over them: a deadline derived from it is
/// long enough whichever node the condition ends up depending on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// The advertisement interval.
    pub advert_interval: Duration,
    /// `Skew_Time` for the node's priority and interval.
    pub skew_time: Duration,
    /// `Master_Down_Interval` for the node's priority and interval.
    pub master_down: Duration,
}

impl Timers {
    /// The timers of one node's settings.
    pub fn of(node: &NodeVrrp) -> Timers {
        Timers {
            advert_interval: node.advert_interval,
            skew_time: skew_time(node.version, node.priority, node.advert_interval),
            master_down: master_down_interval(node.version, node.priority, node.advert_interval),
        }
    }

    /// The largest of each timer over `nodes` (all zero for no nodes).
    pub fn max_over(nodes: &[NodeVrrp]) -> Timers {
        nodes.iter().map(Timers::of).fold(
            Timers {
                advert_interval: Duration::ZERO,
                skew_time: Duration::ZERO,
                master_down: Duration::ZERO,
            },
            |a, b| Timers {
                advert_interval: a.advert_interval.max(b.advert_interval),
                skew_time: a.skew_time.max(b.skew_time),
                master_down: a.master_down.max(b.master_down),
            },
        )
    }

    /// The deadline of a wait step written `within = "auto"`: three
    /// `Master_Down_Interval`s plus [`AUTO_SLACK`].
    pub fn auto_deadline(&self) -> Duration {
        self.master_down.saturating_mul(3) + AUTO_SLACK
    }

    /// The value of a named timer.
    pub fn get(&self, timer: Timer) -> Duration {
        match timer {
            Timer::AdvertInterval => self.advert_interval,
            Timer::SkewTime => self.skew_time,
            Timer::MasterDown => self.master_down,
        }
    }
}

/// A timer a scenario can name in an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// `advert_interval`.
    AdvertInterval,
    /// `skew_time`.
    SkewTime,
    /// `master_down` (`Master_Down_Interval`).
    MasterDown,
}

impl Timer {
    /// Every timer, with the name files use.
    pub const ALL: [(&'static str, Timer); 3] = [
        ("advert_interval", Timer::AdvertInterval),
        ("skew_time", Timer::SkewTime),
        ("master_down", Timer::MasterDown),
    ];

    fn parse(s: &str) -> Option<Timer> {
        Timer::ALL.iter().find(|(n, _)| *n == s).map(|(_, t)| *t)
    }
}

impl fmt::Display for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = Timer::ALL
            .iter()
            .find(|(_, t)| t == self)
            .map(|(n, _)| *n)
            .unwrap_or("?");
        f.write_str(name)
    }
}

/// A decimal number with up to 9 fractional digits, as billionths.
fn parse_decimal_nanos(s: &str) -> Option<u128> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) || frac.len() > 9 {
        return None;
    }
    if s.contains('.') && frac.is_empty() {
        return None;
    }
    let int: u128 = int.parse().ok()?;
    let mut frac_n: u128 = 0;
    for (i, b) in frac.bytes().enumerate() {
        frac_n += u128::from(b - b'0') * 10u128.pow(8 - i as u32);
    }
    int.checked_mul(1_000_000_000)?.checked_add(frac_n)
}

fn nanos_to_duration(n: u128) -> Option<Duration> {
    let secs = u64::try_from(n / 1_000_000_000).ok()?;
    Some(Duration::new(secs, (n % 1_000_000_000) as u32))
}

/// Parses a duration: a non-negative integer or decimal followed by `ms` or `s`
/// (`500ms`, `3s`, `1.5s`, `0s`), at most a day.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || {
        format!("bad duration {s:?}: expected a number with unit ms or s, like \"500ms\" or \"3s\"")
    };
    let t = s.trim();
    let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1u128)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1000u128)
    } else {
        return Err(bad());
    };
    let nanos = parse_decimal_nanos(num.trim_end()).ok_or_else(bad)?;
    // `nanos` is the number times 1e9; the unit turns it into milliseconds or seconds.
    let total = nanos.checked_mul(scale).ok_or_else(bad)? / 1000;
    if total > 86_400 * 1_000_000_000 {
        return Err(format!("duration {s:?} is longer than a day"));
    }
    nanos_to_duration(total).ok_or_else(bad)
}

/// The longest time a scenario may name: a day.
pub const MAX_TIME: Duration = Duration::from_secs(86_400);

/// One term of a timer expression.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Term {
    Fixed(Duration),
    Scaled(u128, Timer),
}

/// A sum of durations and multiples of timers: `3s`, `2 master_down`,
/// `master_down + 1s`, `1s + 1.5 skew_time`.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeExpr {
    terms: Vec<Term>,
}

impl TimeExpr {
    /// Parses an expression; the error says what is wrong with it.
    pub fn parse(s: &str) -> Result<TimeExpr, String> {
        let mut terms = Vec::new();
        for part in s.split('+') {
            let part = part.trim();
            if part.is_empty() {
                return Err(format!("bad time expression {s:?}: empty term"));
            }
            let words: Vec<&str> = part.split_whitespace().collect();
            let term = match words.as_slice() {
                [one] => match Timer::parse(one) {
                    Some(t) => Term::Scaled(1_000_000_000, t),
                    None if one.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') => {
                        return Err(unknown_timer(one))
                    }
                    None => Term::Fixed(parse_duration(one)?),
                },
                [n, name] => {
                    let k = parse_decimal_nanos(n).ok_or_else(|| {
                        format!("bad multiplier {n:?} in {s:?}: expected a number like 2 or 1.5")
                    })?;
                    match Timer::parse(name) {
                        Some(t) => Term::Scaled(k, t),
                        None if parse_duration(&format!("{n}{name}")).is_ok() => {
                            Term::Fixed(parse_duration(&format!("{n}{name}"))?)
                        }
                        None => return Err(unknown_timer(name)),
                    }
                }
                _ => {
                    return Err(format!(
                        "bad time expression {s:?}: expected a duration or \"<number> <timer>\", joined by +"
                    ))
                }
            };
            terms.push(term);
        }
        Ok(TimeExpr { terms })
    }

    /// Whether the expression names any timer.
    pub fn uses_timers(&self) -> bool {
        self.terms.iter().any(|t| matches!(t, Term::Scaled(..)))
    }

    /// The value for these timers, refused when longer than a day — the same cap as a
    /// plain duration, so `99999999999999999999 master_down` cannot hold forever.
    pub fn eval_capped(&self, timers: &Timers) -> Result<Duration, String> {
        let d = self.eval(timers);
        if d > MAX_TIME {
            return Err(format!(
                "this time expression is {} here, longer than a day",
                if d >= MAX_TIME * 1000 {
                    "practically forever".to_string()
                } else {
                    fmt_duration(d)
                }
            ));
        }
        Ok(d)
    }

    /// The value for these timers (saturating at about a day's worth of nanoseconds).
    pub fn eval(&self, timers: &Timers) -> Duration {
        let mut total = Duration::ZERO;
        for t in &self.terms {
            let d = match *t {
                Term::Fixed(d) => d,
                Term::Scaled(k, timer) => {
                    let n = timers.get(timer).as_nanos().saturating_mul(k) / 1_000_000_000;
                    nanos_to_duration(n).unwrap_or(Duration::MAX)
                }
            };
            total = total.saturating_add(d);
        }
        total
    }
}

fn unknown_timer(name: &str) -> String {
    format!("unknown timer {name:?} (expected advert_interval, skew_time or master_down)")
}

/// Writes a duration compactly: `1s`, `3.609s`, `250ms`.
pub fn fmt_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d < Duration::from_secs(1) && Duration::from_millis(d.subsec_millis().into()) == d {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.3}s", d.as_secs_f64())
    }
}
