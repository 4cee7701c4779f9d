//! One module per subcommand.

pub mod audit;
pub mod gateway;
pub mod keys;
pub mod scan;
pub mod sign;
