//! Every attempt the SDK makes, seen from inside its retry loop: a throttling storm that the SDK's
//! retries absorb is otherwise invisible in metrics (the call succeeds in the end).

use std::sync::Arc;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Called with the error code of each failed attempt: the AWS error code from the response body
/// (`Throttling`, `ServiceUnavailable`...), `HTTP <status>` without one, or `ConnectionError` when no
/// response came.
pub type AttemptHook = Arc<dyn Fn(&str) + Send + Sync>;

#[derive(Clone)]
pub struct FailedAttempts(pub AttemptHook);

impl std::fmt::Debug for FailedAttempts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FailedAttempts")
    }
}

/// The `<Code>` of a query-protocol error body (ELBv2 answers in XML).
pub fn error_code_in(body: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("<Code>")? + "<Code>".len();
    let end = text[start..].find("</Code>")? + start;
    Some(&text[start..end])
}

impl Intercept for FailedAttempts {
    fn name(&self) -> &'static str {
        "FailedAttempts"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        match context.response() {
            Some(response) if response.status().as_u16() >= 400 => {
                let code = response.body().bytes().and_then(error_code_in);
                match code {
                    Some(code) => (self.0)(code),
                    None => (self.0)(&format!("HTTP {}", response.status().as_u16())),
                }
            }
            Some(_) => {}
            None if matches!(context.output_or_error(), Some(Err(_))) => (self.0)("ConnectionError"),
            None => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_code_of_an_error_body() {
        let body =
            b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>";
        assert_eq!(error_code_in(body), Some("Throttling"));
        assert_eq!(error_code_in(b"<html>Bad gateway</html>"), None);
    }
}
