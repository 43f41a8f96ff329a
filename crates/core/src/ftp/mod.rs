//! FTP control-dialogue decoding and data-connection tracking (RFC 959 and extensions).
pub mod address;
pub mod command;
pub mod detect;
pub mod expect;
pub mod line;
pub mod listing;
pub mod path;
pub mod reply;
pub mod reply_info;
pub mod session;
pub mod transfer;
pub mod verdict;
