//! Deployment: ONNX export of the network (arbitrary or fixed style).
pub mod onnx;
pub mod onnx_lite;
pub mod onnx_proto;
