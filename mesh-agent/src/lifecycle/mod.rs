//! The agent's life: its tasks supervised (`supervise`), the liveness watchdog over the
//! runtime's workers (`watchdog`), and the drain on shutdown (`shutdown`).

pub mod shutdown;
pub mod supervise;
pub mod watchdog;

pub use supervise::{Supervisor, TaskHealth};
pub use watchdog::Liveness;
