//! The web edge: one axum router for Lambda and the local server, the reviewer's pages, the prompt's
//! Markdown, HTTP error answers, and the local server (the embedded default).

pub mod error;
pub mod local;
pub mod markdown;
pub mod pages;
pub mod routes;
