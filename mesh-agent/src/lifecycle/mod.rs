//! The agent's life: its tasks supervised (`supervise`), the liveness watchdog over the
//! runtime's workers (`watchdog`), the drain on shutdown (`shutdown`) and what the pods' traffic
//! does while no agent runs (`failure_mode`).

pub mod failure_mode;
pub mod shutdown;
pub mod supervise;
pub mod watchdog;

pub use failure_mode::FailureMode;
pub use supervise::{Supervisor, TaskHealth};
pub use watchdog::Liveness;
