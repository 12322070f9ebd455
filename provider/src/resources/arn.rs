//! ELBv2 ARN checks, shared by import and validation.

/// Which kind of ELBv2 object an ARN names, when it is a well-formed ELBv2 ARN.
pub fn elbv2_arn_kind(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" || parts[2] != "elasticloadbalancing" || parts[3].is_empty() {
        return None;
    }
    if parts[4].len() != 12 || !parts[4].bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let resource = parts[5];
    let kind = resource.split('/').next()?;
    match kind {
        "targetgroup" if resource.split('/').count() == 3 => Some("targetgroup"),
        "loadbalancer" => Some("loadbalancer"),
        "listener" => Some("listener"),
        "listener-rule" => Some("listener-rule"),
        _ => None,
    }
}

/// The part after the account: `targetgroup/name/id` (what CloudWatch calls the ARN suffix).
pub fn arn_suffix(arn: &str) -> String {
    arn.splitn(6, ':').nth(5).unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_target_group_arns() {
        let arn = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/app-tg/0123456789abcdef";
        assert_eq!(elbv2_arn_kind(arn), Some("targetgroup"));
        assert_eq!(arn_suffix(arn), "targetgroup/app-tg/0123456789abcdef");
        assert_eq!(elbv2_arn_kind("arn:aws:elasticloadbalancing:us-east-1:12345:targetgroup/a/b"), None);
        assert_eq!(elbv2_arn_kind("app-tg"), None);
        assert_eq!(elbv2_arn_kind("arn:aws:s3:::bucket"), None);
    }
}
