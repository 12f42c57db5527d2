//! What a receiver's answer means for the relay (HOOK-1): delivered, retried (honouring
//! `Retry-After`) or refused for good.

use std::time::{Duration, SystemTime};
use workflow_core::DispatchError;

/// Classify an HTTP answer with status `status`:
///
/// * 2xx: delivered;
/// * 408, 429, 5xx: transient, retried after the relay's backoff or the answer's `Retry-After`
///   (`retry_after`: the header's value, if any), whichever is longer;
/// * 410 and every other 4xx: permanent, the message is dead-lettered (DISP-5);
/// * anything else (1xx, 3xx: redirects are not followed, the Standard Webhooks advice):
///   transient, so a receiver that moved can be reached again once the URL is corrected,
///   and the relay's tries and time still bound it.
///
/// `detail` (a snippet of the answer's body) goes into the error message.
pub fn classify(
    status: u16,
    retry_after: Option<&str>,
    now: SystemTime,
    detail: &str,
) -> Result<(), DispatchError> {
    if (200..300).contains(&status) {
        return Ok(());
    }
    let reason = ureq::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let mut message = format!("webhook answered HTTP {status} {reason}");
    if !detail.trim().is_empty() {
        message.push_str(": ");
        message.push_str(detail.trim());
    }
    if (400..500).contains(&status) && status != 408 && status != 429 {
        return Err(DispatchError::permanent(message));
    }
    let wait = retry_after.and_then(|v| parse_retry_after(v, now));
    Err(DispatchError::transient(message).with_retry_after(wait))
}

/// The wait a `Retry-After` value asks for at `now`: delay-seconds (`120`) or an HTTP-date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`; one in the past asks for no wait). `None` if malformed.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // An absurdly long number is still "a long time"; the relay caps it anyway.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// At most `max` characters of a body, on one line.
pub(crate) fn snippet(body: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(body);
    let mut one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > max {
        one_line = one_line.chars().take(max).collect();
        one_line.push('…');
    }
    one_line
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn now() -> SystemTime {
        httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap()
    }

    /// HOOK-1: 2xx delivered; 410 and other 4xx permanent except 408 and 429; 408, 429, 5xx
    /// and the rest transient.
    #[test]
    fn hook_1_statuses_are_delivered_permanent_or_transient() {
        for status in [200, 201, 202, 204, 299] {
            assert_eq!(classify(status, None, now(), ""), Ok(()), "{status}");
        }
        for status in [400, 401, 403, 404, 405, 409, 410, 413, 422, 499] {
            let e = classify(status, None, now(), "").unwrap_err();
            assert!(!e.retryable, "{status} is permanent");
        }
        for status in [408, 429, 500, 502, 503, 504, 599, 301, 302, 307, 100] {
            let e = classify(status, None, now(), "").unwrap_err();
            assert!(e.retryable, "{status} is retried");
        }
        let gone = classify(410, None, now(), " endpoint disabled ").unwrap_err();
        assert_eq!(
            gone.message,
            "webhook answered HTTP 410 Gone: endpoint disabled"
        );
    }

    /// HOOK-1: `Retry-After` of a retried answer is passed to the relay, in seconds or as an
    /// HTTP-date; a permanent refusal carries none; a malformed one is ignored.
    #[test]
    fn hook_1_retry_after_is_passed_on() {
        let wait = |status, header| {
            classify(status, Some(header), now(), "")
                .unwrap_err()
                .retry_after
        };
        assert_eq!(wait(503, "7"), Some(Duration::from_secs(7)));
        assert_eq!(wait(429, " 120 "), Some(Duration::from_secs(120)));
        assert_eq!(
            wait(503, "Wed, 21 Oct 2015 07:29:30 GMT"),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            wait(503, "Wed, 21 Oct 2015 07:00:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(wait(503, "soon"), None);
        assert_eq!(wait(503, "-3"), None);
        assert_eq!(wait(410, "7"), None, "a permanent refusal is not retried");
        assert_eq!(
            parse_retry_after("99999999999999999999999", now()),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn snippets_are_one_short_line() {
        assert_eq!(snippet(b"a\n  b\tc", 10), "a b c");
        assert_eq!(snippet("ééééé".as_bytes(), 3), "ééé…");
        assert_eq!(snippet(&[0xff, b'x'], 10), "\u{fffd}x");
    }
}
