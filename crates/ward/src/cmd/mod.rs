//! One module per subcommand.

pub mod audit;
pub mod bom;
pub mod gateway;
pub mod keys;
pub mod scan;
pub mod sign;
