//! The log line: one JSON object per event, with time, level, the fields of every enclosing span and the
//! event's own fields. Span fields are kept as values when recorded (not as text to parse again for every
//! line), and a line is written in one pass.

use std::io::Write;

use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::domain::time::SystemClock;

/// Writes each event as one JSON line to `W`. A key appears once: an event's own field wins over its
/// spans', an inner span's over an outer one's, and any of them over `timestamp` and `level`.
pub struct JsonLines<W> {
    make_writer: W,
}

impl<W> JsonLines<W> {
    /// Lines written to `make_writer` (stderr on Lambda, a sink in benchmarks).
    pub fn new(make_writer: W) -> Self {
        Self { make_writer }
    }
}

/// Named values in the order first recorded; recording a name again replaces its value.
#[derive(Default)]
struct Fields(Vec<(&'static str, Value)>);

impl Fields {
    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| *n == name)
    }

    fn set(&mut self, name: &'static str, value: Value) {
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field.name(), Value::String(value.into()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.set(field.name(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.set(field.name(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.set(field.name(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.set(field.name(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.set(field.name(), Value::String(format!("{value:?}")));
    }
}

impl<S, W> Layer<S> for JsonLines<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut fields = Fields::default();
            attrs.record(&mut fields);
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            if let Some(fields) = span.extensions_mut().get_mut::<Fields>() {
                values.record(fields);
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut own = Fields::default();
        event.record(&mut own);
        let spans: Vec<_> = ctx.event_scope(event).map(|scope| scope.from_root().collect()).unwrap_or_default();
        let extensions: Vec<_> = spans.iter().map(|span| span.extensions()).collect();
        let scopes: Vec<&Fields> = extensions.iter().filter_map(|e| e.get::<Fields>()).chain([&own]).collect();
        let mut line = Vec::with_capacity(512);
        line.push(b'{');
        let taken = |name: &str| scopes.iter().any(|fields| fields.has(name));
        if !taken("timestamp") {
            push(&mut line, "timestamp", &Value::String(SystemClock.now_rfc3339()));
        }
        if !taken("level") {
            push(&mut line, "level", &Value::String(event.metadata().level().as_str().into()));
        }
        for (depth, fields) in scopes.iter().enumerate() {
            for (name, value) in &fields.0 {
                if !scopes[depth + 1..].iter().any(|inner| inner.has(name)) {
                    push(&mut line, name, value);
                }
            }
        }
        line.extend_from_slice(b"}\n");
        let _ = self.make_writer.make_writer_for(event.metadata()).write_all(&line);
    }
}

/// Appends `"name":value` (after a comma unless it is the first pair). JSON escaping also encodes
/// control characters in logged values.
fn push(line: &mut Vec<u8>, name: &str, value: &Value) {
    if line.len() > 1 {
        line.push(b',');
    }
    let _ = serde_json::to_writer(&mut *line, name);
    line.push(b':');
    let _ = serde_json::to_writer(&mut *line, value);
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_line_holds_every_span_field_once_the_innermost_and_the_event_winning() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::registry().with(JsonLines::new(move || writer.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let outer = tracing::info_span!("outer", requestId = "r-1", shared = "outer", operation = "x");
            let _outer = outer.enter();
            let inner = tracing::info_span!("inner", shared = "inner", interventionId = tracing::field::Empty);
            inner.record("interventionId", "first").record("interventionId", "second");
            let _inner = inner.enter();
            tracing::info!(operation = "own", count = 3u64, "said \"hi\"\n");
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(text.ends_with("}\n") && text.matches('\n').count() == 1, "{text:?}");
        let line: serde_json::Map<String, Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(line["requestId"], "r-1");
        assert_eq!(line["shared"], "inner");
        assert_eq!(line["interventionId"], "second");
        assert_eq!(line["operation"], "own");
        assert_eq!(line["count"], 3);
        assert_eq!(line["message"], "said \"hi\"\n");
        assert_eq!(line["level"], "INFO");
        assert!(line["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{text}");
        // Every key once, even the ones set in two places.
        assert_eq!(text.matches("\"operation\"").count(), 1, "{text}");
        assert_eq!(text.matches("\"shared\"").count(), 1, "{text}");
        assert_eq!(text.matches("\"interventionId\"").count(), 1, "{text}");
    }
}
