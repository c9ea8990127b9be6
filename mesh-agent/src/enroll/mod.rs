//! Enrollment: which pods of this node the agent captures. The CNI plugin (`mesh-cni`) asks over
//! a Unix socket ([`protocol`], [`server`]); the agent decides from its Kubernetes view
//! ([`membership`], [`view`]), checks the netns ([`admission`]), keeps a record per pod
//! ([`state`]), hands their identities to the certificate manager ([`identities`]) and
//! reconciles its pods with the view at start and after every change
//! ([`reconcile`], finding netns of pods it has no record of by [`scan`]).

pub mod admission;
pub mod identities;
pub use crate::snapshot::membership;
pub mod protocol;
pub mod reconcile;
pub mod scan;
pub mod server;
pub mod service;
pub mod state;
pub mod view;

pub use admission::Admission;
pub use protocol::{parse_request, request, PodName, Request, Response, MAX_REQUEST_BYTES};
pub use server::EnrollServer;
pub use service::{Enrollment, EnrollmentSettings, POD_WAIT};
pub use state::StateDir;
