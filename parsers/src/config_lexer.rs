//! The lexer the nginx and Caddyfile readers share.

#[cfg(test)]
mod equivalence;
#[cfg(test)]
mod old;
