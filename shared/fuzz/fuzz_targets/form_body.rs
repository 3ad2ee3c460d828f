//! Any body, under each content type, against a form with every field type: never a panic, and only the
//! form's fields ever reach the context.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| human_intervention::domain::fuzzing::form_body(data));
