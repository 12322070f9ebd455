//! How an ALB listener picks what answers a request: rules in priority order (conditions ANDed,
//! each condition's values ORed, `*`/`?` wildcards), then the rule's action; for a forward, a
//! group by weight (or the group-stickiness cookie), then a target among the routable ones.
//! Pure functions over plain data, so the routing is unit-tested without sockets.

use std::net::IpAddr;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    PathPattern(Vec<String>),
    HostHeader(Vec<String>),
    HttpHeader {
        name: String,
        values: Vec<String>,
    },
    HttpRequestMethod(Vec<String>),
    /// (key, value) pairs; a missing key matches any key.
    QueryString(Vec<(Option<String>, String)>),
    SourceIp(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct WeightedGroup {
    pub arn: String,
    pub weight: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Forward {
        groups: Vec<WeightedGroup>,
        /// Group stickiness: how long a client stays with the group it first got.
        stickiness: Option<Duration>,
    },
    FixedResponse {
        status: u16,
        content_type: Option<String>,
        body: String,
    },
    Redirect(Redirect),
    /// Authentication and anything else the emulator does not run.
    NotEmulated(String),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Redirect {
    pub protocol: Option<String>,
    pub host: Option<String>,
    pub port: Option<String>,
    pub path: Option<String>,
    pub query: Option<String>,
    pub status: u16,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// `None` for the listener's default rule, which comes last.
    pub priority: Option<u32>,
    pub conditions: Vec<Condition>,
    /// The final action (authentication actions before it are `NotEmulated` when present).
    pub action: Action,
}

/// What a rule sees of a request.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The Host header without its port.
    pub host: String,
    pub path: String,
    /// Decoded query pairs.
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub source: IpAddr,
}

/// The rule that takes `request`: the lowest-priority matching rule, else the default.
pub fn select<'r>(rules: &'r [Rule], request: &Request) -> Option<&'r Rule> {
    let mut ordered: Vec<&Rule> = rules.iter().collect();
    ordered.sort_by_key(|r| r.priority.unwrap_or(u32::MAX));
    ordered
        .into_iter()
        .find(|r| r.priority.is_none() || r.conditions.iter().all(|c| condition_matches(c, request)))
}

fn condition_matches(condition: &Condition, r: &Request) -> bool {
    match condition {
        Condition::PathPattern(patterns) => patterns.iter().any(|p| wildcard(p, &r.path, false)),
        Condition::HostHeader(patterns) => patterns.iter().any(|p| wildcard(p, &r.host, true)),
        Condition::HttpHeader { name, values } => r
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .any(|(_, v)| values.iter().any(|p| wildcard(p, v, true))),
        Condition::HttpRequestMethod(methods) => methods.contains(&r.method),
        Condition::QueryString(pairs) => pairs.iter().any(|(key, value)| {
            r.query
                .iter()
                .any(|(k, v)| key.as_ref().is_none_or(|key| wildcard(key, k, true)) && wildcard(value, v, true))
        }),
        Condition::SourceIp(cidrs) => cidrs.iter().any(|c| in_cidr(c, r.source)),
    }
}

/// `*` matches any run of characters, `?` exactly one.
pub fn wildcard(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let fold = |s: &str| -> Vec<char> {
        if ignore_case {
            s.to_lowercase().chars().collect()
        } else {
            s.chars().collect()
        }
    };
    let (p, t) = (fold(pattern), fold(text));
    // Iterative matcher with one backtrack point for the last `*`.
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn in_cidr(cidr: &str, ip: IpAddr) -> bool {
    let (net, bits) = cidr.split_once('/').unwrap_or((cidr, ""));
    let Ok(net) = net.parse::<IpAddr>() else { return false };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let bits: u32 = bits.parse().unwrap_or(32).min(32);
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let bits: u32 = bits.parse().unwrap_or(128).min(128);
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

/// The group a forward sends to: the sticky one when the client's cookie names a group of this
/// action, else one drawn by weight (`roll` uniform in [0, 1)). `None` when every weight is 0.
pub fn pick_group<'a>(groups: &'a [WeightedGroup], sticky: Option<&str>, roll: f64) -> Option<&'a WeightedGroup> {
    if let Some(g) = sticky.and_then(|s| groups.iter().find(|g| g.arn == s && g.weight > 0)) {
        return Some(g);
    }
    let total: u32 = groups.iter().map(|g| g.weight).sum();
    if total == 0 {
        return None;
    }
    let mut point = roll * total as f64;
    for g in groups.iter().filter(|g| g.weight > 0) {
        if point < g.weight as f64 {
            return Some(g);
        }
        point -= g.weight as f64;
    }
    groups.iter().rev().find(|g| g.weight > 0)
}

/// What the router knows of one registered target at the moment of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate<K> {
    pub key: K,
    pub state: TargetState,
    /// Fraction (0-1] of full traffic while in slow start; 1 otherwise.
    pub slow_start_weight: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetState {
    Initial,
    Healthy,
    Unhealthy,
    Draining,
}

/// The target for a new request: drawn among healthy targets (weighted by slow start); when the
/// group has none but has unhealthy ones, ALB fails open across those. Initial and draining
/// targets never get new requests. `sticky` keeps a client on its target while it is routable.
pub fn pick_target<'c, K: PartialEq>(candidates: &'c [Candidate<K>], sticky: Option<&K>, roll: f64) -> Option<&'c Candidate<K>> {
    let healthy: Vec<&Candidate<K>> = candidates.iter().filter(|c| c.state == TargetState::Healthy).collect();
    let pool: Vec<&Candidate<K>> = if healthy.is_empty() {
        candidates.iter().filter(|c| c.state == TargetState::Unhealthy).collect()
    } else {
        healthy
    };
    if let Some(c) = sticky.and_then(|s| pool.iter().find(|c| c.key == *s)) {
        return Some(c);
    }
    let total: f64 = pool.iter().map(|c| c.slow_start_weight.max(f64::EPSILON)).sum();
    let mut point = roll * total;
    for c in &pool {
        let w = c.slow_start_weight.max(f64::EPSILON);
        if point < w {
            return Some(c);
        }
        point -= w;
    }
    pool.last().copied()
}

/// Slow start: a newly healthy target's share ramps linearly from nearly nothing to full.
pub fn slow_start_weight(healthy_for: Duration, slow_start: Duration) -> f64 {
    if slow_start.is_zero() || healthy_for >= slow_start {
        1.0
    } else {
        (healthy_for.as_secs_f64() / slow_start.as_secs_f64()).max(0.02)
    }
}

/// Where a redirect action sends the client: each part defaults to the request's own, and
/// `#{protocol}`, `#{host}`, `#{port}`, `#{path}`, `#{query}` stand for the request's parts.
pub fn redirect_location(r: &Redirect, protocol: &str, host: &str, port: u16, path: &str, query: &str) -> String {
    let port = port.to_string();
    let fill = |template: &Option<String>, own: &str| -> String {
        let template = template.as_deref().unwrap_or(own);
        template
            .replace("#{protocol}", protocol)
            .replace("#{host}", host)
            .replace("#{port}", &port)
            .replace("#{path}", path.trim_start_matches('/'))
            .replace("#{query}", query)
    };
    let scheme = fill(&r.protocol, protocol).to_lowercase();
    let host = fill(&r.host, host);
    let port = fill(&r.port, &port);
    let mut path = fill(&r.path, "/#{path}");
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    let query = fill(&r.query, "#{query}");
    let default_port = (scheme == "http" && port == "80") || (scheme == "https" && port == "443");
    let authority = if default_port { host } else { format!("{host}:{port}") };
    if query.is_empty() {
        format!("{scheme}://{authority}{path}")
    } else {
        format!("{scheme}://{authority}{path}?{query}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, host: &str, path: &str) -> Request {
        Request {
            method: method.into(),
            host: host.into(),
            path: path.into(),
            query: vec![],
            headers: vec![],
            source: "127.0.0.1".parse().unwrap(),
        }
    }

    fn fixed(status: u16) -> Action {
        Action::FixedResponse {
            status,
            content_type: None,
            body: String::new(),
        }
    }

    fn rule(priority: Option<u32>, conditions: Vec<Condition>, status: u16) -> Rule {
        Rule {
            priority,
            conditions,
            action: fixed(status),
        }
    }

    fn status_of(rules: &[Rule], r: &Request) -> u16 {
        match select(rules, r).map(|r| &r.action) {
            Some(Action::FixedResponse { status, .. }) => *status,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rules_go_by_priority_not_by_order_and_the_default_comes_last() {
        let rules = vec![
            rule(None, vec![], 404),
            rule(Some(20), vec![Condition::PathPattern(vec!["/api/*".into()])], 220),
            rule(Some(10), vec![Condition::PathPattern(vec!["/api/v2/*".into()])], 210),
        ];
        assert_eq!(status_of(&rules, &request("GET", "a", "/api/v2/x")), 210);
        assert_eq!(status_of(&rules, &request("GET", "a", "/api/v1/x")), 220);
        assert_eq!(status_of(&rules, &request("GET", "a", "/other")), 404);
    }

    #[test]
    fn conditions_are_anded_and_values_ored() {
        let rules = vec![
            rule(None, vec![], 404),
            rule(
                Some(1),
                vec![
                    Condition::HostHeader(vec!["*.example.com".into(), "example.org".into()]),
                    Condition::HttpRequestMethod(vec!["POST".into()]),
                ],
                201,
            ),
        ];
        assert_eq!(
            status_of(&rules, &request("POST", "API.example.com", "/")),
            201,
            "host is case-insensitive"
        );
        assert_eq!(status_of(&rules, &request("POST", "example.org", "/")), 201);
        assert_eq!(status_of(&rules, &request("GET", "a.example.com", "/")), 404);
        assert_eq!(status_of(&rules, &request("POST", "example.net", "/")), 404);
    }

    #[test]
    fn headers_query_strings_and_source_ips_match() {
        let rules = vec![
            rule(None, vec![], 404),
            rule(
                Some(1),
                vec![Condition::HttpHeader {
                    name: "X-Canary".into(),
                    values: vec!["yes".into()],
                }],
                211,
            ),
            rule(Some(2), vec![Condition::QueryString(vec![(Some("v".into()), "2*".into())])], 212),
            rule(Some(3), vec![Condition::QueryString(vec![(None, "beta".into())])], 213),
            rule(Some(4), vec![Condition::SourceIp(vec!["127.0.9.0/24".into()])], 214),
        ];
        let mut r = request("GET", "a", "/");
        r.headers.push(("x-canary".into(), "YES".into()));
        assert_eq!(status_of(&rules, &r), 211);
        let mut r = request("GET", "a", "/");
        r.query.push(("v".into(), "21".into()));
        assert_eq!(status_of(&rules, &r), 212);
        let mut r = request("GET", "a", "/");
        r.query.push(("channel".into(), "beta".into()));
        assert_eq!(status_of(&rules, &r), 213);
        let mut r = request("GET", "a", "/");
        r.source = "127.0.9.7".parse().unwrap();
        assert_eq!(status_of(&rules, &r), 214);
        r.source = "127.0.10.7".parse().unwrap();
        assert_eq!(status_of(&rules, &r), 404);
    }

    #[test]
    fn wildcards_match_runs_and_single_characters() {
        assert!(wildcard("/img/*.png", "/img/a/b.png", false));
        assert!(!wildcard("/img/*.png", "/img/a/b.PNG", false), "paths are case-sensitive");
        assert!(wildcard("/v?/x", "/v1/x", false));
        assert!(!wildcard("/v?/x", "/v10/x", false));
        assert!(wildcard("*", "", false));
    }

    #[test]
    fn weights_split_traffic_and_zero_weight_groups_get_none() {
        let groups = vec![
            WeightedGroup {
                arn: "a".into(),
                weight: 1,
            },
            WeightedGroup {
                arn: "b".into(),
                weight: 3,
            },
            WeightedGroup {
                arn: "c".into(),
                weight: 0,
            },
        ];
        let picks: Vec<&str> = (0..8)
            .map(|i| pick_group(&groups, None, i as f64 / 8.0).unwrap().arn.as_str())
            .collect();
        assert_eq!(picks, ["a", "a", "b", "b", "b", "b", "b", "b"]);
        assert_eq!(pick_group(&groups, Some("a"), 0.99).unwrap().arn, "a", "the sticky group wins");
        assert_eq!(pick_group(&groups, Some("c"), 0.0).unwrap().arn, "a", "not a group at weight 0");
        let none = vec![WeightedGroup {
            arn: "a".into(),
            weight: 0,
        }];
        assert!(pick_group(&none, None, 0.5).is_none());
    }

    fn candidate(key: u8, state: TargetState) -> Candidate<u8> {
        Candidate {
            key,
            state,
            slow_start_weight: 1.0,
        }
    }

    #[test]
    fn only_healthy_targets_get_requests_and_the_group_fails_open_over_unhealthy_ones() {
        use TargetState::*;
        let set = [
            candidate(1, Initial),
            candidate(2, Healthy),
            candidate(3, Draining),
            candidate(4, Unhealthy),
        ];
        for i in 0..10 {
            assert_eq!(pick_target(&set, None, i as f64 / 10.0).unwrap().key, 2);
        }
        let no_healthy = [
            candidate(1, Initial),
            candidate(3, Draining),
            candidate(4, Unhealthy),
            candidate(5, Unhealthy),
        ];
        let picked: Vec<u8> = (0..4)
            .map(|i| pick_target(&no_healthy, None, i as f64 / 4.0).unwrap().key)
            .collect();
        assert_eq!(
            picked,
            [4, 4, 5, 5],
            "fail open across the unhealthy targets, never initial or draining"
        );
        let nothing_routable = [candidate(1, Initial), candidate(3, Draining)];
        assert!(pick_target(&nothing_routable, None, 0.5).is_none());
        assert_eq!(
            pick_target(&set, Some(&3), 0.0).unwrap().key,
            2,
            "stickiness never reaches a draining target"
        );
    }

    #[test]
    fn slow_start_ramps_a_new_target_up() {
        let mut set = vec![candidate(1, TargetState::Healthy), candidate(2, TargetState::Healthy)];
        set[1].slow_start_weight = slow_start_weight(Duration::from_secs(1), Duration::from_secs(10));
        let to_new = (0..1000)
            .filter(|i| pick_target(&set, None, *i as f64 / 1000.0).unwrap().key == 2)
            .count();
        assert!(
            (80..=100).contains(&to_new),
            "{to_new} of 1000 to the target 10% into its slow start"
        );
        assert_eq!(slow_start_weight(Duration::from_secs(11), Duration::from_secs(10)), 1.0);
    }

    #[test]
    fn redirects_fill_in_the_request_parts() {
        let to_https = Redirect {
            protocol: Some("HTTPS".into()),
            port: Some("443".into()),
            status: 301,
            ..Default::default()
        };
        assert_eq!(
            redirect_location(&to_https, "http", "example.com", 80, "/a/b", "x=1"),
            "https://example.com/a/b?x=1"
        );
        let moved = Redirect {
            host: Some("new.#{host}".into()),
            path: Some("/v2/#{path}".into()),
            query: Some("from=old".into()),
            status: 302,
            ..Default::default()
        };
        assert_eq!(
            redirect_location(&moved, "http", "example.com", 8080, "/a", ""),
            "http://new.example.com:8080/v2/a?from=old"
        );
    }
}
