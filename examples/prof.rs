use std::time::Instant;
use tch::{Kind, Tensor, Device};
use tch::nn::Module;
fn main() {
    tch::set_num_threads(1);
    let enc = adain::weights::load_encoder(&adain::weights::fetch::default_encoder_path(), Device::Cpu).unwrap();
    let dec = adain::weights::new_decoder(enc.encoder.config(), Device::Cpu);
    let _g = tch::no_grad_guard();
    let x = Tensor::rand([1, 3, 512, 512], (Kind::Float, Device::Cpu));
    let f = enc.encoder.encode(&x);
    for _ in 0..2 { let _ = enc.encoder.encode(&x); let _ = dec.decoder.forward(&f); }
    let t = Instant::now(); for _ in 0..3 { let _ = enc.encoder.encode(&x); } println!("enc {:.1} ms", t.elapsed().as_secs_f64()*1e3/3.0);
    let t = Instant::now(); for _ in 0..3 { let _ = dec.decoder.forward(&f); } println!("dec {:.1} ms", t.elapsed().as_secs_f64()*1e3/3.0);
    let c = tch::nn::conv2d(tch::nn::VarStore::new(Device::Cpu).root(), 256, 256, 3, Default::default());
    let y = Tensor::rand([1, 256, 130, 130], (Kind::Float, Device::Cpu));
    let t = Instant::now(); for _ in 0..5 { let _ = c.forward(&y); } println!("conv256 {:.1} ms", t.elapsed().as_secs_f64()*1e3/5.0);
}
