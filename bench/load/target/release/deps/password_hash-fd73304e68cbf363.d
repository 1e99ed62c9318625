/work/main/bench/load/target/release/deps/password_hash-fd73304e68cbf363.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/password-hash-0.6.1/src/lib.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/password-hash-0.6.1/src/error.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/password-hash-0.6.1/src/../README.md

/work/main/bench/load/target/release/deps/libpassword_hash-fd73304e68cbf363.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/password-hash-0.6.1/src/lib.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/password-hash-0.6.1/src/error.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/password-hash-0.6.1/src/../README.md

/work/main/bench/load/target/release/deps/libpassword_hash-fd73304e68cbf363.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/password-hash-0.6.1/src/lib.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/password-hash-0.6.1/src/error.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/password-hash-0.6.1/src/../README.md

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/password-hash-0.6.1/src/lib.rs:
/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/password-hash-0.6.1/src/error.rs:
/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/password-hash-0.6.1/src/../README.md:
