//! Transfer progress: a byte bar (indicatif) on a terminal, nothing without one or with
//! `--format json`; and a request body that advances the bar as the SDK sends a part, so the
//! bar moves with the bytes on the wire, not part by part.

use std::io::IsTerminal;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use aws_sdk_s3::primitives::SdkBody;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A byte bar for `total` bytes, labelled `what` (hidden when `quiet` or without a terminal).
pub fn bar(what: &str, total: u64, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} (ETA {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_prefix(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Bytes one attempt of a part has sent, so a failed attempt can take them back off the bar.
#[derive(Clone, Default)]
pub struct Sent(Arc<AtomicU64>);

impl Sent {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A body that counts what is read from it onto a bar.
struct Counting {
    inner: SdkBody,
    bar: ProgressBar,
    sent: Sent,
}

impl http_body::Body for Counting {
    type Data = <SdkBody as http_body::Body>::Data;
    type Error = <SdkBody as http_body::Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            let n = data.len() as u64;
            self.sent.0.fetch_add(n, Ordering::Relaxed);
            self.bar.inc(n);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::Body::size_hint(&self.inner)
    }
}

/// `body`, counting onto `bar` and `sent` as it is sent (not retryable: the caller retries).
pub fn counting(body: SdkBody, bar: &ProgressBar, sent: &Sent) -> SdkBody {
    SdkBody::from_body_1_x(Counting {
        inner: body,
        bar: bar.clone(),
        sent: sent.clone(),
    })
}

/// `1.5 GiB`, `812.3 MiB`, `12 B`.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_size(12), "12 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(3 << 29), "1.5 GiB");
    }

    #[tokio::test]
    async fn the_counting_body_counts_every_byte() {
        let bar = ProgressBar::hidden();
        bar.set_length(11);
        let sent = Sent::default();
        let body = counting(SdkBody::from("hello world"), &bar, &sent);
        let bytes = aws_sdk_s3::primitives::ByteStream::new(body)
            .collect()
            .await
            .unwrap()
            .into_bytes();
        assert_eq!(&bytes[..], b"hello world");
        assert_eq!(sent.get(), 11);
        assert_eq!(bar.position(), 11);
    }
}
