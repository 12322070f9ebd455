use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// What an AWS error means for the caller, independent of the operation that raised it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    AccessDenied,
    Throttled,
    /// The object is used by another (a target group by a listener, say).
    InUse,
    Duplicate,
    Invalid,
    Other,
}

pub fn error_code<E: ProvideErrorMetadata>(err: &E) -> Option<&str> {
    err.code()
}

/// A one-line message for users: the AWS error code and message, or the whole chain of causes
/// for errors that never reached AWS (connection refused, no credentials...).
pub fn error_message<E: ProvideErrorMetadata + std::error::Error>(err: &E) -> String {
    match (err.code(), err.message()) {
        (Some(code), Some(msg)) => format!("{code}: {msg}"),
        (Some(code), None) => code.to_string(),
        _ => aws_smithy_types::error::display::DisplayErrorContext(err).to_string(),
    }
}

pub fn classify<E: ProvideErrorMetadata>(err: &E) -> ErrorKind {
    kind_of_code(err.code().unwrap_or_default())
}

/// Whether an error code (of a failed attempt, say) is AWS throttling the caller.
pub fn is_throttling(code: &str) -> bool {
    kind_of_code(code) == ErrorKind::Throttled
}

fn kind_of_code(code: &str) -> ErrorKind {
    match code {
        "TargetGroupNotFound" | "LoadBalancerNotFound" | "ListenerNotFound" | "RuleNotFound" => ErrorKind::NotFound,
        // EC2, for the controller's security-group rules.
        "InvalidGroup.NotFound" | "InvalidPermission.NotFound" | "InvalidInstanceID.NotFound" => ErrorKind::NotFound,
        "InvalidPermission.Duplicate" => ErrorKind::Duplicate,
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" => ErrorKind::AccessDenied,
        "Throttling" | "ThrottlingException" | "RequestLimitExceeded" | "TooManyRequestsException" => ErrorKind::Throttled,
        "ResourceInUse" => ErrorKind::InUse,
        "DuplicateTargetGroupName" | "DuplicateLoadBalancerName" | "DuplicateListener" | "PriorityInUse" => ErrorKind::Duplicate,
        "ValidationError" | "InvalidConfigurationRequest" | "InvalidTarget" | "InvalidParameterValue" => ErrorKind::Invalid,
        _ => ErrorKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_kinds() {
        assert_eq!(kind_of_code("TargetGroupNotFound"), ErrorKind::NotFound);
        assert_eq!(kind_of_code("ThrottlingException"), ErrorKind::Throttled);
        assert_eq!(kind_of_code("ResourceInUse"), ErrorKind::InUse);
        assert_eq!(kind_of_code("SomethingNew"), ErrorKind::Other);
    }
}
