;; A plugin whose initialisation traps.
(module
  (memory (export "memory") 1)
  (func (export "sio_abi_version") (result i32) (i32.const 1))
  (func (export "sio_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "sio_init") (result i32) (unreachable))
  (func (export "sio_event") (param i32 i32) (result i32) (i32.const 1))
)
