//! Any string as a link token: never a panic, and never verified unless it is exactly a signed token.
#![no_main]

use human_intervention::domain::time::Timestamp;
use human_intervention::domain::id::InterventionId;
use human_intervention::domain::token::{LinkKey, LinkKeys};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let keys = LinkKeys::new(LinkKey::new("k1", vec![7; 32]).unwrap(), vec![LinkKey::new("k0", vec![9; 32]).unwrap()])
        .unwrap();
    if let Some(link) = keys.verify(text) {
        // Only the canonical token for what it claims can verify.
        let resigned = keys.sign(&link.intervention_id, link.expires_at);
        let old = LinkKeys::new(LinkKey::new("k0", vec![9; 32]).unwrap(), vec![]).unwrap();
        assert!(text == resigned || text == old.sign(&link.intervention_id, link.expires_at), "{text}");
    }
    let _ = InterventionId::parse(text);
    let _ = Timestamp::parse_rfc3339(text);
});
