//! FTP control-dialogue decoding (RFC 959 and extensions).
