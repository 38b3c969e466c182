//! Caller identity: plain agent ids and HS256 JWTs.
