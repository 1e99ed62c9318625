/work/main/bench/load/target/release/deps/blake2-d81d2467bbf21cda.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/blake2-0.11.0/src/lib.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/blake2-0.11.0/src/consts.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/blake2-0.11.0/src/simd.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/blake2-0.11.0/src/macros.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/blake2-0.11.0/src/../README.md

/work/main/bench/load/target/release/deps/libblake2-d81d2467bbf21cda.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/blake2-0.11.0/src/lib.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/blake2-0.11.0/src/consts.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/blake2-0.11.0/src/simd.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/blake2-0.11.0/src/macros.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/blake2-0.11.0/src/../README.md

/work/main/bench/load/target/release/deps/libblake2-d81d2467bbf21cda.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/blake2-0.11.0/src/lib.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/blake2-0.11.0/src/consts.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/blake2-0.11.0/src/simd.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/blake2-0.11.0/src/macros.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/blake2-0.11.0/src/../README.md

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/blake2-0.11.0/src/lib.rs:
/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/blake2-0.11.0/src/consts.rs:
/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/blake2-0.11.0/src/simd.rs:
/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/blake2-0.11.0/src/macros.rs:
/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/blake2-0.11.0/src/../README.md:
