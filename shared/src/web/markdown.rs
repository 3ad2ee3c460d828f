//! The form's prompt as HTML: the renderer lives with the messages (`crate::channels::markdown`), which
//! render the same prompt below the pages' layer.

pub use crate::channels::markdown::render_prompt;
