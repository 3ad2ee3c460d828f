//! The reviewer-facing HTML pages: the form, the rejections, the confirmation and generic errors.
//!
//! Everything the author, the run or the reviewer supplied goes through maud's escaping; the prompt is the
//! one piece of markup, and it comes sanitised from [`crate::web::markdown::render_prompt`]. The pages carry no
//! script and no inline style, so they work under `default-src 'none'; style-src 'self'`.
//!
//! A room per concern: `layout` (the frame and the stylesheet), `form` (the form page), `field` (one field's
//! controls), `input` (a one-line input's attributes and values) and `outcome` (the pages that end a visit).

mod field;
mod form;
mod input;
pub(crate) mod layout;
mod outcome;

pub use field::FieldView;
pub use form::{form_page, Confirm, FormPage};
pub use layout::{STYLESHEET, STYLESHEET_HREF, STYLESHEET_PATH};
pub use outcome::{error_page, rejection_page, success_page};
