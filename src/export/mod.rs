//! Deployment: ONNX export of the network (arbitrary or fixed style), and what a page needs
//! to run the lite network in the browser ([`web`]).
pub mod onnx;
pub mod onnx_lite;
pub(crate) mod onnx_proto;
pub mod web;
