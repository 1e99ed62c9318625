/work/main/bench/load/target/release/latchkey-bench-load: /work/main/bench/load/src/main.rs
