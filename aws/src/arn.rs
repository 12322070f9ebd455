//! ELBv2 ARNs, parsed once for both binaries: import IDs and validation in the provider, a
//! binding's `targetGroupARN` (and the region and account it names) in the controller.
//!
//! `arn:<partition>:elasticloadbalancing:<region>:<account>:<kind>/<path>` where the path is
//! `<name>/<id>` for target groups, `app|net|gwy/<name>/<id>` for load balancers, and the load
//! balancer's path plus one (listener) or two (rule) more IDs.

/// The kinds of ELBv2 object an ARN can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elbv2Kind {
    TargetGroup,
    LoadBalancer,
    Listener,
    ListenerRule,
}

impl Elbv2Kind {
    /// The resource-type word of the ARN (`targetgroup`, `loadbalancer`, ...).
    pub fn word(self) -> &'static str {
        match self {
            Self::TargetGroup => "targetgroup",
            Self::LoadBalancer => "loadbalancer",
            Self::Listener => "listener",
            Self::ListenerRule => "listener-rule",
        }
    }

    /// How many `/`-separated parts follow the word.
    fn path_parts(self) -> usize {
        match self {
            Self::TargetGroup => 2,
            Self::LoadBalancer => 3,
            Self::Listener => 4,
            Self::ListenerRule => 5,
        }
    }

    /// The form of such an ARN, for error messages.
    pub fn form(self) -> &'static str {
        match self {
            Self::TargetGroup => "arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>",
            Self::LoadBalancer => "arn:aws:elasticloadbalancing:<region>:<account>:loadbalancer/app|net|gwy/<name>/<id>",
            Self::Listener => "arn:aws:elasticloadbalancing:<region>:<account>:listener/app|net|gwy/<lb-name>/<lb-id>/<id>",
            Self::ListenerRule => {
                "arn:aws:elasticloadbalancing:<region>:<account>:listener-rule/app|net|gwy/<lb-name>/<lb-id>/<listener-id>/<id>"
            }
        }
    }
}

/// A well-formed ELBv2 ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Elbv2Arn<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub kind: Elbv2Kind,
    /// Everything after `<kind>/`.
    pub path: &'a str,
}

impl<'a> Elbv2Arn<'a> {
    /// Parses an ELBv2 ARN of any kind; `None` when the text is not one.
    pub fn parse(arn: &'a str) -> Option<Self> {
        let mut fields = arn.splitn(6, ':');
        let (Some("arn"), Some(partition), Some("elasticloadbalancing"), Some(region), Some(account), Some(resource)) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            return None;
        };
        if !partition.starts_with("aws") || region.is_empty() || account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (word, path) = resource.split_once('/')?;
        let kind = [
            Elbv2Kind::TargetGroup,
            Elbv2Kind::LoadBalancer,
            Elbv2Kind::Listener,
            Elbv2Kind::ListenerRule,
        ]
        .into_iter()
        .find(|k| k.word() == word)?;
        let parts: Vec<&str> = path.split('/').collect();
        if parts.len() != kind.path_parts() || parts.iter().any(|p| p.is_empty()) {
            return None;
        }
        if kind != Elbv2Kind::TargetGroup && !matches!(parts[0], "app" | "net" | "gwy") {
            return None;
        }
        Some(Self {
            partition,
            region,
            account,
            kind,
            path,
        })
    }

    /// Parses an ARN that must be of `kind`.
    pub fn parse_kind(arn: &'a str, kind: Elbv2Kind) -> Option<Self> {
        Self::parse(arn).filter(|a| a.kind == kind)
    }

    /// `targetgroup/<name>/<id>`, `app/<name>/<id>` ...: what CloudWatch dimensions call the suffix
    /// (load balancers drop their `loadbalancer/` word).
    pub fn suffix(&self) -> String {
        match self.kind {
            Elbv2Kind::LoadBalancer => self.path.to_string(),
            kind => format!("{}/{}", kind.word(), self.path),
        }
    }

    /// The name part: a target group's or load balancer's name.
    pub fn name(&self) -> &'a str {
        let mut parts = self.path.split('/');
        match self.kind {
            Elbv2Kind::TargetGroup => parts.next().unwrap_or_default(),
            _ => parts.nth(1).unwrap_or_default(),
        }
    }

    /// The listener a rule belongs to, or the load balancer of a listener.
    pub fn parent(&self) -> Option<String> {
        let prefix = format!("arn:{}:elasticloadbalancing:{}:{}", self.partition, self.region, self.account);
        let mut parts: Vec<&str> = self.path.split('/').collect();
        match self.kind {
            Elbv2Kind::ListenerRule => {
                parts.pop();
                Some(format!("{prefix}:listener/{}", parts.join("/")))
            }
            Elbv2Kind::Listener => {
                parts.pop();
                Some(format!("{prefix}:loadbalancer/{}", parts.join("/")))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TG: &str = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/app-tg/0123456789abcdef";
    const RULE: &str =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee";

    #[test]
    fn parses_each_kind() {
        let tg = Elbv2Arn::parse(TG).unwrap();
        assert_eq!(tg.kind, Elbv2Kind::TargetGroup);
        assert_eq!((tg.region, tg.account, tg.name()), ("ap-northeast-1", "123456789012", "app-tg"));
        assert_eq!(tg.suffix(), "targetgroup/app-tg/0123456789abcdef");
        let lb = Elbv2Arn::parse("arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/n/1").unwrap();
        assert_eq!(
            (lb.kind, lb.suffix(), lb.name()),
            (Elbv2Kind::LoadBalancer, "net/n/1".to_string(), "n")
        );
        let rule = Elbv2Arn::parse(RULE).unwrap();
        assert_eq!(rule.kind, Elbv2Kind::ListenerRule);
        assert_eq!(
            rule.parent().unwrap(),
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2"
        );
        let listener = Elbv2Arn::parse(&rule.parent().unwrap()).unwrap().parent().unwrap();
        assert_eq!(
            listener,
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188"
        );
        assert!(Elbv2Arn::parse("arn:aws-cn:elasticloadbalancing:cn-north-1:123456789012:targetgroup/a/b").is_some());
    }

    #[test]
    fn refuses_what_is_not_an_elbv2_arn() {
        for bad in [
            "app-tg",
            "arn:aws:s3:::bucket",
            "arn:aws:elasticloadbalancing:us-east-1:12345:targetgroup/a/b",
            "arn:aws:elasticloadbalancing::123456789012:targetgroup/a/b",
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/a",
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/a/b/c",
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup//b",
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/xyz/n/1",
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:thing/a/b",
        ] {
            assert!(Elbv2Arn::parse(bad).is_none(), "{bad}");
        }
        assert!(Elbv2Arn::parse_kind(TG, Elbv2Kind::LoadBalancer).is_none());
    }
}
