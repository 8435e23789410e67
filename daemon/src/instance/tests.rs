//! Tests of the instance state machine: timer arithmetic, every RFC 5798 §6.4 transition
//! with its timer values, and snapshot-pinned action sequences of scripted scenarios.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use rstest::rstest;

use super::*;

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const fn ns(n: u64) -> Duration {
    Duration::from_nanos(n)
}

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
}

/// Node .11 at `priority`, v3, 1 s, defaults otherwise.
fn params(priority: u8) -> Params {
    Params {
        priority,
        ..Params::new(51, ip(11))
    }
}

fn advert(src: u8, priority: u8, interval: Duration) -> Event {
    Event::Advert(Advert {
        src: ip(src),
        priority,
        max_advert_interval: interval,
        addrs_match: true,
    })
}

fn drain(inst: &mut Instance) -> Vec<Action> {
    std::iter::from_fn(|| inst.poll_action()).collect()
}

fn started(p: Params, t0: Instant) -> Instance {
    let mut inst = Instance::new(p);
    inst.handle_event(t0, Event::Startup);
    drain(&mut inst);
    inst
}

/// An instance that became Master through its down timer at `t0 + MDI`; returns that instant.
fn master_via_timeout(p: Params, t0: Instant) -> (Instance, Instant) {
    let mut inst = started(p, t0);
    let at = inst.poll_timeout().expect("down timer armed");
    inst.handle_timeout(at);
    assert_eq!(inst.state(), State::Master);
    drain(&mut inst);
    (inst, at)
}

fn gratuitous(n: usize) -> impl Iterator<Item = Action> {
    std::iter::repeat_n(Action::SendGratuitous, n)
}

// ---------------------------------------------------------------------------------------
// Timer arithmetic
// ---------------------------------------------------------------------------------------

#[rstest]
// v3: Skew = (256 − p) × MAI / 256, MDI = 3 × MAI + Skew.
#[case(ProtoVersion::V3, 100, ms(1000), ns(609_375_000), ns(3_609_375_000))]
#[case(ProtoVersion::V3, 255, ms(1000), ns(3_906_250), ns(3_003_906_250))]
#[case(ProtoVersion::V3, 254, ms(1000), ns(7_812_500), ns(3_007_812_500))]
#[case(ProtoVersion::V3, 1, ms(1000), ns(996_093_750), ns(3_996_093_750))]
#[case(ProtoVersion::V3, 100, ms(100), ns(60_937_500), ns(360_937_500))]
#[case(ProtoVersion::V3, 150, ms(2000), ns(828_125_000), ns(6_828_125_000))]
#[case(
    ProtoVersion::V3,
    200,
    ms(40_950),
    ns(8_957_812_500),
    ns(131_807_812_500)
)]
#[case(ProtoVersion::V3, 254, ms(10), ns(78_125), ns(30_078_125))]
// v2: Skew = (256 − p) / 256 s whatever the interval, MDI = 3 × interval + Skew.
#[case(ProtoVersion::V2, 100, ms(1000), ns(609_375_000), ns(3_609_375_000))]
#[case(ProtoVersion::V2, 100, ms(3000), ns(609_375_000), ns(9_609_375_000))]
#[case(ProtoVersion::V2, 200, ms(2000), ns(218_750_000), ns(6_218_750_000))]
#[case(ProtoVersion::V2, 255, ms(1000), ns(3_906_250), ns(3_003_906_250))]
fn rfc_timer_values(
    #[case] version: ProtoVersion,
    #[case] priority: u8,
    #[case] interval: Duration,
    #[case] skew: Duration,
    #[case] mdi: Duration,
) {
    assert_eq!(skew_time(version, priority, interval), skew);
    assert_eq!(master_down_interval(version, priority, interval), mdi);
}

const V2: ProtoVersion = ProtoVersion::V2;
const V3: ProtoVersion = ProtoVersion::V3;

#[rstest]
#[case(V3, 150, ms(10), 1)]
#[case(V3, 150, ms(100), 1)]
#[case(V3, 150, ms(340), 1)]
#[case(V3, 150, ms(350), 1)]
#[case(V3, 150, ms(780), 2)]
#[case(V3, 150, ms(900), 2)]
#[case(V3, 150, ms(1000), 3)]
#[case(V2, 150, ms(1000), 3)]
#[case(V2, 100, ms(1000), 3)]
// Priority 254: a peer of 254 takes over after 3.008 s; 3 s would be too long.
#[case(V2, 254, ms(1000), 2)]
#[case(V3, 254, ms(1000), 2)]
#[case(V3, 150, ms(2000), 6)]
#[case(V3, 100, ms(10_000), 35)]
#[case(V3, 100, ms(40_950), 147)]
#[case(V2, 100, ms(255_000), 765)]
fn lease_table(
    #[case] version: ProtoVersion,
    #[case] priority: u8,
    #[case] interval: Duration,
    #[case] secs: u64,
) {
    assert_eq!(
        lease_for(version, priority, interval),
        Duration::from_secs(secs)
    );
}

#[rstest]
#[case(V3, 150, ms(10), ms(1526))]
#[case(V3, 150, ms(100), ms(1219))]
#[case(V3, 150, ms(340), ms(399))]
// From 350 ms on (priority 150) a 1 s lease ends within the budget: no overlap.
#[case(V3, 150, ms(350), Duration::ZERO)]
#[case(V3, 150, ms(1000), Duration::ZERO)]
#[case(V2, 254, ms(1000), Duration::ZERO)]
fn lease_overlap_table(
    #[case] version: ProtoVersion,
    #[case] priority: u8,
    #[case] interval: Duration,
    #[case] bound: Duration,
) {
    let b = lease_overlap_bound(version, priority, interval);
    assert!(b.abs_diff(bound) < ms(1), "{b:?}");
}

/// Every v3 interval and a spread of priorities: whole seconds, at least 1 s, never
/// lapsing between refreshes even with jitter and early removal; wherever a lease fits
/// its budget it ends, with the kernel's lateness and the margin, before a peer of the
/// same priority takes over, and one more second would not.
#[test]
fn lease_invariants_every_v3_interval() {
    for priority in [1u8, 100, 150, 254, 255] {
        for cs in 1..=4095u64 {
            let adv = ms(cs * 10);
            let lease = lease_for(V3, priority, adv);
            let mdi = master_down_interval(V3, priority, adv);
            assert_eq!(lease.subsec_nanos(), 0, "{adv:?}");
            assert!(lease >= Duration::from_secs(1), "{adv:?}");
            assert!(
                lease >= adv + ADVERT_JITTER + KERNEL_EXPIRY_EARLY,
                "lease lapses at {adv:?}"
            );
            let budget = lease_budget(V3, priority, adv, KERNEL_EXPIRY_LATE);
            if lease <= budget {
                assert!(lease + KERNEL_EXPIRY_LATE + LEASE_MARGIN <= mdi, "{adv:?}");
                assert!(lease + Duration::from_secs(1) > budget, "{adv:?}");
                assert_eq!(lease_overlap_bound(V3, priority, adv), Duration::ZERO);
            } else {
                assert_eq!(lease, lease_floor(adv), "{adv:?}");
                assert!(adv < ms(400), "{adv:?} {priority}");
            }
            if adv >= ms(900) {
                assert!(lease <= budget, "{adv:?} {priority}");
            }
            assert!(
                lease_overlap_bound(V3, priority, adv) <= lease + KERNEL_EXPIRY_LATE_ROUNDED,
                "{adv:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Params
// ---------------------------------------------------------------------------------------

#[rstest]
#[case(Params { vrid: 0, ..params(100) }, Err(ParamsError::Vrid))]
#[case(params(0), Err(ParamsError::Priority))]
#[case(params(255), Ok(()))]
#[case(Params { advert_interval: ms(15), ..params(100) }, Err(ParamsError::AdvertInterval { version: ProtoVersion::V3, interval: ms(15) }))]
#[case(Params { advert_interval: ms(40_960), ..params(100) }, Err(ParamsError::AdvertInterval { version: ProtoVersion::V3, interval: ms(40_960) }))]
#[case(Params { advert_interval: ms(10), ..params(100) }, Ok(()))]
#[case(Params { version: ProtoVersion::V2, advert_interval: ms(1500), ..params(100) }, Err(ParamsError::AdvertInterval { version: ProtoVersion::V2, interval: ms(1500) }))]
#[case(Params { version: ProtoVersion::V2, advert_interval: ms(0), ..params(100) }, Err(ParamsError::AdvertInterval { version: ProtoVersion::V2, interval: ms(0) }))]
#[case(Params { version: ProtoVersion::V2, advert_interval: ms(3000), ..params(100) }, Ok(()))]
#[case(Params { garp_refresh: Some(Duration::ZERO), ..params(100) }, Err(ParamsError::GarpRefresh))]
fn params_validation(#[case] p: Params, #[case] expected: Result<(), ParamsError>) {
    assert_eq!(p.validate(), expected);
}

#[test]
fn state_display_matches_keepalived() {
    let names: Vec<String> = [
        State::Initialize,
        State::Backup,
        State::Master,
        State::Fault,
        State::Stopped,
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    assert_eq!(names, ["INIT", "BACKUP", "MASTER", "FAULT", "STOP"]);
}

// ---------------------------------------------------------------------------------------
// §6.4.1 Initialize
// ---------------------------------------------------------------------------------------

#[rstest]
#[case(ProtoVersion::V3, 100, ms(1000))]
#[case(ProtoVersion::V3, 1, ms(1000))]
#[case(ProtoVersion::V3, 254, ms(100))]
#[case(ProtoVersion::V3, 150, ms(2500))]
#[case(ProtoVersion::V2, 100, ms(1000))]
#[case(ProtoVersion::V2, 50, ms(3000))]
fn startup_non_owner_goes_backup_with_master_down_interval(
    #[case] version: ProtoVersion,
    #[case] priority: u8,
    #[case] interval: Duration,
) {
    let t0 = Instant::now();
    let mut inst = Instance::new(Params {
        version,
        advert_interval: interval,
        ..params(priority)
    });
    assert_eq!(inst.state(), State::Initialize);
    assert_eq!(inst.poll_timeout(), None);
    inst.handle_event(t0, Event::Startup);
    assert_eq!(
        drain(&mut inst),
        [Action::StateChange {
            from: State::Initialize,
            to: State::Backup
        }]
    );
    let mdi = master_down_interval(version, priority, interval);
    assert_eq!(inst.poll_timeout(), Some(t0 + mdi));
    assert_eq!(inst.master_down_interval(), mdi);
    // Nothing fires a nanosecond early.
    inst.handle_timeout(t0 + mdi - ns(1));
    assert_eq!(drain(&mut inst), []);
    assert_eq!(inst.state(), State::Backup);
}

#[rstest]
#[case::owner(params(255))]
#[case::hint(Params { initial_master: true, ..params(100) })]
fn startup_owner_or_hint_goes_master_at_once(#[case] p: Params) {
    let t0 = Instant::now();
    let prio = p.priority;
    let mut inst = Instance::new(p);
    inst.handle_event(t0, Event::Startup);
    let expected: Vec<Action> = [
        Action::StateChange {
            from: State::Initialize,
            to: State::Master,
        },
        Action::AddVips {
            lease: Some(lease_for(ProtoVersion::V3, prio, ms(1000))),
        },
        Action::SendAdvert { priority: prio },
    ]
    .into_iter()
    .chain(gratuitous(5))
    .collect();
    assert_eq!(drain(&mut inst), expected);
    assert_eq!(inst.state(), State::Master);
    assert_eq!(inst.master(), Some(ip(11)));
    assert_eq!(inst.poll_timeout(), Some(t0 + ms(1000)));
}

#[test]
fn startup_is_ignored_once_running() {
    let t0 = Instant::now();
    let mut inst = started(params(100), t0);
    inst.handle_event(t0 + ms(100), Event::Startup);
    assert_eq!(drain(&mut inst), []);
    assert_eq!(inst.poll_timeout(), Some(t0 + ns(3_609_375_000)));
}

// ---------------------------------------------------------------------------------------
// §6.4.2 Backup
// ---------------------------------------------------------------------------------------

#[rstest]
#[case(100, ms(1000))]
#[case(200, ms(1000))]
#[case(1, ms(500))]
#[case(254, ms(40_950))]
fn backup_down_timer_expiry_becomes_master(#[case] priority: u8, #[case] interval: Duration) {
    let t0 = Instant::now();
    let mut inst = started(
        Params {
            advert_interval: interval,
            ..params(priority)
        },
        t0,
    );
    let at = t0 + master_down_interval(ProtoVersion::V3, priority, interval);
    assert_eq!(inst.poll_timeout(), Some(at));
    inst.handle_timeout(at);
    let actions = drain(&mut inst);
    assert_eq!(
        actions[..3],
        [
            Action::StateChange {
                from: State::Backup,
                to: State::Master
            },
            Action::AddVips {
                lease: Some(lease_for(ProtoVersion::V3, priority, interval))
            },
            Action::SendAdvert { priority },
        ]
    );
    assert_eq!(inst.poll_timeout(), Some(at + interval));
    assert_eq!(inst.counters().master_down_expired, 1);
    assert_eq!(inst.counters().became_master, 1);
}

#[rstest]
#[case(100, ms(1000), ns(609_375_000))]
#[case(200, ms(1000), ns(218_750_000))]
#[case(254, ms(1000), ns(7_812_500))]
#[case(100, ms(2000), ns(1_218_750_000))]
fn backup_priority_zero_sets_skew_time(
    #[case] priority: u8,
    #[case] master_interval: Duration,
    #[case] skew: Duration,
) {
    let t0 = Instant::now();
    let mut inst = started(params(priority), t0);
    // Learn the master's interval first (v3), then it stops.
    inst.handle_event(t0 + ms(500), advert(12, 255, master_interval));
    let t = t0 + ms(1200);
    inst.handle_event(t, advert(12, 0, master_interval));
    assert_eq!(drain(&mut inst), []);
    assert_eq!(inst.poll_timeout(), Some(t + skew));
    assert_eq!(inst.counters().priority_zero_received, 1);
    inst.handle_timeout(t + skew);
    assert_eq!(inst.state(), State::Master);
}

#[rstest]
// Higher and equal priority always reset the timer, with the learnt interval (v3).
#[case::higher(100, true, 200, ms(1000), true)]
#[case::equal(100, true, 100, ms(1000), true)]
#[case::higher_slow_master(100, true, 200, ms(2000), true)]
#[case::higher_fast_master(50, true, 51, ms(100), true)]
// Lower priority: preempt off resets, preempt on discards.
#[case::lower_no_preempt(100, false, 50, ms(1000), true)]
#[case::lower_no_preempt_slow(100, false, 50, ms(3000), true)]
#[case::lower_preempt(100, true, 50, ms(1000), false)]
#[case::lower_preempt_fast(200, true, 1, ms(10), false)]
fn backup_advert_resets_or_is_discarded(
    #[case] ours: u8,
    #[case] preempt: bool,
    #[case] theirs: u8,
    #[case] their_interval: Duration,
    #[case] resets: bool,
) {
    let t0 = Instant::now();
    let mut inst = started(
        Params {
            preempt,
            ..params(ours)
        },
        t0,
    );
    let armed = inst.poll_timeout();
    let t = t0 + ms(700);
    inst.handle_event(t, advert(12, theirs, their_interval));
    assert_eq!(drain(&mut inst), []);
    assert_eq!(inst.state(), State::Backup);
    if resets {
        let mdi = master_down_interval(ProtoVersion::V3, ours, their_interval);
        assert_eq!(inst.poll_timeout(), Some(t + mdi));
        assert_eq!(inst.master_adver_interval(), their_interval);
        assert_eq!(inst.master(), Some(ip(12)));
        assert_eq!(inst.counters().adverts_discarded, 0);
    } else {
        assert_eq!(inst.poll_timeout(), armed);
        assert_eq!(inst.master(), None);
        assert_eq!(inst.counters().adverts_discarded, 1);
    }
}

#[test]
fn v2_backup_uses_configured_interval_and_drops_mismatch() {
    let t0 = Instant::now();
    let mut inst = started(
        Params {
            version: ProtoVersion::V2,
            advert_interval: ms(2000),
            ..params(100)
        },
        t0,
    );
    let armed = inst.poll_timeout();
    inst.handle_event(t0 + ms(100), advert(12, 200, ms(1000)));
    assert_eq!(inst.poll_timeout(), armed);
    assert_eq!(inst.counters().interval_mismatch, 1);
    let t = t0 + ms(200);
    inst.handle_event(t, advert(12, 200, ms(2000)));
    assert_eq!(inst.poll_timeout(), Some(t + ms(6000) + ns(609_375_000)));
}

#[rstest]
#[case::non_owner(200, false)]
#[case::owner(255, true)]
fn address_list_mismatch_dropped_unless_owner(#[case] theirs: u8, #[case] accepted: bool) {
    let t0 = Instant::now();
    let mut inst = started(params(100), t0);
    let armed = inst.poll_timeout();
    let t = t0 + ms(100);
    inst.handle_event(
        t,
        Event::Advert(Advert {
            src: ip(12),
            priority: theirs,
            max_advert_interval: ms(1000),
            addrs_match: false,
        }),
    );
    if accepted {
        assert_eq!(inst.poll_timeout(), Some(t + ns(3_609_375_000)));
        assert_eq!(inst.counters().addr_list_mismatch, 0);
    } else {
        assert_eq!(inst.poll_timeout(), armed);
        assert_eq!(inst.counters().addr_list_mismatch, 1);
    }
}

#[test]
fn preempt_delay_honours_lower_master_until_delay_elapsed() {
    let t0 = Instant::now();
    let mut inst = started(
        Params {
            preempt_delay: ms(5000),
            ..params(200)
        },
        t0,
    );
    // Before the delay: a lower-priority master's adverts keep us Backup.
    for k in 1..=4u64 {
        let t = t0 + ms(1000 * k);
        inst.handle_event(t, advert(12, 100, ms(1000)));
        assert_eq!(
            inst.poll_timeout(),
            Some(t + master_down_interval(ProtoVersion::V3, 200, ms(1000)))
        );
    }
    // From the delay on they are discarded, the timer runs out.
    let armed = inst.poll_timeout();
    inst.handle_event(t0 + ms(5000), advert(12, 100, ms(1000)));
    assert_eq!(inst.poll_timeout(), armed);
    assert_eq!(inst.counters().adverts_discarded, 1);
}

#[rstest]
#[case::backup(false)]
#[case::fault(true)]
fn vip_found_while_not_master_is_removed(#[case] fault: bool) {
    let t0 = Instant::now();
    let mut inst = started(params(100), t0);
    if fault {
        inst.handle_event(t0, Event::InterfaceDown);
        drain(&mut inst);
    }
    inst.handle_event(t0 + ms(1), Event::VipFoundWhileBackup);
    assert_eq!(drain(&mut inst), [Action::RemoveVips]);
    assert_eq!(inst.counters().vips_removed_while_backup, 1);
}

/// Explore schedule 91 (scenarios/explore/garp-after-addr-del.toml): a VIP the operator
/// deleted on the Master and the refresh re-added is announced again; a non-Master sends
/// nothing.
#[test]
fn vips_readded_by_a_refresh_are_announced_again() {
    let t0 = Instant::now();
    let mut inst = started(params(255), t0);
    assert_eq!(inst.state(), State::Master);
    let before = inst.counters().gratuitous_sent;
    inst.handle_event(t0 + ms(1), Event::VipsReadded);
    assert_eq!(drain(&mut inst), [Action::SendGratuitous]);
    assert_eq!(inst.counters().gratuitous_sent, before + 1);

    let mut backup = started(params(100), t0);
    backup.handle_event(t0 + ms(1), Event::VipsReadded);
    assert_eq!(drain(&mut backup), []);
}

#[test]
fn vip_found_while_master_is_ours() {
    let t0 = Instant::now();
    let mut inst = started(params(255), t0);
    inst.handle_event(t0, Event::VipFoundWhileBackup);
    assert_eq!(drain(&mut inst), []);
    assert_eq!(inst.counters().vips_removed_while_backup, 0);
}

// ---------------------------------------------------------------------------------------
// §6.4.3 Master
// ---------------------------------------------------------------------------------------

#[rstest]
#[case(ms(1000))]
#[case(ms(100))]
#[case(ms(3000))]
fn master_adverts_every_interval_with_refresh(#[case] interval: Duration) {
    let t0 = Instant::now();
    let mut inst = started(
        Params {
            advert_interval: interval,
            garp_repeat: 0,
            ..params(255)
        },
        t0,
    );
    let lease = lease_for(ProtoVersion::V3, 255, interval);
    for k in 1..=3u32 {
        let at = t0 + interval * k;
        assert_eq!(inst.poll_timeout(), Some(at));
        inst.handle_timeout(at);
        assert_eq!(
            drain(&mut inst),
            [
                Action::SendAdvert { priority: 255 },
                Action::RefreshVips { lease }
            ]
        );
    }
    assert_eq!(inst.counters().adverts_sent, 4);
    assert_eq!(inst.counters().vip_refreshes, 3);
}

#[test]
fn master_late_timer_keeps_cadence_without_bursting() {
    let t0 = Instant::now();
    let mut inst = started(params(255), t0);
    drain(&mut inst);
    // 300 ms late: next stays on the 1 s grid.
    inst.handle_timeout(t0 + ms(1300));
    assert_eq!(inst.poll_timeout(), Some(t0 + ms(2000)));
    // 2.5 s late: one advert, next one interval later.
    inst.handle_timeout(t0 + ms(4500));
    assert_eq!(inst.poll_timeout(), Some(t0 + ms(5500)));
    assert_eq!(inst.counters().adverts_sent, 3);
}

#[test]
fn master_advert_within_slack_is_sent_early_and_restarts_the_cadence() {
    let t0 = Instant::now();
    let mut inst = started(
        Params {
            advert_interval: ms(100),
            ..params(255)
        },
        t0,
    );
    drain(&mut inst);
    assert_eq!(inst.next_advert(), Some(t0 + ms(100)));
    // 3 ms before the advert: outside a 2 ms slack, nothing happens.
    inst.handle_timeout_coalesced(t0 + ms(97), ms(2));
    assert!(drain(&mut inst).is_empty());
    // 1.5 ms before: sent now, the next one interval from now.
    let early = t0 + ms(98) + ns(500_000);
    inst.handle_timeout_coalesced(early, ms(2));
    assert_eq!(
        drain(&mut inst).first(),
        Some(&Action::SendAdvert { priority: 255 })
    );
    assert_eq!(inst.next_advert(), Some(early + ms(100)));
    assert_eq!(inst.counters().adverts_sent, 2);
}

#[test]
fn master_down_timer_has_no_slack() {
    let t0 = Instant::now();
    let mut inst = started(params(100), t0);
    let at = inst.poll_timeout().expect("down timer armed");
    // A slack of a whole second does not fire Master_Down_Timer even 1 ms early.
    inst.handle_timeout_coalesced(at - ms(1), ms(1000));
    assert_eq!(inst.state(), State::Backup);
    assert!(drain(&mut inst).is_empty());
    inst.handle_timeout_coalesced(at, ms(1000));
    assert_eq!(inst.state(), State::Master);
}

#[test]
fn master_without_lease_adds_permanent_vips_and_never_refreshes() {
    let t0 = Instant::now();
    let mut inst = Instance::new(Params {
        lease: false,
        garp_repeat: 1,
        ..params(255)
    });
    inst.handle_event(t0, Event::Startup);
    assert_eq!(
        drain(&mut inst)[1..],
        [
            Action::AddVips { lease: None },
            Action::SendAdvert { priority: 255 },
            Action::SendGratuitous
        ]
    );
    inst.handle_timeout(t0 + ms(1000));
    assert_eq!(drain(&mut inst), [Action::SendAdvert { priority: 255 }]);
}

#[rstest]
#[case(100, ms(1000))]
#[case(200, ms(500))]
fn master_priority_zero_sends_at_once_and_resets_timer(
    #[case] ours: u8,
    #[case] interval: Duration,
) {
    let t0 = Instant::now();
    let (mut inst, m) = master_via_timeout(
        Params {
            advert_interval: interval,
            ..params(ours)
        },
        t0,
    );
    let t = m + interval / 2;
    inst.handle_event(t, advert(12, 0, interval));
    assert_eq!(
        drain(&mut inst),
        [
            Action::SendAdvert { priority: ours },
            Action::RefreshVips {
                lease: lease_for(ProtoVersion::V3, ours, interval)
            }
        ]
    );
    assert_eq!(inst.state(), State::Master);
    assert_eq!(inst.poll_timeout(), Some(t + interval));
}

#[rstest]
#[case::higher_priority(100, 101, 5, ms(1000))]
#[case::higher_priority_slow(100, 200, 5, ms(2000))]
#[case::equal_priority_higher_addr(100, 100, 12, ms(1000))]
#[case::owner_tie_higher_addr(255, 255, 12, ms(1000))]
fn master_yields_to_better_advert(
    #[case] ours: u8,
    #[case] theirs: u8,
    #[case] src: u8,
    #[case] their_interval: Duration,
) {
    let t0 = Instant::now();
    let mut inst = started(params(ours), t0);
    if inst.state() != State::Master {
        let at = inst.poll_timeout().expect("down timer");
        inst.handle_timeout(at);
        drain(&mut inst);
    }
    let t = t0 + ms(10_000);
    inst.handle_event(t, advert(src, theirs, their_interval));
    assert_eq!(
        drain(&mut inst),
        [
            Action::RemoveVips,
            Action::StateChange {
                from: State::Master,
                to: State::Backup
            }
        ]
    );
    assert_eq!(inst.master(), Some(ip(src)));
    assert_eq!(
        inst.poll_timeout(),
        Some(t + master_down_interval(ProtoVersion::V3, ours, their_interval))
    );
}

#[rstest]
#[case::lower_priority(100, 99, 200)]
#[case::equal_priority_lower_addr(100, 100, 5)]
#[case::owner_sees_lower(255, 254, 200)]
fn master_discards_worse_advert(#[case] ours: u8, #[case] theirs: u8, #[case] src: u8) {
    let t0 = Instant::now();
    let (mut inst, m) = master_via_timeout(
        Params {
            initial_master: true,
            ..params(ours)
        },
        t0,
    );
    let armed = inst.poll_timeout();
    inst.handle_event(m + ms(300), advert(src, theirs, ms(1000)));
    assert_eq!(drain(&mut inst), []);
    assert_eq!(inst.state(), State::Master);
    assert_eq!(inst.poll_timeout(), armed);
    assert_eq!(inst.counters().adverts_discarded, 1);
}

#[test]
fn gratuitous_rounds_spaced_by_delay_and_refreshed() {
    let t0 = Instant::now();
    let mut inst = Instance::new(Params {
        garp_repeat: 3,
        garp_delay: ms(200),
        garp_refresh: Some(ms(2500)),
        lease: false,
        ..params(255)
    });
    inst.handle_event(t0, Event::Startup);
    assert_eq!(
        drain(&mut inst)
            .iter()
            .filter(|a| **a == Action::SendGratuitous)
            .count(),
        1
    );
    let mut garps = Vec::new();
    while let Some(at) = inst.poll_timeout().filter(|&at| at <= t0 + ms(5100)) {
        inst.handle_timeout(at);
        if drain(&mut inst).contains(&Action::SendGratuitous) {
            garps.push(at - t0);
        }
    }
    assert_eq!(garps, [ms(200), ms(400), ms(2500), ms(5000)]);
    assert_eq!(inst.counters().gratuitous_sent, 5);
}

// ---------------------------------------------------------------------------------------
// Shutdown, Fault, misc
// ---------------------------------------------------------------------------------------

#[test]
fn shutdown_from_master_sends_priority_zero_then_removes() {
    let t0 = Instant::now();
    let mut inst = started(params(255), t0);
    inst.handle_event(t0 + ms(10), Event::Shutdown);
    assert_eq!(
        drain(&mut inst),
        [
            Action::SendAdvert { priority: 0 },
            Action::RemoveVips,
            Action::StateChange {
                from: State::Master,
                to: State::Stopped
            }
        ]
    );
    assert_eq!(inst.poll_timeout(), None);
    assert_eq!(inst.counters().priority_zero_sent, 1);
}

#[rstest]
#[case::initialize(false)]
#[case::backup(true)]
fn shutdown_when_not_master_just_stops(#[case] start: bool) {
    let t0 = Instant::now();
    let mut inst = Instance::new(params(100));
    let from = if start {
        inst.handle_event(t0, Event::Startup);
        drain(&mut inst);
        State::Backup
    } else {
        State::Initialize
    };
    inst.handle_event(t0, Event::Shutdown);
    assert_eq!(
        drain(&mut inst),
        [Action::StateChange {
            from,
            to: State::Stopped
        }]
    );
    assert_eq!(inst.poll_timeout(), None);
}

#[test]
fn stopped_is_terminal() {
    let t0 = Instant::now();
    let mut inst = started(params(100), t0);
    inst.handle_event(t0, Event::Shutdown);
    drain(&mut inst);
    for ev in [
        Event::Startup,
        advert(12, 0, ms(1000)),
        Event::InterfaceDown,
        Event::InterfaceUp,
        Event::VipFoundWhileBackup,
        Event::ConflictSeen { mac: [2; 6] },
        Event::Shutdown,
    ] {
        inst.handle_event(t0 + ms(1), ev);
    }
    inst.handle_timeout(t0 + ms(100_000));
    assert_eq!(drain(&mut inst), []);
    assert_eq!(inst.state(), State::Stopped);
    assert_eq!(inst.poll_timeout(), None);
}

#[rstest]
#[case::owner(255, State::Master)]
#[case::hint_not_reapplied(100, State::Backup)]
fn fault_and_recover(#[case] priority: u8, #[case] back_to: State) {
    let t0 = Instant::now();
    let mut inst = started(
        Params {
            initial_master: true,
            ..params(priority)
        },
        t0,
    );
    assert_eq!(inst.state(), State::Master);
    inst.handle_event(t0 + ms(100), Event::InterfaceDown);
    assert_eq!(
        drain(&mut inst),
        [
            Action::RemoveVips,
            Action::StateChange {
                from: State::Master,
                to: State::Fault
            }
        ]
    );
    assert_eq!(inst.poll_timeout(), None);
    inst.handle_event(t0 + ms(200), advert(12, 0, ms(1000)));
    assert_eq!(inst.counters().adverts_ignored, 1);
    let up = t0 + ms(300);
    inst.handle_event(up, Event::InterfaceUp);
    assert_eq!(inst.state(), back_to);
    let expected_timeout = match back_to {
        State::Master => up + ms(1000),
        _ => up + ns(3_609_375_000),
    };
    assert_eq!(inst.poll_timeout(), Some(expected_timeout));
}

#[test]
fn startup_with_interface_down_goes_fault() {
    let t0 = Instant::now();
    let mut inst = Instance::new(params(255));
    inst.handle_event(t0, Event::InterfaceDown);
    inst.handle_event(t0, Event::Startup);
    assert_eq!(
        drain(&mut inst),
        [Action::StateChange {
            from: State::Initialize,
            to: State::Fault
        }]
    );
    assert_eq!(inst.poll_timeout(), None);
}

#[test]
fn conflict_is_reported_and_counted() {
    let t0 = Instant::now();
    let mut inst = started(params(255), t0);
    let mac = [0x02, 0, 0, 0, 0, 0x12];
    inst.handle_event(t0, Event::ConflictSeen { mac });
    assert_eq!(drain(&mut inst), [Action::Conflict { mac }]);
    assert_eq!(inst.counters().conflicts, 1);
    assert_eq!(inst.state(), State::Master);
}

#[test]
fn new_normalises_degenerate_params() {
    let inst = Instance::new(Params {
        advert_interval: Duration::ZERO,
        ..params(0)
    });
    assert_eq!(inst.effective_priority(), 1);
    assert_eq!(inst.params().advert_interval, MIN_ADVERT_INTERVAL_V3);
}

// ---------------------------------------------------------------------------------------
// Scripted scenarios pinned by snapshots
// ---------------------------------------------------------------------------------------

/// Drives an instance through a script, firing timers in between, and logs
/// `"+<seconds> <input> -> <actions>"` lines.
struct Script {
    inst: Instance,
    t0: Instant,
    log: Vec<String>,
}

impl Script {
    fn new(p: Params) -> Self {
        Script {
            inst: Instance::new(p),
            t0: Instant::now(),
            log: Vec::new(),
        }
    }

    fn record(&mut self, at: Instant, input: String) {
        let actions = drain(&mut self.inst);
        let state = self.inst.state();
        self.log.push(format!(
            "+{:.6}s {input} -> {actions:?} [{state}]",
            (at - self.t0).as_secs_f64()
        ));
    }

    /// Fires every timer due up to `t0 + ms`.
    fn run_until(&mut self, millis: u64) -> &mut Self {
        let until = self.t0 + ms(millis);
        while let Some(at) = self.inst.poll_timeout().filter(|&at| at <= until) {
            self.inst.handle_timeout(at);
            self.record(at, "timeout".into());
        }
        self
    }

    /// Runs timers up to `t0 + ms`, then feeds `ev` at that instant.
    fn at(&mut self, millis: u64, ev: Event) -> &mut Self {
        self.run_until(millis);
        let at = self.t0 + ms(millis);
        self.inst.handle_event(at, ev);
        self.record(at, format!("{ev:?}"));
        self
    }

    fn done(&mut self) -> Vec<String> {
        self.log
            .push(format!("counters: {:?}", self.inst.counters()));
        std::mem::take(&mut self.log)
    }
}

#[test]
fn scenario_startup_to_master() {
    let log = Script::new(Params {
        garp_repeat: 2,
        garp_delay: ms(500),
        ..params(100)
    })
    .at(0, Event::Startup)
    .run_until(5700)
    .done();
    insta::assert_debug_snapshot!(log);
}

#[test]
fn scenario_backup_preempted_by_higher_priority() {
    // We are master at 100; a 200 peer appears and takes over.
    let log = Script::new(Params {
        garp_repeat: 1,
        ..params(100)
    })
    .at(0, Event::Startup)
    .run_until(4000)
    .at(4200, advert(12, 200, ms(1000)))
    .at(5200, advert(12, 200, ms(1000)))
    .run_until(8000)
    .done();
    insta::assert_debug_snapshot!(log);
}

#[test]
fn scenario_master_receives_priority_zero() {
    // Backup sees the master stop, takes over after Skew_Time; later, as master,
    // answers a stray priority-0 advert at once.
    let log = Script::new(Params {
        garp_repeat: 1,
        ..params(100)
    })
    .at(0, Event::Startup)
    .at(500, advert(12, 200, ms(1000)))
    .at(1500, advert(12, 200, ms(1000)))
    .at(2000, advert(12, 0, ms(1000)))
    .run_until(3000)
    .at(3100, advert(13, 0, ms(1000)))
    .run_until(4200)
    .done();
    insta::assert_debug_snapshot!(log);
}

#[test]
fn scenario_shutdown_from_master() {
    let log = Script::new(Params {
        garp_repeat: 1,
        ..params(255)
    })
    .at(0, Event::Startup)
    .run_until(2500)
    .at(2500, Event::Shutdown)
    .run_until(10_000)
    .done();
    insta::assert_debug_snapshot!(log);
}

#[test]
fn scenario_fault_and_recover() {
    let log = Script::new(Params {
        garp_repeat: 1,
        ..params(100)
    })
    .at(0, Event::Startup)
    .run_until(4700)
    .at(4700, Event::InterfaceDown)
    .at(5000, advert(12, 50, ms(1000)))
    .at(6000, Event::InterfaceUp)
    .at(6500, advert(12, 150, ms(1000)))
    .at(7000, Event::VipFoundWhileBackup)
    .run_until(11_000)
    .done();
    insta::assert_debug_snapshot!(log);
}

#[test]
fn scenario_preempt_delay() {
    // Priority 200 starts next to a running 100 master with preempt_delay 5 s: it
    // follows the lower master until the delay has passed, then lets its timer run out.
    let mut s = Script::new(Params {
        garp_repeat: 1,
        preempt_delay: ms(5000),
        ..params(200)
    });
    s.at(0, Event::Startup);
    for k in 0..9u64 {
        s.at(500 + 1000 * k, advert(12, 100, ms(1000)));
    }
    let log = s.run_until(9000).done();
    insta::assert_debug_snapshot!(log);
}

// ---------------------------------------------------------------------------------------
// Properties over random event sequences
// ---------------------------------------------------------------------------------------

mod props {
    use proptest::prelude::*;

    use super::*;

    fn any_params() -> impl Strategy<Value = Params> {
        (
            prop_oneof![Just(ProtoVersion::V3), Just(ProtoVersion::V2)],
            1u8..=255,
            1u64..=300,
            any::<bool>(),
            0u64..3000,
            any::<bool>(),
            0u32..4,
            0u64..500,
            proptest::option::of(0u64..3000),
            any::<bool>(),
        )
            .prop_map(
                |(version, priority, cs, preempt, delay, hint, repeat, gap, refresh, lease)| {
                    let advert_interval = match version {
                        ProtoVersion::V3 => ms(cs * 10),
                        ProtoVersion::V2 => Duration::from_secs(cs % 3 + 1),
                    };
                    Params {
                        version,
                        priority,
                        advert_interval,
                        preempt,
                        preempt_delay: ms(delay),
                        initial_master: hint,
                        garp_repeat: repeat,
                        garp_delay: ms(gap),
                        garp_refresh: refresh.map(ms),
                        lease,
                        ..Params::new(51, ip(11))
                    }
                },
            )
    }

    fn any_event() -> impl Strategy<Value = Event> {
        prop_oneof![
            1 => Just(Event::Startup),
            6 => (prop_oneof![Just(5u8), Just(11), Just(12)], any::<u8>(), 1u64..=300, any::<bool>())
                .prop_map(|(src, priority, cs, addrs_match)| Event::Advert(Advert {
                    src: ip(src),
                    priority,
                    max_advert_interval: ms(cs * 10),
                    addrs_match,
                })),
            1 => Just(Event::Shutdown),
            1 => Just(Event::InterfaceDown),
            1 => Just(Event::InterfaceUp),
            1 => Just(Event::VipFoundWhileBackup),
            1 => Just(Event::ConflictSeen { mac: [2, 0, 0, 0, 0, 1] }),
        ]
    }

    /// What the caller's world looks like, rebuilt from the actions alone.
    struct Mirror {
        state: State,
        vips_held: bool,
    }

    impl Mirror {
        fn apply(&mut self, inst: &mut Instance) -> Result<(), TestCaseError> {
            while let Some(action) = inst.poll_action() {
                match action {
                    Action::StateChange { from, to } => {
                        prop_assert_eq!(from, self.state);
                        prop_assert_ne!(from, to);
                        self.state = to;
                    }
                    Action::AddVips { lease } => {
                        prop_assert_eq!(self.state, State::Master);
                        prop_assert!(!self.vips_held);
                        prop_assert_eq!(lease, inst.lease());
                        self.vips_held = true;
                    }
                    Action::RefreshVips { .. } => {
                        prop_assert!(self.vips_held && self.state == State::Master);
                        prop_assert!(inst.params().lease);
                    }
                    // Exit action of Master (before its StateChange) or a stray-VIP
                    // clean-up; the batch-end check below pins which.
                    Action::RemoveVips => self.vips_held = false,
                    Action::SendAdvert { priority } => {
                        prop_assert_eq!(self.state, State::Master);
                        if priority != PRIORITY_STOP {
                            prop_assert_eq!(priority, inst.effective_priority());
                        }
                    }
                    Action::SendGratuitous => {
                        prop_assert!(self.vips_held && self.state == State::Master);
                    }
                    Action::Conflict { .. } => {}
                }
            }
            // Between inputs: VIPs held exactly while Master.
            prop_assert_eq!(self.state, inst.state());
            prop_assert_eq!(self.vips_held, inst.state() == State::Master);
            Ok(())
        }
    }

    proptest! {
        // No regression files: they would land outside this module's directory.
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]
        #[test]
        fn actions_are_consistent_with_state(
            p in any_params(),
            script in proptest::collection::vec((0u64..5000, any_event()), 0..60),
        ) {
            let mut inst = Instance::new(p);
            let mut mirror = Mirror { state: State::Initialize, vips_held: false };
            let mut now = Instant::now();
            for (gap, ev) in script {
                let until = now + ms(gap);
                while let Some(at) = inst.poll_timeout().filter(|&at| at <= until) {
                    prop_assert!(at >= now, "timer in the past");
                    now = at;
                    inst.handle_timeout(now);
                    mirror.apply(&mut inst)?;
                    // Every due timer fired.
                    prop_assert!(inst.poll_timeout().is_none_or(|next| next > now));
                }
                now = until;
                inst.handle_event(now, ev);
                mirror.apply(&mut inst)?;
                match inst.state() {
                    State::Initialize | State::Fault | State::Stopped => {
                        prop_assert_eq!(inst.poll_timeout(), None)
                    }
                    State::Backup | State::Master => prop_assert!(inst.poll_timeout().is_some()),
                }
            }
            let c = inst.counters();
            prop_assert_eq!(c.transitions, c.became_master + c.became_backup + c.became_fault
                + u64::from(inst.state() == State::Stopped));
        }
    }
}

/// Regression (found by the freeze-thaw scenario): a MASTER frozen past its lease comes
/// back, re-adds the VIPs the kernel dropped, and must announce them again, since the
/// segment has learnt the backup's MAC in the meantime.
#[test]
fn master_resuming_after_its_lease_ran_out_announces_again() {
    let t0 = Instant::now();
    let mut inst = started(params(255), t0);
    drain(&mut inst);
    let lease = inst.lease().unwrap();
    // On time: a refresh, no announcement.
    inst.handle_timeout(t0 + ms(1000));
    assert!(!drain(&mut inst).contains(&Action::SendGratuitous));
    // Frozen for longer than the lease, then the timer fires.
    let late = t0 + ms(1000) + lease + ms(300);
    inst.handle_timeout(late);
    let actions = drain(&mut inst);
    assert!(
        actions.contains(&Action::RefreshVips { lease }),
        "{actions:?}"
    );
    assert!(actions.contains(&Action::SendGratuitous), "{actions:?}");
    assert_eq!(inst.counters().lease_lapses, 1);
}

/// A MASTER whose nftables gate ended before its refresh (frozen past the gate, not
/// yet past the longer address lease) announces again, as after a lease lapse, once.
#[test]
fn master_whose_gate_lapsed_announces_again() {
    let t0 = Instant::now();
    let mut inst = started(params(255), t0);
    drain(&mut inst);
    inst.handle_timeout(t0 + ms(1000));
    let actions = drain(&mut inst);
    assert!(!actions.contains(&Action::SendGratuitous), "{actions:?}");
    inst.handle_event(t0 + ms(1001), Event::GateLapsed);
    assert_eq!(drain(&mut inst), vec![Action::SendGratuitous]);
    assert_eq!(inst.counters().lease_lapses, 1);
    // Frozen past the address lease too: the advert's lapse and the gate's are one.
    let lease = inst.lease().unwrap();
    let late = t0 + ms(2000) + lease + ms(300);
    inst.handle_timeout(late);
    inst.handle_event(late, Event::GateLapsed);
    let actions = drain(&mut inst);
    let garps = actions
        .iter()
        .filter(|a| **a == Action::SendGratuitous)
        .count();
    assert_eq!(garps, 1, "{actions:?}");
    assert_eq!(inst.counters().lease_lapses, 2);
    // A backup has nothing to announce.
    let mut b = Instance::new(params(100));
    b.handle_event(t0, Event::Startup);
    drain(&mut b);
    b.handle_event(t0 + ms(1), Event::GateLapsed);
    assert!(drain(&mut b).is_empty());
    assert_eq!(b.counters().lease_lapses, 0);
}

#[test]
fn delay_adverts_moves_the_cadence_of_a_master_only() {
    let t0 = Instant::now();
    let mut inst = Instance::new(Params {
        initial_master: true,
        garp_repeat: 0,
        ..params(150)
    });
    inst.handle_event(t0, Event::Startup);
    drain(&mut inst);
    assert_eq!(inst.poll_timeout(), Some(t0 + ms(1000)));
    inst.delay_adverts(ms(178));
    assert_eq!(inst.poll_timeout(), Some(t0 + ms(1178)));
    inst.handle_timeout(t0 + ms(1178));
    assert!(drain(&mut inst).contains(&Action::SendAdvert { priority: 150 }));
    assert_eq!(inst.poll_timeout(), Some(t0 + ms(2178)));
    // A Backup has no advert timer to move.
    let mut b = started(params(100), t0);
    let before = b.poll_timeout();
    b.delay_adverts(ms(178));
    assert_eq!(b.poll_timeout(), before);
}

/// Issue 13 item 6: a v3 advert with Max Adver Int 0 (below 10 ms) never steers the
/// state machine: a Backup keeps its timer, a Master does not yield.
#[test]
fn zero_max_adver_int_is_discarded() {
    let t0 = Instant::now();
    let mut backup = started(params(100), t0);
    let before = backup.poll_timeout();
    backup.handle_event(t0 + ms(10), advert(12, 200, Duration::ZERO));
    assert_eq!(backup.state(), State::Backup);
    assert_eq!(backup.poll_timeout(), before);
    assert_eq!(backup.master(), None);

    let (mut master, at) = master_via_timeout(params(100), t0);
    master.handle_event(at + ms(10), advert(12, 200, Duration::ZERO));
    assert_eq!(master.state(), State::Master);
    assert_eq!(master.counters().interval_mismatch, 1);
    assert!(drain(&mut master).is_empty());
}

// ---------------------------------------------------------------------------------------
// Health tracking and sync groups
// ---------------------------------------------------------------------------------------

#[test]
fn tracked_priority_goes_into_adverts_and_elections() {
    let t0 = Instant::now();
    let (mut m, at) = master_via_timeout(params(150), t0);
    m.handle_event(at, Event::SetPriority(90));
    assert_eq!(m.effective_priority(), 90);
    let next = m.poll_timeout().unwrap();
    m.handle_timeout(next);
    assert_eq!(
        drain(&mut m).first(),
        Some(&Action::SendAdvert { priority: 90 })
    );
    // A backup at 100 now beats us: its advert sends us to Backup.
    m.handle_event(next, advert(12, 100, ms(1000)));
    assert_eq!(m.state(), State::Backup);
    // Never 0, and the owner is never changed.
    m.handle_event(next, Event::SetPriority(0));
    assert_eq!(m.effective_priority(), 1);
    let mut owner = Instance::new(params(255));
    owner.handle_event(t0, Event::SetPriority(50));
    assert_eq!(owner.effective_priority(), 255);
}

#[test]
fn backup_with_lowered_master_takes_over_after_master_down() {
    // The master lowered its priority to 90 < our 100: we discard its adverts (preempt)
    // and take over when the down timer runs out.
    let t0 = Instant::now();
    let mut b = started(params(100), t0);
    b.handle_event(t0, advert(12, 150, ms(1000)));
    let t1 = t0 + ms(1000);
    b.handle_event(t1, advert(12, 90, ms(1000)));
    assert_eq!(b.state(), State::Backup);
    let down = b.poll_timeout().unwrap();
    assert!(down <= t0 + b.master_down_interval());
    b.handle_timeout(down);
    assert_eq!(b.state(), State::Master);
}

#[test]
fn sync_events_move_members_together() {
    let t0 = Instant::now();
    let mut b = started(params(100), t0);
    b.handle_event(t0, Event::SyncMaster);
    assert_eq!(b.state(), State::Master);
    assert!(drain(&mut b).contains(&Action::AddVips { lease: b.lease() }));
    b.handle_event(t0, Event::SyncBackup);
    assert_eq!(b.state(), State::Backup);
    let acts = drain(&mut b);
    assert_eq!(acts.first(), Some(&Action::RemoveVips));
    assert!(b.poll_timeout().is_some());
    // Fault members ignore both.
    b.handle_event(t0, Event::InterfaceDown);
    b.handle_event(t0, Event::SyncMaster);
    assert_eq!(b.state(), State::Fault);
}
