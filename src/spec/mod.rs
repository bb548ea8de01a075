//! What is measured, as plain data: shapes and element types, the closed set of layer
//! types, networks as lists of nodes, operator cases and sweeps over them.

pub mod kind;
pub mod layer;
pub mod net;
pub mod op;
pub mod ratio;
pub mod shape;
pub mod sweep;

pub use kind::CaseKind;
pub use layer::{Activation, Conv2d, Layer, PConv, PoolKind};
pub use net::{Net, NetBuilder, Node, Tensor};
pub use op::{OpCase, OpKind};
pub use ratio::Ratio;
pub use shape::{Dtype, Shape};
pub use sweep::{OpSweep, PAPER_SHAPES};
