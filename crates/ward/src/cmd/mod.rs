//! One module per subcommand.
pub mod sign;
