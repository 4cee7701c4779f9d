//! One module per subcommand.

pub mod gateway;
pub mod keys;
