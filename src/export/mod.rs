//! Deployment: ONNX export of the network (arbitrary or fixed style), and what a page needs
//! to run the lite network in the browser ([`web`]). The graph builder ([`graph`]), the lite
//! network's graphs and the page's files need no libtorch (the light build has them); the VGG
//! network's graphs ([`onnx`]) read its libtorch weights.
pub mod graph;
#[cfg(feature = "torch")]
pub mod onnx;
pub mod onnx_lite;
pub(crate) mod onnx_proto;
pub mod web;

pub use graph::{OPSET, encode, write};
