//! Baseline for the client-footprint proxy: a hello-world built with the same profile, so what is
//! left after subtracting it is what roomlink adds (see `size_engine.rs`).

fn main() {
    println!("hello");
}
