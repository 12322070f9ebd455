//! The health-check state machine of one target, as ELB runs it: a new target is `initial` until
//! `healthy_threshold` checks in a row pass; a healthy one turns `unhealthy` after
//! `unhealthy_threshold` failures in a row, and back after `healthy_threshold` passes. Pure: the
//! checker feeds it results, the router and `DescribeTargetHealth` read it.

use std::ops::RangeInclusive;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Initial,
    Healthy,
    Unhealthy,
}

/// Why a check failed, reported as ELB's reason codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    Timeout,
    /// The status code the target answered, outside the matcher.
    ResponseCodeMismatch(u16),
    /// Refused, reset or not an HTTP answer.
    Failed,
}

impl Failure {
    pub fn reason(self) -> &'static str {
        match self {
            Failure::Timeout => "Target.Timeout",
            Failure::ResponseCodeMismatch(_) => "Target.ResponseCodeMismatch",
            Failure::Failed => "Target.FailedHealthChecks",
        }
    }

    pub fn description(self) -> String {
        match self {
            Failure::Timeout => "Request timed out".into(),
            Failure::ResponseCodeMismatch(code) => format!("Health checks failed with these codes: [{code}]"),
            Failure::Failed => "Health checks failed".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    pub healthy: u32,
    pub unhealthy: u32,
}

/// One target's health as the checks have seen it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Health {
    pub phase: Phase,
    passes_in_a_row: u32,
    failures_in_a_row: u32,
    /// The last failure, while the target is not healthy.
    pub last_failure: Option<Failure>,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            phase: Phase::Initial,
            passes_in_a_row: 0,
            failures_in_a_row: 0,
            last_failure: None,
        }
    }
}

impl Health {
    /// The state after one more check with `result`; `became_healthy` tells the caller when to
    /// start a slow start.
    pub fn observe(self, result: Result<(), Failure>, t: Thresholds) -> Health {
        let mut next = self;
        match result {
            Ok(()) => {
                next.passes_in_a_row += 1;
                next.failures_in_a_row = 0;
                if next.phase != Phase::Healthy && next.passes_in_a_row >= t.healthy {
                    next.phase = Phase::Healthy;
                    next.last_failure = None;
                }
            }
            Err(failure) => {
                next.failures_in_a_row += 1;
                next.passes_in_a_row = 0;
                next.last_failure = Some(failure);
                if next.phase != Phase::Unhealthy && next.failures_in_a_row >= t.unhealthy {
                    next.phase = Phase::Unhealthy;
                }
            }
        }
        next
    }

    pub fn became_healthy(before: Health, after: Health) -> bool {
        before.phase != Phase::Healthy && after.phase == Phase::Healthy
    }
}

/// A target group's success codes (`200`, `200,202`, `200-299`). `None` when malformed.
pub fn parse_matcher(codes: &str) -> Option<Vec<RangeInclusive<u16>>> {
    codes
        .split(',')
        .map(|part| {
            let part = part.trim();
            match part.split_once('-') {
                Some((low, high)) => Some(low.trim().parse().ok()?..=high.trim().parse().ok()?),
                None => {
                    let code = part.parse().ok()?;
                    Some(code..=code)
                }
            }
        })
        .collect()
}

pub fn matches(matcher: &[RangeInclusive<u16>], status: u16) -> bool {
    matcher.iter().any(|r| r.contains(&status))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Thresholds = Thresholds { healthy: 2, unhealthy: 3 };

    fn run(results: &[Result<(), Failure>]) -> Vec<Phase> {
        let mut h = Health::default();
        results
            .iter()
            .map(|r| {
                h = h.observe(*r, T);
                h.phase
            })
            .collect()
    }

    #[test]
    fn a_new_target_is_initial_until_the_healthy_threshold_passes_in_a_row() {
        use Phase::*;
        let fail = Err(Failure::Timeout);
        assert_eq!(run(&[Ok(()), fail, Ok(()), Ok(())]), [Initial, Initial, Initial, Healthy]);
    }

    #[test]
    fn healthy_turns_unhealthy_only_after_the_unhealthy_threshold_and_recovers() {
        use Phase::*;
        let fail = Err(Failure::ResponseCodeMismatch(500));
        let phases = run(&[Ok(()), Ok(()), fail, fail, Ok(()), fail, fail, fail, Ok(()), Ok(())]);
        assert_eq!(
            phases,
            [Initial, Healthy, Healthy, Healthy, Healthy, Healthy, Healthy, Unhealthy, Unhealthy, Healthy]
        );
    }

    #[test]
    fn a_target_that_never_answers_leaves_initial_for_unhealthy_with_the_reason() {
        let mut h = Health::default();
        for _ in 0..3 {
            h = h.observe(Err(Failure::Failed), T);
        }
        assert_eq!(h.phase, Phase::Unhealthy);
        assert_eq!(h.last_failure.unwrap().reason(), "Target.FailedHealthChecks");
    }

    #[test]
    fn matchers_take_codes_lists_and_ranges() {
        let m = parse_matcher("200,202-204").unwrap();
        assert!(matches(&m, 200) && matches(&m, 203) && !matches(&m, 201) && !matches(&m, 500));
        assert!(parse_matcher("20x").is_none());
    }
}
