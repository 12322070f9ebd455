//! What a binding last settled to, kept on the binding so a restarted controller can trust it: an
//! annotation `<generation>/<digest>` written after a sync that left every desired target
//! registered and healthy, and removed after a sync that did not. At start, a binding whose spec
//! generation and desired targets still match its record is not re-read from AWS at once (ELBv2 has
//! no batch read of target health, so 10,000 bindings would mean 10,000 calls): it is verified by
//! its resync, spread over the resync period. Pure: digest, format, parse, decisions.

use std::collections::BTreeSet;
use std::time::Duration;

use tgbind_aws::Target;

use crate::crd::TargetGroupBinding;

/// The annotation holding the record.
pub const ANNOTATION: &str = "tgbind.io/synced-targets";

/// A digest of a group's ARN and a set of targets, stable across processes and versions (FNV-1a
/// over a canonical text; std's hashers promise neither).
pub fn digest(target_group_arn: &str, targets: &BTreeSet<Target>) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(PRIME);
        }
    };
    feed(target_group_arn.as_bytes());
    for t in targets {
        feed(b"\n");
        feed(t.id.as_bytes());
        feed(b":");
        feed(t.port.to_string().as_bytes());
    }
    hash
}

/// The annotation's value for a settled sync.
pub fn format(generation: i64, digest: u64) -> String {
    format!("{generation}/{digest:016x}")
}

/// The record on a binding: (generation, digest), or `None` when absent or unreadable.
pub fn read(tgb: &TargetGroupBinding) -> Option<(i64, u64)> {
    let text = tgb.metadata.annotations.as_ref()?.get(ANNOTATION)?;
    let (generation, digest) = text.split_once('/')?;
    Some((generation.parse().ok()?, u64::from_str_radix(digest, 16).ok()?))
}

/// Whether a binding can skip its first AWS read in this process: its record names the spec
/// generation it has now and the targets it wants now.
pub fn trusted(record: Option<(i64, u64)>, generation: Option<i64>, desired_digest: u64) -> bool {
    matches!((record, generation), (Some((g, d)), Some(now)) if g == now && d == desired_digest)
}

/// The value the annotation should have after a successful sync (`None`: no annotation). Only a
/// settled sync is recorded: targets still on their way to healthy need the health rechecks that
/// trusting would skip.
pub fn after_sync(generation: Option<i64>, digest: u64, settled: bool) -> Option<String> {
    Some(format(generation?, digest)).filter(|_| settled)
}

/// When a trusted binding is first verified: a point spread over the resync period by a number
/// in [0, 1), so a restart does not send every verification at once.
pub fn first_verification(resync: Duration, spread: f64) -> Duration {
    resync.mul_f64(spread.clamp(0.0, 1.0))
}

/// The next resync after a successful sync: the period plus up to 10 % jitter, so that bindings
/// synced together (a first start) drift apart instead of resyncing in one wave forever, and no
/// binding is verified more than once per period.
pub fn next_resync(resync: Duration, jitter: f64) -> Duration {
    resync.mul_f64(1.0 + 0.1 * jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::TargetGroupBindingSpec;

    fn targets(list: &[(&str, i32)]) -> BTreeSet<Target> {
        list.iter()
            .map(|(id, port)| Target {
                id: id.to_string(),
                port: *port,
            })
            .collect()
    }

    #[test]
    fn digests_are_stable_and_tell_sets_and_groups_apart() {
        let a = targets(&[("10.0.0.1", 80), ("10.0.0.2", 80)]);
        // Fixed value: a change of the digest would make every restarted controller distrust
        // every record once; this test makes that a decision, not an accident.
        assert_eq!(digest("arn:tg/a", &a), digest("arn:tg/a", &a.clone()));
        assert_eq!(
            format!("{:016x}", digest("arn:tg/a", &targets(&[("10.0.0.1", 80)]))),
            "dad5a6c9af933117"
        );
        assert_ne!(digest("arn:tg/a", &a), digest("arn:tg/b", &a));
        assert_ne!(digest("arn:tg/a", &a), digest("arn:tg/a", &targets(&[("10.0.0.1", 80)])));
        assert_ne!(
            digest("arn:tg/a", &targets(&[("10.0.0.1", 8080)])),
            digest("arn:tg/a", &targets(&[("10.0.0.18", 80)]))
        );
    }

    #[test]
    fn records_round_trip_and_decide_trust() {
        let mut tgb = TargetGroupBinding::new("b", TargetGroupBindingSpec::default());
        assert_eq!(read(&tgb), None);
        let value = after_sync(Some(3), 0xabc, true).unwrap();
        tgb.metadata.annotations = Some([(ANNOTATION.to_string(), value)].into());
        assert_eq!(read(&tgb), Some((3, 0xabc)));
        assert!(trusted(read(&tgb), Some(3), 0xabc));
        assert!(!trusted(read(&tgb), Some(4), 0xabc), "the spec changed while we were away");
        assert!(!trusted(read(&tgb), Some(3), 0xabd), "the endpoints changed while we were away");
        assert!(!trusted(None, Some(3), 0xabc));
        assert_eq!(after_sync(Some(3), 0xabc, false), None, "unsettled syncs are not recorded");
        assert_eq!(after_sync(None, 0xabc, true), None);
        tgb.metadata.annotations = Some([(ANNOTATION.to_string(), "garbage".to_string())].into());
        assert_eq!(read(&tgb), None);
    }

    #[test]
    fn verifications_spread_over_the_period() {
        let resync = Duration::from_secs(600);
        assert_eq!(first_verification(resync, 0.0), Duration::ZERO);
        assert_eq!(first_verification(resync, 0.5), Duration::from_secs(300));
        assert_eq!(next_resync(resync, 0.0), Duration::from_secs(600));
        assert_eq!(next_resync(resync, 1.0), Duration::from_secs(660));
    }
}
