/work/main/bench/load/target/release/deps/latchkey_bench_load-63a6a97321353673.d: src/main.rs

/work/main/bench/load/target/release/deps/latchkey_bench_load-63a6a97321353673: src/main.rs

src/main.rs:
